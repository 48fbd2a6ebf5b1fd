package netlab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// Meshnet is a meshnet daemon running in a host.
type Meshnet struct {
	Host     *Host
	Proc     *Proc
	Config   string // path of its config file
	StateDir string
	Binary   string
	// As prefixes the daemon's command line (to run it as another user).
	As []string
}

// StartMeshnet writes cfg into the host's directory and runs
// `meshnet up -c` there, waiting until its control socket answers.
func (h *Host) StartMeshnet(binary string, cfg config.Config, extraArgs ...string) (*Meshnet, error) {
	if cfg.StateDir == "" || cfg.StateDir == config.DefaultConfig().StateDir {
		cfg.StateDir = filepath.Join(h.Dir, "state")
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(h.Dir, "meshnet.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	m := &Meshnet{Host: h, Config: path, StateDir: cfg.StateDir, Binary: binary}
	return m, m.Start(extraArgs...)
}

// Start (re)starts the daemon with its existing config.
func (m *Meshnet) Start(extraArgs ...string) error {
	return m.launch(m.As, 20*time.Second, extraArgs)
}

// launch runs `meshnet up -c` behind the words of prefix (none, or a
// wrapper that ends by executing what follows) and waits up to timeout
// until the control socket answers.
func (m *Meshnet) launch(prefix []string, timeout time.Duration, extraArgs []string) error {
	argv := append(append(append([]string(nil), prefix...), m.Binary, "up", "-c", m.Config), extraArgs...)
	p, err := m.Host.Start("meshnet", argv[0], argv[1:]...)
	if err != nil {
		return err
	}
	m.Proc = p
	err = Poll(timeout, 20*time.Millisecond, func() error {
		if p.Exited() {
			return fmt.Errorf("meshnet on %s exited: %s", m.Host.Name, p.Output())
		}
		_, err := m.Status()
		return err
	})
	if err != nil {
		return fmt.Errorf("meshnet on %s did not come up: %w\n%s", m.Host.Name, err, p.Output())
	}
	return nil
}

// WaitNetworks waits until the daemon is attached to every named network
// (all of its configured ones if none are named) with an address.
func (m *Meshnet) WaitNetworks(timeout time.Duration, names ...string) (*api.Status, error) {
	var st *api.Status
	err := Poll(timeout, 20*time.Millisecond, func() error {
		var err error
		if st, err = m.Status(); err != nil {
			return err
		}
		if len(st.Waiting) > 0 {
			return fmt.Errorf("%s waits for networks %v", m.Host.Name, st.Waiting)
		}
		have := map[string]bool{}
		for _, n := range st.Networks {
			if n.Address == "" {
				return fmt.Errorf("%s has no address on %s yet", m.Host.Name, n.Name)
			}
			have[n.Name] = true
		}
		for _, n := range names {
			if !have[n] {
				return fmt.Errorf("%s is not on network %s", m.Host.Name, n)
			}
		}
		return nil
	})
	return st, err
}

// WaitEndpoints waits until the daemon lists want endpoints on network.
func (m *Meshnet) WaitEndpoints(timeout time.Duration, network string, want int) error {
	return Poll(timeout, 20*time.Millisecond, func() error {
		st, err := m.Status()
		if err != nil {
			return err
		}
		for _, n := range st.Networks {
			if n.Name == network {
				if len(n.Endpoints) != want {
					return fmt.Errorf("%s sees %d endpoints on %s, want %d", m.Host.Name, len(n.Endpoints), network, want)
				}
				return nil
			}
		}
		return fmt.Errorf("%s is not on network %s", m.Host.Name, network)
	})
}

// Status asks the daemon for its status over the control socket.
func (m *Meshnet) Status() (*api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return api.NewClient(filepath.Join(m.StateDir, api.SocketName)).Status(ctx)
}

// CLI runs a meshnet CLI command against this daemon inside its host.
func (m *Meshnet) CLI(args ...string) (string, error) {
	return m.Host.Run(m.Binary, append(args, "--state-dir", m.StateDir)...)
}
