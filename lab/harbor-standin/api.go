package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Harbor's error body: {"errors":[{"code":"CONFLICT","message":"..."}]}, with Harbor's charset-qualified type.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// paginate applies page/page_size (Harbor: page from 1, page_size default 10, at most 100), sets X-Total-Count and,
// when there is more than one page, Link with rel="prev"/"next" as Harbor writes it.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, bool) {
	page, size := 1, 10
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "page must be a positive integer")
			return nil, false
		}
		page = n
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "page_size must be between 1 and 100")
			return nil, false
		}
		size = n
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(items)))
	link := func(p int, rel string) string {
		v := url.Values{}
		for k, vals := range q {
			v[k] = vals
		}
		v.Set("page", strconv.Itoa(p))
		v.Set("page_size", strconv.Itoa(size))
		return fmt.Sprintf(`<%s?%s>; rel="%s"`, r.URL.Path, v.Encode(), rel)
	}
	var links []string
	if page > 1 && len(items) > 0 {
		links = append(links, link(page-1, "prev"))
	}
	if page*size < len(items) {
		links = append(links, link(page+1, "next"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, " , "))
	}
	start := (page - 1) * size
	if start >= len(items) {
		return []T{}, true
	}
	end := min(start+size, len(items))
	return items[start:end], true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "BAD_REQUEST", "invalid request body: "+err.Error())
		return false
	}
	return true
}

// created answers 201 with the new object's Location and no body, as Harbor does.
func created(w http.ResponseWriter, format string, id int64) {
	w.Header().Set("Location", fmt.Sprintf(format, id))
	w.WriteHeader(http.StatusCreated)
}

// qName reads Harbor's `q=name=X` (exact) or `q=name=~X` (fuzzy) query, and the plain `name` parameter (fuzzy).
func nameFilter(r *http.Request) func(string) bool {
	q := r.URL.Query()
	if v := q.Get("q"); strings.HasPrefix(v, "name=~") {
		want := strings.TrimPrefix(v, "name=~")
		return func(s string) bool { return strings.Contains(s, want) }
	} else if strings.HasPrefix(v, "name=") {
		want := strings.TrimPrefix(v, "name=")
		return func(s string) bool { return s == want }
	}
	want := q.Get("name")
	return func(s string) bool { return strings.Contains(s, want) }
}

func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (a *app) api(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Request-Id", requestID())
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2.0"), "/")
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case p == "/ping":
		a.ping(w, r)
	case p == "/health" && r.Method == http.MethodGet:
		a.health(w)
	case p == "/systeminfo" && r.Method == http.MethodGet:
		a.systeminfo(w, r)
	case p == "/users/current" && r.Method == http.MethodGet:
		a.currentUser(w, r)
	case len(seg) == 3 && seg[0] == "users" && seg[2] == "password":
		a.changePassword(w, r, seg[1])
	case p == "/projects":
		a.projects(w, r)
	case seg[0] == "projects" && len(seg) == 2:
		a.project(w, r, seg[1])
	case seg[0] == "projects" && len(seg) >= 3 && seg[2] == "repositories":
		a.repositoryAPI(w, r)
	case p == "/registries/ping" && r.Method == http.MethodPost:
		a.pingRegistry(w, r)
	case p == "/registries":
		a.registries(w, r)
	case seg[0] == "registries" && len(seg) == 2:
		a.registryByID(w, r, seg[1])
	case p == "/replication/policies":
		a.policies(w, r)
	case len(seg) == 3 && seg[0] == "replication" && seg[1] == "policies":
		a.policyByID(w, r, seg[2])
	case p == "/replication/executions":
		a.executions(w, r)
	case len(seg) >= 3 && seg[0] == "replication" && seg[1] == "executions":
		a.executionByID(w, r, seg[2:])
	case p == "/robots":
		a.robots(w, r)
	case seg[0] == "robots" && len(seg) == 2:
		a.robotByID(w, r, seg[1])
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "not found in the Harbor stand-in: "+r.Method+" "+r.URL.Path)
	}
}

