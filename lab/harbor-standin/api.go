package main

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Harbor's error body: {"errors":[{"code":"CONFLICT","message":"..."}]}.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (a *app) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	return ok && user == "admin" && subtle.ConstantTimeCompare([]byte(pass), []byte(a.cfg.AdminPassword)) == 1
}

func (a *app) requireAuth(w http.ResponseWriter, r *http.Request) bool {
	if a.authorized(r) {
		return true
	}
	apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
	return false
}

// paginate applies page/page_size (Harbor: page from 1, page_size default 10, at most 100) and sets X-Total-Count.
func paginate[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, bool) {
	page, size := 1, 10
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "page must be a positive integer")
			return nil, false
		}
		page = n
	}
	if v := r.URL.Query().Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", "page_size must be between 1 and 100")
			return nil, false
		}
		size = n
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(len(items)))
	start := (page - 1) * size
	if start >= len(items) {
		return []T{}, true
	}
	end := start + size
	if end > len(items) {
		end = len(items)
	}
	return items[start:end], true
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, "BAD_REQUEST", "invalid request body: "+err.Error())
		return false
	}
	return true
}

// authedID checks the admin's credential and reads the numeric id after prefix, answering the error itself.
func (a *app) authedID(w http.ResponseWriter, r *http.Request, path, prefix, what string) (int64, bool) {
	if !a.requireAuth(w, r) {
		return 0, false
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(path, prefix), 10, 64)
	if err != nil {
		apiError(w, 400, "BAD_REQUEST", "invalid "+what+" id")
		return 0, false
	}
	return id, true
}

// created answers 201 with the new object's Location, as Harbor does.
func created(w http.ResponseWriter, format string, id int64) {
	w.Header().Set("Location", fmt.Sprintf(format, id))
	w.WriteHeader(http.StatusCreated)
}

func (a *app) api(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2.0"), "/")
	switch {
	case p == "/ping":
		w.Write([]byte("Pong"))
	case p == "/health" && r.Method == http.MethodGet:
		a.health(w)
	case p == "/systeminfo" && r.Method == http.MethodGet:
		scheme := "http"
		if a.cfg.HTTPS {
			scheme = "https"
		}
		writeJSON(w, 200, map[string]any{
			"harbor_version": version + "-standin", "auth_mode": "db_auth", "registry_url": a.cfg.Hostname,
			"external_url": fmt.Sprintf("%s://%s", scheme, a.cfg.Hostname), "self_registration": false,
			"has_ca_root": false, "project_creation_restriction": "everyone", "primary_auth_mode": false,
		})
	case p == "/projects":
		a.projects(w, r)
	case strings.HasPrefix(p, "/projects/"):
		a.project(w, r, strings.TrimPrefix(p, "/projects/"))
	case p == "/registries/ping" && r.Method == http.MethodPost:
		a.pingRegistry(w, r)
	case p == "/registries":
		a.registries(w, r)
	case strings.HasPrefix(p, "/registries/"):
		a.registryByID(w, r, p)
	case p == "/replication/policies":
		a.policies(w, r)
	case strings.HasPrefix(p, "/replication/policies/"):
		a.policyByID(w, r, p)
	case p == "/replication/executions":
		a.executions(w, r)
	case strings.HasPrefix(p, "/replication/executions/"):
		a.executionByID(w, r, p)
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "not found in the Harbor stand-in: "+r.Method+" "+r.URL.Path)
	}
}

func (a *app) health(w http.ResponseWriter) {
	regStatus := "healthy"
	res, err := a.local.get("/v2/")
	if err != nil || (res.StatusCode != 200 && res.StatusCode != 401) {
		regStatus = "unhealthy"
	}
	if res != nil {
		res.Body.Close()
	}
	overall := "healthy"
	if regStatus != "healthy" {
		overall = "unhealthy"
	}
	writeJSON(w, 200, map[string]any{"status": overall, "components": []map[string]string{
		{"name": "core", "status": "healthy"}, {"name": "database", "status": "healthy"},
		{"name": "registry", "status": regStatus}, {"name": "registryctl", "status": "healthy"},
	}})
}

func (a *app) findProject(nameOrID string) *project {
	for _, p := range a.st.Projects {
		if p.Name == nameOrID || strconv.FormatInt(p.ID, 10) == nameOrID {
			return p
		}
	}
	return nil
}

