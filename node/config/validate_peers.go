package config

import (
	"fmt"
	"net/netip"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/keydist"
)

// PeerSpec is a static peer and the endpoints behind it: plain (Underlay
// set, Key zero) or encrypted (Key and VTEP set).
type PeerSpec struct {
	Index     int    // its position in the config's peers list, for errors
	Name      string //
	Underlay  netip.AddrPort
	Key       keydist.NodePublic   // zero for a plain peer
	WG        netip.AddrPort       // WireGuard endpoint; invalid: unknown
	PSK       keydist.SymmetricKey // zero: none
	VTEP      netip.Addr           // encrypted peers only
	Endpoints []EndpointSpec
}

// Encrypted reports whether the peer speaks WireGuard.
func (p PeerSpec) Encrypted() bool { return !p.Key.IsZero() }

// EndpointSpec is one endpoint behind a static peer.
type EndpointSpec struct {
	Network string
	IP      netip.Addr
	MAC     packet.MAC
}

// validatePeers checks the static peers against each other, this node's
// name and the config's networks.
func validatePeers(peers []PeerConfig, self string, port uint16, nets []NetworkSpec, bad func(key, val, problem, fix string)) []PeerSpec {
	byNet := map[string]NetworkSpec{}
	for _, ns := range nets {
		byNet[ns.Name] = ns
	}
	var out []PeerSpec
	names := map[string]bool{self: true}
	keys := map[keydist.NodePublic]string{}
	vteps := map[netip.Addr]string{}
	for i, p := range peers {
		key := fmt.Sprintf("peers[%d]", i)
		ps, ok := validatePeer(key, p, port, byNet, bad)
		if !ok {
			continue
		}
		ps.Index = i
		switch {
		case names[ps.Name]:
			bad(key+".name", ps.Name, "name used twice (or is this node's own name)", "give every node a unique name")
			continue
		case ps.Encrypted() && keys[ps.Key] != "":
			bad(key+".public_key", ps.Key.String(), "peer "+keys[ps.Key]+" has the same key", "each host has its own key: check which one `wg pubkey` prints on this peer")
			continue
		case ps.Encrypted() && vteps[ps.VTEP] != "":
			bad(key+".vtep", ps.VTEP.String(), "peer "+vteps[ps.VTEP]+" has the same VTEP", "give each peer its own, or leave vtep out to derive it from public_key")
			continue
		}
		names[ps.Name] = true
		if ps.Encrypted() {
			keys[ps.Key], vteps[ps.VTEP] = ps.Name, ps.Name
		}
		out = append(out, ps)
	}
	return out
}