// ping is text/plain only: Harbor answers 422 to Accept: application/json, and 405 to HEAD.
func (a *app) ping(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodHead:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusMethodNotAllowed)
	case acceptsOnlyJSON(r):
		unsupportedMedia(w)
	default:
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("Pong"))
	}
}

func acceptsOnlyJSON(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	return acc != "" && !strings.Contains(acc, "text/plain") && !strings.Contains(acc, "*/*")
}

func unsupportedMedia(w http.ResponseWriter) {
	apiError(w, http.StatusUnprocessableEntity, "UNPROCESSABLE_ENTITY", "validation failure list:\nunsupported media type requested, only [text/plain] are available")
}

func (a *app) systeminfo(w http.ResponseWriter, r *http.Request) {
	info := map[string]any{
		"auth_mode": "db_auth", "banner_message": "", "harbor_version": version + "-standin", "oidc_provider_name": "",
		"primary_auth_mode": false, "self_registration": false,
	}
	if a.whoLocked(r) != nil {
		info["current_time"] = harborTime(time.Now())
		info["external_url"] = a.externalURL()
		info["has_ca_root"] = false
		info["notification_enable"] = true
		info["project_creation_restriction"] = "everyone"
		info["read_only"] = false
		info["registry_storage_provider_name"] = "filesystem"
		info["registry_url"] = a.cfg.Hostname
	}
	writeJSON(w, 200, info)
}

func (a *app) externalURL() string {
	if a.cfg.HTTPS {
		if a.cfg.ExternalPort != 0 && a.cfg.ExternalPort != 443 {
			return fmt.Sprintf("https://%s:%d", a.cfg.Hostname, a.cfg.ExternalPort)
		}
		return "https://" + a.cfg.Hostname
	}
	return "http://" + a.cfg.Hostname
}

// health reports Harbor's seven components. The stand-in checks its registry for real; the others are parts of this
// one process (core, database, jobservice, portal, redis, registryctl) and healthy while it answers.
func (a *app) health(w http.ResponseWriter) {
	components := []map[string]string{}
	overall := "healthy"
	for _, name := range []string{"core", "database", "jobservice", "portal", "redis", "registry", "registryctl"} {
		c := map[string]string{"name": name, "status": "healthy"}
		if name == "registry" {
			res, err := a.local.get("/")
			if err == nil {
				res.Body.Close()
				if res.StatusCode >= 500 {
					err = fmt.Errorf("unexpected status code %d", res.StatusCode)
				}
			}
			if err != nil {
				c["status"], c["error"] = "unhealthy", "failed to check health: "+err.Error()
				overall = "unhealthy"
			}
		}
		components = append(components, c)
	}
	writeJSON(w, 200, map[string]any{"status": overall, "components": components})
}

func (a *app) findProject(nameOrID string) *project {
	for _, p := range a.st.Projects {
		if p.Name == nameOrID || strconv.FormatInt(p.ID, 10) == nameOrID {
			return p
		}
	}
	return nil
}

var zeroTime = harborTime(time.Time{})

func projectView(p *project, authed bool, repoCount int) map[string]any {
	v := map[string]any{
		"creation_time": harborTime(p.CreationTime), "metadata": p.Metadata, "name": p.Name, "owner_id": 1, "owner_name": "admin",
		"project_id": p.ID, "repo_count": repoCount, "update_time": harborTime(p.CreationTime),
		"cve_allowlist":         map[string]any{"creation_time": zeroTime, "id": p.ID, "items": []any{}, "project_id": p.ID, "update_time": zeroTime},
		"current_user_role_ids": nil,
	}
	if authed {
		v["current_user_role_id"], v["current_user_role_ids"] = 1, []int{1}
	}
	return v
}

// repoCounts counts repositories per project in the local registry (0 for all when it does not answer).
func (a *app) repoCounts() map[string]int {
	counts := map[string]int{}
	repos, _ := a.local.catalog()
	for _, repo := range repos {
		if tags, _ := a.local.tags(repo); len(tags) > 0 {
			counts[strings.SplitN(repo, "/", 2)[0]]++
		}
	}
	return counts
}

