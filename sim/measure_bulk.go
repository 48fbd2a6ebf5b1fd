package sim

import (
	"fmt"
	"time"
)

// bigNetwork is the network that holds the large table.
const bigNetwork = "big"

// BulkJoin is the cost of a node joining a network that already holds a
// large table: it learns the table by bulk sync (joinSyncPeers members
// each send it the whole replica), not by gossip.
type BulkJoin struct {
	Members, Entries int
	// Fill is how long the table took to fill up: members writing Entries
	// entries and every member holding all of them.
	Fill time.Duration
	// Time is from JoinNetwork until the joiner held every entry.
	Time time.Duration
	// Cold is how long the joiner, which joined the test network before
	// the cluster as a daemon does, took after Join returned to hold every
	// endpoint of it.
	Cold time.Duration
	// Received and Sent are the joiner's wire bytes by then; Received10s
	// is what it received in the 10 s after joining, which includes every
	// join sync.
	Received, Sent, Received10s uint64
	// SyncMessages and SyncPayload are the bulk-sync messages the joiner
	// received in those 10 s and their payload (before compression and
	// encryption), from its gossip Stats.
	SyncMessages, SyncPayload uint64
}

// measureBulkJoin fills bigNetwork with entries written by members nodes,
// then starts a new node, joins it to the cluster and then to bigNetwork,
// and measures how long and how many bytes until it holds the table.
func (c *cluster) measureBulkJoin(members, entries int, timeout time.Duration) (BulkJoin, error) {
	r := BulkJoin{Members: members, Entries: entries}
	mem := c.live()[:members]
	start := time.Now()
	for _, n := range mem {
		if err := n.db.JoinNetwork(bigNetwork); err != nil {
			return r, err
		}
	}
	for i := range entries {
		n := mem[i%members]
		if err := n.db.Put(bigNetwork, endpointTable, fmt.Sprintf("%s-%d", n.name, i), endpointValue(i)); err != nil {
			return r, fmt.Errorf("sim: filling %s: %w", bigNetwork, err)
		}
	}
	full := func(n *simNode) bool { return n.db.Stats().Entries[bigNetwork] >= entries }
	if err := c.poll(timeout, time.Second, func() string {
		for _, n := range mem {
			if !full(n) {
				return fmt.Sprintf("%s holds %d of %d entries of %s", n.name, n.db.Stats().Entries[bigNetwork], entries, bigNetwork)
			}
		}
		return ""
	}); err != nil {
		return r, err
	}
	r.Fill = time.Since(start)

	j, err := c.startNode()
	if err != nil {
		return r, err
	}
	if _, err := j.db.Join([]string{c.pick(1, j)[0].addr}); err != nil {
		return r, fmt.Errorf("sim: joiner: %w", err)
	}
	start = time.Now()
	want := len(c.live())
	if err := c.poll(timeout, 10*time.Millisecond, func() string {
		if e := j.db.Stats().Entries[testNetwork]; e < want {
			return fmt.Sprintf("joiner holds %d of %d endpoints", e, want)
		}
		return ""
	}); err != nil {
		return r, err
	}
	r.Cold = time.Since(start)
	if err := c.waitReady(timeout); err != nil {
		return r, err
	}
	time.Sleep(5 * time.Second)

	c0 := c.net.Counters(j.name)
	s0 := j.db.Stats().Received["bulk-sync"]
	start = time.Now()
	if err := j.db.JoinNetwork(bigNetwork); err != nil {
		return r, err
	}
	if err := c.poll(timeout, 10*time.Millisecond, func() string {
		if !full(j) {
			return fmt.Sprintf("joiner holds %d of %d", j.db.Stats().Entries[bigNetwork], entries)
		}
		return ""
	}); err != nil {
		return r, err
	}
	r.Time = time.Since(start)
	c1 := c.net.Counters(j.name)
	r.Received, r.Sent = c1.BytesReceived()-c0.BytesReceived(), c1.BytesSent()-c0.BytesSent()
	time.Sleep(10*time.Second - r.Time)
	c2 := c.net.Counters(j.name)
	s2 := j.db.Stats().Received["bulk-sync"]
	r.Received10s = c2.BytesReceived() - c0.BytesReceived()
	r.SyncMessages, r.SyncPayload = s2.Messages-s0.Messages, s2.Bytes-s0.Bytes
	return r, nil
}

// poll checks cond every interval until it returns "" or timeout passes.
func (c *cluster) poll(timeout, interval time.Duration, cond func() string) error {
	deadline := time.Now().Add(timeout)
	for {
		why := cond()
		if why == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sim: not done after %v: %s", timeout, why)
		}
		time.Sleep(interval)
	}
}
