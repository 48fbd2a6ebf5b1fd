package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"meshnet.dev/meshnet/encap"
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

// Spec is a validated Config in typed form. Validate makes it once, before
// anything starts; nothing changes it afterwards.
type Spec struct {
	Name      string
	StateDir  string
	TUN       bool
	Underlay  netip.Addr // invalid: pick from the route to the first peer
	VXLANPort uint16
	Join      []string // gossip seeds as host:port
	Token     string
	WGPort    uint16
	WGIface   string
	Rotation  time.Duration
	DNS       DNSSpec
	Health    time.Duration
	Broadcast BroadcastConfig
	Userspace bool
	Proxies   userspace.Config // netstack mode's proxies, forwards and exposes
	Metrics   string
	Gossip    GossipConfig
	Networks  []NetworkSpec
	Peers     []PeerSpec
	LogLevel  slog.Level
	LogJSON   bool
	Perf      PerfSpec
}

// DNSSpec is the validated DNS configuration.
type DNSSpec struct {
	Enabled, Forward bool
	Domain           string // lower case, ending in a dot
	Port             int
}

// NetworkSpec is a network the node wants to be on. A valid subnet makes it
// a definition; VNI 0 means "derive one"; an invalid Address means IPAM.
type NetworkSpec struct {
	Name      string
	VNI       uint32
	Subnet    netip.Prefix
	Address   netip.Addr
	Device    string
	Bridge    string // Linux bridge the device joins; empty for none
	MTU       int
	Encrypted bool
}

// Defines reports whether the spec carries a network definition.
func (ns NetworkSpec) Defines() bool { return ns.Subnet.IsValid() }

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// maxDeviceName is IFNAMSIZ minus the terminating NUL.
const maxDeviceName = 15

// ValidName reports whether s is a valid node or network name: a DNS label.
func ValidName(s string) bool { return labelRE.MatchString(s) }

// DefaultDevice is the device name of a network that names none.
func DefaultDevice(network string) string {
	d := "mn-" + network
	if len(d) > maxDeviceName {
		d = d[:maxDeviceName]
	}
	return d
}

