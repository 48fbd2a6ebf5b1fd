package chaos

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/internal/testenv"
	"meshnet.dev/meshnet/node"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/node/config"
)

// network is the encrypted overlay network every chaos cluster uses.
const (
	network = "red"
	subnet  = "10.10.0.0/24"
	device  = "mn-" + network
)

// overlayIP is host i's (0-based) static overlay address. Static addresses
// keep every flow's target fixed across SIGKILL restarts (IPAM picks a new
// block for a node that lost its state in memory).
func overlayIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 10, 0, byte(i + 1)}) }

// cluster is a running chaos cluster: host i runs meshnet node ms[i];
// hosts[0] created the cluster and holds the admin key.
type cluster struct {
	t     *testing.T
	lab   *netlab.Lab
	hosts []*netlab.Host
	ms    []*netlab.Meshnet
	// gone marks nodes out of the cluster for good (evicted).
	gone map[int]bool
	// down marks nodes killed and not restarted yet.
	down map[int]bool
	// heal ends the current partition, if any.
	heal func() error
}

// clusterConfig tunes newCluster.
type clusterConfig struct {
	hosts    int
	rotation time.Duration // admin key rotation interval
}

// newCluster starts cfg.hosts meshnet nodes on encrypted network red, each
// with a static address, the first creating the cluster and the others
// joining with its token; it waits until every node sees every endpoint.
func newCluster(t *testing.T, cfg clusterConfig) *cluster {
	t.Helper()
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "nft")
	if bin.err != nil {
		t.Fatal(bin.err)
	}
	cmdLog, err := os.CreateTemp("", "meshnet-chaos-cmds-")
	if err != nil {
		t.Fatal(err)
	}
	lab, err := netlab.New(netlab.Options{Prefix: "mnchaos", Log: cmdLog})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, lab: lab, gone: map[int]bool{}, down: map[int]bool{}}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range c.ms {
				if m != nil {
					out, _ := m.Host.Run("wg", "show", wgName(lab, m.Host))
					st, _ := m.CLI("status", "--json")
					t.Logf("--- %s: wg show ---\n%s\n--- %s: status ---\n%s", m.Host.Name, out, m.Host.Name, st)
				}
			}
			for _, h := range lab.Hosts() {
				if b, err := os.ReadFile(filepath.Join(h.Dir, "meshnet.log")); err == nil {
					t.Logf("--- %s meshnet.log (last 8 KiB) ---\n%s", h.Name, tail(b, 8<<10))
				}
			}
		}
		if c.heal != nil {
			c.heal()
		}
		if err := lab.Close(); err != nil {
			t.Errorf("cleaning up the lab: %v", err)
		}
		cmdLog.Close()
		os.Remove(cmdLog.Name())
	})
	for i := range cfg.hosts {
		h, err := lab.AddHost(fmt.Sprintf("h%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		c.hosts = append(c.hosts, h)
	}
	c.ms = make([]*netlab.Meshnet, cfg.hosts)
	encrypted := true
	var token string
	for i, h := range c.hosts {
		nc := config.DefaultConfig()
		nc.Name = h.Name
		nc.Gossip.BulkSyncInterval = 5 * time.Second
		nc.Keys.RotationInterval = cfg.rotation
		nc.Health.Interval = time.Second
		// WireGuard's UAPI sockets live in /var/run/wireguard, shared by
		// every namespace: a name unique to this lab never clashes.
		nc.WireGuard.Interface = wgName(lab, h)
		net := config.NetworkConfig{Name: network, Address: overlayIP(i).String()}
		if i == 0 {
			net.Subnet, net.Encrypted = subnet, &encrypted
		}
		nc.Networks = []config.NetworkConfig{net}
		nc.Token = token
		m, err := h.StartMeshnet(bin.meshnet, nc)
		if err != nil {
			t.Fatal(err)
		}
		c.ms[i] = m
		if i == 0 {
			out, err := m.CLI("token", "--ttl", "24h")
			if err != nil {
				t.Fatalf("meshnet token: %v\n%s", err, out)
			}
			token = strings.TrimSpace(strings.Split(out, "\n")[0])
		}
	}
	for _, m := range c.ms {
		if _, err := m.WaitNetworks(60*time.Second, network); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.converge(90 * time.Second); err != nil {
		t.Fatalf("the new cluster never converged: %v", err)
	}
	// Each member keeps the token it joined with in its config, as a
	// config file or token_file does: restarts, after the token expired
	// too (a skewed clock makes that happen at once), must not need it.
	return c
}

// setToken puts a join token (and, if given, join addresses) into a
// daemon's config file.
func setToken(path, token string, join ...string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg config.Config
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return err
	}
	cfg.Token = token
	if len(join) > 0 {
		cfg.Join = join
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}

// live lists the indexes of nodes that are up and members.
func (c *cluster) live() []int {
	var out []int
	for i := range c.ms {
		if !c.gone[i] && !c.down[i] {
			out = append(out, i)
		}
	}
	return out
}

// kill SIGKILLs node i's daemon (the process itself, also when it runs
// under a wrapper) and waits for it to be gone.
func (c *cluster) kill(i int) {
	c.t.Helper()
	m := c.ms[i]
	pid := 0
	if st, err := m.Status(); err == nil {
		pid = st.Node.PID
		syscall.Kill(pid, syscall.SIGKILL)
	}
	m.Proc.Signal(syscall.SIGKILL)
	if err := m.Proc.Wait(10 * time.Second); err != nil && !m.Proc.Exited() {
		c.t.Fatalf("%s did not die: %v", m.Host.Name, err)
	}
	// Under a wrapper the daemon is the wrapper's child: wait for it too,
	// or a restart finds its lock still held.
	if pid > 0 {
		err := netlab.Poll(10*time.Second, 10*time.Millisecond, func() error {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			if err != nil || strings.Contains(string(b), ") Z ") { // gone, or a zombie holding nothing
				return nil
			}
			return fmt.Errorf("%s's daemon (pid %d) is still there", m.Host.Name, pid)
		})
		if err != nil {
			c.t.Fatal(err)
		}
	}
	// Whatever the status call said, the daemon is gone once its state
	// lock is free (it may not have answered while it was dying).
	err := netlab.Poll(10*time.Second, 10*time.Millisecond, func() error {
		if busy, err := node.StateDirInUse(m.StateDir); err != nil || busy {
			return fmt.Errorf("%s's state directory is still locked (%v)", m.Host.Name, err)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.down[i] = true
}

// restart starts node i again from its state directory, under wrapper if
// given (see netlab.Meshnet.StartWrapped), with binary.
func (c *cluster) restart(i int, binary string, wrapper ...string) {
	c.t.Helper()
	m := c.ms[i]
	m.Binary = binary
	if err := m.StartWrapped(wrapper); err != nil {
		c.t.Fatal(err)
	}
	if _, err := m.WaitNetworks(60*time.Second, network); err != nil {
		c.t.Fatal(err)
	}
	delete(c.down, i)
}

// daemonPID is the PID of node i's meshnet process as it reports it.
func (c *cluster) daemonPID(i int) (int, error) {
	st, err := c.ms[i].Status()
	if err != nil {
		return 0, err
	}
	return st.Node.PID, nil
}

// services asks node i for the cluster's services.
func (c *cluster) services(i int) ([]api.Service, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return api.NewClient(filepath.Join(c.ms[i].StateDir, api.SocketName)).Services(ctx)
}

// cli runs a meshnet command against node i and fails the test on error.
func (c *cluster) cli(i int, args ...string) string {
	c.t.Helper()
	out, err := c.ms[i].CLI(args...)
	if err != nil {
		c.t.Fatalf("meshnet %s on %s: %v\n%s", strings.Join(args, " "), c.hosts[i].Name, err, out)
	}
	return out
}

// wgName is host h's WireGuard interface name: w, the lab's random
// suffix and the host name.
func wgName(lab *netlab.Lab, h *netlab.Host) string {
	return "w" + lab.Prefix[len(lab.Prefix)-6:] + h.Name
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
