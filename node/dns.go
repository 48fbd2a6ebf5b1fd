package node

import (
	"bufio"
	"net/netip"
	"os"
	"slices"
	"strings"

	"meshnet.dev/meshnet/lb"

	"meshnet.dev/meshnet/node/config"
)

// dnsState is the node's embedded DNS server and the addresses it serves on.
type dnsState struct {
	server *lb.DNSServer
	addrs  []netip.Addr
}

// syncDNS serves DNS on every overlay address this node holds, restarting
// the server when that set changes (a network attached, an address moved).
func (n *Node) syncDNS(atts []*attachment) {
	if !n.spec.DNS.Enabled || n.spec.Userspace { // netstack mode serves DNS inside its stacks
		return
	}
	var addrs []netip.Addr
	for _, a := range atts {
		if a.addr.IsValid() {
			addrs = append(addrs, a.addr)
		}
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	if slices.Equal(addrs, n.rec.dns.addrs) {
		return
	}
	n.stopDNS()
	n.rec.dns.addrs = addrs
	if len(addrs) == 0 {
		return
	}
	srv, err := lb.NewDNSServer(n.dnsConfig(addrs), n.balancer, nodeRecords{n})
	if err == nil {
		err = srv.Listen(addrs)
	}
	if err != nil {
		n.log.Error("starting DNS", "addresses", addrs, "err", err)
		return
	}
	n.rec.dns.server = srv
	n.dnsLive.Store(srv)
	n.log.Info("DNS serving", "domain", n.spec.DNS.Domain, "addresses", addrs, "port", n.spec.DNS.Port)
}

func (n *Node) stopDNS() {
	n.dnsLive.Store(nil)
	if n.rec.dns.server != nil {
		n.rec.dns.server.Close()
		n.rec.dns.server = nil
	}
}

// dnsConfig builds the DNS server's configuration; names outside the
// domain go to the host's resolvers unless forwarding is off.
func (n *Node) dnsConfig(own []netip.Addr) lb.DNSConfig {
	cfg := lb.DefaultDNSConfig()
	cfg.Domain = n.spec.DNS.Domain
	cfg.Port = uint16(n.spec.DNS.Port)
	cfg.Logger = n.log.With("component", "dns")
	if n.spec.DNS.Forward {
		for _, u := range hostResolvers("/etc/resolv.conf") {
			if !slices.Contains(own, u) {
				cfg.Upstreams = append(cfg.Upstreams, netip.AddrPortFrom(u, 53))
			}
		}
	}
	return cfg
}

// hostResolvers reads the nameserver lines of a resolv.conf.
func hostResolvers(path string) []netip.Addr {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, a)
			}
		}
	}
	return out
}

// nodeRecords answers <node>.<domain> with the node's interface addresses
// on the networks this node shares with it.
type nodeRecords struct{ n *Node }

func (r nodeRecords) LookupHost(name string) []netip.Addr {
	var out []netip.Addr
	for _, net := range r.n.table.Snapshot().Networks() {
		own := config.InterfaceMAC(name, net.Name)
		for _, e := range net.Endpoints() {
			if e.MAC == own && e.IP.IsValid() {
				out = append(out, e.IP)
			}
		}
	}
	return out
}
