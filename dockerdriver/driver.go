package dockerdriver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"meshnet.dev/meshnet/node/api"
)

// Name is the driver's name for both network and IPAM: the socket is
// /run/docker/plugins/<Name>.sock.
const Name = "meshnet"

// AddressSpace is the only address space the IPAM driver offers.
const AddressSpace = "meshnet"

// NetworkOption names the meshnet network, as `--ipam-opt network=NAME`
// (and optionally `-o network=NAME`).
const NetworkOption = "network"

// Daemon is what the driver needs of the meshnet daemon; *api.Client
// implements it.
type Daemon interface {
	AddEndpoint(ctx context.Context, network string, req api.EndpointRequest) (api.ContainerEndpoint, error)
	RemoveEndpoint(ctx context.Context, network, containerID, ifname string) error
	Endpoints(ctx context.Context, network string) (api.NetworkEndpoints, error)
}

// Veths makes and removes the veth pairs Docker moves into containers.
type Veths interface {
	// Create makes a veth pair in this namespace: host up on bridge, peer
	// with mac and mtu, for Docker to move into the container.
	Create(host, peer string, mac net.HardwareAddr, mtu int, bridge string) error
	// Delete removes the pair by its host end; a missing one is no error.
	Delete(host string) error
}

// endpoint is a Docker endpoint between CreateEndpoint and Join.
type endpoint struct {
	network string
	mac     net.HardwareAddr
}

// Driver serves the protocol. mu guards pools and eps; nets has its own.
type Driver struct {
	daemon  Daemon
	veths   Veths
	nets    *networks
	timeout time.Duration

	mu    sync.Mutex
	pools map[string]string // subnet → meshnet network, as RequestPool handed it out
	eps   map[string]endpoint
}

// New returns a driver whose network table is kept in stateDir.
func New(d Daemon, v Veths, stateDir string) (*Driver, error) {
	nets, err := openNetworks(stateDir)
	if err != nil {
		return nil, err
	}
	return &Driver{daemon: d, veths: v, nets: nets, timeout: 30 * time.Second,
		pools: map[string]string{}, eps: map[string]endpoint{}}, nil
}

// VethNames are the host and container ends' names for a Docker endpoint:
// stable, so Leave and DeleteEndpoint find the pair after a restart.
func VethNames(endpointID string) (host, peer string) {
	h := sha256.Sum256([]byte(endpointID))
	s := hex.EncodeToString(h[:6])
	return "mnd" + s, "mnp" + s
}

func (d *Driver) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.timeout)
}

// network looks up a meshnet network's state on this node and checks it
// can hold containers.
func (d *Driver) network(name string) (api.NetworkEndpoints, error) {
	ctx, cancel := d.ctx()
	defer cancel()
	eps, err := d.daemon.Endpoints(ctx, name)
	switch {
	case err != nil:
		return eps, fmt.Errorf("meshnet daemon: %w", err)
	case !eps.Attached:
		return eps, fmt.Errorf("this node is not attached to meshnet network %q", name)
	case eps.Bridge == "":
		return eps, fmt.Errorf("meshnet network %q has no bridge on this node: set networks[].bridge in the daemon's config", name)
	}
	return eps, nil
}

// poolNetwork is the meshnet network of a pool id ("meshnet/NAME").
func poolNetwork(poolID string) (string, error) {
	name, ok := strings.CutPrefix(poolID, AddressSpace+"/")
	if !ok || name == "" {
		return "", fmt.Errorf("pool %q is not a meshnet pool", poolID)
	}
	return name, nil
}

