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
	if a.st, err = openStore(*dataDir); err != nil {
		return err
	}
	target, _ := url.Parse(a.cfg.RegistryURL)
	a.local = &registryClient{base: a.cfg.RegistryURL, http: &http.Client{Timeout: 10 * time.Minute}}
	a.proxy = httputil.NewSingleHostReverseProxy(target)
	a.proxy.ModifyResponse = a.afterPush

	mux := http.NewServeMux()
	mux.HandleFunc("/api/v2.0/", a.api)
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

// registryFront is Harbor's registry endpoint: Basic auth as the admin, and pushes only into existing projects.
func (a *app) registryFront(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(r) {
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

var manifestPut = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)

// afterPush triggers event-based replication once a manifest was stored (Harbor's PUSH_ARTIFACT event).
func (a *app) afterPush(res *http.Response) error {
	req := res.Request
	if req.Method != http.MethodPut || res.StatusCode != http.StatusCreated {
		return nil
	}
	m := manifestPut.FindStringSubmatch(req.URL.Path)
	if m == nil {
		return nil
	}
	a.st.mu.Lock()
	var started []func()
	for _, pol := range a.st.Policies {
		if pol.Enabled && pol.DestRegistry != nil && pol.Trigger != nil && pol.Trigger.Type == "event_based" {
			exec := a.startExecution(pol, "event_based")
			p := pol
			started = append(started, func() { a.replicate(exec, p, m[1]) })
		}
	}
	a.st.mu.Unlock()
	for _, f := range started {
		go f()
	}
	return nil
}

// startExecution records a new execution; the caller holds the store lock.
func (a *app) startExecution(pol *policy, trig string) *execution {
	exec := &execution{ID: a.st.id(), PolicyID: pol.ID, Status: "InProgress", Trigger: trig, StartTime: time.Now().UTC()}
	a.st.Executions = append(a.st.Executions, exec)
	a.st.save()
	return exec
}

// replicate pushes every repository (or just `onlyRepo`) and all its tags to the policy's destination.
func (a *app) replicate(exec *execution, pol *policy, onlyRepo string) {
	err := func() error {
		if pol.DestRegistry == nil {
			return errors.New("pull-based replication is not supported by the stand-in")
		}
		dest := remoteFor(pol.DestRegistry)
		repos := []string{onlyRepo}
		if onlyRepo == "" {
			var err error
			if repos, err = a.local.catalog(); err != nil {
				return err
			}
		}
		for _, repo := range repos {
			tags, err := a.local.tags(repo)
			if err != nil {
				return err
			}
			destRepo := rewriteNamespace(repo, pol)
			if err := dest.ensureProject(strings.SplitN(destRepo, "/", 2)[0]); err != nil {
				return err
			}
			for _, tag := range tags {
				a.bump(exec, func(e *execution) { e.Total++; e.InProgress++ })
				err := copyImage(a.local, dest, repo, destRepo, tag)
				a.bump(exec, func(e *execution) {
					e.InProgress--
					if err != nil {
						e.Failed++
						e.StatusText = err.Error()
					} else {
						e.Succeed++
					}
				})
			}
		}
		return nil
	}()
	a.bump(exec, func(e *execution) {
		now := time.Now().UTC()
		e.EndTime = &now
		switch {
		case err != nil:
			e.Status, e.StatusText = "Failed", err.Error()
		case e.Failed > 0:
			e.Status = "Failed"
		default:
			e.Status = "Succeed"
		}
	})
}

func (a *app) bump(exec *execution, f func(*execution)) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	f(exec)
	a.st.save()
}

func rewriteNamespace(repo string, pol *policy) string {
	if pol.DestNamespace == "" {
		return repo
	}
	parts := strings.Split(repo, "/")
	drop := len(parts) - 1
	if pol.DestNamespaceReplaceCount != nil && *pol.DestNamespaceReplaceCount >= 0 && *pol.DestNamespaceReplaceCount < drop {
		drop = *pol.DestNamespaceReplaceCount
	}
	return pol.DestNamespace + "/" + strings.Join(parts[drop:], "/")
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

// healthy is Harbor's check of a peer: its API answers and the credential is accepted by its registry.
func (c *registryClient) healthy() error {
	res, err := c.get("/api/v2.0/ping")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("ping answered %d", res.StatusCode)
	}
	res, err = c.get("/v2/")
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("credential refused (%d)", res.StatusCode)
	}
	return nil
}

func (c *registryClient) ensureProject(name string) error {
	body := strings.NewReader(fmt.Sprintf(`{"project_name":%q,"metadata":{"public":"false"}}`, name))
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

func (c *registryClient) tags(repo string) ([]string, error) {
	var out struct {
		Tags []string `json:"tags"`
	}
	return out.Tags, c.getJSON("/v2/"+repo+"/tags/list", &out)
}

func (c *registryClient) getJSON(path string, v any) error {
	res, err := c.get(path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
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

// copyImage copies one manifest (and, for an index, every manifest it lists) with all its blobs.
func copyImage(src, dst *registryClient, srcRepo, dstRepo, ref string) error {
	res, err := src.do(http.MethodGet, "/v2/"+srcRepo+"/manifests/"+ref, nil, http.Header{"Accept": {manifestTypes}})
	if err != nil {
		return err
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("manifest %s:%s: %d", srcRepo, ref, res.StatusCode)
	}
	mediaType := res.Header.Get("Content-Type")
	var m struct {
		Config    *struct{ Digest string }  `json:"config"`
		Layers    []struct{ Digest string } `json:"layers"`
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for _, child := range m.Manifests {
		if err := copyImage(src, dst, srcRepo, dstRepo, child.Digest); err != nil {
			return err
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
			return err
		}
	}
	put, err := dst.do(http.MethodPut, "/v2/"+dstRepo+"/manifests/"+ref, strings.NewReader(string(raw)), http.Header{"Content-Type": {mediaType}})
	if err != nil {
		return err
	}
	defer put.Body.Close()
	if put.StatusCode != 201 {
		b, _ := io.ReadAll(put.Body)
		return fmt.Errorf("put manifest %s:%s on %s: %d %s", dstRepo, ref, dst.base, put.StatusCode, b)
	}
	return nil
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
