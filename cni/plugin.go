package cni

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"meshnet.dev/meshnet/node/api"
)

// Daemon is what the plugin needs of the meshnet daemon; *api.Client
// implements it.
type Daemon interface {
	Status(ctx context.Context) (*api.Status, error)
	AddEndpoint(ctx context.Context, network string, req api.EndpointRequest) (api.ContainerEndpoint, error)
	RemoveEndpoint(ctx context.Context, network, containerID, ifname string) error
	Endpoints(ctx context.Context, network string) (api.NetworkEndpoints, error)
}

// Links is what the plugin does to network interfaces.
type Links interface {
	// Setup creates a veth pair: ifname in the namespace at netns with
	// mac, mtu and res's addresses and routes, the host end hostName on
	// bridge. On error it leaves nothing behind.
	Setup(netns, ifname, hostName string, mac net.HardwareAddr, mtu int, bridge string, res *current.Result) error
	// Teardown removes ifname from the namespace; a namespace or an
	// interface that is gone already is no error.
	Teardown(netns, ifname string) error
	// Check reports an error unless ifname in netns has mac and addr.
	Check(netns, ifname string, mac net.HardwareAddr, addr netip.Prefix) error
}

// Plugin runs the CNI commands.
type Plugin struct {
	// Daemon returns a client of the daemon on socket.
	Daemon func(socket string) Daemon
	Links  Links
	// Out receives results (os.Stdout in the binary).
	Out io.Writer
	// Timeout bounds each command's calls to the daemon; the daemon
	// waits up to 15 s for a network that is still settling.
	Timeout time.Duration
}

// Funcs returns the plugin's commands for skel.
func (p *Plugin) Funcs() skel.CNIFuncs {
	return skel.CNIFuncs{Add: p.Add, Del: p.Del, Check: p.Check, Status: p.Status, GC: p.GC}
}

func (p *Plugin) setup(args *skel.CmdArgs) (*NetConf, Daemon, context.Context, context.CancelFunc, error) {
	conf, err := ParseConf(args.StdinData)
	if err != nil {
		return nil, nil, nil, nil, cniError(types.ErrInvalidNetworkConfig, "meshnet-cni: bad network configuration", err)
	}
	t := p.Timeout
	if t == 0 {
		t = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), t)
	return conf, p.Daemon(conf.Socket), ctx, cancel, nil
}

// daemonError maps a failed daemon call to a CNI error: a daemon that is
// not running is worth retrying later.
func daemonError(conf *NetConf, what string, err error) *types.Error {
	switch {
	case errors.Is(err, api.ErrNoDaemon):
		return cniError(types.ErrTryAgainLater, "meshnet-cni: "+what+": the meshnet daemon is not running",
			fmt.Errorf("nothing answers on %s: start the daemon (meshnet up), or set \"socket\" in the network configuration to its <state_dir>/meshnet.sock", conf.Socket))
	case errors.Is(err, context.DeadlineExceeded):
		return cniError(types.ErrTryAgainLater, "meshnet-cni: "+what+": the meshnet daemon did not answer in time", err)
	}
	return cniError(types.ErrInternal, "meshnet-cni: "+what, err)
}

// HostVethName is the host end's name for a container interface: stable,
// so a stale one from an interrupted ADD can be found and removed.
// 48 bits of hash keep collisions between containers of one host
// negligible (about 1 in 10^10 at a thousand containers).
func HostVethName(containerID, ifname string) string {
	h := sha256.Sum256([]byte(containerID + "\x00" + ifname))
	return "mnc" + hex.EncodeToString(h[:6])
}

