package control

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"meshnet.dev/meshnet/node/api"

	"meshnet.dev/meshnet/node/config"
)

// maxPings bounds one ping request.
const maxPings = 100

// Ping resolves target (a node name or an overlay address), describes the
// overlay path to it — which network, which peer, direct underlay address,
// encrypted or not and when WireGuard last handshook — and measures the
// round trip with ICMP echo over the overlay.
func Ping(s State, req api.PingRequest) (api.PingResult, error) {
	count := min(max(req.Count, 1), maxPings)
	res, a, err := resolvePath(&s, req.Target)
	if err != nil {
		return res, err
	}
	dst := netip.MustParseAddr(res.Address)
	for i := range count {
		if i > 0 {
			time.Sleep(200 * time.Millisecond) // pacing between echo requests
		}
		res.Sent++
		rtt, err := echoOverlay(a, dst, i)
		if err != nil {
			if errors.Is(err, errNeedRaw) {
				return res, err
			}
			continue
		}
		res.Received++
		res.RTTsMs = append(res.RTTsMs, float64(rtt.Microseconds())/1000)
	}
	return res, nil
}

// resolvePath finds the overlay address, network and owning node of target.
func resolvePath(s *State, target string) (api.PingResult, Network, error) {
	res := api.PingResult{Target: target}
	ip, ipErr := netip.ParseAddr(target)
	for _, a := range s.Networks {
		net := s.Table.Network(a.Def.VNI)
		if net == nil {
			continue
		}
		for _, e := range net.Endpoints() {
			byName := ipErr != nil && e.MAC == config.InterfaceMAC(target, a.Def.Name) && e.IP.IsValid()
			if byName || (ipErr == nil && e.IP == ip) {
				res.Address, res.Network, res.Encrypted = e.IP.String(), a.Def.Name, a.Def.Encrypted
				res.Node = cmp.Or(e.Node, s.Name)
				describePeer(s, &res)
				return res, a, nil
			}
		}
		if ipErr == nil && a.Def.Subnet.Contains(ip) {
			res.Address, res.Network, res.Encrypted = ip.String(), a.Def.Name, a.Def.Encrypted
			return res, a, nil // not a known endpoint: the echo will tell
		}
	}
	return res, Network{}, fmt.Errorf("%q is neither a node nor an address on a network this node is attached to", target)
}

// describePeer fills in how the overlay reaches res.Node.
func describePeer(s *State, res *api.PingResult) {
	for _, m := range s.Members {
		if m.Name != res.Node || m.MetaErr != nil {
			continue
		}
		res.Underlay = m.Meta.VXLAN.String()
		if res.Encrypted {
			res.Underlay = m.Meta.WG.String()
			if w, ok := s.wireGuard(m.Meta.Key.Raw32()); ok {
				res.Handshake = w.LastHandshake
			}
		}
	}
}

// echoOverlay sends one echo request to dst over network a and waits for
// its reply: through the userspace stack in netstack mode, else through
// the kernel, which routes overlay addresses to the device.
func echoOverlay(a Network, dst netip.Addr, seq int) (time.Duration, error) {
	typ, replyType, proto, network := icmp.Type(ipv4.ICMPTypeEcho), icmp.Type(ipv4.ICMPTypeEchoReply), 1, "ip4:icmp"
	if dst.Is6() {
		typ, replyType, proto, network = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58, "ip6:ipv6-icmp"
	}
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: os.Getpid() & 0xffff, Seq: seq, Data: []byte("meshnet ping")}}
	b, _ := msg.Marshal(nil)
	var c net.Conn
	var pc net.PacketConn
	var err error
	if a.Stack != nil {
		c, err = a.Stack.Net().DialPingAddr(a.Addr, dst)
	} else {
		pc, err = net.ListenPacket(network, "")
		if errors.Is(err, os.ErrPermission) {
			return 0, errNeedRaw
		}
	}
	if err != nil {
		return 0, err
	}
	start := time.Now()
	deadline := start.Add(time.Second)
	buf := make([]byte, 1500)
	if c != nil {
		defer c.Close()
		c.SetDeadline(deadline)
		if _, err := c.Write(b); err != nil {
			return 0, err
		}
		for {
			k, err := c.Read(buf)
			if err != nil {
				return 0, err
			}
			if r, err := icmp.ParseMessage(proto, buf[:k]); err == nil && r.Type == replyType {
				return time.Since(start), nil
			}
		}
	}
	defer pc.Close()
	pc.SetDeadline(deadline)
	if _, err := pc.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return 0, err
	}
	for {
		k, from, err := pc.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		r, err := icmp.ParseMessage(proto, buf[:k])
		if err != nil || r.Type != replyType {
			continue
		}
		if e, ok := r.Body.(*icmp.Echo); ok && e.Seq == seq && from.(*net.IPAddr).IP.Equal(dst.AsSlice()) {
			return time.Since(start), nil
		}
	}
}
