package main

import (
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
	Type         string      `json:"type"`
	URL          string      `json:"url"`
	Insecure     bool        `json:"insecure"`
	Credential   *credential `json:"credential,omitempty"`
	Status       string      `json:"status"`
	CreationTime time.Time   `json:"creation_time"`
}

type trigger struct {
	Type string `json:"type"`
}

type policy struct {
	ID                        int64     `json:"id"`
	Name                      string    `json:"name"`
	SrcRegistry               *registry `json:"src_registry,omitempty"`
	DestRegistry              *registry `json:"dest_registry,omitempty"`
	DestNamespace             string    `json:"dest_namespace,omitempty"`
	DestNamespaceReplaceCount *int      `json:"dest_namespace_replace_count,omitempty"`
	Trigger                   *trigger  `json:"trigger,omitempty"`
	Enabled                   bool      `json:"enabled"`
	Deletion                  bool      `json:"deletion"`
	Override                  bool      `json:"override"`
	ReplicateDeletion         bool      `json:"replicate_deletion"`
	CreationTime              time.Time `json:"creation_time"`
}

type execution struct {
	ID         int64      `json:"id"`
	PolicyID   int64      `json:"policy_id"`
	Status     string     `json:"status"`
	Trigger    string     `json:"trigger"`
	Total      int        `json:"total"`
	Failed     int        `json:"failed"`
	Succeed    int        `json:"succeed"`
	InProgress int        `json:"in_progress"`
	StartTime  time.Time  `json:"start_time"`
	EndTime    *time.Time `json:"end_time,omitempty"`
	StatusText string     `json:"status_text,omitempty"`
}

// store keeps the API's objects in one JSON file under the data volume, so they survive restarts.
type store struct {
	mu         sync.Mutex
	file       string
	NextID     int64        `json:"next_id"`
	Projects   []*project   `json:"projects"`
	Registries []*registry  `json:"registries"`
	Policies   []*policy    `json:"policies"`
	Executions []*execution `json:"executions"`
}

func openStore(dir string) (*store, error) {
	s := &store{file: filepath.Join(dir, "standin-state.json"), NextID: 1}
	if data, err := os.ReadFile(s.file); err == nil {
		if err := json.Unmarshal(data, s); err != nil {
			return nil, err
		}
	}
	if len(s.Projects) == 0 {
		// Harbor starts with the public project "library".
		s.Projects = append(s.Projects, &project{ID: s.id(), Name: "library", Metadata: map[string]string{"public": "true"}, CreationTime: time.Now().UTC()})
	}
	return s, s.save()
}

func (s *store) id() int64 {
	id := s.NextID
	s.NextID++
	return id
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
