package dockerdriver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// networksFile maps Docker network ids to meshnet networks, so the plugin
// serves networks created before it restarted.
const networksFile = "docker-networks.json"

// maxNetworks bounds the table (and so the file).
const maxNetworks = 4096

// networks is the table and its file; mu guards both.
type networks struct {
	path string
	mu   sync.Mutex
	m    map[string]string
}

func openNetworks(dir string) (*networks, error) {
	n := &networks{path: filepath.Join(dir, networksFile), m: map[string]string{}}
	b, err := os.ReadFile(n.path)
	if errors.Is(err, fs.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", n.path, err)
	}
	m, err := decodeNetworks(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: move it aside (Docker networks made with meshnet then need to be created again)", n.path, err)
	}
	n.m = m
	return n, nil
}

// decodeNetworks parses the file's content.
func decodeNetworks(b []byte) (map[string]string, error) {
	var m map[string]string
	if len(b) > maxNetworks*256 {
		return nil, errors.New("file too large")
	}
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, errors.New("corrupt file")
	}
	if len(m) > maxNetworks {
		return nil, errors.New("too many networks")
	}
	for id, name := range m {
		if id == "" || name == "" {
			return nil, errors.New("empty network id or name")
		}
	}
	return m, nil
}

func (n *networks) get(id string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	name, ok := n.m[id]
	return name, ok
}

func (n *networks) put(id, name string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.m) >= maxNetworks {
		return fmt.Errorf("the plugin already serves %d networks, the limit", maxNetworks)
	}
	n.m[id] = name
	return n.saveLocked()
}

func (n *networks) remove(id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.m[id]; !ok {
		return nil
	}
	delete(n.m, id)
	return n.saveLocked()
}

func (n *networks) saveLocked() error {
	b, err := json.Marshal(n.m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(n.path), 0o700); err != nil {
		return err
	}
	tmp := n.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, n.path)
}