var projectName = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

func (a *app) projects(w http.ResponseWriter, r *http.Request) {
	var counts map[string]int
	if r.Method == http.MethodGet {
		counts = a.repoCounts()
	}
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	who := a.who(r)
	switch r.Method {
	case http.MethodGet:
		match := nameFilter(r)
		list := []map[string]any{}
		for _, p := range a.st.Projects {
			// Anonymous callers (and wrong passwords) see the public projects only, with 200.
			if match(p.Name) && (who != nil || p.Metadata["public"] == "true") {
				list = append(list, projectView(p, who != nil, counts[p.Name]))
			}
		}
		if page, ok := paginate(w, r, list); ok {
			writeJSON(w, 200, page)
		}
	case http.MethodHead:
		if a.findProject(r.URL.Query().Get("project_name")) == nil {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(200)
	case http.MethodPost:
		// project_creation_restriction is "everyone": any authenticated caller may create (robots too, which is
		// how replication creates missing projects on its destination).
		if who == nil {
			apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
			return
		}
		var req struct {
			ProjectName string            `json:"project_name"`
			Metadata    map[string]string `json:"metadata"`
		}
		if !decode(w, r, &req) {
			return
		}
		if len(req.ProjectName) < 1 || len(req.ProjectName) > 255 {
			apiError(w, 400, "BAD_REQUEST", fmt.Sprintf("Project name %s is illegal in length. (greater than 255 or less than 1)", req.ProjectName))
			return
		}
		if !projectName.MatchString(req.ProjectName) {
			apiError(w, 400, "BAD_REQUEST", "project name is not in lower case or contains illegal characters")
			return
		}
		if a.findProject(req.ProjectName) != nil {
			apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("The project named %s already exists", req.ProjectName))
			return
		}
		meta := map[string]string{"public": "false"}
		if req.Metadata["public"] == "true" {
			meta["public"] = "true"
		}
		p := &project{ID: a.st.id("project"), Name: req.ProjectName, Metadata: meta, CreationTime: time.Now().UTC()}
		a.st.Projects = append(a.st.Projects, p)
		a.st.save()
		created(w, "/api/v2.0/projects/%d", p.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (a *app) project(w http.ResponseWriter, r *http.Request, nameOrID string) {
	counts := a.repoCounts()
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	who := a.who(r)
	p := a.findProject(nameOrID)
	if p == nil || (who == nil && p.Metadata["public"] != "true") {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "project "+nameOrID+" not found")
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(200)
		return
	}
	writeJSON(w, 200, projectView(p, who != nil, counts[p.Name]))
}

// registryView is a registry as Harbor shows it: the secret masked.
func registryView(reg *registry) map[string]any {
	cred := map[string]any{"access_key": "", "access_secret": "*****", "type": "basic"}
	if reg.Credential != nil {
		cred["access_key"], cred["type"] = reg.Credential.AccessKey, reg.Credential.Type
	}
	return map[string]any{
		"creation_time": harborTime(reg.CreationTime), "credential": cred, "description": reg.Description, "id": reg.ID,
		"insecure": reg.Insecure, "name": reg.Name, "status": "healthy", "type": reg.Type, "update_time": harborTime(reg.UpdateTime), "url": reg.URL,
	}
}

func (a *app) findRegistry(id int64) *registry {
	for _, x := range a.st.Registries {
		if x.ID == id {
			return x
		}
	}
	return nil
}

// checkPeer is Harbor's check of a registry endpoint before it is saved or when pinged: a Harbor peer that cannot
// be reached is a 500 (core fails creating the adapter), any other failure 400 "the registry is unhealthy". An
// anonymous check of a Harbor peer succeeds.
func checkPeer(w http.ResponseWriter, reg *registry) bool {
	c := remoteFor(reg)
	if reg.Type == "harbor" {
		res, err := c.get("/api/version")
		if err != nil {
			apiError(w, http.StatusInternalServerError, "UNKNOWN", "internal server error")
			return false
		}
		res.Body.Close()
	}
	res, err := c.get("/v2/")
	if err == nil {
		res.Body.Close()
		if res.StatusCode == 200 || (res.StatusCode == 401 && c.user == "" && reg.Type == "harbor") {
			return true
		}
	}
	apiError(w, http.StatusBadRequest, "BAD_REQUEST", "the registry is unhealthy")
	return false
}

func (a *app) registries(w http.ResponseWriter, r *http.Request) {
	if !requireAdmin(w, a.whoLocked(r)) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.st.mu.Lock()
		match := nameFilter(r)
		list := []map[string]any{}
		for _, x := range a.st.Registries {
			if match(x.Name) {
				list = append(list, registryView(x))
			}
		}
		a.st.mu.Unlock()
		if page, ok := paginate(w, r, list); ok {
			writeJSON(w, 200, page)
		}
	case http.MethodPost:
		var req registry
		if !decode(w, r, &req) {
			return
		}
		if req.Name == "" || req.URL == "" {
			apiError(w, 400, "BAD_REQUEST", "name and url are required")
			return
		}
		if req.Type == "" {
			req.Type = "harbor"
		}
		req.URL = strings.TrimSuffix(req.URL, "/")
		a.st.mu.Lock()
		for _, x := range a.st.Registries {
			if x.Name == req.Name {
				a.st.mu.Unlock()
				apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("registry %s already exists", req.Name))
				return
			}
		}
		a.st.mu.Unlock()
		if !checkPeer(w, &req) {
			return
		}
		a.st.mu.Lock()
		req.ID = a.st.id("registry")
		req.CreationTime = time.Now().UTC()
		req.UpdateTime = req.CreationTime
		a.st.Registries = append(a.st.Registries, &req)
		a.st.save()
		a.st.mu.Unlock()
		created(w, "/api/v2.0/registries/%d", req.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

// registryFields are the FLAT fields of /registries/ping and PUT /registries/{id}; a nested "credential" is ignored,
// as Harbor ignores it.
type registryFields struct {
	ID             *int64  `json:"id"`
	Name           *string `json:"name"`
	Description    *string `json:"description"`
	Type           *string `json:"type"`
	URL            *string `json:"url"`
	CredentialType *string `json:"credential_type"`
	AccessKey      *string `json:"access_key"`
	AccessSecret   *string `json:"access_secret"`
	Insecure       *bool   `json:"insecure"`
}

func (f *registryFields) applyTo(reg *registry) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&reg.Name, f.Name)
	set(&reg.Description, f.Description)
	set(&reg.Type, f.Type)
	set(&reg.URL, f.URL)
	if f.Insecure != nil {
		reg.Insecure = *f.Insecure
	}
	if f.CredentialType != nil || f.AccessKey != nil || f.AccessSecret != nil {
		cred := credential{Type: "basic"}
		if reg.Credential != nil {
			cred = *reg.Credential
		}
		set(&cred.Type, f.CredentialType)
		set(&cred.AccessKey, f.AccessKey)
		set(&cred.AccessSecret, f.AccessSecret)
		reg.Credential = &cred
	}
}

func (a *app) pingRegistry(w http.ResponseWriter, r *http.Request) {
	if !requireAdmin(w, a.whoLocked(r)) {
		return
	}
	var req registryFields
	if !decode(w, r, &req) {
		return
	}
	target := &registry{}
	if req.ID != nil {
		a.st.mu.Lock()
		found := a.findRegistry(*req.ID)
		if found != nil {
			copy := *found
			if found.Credential != nil {
				cred := *found.Credential
				copy.Credential = &cred
			}
			target = &copy
		}
		a.st.mu.Unlock()
		if found == nil {
			apiError(w, 404, "NOT_FOUND", fmt.Sprintf("registry %d not found", *req.ID))
			return
		}
	}
	req.applyTo(target)
	if target.Type == "" || target.URL == "" {
		apiError(w, 400, "BAD_REQUEST", "type or url cannot be empty")
		return
	}
	if checkPeer(w, target) {
		w.WriteHeader(200)
	}
}

func (a *app) registryByID(w http.ResponseWriter, r *http.Request, idText string) {
	if !requireAdmin(w, a.whoLocked(r)) {
		return
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	a.st.mu.Lock()
	reg := a.findRegistry(id)
	a.st.mu.Unlock()
	if reg == nil {
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("registry %s not found", idText))
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.st.mu.Lock()
		defer a.st.mu.Unlock()
		writeJSON(w, 200, registryView(reg))
	case http.MethodPut:
		var req registryFields
		if !decode(w, r, &req) {
			return
		}
		a.st.mu.Lock()
		updated := *reg
		req.applyTo(&updated)
		for _, x := range a.st.Registries {
			if x.Name == updated.Name && x.ID != id {
				a.st.mu.Unlock()
				apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("registry %s already exists", updated.Name))
				return
			}
		}
		a.st.mu.Unlock()
		if !checkPeer(w, &updated) {
			return
		}
		a.st.mu.Lock()
		updated.UpdateTime = time.Now().UTC()
		*reg = updated
		a.st.save()
		a.st.mu.Unlock()
		w.WriteHeader(200)
	case http.MethodDelete:
		a.st.mu.Lock()
		defer a.st.mu.Unlock()
		for _, pol := range a.st.Policies {
			if (pol.DestRegistry != nil && pol.DestRegistry.ID == id) || (pol.SrcRegistry != nil && pol.SrcRegistry.ID == id) {
				apiError(w, http.StatusPreconditionFailed, "PRECONDITION", fmt.Sprintf("the registry %d is referenced by replication policies, cannot delete it", id))
				return
			}
		}
		for i, x := range a.st.Registries {
			if x.ID == id {
				a.st.Registries = append(a.st.Registries[:i], a.st.Registries[i+1:]...)
				break
			}
		}
		a.st.save()
		w.WriteHeader(200)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

var filterTypes = map[string]bool{"name": true, "tag": true, "label": true, "resource": true}

// validatePolicy applies Harbor's rules in Harbor's order, and refuses what the stand-in does not play (pull-based
// policies, filters, schedules) instead of accepting and ignoring it. The caller holds the store lock.
func (a *app) validatePolicy(w http.ResponseWriter, pol *policy, selfID int64) bool {
	fail := func(status int, code, msg string) bool { apiError(w, status, code, msg); return false }
	if pol.Name == "" {
		return fail(400, "BAD_REQUEST", "name is required")
	}
	if (pol.SrcRegistry == nil) == (pol.DestRegistry == nil) {
		return fail(400, "BAD_REQUEST", "either src_registry or dest_registry should be empty and the other one shouldn't be empty")
	}
	for _, ref := range []*refID{pol.SrcRegistry, pol.DestRegistry} {
		if ref != nil && a.findRegistry(ref.ID) == nil {
			return fail(404, "NOT_FOUND", fmt.Sprintf("registry %d not found", ref.ID))
		}
	}
	for _, f := range pol.Filters {
		if !filterTypes[f.Type] {
			return fail(400, "BAD_REQUEST", "invalid filter type")
		}
	}
	if pol.Trigger == nil {
		pol.Trigger = &trigger{Type: "manual"}
	}
	cron, _ := pol.Trigger.Settings["cron"].(string)
	switch pol.Trigger.Type {
	case "manual", "event_based":
	case "scheduled":
		if cron == "" {
			return fail(400, "BAD_REQUEST", "the cron string cannot be empty when the trigger type is scheduled")
		}
		return fail(400, "BAD_REQUEST", "scheduled replication is not played by the Harbor stand-in")
	default:
		return fail(400, "BAD_REQUEST", "invalid trigger type "+pol.Trigger.Type)
	}
	if len(pol.Filters) > 0 {
		return fail(400, "BAD_REQUEST", "replication filters are not played by the Harbor stand-in")
	}
	if pol.SrcRegistry != nil {
		return fail(400, "BAD_REQUEST", "pull-based replication is not played by the Harbor stand-in")
	}
	for _, x := range a.st.Policies {
		if x.Name == pol.Name && x.ID != selfID {
			return fail(http.StatusConflict, "CONFLICT", fmt.Sprintf("replication policy %s already exists", pol.Name))
		}
	}
	// Harbor stores one deletion flag and shows it under both names; speed -1 (unlimited) is stored as 0.
	pol.Deletion = pol.Deletion || pol.ReplicateDeletion
	pol.ReplicateDeletion = pol.Deletion
	if pol.Speed < 0 {
		pol.Speed = 0
	}
	if pol.DestNamespaceReplaceCount == nil {
		n := -1
		pol.DestNamespaceReplaceCount = &n
	}
	pol.Trigger.Settings = nil
	return true
}

func (a *app) localRegistryView() map[string]any {
	return map[string]any{
		"creation_time": zeroTime, "credential": map[string]any{"access_secret": "*****", "type": "secret"}, "id": 0, "insecure": true,
		"name": "Local", "status": "healthy", "type": "harbor", "update_time": zeroTime, "url": a.externalURL(),
	}
}

// policyView is a policy as Harbor shows it; the caller holds the store lock.
func (a *app) policyView(p *policy) map[string]any {
	view := func(ref *refID) any {
		if ref == nil {
			return a.localRegistryView()
		}
		if reg := a.findRegistry(ref.ID); reg != nil {
			return registryView(reg)
		}
		return nil
	}
	var filters any
	if len(p.Filters) > 0 {
		filters = p.Filters
	}
	v := map[string]any{
		"copy_by_chunk": p.CopyByChunk, "creation_time": harborTime(p.CreationTime), "deletion": p.Deletion, "description": p.Description,
		"dest_namespace_replace_count": *p.DestNamespaceReplaceCount, "dest_registry": view(p.DestRegistry), "enabled": p.Enabled,
		"filters": filters, "id": p.ID, "name": p.Name, "override": p.Override, "replicate_deletion": p.ReplicateDeletion, "speed": p.Speed,
		"src_registry": view(p.SrcRegistry), "trigger": map[string]any{"trigger_settings": map[string]any{}, "type": p.Trigger.Type},
		"update_time": harborTime(p.UpdateTime),
	}
	if p.DestNamespace != "" {
		v["dest_namespace"] = p.DestNamespace
	}
	return v
}

func (a *app) policies(w http.ResponseWriter, r *http.Request) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	if !requireAdmin(w, a.who(r)) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		match := nameFilter(r)
		list := []map[string]any{}
		for _, p := range a.st.Policies {
			if match(p.Name) {
				list = append(list, a.policyView(p))
			}
		}
		if page, ok := paginate(w, r, list); ok {
			writeJSON(w, 200, page)
		}
	case http.MethodPost:
		var pol policy
		if !decode(w, r, &pol) || !a.validatePolicy(w, &pol, -1) {
			return
		}
		pol.ID, pol.CreationTime = a.st.id("policy"), time.Now().UTC()
		pol.UpdateTime = pol.CreationTime
		a.st.Policies = append(a.st.Policies, &pol)
		a.st.save()
		created(w, "/api/v2.0/replication/policies/%d", pol.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (a *app) policyByID(w http.ResponseWriter, r *http.Request, idText string) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	if !requireAdmin(w, a.who(r)) {
		return
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	idx := indexByID(a.st.Policies, id, func(p *policy) int64 { return p.ID })
	if idx < 0 {
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("replication policy %s not found", idText))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, a.policyView(a.st.Policies[idx]))
	case http.MethodPut:
		var pol policy
		if !decode(w, r, &pol) || !a.validatePolicy(w, &pol, id) {
			return
		}
		pol.ID, pol.CreationTime, pol.UpdateTime = id, a.st.Policies[idx].CreationTime, time.Now().UTC()
		a.st.Policies[idx] = &pol
		a.st.save()
		w.WriteHeader(200)
	case http.MethodDelete:
		a.st.Policies = append(a.st.Policies[:idx], a.st.Policies[idx+1:]...)
		a.st.save()
		w.WriteHeader(200)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}
