package lb

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Limits on what DNS clients may send or hold.
const (
	// MaxDNSQuerySize bounds a query's wire size; larger queries are
	// dropped (UDP) or end the connection (TCP). Real queries, even
	// EDNS-padded ones, are far smaller.
	MaxDNSQuerySize = 1232
	// maxDNSUDPResponse caps UDP answers whatever a client advertises, the
	// size that avoids IP fragmentation on common paths (DNS flag day 2020).
	maxDNSUDPResponse = 1232
	// dnsTCPIdleTimeout closes TCP connections that send nothing.
	dnsTCPIdleTimeout = 10 * time.Second
	// dnsTCPMaxQueries bounds queries served on one TCP connection.
	dnsTCPMaxQueries = 100
	// dnsWriteTimeout bounds a reply write on a stuck TCP client.
	dnsWriteTimeout = 5 * time.Second
)

// DefaultDNSPort is where clients expect a resolver.
const DefaultDNSPort = 53

// DNSConfig configures a DNSServer.
type DNSConfig struct {
	// Domain is the zone answered locally, e.g. "meshnet.internal.":
	// <service>.<Domain>, <endpoint>.<Domain> and <node>.<Domain>.
	Domain string
	// Port the server listens on for Listen. 0 picks a free port (tests).
	Port uint16
	// TTL of local answers. Short, because backends and their health change.
	TTL time.Duration
	// Upstreams receive queries for names outside Domain, tried in order
	// (the caller typically reads them from /etc/resolv.conf, leaving out
	// this server's own addresses). With none, such queries get REFUSED.
	Upstreams []netip.AddrPort
	// UpstreamTimeout bounds each attempt at an upstream.
	UpstreamTimeout time.Duration
	// MaxTCPConns bounds concurrent TCP connections per listener; more
	// wait in the kernel's accept queue.
	MaxTCPConns int
	// MaxForwards bounds forwarded queries in flight; beyond it clients get
	// SERVFAIL at once instead of piling up goroutines.
	MaxForwards int
	// VNIs, if set, limits service answers to services on these networks.
	VNIs []uint32
	// Logger receives the server's logs.
	Logger *slog.Logger
}

// DefaultDNSConfig returns the defaults.
func DefaultDNSConfig() DNSConfig {
	return DNSConfig{
		Domain:          "meshnet.internal.", // .internal is reserved for private use
		Port:            DefaultDNSPort,
		TTL:             5 * time.Second, // health changes reach clients quickly
		UpstreamTimeout: 2 * time.Second, // a stub resolver's usual patience
		MaxTCPConns:     64,              // TCP is the rare fallback for big answers
		MaxForwards:     256,
		Logger:          slog.New(slog.DiscardHandler),
	}
}

func (c *DNSConfig) validate() error {
	var errs []error
	if _, ok := dns.IsDomainName(c.Domain); !ok || c.Domain == "" || c.Domain == "." {
		errs = append(errs, fmt.Errorf("dns domain %q is not a domain name: use one like \"meshnet.internal\"", c.Domain))
	}
	if c.TTL < 0 || c.TTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("dns ttl %v is out of range: use 0s-24h", c.TTL))
	}
	if c.UpstreamTimeout <= 0 {
		errs = append(errs, fmt.Errorf("dns upstream timeout %v must be positive", c.UpstreamTimeout))
	}
	for i, u := range c.Upstreams {
		if !u.IsValid() || u.Port() == 0 {
			errs = append(errs, fmt.Errorf("dns upstreams[%d] %v: give an address and port like 192.0.2.53:53", i, u))
		}
	}
	if c.MaxTCPConns < 1 {
		errs = append(errs, fmt.Errorf("dns max tcp conns %d must be at least 1", c.MaxTCPConns))
	}
	if c.MaxForwards < 1 {
		errs = append(errs, fmt.Errorf("dns max forwards %d must be at least 1", c.MaxForwards))
	}
	return errors.Join(errs...)
}

// Records resolves endpoint and node names on behalf of the DNS server.
type Records interface {
	// LookupHost returns the addresses of the endpoint or node called
	// name (one lowercase DNS label), or none if there is no such name.
	// The server does not modify the slice.
	LookupHost(name string) []netip.Addr
}

// StaticRecords is a fixed name-to-addresses table implementing Records,
// for static hosts and for tests.
type StaticRecords map[string][]netip.Addr

// LookupHost returns the addresses recorded for name.
func (r StaticRecords) LookupHost(name string) []netip.Addr { return r[name] }

// ServiceAddrs is what a service name resolves to.
type ServiceAddrs struct {
	VNI  uint32
	Mode Mode
	// Addrs is the VIP (ModeVIP) or the healthy backends' addresses
	// (ModeDNSRR). Callers must not modify it.
	Addrs []netip.Addr
}

// ServiceSource looks services up by name; Balancer implements it.
type ServiceSource interface {
	LookupService(name string) (ServiceAddrs, bool)
}

// LookupService returns what DNS should answer for the service called name.
func (b *Balancer) LookupService(name string) (ServiceAddrs, bool) {
	st := b.snap.Load().byName[name]
	if st == nil {
		return ServiceAddrs{}, false
	}
	return ServiceAddrs{VNI: st.svc.VNI, Mode: st.svc.Mode, Addrs: st.dnsAddrs}, true
}

func canonicalDomain(d string) string { return strings.ToLower(dns.Fqdn(d)) }
