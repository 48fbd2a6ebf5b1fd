package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/gossip/memnet"
	"meshnet.dev/meshnet/internal/packet"
	"meshnet.dev/meshnet/node/api"
	"meshnet.dev/meshnet/tun"

	"meshnet.dev/meshnet/node/config"
)

// fakeHost is one in-process node on channel devices, the channel VXLAN
// transport and in-memory gossip.
type fakeHost struct {
	name     string
	stateDir string
	node     *Node
	cfg      config.Config // what it was started with
	gossip   *memnet.Transport
	mu       sync.Mutex
	devs     map[string]*tun.Channel
	cancel   context.CancelFunc
	done     chan struct{}
}

func (h *fakeHost) dev(t *testing.T, name string) *tun.Channel {
	t.Helper()
	var d *tun.Channel
	poll(t, 10*time.Second, h.name+" device "+name, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		d = h.devs[name]
		return d != nil
	})
	return d
}

func fastGossip(c *memberlist.Config) {
	c.ProbeInterval = 100 * time.Millisecond
	c.ProbeTimeout = 50 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = 2 * time.Second
	c.SuspicionMult = 2
	c.TCPTimeout = 500 * time.Millisecond
	c.DeadNodeReclaimTime = 200 * time.Millisecond
}

// fakeCluster runs nodes in this process. The first defines network blue;
// the others join it through the first and get addresses by IPAM.
type fakeCluster struct {
	t      *testing.T
	gossip *memnet.Network
	vxlan  *encap.ChannelNetwork
	hosts  []*fakeHost
	// rotation, if set, is the admin node's key rotation interval.
	rotation time.Duration
	moves    int // restarts so far, each on new addresses
	// configure, if set, changes each node's config before it starts.
	configure func(*config.Config)
}

func newFakeCluster(t *testing.T, n int) *fakeCluster {
	c := &fakeCluster{t: t, gossip: memnet.New(1), vxlan: encap.NewChannelNetwork()}
	for i := range n {
		c.start(fmt.Sprintf("host%d", i+1))
	}
	return c
}

func (c *fakeCluster) start(name string) *fakeHost {
	h := c.run(len(c.hosts), name, c.t.TempDir(), true)
	c.hosts = append(c.hosts, h)
	return h
}

// restart stops host i and starts it again from its state directory, on
// a new gossip and VXLAN address, as a node that moved would come back.
func (c *fakeCluster) restart(i int) *fakeHost {
	old := c.hosts[i]
	old.cancel()
	<-old.done
	c.moves++
	c.hosts[i] = c.run(len(c.hosts)+c.moves, old.name, old.stateDir, false)
	return c.hosts[i]
}

// run starts the node name with state in dir as the idx-th address; a
// fresh node joins with a token, a restarted one with the keys it has.
func (c *fakeCluster) run(idx int, name, dir string, fresh bool) *fakeHost {
	t := c.t
	h := &fakeHost{name: name, stateDir: dir, devs: map[string]*tun.Channel{}, gossip: c.gossip.NewTransport(name), done: make(chan struct{})}
	cfg := config.DefaultConfig()
	cfg.Name = name
	cfg.StateDir = dir
	cfg.Gossip.Interval = 50 * time.Millisecond
	cfg.Gossip.BulkSyncInterval = 2 * time.Second
	if idx == 0 {
		cfg.Networks = []config.NetworkConfig{{Name: "blue", Subnet: "10.50.0.0/24", Encrypted: new(bool)}}
		if c.rotation != 0 {
			cfg.Keys.RotationInterval = c.rotation
		}
	} else {
		cfg.Networks = []config.NetworkConfig{{Name: "blue"}}
		cfg.Join = []string{c.hosts[0].gossip.Addr().String()}
		if fresh {
			cfg.Token = c.token()
		}
	}
	if c.configure != nil {
		c.configure(&cfg)
	}
	h.cfg = cfg
	vx := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(idx + 1)}), encap.Port)
	nd, err := New(cfg, Options{
		Logger:          testLogger(t),
		Links:           tun.NewFakeLinks(),
		Plain:           c.vxlan.NewTransport(vx, false),
		Underlay:        vx,
		GossipTransport: h.gossip,
		GossipTune:      fastGossip,
		NewDevice: func(ds DeviceSpec) (tun.Device, error) {
			d := tun.NewChannel(ds.Name, ds.MAC, ds.MTU)
			h.mu.Lock()
			h.devs[ds.Name] = d
			h.mu.Unlock()
			return d, nil
		},
		SkipControl: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.node = nd
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		defer close(h.done)
		if err := nd.Run(ctx); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}()
	t.Cleanup(func() { cancel(); <-h.done })
	return h
}

