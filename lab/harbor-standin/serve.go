package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

type app struct {
	cfg   coreConfig
	st    *store
	local *registryClient
	proxy *httputil.ReverseProxy
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	confPath := fs.String("config", "/etc/core/config.json", "config written by prepare")
	dataDir := fs.String("data", "/data", "where the API keeps its state")
	httpAddr := fs.String("http", ":8080", "plain HTTP listen address")
	httpsAddr := fs.String("https", ":8443", "HTTPS listen address")
	certFile := fs.String("cert", "/etc/cert/server.crt", "TLS certificate")
	keyFile := fs.String("key", "/etc/cert/server.key", "TLS key")
	custCertDir := fs.String("cust-cert-dir", "/harbor_cust_cert", "extra CA certificates trusted for peers, as in Harbor's images")
	if err := fs.Parse(args); err != nil {
		return err
	}
	raw, err := os.ReadFile(*confPath)
	if err != nil {
		return err
	}
	a := &app{}
	if err := json.Unmarshal(raw, &a.cfg); err != nil {
		return err
	}
	custCerts = *custCertDir
	if a.st, err = openStore(*dataDir, a.cfg.AdminPassword); err != nil {
		return err
	}
	target, _ := url.Parse(a.cfg.RegistryURL)
	a.local = &registryClient{base: a.cfg.RegistryURL, http: &http.Client{Timeout: 10 * time.Minute}}
	a.proxy = httputil.NewSingleHostReverseProxy(target)
	a.proxy.ModifyResponse = a.afterPush

	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2.0/", a.api)
	// What Harbor's replication adapter asks a peer first.
	mux.HandleFunc("/api/version", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"version": "v2.0"}) })
	mux.HandleFunc("/v2/", a.registryFront)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("Harbor stand-in of the kk lab (not real Harbor)\n"))
	})
	errs := make(chan error, 2)
	go func() { errs <- http.ListenAndServe(*httpAddr, a.httpHandler(mux)) }()
	if a.cfg.HTTPS {
		go func() { errs <- http.ListenAndServeTLS(*httpsAddr, *certFile, *keyFile, mux) }()
	}
	log.Printf("harbor stand-in %s serving %s (https: %v)", version, a.cfg.Hostname, a.cfg.HTTPS)
	return <-errs
}

// With https configured, Harbor's http port only redirects.
func (a *app) httpHandler(mux http.Handler) http.Handler {
	if !a.cfg.HTTPS {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.Split(r.Host, ":")[0]
		target := fmt.Sprintf("https://%s%s", host, r.URL.RequestURI())
		if a.cfg.ExternalPort != 443 {
			target = fmt.Sprintf("https://%s:%d%s", host, a.cfg.ExternalPort, r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	})
}

var repoPath = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags)/`)

// registryFront is Harbor's registry endpoint: Basic auth as a user or a robot (robot$name), robots limited to the
// repository actions their permissions grant; pushes only into existing projects.
func (a *app) registryFront(w http.ResponseWriter, r *http.Request) {
	a.st.mu.Lock()
	who := a.who(r)
	a.st.mu.Unlock()
	if who == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="harbor"`)
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": "authentication required"}}})
		return
	}
	if m := repoPath.FindStringSubmatch(r.URL.Path); m != nil {
		proj := strings.SplitN(m[1], "/", 2)[0]
		a.st.mu.Lock()
		found := a.findProject(proj) != nil
		a.st.mu.Unlock()
		if !found || !strings.Contains(m[1], "/") {
			writeJSON(w, http.StatusNotFound, map[string]any{"errors": []map[string]string{{"code": "NAME_UNKNOWN", "message": fmt.Sprintf("project %s not found", proj)}}})
			return
		}
		if who.robot != nil {
			action := "pull"
			switch r.Method {
			case http.MethodPost, http.MethodPut, http.MethodPatch:
				action = "push"
			case http.MethodDelete:
				action = "delete"
			}
			if !who.robot.can(proj, "repository", action) {
				msg := fmt.Sprintf("unauthorized to access repository: %s, action: %s", m[1], action)
				writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg + ": " + msg}}})
				return
			}
		}
	} else if who.robot != nil && r.URL.Path != "/v2/" {
		// The catalog is for the admin only.
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": "unauthorized"}}})
		return
	}
	r.Header.Del("Authorization")
	// As Harbor's nginx does: the registry builds its Location URLs from these.
	if r.TLS != nil {
		r.Header.Set("X-Forwarded-Proto", "https")
	} else {
		r.Header.Set("X-Forwarded-Proto", "http")
	}
	a.proxy.ServeHTTP(w, r)
}

var manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

// afterPush turns a stored manifest into Harbor's PUSH_ARTIFACT event and a deleted one into DELETE_ARTIFACT, which
// drive event-based replication.
func (a *app) afterPush(res *http.Response) error {
	req := res.Request
	m := manifestPath.FindStringSubmatch(req.URL.Path)
	switch {
	case m == nil:
	case req.Method == http.MethodPut && res.StatusCode == http.StatusCreated:
		a.fire(event{kind: "push", repo: m[1], ref: m[2]})
	case req.Method == http.MethodDelete && res.StatusCode == http.StatusAccepted:
		a.fire(event{kind: "delete", repo: m[1], ref: m[2], digest: m[2]})
	}
	return nil
}

var custCerts = "/harbor_cust_cert"

// remoteFor is a client for a peer Harbor: Basic auth; its certificate verified unless the registry is `insecure`,
// against the system roots plus custom CAs (mounted at /harbor_cust_cert, as in Harbor's own images).
func remoteFor(reg *registry) *registryClient {
	pool, _ := x509.SystemCertPool()
	if pool == nil {
		pool = x509.NewCertPool()
	}
	files, _ := filepath.Glob(filepath.Join(custCerts, "*"))
	for _, f := range files {
		if pem, err := os.ReadFile(f); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
	}
	c := &registryClient{base: strings.TrimSuffix(reg.URL, "/"), http: &http.Client{
		Timeout:   10 * time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, InsecureSkipVerify: reg.Insecure}},
	}}
	if reg.Credential != nil {
		c.user, c.pass = reg.Credential.AccessKey, reg.Credential.AccessSecret
	}
	return c
}

type registryClient struct {
	base, user, pass string
	http             *http.Client
}

func (c *registryClient) do(method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = c.base + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	return c.http.Do(req)
}

func (c *registryClient) get(path string) (*http.Response, error) {
	return c.do(http.MethodGet, path, nil, nil)
}