// Add allocates the endpoint, then creates the interface; a failure to
// create it withdraws the endpoint again, so nothing is left half-made.
func (p *Plugin) Add(args *skel.CmdArgs) error {
	conf, d, ctx, cancel, err := p.setup(args)
	if err != nil {
		return err
	}
	defer cancel()
	if args.Netns == "" {
		return cniError(types.ErrInvalidNetNS, "meshnet-cni: no network namespace given (CNI_NETNS)", nil)
	}
	ep, err := d.AddEndpoint(ctx, conf.Network, api.EndpointRequest{ContainerID: args.ContainerID, IfName: args.IfName})
	if err != nil {
		return daemonError(conf, "allocating an endpoint on network "+conf.Network, err)
	}
	res, mac, err := result(conf, args, ep)
	if err != nil {
		p.rollback(d, conf, args)
		return cniError(types.ErrInternal, "meshnet-cni: the daemon's answer", err)
	}
	mtu := ep.MTU
	if conf.MTU != 0 {
		mtu = conf.MTU
	}
	host := HostVethName(args.ContainerID, args.IfName)
	if err := p.Links.Setup(args.Netns, args.IfName, host, mac, mtu, ep.Bridge, res); err != nil {
		p.rollback(d, conf, args)
		return cniError(types.ErrInternal, "meshnet-cni: creating the container's interface", err)
	}
	return printResult(res, conf.CNIVersion, p.Out)
}

// rollback withdraws an endpoint whose interface could not be made.
func (p *Plugin) rollback(d Daemon, conf *NetConf, args *skel.CmdArgs) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = d.RemoveEndpoint(ctx, conf.Network, args.ContainerID, args.IfName)
}

// result is the CNI result for endpoint ep.
func result(conf *NetConf, args *skel.CmdArgs, ep api.ContainerEndpoint) (*current.Result, net.HardwareAddr, error) {
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint MAC %q: %w", ep.MAC, err)
	}
	pfx, err := netip.ParsePrefix(ep.Address)
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint address %q: %w", ep.Address, err)
	}
	idx := 1
	ipc := &current.IPConfig{Interface: &idx, Address: net.IPNet{IP: pfx.Addr().AsSlice(),
		Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}}
	res := &current.Result{CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: HostVethName(args.ContainerID, args.IfName)},
			{Name: args.IfName, Mac: mac.String(), Sandbox: args.Netns},
		},
		IPs: []*current.IPConfig{ipc}}
	if gw, err := netip.ParseAddr(ep.Gateway); err == nil {
		ipc.Gateway = gw.AsSlice()
		if conf.DefaultRoute {
			bits := 0
			dst := net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(bits, 32)}
			if gw.Is6() {
				dst = net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(bits, 128)}
			}
			res.Routes = append(res.Routes, &types.Route{Dst: dst, GW: gw.AsSlice()})
		}
	}
	return res, mac, nil
}

// Del removes the interface, then withdraws the endpoint. Both steps are
// idempotent: DEL twice, DEL of an unknown container and DEL after the
// namespace is gone all succeed. A daemon that is down fails DEL (after
// the interface is gone), so the runtime retries until the endpoint is
// withdrawn.
func (p *Plugin) Del(args *skel.CmdArgs) error {
	conf, d, ctx, cancel, err := p.setup(args)
	if err != nil {
		return err
	}
	defer cancel()
	if args.Netns != "" {
		if err := p.Links.Teardown(args.Netns, args.IfName); err != nil {
			return cniError(types.ErrInternal, "meshnet-cni: removing the container's interface", err)
		}
	}
	if err := d.RemoveEndpoint(ctx, conf.Network, args.ContainerID, args.IfName); err != nil {
		return daemonError(conf, "withdrawing the endpoint from network "+conf.Network, err)
	}
	return nil
}

