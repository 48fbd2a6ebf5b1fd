package encap

import (
	"fmt"
	"net/netip"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vishvananda/netns"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun"

	"meshnet.dev/meshnet/internal/testenv"
)

// stockPeer is a host running stock WireGuard (wireguard-go on a kernel
// TUN device, wg0) in a namespace.
type stockPeer struct {
	dev  *device.Device
	key  testKey
	pub  [32]byte
	vtep netip.Addr
	port uint16
}

// nsBind opens its sockets in one network namespace whichever goroutine
// asks: wireguard-go reopens its bind from its own goroutines too (on the
// TUN's "up" event), which run in the host's namespace.
type nsBind struct {
	conn.Bind
	ns netns.NsHandle
}

func (b nsBind) Open(port uint16) (fns []conn.ReceiveFunc, actual uint16, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return nil, 0, err
	}
	defer orig.Close()
	if err := netns.Set(b.ns); err != nil {
		return nil, 0, err
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			panic(rerr) // never hand this thread back in the wrong namespace
		}
	}()
	return b.Bind.Open(port)
}

// newStockPeer starts wg0 in the calling thread's namespace with one peer,
// the meshnet transport mine.
func newStockPeer(t *testing.T, mine *wgNode) *stockPeer {
	t.Helper()
	s := &stockPeer{key: newTestKey(t)}
	s.pub = publicOf(t, s.key)
	s.vtep = vtepOfKey(s.pub)
	tdev, err := tun.CreateTUN("wg0", 1420)
	if err != nil {
		t.Fatalf("creating TUN wg0: %v", err)
	}
	here, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { here.Close() })
	s.dev = device.NewDevice(tdev, nsBind{conn.NewStdNetBind(), here}, device.NewLogger(device.LogLevelSilent, ""))
	t.Cleanup(s.dev.Close)
	err = s.dev.IpcSet(fmt.Sprintf("private_key=%s\nlisten_port=0\npublic_key=%x\nendpoint=127.0.0.1:%d\nallowed_ip=%s/128\n",
		s.key.UAPIHex(), mine.pub, mine.w.LocalPort(), mine.vtep))
	if err != nil {
		t.Fatalf("configuring wg0: %v", err)
	}
	if err := s.dev.Up(); err != nil {
		t.Fatalf("bringing wg0 up: %v", err)
	}
	state, err := s.dev.IpcGet()
	if err != nil {
		t.Fatal(err)
	}
	d, err := parseIpcGet(state)
	if err != nil {
		t.Fatal(err)
	}
	s.port = d.listenPort
	return s
}

// udp6InCsumErrors reads the kernel's count of IPv6 UDP checksum failures
// in namespace ns.
func udp6InCsumErrors(t *testing.T, ns string) uint64 {
	t.Helper()
	out := run(t, "ip", "netns", "exec", ns, "cat", "/proc/net/snmp6")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Udp6InCsumErrors" {
			n, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no Udp6InCsumErrors in /proc/net/snmp6:\n%s", out)
	return 0
}

// TestWireGuardInteropKernelVXLAN runs the design's interoperability claim:
// a host with stock WireGuard (wireguard-go on a TUN device) and a kernel
// vxlan device over it is a valid peer. The kernel pings an overlay address
// that the meshnet side answers: the request shows the kernel's VXLAN
// reaches us through WireGuard with its VTEP as sender; the reply reaching
// ping shows the kernel accepts our IPv6, UDP (checksum included) and
// VXLAN headers.
func TestWireGuardInteropKernelVXLAN(t *testing.T) {
	testenv.RequireRoot(t)
	testenv.RequireTools(t, "ip", "ping")

	ns := newNamespace(t, "mnwg-k-")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	resp := &icmpResponder{t: t}
	var mine *wgNode
	var stock *stockPeer
	inNamespace(t, ns, func() {
		mine = newWGNodeReceiving(t, nil, resp)
		stock = newStockPeer(t, mine)
	})
	resp.tr = mine.w
	mine.setPeers(WGPeer{PublicKey: stock.pub, Endpoint: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), stock.port), VTEP: stock.vtep})

	ipn := func(args ...string) { run(t, append([]string{"ip", "-n", ns}, args...)...) }
	ipn("addr", "add", stock.vtep.String()+"/128", "dev", "wg0", "nodad")
	ipn("link", "set", "wg0", "up")
	ipn("-6", "route", "add", mine.vtep.String()+"/128", "dev", "wg0")
	ipn("link", "add", "vx42", "type", "vxlan", "id", fmt.Sprint(kernelVNI), "dstport", fmt.Sprint(Port),
		"local", stock.vtep.String(), "remote", mine.vtep.String(), "nolearning")
	ipn("link", "set", "vx42", "address", kernelMAC)
	ipn("addr", "add", kernelOver+"/24", "dev", "vx42")
	ipn("link", "set", "vx42", "up")
	ipn("neigh", "add", plainOver, "lladdr", meshnetMAC, "dev", "vx42", "nud", "permanent")
	rxBefore := rxPackets(t, ns, "vx42")
	csumBefore := udp6InCsumErrors(t, ns)

	const pings = 3
	// Not run(): when ping fails, the counters below say why.
	if out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-c", fmt.Sprint(pings), "-i", "0.2", "-W", "5", plainOver).CombinedOutput(); err != nil {
		t.Errorf("ping through the overlay: %v\n%s", err, out)
	}

	resp.mu.Lock()
	defer resp.mu.Unlock()
	if resp.replies < pings {
		t.Errorf("answered %d echo requests, want %d", resp.replies, pings)
	}
	want := netip.AddrPortFrom(stock.vtep, Port)
	for i, vni := range resp.vnis {
		if vni != kernelVNI || resp.from[i] != want || resp.srcMACs[i] != kernelMAC {
			t.Errorf("packet %d: VNI %d from %s, inner source %s; want VNI %d from %s, source %s",
				i, vni, resp.from[i], resp.srcMACs[i], kernelVNI, want, kernelMAC)
		}
	}
	if got := rxPackets(t, ns, "vx42") - rxBefore; got < pings {
		t.Errorf("kernel vxlan device received %d packets, want at least %d", got, pings)
	}
	if got := udp6InCsumErrors(t, ns) - csumBefore; got != 0 {
		t.Errorf("the kernel counted %d IPv6 UDP checksum errors", got)
	}
	if d := mine.w.Drops(); mine.w.Stats().Dropped != 0 {
		t.Errorf("the transport dropped kernel packets: %v", d)
	}
}
