package control

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Path MTU probing: ICMP echo requests of decreasing size with "don't
// fragment" set, towards a peer's underlay address; the largest one that
// is answered is the path MTU. A link that silently drops oversized frames
// (a bridge, a tunnel) shows up as a timeout, which a probe relying on
// ICMP "fragmentation needed" would miss.

const (
	pmtuTimeout = 300 * time.Millisecond
	pmtuTries   = 2
)

// errNeedRaw reports that the process may not open raw ICMP sockets.
var errNeedRaw = errors.New("probing the path MTU needs CAP_NET_RAW (root)")

// probeSeq makes every probe's sequence number unique in this process.
var probeSeq atomic.Uint32

// pathMTU finds the path MTU towards dst, at most upper.
func pathMTU(dst netip.Addr, upper int) (int, error) {
	network, proto, lower := "ip4:icmp", 1, 576
	if dst.Is6() {
		network, proto, lower = "ip6:ipv6-icmp", 58, 1280
	}
	c, err := net.ListenPacket(network, "")
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) {
			return 0, errNeedRaw
		}
		return 0, err
	}
	defer c.Close()
	if err := setDontFragment(c.(*net.IPConn), dst.Is6()); err != nil {
		return 0, err
	}
	ok := func(mtu int) bool {
		for range pmtuTries {
			if echo(c, dst, proto, mtu) {
				return true
			}
		}
		return false
	}
	if ok(upper) {
		return upper, nil
	}
	if !ok(lower) {
		return 0, fmt.Errorf("no echo reply from %s even at %d bytes (ICMP blocked or host down)", dst, lower)
	}
	for upper-lower > 1 { // invariant: lower answered, upper did not
		mid := (lower + upper) / 2
		if ok(mid) {
			lower = mid
		} else {
			upper = mid
		}
	}
	return lower, nil
}

// setDontFragment makes the socket send with DF set, ignoring the kernel's
// cached path MTU, so oversized probes leave and are dropped on the path.
func setDontFragment(c *net.IPConn, v6 bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_PROBE)
		} else {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_PROBE)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// echo sends one echo request making an IP packet of mtu bytes and reports
// whether its reply arrived in time.
func echo(c net.PacketConn, dst netip.Addr, proto, mtu int) bool {
	hdr := 20
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if dst.Is6() {
		hdr, typ = 40, ipv6.ICMPTypeEchoRequest
	}
	seq := int(probeSeq.Add(1) & 0xffff)
	id := os.Getpid() & 0xffff
	msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: seq, Data: make([]byte, mtu-hdr-8)}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return false
	}
	if _, err := c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice()}); err != nil {
		return false // EMSGSIZE: larger than the local link
	}
	deadline := time.Now().Add(pmtuTimeout)
	buf := make([]byte, 65536)
	for {
		c.SetReadDeadline(deadline)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return false
		}
		if a, ok := netip.AddrFromSlice(from.(*net.IPAddr).IP); !ok || a.Unmap() != dst {
			continue
		}
		reply, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		if e, ok := reply.Body.(*icmp.Echo); ok && e.Seq == seq && (reply.Type == ipv4.ICMPTypeEchoReply || reply.Type == ipv6.ICMPTypeEchoReply) {
			return true
		}
	}
}
