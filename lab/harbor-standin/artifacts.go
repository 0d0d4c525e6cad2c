package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// repositoryAPI serves /projects/{p}/repositories[/{r}/artifacts[/{ref}]] from the local registry: enough for an
// installer to check that an image reached a node, and to delete one (which triggers deletion replication).
// Repository names inside the path are URL-encoded, twice for names with a slash (Harbor's rule).
func (a *app) repositoryAPI(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v2.0/projects/")
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	projectName := unescapeAll(parts[0])
	a.st.mu.Lock()
	who := a.who(r)
	p := a.findProject(projectName)
	a.st.mu.Unlock()
	if who == nil {
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
		return
	}
	if p == nil {
		apiError(w, 404, "NOT_FOUND", "project "+projectName+" not found")
		return
	}
	switch {
	case len(parts) == 2 && r.Method == http.MethodGet:
		a.listRepositories(w, r, p)
	case len(parts) >= 4 && parts[3] == "artifacts":
		repo := projectName + "/" + unescapeAll(parts[2])
		switch {
		case len(parts) == 4 && r.Method == http.MethodGet:
			a.listArtifacts(w, r, p, repo, "")
		case len(parts) == 5 && r.Method == http.MethodGet:
			a.listArtifacts(w, r, p, repo, unescapeAll(parts[4]))
		case len(parts) == 5 && r.Method == http.MethodDelete:
			if who.robot != nil && !who.robot.can(projectName, "artifact", "delete") {
				apiError(w, http.StatusForbidden, "FORBIDDEN", "robot$"+who.robot.Name)
				return
			}
			a.deleteArtifact(w, repo, unescapeAll(parts[4]))
		default:
			apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
		}
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "not found in the Harbor stand-in: "+r.Method+" "+r.URL.Path)
	}
}

func unescapeAll(s string) string {
	for strings.Contains(s, "%") {
		u, err := url.PathUnescape(s)
		if err != nil || u == s {
			break
		}
		s = u
	}
	return s
}

func (a *app) listRepositories(w http.ResponseWriter, r *http.Request, p *project) {
	repos, err := a.local.catalog()
	if err != nil {
		apiError(w, 500, "UNKNOWN", "internal server error")
		return
	}
	list := []map[string]any{}
	for i, repo := range repos {
		if !strings.HasPrefix(repo, p.Name+"/") {
			continue
		}
		arts, _ := a.artifacts(repo)
		if len(arts) == 0 {
			continue
		}
		list = append(list, map[string]any{
			"artifact_count": len(arts), "creation_time": harborTime(p.CreationTime), "id": i + 1, "name": repo, "project_id": p.ID,
			"pull_count": 0, "update_time": harborTime(p.CreationTime),
		})
	}
	if page, ok := paginate(w, r, list); ok {
		writeJSON(w, 200, page)
	}
}

type artifact struct {
	digest, mediaType, configType string
	size                          int64
	tags                          []string
}

// artifacts groups a repository's tags by manifest digest, as Harbor's artifacts are.
func (a *app) artifacts(repo string) ([]*artifact, error) {
	tags, err := a.local.tags(repo)
	if err != nil {
		return nil, err
	}
	byDigest := map[string]*artifact{}
	var out []*artifact
	for _, tag := range tags {
		res, err := a.local.do(http.MethodGet, "/v2/"+repo+"/manifests/"+tag, nil, http.Header{"Accept": {manifestTypes}})
		if err != nil {
			return nil, err
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			continue
		}
		d := manifestDigest(raw)
		if art := byDigest[d]; art != nil {
			art.tags = append(art.tags, tag)
			continue
		}
		var m struct {
			Config struct {
				MediaType string `json:"mediaType"`
			} `json:"config"`
		}
		json.Unmarshal(raw, &m)
		art := &artifact{digest: d, mediaType: res.Header.Get("Content-Type"), configType: m.Config.MediaType, size: int64(len(raw)), tags: []string{tag}}
		byDigest[d] = art
		out = append(out, art)
	}
	return out, nil
}

func (a *app) listArtifacts(w http.ResponseWriter, r *http.Request, p *project, repo, ref string) {
	arts, err := a.artifacts(repo)
	if err != nil && ref == "" {
		arts = nil
	}
	now := harborTime(time.Now())
	list := []map[string]any{}
	for i, art := range arts {
		if ref != "" && ref != art.digest && !contains(art.tags, ref) {
			continue
		}
		id := i + 1
		tags := []map[string]any{}
		for j, t := range art.tags {
			tags = append(tags, map[string]any{"artifact_id": id, "id": j + 1, "immutable": false, "name": t, "pull_time": zeroTime, "push_time": now, "repository_id": 1})
		}
		list = append(list, map[string]any{
			"accessories": nil, "digest": art.digest, "icon": "", "id": id, "labels": nil, "manifest_media_type": art.mediaType,
			"media_type": art.configType, "project_id": p.ID, "pull_time": zeroTime, "push_time": now, "references": nil, "repository_id": 1,
			"size": art.size, "tags": tags, "type": "IMAGE",
			"addition_links": map[string]any{"build_history": map[string]any{"absolute": false, "href": fmt.Sprintf("/api/v2.0/projects/%s/repositories/%s/artifacts/%s/additions/build_history", p.Name, url.PathEscape(url.PathEscape(strings.TrimPrefix(repo, p.Name+"/"))), art.digest)}},
			"extra_attrs":    map[string]any{"architecture": "", "author": "", "config": map[string]any{}, "created": "0001-01-01T00:00:00Z", "os": ""},
		})
	}
	if ref != "" {
		if len(list) == 0 {
			apiError(w, 404, "NOT_FOUND", fmt.Sprintf("artifact %s:%s not found", repo, ref))
			return
		}
		writeJSON(w, 200, list[0])
		return
	}
	if page, ok := paginate(w, r, list); ok {
		writeJSON(w, 200, page)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// deleteArtifact deletes the manifest (every tag of it, as Harbor deletes the artifact) and fires the deletion event.
func (a *app) deleteArtifact(w http.ResponseWriter, repo, ref string) {
	res, err := a.local.do(http.MethodGet, "/v2/"+repo+"/manifests/"+ref, nil, http.Header{"Accept": {manifestTypes}})
	if err != nil {
		apiError(w, 500, "UNKNOWN", "internal server error")
		return
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("artifact %s:%s not found", repo, ref))
		return
	}
	digest := manifestDigest(raw)
	del, err := a.local.do(http.MethodDelete, "/v2/"+repo+"/manifests/"+digest, nil, nil)
	if err != nil {
		apiError(w, 500, "UNKNOWN", "internal server error")
		return
	}
	del.Body.Close()
	if del.StatusCode != http.StatusAccepted {
		apiError(w, 500, "UNKNOWN", "internal server error: the registry answered "+strconv.Itoa(del.StatusCode)+" to the deletion")
		return
	}
	a.fire(event{kind: "delete", repo: repo, ref: ref, digest: digest})
	w.WriteHeader(200)
}