func (d *Driver) requestPool(r requestPoolRequest) (requestPoolResponse, error) {
	name := r.Options[NetworkOption]
	if name == "" {
		return requestPoolResponse{}, errors.New("name the meshnet network: --ipam-opt network=NAME")
	}
	eps, err := d.network(name)
	if err != nil {
		return requestPoolResponse{}, err
	}
	subnet, err := netip.ParsePrefix(eps.Subnet)
	if err != nil {
		return requestPoolResponse{}, fmt.Errorf("meshnet network %q has no subnet yet", name)
	}
	if r.V6 != subnet.Addr().Is6() {
		return requestPoolResponse{}, fmt.Errorf("meshnet network %q is %s only: create the Docker network without --ipv6 (or with it, for an IPv6 network)", name, family(subnet))
	}
	// Docker checks a pool it did not ask for by subnet against the host's
	// routes and asks again while they overlap: the bridge's route always
	// does, so without --subnet it would ask forever.
	if r.Pool != subnet.String() {
		return requestPoolResponse{}, fmt.Errorf("meshnet network %q has subnet %s: create the Docker network with --subnet %s", name, subnet, subnet)
	}
	if r.SubPool != "" {
		return requestPoolResponse{}, errors.New("meshnet hands out addresses from each node's own block: leave out --ip-range")
	}
	d.mu.Lock()
	d.pools[subnet.String()] = name
	d.mu.Unlock()
	return requestPoolResponse{PoolID: AddressSpace + "/" + name, Pool: subnet.String()}, nil
}

func family(p netip.Prefix) string {
	if p.Addr().Is6() {
		return "IPv6"
	}
	return "IPv4"
}

// gatewayType marks RequestAddress asking for the network's gateway.
const gatewayType = "com.docker.network.gateway"

func (d *Driver) requestAddress(r requestAddressRequest) (requestAddressResponse, error) {
	name, err := poolNetwork(r.PoolID)
	if err != nil {
		return requestAddressResponse{}, err
	}
	eps, err := d.network(name)
	if err != nil {
		return requestAddressResponse{}, err
	}
	subnet, _ := netip.ParsePrefix(eps.Subnet)
	if r.Options["RequestAddressType"] == gatewayType {
		gw, err := netip.ParseAddr(eps.Gateway)
		if err != nil {
			return requestAddressResponse{}, fmt.Errorf("this node has no address on meshnet network %q yet: retry in a few seconds", name)
		}
		return requestAddressResponse{Address: netip.PrefixFrom(gw, subnet.Bits()).String()}, nil
	}
	if r.Address != "" {
		return requestAddressResponse{}, errors.New("meshnet assigns container addresses from its IPAM: leave out --ip")
	}
	id := make([]byte, 8)
	rand.Read(id)
	ctx, cancel := d.ctx()
	defer cancel()
	ep, err := d.daemon.AddEndpoint(ctx, name, api.EndpointRequest{ContainerID: "docker-" + hex.EncodeToString(id), IfName: "eth0"})
	if err != nil {
		return requestAddressResponse{}, fmt.Errorf("meshnet daemon: %w", err)
	}
	return requestAddressResponse{Address: ep.Address}, nil
}

// container finds this node's container endpoint with address addr.
func (d *Driver) container(name, addr string) (api.ContainerEndpoint, bool, error) {
	want, err := netip.ParsePrefix(addr)
	if err != nil {
		if a, err2 := netip.ParseAddr(addr); err2 == nil {
			want = netip.PrefixFrom(a, a.BitLen())
		} else {
			return api.ContainerEndpoint{}, false, fmt.Errorf("address %q: %w", addr, err)
		}
	}
	ctx, cancel := d.ctx()
	defer cancel()
	eps, err := d.daemon.Endpoints(ctx, name)
	if err != nil {
		return api.ContainerEndpoint{}, false, fmt.Errorf("meshnet daemon: %w", err)
	}
	for _, c := range eps.Containers {
		if p, err := netip.ParsePrefix(c.Address); err == nil && p.Addr() == want.Addr() {
			return c, true, nil
		}
	}
	return api.ContainerEndpoint{}, false, nil
}

func (d *Driver) releaseAddress(r releaseAddressRequest) error {
	name, err := poolNetwork(r.PoolID)
	if err != nil {
		return err
	}
	c, ok, err := d.container(name, r.Address)
	if err != nil || !ok {
		return err // the gateway, or released already
	}
	ctx, cancel := d.ctx()
	defer cancel()
	if err := d.daemon.RemoveEndpoint(ctx, name, c.ContainerID, c.IfName); err != nil {
		return fmt.Errorf("meshnet daemon: %w", err)
	}
	return nil
}