func (a *app) projects(w http.ResponseWriter, r *http.Request) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		name := r.URL.Query().Get("name")
		var list []*project
		for _, p := range a.st.Projects {
			if name == "" || strings.Contains(p.Name, name) {
				list = append(list, p)
			}
		}
		if page, ok := paginate(w, r, list); ok {
			writeJSON(w, 200, page)
		}
	case http.MethodPost:
		if !a.requireAuth(w, r) {
			return
		}
		var req struct {
			ProjectName string            `json:"project_name"`
			Metadata    map[string]string `json:"metadata"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.ProjectName == "" || strings.ToLower(req.ProjectName) != req.ProjectName {
			apiError(w, 400, "BAD_REQUEST", "project_name must be a non-empty lowercase name")
			return
		}
		if a.findProject(req.ProjectName) != nil {
			apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("The project named %s already exists", req.ProjectName))
			return
		}
		if req.Metadata == nil {
			req.Metadata = map[string]string{"public": "false"}
		}
		p := &project{ID: a.st.id(), Name: req.ProjectName, Metadata: req.Metadata, CreationTime: time.Now().UTC()}
		a.st.Projects = append(a.st.Projects, p)
		a.st.save()
		created(w, "/api/v2.0/projects/%d", p.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (a *app) project(w http.ResponseWriter, r *http.Request, nameOrID string) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	p := a.findProject(nameOrID)
	if p == nil {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "project "+nameOrID+" not found")
		return
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(200)
		return
	}
	writeJSON(w, 200, p)
}

// withoutSecret hides access_secret in responses, as Harbor does.
func withoutSecret(reg *registry) *registry {
	c := *reg
	if c.Credential != nil {
		cred := *c.Credential
		cred.AccessSecret = "*****"
		c.Credential = &cred
	}
	return &c
}

func (a *app) findRegistry(id int64) *registry {
	for _, x := range a.st.Registries {
		if x.ID == id {
			return x
		}
	}
	return nil
}

func (a *app) registries(w http.ResponseWriter, r *http.Request) {
	if !a.requireAuth(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.st.mu.Lock()
		var list []*registry
		for _, x := range a.st.Registries {
			list = append(list, withoutSecret(x))
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
		a.st.mu.Lock()
		for _, x := range a.st.Registries {
			if x.Name == req.Name {
				a.st.mu.Unlock()
				apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("registry %s already exists", req.Name))
				return
			}
		}
		a.st.mu.Unlock()
		// Harbor checks the peer before it saves it.
		if err := remoteFor(&req).healthy(); err != nil {
			apiError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("registry %s is unhealthy: %v", req.URL, err))
			return
		}
		a.st.mu.Lock()
		req.ID, req.Status, req.CreationTime = a.st.id(), "healthy", time.Now().UTC()
		a.st.Registries = append(a.st.Registries, &req)
		a.st.save()
		a.st.mu.Unlock()
		created(w, "/api/v2.0/registries/%d", req.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (a *app) pingRegistry(w http.ResponseWriter, r *http.Request) {
	if !a.requireAuth(w, r) {
		return
	}
	var req struct {
		ID *int64 `json:"id"`
		registry
	}
	if !decode(w, r, &req) {
		return
	}
	target := &req.registry
	if req.ID != nil {
		a.st.mu.Lock()
		found := a.findRegistry(*req.ID)
		a.st.mu.Unlock()
		if found == nil {
			apiError(w, 404, "NOT_FOUND", fmt.Sprintf("registry %d not found", *req.ID))
			return
		}
		target = found
	}
	if err := remoteFor(target).healthy(); err != nil {
		apiError(w, http.StatusBadRequest, "BAD_REQUEST", fmt.Sprintf("failed to ping registry %s: %v", target.URL, err))
		return
	}
	w.WriteHeader(200)
}

func (a *app) registryByID(w http.ResponseWriter, r *http.Request, p string) {
	id, ok := a.authedID(w, r, p, "/registries/", "registry")
	if !ok {
		return
	}
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	reg := a.findRegistry(id)
	if reg == nil {
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("registry %d not found", id))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, withoutSecret(reg))
	case http.MethodDelete:
		for _, pol := range a.st.Policies {
			if (pol.DestRegistry != nil && pol.DestRegistry.ID == id) || (pol.SrcRegistry != nil && pol.SrcRegistry.ID == id) {
				apiError(w, http.StatusPreconditionFailed, "PRECONDITION", fmt.Sprintf("registry %d is used by policy %s", id, pol.Name))
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

// validatePolicy applies Harbor's rules: a name, exactly one of src_registry / dest_registry, and that registry known.
func (a *app) validatePolicy(w http.ResponseWriter, pol *policy, selfID int64) bool {
	if pol.Name == "" {
		apiError(w, 400, "BAD_REQUEST", "name is required")
		return false
	}
	if (pol.SrcRegistry == nil) == (pol.DestRegistry == nil) {
		apiError(w, 400, "BAD_REQUEST", "either src_registry or dest_registry should be empty and the other one shouldn't be empty")
		return false
	}
	for _, ref := range []**registry{&pol.SrcRegistry, &pol.DestRegistry} {
		if *ref == nil {
			continue
		}
		found := a.findRegistry((*ref).ID)
		if found == nil {
			apiError(w, 400, "BAD_REQUEST", fmt.Sprintf("registry %d not found", (*ref).ID))
			return false
		}
		*ref = found
	}
	for _, x := range a.st.Policies {
		if x.Name == pol.Name && x.ID != selfID {
			apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("policy %s already exists", pol.Name))
			return false
		}
	}
	if pol.Trigger == nil {
		pol.Trigger = &trigger{Type: "manual"}
	}
	return true
}

func redactPolicy(p *policy) *policy {
	c := *p
	if c.SrcRegistry != nil {
		c.SrcRegistry = withoutSecret(c.SrcRegistry)
	}
	if c.DestRegistry != nil {
		c.DestRegistry = withoutSecret(c.DestRegistry)
	}
	return &c
}

func (a *app) policies(w http.ResponseWriter, r *http.Request) {
	if !a.requireAuth(w, r) {
		return
	}
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		name := r.URL.Query().Get("name")
		var list []*policy
		for _, p := range a.st.Policies {
			if name == "" || strings.Contains(p.Name, name) {
				list = append(list, redactPolicy(p))
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
		pol.ID, pol.CreationTime = a.st.id(), time.Now().UTC()
		a.st.Policies = append(a.st.Policies, &pol)
		a.st.save()
		created(w, "/api/v2.0/replication/policies/%d", pol.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (a *app) policyByID(w http.ResponseWriter, r *http.Request, p string) {
	id, ok := a.authedID(w, r, p, "/replication/policies/", "policy")
	if !ok {
		return
	}
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	idx := -1
	for i, x := range a.st.Policies {
		if x.ID == id {
			idx = i
		}
	}
	if idx < 0 {
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("policy %d not found", id))
		return
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, redactPolicy(a.st.Policies[idx]))
	case http.MethodPut:
		var pol policy
		if !decode(w, r, &pol) || !a.validatePolicy(w, &pol, id) {
			return
		}
		pol.ID, pol.CreationTime = id, a.st.Policies[idx].CreationTime
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

func (a *app) executions(w http.ResponseWriter, r *http.Request) {
	if !a.requireAuth(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.st.mu.Lock()
		var list []*execution
		want := r.URL.Query().Get("policy_id")
		for _, e := range a.st.Executions {
			if want == "" || strconv.FormatInt(e.PolicyID, 10) == want {
				c := *e
				list = append(list, &c)
			}
		}
		a.st.mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID })
		if page, ok := paginate(w, r, list); ok {
			writeJSON(w, 200, page)
		}
	case http.MethodPost:
		var req struct {
			PolicyID int64 `json:"policy_id"`
		}
		if !decode(w, r, &req) {
			return
		}
		a.st.mu.Lock()
		var pol *policy
		for _, x := range a.st.Policies {
			if x.ID == req.PolicyID {
				pol = x
			}
		}
		if pol == nil {
			a.st.mu.Unlock()
			apiError(w, 404, "NOT_FOUND", fmt.Sprintf("policy %d not found", req.PolicyID))
			return
		}
		if !pol.Enabled {
			a.st.mu.Unlock()
			apiError(w, 412, "PRECONDITION", fmt.Sprintf("policy %d is disabled", req.PolicyID))
			return
		}
		exec := a.startExecution(pol, "manual")
		a.st.mu.Unlock()
		go a.replicate(exec, pol, "")
		created(w, "/api/v2.0/replication/executions/%d", exec.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func (a *app) executionByID(w http.ResponseWriter, r *http.Request, p string) {
	id, ok := a.authedID(w, r, p, "/replication/executions/", "execution")
	if !ok {
		return
	}
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	for _, e := range a.st.Executions {
		if e.ID == id {
			writeJSON(w, 200, e)
			return
		}
	}
	apiError(w, 404, "NOT_FOUND", fmt.Sprintf("execution %d not found", id))
}