func (c *registryClient) ensureProject(name string, public bool) error {
	body := strings.NewReader(fmt.Sprintf(`{"project_name":%q,"metadata":{"public":"%v"}}`, name, public))
	res, err := c.do(http.MethodPost, "/api/v2.0/projects", body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != 201 && res.StatusCode != 409 {
		return fmt.Errorf("creating project %s on %s: %d", name, c.base, res.StatusCode)
	}
	return nil
}

var nextLink = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// catalog lists every repository, following the registry's Link pagination (it serves at most 1000 a page).
func (c *registryClient) catalog() ([]string, error) {
	var all []string
	for next := "/v2/_catalog?n=1000"; next != ""; {
		res, err := c.get(next)
		if err != nil {
			return nil, err
		}
		var page struct {
			Repositories []string `json:"repositories"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if res.StatusCode != 200 || err != nil {
			return nil, fmt.Errorf("GET %s: %d %v", next, res.StatusCode, err)
		}
		all = append(all, page.Repositories...)
		next = ""
		if m := nextLink.FindStringSubmatch(res.Header.Get("Link")); m != nil {
			next = m[1]
		}
	}
	return all, nil
}

// tags lists a repository's tags; a repository whose tags were all deleted has none (distribution answers 404).
func (c *registryClient) tags(repo string) ([]string, error) {
	var out struct {
		Tags []string `json:"tags"`
	}
	err := c.getJSON("/v2/"+repo+"/tags/list", &out)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	return out.Tags, err
}

var errNotFound = errors.New("not found")

func (c *registryClient) getJSON(path string, v any) error {
	res, err := c.get(path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode == 404 {
		return fmt.Errorf("GET %s: %w", path, errNotFound)
	}
	if res.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d", path, res.StatusCode)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

var manifestTypes = strings.Join([]string{
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
}, ", ")

// copyImage copies one manifest (and, for an index, every manifest it lists) with all its blobs. As Harbor, it
// skips an artifact the destination already has with the same digest (or at all, without override): this is also
// what ends the echo of a push in a mesh of event-based policies.
func copyImage(src, dst *registryClient, srcRepo, dstRepo, ref string, override bool) (bool, error) {
	res, err := src.do(http.MethodGet, "/v2/"+srcRepo+"/manifests/"+ref, nil, http.Header{"Accept": {manifestTypes}})
	if err != nil {
		return false, err
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return false, fmt.Errorf("manifest %s:%s: %d", srcRepo, ref, res.StatusCode)
	}
	if head, err := dst.do(http.MethodHead, "/v2/"+dstRepo+"/manifests/"+ref, nil, http.Header{"Accept": {manifestTypes}}); err == nil {
		head.Body.Close()
		if head.StatusCode == 200 && (!override || head.Header.Get("Docker-Content-Digest") == manifestDigest(raw)) {
			return true, nil
		}
	}
	mediaType := res.Header.Get("Content-Type")
	var m struct {
		Config    *struct{ Digest string }  `json:"config"`
		Layers    []struct{ Digest string } `json:"layers"`
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, err
	}
	for _, child := range m.Manifests {
		if _, err := copyImage(src, dst, srcRepo, dstRepo, child.Digest, override); err != nil {
			return false, err
		}
	}
	var blobs []string
	if m.Config != nil {
		blobs = append(blobs, m.Config.Digest)
	}
	for _, l := range m.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, d := range blobs {
		if err := copyBlob(src, dst, srcRepo, dstRepo, d); err != nil {
			return false, err
		}
	}
	put, err := dst.do(http.MethodPut, "/v2/"+dstRepo+"/manifests/"+ref, strings.NewReader(string(raw)), http.Header{"Content-Type": {mediaType}})
	if err != nil {
		return false, err
	}
	defer put.Body.Close()
	if put.StatusCode != 201 {
		b, _ := io.ReadAll(put.Body)
		return false, fmt.Errorf("put manifest %s:%s on %s: %d %s", dstRepo, ref, dst.base, put.StatusCode, b)
	}
	return false, nil
}

func copyBlob(src, dst *registryClient, srcRepo, dstRepo, digest string) error {
	head, err := dst.do(http.MethodHead, "/v2/"+dstRepo+"/blobs/"+digest, nil, nil)
	if err != nil {
		return err
	}
	head.Body.Close()
	if head.StatusCode == 200 {
		return nil
	}
	blob, err := src.get("/v2/" + srcRepo + "/blobs/" + digest)
	if err != nil {
		return err
	}
	defer blob.Body.Close()
	if blob.StatusCode != 200 {
		return fmt.Errorf("blob %s: %d", digest, blob.StatusCode)
	}
	start, err := dst.do(http.MethodPost, "/v2/"+dstRepo+"/blobs/uploads/", nil, nil)
	if err != nil {
		return err
	}
	start.Body.Close()
	if start.StatusCode != 202 {
		return fmt.Errorf("starting upload of %s on %s: %d", digest, dst.base, start.StatusCode)
	}
	loc, err := start.Location()
	if err != nil {
		return err
	}
	q := loc.Query()
	q.Set("digest", digest)
	loc.RawQuery = q.Encode()
	req, _ := http.NewRequest(http.MethodPut, loc.String(), blob.Body)
	req.ContentLength = blob.ContentLength
	req.Header.Set("Content-Type", "application/octet-stream")
	if dst.user != "" {
		req.SetBasicAuth(dst.user, dst.pass)
	}
	res, err := dst.http.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		return fmt.Errorf("uploading %s to %s: %d", digest, dst.base, res.StatusCode)
	}
	return nil
}
