package node

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/userspace"
)

// FieldError is a config problem: which key, its value, what is wrong and
// how to fix it.
type FieldError struct {
	Key, Value, Problem, Fix string
}

func (e *FieldError) Error() string {
	s := fmt.Sprintf("config: %s %q: %s", e.Key, e.Value, e.Problem)
	if e.Fix != "" {
		s += "; " + e.Fix
	}
	return s
}

// spec is a validated Config in typed form.
type spec struct {
	name      string
	stateDir  string
	tun       bool
	underlay  netip.Addr // invalid: pick from the route to the first peer
	vxlanPort uint16
	join      []string // gossip seeds as host:port
	token     string
	wgPort    uint16
	wgIface   string
	rotation  time.Duration
	dns       dnsSpec
	health    time.Duration
	userspace bool
	us        userspace.Config
	metrics   string
	gossip    GossipConfig
	networks  []netSpec
	peers     []peerSpec
	logLevel  slog.Level
	logJSON   bool
	perf      perfSpec
}

// dnsSpec is the validated DNS configuration.
type dnsSpec struct {
	enabled, forward bool
	domain           string
	port             int
}

// netSpec is a network the node wants to be on. A valid subnet makes it a
// definition; vni 0 means "derive one"; an invalid addr means IPAM.
type netSpec struct {
	name      string
	vni       uint32
	subnet    netip.Prefix
	addr      netip.Addr
	device    string
	mtu       int
	encrypted bool
	runtime   bool // joined with `meshnet network join`, not from config
}

// defines reports whether the spec carries a network definition.
func (ns netSpec) defines() bool { return ns.subnet.IsValid() }

type peerSpec struct {
	name      string
	underlay  netip.AddrPort
	endpoints []epSpec
}

