package tables

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/routing"
)

// Static peers are hosts that do not run meshnet: plain VXLAN peers (a
// kernel vxlan device) and encrypted ones (stock WireGuard with a kernel
// vxlan device over it). A node publishes the static peers of its config
// in the cluster-scope static_peers table, keyed by peer name and owned by
// the node (the peer's sponsor); every node resolves the table into one
// definition per name, pairs WireGuard with the encrypted ones and routes
// their endpoints. Deleting the entry removes the peer everywhere.

// MaxStaticEndpoints bounds the endpoints behind one static peer, so that
// its entry fits a gossip value (gossip/wire.MaxValueLen).
const MaxStaticEndpoints = 32

// StaticPeer is one static peer: plain (Underlay set, Key zero) or
// encrypted (Key and VTEP set).
type StaticPeer struct {
	Name      string
	Underlay  netip.AddrPort       // plain VXLAN address
	Key       keydist.NodePublic   // WireGuard public key
	WG        netip.AddrPort       // WireGuard endpoint; invalid: unknown
	PSK       keydist.SymmetricKey // fixed preshared key; zero: none
	VTEP      netip.Addr           // VXLAN address inside WireGuard
	Endpoints []StaticEndpoint     // sorted by network, then IP
	// Sponsors are the nodes publishing this definition (set by
	// ResolveStatic).
	Sponsors []string
}

// StaticEndpoint is an endpoint behind a static peer.
type StaticEndpoint struct {
	Network string
	IP      netip.Addr
	MAC     packet.MAC
}

// Encrypted reports whether the peer speaks WireGuard.
func (p StaticPeer) Encrypted() bool { return !p.Key.IsZero() }

// Route is the forwarding table's peer: VXLAN goes to the VTEP through
// WireGuard for an encrypted peer, to the underlay address for a plain
// one.
func (p StaticPeer) Route() routing.PeerConfig {
	rc := routing.PeerConfig{Name: p.Name, Underlay: p.Underlay}
	if p.Encrypted() {
		rc.VTEP = netip.AddrPortFrom(p.VTEP, encap.Port)
	}
	return rc
}

// staticWire is a static peer's gossip value. Fields are append-only.
type staticWire struct {
	V         int                `json:"v"`
	VXLAN     netip.AddrPort     `json:"vxlan,omitzero"`
	Key       keydist.NodePublic `json:"key,omitzero"`
	WG        netip.AddrPort     `json:"wg,omitzero"`
	PSK       []byte             `json:"psk,omitempty"` // the cluster's gossip is encrypted
	VTEP      netip.Addr         `json:"vtep,omitzero"`
	Endpoints []staticEPWire     `json:"endpoints"`
}

type staticEPWire struct {
	Network string     `json:"net"`
	IP      netip.Addr `json:"ip"`
	MAC     string     `json:"mac"`
}

const staticVersion = 1

// Encode is the entry value a sponsor publishes. Endpoints are sorted, so
// sponsors of one definition publish the same bytes.
func (p StaticPeer) Encode() ([]byte, error) {
	if len(p.Endpoints) > MaxStaticEndpoints {
		return nil, fmt.Errorf("static peer %s has %d endpoints, at most %d allowed", p.Name, len(p.Endpoints), MaxStaticEndpoints)
	}
	w := staticWire{V: staticVersion, VXLAN: p.Underlay, Key: p.Key, WG: p.WG, VTEP: p.VTEP, Endpoints: []staticEPWire{}}
	if !p.PSK.IsZero() {
		w.PSK = p.PSK.Bytes()
	}
	eps := slices.Clone(p.Endpoints)
	sortStaticEndpoints(eps)
	for _, e := range eps {
		w.Endpoints = append(w.Endpoints, staticEPWire{Network: e.Network, IP: e.IP, MAC: macString(e.MAC)})
	}
	return json.Marshal(w)
}

var errBadStatic = errors.New("malformed static peer entry")

// DecodeStatic parses a static_peers entry from the network. It accepts
// only a usable peer: plain with a unicast underlay address, or encrypted
// with a key and a VTEP in fd00::/8; endpoints with valid network names,
// addresses and unicast MACs.
func DecodeStatic(e gossip.Entry) (StaticPeer, error) {
	var w staticWire
	if !validName(e.Key) || len(e.Value) > maxStaticBytes {
		return StaticPeer{}, errBadStatic
	}
	if err := json.Unmarshal(e.Value, &w); err != nil {
		return StaticPeer{}, fmt.Errorf("%w: %v", errBadStatic, err)
	}
	p := StaticPeer{Name: e.Key, Underlay: unmapPort(w.VXLAN), Key: w.Key, WG: unmapPort(w.WG), VTEP: w.VTEP}
	switch {
	case w.V < 1 || len(w.Endpoints) > MaxStaticEndpoints:
		return StaticPeer{}, errBadStatic
	case p.Key.IsZero():
		if !usableAddrPort(p.Underlay) || p.WG.IsValid() || len(w.PSK) != 0 || p.VTEP.IsValid() {
			return StaticPeer{}, errBadStatic
		}
	default:
		if p.Underlay.IsValid() || !isVTEP(p.VTEP) || (p.WG.IsValid() && !usableAddrPort(p.WG)) {
			return StaticPeer{}, errBadStatic
		}
		if len(w.PSK) != 0 {
			psk, err := keydist.PresharedKeyFromBytes(w.PSK)
			if err != nil {
				return StaticPeer{}, errBadStatic
			}
			p.PSK = psk
		}
	}
	for _, we := range w.Endpoints {
		mac, err := parseMAC(we.MAC)
		if err != nil || !validName(we.Network) || !we.IP.IsValid() || we.IP.Zone() != "" {
			return StaticPeer{}, errBadStatic
		}
		p.Endpoints = append(p.Endpoints, StaticEndpoint{Network: we.Network, IP: we.IP.Unmap(), MAC: mac})
	}
	sortStaticEndpoints(p.Endpoints)
	return p, nil
}

// maxStaticBytes bounds a static peer entry; gossip bounds every value
// at 4 KiB already.
const maxStaticBytes = 4096

func unmapPort(ap netip.AddrPort) netip.AddrPort {
	if !ap.IsValid() {
		return ap
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func usableAddrPort(ap netip.AddrPort) bool {
	a := ap.Addr()
	return ap.IsValid() && ap.Port() != 0 && !a.IsUnspecified() && !a.IsMulticast() && a.Zone() == ""
}

// isVTEP reports whether a is usable as a VTEP: an IPv6 address in
// fd00::/8, as the WireGuard transport requires.
func isVTEP(a netip.Addr) bool {
	return a.Is6() && !a.Is4In6() && a.Zone() == "" && a.As16()[0] == 0xfd
}

func sortStaticEndpoints(eps []StaticEndpoint) {
	slices.SortFunc(eps, func(a, b StaticEndpoint) int {
		return cmp.Or(cmp.Compare(a.Network, b.Network), a.IP.Compare(b.IP), bytes.Compare(a.MAC[:], b.MAC[:]))
	})
}
