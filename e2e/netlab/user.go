package netlab

import (
	"os"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"meshnet.dev/meshnet/node/config"
)

// StartMeshnetAs is StartMeshnet for an unprivileged daemon: it runs as
// uid:gid with every capability dropped (setpriv), its state directory and
// config owned by that user.
func (h *Host) StartMeshnetAs(binary string, cfg config.Config, uid, gid int, extraArgs ...string) (*Meshnet, error) {
	if cfg.StateDir == "" || cfg.StateDir == config.DefaultConfig().StateDir {
		cfg.StateDir = filepath.Join(h.Dir, "state")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chown(cfg.StateDir, uid, gid); err != nil {
		return nil, err
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(h.Dir, "meshnet.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return nil, err
	}
	// The directories leading to the binary and config must be searchable.
	for _, d := range []string{filepath.Dir(binary), h.Dir, h.lab.Dir} {
		os.Chmod(d, 0o755)
	}
	m := &Meshnet{Host: h, Config: path, StateDir: cfg.StateDir, Binary: binary, As: []string{
		"setpriv", "--reuid", strconv.Itoa(uid), "--regid", strconv.Itoa(gid), "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--"}}
	return m, m.Start(extraArgs...)
}