type epSpec struct {
	network string
	ip      netip.Addr
	mac     routing.MAC
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// maxDeviceName is IFNAMSIZ minus the terminating NUL.
const maxDeviceName = 15

// validate checks every field and returns the typed spec, or all problems
// found at once.
func (c Config) validate() (*spec, error) {
	var errs []error
	bad := func(key, val, problem, fix string) {
		errs = append(errs, &FieldError{key, val, problem, fix})
	}
	s := &spec{name: c.Name, stateDir: c.StateDir}
	if !labelRE.MatchString(c.Name) {
		bad("name", c.Name, "not a valid node name", "use lower-case letters, digits and '-', at most 63 characters")
	}
	if c.StateDir == "" || !strings.HasPrefix(c.StateDir, "/") {
		bad("state_dir", c.StateDir, "must be an absolute path", "for example /var/lib/meshnet")
	}
	switch c.Mode {
	case "tap":
	case "tun":
		s.tun = true
	default:
		bad("mode", c.Mode, "unknown device mode", `use "tap" or "tun"`)
	}
	if c.Underlay.Address != "" {
		a, err := netip.ParseAddr(c.Underlay.Address)
		if err != nil {
			bad("underlay.address", c.Underlay.Address, "not an IP address", "for example 192.0.2.10")
		}
		s.underlay = a.Unmap()
	}
	if c.Underlay.VXLANPort < 1 || c.Underlay.VXLANPort > 65535 {
		bad("underlay.vxlan_port", strconv.Itoa(c.Underlay.VXLANPort), "not a UDP port", "use 1-65535 (4789 is the standard VXLAN port)")
	}
	s.vxlanPort = uint16(c.Underlay.VXLANPort)
	s.gossip = c.Gossip
	s.perf = c.Performance.validate(bad)
	validateGossip(c.Gossip, bad)
	s.token = c.Token
	if c.TokenFile != "" {
		if c.Token != "" {
			bad("token_file", c.TokenFile, "both token and token_file are set", "keep one of them")
		} else if b, err := os.ReadFile(c.TokenFile); err != nil {
			bad("token_file", c.TokenFile, "cannot read it: "+err.Error(), "check the path and permissions")
		} else {
			s.token = strings.TrimSpace(string(b))
		}
	}
	if c.WireGuard.Port < 1 || c.WireGuard.Port > 65535 {
		bad("wireguard.port", strconv.Itoa(c.WireGuard.Port), "not a UDP port", "use 1-65535 (51820 is the default)")
	}
	s.wgPort = uint16(c.WireGuard.Port)
	s.wgIface = c.WireGuard.Interface
	if s.wgIface == "" {
		s.wgIface = "wg-" + c.Name
	}
	if len(s.wgIface) > maxDeviceName {
		if c.WireGuard.Interface != "" {
			bad("wireguard.interface", s.wgIface, "longer than 15 bytes", "pick a shorter name")
		}
		s.wgIface = s.wgIface[:maxDeviceName]
	}
	if c.Keys.RotationInterval < time.Second {
		bad("keys.rotation_interval", c.Keys.RotationInterval.String(), "too short", "use 1s or more (12h is the default)")
	}
	s.rotation = c.Keys.RotationInterval
	s.dns = dnsSpec{enabled: c.DNS.Enabled == nil || *c.DNS.Enabled, forward: c.DNS.Forward == nil || *c.DNS.Forward,
		domain: strings.ToLower(strings.TrimSuffix(c.DNS.Domain, ".")) + ".", port: c.DNS.Port}
	if c.DNS.Domain == "" || strings.ContainsAny(c.DNS.Domain, " /") {
		bad("dns.domain", c.DNS.Domain, "not a DNS domain", `use something like "meshnet.internal."`)
	}
	if c.DNS.Port < 1 || c.DNS.Port > 65535 {
		bad("dns.port", strconv.Itoa(c.DNS.Port), "not a port", "use 1-65535 (53 is the default)")
	}
	if c.Health.Interval < 100*time.Millisecond {
		bad("health.interval", c.Health.Interval.String(), "too short", "use 100ms or more (2s is the default)")
	}
	s.health = c.Health.Interval
	s.userspace = c.Userspace
	if c.Metrics.Address != "" {
		if _, err := netip.ParseAddrPort(c.Metrics.Address); err != nil {
			bad("metrics.address", c.Metrics.Address, "not an IP:port", `for example "127.0.0.1:9431", or "" to turn metrics off`)
		}
	}
	s.metrics = c.Metrics.Address
	s.us = validateUserspace(c, bad)
	for i, j := range c.Join {
		hp, err := seedAddr(j, c.Gossip.Port)
		if err != nil {
			bad(fmt.Sprintf("join[%d]", i), j, err.Error(), "use IP or IP:port of a running node, for example 192.0.2.10:7946")
			continue
		}
		s.join = append(s.join, hp)
	}
	s.logLevel, s.logJSON = parseLog(c.Log, bad)

	byName := map[string]uint32{}
	vnis := map[uint32]string{}
	devices := map[string]string{}
	for i, n := range c.Networks {
		ns, ok := validateNetwork(fmt.Sprintf("networks[%d]", i), n, bad)
		if !ok {
			continue
		}
		if _, dup := byName[ns.name]; dup {
			bad(fmt.Sprintf("networks[%d].name", i), ns.name, "network defined twice", "give each network one entry")
			continue
		}
		if other, dup := vnis[ns.vni]; dup && ns.vni != 0 {
			bad(fmt.Sprintf("networks[%d].vni", i), strconv.Itoa(n.VNI), "VNI already used by network "+other, "give each network its own VNI")
			continue
		}
		if other, dup := devices[ns.device]; dup {
			bad(fmt.Sprintf("networks[%d].device", i), ns.device, "device already used by network "+other, "give each network its own device")
			continue
		}
		byName[ns.name], vnis[ns.vni], devices[ns.device] = ns.vni, ns.name, ns.name
		s.networks = append(s.networks, ns)
	}
	encrypted := map[string]bool{}
	for _, ns := range s.networks {
		encrypted[ns.name] = ns.encrypted
	}
	peerNames := map[string]bool{c.Name: true}
	for i, p := range c.Peers {
		ps, ok := validatePeer(fmt.Sprintf("peers[%d]", i), p, s.vxlanPort, byName, bad)
		if !ok {
			continue
		}
		if peerNames[ps.name] {
			bad(fmt.Sprintf("peers[%d].name", i), ps.name, "name used twice (or is this node's own name)", "give every node a unique name")
			continue
		}
		peerNames[ps.name] = true
		for j, e := range ps.endpoints {
			if encrypted[e.network] {
				bad(fmt.Sprintf("peers[%d].endpoints[%d].network", i, j), e.network, "static peers speak plain VXLAN but this network is encrypted",
					"set encrypted: false on network "+e.network+" (only on a trusted underlay)")
			}
		}
		s.peers = append(s.peers, ps)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func parseLog(l LogConfig, bad func(key, val, problem, fix string)) (slog.Level, bool) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.Level)); err != nil {
		bad("log.level", l.Level, "unknown log level", "use debug, info, warn or error")
	}
	switch l.Format {
	case "text", "":
		return lvl, false
	case "json":
		return lvl, true
	}
	bad("log.format", l.Format, "unknown log format", `use "text" or "json"`)
	return lvl, false
}

