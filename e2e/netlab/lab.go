// Package netlab builds throwaway test networks out of Linux network
// namespaces: an underlay namespace holding a bridge, and hosts, each a
// namespace with an eth0 plugged into that bridge. Nothing is created in the
// caller's own namespace, so a lab never touches the machine's real network,
// and Close removes every namespace, process and file it made.
package netlab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Lab is a set of hosts on one underlay bridge.
type Lab struct {
	Prefix string // namespace name prefix, unique per lab
	Dir    string // scratch directory for configs, state and logs
	Subnet netip.Prefix

	log      io.Writer
	mu       sync.Mutex
	hosts    []*Host
	pods     []*Host // bare namespaces (AddPod), removed before the hosts
	nats     []*NAT  // NAT routers (nat.go), removed after the hosts
	natLinks int     // veths made for NATs, numbered to name them uniquely
	procs    []*Proc
	nextAddr netip.Addr
	ownDir   bool
	closed   bool      // Close ran: the lab lock is released once
	opened   time.Time // sockets older than the lab are not its own
}

// Options tune a lab.
type Options struct {
	// Prefix for namespace names; a random suffix is added. Default "mnlab".
	Prefix string
	// Dir for scratch files; default a new temporary directory.
	Dir string
	// Subnet of the underlay; default 192.168.77.0/24.
	Subnet netip.Prefix
	// Log receives the commands run; default discarded.
	Log io.Writer
}

// New creates the underlay namespace and its bridge.
func New(o Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("netlab needs root to create network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("netlab needs the ip command (iproute2)")
	}
	if o.Prefix == "" {
		o.Prefix = "mnlab"
	}
	if !o.Subnet.IsValid() {
		o.Subnet = netip.MustParsePrefix("192.168.77.0/24")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := acquireLock(func(msg string) { fmt.Fprintln(o.Log, "#", msg) }); err != nil {
		return nil, err
	}
	var rnd [3]byte
	rand.Read(rnd[:])
	l := &Lab{Prefix: o.Prefix + hex.EncodeToString(rnd[:]), Dir: o.Dir, Subnet: o.Subnet, log: o.Log,
		nextAddr: o.Subnet.Addr().Next(), opened: time.Now()}
	if l.Dir == "" {
		d, err := os.MkdirTemp("", l.Prefix+"-")
		if err != nil {
			releaseLock()
			return nil, err
		}
		l.Dir, l.ownDir = d, true
	}
	ul := l.underlay()
	if err := l.run("ip", "netns", "add", ul); err != nil {
		releaseLock()
		return nil, err
	}
	if err := l.runIn(ul, "ip", "link", "add", "br0", "type", "bridge"); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.runIn(ul, "ip", "link", "set", "br0", "up"); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// underlay is the name of the namespace holding the bridge.
func (l *Lab) underlay() string { return l.Prefix + "-ul" }

// Underlay returns the namespace that holds the bridge, for captures.
func (l *Lab) Underlay() string { return l.underlay() }

// AddHost creates a host namespace with eth0 on the bridge and an underlay
// address, loopback up.
func (l *Lab) AddHost(name string) (*Host, error) {
	l.mu.Lock()
	addr := l.nextAddr
	l.nextAddr = addr.Next()
	idx := len(l.hosts)
	l.mu.Unlock()
	h := &Host{lab: l, Name: name, NS: l.Prefix + "-" + name,
		Addr: addr, Dir: filepath.Join(l.Dir, name)}
	if err := os.MkdirAll(h.Dir, 0o755); err != nil {
		return nil, err
	}
	peer := fmt.Sprintf("v%d", idx)
	steps := [][]string{
		{"ip", "netns", "add", h.NS},
		{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		{"ip", "-n", l.underlay(), "link", "add", peer, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "-n", l.underlay(), "link", "set", peer, "master", "br0", "up"},
		{"ip", "-n", h.NS, "addr", "add", netip.PrefixFrom(addr, l.Subnet.Bits()).String(), "dev", "eth0"},
		{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := l.run(s...); err != nil {
			return nil, err
		}
	}
	h.uplink = peer
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	return h, nil
}

// AddPod creates a bare namespace, as a container runtime makes for a
// pod: loopback up and nothing else, for a CNI plugin to attach. It runs
// commands like a host but has no underlay address; Close removes it.
func (l *Lab) AddPod(name string) (*Host, error) {
	p := &Host{lab: l, Name: name, NS: l.Prefix + "-" + name, Dir: filepath.Join(l.Dir, name)}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return nil, err
	}
	for _, s := range [][]string{{"ip", "netns", "add", p.NS}, {"ip", "-n", p.NS, "link", "set", "lo", "up"}} {
		if err := l.run(s...); err != nil {
			return nil, err
		}
	}
	l.mu.Lock()
	l.pods = append(l.pods, p)
	l.mu.Unlock()
	return p, nil
}

// Hosts lists the lab's hosts in creation order.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.hosts...)
}

// Close stops every process and removes every namespace and scratch file.
func (l *Lab) Close() error {
	l.mu.Lock()
	procs, hosts := l.procs, append(l.pods, l.hosts...)
	for _, n := range l.nats {
		hosts = append(hosts, n.Router)
	}
	l.procs, l.hosts, l.pods, l.nats = nil, nil, nil, nil
	closed := l.closed
	l.closed = true
	l.mu.Unlock()
	if !closed {
		defer releaseLock()
	}
	for _, p := range procs {
		p.Kill()
	}
	removeStaleSockets(wgSocketDir, l.opened)
	var errs []error
	for _, h := range hosts {
		if err := l.run("ip", "netns", "del", h.NS); err != nil {
			errs = append(errs, err)
		}
	}
	if err := l.run("ip", "netns", "del", l.underlay()); err != nil {
		errs = append(errs, err)
	}
	if l.ownDir && os.Getenv("NETLAB_KEEP") == "" {
		os.RemoveAll(l.Dir)
	}
	return errors.Join(errs...)
}

// wgSocketDir holds WireGuard's control sockets; namespaces share it.
const wgSocketDir = "/run/wireguard"

// removeStaleSockets deletes the WireGuard control sockets in dir that
// daemons killed by the lab left behind (a killed process cannot remove
// its own): those made since the lab opened that nothing listens on.
func removeStaleSockets(dir string, since time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.ModTime().Before(since) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close() // a live daemon's
			continue
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			os.Remove(path)
		}
	}
}

// run executes a command in the caller's namespace.
func (l *Lab) run(args ...string) error {
	fmt.Fprintln(l.log, "+", strings.Join(args, " "))
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// runIn executes a command inside namespace ns.
func (l *Lab) runIn(ns string, args ...string) error {
	return l.run(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

func (l *Lab) track(p *Proc) {
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
}
