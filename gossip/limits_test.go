package gossip

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"meshnet.dev/meshnet/gossip/wire"
)

func TestLocalWritesChecked(t *testing.T) {
	d := loneDB(t)
	for name, err := range map[string]error{
		"empty table":    d.Put("blue", "", "k", nil),
		"long table":     d.Put("blue", strings.Repeat("t", MaxTableNameLen+1), "k", nil),
		"empty key":      d.Put("blue", "t", "", nil),
		"long key":       d.Put("blue", "t", strings.Repeat("k", MaxKeyLen+1), nil),
		"long value":     d.Put("blue", "t", "k", make([]byte, MaxValueLen+1)),
		"long network":   d.JoinNetwork(strings.Repeat("n", MaxNetworkIDLen+1)),
		"leave cluster":  d.LeaveNetwork(ClusterScope),
		"delete long id": d.Delete("blue", "t", strings.Repeat("k", MaxKeyLen+1)),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := d.Put("red", "t", "k", nil); !errors.Is(err, ErrNotJoined) {
		t.Errorf("Put on a network not joined: %v", err)
	}
	if err := d.Put("blue", "t", "k", make([]byte, MaxValueLen)); err != nil {
		t.Errorf("value of exactly MaxValueLen refused: %v", err)
	}
	mustOK(t, d.Delete("blue", "t", "never-written"))
	mustOK(t, d.LeaveNetwork("never-joined"))
	mustOK(t, d.JoinNetwork(ClusterScope))
}

func TestMaxNetworks(t *testing.T) {
	d := loneDB(t)
	var err error
	joined := 1 // blue
	for i := 0; err == nil && i < MaxNetworks+10; i++ {
		if err = d.JoinNetwork(fmt.Sprintf("net-%d", i)); err == nil {
			joined++
		}
	}
	if err == nil || joined != MaxNetworks {
		t.Fatalf("joined %d networks, last error %v; want a refusal at %d", joined, err, MaxNetworks)
	}
	if got := len(d.Networks()); got != MaxNetworks {
		t.Errorf("Networks() lists %d", got)
	}
	// Records about more networks than that are dropped, not stored.
	d.onMemberJoin(nodeAt("mngsp-peer", 1))
	d.handleMessage(wire.NetworkEvents{Sender: "mngsp-peer", Records: []wire.NetRecord{{Node: "mngsp-peer", Network: "one-too-many", LTime: 1}}}.Append(nil))
	if got := d.Stats().Dropped["too-many-networks"]; got != 1 {
		t.Errorf("too-many-networks drops %d, want 1", got)
	}
}

// A bulk-sync chunk may carry a whole network's table: the wire format
// must accept as many events as a node may store for one network.
func TestWireCarriesAWholeNetwork(t *testing.T) {
	if MaxEventsPerMessage < MaxEntriesPerNetwork {
		t.Errorf("MaxEventsPerMessage %d is below MaxEntriesPerNetwork %d", MaxEventsPerMessage, MaxEntriesPerNetwork)
	}
}
