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

	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/routing"
	"meshnet.dev/meshnet/tun"
)

// fakeHost is one in-process node on channel devices and transport.
type fakeHost struct {
	name string
	addr netip.AddrPort
	ip   netip.Addr
	node *Node
	mu   sync.Mutex
	devs map[string]*tun.Channel
}

func (h *fakeHost) dev(t *testing.T, name string) *tun.Channel {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		d := h.devs[name]
		h.mu.Unlock()
		if d != nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: device %s never created", h.name, name)
		}
		time.Sleep(time.Millisecond)
	}
}

// startFakeCluster runs n nodes in this process, each statically knowing the
// others, on one network.
func startFakeCluster(t *testing.T, n int) []*fakeHost {
	t.Helper()
	cn := encap.NewChannelNetwork()
	hosts := make([]*fakeHost, n)
	for i := range hosts {
		hosts[i] = &fakeHost{
			name: fmt.Sprintf("host%d", i+1),
			addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), encap.Port),
			ip:   netip.AddrFrom4([4]byte{10, 50, 0, byte(i + 1)}),
			devs: map[string]*tun.Channel{},
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, h := range hosts {
		cfg := DefaultConfig()
		cfg.Name = h.name
		cfg.StateDir = t.TempDir()
		cfg.Networks = []NetworkConfig{{Name: "blue", VNI: 100, Subnet: "10.50.0.0/24", Address: h.ip.String()}}
		for _, o := range hosts {
			if o != h {
				cfg.Peers = append(cfg.Peers, PeerConfig{Name: o.name, Address: o.addr.String(),
					Endpoints: []EndpointConfig{{Network: "blue", IP: o.ip.String()}}})
			}
		}
		links := tun.NewFakeLinks()
		h := h
		nd, err := New(cfg, Options{
			Logger: testLogger(t),
			Links:  links,
			Plain:  cn.NewTransport(h.addr, false),
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := nd.Run(ctx); err != nil {
				t.Errorf("%s: %v", h.name, err)
			}
		}()
	}
	return hosts
}

func udpFrame(dst, src routing.MAC, srcIP, dstIP netip.Addr, payload string) []byte {
	b := make([]byte, 14+28+len(payload))
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:14], routing.EtherTypeIPv4)
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

func TestTwoAndThreeNodesExchangeFrames(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			hosts := startFakeCluster(t, n)
			for _, from := range hosts {
				for _, to := range hosts {
					if from == to {
						continue
					}
					src, dst := InterfaceMAC(from.name, "blue"), InterfaceMAC(to.name, "blue")
					f := udpFrame(dst, src, from.ip, to.ip, "from "+from.name+" to "+to.name)
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
			st := hosts[0].node.Status()
			if len(st.Networks) != 1 || st.Networks[0].Counters.TxPackets != uint64(n-1) || len(st.Peers) != n-1 {
				t.Fatalf("status %+v", st)
			}
		})
	}
}