// Validate checks every field and returns the typed spec, or all problems
// found at once, each a *FieldError.
func (c Config) Validate() (*Spec, error) {
	var errs []error
	bad := func(key, val, problem, fix string) {
		errs = append(errs, &FieldError{key, val, problem, fix})
	}
	s := &Spec{Name: c.Name, StateDir: c.StateDir}
	if !labelRE.MatchString(c.Name) {
		bad("name", c.Name, "not a valid node name", "use lower-case letters, digits and '-', at most 63 characters")
	}
	if c.StateDir == "" || !strings.HasPrefix(c.StateDir, "/") {
		bad("state_dir", c.StateDir, "must be an absolute path", "for example /var/lib/meshnet")
	}
	switch c.Mode {
	case "tap":
	case "tun":
		s.TUN = true
	default:
		bad("mode", c.Mode, "unknown device mode", `use "tap" or "tun"`)
	}
	if c.Underlay.Address != "" {
		a, err := netip.ParseAddr(c.Underlay.Address)
		if err != nil {
			bad("underlay.address", c.Underlay.Address, "not an IP address", "for example 192.0.2.10")
		}
		s.Underlay = a.Unmap()
	}
	if c.Underlay.VXLANPort < 1 || c.Underlay.VXLANPort > 65535 {
		bad("underlay.vxlan_port", strconv.Itoa(c.Underlay.VXLANPort), "not a UDP port", "use 1-65535 (4789 is the standard VXLAN port)")
	}
	s.VXLANPort = uint16(c.Underlay.VXLANPort)
	s.Gossip = c.Gossip
	s.Perf = c.Performance.validate(bad)
	validateGossip(c.Gossip, bad)
	s.Token = c.Token
	if c.TokenFile != "" {
		if c.Token != "" {
			bad("token_file", c.TokenFile, "both token and token_file are set", "keep one of them")
		} else if tok, problem, fix := readSecretFile(c.TokenFile, tokenSecret); problem != "" {
			bad("token_file", c.TokenFile, problem, fix)
		} else {
			s.Token = tok
		}
	}
	if c.WireGuard.Port < 1 || c.WireGuard.Port > 65535 {
		bad("wireguard.port", strconv.Itoa(c.WireGuard.Port), "not a UDP port", "use 1-65535 (51820 is the default)")
	}
	s.WGPort = uint16(c.WireGuard.Port)
	s.WGIface = c.WireGuard.Interface
	if s.WGIface == "" {
		s.WGIface = "wg-" + c.Name
	}
	if len(s.WGIface) > maxDeviceName {
		if c.WireGuard.Interface != "" {
			bad("wireguard.interface", s.WGIface, "longer than 15 bytes", "pick a shorter name")
		}
		s.WGIface = s.WGIface[:maxDeviceName]
	}
	if c.Keys.RotationInterval < time.Second {
		bad("keys.rotation_interval", c.Keys.RotationInterval.String(), "too short", "use 1s or more (12h is the default)")
	}
	s.Rotation = c.Keys.RotationInterval
	s.DNS = DNSSpec{Enabled: c.DNS.Enabled == nil || *c.DNS.Enabled, Forward: c.DNS.Forward == nil || *c.DNS.Forward,
		Domain: strings.ToLower(strings.TrimSuffix(c.DNS.Domain, ".")) + ".", Port: c.DNS.Port}
	if c.DNS.Domain == "" || strings.ContainsAny(c.DNS.Domain, " /") {
		bad("dns.domain", c.DNS.Domain, "not a DNS domain", `use something like "meshnet.internal."`)
	}
	if c.DNS.Port < 1 || c.DNS.Port > 65535 {
		bad("dns.port", strconv.Itoa(c.DNS.Port), "not a port", "use 1-65535 (53 is the default)")
	}
	if c.Health.Interval < 100*time.Millisecond {
		bad("health.interval", c.Health.Interval.String(), "too short", "use 100ms or more (2s is the default)")
	}
	s.Health = c.Health.Interval
	if c.Broadcast.Rate < 1 || c.Broadcast.Rate > 1_000_000 {
		bad("broadcast.rate", strconv.Itoa(c.Broadcast.Rate), "out of range", "use 1-1000000 frames a second (2000 is the default)")
	}
	if c.Broadcast.Burst < 1 || c.Broadcast.Burst > 100_000 {
		bad("broadcast.burst", strconv.Itoa(c.Broadcast.Burst), "out of range", "use 1-100000 frames (400 is the default)")
	}
	s.Broadcast = c.Broadcast
	s.Userspace = c.Userspace
	if c.Metrics.Address != "" {
		if _, err := netip.ParseAddrPort(c.Metrics.Address); err != nil {
			bad("metrics.address", c.Metrics.Address, "not an IP:port", `for example "127.0.0.1:9431", or "" to turn metrics off`)
		}
	}
	s.Metrics = c.Metrics.Address
	s.Proxies = validateUserspace(c, bad)
	for i, j := range c.Join {
		hp, err := seedAddr(j, c.Gossip.Port)
		if err != nil {
			bad(fmt.Sprintf("join[%d]", i), j, err.Error(), "use IP or IP:port of a running node, for example 192.0.2.10:7946")
			continue
		}
		s.Join = append(s.Join, hp)
	}
	s.LogLevel, s.LogJSON = parseLog(c.Log, bad)

	byName := map[string]uint32{}
	vnis := map[uint32]string{}
	devices := map[string]string{}
	for i, n := range c.Networks {
		ns, ok := validateNetwork(fmt.Sprintf("networks[%d]", i), n, bad)
		if !ok {
			continue
		}
		if _, dup := byName[ns.Name]; dup {
			bad(fmt.Sprintf("networks[%d].name", i), ns.Name, "network defined twice", "give each network one entry")
			continue
		}
		if other, dup := vnis[ns.VNI]; dup && ns.VNI != 0 {
			bad(fmt.Sprintf("networks[%d].vni", i), strconv.Itoa(n.VNI), "VNI already used by network "+other, "give each network its own VNI")
			continue
		}
		if other, dup := devices[ns.Device]; dup {
			bad(fmt.Sprintf("networks[%d].device", i), ns.Device, "device already used by network "+other, "give each network its own device")
			continue
		}
		if other, dup := devices[ns.Bridge]; dup && ns.Bridge != "" {
			bad(fmt.Sprintf("networks[%d].bridge", i), ns.Bridge, "name already used by network "+other, "give each network its own bridge")
			continue
		}
		if ns.Bridge != "" && (s.TUN || s.Userspace) {
			bad(fmt.Sprintf("networks[%d].bridge", i), ns.Bridge, "a bridge needs Ethernet frames", `use mode "tap" (not tun or userspace), or leave out bridge`)
			continue
		}
		byName[ns.Name], vnis[ns.VNI], devices[ns.Device] = ns.VNI, ns.Name, ns.Name
		if ns.Bridge != "" {
			devices[ns.Bridge] = ns.Name
		}
		s.Networks = append(s.Networks, ns)
	}
	s.Peers = validatePeers(c.Peers, c.Name, s.VXLANPort, s.Networks, bad)
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

func validateNetwork(key string, n NetworkConfig, bad func(key, val, problem, fix string)) (NetworkSpec, bool) {
	ok := true
	fail := func(k, v, p, f string) { ok = false; bad(key+"."+k, v, p, f) }
	ns := NetworkSpec{Name: n.Name, VNI: uint32(n.VNI), MTU: n.MTU, Encrypted: n.Encrypted == nil || *n.Encrypted, Device: n.Device, Bridge: n.Bridge}
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
			ns.Subnet = sub
		}
	} else if n.VNI != 0 {
		fail("subnet", "", "a network with a vni needs a subnet", "add subnet, or leave out vni to join a network defined elsewhere")
	}
	if n.Address != "" {
		a, err := parseAddrInSubnet(n.Address, ns.Subnet)
		switch {
		case err != nil:
			fail("address", n.Address, err.Error(), "use an address inside "+n.Subnet+", for example "+exampleAddr(ns.Subnet))
		default:
			ns.Address = a
		}
	}
	if ns.Device == "" {
		ns.Device = DefaultDevice(n.Name)
	} else if len(ns.Device) > maxDeviceName || strings.ContainsAny(ns.Device, "/ \t") {
		fail("device", ns.Device, "not a valid interface name", "use at most 15 characters, no '/' or spaces")
	}
	if len(ns.Bridge) > maxDeviceName || strings.ContainsAny(ns.Bridge, "/ \t") {
		fail("bridge", ns.Bridge, "not a valid interface name", "use at most 15 characters, no '/' or spaces")
	} else if ns.Bridge != "" && ns.Bridge == ns.Device {
		fail("bridge", ns.Bridge, "the bridge has the device's name", "give the bridge a name of its own, such as mb-"+n.Name)
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
	if g.LeaveTimeout < 100*time.Millisecond || g.LeaveTimeout > time.Minute {
		bad("gossip.leave_timeout", g.LeaveTimeout.String(), "out of range", "use 100ms-1m (3s is the default; keep it under the service manager's stop timeout)")
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
