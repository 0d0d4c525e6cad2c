package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// event is what Harbor's event-based replication reacts to: an artifact pushed, or one deleted.
type event struct {
	kind   string // "push" or "delete"
	repo   string
	ref    string // the tag (or digest) pushed or deleted
	digest string // of the deleted manifest
}

// statusLag is how long an execution's status stays InProgress after its tasks finished. Real Harbor refreshes it
// periodically (EXECUTION_STATUS_REFRESH_INTERVAL_SECONDS, default 30): the recordings show Succeed 5-25 s after the
// task. Installers must read the task counts; the lag makes the stand-in punish one that reads the status.
func (a *app) statusLag() time.Duration {
	if a.cfg.StatusRefreshSeconds != nil {
		return time.Duration(*a.cfg.StatusRefreshSeconds * float64(time.Second))
	}
	if v, err := strconv.ParseFloat(os.Getenv("EXECUTION_STATUS_REFRESH_INTERVAL_SECONDS"), 64); err == nil {
		return time.Duration(v * float64(time.Second))
	}
	return 10 * time.Second
}

func (a *app) executionView(e *execution) map[string]any {
	status, end := "InProgress", zeroTime
	if e.Final != "" && e.DoneAt != nil && (e.Total == 0 || time.Since(*e.DoneAt) >= a.statusLag()) {
		status, end = e.Final, harborTime(*e.DoneAt)
	}
	return map[string]any{
		"end_time": end, "failed": e.Failed, "id": e.ID, "in_progress": e.InProgress, "policy_id": e.PolicyID, "start_time": harborTime(e.StartTime),
		"status": status, "status_text": e.StatusText, "stopped": 0, "succeed": e.Succeed, "total": e.Total, "trigger": e.Trigger,
	}
}

func taskView(t *task) map[string]any {
	end := zeroTime
	if t.EndTime != nil {
		end = harborTime(*t.EndTime)
	}
	return map[string]any{
		"dst_resource": t.DstResource, "end_time": end, "execution_id": t.ExecutionID, "id": t.ID, "job_id": t.JobID, "operation": t.Operation,
		"resource_type": t.ResourceType, "src_resource": t.SrcResource, "start_time": harborTime(t.StartTime), "status": t.Status,
	}
}

// fire starts an execution of every enabled event-based policy that the event concerns.
func (a *app) fire(ev event) {
	a.st.mu.Lock()
	var runs []func()
	for _, pol := range a.st.Policies {
		if !pol.Enabled || pol.DestRegistry == nil || pol.Trigger == nil || pol.Trigger.Type != "event_based" || (ev.kind == "delete" && !pol.Deletion) {
			continue
		}
		exec, p, dest := a.startExecution(pol, "event_based")
		e := ev
		runs = append(runs, func() { a.run(exec, p, dest, &e) })
	}
	a.st.mu.Unlock()
	for _, f := range runs {
		go f()
	}
}

// startExecution records a new execution and snapshots its policy and destination; the caller holds the store lock.
func (a *app) startExecution(pol *policy, trig string) (*execution, policy, registry) {
	exec := &execution{ID: a.st.id("execution"), PolicyID: pol.ID, Trigger: trig, StartTime: time.Now().UTC()}
	a.st.Executions = append(a.st.Executions, exec)
	a.st.save()
	var dest registry
	if reg := a.findRegistry(pol.DestRegistry.ID); reg != nil {
		dest = *reg
	}
	return exec, *pol, dest
}

type job struct {
	op, repo, digest string
	refs             []string
}

