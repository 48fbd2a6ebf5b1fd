package endpoints

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"meshnet.dev/meshnet/internal/packet"
)

// Endpoint is one container interface on one network.
type Endpoint struct {
	Network     string
	ContainerID string
	IfName      string
	MAC         packet.MAC
	IP          netip.Addr
}

// Key identifies an endpoint: CNI names an attachment by container id and
// interface name, and one container may sit on several networks.
type Key struct{ Network, ContainerID, IfName string }

// Key returns e's key.
func (e Endpoint) Key() Key { return Key{e.Network, e.ContainerID, e.IfName} }

// Limits on what a caller may name and store.
const (
	// MaxIDLen bounds container ids (CNI's are 64 hex digits; runtimes
	// other than containerd use other forms).
	MaxIDLen = 256
	// MaxIfNameLen is IFNAMSIZ minus the terminating NUL.
	MaxIfNameLen = 15
	// MaxEndpoints bounds the endpoints one node hosts.
	MaxEndpoints = 4096
)

// ErrFull says the node's address blocks have no free address left.
var ErrFull = errors.New("no free address left in this node's address block")

// CheckNames validates a container id and interface name.
func CheckNames(id, ifname string) error {
	if id == "" || len(id) > MaxIDLen || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("container id %q: want 1-%d characters without '/'", id, MaxIDLen)
	}
	if ifname == "" || len(ifname) > MaxIfNameLen || strings.ContainsAny(ifname, "/ \t\x00:") {
		return fmt.Errorf("interface name %q: want 1-%d characters without '/', ':' or spaces", ifname, MaxIfNameLen)
	}
	return nil
}

// MAC derives an endpoint's MAC from the node, network, container and
// interface names: stable across retries and restarts, locally
// administered and unicast.
func MAC(node string, k Key) packet.MAC {
	h := sha256.Sum256([]byte("meshnet container mac\x00" + node + "\x00" + k.Network + "\x00" + k.ContainerID + "\x00" + k.IfName))
	var m packet.MAC
	copy(m[:], h[:6])
	m[0] = m[0]&0xfe | 0x02
	return m
}

// Registry holds the node's container endpoints and their file; mu guards
// eps and serialises writes of the file.
type Registry struct {
	path string // "" keeps the records in memory only (tests)
	mu   sync.Mutex
	eps  map[Key]Endpoint
}

// Add returns the endpoint with k's key if there is one (a retried ADD),
// else allocates one with alloc, saves it and returns it with new true.
// alloc is called under the registry's lock with the addresses the
// registry already holds, so concurrent adds never share an address.
func (r *Registry) Add(k Key, mac packet.MAC, alloc func(taken map[netip.Addr]bool) (netip.Addr, error)) (ep Endpoint, created bool, err error) {
	if err := CheckNames(k.ContainerID, k.IfName); err != nil {
		return Endpoint{}, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.eps[k]; ok {
		return e, false, nil
	}
	if len(r.eps) >= MaxEndpoints {
		return Endpoint{}, false, fmt.Errorf("this node already hosts %d container endpoints, the limit", MaxEndpoints)
	}
	taken := make(map[netip.Addr]bool, len(r.eps))
	for _, e := range r.eps {
		taken[e.IP] = true
	}
	ip, err := alloc(taken)
	if err != nil {
		return Endpoint{}, false, err
	}
	e := Endpoint{Network: k.Network, ContainerID: k.ContainerID, IfName: k.IfName, MAC: mac, IP: ip}
	if r.eps == nil {
		r.eps = map[Key]Endpoint{}
	}
	r.eps[k] = e
	if err := r.saveLocked(); err != nil {
		delete(r.eps, k)
		return Endpoint{}, false, err
	}
	return e, true, nil
}

// Remove deletes the endpoint with key k and returns it; removing one that
// is not there returns ok false and no error (CNI DEL is idempotent).
func (r *Registry) Remove(k Key) (Endpoint, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.eps[k]
	if !ok {
		return Endpoint{}, false, nil
	}
	delete(r.eps, k)
	if err := r.saveLocked(); err != nil {
		r.eps[k] = e
		return Endpoint{}, false, err
	}
	return e, true, nil
}

// Get returns the endpoint with key k.
func (r *Registry) Get(k Key) (Endpoint, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.eps[k]
	return e, ok
}

// List returns the endpoints on network (all networks if ""), sorted by
// container id and interface name.
func (r *Registry) List(network string) []Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Endpoint
	for _, e := range r.eps {
		if network == "" || e.Network == network {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b Endpoint) int {
		return strings.Compare(a.ContainerID+"\x00"+a.IfName+"\x00"+a.Network, b.ContainerID+"\x00"+b.IfName+"\x00"+b.Network)
	})
	return out
}
