package lb

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"
)

// Dialer opens probe connections; *net.Dialer is one.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// HealthTarget is one local backend and how to probe it.
type HealthTarget struct {
	// Backend identifies the backend (Service and Addr); Publish reports
	// it with Healthy set to the probed state.
	Backend Backend
	// Probe is the address to check and Proto how: tcp connects, udp sends
	// one byte and counts an ICMP port unreachable as down.
	Probe netip.AddrPort
	Proto Proto
}

// HealthTargets lists the backends on node that can be probed, each at its
// own port or, for port-0 backends, the service's first TCP port (else its
// first UDP port). Backends of services without ports and port-0 backends
// are skipped: nothing says where to probe them, so publish them healthy.
func HealthTargets(node string, services []Service, backends []Backend) []HealthTarget {
	byName := make(map[string]*Service, len(services))
	for i := range services {
		byName[services[i].Name] = &services[i]
	}
	var out []HealthTarget
	for _, b := range backends {
		s := byName[b.Service]
		if b.Node != node || s == nil || len(s.Ports) == 0 {
			continue
		}
		spec := s.Ports[0]
		for _, p := range s.Ports {
			if p.Proto == ProtoTCP {
				spec = p
				break
			}
		}
		out = append(out, HealthTarget{
			Backend: b,
			Probe:   netip.AddrPortFrom(b.Addr.Addr(), b.TargetPort(spec.Port)),
			Proto:   spec.Proto,
		})
	}
	return out
}

// probe reports whether t answers before ctx ends.
func probe(ctx context.Context, d Dialer, t *HealthTarget) error {
	if t.Proto == ProtoUDP {
		return probeUDP(ctx, d, t.Probe)
	}
	c, err := d.DialContext(ctx, "tcp", t.Probe.String())
	if err != nil {
		return err
	}
	return c.Close()
}

// probeUDP sends one byte and waits for ctx's deadline: silence or any
// reply counts as up, an ICMP port unreachable (ECONNREFUSED on the
// connected socket) or another read error as down.
func probeUDP(ctx context.Context, d Dialer, addr netip.AddrPort) error {
	c, err := d.DialContext(ctx, "udp", addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Second)
	}
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte{0}); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	_, err = c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return nil // no news is good news
	}
	return err // nil for a reply; ECONNREFUSED for a port unreachable
}
