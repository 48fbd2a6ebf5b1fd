package routing_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"time"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

const vni = 42

var subnet = netip.MustParsePrefix("10.9.0.0/24")

// testNode is one forwarder with a channel device and transport.
type testNode struct {
	name    string
	mac     packet.MAC
	ip      netip.Addr
	addr    netip.AddrPort
	dev     *tun.Channel
	tr      *encap.ChannelTransport
	table   *routing.Table
	fwd     *routing.Forwarder
	port    *routing.Port
	mu      sync.Mutex
	learned []routing.Learned
}

// newCluster builds n nodes that all know each other statically, on one
// unencrypted network.
func newCluster(t *testing.T, n int, secure bool) []*testNode {
	t.Helper()
	cn := encap.NewChannelNetwork()
	nodes := make([]*testNode, n)
	for i := range nodes {
		nodes[i] = &testNode{
			name: string(rune('a' + i)),
			mac:  packet.MAC{2, 0, 0, 0, 0, byte(i + 1)},
			ip:   netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)}),
			addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), encap.Port),
		}
	}
	for _, nd := range nodes {
		nd.dev = tun.NewChannel("dev-"+nd.name, nd.mac, 1450)
		nd.tr = cn.NewTransport(nd.addr, secure)
		nd.table = routing.NewTable()
		nd.table.Update(func(tx *routing.Tx) {
			tx.SetNetwork(routing.NetworkConfig{Name: "blue", VNI: vni, Subnets: []netip.Prefix{subnet}, Encrypted: secure})
			for _, o := range nodes {
				if o == nd {
					tx.SetEndpoint(vni, routing.Endpoint{MAC: o.mac, IP: o.ip})
					continue
				}
				pc := routing.PeerConfig{Name: o.name, Underlay: o.addr}
				if secure {
					pc.VTEP = o.addr
				}
				tx.SetPeer(pc)
				tx.SetMember(vni, o.name, true)
				tx.SetEndpoint(vni, routing.Endpoint{MAC: o.mac, IP: o.ip, Node: o.name})
			}
		})
		cfg := routing.Config{Table: nd.table, Learn: nd.learn}
		if secure {
			cfg.Secure = nd.tr
		} else {
			cfg.Plain = nd.tr
		}
		nd.fwd = routing.New(cfg)
		port, err := nd.fwd.Attach(vni, nd.dev)
		if err != nil {
			t.Fatal(err)
		}
		nd.port = port
		rx := nd.fwd.PlainReceiver()
		if secure {
			rx = nd.fwd.SecureReceiver()
		}
		if err := nd.tr.Start(rx); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); port.Run() }()
		t.Cleanup(func() { nd.dev.Close(); <-done; nd.tr.Close() })
	}
	return nodes
}

func (nd *testNode) learn(l routing.Learned) bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	nd.learned = append(nd.learned, l)
	return true
}

// ipv4Frame builds an Ethernet frame carrying a minimal IPv4/UDP packet.
func ipv4Frame(dst, src packet.MAC, srcIP, dstIP netip.Addr, payload []byte) []byte {
	b := make([]byte, 14+20+8+len(payload))
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], packet.EtherTypeIPv4)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	s, d := srcIP.As4(), dstIP.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	copy(ip[28:], payload)
	return b
}

func expectFrame(t *testing.T, dev *tun.Channel, want []byte) {
	t.Helper()
	select {
	case got := <-dev.Out:
		if !bytes.Equal(got, want) {
			t.Fatalf("%s got frame\n% x\nwant\n% x", dev.Name(), got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no frame arrived", dev.Name())
	}
}

func expectNothing(t *testing.T, dev *tun.Channel) {
	t.Helper()
	select {
	case got := <-dev.Out:
		t.Fatalf("%s: unexpected frame % x", dev.Name(), got)
	default:
	}
}

// waitCounter polls a counter until it reaches want.
func waitCounter(t *testing.T, what string, get func() uint64, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for get() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %d, want %d", what, get(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestUnicastReachesOnlyItsPeer(t *testing.T) {
	for _, secure := range []bool{false, true} {
		nodes := newCluster(t, 3, secure)
		a, b, c := nodes[0], nodes[1], nodes[2]
		f := ipv4Frame(b.mac, a.mac, a.ip, b.ip, []byte("hello b"))
		a.dev.In <- f
		expectFrame(t, b.dev, f)
		waitCounter(t, "a tx", a.port.Stats.TxPackets.Load, 1)
		expectNothing(t, c.dev)
		expectNothing(t, a.dev)
		waitCounter(t, "b rx", b.port.Stats.RxPackets.Load, 1)
		waitCounter(t, "a frames", a.fwd.Frames, 1)
		waitCounter(t, "b frames", b.fwd.Frames, 1)
		if got := c.fwd.Frames(); got != 0 {
			t.Errorf("c moved %d frames, want 0", got)
		}
	}
}

func TestBroadcastIsReplicatedToEveryMember(t *testing.T) {
	nodes := newCluster(t, 3, false)
	a := nodes[0]
	f := ipv4Frame(packet.BroadcastMAC(), a.mac, a.ip, netip.MustParseAddr("10.9.0.255"), []byte("all"))
	a.dev.In <- f
	expectFrame(t, nodes[1].dev, f)
	expectFrame(t, nodes[2].dev, f)
	if got := a.port.Stats.Replicated.Load(); got != 1 {
		t.Fatalf("replicated = %d", got)
	}
}

func TestARPForKnownEndpointAnsweredLocally(t *testing.T) {
	nodes := newCluster(t, 2, false)
	a, b := nodes[0], nodes[1]
	req := make([]byte, 42)
	bc := packet.BroadcastMAC()
	copy(req[0:6], bc[:])
	copy(req[6:12], a.mac[:])
	binary.BigEndian.PutUint16(req[12:14], packet.EtherTypeARP)
	p := req[14:]
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], packet.EtherTypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], 1)
	copy(p[8:14], a.mac[:])
	ai, bi := a.ip.As4(), b.ip.As4()
	copy(p[14:18], ai[:])
	copy(p[24:28], bi[:])
	a.dev.In <- req

	select {
	case rep := <-a.dev.Out:
		arp, err := routing.ParseARP(rep[14:])
		if err != nil {
			t.Fatal(err)
		}
		if arp.Op != 2 || arp.SenderMAC != b.mac || arp.SenderIP != b.ip || arp.TargetMAC != a.mac {
			t.Fatalf("reply %+v", arp)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no ARP reply")
	}
	if a.port.Stats.TxPackets.Load() != 0 {
		t.Fatal("ARP request for a known endpoint went onto the wire")
	}
	expectNothing(t, b.dev)
}

