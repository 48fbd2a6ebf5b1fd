package gossip

import (
	"sync"
	"time"

	"github.com/hashicorp/serf/coordinate"

	"meshnet.dev/meshnet/gossip/wire"
)

// vivaldi keeps this node's network coordinate, fed by memberlist probe
// round trips, and the last coordinate each peer reported in its acks.
type vivaldi struct {
	client *coordinate.Client
	now    func() time.Time

	mu    sync.Mutex
	peers map[string]*coordinate.Coordinate
	skew  map[string]time.Duration // peer's clock minus ours
}

func newVivaldi(now func() time.Time) (*vivaldi, error) {
	cfg := coordinate.DefaultConfig()
	cfg.Dimensionality = wire.CoordDims
	c, err := coordinate.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &vivaldi{client: c, now: now, peers: make(map[string]*coordinate.Coordinate), skew: map[string]time.Duration{}}, nil
}

// payload is our coordinate and clock, for our ping acks.
func (v *vivaldi) payload() []byte {
	return wire.AppendCoordinate(nil, v.client.GetCoordinate(), float64(v.now().UnixNano())/1e9)
}

// observe records a ping round trip to node and the coordinate it sent,
// and estimates its clock skew: it built the ack about half a round trip
// before the ack arrived.
func (v *vivaldi) observe(node string, rtt time.Duration, payload []byte) error {
	c, clock, err := wire.DecodeCoordinate(payload)
	if err != nil {
		return err
	}
	if _, err := v.client.Update(node, c, rtt); err != nil {
		return err
	}
	v.mu.Lock()
	v.peers[node] = c
	if clock > 0 {
		theirs := time.Unix(0, int64(clock*1e9))
		v.skew[node] = theirs.Sub(v.now().Add(-rtt / 2))
	}
	v.mu.Unlock()
	return nil
}

// clockSkew is node's clock minus ours, as last estimated.
func (v *vivaldi) clockSkew(node string) (time.Duration, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	s, ok := v.skew[node]
	return s, ok
}

// distance estimates the round trip to node.
func (v *vivaldi) distance(node string) (time.Duration, bool) {
	v.mu.Lock()
	c, ok := v.peers[node]
	v.mu.Unlock()
	if !ok {
		return 0, false
	}
	return v.client.DistanceTo(c), true
}

func (v *vivaldi) forget(node string) {
	v.mu.Lock()
	delete(v.peers, node)
	delete(v.skew, node)
	v.mu.Unlock()
	v.client.ForgetNode(node)
}
