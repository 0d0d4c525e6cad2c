// The lab's Harbor stand-in: real Harbor images cannot be had here. `prepare` turns harbor.yml into the compose file
// and configuration (as Harbor's prepare does); `serve` is the TLS front and API: /v2/ goes to a real distribution
// registry, /api/v2.0 implements, with Harbor v2.10's semantics, the calls an installer makes.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: harbor-standin prepare|serve|version")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "prepare":
		err = prepare(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	case "version":
		fmt.Println(version)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "harbor-standin:", err)
		os.Exit(1)
	}
}

// version is set at build time to the Harbor version the stand-in plays.
var version = "v2.10.1"