func validateNetwork(key string, n NetworkConfig, bad func(key, val, problem, fix string)) (netSpec, bool) {
	ok := true
	fail := func(k, v, p, f string) { ok = false; bad(key+"."+k, v, p, f) }
	ns := netSpec{name: n.Name, vni: uint32(n.VNI), mtu: n.MTU, encrypted: n.Encrypted == nil || *n.Encrypted, device: n.Device}
	if !labelRE.MatchString(n.Name) {
		fail("name", n.Name, "not a valid network name", "use lower-case letters, digits and '-'")
	}
	if n.VNI != 0 && (n.VNI < 1 || n.VNI > encap.MaxVNI) {
		fail("vni", strconv.Itoa(n.VNI), "VNI out of range", fmt.Sprintf("use 1-%d, or leave it out to derive one", encap.MaxVNI))
	}
	if n.Subnet != "" {
		sub, err := netip.ParsePrefix(n.Subnet)
		if err != nil {
			fail("subnet", n.Subnet, "not a CIDR prefix", "write it like 10.20.0.0/24")
		} else if sub != sub.Masked() {
			fail("subnet", n.Subnet, "has host bits set", "write the network address, "+sub.Masked().String())
		} else if sub.Bits() > sub.Addr().BitLen()-2 {
			fail("subnet", n.Subnet, "too small for a network", "use at least a /30 (IPv4) or /126 (IPv6)")
		} else {
			ns.subnet = sub
		}
	} else if n.VNI != 0 {
		fail("subnet", "", "a network with a vni needs a subnet", "add subnet, or leave out vni to join a network defined elsewhere")
	}
	if n.Address != "" {
		a, err := parseAddrInSubnet(n.Address, ns.subnet)
		switch {
		case err != nil:
			fail("address", n.Address, err.Error(), "use an address inside "+n.Subnet+", for example "+exampleAddr(ns.subnet))
		default:
			ns.addr = a
		}
	}
	if ns.device == "" {
		ns.device = "mn-" + n.Name
		if len(ns.device) > maxDeviceName {
			ns.device = ns.device[:maxDeviceName]
		}
	} else if len(ns.device) > maxDeviceName || strings.ContainsAny(ns.device, "/ \t") {
		fail("device", ns.device, "not a valid interface name", "use at most 15 characters, no '/' or spaces")
	}
	if n.MTU != 0 && (n.MTU < 576 || n.MTU > 65000) {
		fail("mtu", strconv.Itoa(n.MTU), "MTU out of range", "use 576-65000, or leave it out to derive it from the underlay")
	}
	return ns, ok
}

func validateGossip(g GossipConfig, bad func(key, val, problem, fix string)) {
	if g.Port < 1 || g.Port > 65535 {
		bad("gossip.port", strconv.Itoa(g.Port), "not a port", "use 1-65535 (7946 is the default)")
	}
	if g.Interval < 10*time.Millisecond || g.Interval > time.Minute {
		bad("gossip.interval", g.Interval.String(), "out of range", "use 10ms-1m (200ms is the default)")
	}
	if g.Fanout < 1 || g.Fanout > 64 {
		bad("gossip.fanout", strconv.Itoa(g.Fanout), "out of range", "use 1-64 (3 is the default)")
	}
	if g.BulkSyncInterval < time.Second {
		bad("gossip.bulk_sync_interval", g.BulkSyncInterval.String(), "too short", "use 1s or more (30s is the default)")
	}
	if g.ProbeInterval < 50*time.Millisecond || g.ProbeInterval > time.Minute {
		bad("gossip.probe_interval", g.ProbeInterval.String(), "out of range", "use 50ms-1m (800ms is the default)")
	}
}

// seedAddr normalises a join address to host:port.
func seedAddr(s string, defPort int) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, uint16(defPort)).String(), nil
	}
	return "", errors.New("not an IP address or IP:port")
}