// Check verifies that the daemon still publishes the endpoint, and that
// the container's interface has its MAC and address.
func (p *Plugin) Check(args *skel.CmdArgs) error {
	conf, d, ctx, cancel, err := p.setup(args)
	if err != nil {
		return err
	}
	defer cancel()
	eps, err := d.Endpoints(ctx, conf.Network)
	if err != nil {
		return daemonError(conf, "listing the endpoints of network "+conf.Network, err)
	}
	var ep *api.ContainerEndpoint
	for i, c := range eps.Containers {
		if c.ContainerID == args.ContainerID && c.IfName == args.IfName {
			ep = &eps.Containers[i]
		}
	}
	switch {
	case ep == nil:
		return cniError(types.ErrUnknownContainer, "meshnet-cni: the daemon has no endpoint for this container on network "+conf.Network, nil)
	case !eps.Attached:
		return cniError(types.ErrLimitedConnectivity, "meshnet-cni: this node is not attached to network "+conf.Network, nil)
	case !ep.Published:
		return cniError(types.ErrLimitedConnectivity, "meshnet-cni: the endpoint is not in network "+conf.Network+"'s forwarding table yet", nil)
	}
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return cniError(types.ErrInternal, "meshnet-cni: the daemon's answer", err)
	}
	addr, err := netip.ParsePrefix(ep.Address)
	if err != nil {
		return cniError(types.ErrInternal, "meshnet-cni: the daemon's answer", err)
	}
	if conf.PrevResult != nil {
		if err := matchPrev(conf.PrevResult, addr); err != nil {
			return cniError(types.ErrInternal, "meshnet-cni: prevResult does not match the daemon's endpoint", err)
		}
	}
	if err := p.Links.Check(args.Netns, args.IfName, mac, addr); err != nil {
		return cniError(types.ErrInternal, "meshnet-cni: the container's interface", err)
	}
	return nil
}

// matchPrev checks that the previous result holds addr.
func matchPrev(prev types.Result, addr netip.Prefix) error {
	r, err := current.NewResultFromResult(prev)
	if err != nil {
		return err
	}
	for _, ip := range r.IPs {
		if a, ok := netip.AddrFromSlice(ip.Address.IP); ok && a.Unmap() == addr.Addr() {
			return nil
		}
	}
	return fmt.Errorf("address %s is not in it", addr)
}

// Status reports whether the daemon is up and attached to the network.
func (p *Plugin) Status(args *skel.CmdArgs) error {
	conf, d, ctx, cancel, err := p.setup(args)
	if err != nil {
		return err
	}
	defer cancel()
	eps, err := d.Endpoints(ctx, conf.Network)
	if err != nil {
		return cniError(types.ErrPluginNotAvailable, "meshnet-cni: the meshnet daemon is not available", err)
	}
	if !eps.Attached {
		return cniError(types.ErrPluginNotAvailable, "meshnet-cni: the meshnet daemon is not attached to network "+conf.Network+" (yet)", nil)
	}
	if eps.Bridge == "" {
		return cniError(types.ErrPluginNotAvailable, "meshnet-cni: network "+conf.Network+" has no bridge on this node: set networks[].bridge in the daemon's config", nil)
	}
	return nil
}

// GC withdraws the endpoints on the network whose container id and
// interface are not among the runtime's valid attachments.
func (p *Plugin) GC(args *skel.CmdArgs) error {
	conf, d, ctx, cancel, err := p.setup(args)
	if err != nil {
		return err
	}
	defer cancel()
	valid := map[types.GCAttachment]bool{}
	for _, a := range conf.ValidAttachments {
		valid[a] = true
	}
	eps, err := d.Endpoints(ctx, conf.Network)
	if err != nil {
		return daemonError(conf, "listing the endpoints of network "+conf.Network, err)
	}
	var errs []error
	for _, c := range eps.Containers {
		if valid[types.GCAttachment{ContainerID: c.ContainerID, IfName: c.IfName}] {
			continue
		}
		if err := d.RemoveEndpoint(ctx, conf.Network, c.ContainerID, c.IfName); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return daemonError(conf, "withdrawing stale endpoints", err)
	}
	return nil
}

// printResult writes res converted to the runtime's CNI version.
func printResult(res *current.Result, ver string, w io.Writer) error {
	if ver == "" {
		ver = current.ImplementedSpecVersion
	}
	r, err := res.GetAsVersion(ver)
	if err != nil {
		return cniError(types.ErrIncompatibleCNIVersion, "meshnet-cni: cannot express the result in CNI "+ver, err)
	}
	return r.PrintTo(w)
}
