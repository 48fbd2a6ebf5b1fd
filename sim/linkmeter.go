package sim

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/memnet"
)

// linkMeter counts the bytes sent between each pair of regions: packets
// when they are sent (lost ones included, as memnet counts them), stream
// bytes both ways at the dialling end. memnet counts per node only; this
// is the per-link view topology-aware fanout is judged by.
type linkMeter struct {
	mu     sync.RWMutex
	region map[string]int // transport address -> region
	bytes  [Regions][Regions]atomic.Uint64
}

func newLinkMeter() *linkMeter { return &linkMeter{region: make(map[string]int)} }

// LinkBytes is a snapshot of the per-region-pair byte counters:
// [from][to].
type LinkBytes [Regions][Regions]uint64

// CrossRegion is the sum over links between different regions.
func (b LinkBytes) CrossRegion() uint64 {
	var s uint64
	for i := range Regions {
		for j := range Regions {
			if i != j {
				s += b[i][j]
			}
		}
	}
	return s
}

// Total is the sum over all links.
func (b LinkBytes) Total() uint64 {
	var s uint64
	for i := range Regions {
		for j := range Regions {
			s += b[i][j]
		}
	}
	return s
}

// Sub returns b - o.
func (b LinkBytes) Sub(o LinkBytes) LinkBytes {
	for i := range Regions {
		for j := range Regions {
			b[i][j] -= o[i][j]
		}
	}
	return b
}

func (m *linkMeter) snapshot() LinkBytes {
	var out LinkBytes
	for i := range Regions {
		for j := range Regions {
			out[i][j] = m.bytes[i][j].Load()
		}
	}
	return out
}

// wrap registers t's address and returns it wrapped to count its traffic.
func (m *linkMeter) wrap(t *memnet.Transport, region int) *meteredTransport {
	m.mu.Lock()
	m.region[t.Addr().String()] = region
	m.mu.Unlock()
	return &meteredTransport{Transport: t, m: m, region: region}
}

func (m *linkMeter) regionOfAddr(addr string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.region[addr]
	if !ok {
		return -1
	}
	return r
}

func (m *linkMeter) add(from, to int, n int) {
	if from >= 0 && to >= 0 && n > 0 {
		m.bytes[from][to].Add(uint64(n))
	}
}

// meteredTransport is a memnet transport that also counts bytes per
// region pair. It adds no goroutine: incoming streams are counted by the
// dialler, which sees both directions.
type meteredTransport struct {
	*memnet.Transport
	m      *linkMeter
	region int
}

var _ memberlist.NodeAwareTransport = (*meteredTransport)(nil)

func (t *meteredTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	ts, err := t.Transport.WriteTo(b, addr)
	if err == nil {
		t.m.add(t.region, t.m.regionOfAddr(addr), len(b))
	}
	return ts, err
}

func (t *meteredTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	ts, err := t.Transport.WriteToAddress(b, a)
	if err == nil {
		t.m.add(t.region, t.m.regionOfAddr(a.Addr), len(b))
	}
	return ts, err
}

func (t *meteredTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

func (t *meteredTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.Transport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	return &meteredConn{Conn: c, m: t.m, local: t.region, peer: t.m.regionOfAddr(a.Addr)}, nil
}

// meteredConn counts a dialled stream's bytes in both directions.
type meteredConn struct {
	net.Conn
	m           *linkMeter
	local, peer int
}

func (c *meteredConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.m.add(c.local, c.peer, n)
	return n, err
}

func (c *meteredConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.m.add(c.peer, c.local, n)
	return n, err
}
