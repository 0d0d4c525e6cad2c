package main

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func robotView(rb *robot) map[string]any {
	perms := rb.Permissions
	if perms == nil {
		perms = []permission{}
	}
	return map[string]any{
		"creation_time": harborTime(rb.CreationTime), "description": rb.Description, "disable": rb.Disable, "duration": rb.Duration,
		"editable": true, "expires_at": rb.ExpiresAt, "id": rb.ID, "level": rb.Level, "name": "robot$" + rb.Name,
		"permissions": perms, "update_time": harborTime(rb.UpdateTime),
	}
}

// randomSecret is a robot secret that satisfies Harbor's password rule (32 characters, as Harbor generates).
func randomSecret() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for {
		b := make([]byte, 32)
		rand.Read(b)
		for i := range b {
			b[i] = letters[int(b[i])%len(letters)]
		}
		if strongPassword(string(b)) {
			return string(b)
		}
	}
}

type robotInput struct {
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Level       string       `json:"level"`
	Disable     bool         `json:"disable"`
	Duration    *int64       `json:"duration"`
	Permissions []permission `json:"permissions"`
	Secret      string       `json:"secret"`
}

// validRobot applies Harbor v2.10's checks; system robots only (project robots are not played by the stand-in).
func validRobot(w http.ResponseWriter, in *robotInput) bool {
	switch {
	case in.Level != "system" && in.Level != "project":
		apiError(w, 400, "BAD_REQUEST", "bad request error level input: "+in.Level)
	case in.Level == "project":
		apiError(w, 400, "BAD_REQUEST", "project-level robots are not played by the Harbor stand-in")
	case len(in.Permissions) == 0:
		apiError(w, 400, "BAD_REQUEST", "bad request empty permission")
	case in.Duration == nil || *in.Duration == 0 || *in.Duration < -1:
		apiError(w, 400, "BAD_REQUEST", "bad request error duration input")
	default:
		return true
	}
	return false
}

func expiry(created time.Time, days int64) int64 {
	if days < 0 {
		return -1
	}
	return created.Add(time.Duration(days) * 24 * time.Hour).Unix()
}

func (a *app) robots(w http.ResponseWriter, r *http.Request) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	if !requireAdmin(w, a.who(r)) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		list := []map[string]any{}
		for _, rb := range a.st.Robots {
			list = append(list, robotView(rb))
		}
		if page, ok := paginate(w, r, list); ok {
			writeJSON(w, 200, page)
		}
	case http.MethodPost:
		var in robotInput
		if !decode(w, r, &in) || !validRobot(w, &in) {
			return
		}
		for _, rb := range a.st.Robots {
			if rb.Name == in.Name {
				apiError(w, http.StatusConflict, "CONFLICT", fmt.Sprintf("robot account 0:%s already exists", in.Name))
				return
			}
		}
		secret, ok := chosenSecret(w, in.Secret)
		if !ok {
			return
		}
		now := time.Now().UTC()
		rb := &robot{ID: a.st.id("robot"), Name: in.Name, Description: in.Description, Level: in.Level, Disable: in.Disable, Duration: *in.Duration,
			ExpiresAt: expiry(now, *in.Duration), Permissions: in.Permissions, SecretHash: hashSecret(secret), CreationTime: now, UpdateTime: now}
		a.st.Robots = append(a.st.Robots, rb)
		a.st.save()
		w.Header().Set("Location", fmt.Sprintf("/api/v2.0/robots/%d", rb.ID))
		writeJSON(w, http.StatusCreated, map[string]any{"creation_time": harborTime(now), "expires_at": rb.ExpiresAt, "id": rb.ID, "name": "robot$" + rb.Name, "secret": secret})
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

// robotByID: GET, PUT (description, permissions, disable, duration), PATCH (refresh the secret), DELETE.
func (a *app) robotByID(w http.ResponseWriter, r *http.Request, idText string) {
	a.st.mu.Lock()
	defer a.st.mu.Unlock()
	if !requireAdmin(w, a.who(r)) {
		return
	}
	id, _ := strconv.ParseInt(idText, 10, 64)
	idx := indexByID(a.st.Robots, id, func(rb *robot) int64 { return rb.ID })
	if idx < 0 {
		apiError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("robot %s not found", idText))
		return
	}
	rb := a.st.Robots[idx]
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, 200, robotView(rb))
	case http.MethodPut:
		var in robotInput
		if !decode(w, r, &in) || !validRobot(w, &in) {
			return
		}
		if strings.TrimPrefix(in.Name, "robot$") != rb.Name {
			apiError(w, 400, "BAD_REQUEST", "cannot update the robot name")
			return
		}
		rb.Description, rb.Disable, rb.Permissions, rb.UpdateTime = in.Description, in.Disable, in.Permissions, time.Now().UTC()
		if *in.Duration != rb.Duration {
			rb.Duration, rb.ExpiresAt = *in.Duration, expiry(rb.CreationTime, *in.Duration)
		}
		a.st.save()
		w.WriteHeader(200)
	case http.MethodPatch:
		var in struct {
			Secret string `json:"secret"`
		}
		if r.ContentLength != 0 && !decode(w, r, &in) {
			return
		}
		secret, ok := chosenSecret(w, in.Secret)
		if !ok {
			return
		}
		rb.SecretHash, rb.UpdateTime = hashSecret(secret), time.Now().UTC()
		a.st.save()
		writeJSON(w, 200, map[string]string{"secret": secret})
	case http.MethodDelete:
		a.st.Robots = append(a.st.Robots[:idx], a.st.Robots[idx+1:]...)
		a.st.save()
		w.WriteHeader(200)
	default:
		apiError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method)
	}
}

// chosenSecret is the secret asked for (Harbor refuses a weak one: answered here, false) or, when none is, a random one.
func chosenSecret(w http.ResponseWriter, asked string) (string, bool) {
	if asked == "" {
		return randomSecret(), true
	}
	if !strongPassword(asked) {
		apiError(w, 400, "BAD_REQUEST", weakPassword)
		return "", false
	}
	return asked, true
}