// parseAddrInSubnet accepts "10.0.0.5" or "10.0.0.5/24". With a valid
// subnet the address must lie inside it and not be its network address.
func parseAddrInSubnet(s string, sub netip.Prefix) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, errors.New("missing address")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		p, perr := netip.ParsePrefix(s)
		if perr != nil {
			return netip.Addr{}, errors.New("not an IP address")
		}
		a = p.Addr()
	}
	if !sub.IsValid() {
		return a, nil
	}
	if !sub.Contains(a) {
		return netip.Addr{}, errors.New("not inside the network's subnet")
	}
	if a == sub.Addr() && a.Is4() && sub.Bits() < 31 {
		return netip.Addr{}, errors.New("is the subnet's network address")
	}
	return a, nil
}

func exampleAddr(sub netip.Prefix) string {
	if !sub.IsValid() {
		return "10.20.0.1"
	}
	return sub.Addr().Next().String()
}

func validatePeer(key string, p PeerConfig, port uint16, nets map[string]uint32, bad func(key, val, problem, fix string)) (peerSpec, bool) {
	ok := true
	fail := func(k, v, pr, f string) { ok = false; bad(key+"."+k, v, pr, f) }
	ps := peerSpec{name: p.Name}
	if !labelRE.MatchString(p.Name) {
		fail("name", p.Name, "not a valid node name", "use lower-case letters, digits and '-'")
	}
	if ap, err := netip.ParseAddrPort(p.Address); err == nil {
		ps.underlay = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	} else if a, err := netip.ParseAddr(p.Address); err == nil {
		ps.underlay = netip.AddrPortFrom(a.Unmap(), port)
	} else {
		fail("address", p.Address, "not an IP address or IP:port", "for example 192.0.2.11 or 192.0.2.11:4789")
	}
	for j, e := range p.Endpoints {
		ek := fmt.Sprintf("endpoints[%d]", j)
		if _, known := nets[e.Network]; !known {
			fail(ek+".network", e.Network, "no such network in this config", "add it under networks, or fix the name")
			continue
		}
		ip, err := netip.ParseAddr(e.IP)
		if err != nil {
			fail(ek+".ip", e.IP, "not an IP address", "for example 10.20.0.2")
			continue
		}
		ep := epSpec{network: e.Network, ip: ip}
		if e.MAC == "" {
			ep.mac = InterfaceMAC(p.Name, e.Network)
		} else if m, err := ParseMAC(e.MAC); err != nil {
			fail(ek+".mac", e.MAC, "not a unicast MAC address", "for example 02:00:5e:10:00:01, or leave it out")
			continue
		} else {
			ep.mac = m
		}
		ps.endpoints = append(ps.endpoints, ep)
	}
	return ps, ok
}

// validateUserspace checks netstack mode's proxies, forwards and exposes.
func validateUserspace(c Config, bad func(key, val, problem, fix string)) userspace.Config {
	us := userspace.DefaultConfig()
	if !c.Userspace {
		if len(c.Forward)+len(c.Expose) > 0 {
			bad("forward", strings.Join(append(c.Forward, c.Expose...), ","), "forwards and exposes need userspace mode",
				"set userspace: true (a kernel device is reached directly, without them)")
		}
		return us
	}
	for _, p := range []struct {
		key, val string
		dst      *netip.AddrPort
	}{{"proxy.socks5", c.Proxy.SOCKS5, &us.SOCKS5}, {"proxy.http", c.Proxy.HTTP, &us.HTTPConnect}} {
		if p.val == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(p.val)
		if err != nil {
			bad(p.key, p.val, "not an IP:port", `for example "127.0.0.1:1080", or "" to turn it off`)
			continue
		}
		*p.dst = ap
	}
	for i, f := range c.Forward {
		fw, err := userspace.ParseForward(f)
		if err != nil {
			bad(fmt.Sprintf("forward[%d]", i), f, err.Error(), "")
			continue
		}
		us.Forwards = append(us.Forwards, fw)
	}
	for i, e := range c.Expose {
		ex, err := userspace.ParseExpose(e)
		if err != nil {
			bad(fmt.Sprintf("expose[%d]", i), e, err.Error(), "")
			continue
		}
		us.Exposes = append(us.Exposes, ex)
	}
	return us
}
