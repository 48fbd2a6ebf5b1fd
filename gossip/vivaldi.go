package gossip

import (
	"sync"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

// vivaldi keeps this node's network coordinate, fed by memberlist probe
// round trips, and the last coordinate each peer reported in its acks.
type vivaldi struct {
	client *coordinate.Client

	mu    sync.Mutex
	peers map[string]*coordinate.Coordinate
}

func newVivaldi() (*vivaldi, error) {
	cfg := coordinate.DefaultConfig()
	cfg.Dimensionality = coordDims
	c, err := coordinate.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &vivaldi{client: c, peers: make(map[string]*coordinate.Coordinate)}, nil
}

// payload is our coordinate, for our ping acks.
func (v *vivaldi) payload() []byte {
	return appendCoordinate(nil, v.client.GetCoordinate())
}

// observe records a ping round trip to node and the coordinate it sent.
func (v *vivaldi) observe(node string, rtt time.Duration, payload []byte) error {
	c, err := decodeCoordinate(payload)
	if err != nil {
		return err
	}
	if _, err := v.client.Update(node, c, rtt); err != nil {
		return err
	}
	v.mu.Lock()
	v.peers[node] = c
	v.mu.Unlock()
	return nil
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
	v.mu.Unlock()
	v.client.ForgetNode(node)
}
