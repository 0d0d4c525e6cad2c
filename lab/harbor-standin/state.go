package main

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"
)

type project struct {
	ID           int64             `json:"project_id"`
	Name         string            `json:"name"`
	Metadata     map[string]string `json:"metadata"`
	CreationTime time.Time         `json:"creation_time"`
}

type credential struct {
	Type         string `json:"type"`
	AccessKey    string `json:"access_key"`
	AccessSecret string `json:"access_secret,omitempty"`
}

type registry struct {
	ID           int64       `json:"id"`
	Name         string      `json:"name"`
	Description  string      `json:"description"`
	Type         string      `json:"type"`
	URL          string      `json:"url"`
	Insecure     bool        `json:"insecure"`
	Credential   *credential `json:"credential,omitempty"`
	CreationTime time.Time   `json:"creation_time"`
	UpdateTime   time.Time   `json:"update_time"`
}

type trigger struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"trigger_settings,omitempty"`
}

type filter struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// policy is stored as Harbor takes it on POST/PUT; registries are referenced by id.
type policy struct {
	ID                        int64     `json:"id"`
	Name                      string    `json:"name"`
	Description               string    `json:"description"`
	SrcRegistry               *refID    `json:"src_registry,omitempty"`
	DestRegistry              *refID    `json:"dest_registry,omitempty"`
	DestNamespace             string    `json:"dest_namespace,omitempty"`
	DestNamespaceReplaceCount *int      `json:"dest_namespace_replace_count,omitempty"`
	Trigger                   *trigger  `json:"trigger,omitempty"`
	Filters                   []filter  `json:"filters"`
	Enabled                   bool      `json:"enabled"`
	Deletion                  bool      `json:"deletion"`
	ReplicateDeletion         bool      `json:"replicate_deletion"`
	Override                  bool      `json:"override"`
	Speed                     int       `json:"speed"`
	CopyByChunk               bool      `json:"copy_by_chunk"`
	CreationTime              time.Time `json:"creation_time"`
	UpdateTime                time.Time `json:"update_time"`
}

type refID struct {
	ID int64 `json:"id"`
}

// execution keeps its final status apart: the API shows it only after the status refresh (see executionView).
type execution struct {
	ID         int64      `json:"id"`
	PolicyID   int64      `json:"policy_id"`
	Trigger    string     `json:"trigger"`
	Total      int        `json:"total"`
	Failed     int        `json:"failed"`
	Succeed    int        `json:"succeed"`
	InProgress int        `json:"in_progress"`
	StartTime  time.Time  `json:"start_time"`
	Final      string     `json:"final,omitempty"`
	DoneAt     *time.Time `json:"done_at,omitempty"`
	StatusText string     `json:"status_text"`
}

type task struct {
	ID           int64      `json:"id"`
	ExecutionID  int64      `json:"execution_id"`
	JobID        string     `json:"job_id"`
	Operation    string     `json:"operation"`
	ResourceType string     `json:"resource_type"`
	SrcResource  string     `json:"src_resource"`
	DstResource  string     `json:"dst_resource"`
	Status       string     `json:"status"`
	StartTime    time.Time  `json:"start_time"`
	EndTime      *time.Time `json:"end_time,omitempty"`
	Log          string     `json:"log"`
}

type access struct {
	Resource string `json:"resource"`
	Action   string `json:"action"`
}

type permission struct {
	Kind      string   `json:"kind"`
	Namespace string   `json:"namespace"`
	Access    []access `json:"access"`
}

type robot struct {
	ID           int64        `json:"id"`
	Name         string       `json:"name"` // without the robot$ prefix
	Description  string       `json:"description"`
	Level        string       `json:"level"`
	Disable      bool         `json:"disable"`
	Duration     int64        `json:"duration"`
	ExpiresAt    int64        `json:"expires_at"`
	Permissions  []permission `json:"permissions"`
	SecretHash   string       `json:"secret_hash"`
	CreationTime time.Time    `json:"creation_time"`
	UpdateTime   time.Time    `json:"update_time"`
}

type user struct {
	ID           int64     `json:"user_id"`
	Username     string    `json:"username"`
	PasswordHash string    `json:"password_hash"`
	CreationTime time.Time `json:"creation_time"`
	UpdateTime   time.Time `json:"update_time"`
}

// store keeps the API's objects in one JSON file under the data volume, so they survive restarts. Ids are counted
// per kind, as Harbor's tables are.
type store struct {
	mu         sync.Mutex
	file       string
	IDs        map[string]int64 `json:"ids"`
	Users      []*user          `json:"users"`
	Projects   []*project       `json:"projects"`
	Registries []*registry      `json:"registries"`
	Policies   []*policy        `json:"policies"`
	Executions []*execution     `json:"executions"`
	Tasks      []*task          `json:"tasks"`
	Robots     []*robot         `json:"robots"`
}

// openStore loads the state; on the first start only, the admin is created with the configured password (Harbor
// reads harbor_admin_password only then: later changes go through the API).
func openStore(dir, initialAdminPassword string) (*store, error) {
	s := &store{file: filepath.Join(dir, "standin-state.json")}
	if data, err := os.ReadFile(s.file); err == nil {
		if err := json.Unmarshal(data, s); err != nil {
			return nil, err
		}
	}
	if s.IDs == nil {
		s.IDs = map[string]int64{}
	}
	now := time.Now().UTC()
	if len(s.Users) == 0 {
		s.Users = append(s.Users, &user{ID: s.id("user"), Username: "admin", PasswordHash: hashSecret(initialAdminPassword), CreationTime: now, UpdateTime: now})
	}
	if len(s.Projects) == 0 {
		// Harbor starts with the public project "library".
		s.Projects = append(s.Projects, &project{ID: s.id("project"), Name: "library", Metadata: map[string]string{"public": "true"}, CreationTime: now})
	}
	return s, s.save()
}

func (s *store) id(kind string) int64 {
	s.IDs[kind]++
	return s.IDs[kind]
}

func (s *store) save() error {
	if err := os.MkdirAll(filepath.Dir(s.file), 0o700); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(s, "", "  ")
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.file)
}

// hashSecret keeps passwords and robot secrets out of the state file: salt$sha256(salt+secret).
func hashSecret(secret string) string {
	salt := make([]byte, 8)
	rand.Read(salt)
	return hashWith(hex.EncodeToString(salt), secret)
}

func hashWith(salt, secret string) string {
	sum := sha256.Sum256([]byte(salt + secret))
	return salt + "$" + hex.EncodeToString(sum[:])
}

func secretMatches(hash, secret string) bool {
	for i := 0; i < len(hash); i++ {
		if hash[i] == '$' {
			return subtle.ConstantTimeCompare([]byte(hashWith(hash[:i], secret)), []byte(hash)) == 1
		}
	}
	return false
}

// harborTime is Harbor's JSON time format (milliseconds, Z); the zero time reads 0001-01-01T00:00:00.000Z.
func harborTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// indexByID is the position of the element with this id, or -1.
func indexByID[T any](xs []*T, id int64, idOf func(*T) int64) int {
	for i, x := range xs {
		if idOf(x) == id {
			return i
		}
	}
	return -1
}