// token gets a join token from the first (admin) node.
func (c *fakeCluster) token() string {
	admin := c.hosts[0].node
	select {
	case <-admin.Ready():
	case <-time.After(10 * time.Second):
		c.t.Fatal("first node never came up")
	}
	tok, err := admin.IssueToken(time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok.Token
}

// converged waits until every node sees every node's address on blue.
func (c *fakeCluster) converged() map[string]netip.Addr {
	addrs := map[string]netip.Addr{}
	poll(c.t, 30*time.Second, "every node seeing every address", func() bool {
		for _, h := range c.hosts {
			st := h.node.Status()
			if len(st.Networks) != 1 || st.Networks[0].Address == "" || len(st.Networks[0].Endpoints) != len(c.hosts) {
				return false
			}
			addrs[h.name] = netip.MustParsePrefix(st.Networks[0].Address).Addr()
		}
		return true
	})
	return addrs
}

func TestGossipClusterForwardsFrames(t *testing.T) {
	c := newFakeCluster(t, 3)
	addrs := c.converged()
	for _, from := range c.hosts {
		for _, to := range c.hosts {
			if from == to {
				continue
			}
			src, dst := config.InterfaceMAC(from.name, "blue"), config.InterfaceMAC(to.name, "blue")
			f := udpFrame(dst, src, addrs[from.name], addrs[to.name], "from "+from.name+" to "+to.name)
			from.dev(t, "mn-blue").In <- f
			select {
			case got := <-to.dev(t, "mn-blue").Out:
				if !bytes.Equal(got, f) {
					t.Fatalf("%s→%s: frame changed in transit", from.name, to.name)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s→%s: frame lost", from.name, to.name)
			}
		}
	}
	st := c.hosts[0].node.Status()
	if st.Networks[0].Counters.TxPackets != 2 || st.Node.Members != 3 {
		t.Fatalf("status %+v", st)
	}
}

// TestConcurrentIPAMClaimsEndUnique starts 20 nodes at once; every one
// claims an address block at the same moment, and in the end no address is
// used twice and every node sees all 20.
func TestConcurrentIPAMClaimsEndUnique(t *testing.T) {
	if testing.Short() {
		t.Skip("20-node cluster")
	}
	c := newFakeCluster(t, 20)
	addrs := c.converged()
	seen := map[netip.Addr]string{}
	for name, a := range addrs {
		if other, dup := seen[a]; dup {
			t.Fatalf("%s and %s both use %s", name, other, a)
		}
		seen[a] = name
	}
	for _, h := range c.hosts {
		if d := h.node.Status().Duplicates; len(d) != 0 {
			t.Fatalf("%s reports duplicates %+v", h.name, d)
		}
	}
}

func TestJoinedNetworkWaitsForItsDefinition(t *testing.T) {
	c := newFakeCluster(t, 2)
	c.converged()
	h := c.hosts[1]
	if err := h.node.JoinNetwork("green", api.JoinNetwork{}); err != nil {
		t.Fatal(err)
	}
	poll(t, 5*time.Second, "green waiting", func() bool {
		w := h.node.Status().Waiting
		return len(w) == 1 && w[0] == "green"
	})
	if _, err := c.hosts[0].node.CreateNetwork(api.CreateNetwork{Name: "green", Subnet: "10.60.0.0/24"}); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "green attached on host2", func() bool {
		for _, n := range h.node.Status().Networks {
			if n.Name == "green" && n.Address != "" {
				return true
			}
		}
		return false
	})
	if _, err := c.hosts[1].node.CreateNetwork(api.CreateNetwork{Name: "green", Subnet: "10.70.0.0/24"}); err == nil {
		t.Fatal("second definition of green accepted")
	}
}

func udpFrame(dst, src packet.MAC, srcIP, dstIP netip.Addr, payload string) []byte {
	b := make([]byte, 14+28+len(payload))
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], packet.EtherTypeIPv4)
	ip := b[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(28+len(payload)))
	ip[8], ip[9] = 64, 17
	s, d := srcIP.As4(), dstIP.As4()
	copy(ip[12:16], s[:])
	copy(ip[16:20], d[:])
	copy(ip[28:], payload)
	return b
}

func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A node remembers its live peers as seeds as soon as it sees them, not
// on the next reconnect tick, so a restart right after joining finds the
// cluster.
func TestSeedsRememberedOnJoin(t *testing.T) {
	c := newFakeCluster(t, 2)
	want := c.hosts[0].gossip.Addr().String()
	poll(t, 5*time.Second, "host2 remembering host1 as a seed", func() bool {
		seeds := c.hosts[1].node.current().seeds
		return len(seeds) == 1 && seeds[0] == want
	})
}