func TestUnknownUnicastDroppedAndCounted(t *testing.T) {
	nodes := newCluster(t, 2, false)
	a := nodes[0]
	a.dev.In <- ipv4Frame(packet.MAC{2, 9, 9, 9, 9, 9}, a.mac, a.ip, netip.MustParseAddr("10.9.0.77"), nil)
	waitCounter(t, "unknown unicast drops", func() uint64 { return a.port.Stats.Drops.Map()["unknown_unicast"] }, 1)
	expectNothing(t, nodes[1].dev)
}

func TestLearnsNewLocalSource(t *testing.T) {
	nodes := newCluster(t, 2, false)
	a, b := nodes[0], nodes[1]
	container := packet.MAC{2, 0xc, 0, 0, 0, 1}
	cip := netip.MustParseAddr("10.9.0.50")
	a.dev.In <- ipv4Frame(b.mac, container, cip, b.ip, nil)
	<-b.dev.Out
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.learned) != 1 || a.learned[0] != (routing.Learned{VNI: vni, MAC: container, IP: cip}) {
		t.Fatalf("learned %+v", a.learned)
	}
}

// TestInboundChecks injects hand-made packets at b and checks each is
// dropped for the right reason.
func TestInboundChecks(t *testing.T) {
	cn := encap.NewChannelNetwork()
	table := routing.NewTable()
	member := netip.MustParseAddrPort("192.0.2.1:4789")
	stranger := netip.MustParseAddrPort("192.0.2.66:4789")
	table.Update(func(tx *routing.Tx) {
		tx.SetNetwork(routing.NetworkConfig{Name: "blue", VNI: vni})
		tx.SetNetwork(routing.NetworkConfig{Name: "secret", VNI: 7, Encrypted: true})
		tx.SetPeer(routing.PeerConfig{Name: "m", Underlay: member})
		tx.SetMember(vni, "m", true)
		tx.SetMember(7, "m", true)
	})
	me := netip.MustParseAddrPort("192.0.2.2:4789")
	tr := cn.NewTransport(me, false)
	fwd := routing.New(routing.Config{Table: table, Plain: tr})
	dev := tun.NewChannel("d", packet.MAC{2, 2}, 1450)
	port, _ := fwd.Attach(vni, dev)
	dev7 := tun.NewChannel("d7", packet.MAC{2, 7}, 1450)
	port7, _ := fwd.Attach(7, dev7)
	tr.Start(fwd.PlainReceiver())
	t.Cleanup(func() { tr.Close(); dev.Close(); dev7.Close() })

	frame := ipv4Frame(packet.BroadcastMAC(), packet.MAC{2, 1}, netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.255"), nil)
	pkt := func(v uint32, f []byte) []byte {
		b := make([]byte, encap.HeaderLen+len(f))
		encap.Encode(b, v)
		copy(b[encap.HeaderLen:], f)
		return b
	}
	cases := []struct {
		name   string
		from   netip.AddrPort
		pkt    []byte
		reason string
		get    func() map[string]uint64
	}{
		{"malformed", member, []byte{1, 2, 3}, "malformed", fwd.Drops().Map},
		{"no I flag", member, make([]byte, 30), "malformed", fwd.Drops().Map},
		{"unknown vni", member, pkt(99, frame), "unknown_vni", fwd.Drops().Map},
		{"stranger", stranger, pkt(vni, frame), "not_member", port.Stats.Drops.Map},
		{"runt", member, pkt(vni, frame[:10]), "runt", port.Stats.Drops.Map},
		{"plaintext on encrypted", member, pkt(7, frame), "plaintext_on_encrypted", port7.Stats.Drops.Map},
	}
	for _, c := range cases {
		before := c.get()[c.reason]
		if err := cn.Inject(me, c.from, c.pkt); err != nil {
			t.Fatal(err)
		}
		waitCounter(t, c.name, func() uint64 { return c.get()[c.reason] }, before+1)
	}
	expectNothing(t, dev)
	expectNothing(t, dev7)

	// And a good one gets through.
	if err := cn.Inject(me, member, pkt(vni, frame)); err != nil {
		t.Fatal(err)
	}
	expectFrame(t, dev, frame)
}
