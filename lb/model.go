package lb

import (
	"fmt"
	"net/netip"
	"strings"

	"meshnet.dev/meshnet/internal/packet"
)

// Proto is a transport protocol, numbered as in the IP header.
type Proto uint8

// Protocols a service port or a tracked flow can use.
const (
	ProtoICMP   Proto = packet.ProtoICMP
	ProtoTCP    Proto = packet.ProtoTCP
	ProtoUDP    Proto = packet.ProtoUDP
	ProtoICMPv6 Proto = packet.ProtoICMPv6
)

// String returns the protocol's lowercase name ("tcp", "udp", ...).
func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoICMP:
		return "icmp"
	case ProtoICMPv6:
		return "icmpv6"
	}
	return fmt.Sprintf("proto-%d", uint8(p))
}

// MarshalText encodes a protocol as its name, so configs and the control API
// read "tcp" rather than 6.
func (p Proto) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText accepts "tcp" or "udp" (any case).
func (p *Proto) UnmarshalText(b []byte) error {
	v, err := ParseProto(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// ParseProto parses a service port protocol: "tcp" or "udp".
func ParseProto(s string) (Proto, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	}
	return 0, fmt.Errorf("protocol %q is not supported: use tcp or udp", s)
}

// PortSpec is one port a service listens on.
type PortSpec struct {
	Port  uint16 `json:"port"`
	Proto Proto  `json:"proto"`
}

// String formats the spec as "80/tcp", the form ParsePortSpecs reads.
func (p PortSpec) String() string { return fmt.Sprintf("%d/%s", p.Port, p.Proto) }

// Mode says how clients reach a service.
type Mode string

const (
	// ModeVIP gives the service a virtual IP; DNS answers the VIP and each
	// sender's Forwarder balances connections over the backends.
	ModeVIP Mode = "vip"
	// ModeDNSRR gives the service no VIP; DNS answers the healthy backends'
	// addresses in rotating order and clients connect to them directly.
	ModeDNSRR Mode = "dnsrr"
)

// Service is a named set of backends reachable on one network.
type Service struct {
	// Name is a DNS label, unique in the cluster; clients resolve
	// <Name>.<domain>.
	Name string `json:"name"`
	// Network names the network the service lives on, VNI is its identifier.
	Network string `json:"network"`
	VNI     uint32 `json:"vni"`
	// VIP is the service address in the network's subnet (ModeVIP only).
	VIP netip.Addr `json:"vip,omitzero"`
	// Ports the service answers on; traffic to other ports of the VIP is
	// dropped.
	Ports []PortSpec `json:"ports"`
	Mode  Mode       `json:"mode"`
}

// HasPort reports whether the service answers on port/proto.
func (s *Service) HasPort(port uint16, proto Proto) bool {
	for _, p := range s.Ports {
		if p.Port == port && p.Proto == proto {
			return true
		}
	}
	return false
}

// Backend is one endpoint serving a service.
//
// Addr's port is where a backend listens. Port 0 means "the same port the
// client asked for", which is the only choice for a service with several
// ports; a non-zero port (only for single-port services) lets the backend
// listen elsewhere than the VIP's port.
type Backend struct {
	Service string         `json:"service"`
	Addr    netip.AddrPort `json:"addr"`
	// Node is the node the backend's endpoint lives on; only that node
	// health-checks it.
	Node    string `json:"node"`
	Healthy bool   `json:"healthy"`
}

// TargetPort returns the backend port a flow to servicePort is sent to.
func (b *Backend) TargetPort(servicePort uint16) uint16 {
	if p := b.Addr.Port(); p != 0 {
		return p
	}
	return servicePort
}
