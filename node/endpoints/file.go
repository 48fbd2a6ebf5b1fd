package endpoints

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"meshnet.dev/meshnet/internal/packet"
)

// FileName is the registry's file in the state directory.
const FileName = "endpoints.json"

// maxFileBytes bounds the file: MaxEndpoints records of a few hundred bytes.
const maxFileBytes = 4 << 20

// fileRecord is one endpoint in the file. Fields are append-only.
type fileRecord struct {
	Network     string `json:"network"`
	ContainerID string `json:"container_id"`
	IfName      string `json:"ifname"`
	MAC         string `json:"mac"`
	IP          string `json:"ip"`
}

type fileContent struct {
	V         int          `json:"v"`
	Endpoints []fileRecord `json:"endpoints"`
}

// Open loads the registry kept in dir; a missing file is an empty registry.
// A file that cannot be read or parsed is an error: forgetting endpoints
// would strand their containers' addresses in gossip.
func Open(dir string) (*Registry, error) {
	path := filepath.Join(dir, FileName)
	r := &Registry{path: path, eps: map[Key]Endpoint{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w (check its permissions)", path, err)
	}
	eps, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: move it aside to start without the container endpoints it records "+
			"(their containers then need a CNI DEL and ADD)", path, err)
	}
	for _, e := range eps {
		r.eps[e.Key()] = e
	}
	return r, nil
}

// Decode parses the registry file's content.
func Decode(b []byte) ([]Endpoint, error) {
	var c fileContent
	if len(b) > maxFileBytes {
		return nil, errors.New("file too large")
	}
	if err := json.Unmarshal(b, &c); err != nil || c.V < 1 {
		return nil, errors.New("corrupt file")
	}
	if len(c.Endpoints) > MaxEndpoints {
		return nil, errors.New("too many endpoints")
	}
	out := make([]Endpoint, 0, len(c.Endpoints))
	for i, f := range c.Endpoints {
		if err := CheckNames(f.ContainerID, f.IfName); err != nil || f.Network == "" {
			return nil, fmt.Errorf("endpoint %d: bad names", i)
		}
		hw, err := net.ParseMAC(f.MAC)
		ip, err2 := netip.ParseAddr(f.IP)
		if err != nil || len(hw) != 6 || err2 != nil {
			return nil, fmt.Errorf("endpoint %d: bad MAC or address", i)
		}
		out = append(out, Endpoint{Network: f.Network, ContainerID: f.ContainerID, IfName: f.IfName, MAC: packet.MAC(hw), IP: ip})
	}
	return out, nil
}

// saveLocked writes the file atomically and durably: a temporary file
// synced to disk, renamed over the old one. r.mu must be held.
func (r *Registry) saveLocked() error {
	if r.path == "" {
		return nil
	}
	c := fileContent{V: 1, Endpoints: []fileRecord{}}
	for _, e := range r.eps {
		c.Endpoints = append(c.Endpoints, fileRecord{Network: e.Network, ContainerID: e.ContainerID, IfName: e.IfName,
			MAC: net.HardwareAddr(e.MAC[:]).String(), IP: e.IP.String()})
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(r.path)
	f, err := os.CreateTemp(dir, FileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving container endpoints: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("saving container endpoints: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("saving container endpoints: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving container endpoints: %w", err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		return fmt.Errorf("saving container endpoints: %w", err)
	}
	return nil
}
