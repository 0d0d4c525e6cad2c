package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// principal is who a request authenticates as. As in Harbor, a wrong password is no principal at all (anonymous),
// not an error: each endpoint decides what anonymous gets.
type principal struct {
	user  *user
	robot *robot
}

func (p *principal) admin() bool { return p != nil && p.user != nil && p.user.Username == "admin" }

// who resolves Basic credentials; the caller holds the store lock.
func (a *app) who(r *http.Request) *principal {
	name, pass, ok := r.BasicAuth()
	if !ok {
		return nil
	}
	if strings.HasPrefix(name, "robot$") {
		for _, rb := range a.st.Robots {
			if "robot$"+rb.Name == name && !rb.Disable && (rb.ExpiresAt < 0 || time.Now().Unix() < rb.ExpiresAt) && secretMatches(rb.SecretHash, pass) {
				return &principal{robot: rb}
			}
		}
		return nil
	}
	for _, u := range a.st.Users {
		if u.Username == name && secretMatches(u.PasswordHash, pass) {
			return &principal{user: u}
		}
	}
	return nil
}

// whoLocked takes the store lock for who.
func (a *app) whoLocked(r *http.Request) *principal {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	return a.who(r)
}

// requireAdmin answers 401 for anonymous callers and 403 for robots, as Harbor does on admin-only endpoints.
func requireAdmin(w http.ResponseWriter, p *principal) bool {
	switch {
	case p == nil:
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
	case p.robot != nil:
		apiError(w, http.StatusForbidden, "FORBIDDEN", "robot$"+p.robot.Name)
	case !p.admin():
		apiError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
	default:
		return true
	}
	return false
}

// can says whether a robot holds resource:action on the project (namespace "*" is every project).
func (rb *robot) can(project, resource, action string) bool {
	for _, p := range rb.Permissions {
		if p.Kind != "project" || (p.Namespace != "*" && p.Namespace != project) {
			continue
		}
		for _, acc := range p.Access {
			if acc.Resource == resource && acc.Action == action {
				return true
			}
		}
	}
	return false
}

func userView(u *user) map[string]any {
	return map[string]any{
		"admin_role_in_auth": false, "comment": "admin user", "creation_time": harborTime(u.CreationTime), "realname": "system admin",
		"sysadmin_flag": u.Username == "admin", "update_time": harborTime(u.UpdateTime), "user_id": u.ID, "username": u.Username,
	}
}

func (a *app) currentUser(w http.ResponseWriter, r *http.Request) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	p := a.who(r)
	switch {
	case p == nil:
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
	case p.robot != nil:
		apiError(w, http.StatusPreconditionFailed, "PRECONDITION", "get current user not available for security context: robot")
	default:
		writeJSON(w, 200, userView(p.user))
	}
}

// strongPassword is Harbor's rule for passwords and robot secrets.
func strongPassword(s string) bool {
	var upper, lower, digit bool
	for _, c := range s {
		upper = upper || unicode.IsUpper(c)
		lower = lower || unicode.IsLower(c)
		digit = digit || unicode.IsDigit(c)
	}
	return len(s) >= 8 && len(s) <= 128 && upper && lower && digit
}

const weakPassword = "the password or secret must be 8-128, inclusively, characters long with at least 1 uppercase letter, 1 lowercase letter and 1 number"

// changePassword is PUT /users/{id}/password: the admin, or the user themself, with the current password.
func (a *app) changePassword(w http.ResponseWriter, r *http.Request, idText string) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	p := a.who(r)
	if p == nil {
		apiError(w, http.StatusUnauthorized, "UNAUTHORIZED", "unauthorized")
		return
	}
	if r.Method != http.MethodPut {
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
		return
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	var target *user
	for _, u := range a.st.Users {
		if err == nil && u.ID == id {
			target = u
		}
	}
	if target == nil {
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("user %s not found", idText))
		return
	}
	if !p.admin() && (p.user == nil || p.user.ID != target.ID) {
		apiError(w, http.StatusForbidden, "FORBIDDEN", "forbidden")
		return
	}
	var req struct {
		Old string `json:"old_password"`
		New string `json:"new_password"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apiError(w, 400, "BAD_REQUEST", "invalid request body: "+err.Error())
		return
	}
	switch {
	case !secretMatches(target.PasswordHash, req.Old):
		apiError(w, http.StatusForbidden, "FORBIDDEN", "Current password is incorrect")
	case !strongPassword(req.New):
		apiError(w, 400, "BAD_REQUEST", weakPassword)
	case req.New == req.Old:
		apiError(w, 400, "BAD_REQUEST", "New password is identical to old password")
	default:
		target.PasswordHash, target.UpdateTime = hashSecret(req.New), time.Now().UTC()
		a.st.save()
		w.WriteHeader(200)
	}
}