func validatePeer(key string, p PeerConfig, port uint16, nets map[string]NetworkSpec, bad func(key, val, problem, fix string)) (PeerSpec, bool) {
	ok := true
	fail := func(k, v, pr, f string) { ok = false; bad(key+"."+k, v, pr, f) }
	ps := PeerSpec{Name: p.Name}
	if !labelRE.MatchString(p.Name) {
		fail("name", p.Name, "not a valid node name", "use lower-case letters, digits and '-'")
	}
	switch {
	case p.Address != "" && p.PublicKey != "":
		fail("address", p.Address, "a peer has either address (plain VXLAN) or public_key (WireGuard), not both",
			"for an encrypted peer put its WireGuard address in endpoint and leave address out")
	case p.PublicKey != "":
		validateEncryptedPeer(p, &ps, fail)
	case p.Address == "":
		fail("address", "", "a static peer needs address (plain VXLAN) or public_key (WireGuard)",
			"add public_key and endpoint for a peer with WireGuard, or address for a plain VXLAN peer")
	default:
		if ap, err := netip.ParseAddrPort(p.Address); err == nil {
			ps.Underlay = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		} else if a, err := netip.ParseAddr(p.Address); err == nil {
			ps.Underlay = netip.AddrPortFrom(a.Unmap(), port)
		} else {
			fail("address", p.Address, "not an IP address or IP:port", "for example 192.0.2.11 or 192.0.2.11:4789")
		}
		for _, kv := range [][2]string{{"endpoint", p.Endpoint}, {"preshared_key_file", p.PresharedKeyFile}, {"vtep", p.VTEP}} {
			if kv[1] != "" {
				fail(kv[0], kv[1], "only encrypted peers have "+kv[0], "add the peer's public_key (and endpoint instead of address), or remove "+kv[0])
			}
		}
	}
	for j, e := range p.Endpoints {
		ek := fmt.Sprintf("endpoints[%d]", j)
		ns, known := nets[e.Network]
		if !known {
			fail(ek+".network", e.Network, "no such network in this config", "add it under networks, or fix the name")
			continue
		}
		switch {
		case ns.Encrypted && p.PublicKey == "":
			fail(ek+".network", e.Network, "a plain VXLAN peer cannot be on an encrypted network",
				"give the peer a public_key (WireGuard), or set encrypted: false on network "+e.Network+" (only on a trusted underlay)")
			continue
		case !ns.Encrypted && p.PublicKey != "":
			fail(ek+".network", e.Network, "an encrypted peer cannot be on a plain network",
				"put the peer on an encrypted network, or make it a plain peer with address instead of public_key")
			continue
		}
		ip, err := netip.ParseAddr(e.IP)
		if err != nil {
			fail(ek+".ip", e.IP, "not an IP address", "for example "+exampleAddr(ns.Subnet))
			continue
		}
		if ns.Subnet.IsValid() && !ns.Subnet.Contains(ip) {
			fail(ek+".ip", e.IP, "not inside network "+e.Network+"'s subnet "+ns.Subnet.String(), "use an address inside it, for example "+exampleAddr(ns.Subnet))
			continue
		}
		ep := EndpointSpec{Network: e.Network, IP: ip}
		if e.MAC == "" {
			ep.MAC = InterfaceMAC(p.Name, e.Network)
		} else if m, err := ParseMAC(e.MAC); err != nil {
			fail(ek+".mac", e.MAC, "not a unicast MAC address", "for example 02:00:5e:10:00:01, or leave it out")
			continue
		} else {
			ep.MAC = m
		}
		ps.Endpoints = append(ps.Endpoints, ep)
	}
	return ps, ok
}

// validateEncryptedPeer reads an encrypted peer's key, WireGuard endpoint,
// preshared key and VTEP into ps.
func validateEncryptedPeer(p PeerConfig, ps *PeerSpec, fail func(k, v, pr, f string)) {
	k, err := keydist.ParseNodePublic(p.PublicKey)
	switch {
	case err != nil:
		fail("public_key", keyHint(p.PublicKey), "not a WireGuard public key",
			"paste what `wg pubkey` prints on the peer: 44 characters of base64 ending in '='")
	case k.IsZero():
		fail("public_key", keyHint(p.PublicKey), "the all-zero key", "paste what `wg pubkey` prints on the peer")
	default:
		ps.Key = k
		ps.VTEP = keydist.VTEP(k)
	}
	if p.Endpoint != "" {
		if ap, err := netip.ParseAddrPort(p.Endpoint); err == nil && ap.Port() != 0 && !ap.Addr().IsUnspecified() {
			ps.WG = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		} else if a, err := netip.ParseAddr(p.Endpoint); err == nil && !a.IsUnspecified() {
			ps.WG = netip.AddrPortFrom(a.Unmap(), encap.DefaultWireGuardPort)
		} else {
			fail("endpoint", p.Endpoint, "not an IP address or IP:port", "for example 192.0.2.11:51820, or leave it out if the peer is behind NAT")
		}
	}
	if p.PresharedKeyFile != "" {
		text, problem, fix := readSecretFile(p.PresharedKeyFile, pskSecret)
		if problem == "" {
			psk, err := keydist.ParsePresharedKey(text)
			if err != nil {
				problem, fix = "does not hold a preshared key (the base64 of 32 bytes)", "write "+pskSecret.source+" into it"
			}
			ps.PSK = psk
		}
		if problem != "" {
			fail("preshared_key_file", p.PresharedKeyFile, problem, fix)
		}
	}
	if p.VTEP != "" {
		a, err := netip.ParseAddr(p.VTEP)
		if err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" || a.As16()[0] != 0xfd {
			fail("vtep", p.VTEP, "not an IPv6 address in fd00::/8", "leave vtep out to derive it from public_key, or use an address like fd42::2")
			return
		}
		ps.VTEP = a
	}
}

// keyHint shows enough of a mistyped key to find it in the file without
// repeating it whole: a private key pasted by mistake must not reach the
// log.
func keyHint(s string) string {
	const show = 6
	if len(s) <= show {
		return s
	}
	return fmt.Sprintf("%s… (%d characters)", s[:show], len(s))
}