// run executes one replication: one task per repository (Harbor's granularity), each with its own log.
func (a *app) run(exec *execution, pol policy, dest registry, ev *event) {
	var jobs []job
	switch {
	case ev == nil:
		repos, err := a.local.catalog()
		if err != nil {
			a.finish(exec, "failed to list the source registry: "+err.Error())
			return
		}
		for _, repo := range repos {
			if tags, err := a.local.tags(repo); err == nil && len(tags) > 0 {
				jobs = append(jobs, job{op: "copy", repo: repo, refs: tags})
			}
		}
	case ev.kind == "push":
		jobs = []job{{op: "copy", repo: ev.repo, refs: []string{ev.ref}}}
	default:
		jobs = []job{{op: "deletion", repo: ev.repo, refs: []string{ev.ref}, digest: ev.digest}}
	}
	if dest.ID == 0 {
		a.finish(exec, fmt.Sprintf("registry %d not found", pol.DestRegistry.ID))
		return
	}
	tasks := make([]*task, len(jobs))
	a.st.mu.Lock()
	for i, j := range jobs {
		jobID := make([]byte, 12)
		rand.Read(jobID)
		res := fmt.Sprintf("%s [%d item(s) in total]", j.repo, len(j.refs))
		tasks[i] = &task{ID: a.st.id("task"), ExecutionID: exec.ID, JobID: hex.EncodeToString(jobID), Operation: j.op, ResourceType: "artifact",
			SrcResource: res, DstResource: fmt.Sprintf("%s [%d item(s) in total]", rewriteNamespace(j.repo, &pol), len(j.refs)), Status: "InProgress", StartTime: time.Now().UTC()}
		a.st.Tasks = append(a.st.Tasks, tasks[i])
	}
	exec.Total, exec.InProgress = len(jobs), len(jobs)
	a.st.save()
	a.st.mu.Unlock()

	destC := remoteFor(&dest)
	for i, j := range jobs {
		t := tasks[i]
		logf := func(level, format string, args ...any) {
			line := fmt.Sprintf("%s [%s] [/harbor-standin/replication.go]: %s\n", time.Now().UTC().Format("2006-01-02T15:04:05Z"), level, fmt.Sprintf(format, args...))
			a.st.mu.Lock()
			if len(t.Log) < 64<<10 {
				t.Log += line
			}
			a.st.mu.Unlock()
		}
		logf("INFO", "client for source registry [type: harbor, URL: %s, insecure: true] created", a.externalURL())
		logf("INFO", "client for destination registry [type: %s, URL: %s, insecure: %v] created", dest.Type, dest.URL, dest.Insecure)
		var err error
		if j.op == "copy" {
			err = a.copyTask(destC, &pol, j, logf)
		} else {
			err = deleteTask(destC, &pol, j, logf)
		}
		a.st.mu.Lock()
		now := time.Now().UTC()
		t.EndTime = &now
		exec.InProgress--
		if err != nil {
			t.Status = "Failed"
			exec.Failed++
		} else {
			t.Status = "Succeed"
			exec.Succeed++
		}
		a.st.save()
		a.st.mu.Unlock()
	}
	a.finish(exec, "")
}

// finish records the final status; failures before any task carry their reason in status_text, as in Harbor.
func (a *app) finish(exec *execution, statusText string) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	now := time.Now().UTC()
	exec.DoneAt, exec.StatusText, exec.Final = &now, statusText, "Succeed"
	if statusText != "" || exec.Failed > 0 {
		exec.Final = "Failed"
	}
	a.st.save()
}

func (a *app) copyTask(dest *registryClient, pol *policy, j job, logf func(string, string, ...any)) error {
	destRepo := rewriteNamespace(j.repo, pol)
	srcProject, destProject := strings.SplitN(j.repo, "/", 2)[0], strings.SplitN(destRepo, "/", 2)[0]
	a.st.mu.Lock()
	public := false
	if p := a.findProject(srcProject); p != nil {
		public = p.Metadata["public"] == "true"
	}
	a.st.mu.Unlock()
	// Harbor creates a missing destination project, with the source's visibility.
	if err := dest.ensureProject(destProject, public); err != nil {
		logf("ERROR", "failed to create the project %s on the destination registry: %v", destProject, err)
		return err
	}
	logf("INFO", "copying %s:[%s](source registry) to %s:[%s](destination registry)...", j.repo, strings.Join(j.refs, ","), destRepo, strings.Join(j.refs, ","))
	for _, ref := range j.refs {
		logf("INFO", "copying %s:%s(source registry) to %s:%s(destination registry)...", j.repo, ref, destRepo, ref)
		skipped, err := copyImage(a.local, dest, j.repo, destRepo, ref, pol.Override)
		if err != nil {
			logf("ERROR", "failed to copy the artifact %s:%s: %v", j.repo, ref, err)
			return err
		}
		if skipped {
			logf("INFO", "the artifact %s:%s already exists on the destination registry, skip", destRepo, ref)
		}
		logf("INFO", "copy %s:%s(source registry) to %s:%s(destination registry) completed", j.repo, ref, destRepo, ref)
	}
	return nil
}