func (d *Driver) createNetwork(r createNetworkRequest) error {
	name := ""
	if g, ok := r.Options["com.docker.network.generic"].(map[string]any); ok {
		name, _ = g[NetworkOption].(string)
	}
	if len(r.IPv4Data)+len(r.IPv6Data) == 0 {
		return errors.New("no address pool: create the network with --ipam-driver meshnet --ipam-opt network=NAME")
	}
	for _, p := range append(r.IPv4Data, r.IPv6Data...) {
		if p.AddressSpace != AddressSpace {
			return fmt.Errorf("address space %q is not meshnet's: create the network with --ipam-driver meshnet --ipam-opt network=NAME", p.AddressSpace)
		}
		d.mu.Lock()
		pn := d.pools[p.Pool]
		d.mu.Unlock()
		switch {
		case name == "":
			name = pn
		case pn != "" && pn != name:
			return fmt.Errorf("-o network=%s and the pool's network %s differ", name, pn)
		}
	}
	if name == "" {
		return errors.New("name the meshnet network: --ipam-opt network=NAME")
	}
	if _, err := d.network(name); err != nil {
		return err
	}
	return d.nets.put(r.NetworkID, name)
}

func (d *Driver) createEndpoint(r createEndpointRequest) (createEndpointResponse, error) {
	name, ok := d.nets.get(r.NetworkID)
	if !ok {
		return createEndpointResponse{}, fmt.Errorf("network %s is not a meshnet network this plugin knows", r.NetworkID)
	}
	if r.Interface == nil || r.Interface.Address == "" {
		return createEndpointResponse{}, errors.New("no address for the endpoint: the network must use --ipam-driver meshnet")
	}
	c, ok, err := d.container(name, r.Interface.Address)
	if err != nil {
		return createEndpointResponse{}, err
	}
	if !ok {
		return createEndpointResponse{}, fmt.Errorf("address %s was not allocated by meshnet: the network must use --ipam-driver meshnet", r.Interface.Address)
	}
	mac, err := net.ParseMAC(c.MAC)
	if err != nil {
		return createEndpointResponse{}, fmt.Errorf("meshnet daemon gave MAC %q: %w", c.MAC, err)
	}
	var resp createEndpointResponse
	switch r.Interface.MacAddress {
	case "":
		resp.Interface = &endpointInterface{MacAddress: mac.String()}
	case mac.String():
	default:
		return createEndpointResponse{}, errors.New("meshnet derives each container's MAC: leave out --mac-address")
	}
	d.mu.Lock()
	d.eps[r.EndpointID] = endpoint{network: name, mac: mac}
	d.mu.Unlock()
	return resp, nil
}

func (d *Driver) join(r joinRequest) (joinResponse, error) {
	d.mu.Lock()
	ep, ok := d.eps[r.EndpointID]
	d.mu.Unlock()
	if !ok {
		return joinResponse{}, fmt.Errorf("endpoint %s is unknown (the plugin restarted since it was created): reconnect the container", r.EndpointID)
	}
	eps, err := d.network(ep.network)
	if err != nil {
		return joinResponse{}, err
	}
	host, peer := VethNames(r.EndpointID)
	if err := d.veths.Delete(host); err != nil {
		return joinResponse{}, err
	}
	if err := d.veths.Create(host, peer, ep.mac, eps.MTU, eps.Bridge); err != nil {
		return joinResponse{}, err
	}
	return joinResponse{InterfaceName: interfaceName{SrcName: peer, DstPrefix: "eth"}, Gateway: eps.Gateway}, nil
}

func (d *Driver) removeVeth(endpointID string, forget bool) error {
	host, _ := VethNames(endpointID)
	if forget {
		d.mu.Lock()
		delete(d.eps, endpointID)
		d.mu.Unlock()
	}
	return d.veths.Delete(host)
}
