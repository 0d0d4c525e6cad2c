package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// harborYml is the part of harbor.yml an installer sets and the stand-in reads.
type harborYml struct {
	Hostname      string
	HTTPPort      int
	HTTPSPort     int
	Certificate   string
	PrivateKey    string
	AdminPassword string
	DataVolume    string
	// CABundle is storage_service.ca_bundle: real Harbor's prepare copies it into the shared trust directory that
	// core and jobservice trust (/harbor_cust_cert), which is how a peer's private CA becomes trusted for replication.
	CABundle string
}

// parseHarborYml reads harbor.yml's simple `key: value` mapping, nested by indentation (no YAML library: stdlib only).
func parseHarborYml(path string) (harborYml, error) {
	f, err := os.Open(path)
	if err != nil {
		return harborYml{}, err
	}
	defer f.Close()
	values := map[string]string{}
	var stack []struct {
		indent int
		key    string
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		kv := strings.SplitN(strings.TrimSpace(line), ":", 2)
		if len(kv) != 2 {
			continue
		}
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		key := strings.TrimSpace(kv[0])
		val := strings.Trim(strings.TrimSpace(kv[1]), `"'`)
		full := key
		if len(stack) > 0 {
			full = stack[len(stack)-1].key + "." + key
		}
		if val == "" {
			stack = append(stack, struct {
				indent int
				key    string
			}{indent, full})
			continue
		}
		values[full] = val
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(values[k]); return n }
	y := harborYml{
		Hostname: values["hostname"], HTTPPort: atoi("http.port"), HTTPSPort: atoi("https.port"),
		Certificate: values["https.certificate"], PrivateKey: values["https.private_key"],
		AdminPassword: values["harbor_admin_password"], DataVolume: values["data_volume"], CABundle: values["storage_service.ca_bundle"],
	}
	var missing []string
	for k, v := range map[string]string{"hostname": y.Hostname, "harbor_admin_password": y.AdminPassword, "data_volume": y.DataVolume} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if y.HTTPSPort != 0 && (y.Certificate == "" || y.PrivateKey == "") {
		missing = append(missing, "https.certificate/https.private_key")
	}
	if len(missing) > 0 {
		return y, fmt.Errorf("harbor.yml: missing %s", strings.Join(missing, ", "))
	}
	if y.HTTPPort == 0 {
		y.HTTPPort = 80
	}
	return y, nil
}

// coreConfig is what prepare hands to `serve`.
type coreConfig struct {
	Hostname      string `json:"hostname"`
	AdminPassword string `json:"admin_password"`
	RegistryURL   string `json:"registry_url"`
	HTTPS         bool   `json:"https"`
	ExternalPort  int    `json:"external_port"`
	// StatusRefreshSeconds is how long an execution's status lags its tasks (default 10 s; real Harbor up to 30).
	StatusRefreshSeconds *float64 `json:"execution_status_refresh_seconds,omitempty"`
}

// prepare writes docker-compose.yml and common/config/core/config.json next to harbor.yml, as Harbor's prepare does.
func prepare(args []string) error {
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	input := fs.String("conf", "/input/harbor.yml", "harbor.yml")
	out := fs.String("out", "/compose_location", "where docker-compose.yml is written")
	hostDir := fs.String("host-dir", "", "the installer directory as the host sees it (for the compose file's paths)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	y, err := parseHarborYml(*input)
	if err != nil {
		return err
	}
	cfgDir := filepath.Join(*out, "common", "config", "core")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	port := y.HTTPPort
	if y.HTTPSPort != 0 {
		port = y.HTTPSPort
	}
	cfg, _ := json.MarshalIndent(coreConfig{Hostname: y.Hostname, AdminPassword: y.AdminPassword, RegistryURL: "http://registry:5000", HTTPS: y.HTTPSPort != 0, ExternalPort: port}, "", "  ")
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), cfg, 0o600); err != nil {
		return err
	}
	ports := fmt.Sprintf("      - \"%d:8080\"\n", y.HTTPPort)
	onHost := *out
	if *hostDir != "" {
		onHost = *hostDir
	}
	volumes := fmt.Sprintf("      - %s/database:/data\n      - %s:/etc/core/config.json:ro\n", y.DataVolume, filepath.Join(onHost, "common", "config", "core", "config.json"))
	if y.HTTPSPort != 0 {
		ports += fmt.Sprintf("      - \"%d:8443\"\n", y.HTTPSPort)
		volumes += fmt.Sprintf("      - %s:/etc/cert/server.crt:ro\n      - %s:/etc/cert/server.key:ro\n", y.Certificate, y.PrivateKey)
	}
	if y.CABundle != "" {
		volumes += fmt.Sprintf("      - %s:/harbor_cust_cert/storage_ca_bundle.crt:ro\n", y.CABundle)
	}
	compose := fmt.Sprintf(`# Written by the lab's Harbor stand-in prepare (not real Harbor).
services:
  registry:
    image: goharbor/registry-photon:%[1]s
    container_name: registry
    restart: always
    environment:
      # Deleting artifacts (and deletion replication) needs the registry's delete API, as Harbor's registry has it.
      REGISTRY_STORAGE_DELETE_ENABLED: "true"
    volumes:
      - %[2]s/registry:/var/lib/registry
    networks: [harbor]
  core:
    image: goharbor/harbor-core:%[1]s
    container_name: harbor-core
    restart: always
    command: ["serve", "--config", "/etc/core/config.json", "--data", "/data"]
    depends_on: [registry]
    ports:
%[3]s    volumes:
%[4]s    networks: [harbor]
networks:
  harbor: {}
`, version, y.DataVolume, ports, volumes)
	return os.WriteFile(filepath.Join(*out, "docker-compose.yml"), []byte(compose), 0o644)
}