// deleteTask deletes the manifest on the destination by digest; one already gone there counts as done.
func deleteTask(dest *registryClient, pol *policy, j job, logf func(string, string, ...any)) error {
	destRepo := rewriteNamespace(j.repo, pol)
	for _, ref := range j.refs {
		logf("INFO", "deleting the manifest of artifact %s:%s on the destination registry...", destRepo, ref)
		res, err := dest.do(http.MethodDelete, "/v2/"+destRepo+"/manifests/"+j.digest, nil, nil)
		if err != nil {
			logf("ERROR", "failed to delete the manifest of artifact %s:%s on the destination registry: %v", destRepo, ref, err)
			return err
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusAccepted || res.StatusCode == http.StatusOK:
			logf("INFO", "delete the manifest of artifact %s:%s on the destination registry completed", destRepo, ref)
		case res.StatusCode == http.StatusNotFound:
			logf("WARNING", "the manifest of artifact %s:%s not found on the destination registry, skip", destRepo, ref)
		default:
			err := fmt.Errorf("http status code: %d, body: %s", res.StatusCode, strings.TrimSpace(string(body)))
			logf("ERROR", "failed to delete the manifest of artifact %s:%s on the destination registry: %v", destRepo, ref, err)
			return err
		}
	}
	return nil
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

func (a *app) executions(w http.ResponseWriter, r *http.Request) {
	if !requireAdmin(w, a.whoLocked(r)) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.st.mu.Lock()
		// policy_id, trigger and status filter as in Harbor v2.10 (plain query parameters, not q=); status is the
		// status the view shows, lag included (Harbor filters on the stored, periodically refreshed status too).
		q := r.URL.Query()
		want, trigger, status := q.Get("policy_id"), q.Get("trigger"), q.Get("status")
		var list []*execution
		for _, e := range a.st.Executions {
			if (want == "" || strconv.FormatInt(e.PolicyID, 10) == want) && (trigger == "" || e.Trigger == trigger) {
				list = append(list, e)
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].ID > list[j].ID })
		views := []map[string]any{}
		for _, e := range list {
			if v := a.executionView(e); status == "" || v["status"] == status {
				views = append(views, v)
			}
		}
		a.st.mu.Unlock()
		if page, ok := paginate(w, r, views); ok {
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
			apiError(w, 404, "NOT_FOUND", fmt.Sprintf("replication policy %d not found", req.PolicyID))
			return
		}
		if !pol.Enabled {
			a.st.mu.Unlock()
			apiError(w, 412, "PRECONDITION", fmt.Sprintf("the policy %d is disabled", req.PolicyID))
			return
		}
		exec, p, dest := a.startExecution(pol, "manual")
		a.st.mu.Unlock()
		go a.run(exec, p, dest, nil)
		created(w, "/api/v2.0/replication/executions/%d", exec.ID)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

// executionByID: /executions/{id}, /executions/{id}/tasks, /executions/{id}/tasks/{tid}/log (text/plain only).
func (a *app) executionByID(w http.ResponseWriter, r *http.Request, seg []string) {
	if !requireAdmin(w, a.whoLocked(r)) {
		return
	}
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	var exec *execution
	for _, e := range a.st.Executions {
		if strconv.FormatInt(e.ID, 10) == seg[0] {
			exec = e
		}
	}
	if exec == nil {
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("replication execution %s not found", seg[0]))
		return
	}
	var tasks []*task
	for _, t := range a.st.Tasks {
		if t.ExecutionID == exec.ID {
			tasks = append(tasks, t)
		}
	}
	switch {
	case len(seg) == 1 && r.Method == http.MethodGet:
		writeJSON(w, 200, a.executionView(exec))
	case len(seg) == 2 && seg[1] == "tasks" && r.Method == http.MethodGet:
		views := []map[string]any{}
		for _, t := range tasks {
			views = append(views, taskView(t))
		}
		if page, ok := paginate(w, r, views); ok {
			writeJSON(w, 200, page)
		}
	case len(seg) == 4 && seg[1] == "tasks" && seg[3] == "log" && r.Method == http.MethodGet:
		if acceptsOnlyJSON(r) {
			unsupportedMedia(w)
			return
		}
		for _, t := range tasks {
			if strconv.FormatInt(t.ID, 10) == seg[2] {
				w.Header().Set("Content-Type", "text/plain")
				w.Write([]byte(t.Log))
				return
			}
		}
		apiError(w, 404, "NOT_FOUND", fmt.Sprintf("task %s not found", seg[2]))
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

func manifestDigest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}
