package encap

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"meshnet.dev/meshnet/internal/testenv"
)

// Addresses inside the test's own namespaces.
const (
	kernelVNI   = 42
	kernelMAC   = "02:00:00:00:00:0a" // the kernel vxlan device
	meshnetMAC  = "02:00:00:00:00:0b" // the frames the Plain side answers as
	kernelUnder = "10.42.0.1"         // underlay, kernel side
	plainUnder  = "10.42.0.2"         // underlay, Plain side
	kernelOver  = "192.168.42.1"      // overlay address of the vxlan device
	plainOver   = "192.168.42.2"      // overlay address the Plain side answers for
)

// run runs a host command and fails the test with its output if it fails.
func run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newNamespace creates a network namespace named prefix plus a random
// suffix and deletes it when the test ends.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%06x", prefix, rand.Uint32()&0xffffff)
	run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("deleting namespace %s: %v\n%s", name, err, out)
		}
	})
	return name
}

// inNamespace runs fn on a thread switched into namespace name; sockets fn
// opens stay in that namespace.
func inNamespace(t *testing.T, name string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("current namespace: %v", err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(name)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("namespace %s: %v", name, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("entering namespace %s: %v", name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// Stay locked: the runtime retires the thread with this
			// goroutine instead of reusing it in the wrong namespace.
			t.Errorf("leaving namespace %s: %v", name, err)
			return
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// icmpResponder answers ICMP echo requests for plainOver that arrive over
// VXLAN, sending the reply back to the sender's VXLAN port, and records
// the headers of what it saw.
type icmpResponder struct {
	t  *testing.T
	tr Transport

	mu      sync.Mutex
	vnis    []uint32
	from    []netip.AddrPort
	srcMACs []string
	replies int
}

func (r *icmpResponder) Receive(bufs [][]byte, sizes []int, offset int, from []netip.AddrPort) {
	for i, b := range bufs {
		pkt := b[offset : offset+sizes[i]]
		h, err := Parse(pkt)
		if err != nil || len(pkt) < HeaderLen+14 {
			r.t.Errorf("kernel sent a packet that is not VXLAN+Ethernet: %v (% x)", err, pkt)
			continue
		}
		frame := pkt[HeaderLen:]
		r.mu.Lock()
		r.vnis = append(r.vnis, h.VNI)
		r.from = append(r.from, from[i])
		r.srcMACs = append(r.srcMACs, macString(frame[6:12]))
		r.mu.Unlock()
		if !echoReply(frame) {
			continue
		}
		Encode(pkt, h.VNI)
		// Kernel VTEPs send from a flow-hashed port but listen on 4789.
		dst := netip.AddrPortFrom(from[i].Addr(), Port)
		if err := r.tr.Send([][]byte{b[:offset+sizes[i]]}, offset, dst); err != nil {
			r.t.Errorf("sending echo reply to %s: %v", dst, err)
			continue
		}
		r.mu.Lock()
		r.replies++
		r.mu.Unlock()
	}
}

func macString(b []byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5])
}

// echoReply turns an Ethernet frame holding an IPv4 ICMP echo request into
// its reply, in place. It reports false for any other frame.
func echoReply(frame []byte) bool {
	if len(frame) < 14+20+8 || binary.BigEndian.Uint16(frame[12:14]) != 0x0800 {
		return false
	}
	ip := frame[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || ip[9] != 1 {
		return false
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total > len(ip) || total < ihl+8 || ip[ihl] != 8 {
		return false
	}
	var mac [6]byte
	copy(mac[:], frame[0:6])
	copy(frame[0:6], frame[6:12])
	copy(frame[6:12], mac[:])
	// Swapping the addresses leaves the IP header checksum valid: the
	// ones' complement sum does not depend on the order of its terms.
	var addr [4]byte
	copy(addr[:], ip[12:16])
	copy(ip[12:16], ip[16:20])
	copy(ip[16:20], addr[:])
	icmp := ip[ihl:total]
	icmp[0] = 0 // echo reply
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:4], inetChecksum(icmp))
	return true
}

func inetChecksum(b []byte) uint16 {
	var sum uint32
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(binary.BigEndian.Uint16(b))
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// rxPackets reads a link's received-packet counter in namespace ns.
func rxPackets(t *testing.T, ns, dev string) uint64 {
	t.Helper()
	var links []struct {
		Stats64 struct {
			RX struct {
				Packets uint64 `json:"packets"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	out := run(t, "ip", "-n", ns, "-j", "-s", "link", "show", "dev", dev)
	if err := json.Unmarshal([]byte(out), &links); err != nil || len(links) != 1 {
		t.Fatalf("parsing `ip -j -s link show %s`: %v\n%s", dev, err, out)
	}
	return links[0].Stats64.RX.Packets
}

// TestPlainInteropKernelVXLAN puts a kernel vxlan device (VNI 42, port
// 4789, no learning, a static FDB entry) in one namespace and a Plain
// transport in another, joined by a veth. The kernel pings an overlay
// address that the Plain side answers: the request shows the kernel's
// frames reach us with VNI 42, the reply reaching ping shows the kernel
// accepts ours.
func TestPlainInteropKernelVXLAN(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "bridge", "ping")

	nsK := newNamespace(t, "mnenc-k-")
	nsP := newNamespace(t, "mnenc-p-")
	run(t, "ip", "-n", nsK, "link", "add", "vk", "type", "veth", "peer", "name", "vp", "netns", nsP)
	run(t, "ip", "-n", nsK, "addr", "add", kernelUnder+"/24", "dev", "vk")
	run(t, "ip", "-n", nsP, "addr", "add", plainUnder+"/24", "dev", "vp")
	for _, l := range []struct{ ns, dev string }{{nsK, "lo"}, {nsK, "vk"}, {nsP, "lo"}, {nsP, "vp"}} {
		run(t, "ip", "-n", l.ns, "link", "set", l.dev, "up")
	}
	run(t, "ip", "-n", nsK, "link", "add", "vx42", "type", "vxlan", "id", fmt.Sprint(kernelVNI),
		"dstport", fmt.Sprint(Port), "nolearning", "local", kernelUnder, "dev", "vk")
	run(t, "ip", "-n", nsK, "link", "set", "vx42", "address", kernelMAC)
	run(t, "ip", "-n", nsK, "addr", "add", kernelOver+"/24", "dev", "vx42")
	run(t, "ip", "-n", nsK, "link", "set", "vx42", "up")
	run(t, "bridge", "-n", nsK, "fdb", "add", meshnetMAC, "dev", "vx42", "dst", plainUnder, "self", "permanent")
	run(t, "ip", "-n", nsK, "neigh", "add", plainOver, "lladdr", meshnetMAC, "dev", "vx42", "nud", "permanent")

	t.Run("port held by kernel vxlan", func(t *testing.T) {
		inNamespace(t, nsK, func() {
			p, err := NewPlain(PlainConfig{})
			if err == nil {
				p.Close()
				t.Fatal("Plain opened port 4789 next to a kernel vxlan device")
			}
			if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "4789") {
				t.Errorf("error %q: want EADDRINUSE naming port 4789", err)
			}
		})
	})

	var p *Plain
	inNamespace(t, nsP, func() {
		var err error
		if p, err = NewPlain(PlainConfig{}); err != nil {
			t.Fatalf("NewPlain in namespace %s: %v", nsP, err)
		}
	})
	t.Cleanup(func() { p.Close() })
	if p.LocalPort() != Port {
		t.Fatalf("default port is %d, want %d", p.LocalPort(), Port)
	}
	resp := &icmpResponder{t: t, tr: p}
	if err := p.Start(resp); err != nil {
		t.Fatal(err)
	}
	rxBefore := rxPackets(t, nsK, "vx42")

	const pings = 3
	run(t, "ip", "netns", "exec", nsK, "ping", "-n", "-c", fmt.Sprint(pings), "-i", "0.2", "-W", "5", plainOver)

	resp.mu.Lock()
	defer resp.mu.Unlock()
	if resp.replies < pings {
		t.Errorf("answered %d echo requests, want %d", resp.replies, pings)
	}
	for i, vni := range resp.vnis {
		if vni != kernelVNI || resp.from[i].Addr() != netip.MustParseAddr(kernelUnder) || resp.srcMACs[i] != kernelMAC {
			t.Errorf("packet %d: VNI %d from %s, inner source %s; want VNI %d from %s, source %s",
				i, vni, resp.from[i], resp.srcMACs[i], kernelVNI, kernelUnder, kernelMAC)
		}
	}
	if got := rxPackets(t, nsK, "vx42") - rxBefore; got < pings {
		t.Errorf("kernel vxlan device received %d packets, want at least %d", got, pings)
	}
}
