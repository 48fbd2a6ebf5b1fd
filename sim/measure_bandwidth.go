package sim

import (
	"fmt"
	"math"
	"time"
)

// Bandwidth is what live nodes sent during a window, all of it: memberlist's
// probes, gossip and push/pull, and meshnet's table gossip and bulk syncs,
// as framed on the wire (compressed and encrypted).
type Bandwidth struct {
	Window time.Duration
	Nodes  int
	// PerNode is bytes sent per node per second; Packet and Stream split
	// it into best-effort packets (probes, gossip) and streams (push/pull,
	// bulk sync).
	PerNode, Packet, Stream float64
	// CrossRegion and Total are bytes per second over the whole cluster,
	// on links between regions and on all links.
	CrossRegion, Total float64
	// Writes is the number of endpoint updates made during the window.
	Writes int
}

// measureBandwidth counts the bytes live nodes send during window while
// a fraction churn of them (0 for idle) updates its endpoint every second.
func (c *cluster) measureBandwidth(window time.Duration, churn float64) (Bandwidth, error) {
	live := c.live()
	type sent struct{ packet, stream uint64 }
	before := make([]sent, len(live))
	for i, n := range live {
		ct := c.net.Counters(n.name)
		before[i] = sent{ct.PacketBytesSent, ct.StreamBytesSent}
	}
	links := c.meter.snapshot()
	b := Bandwidth{Window: window, Nodes: len(live)}
	if churn <= 0 {
		time.Sleep(window)
	} else {
		perSecond := int(math.Ceil(churn * float64(len(live))))
		for sec := 0; time.Duration(sec)*time.Second < window; sec++ {
			for _, n := range c.pick(perSecond, nil) {
				v := fmt.Appendf(endpointValue(n.idx), " v%d", sec)
				if err := n.db.Put(testNetwork, endpointTable, n.name, v); err != nil {
					return b, fmt.Errorf("sim: churn write on %s: %w", n.name, err)
				}
				b.Writes++
			}
			time.Sleep(time.Second)
		}
	}
	var packet, stream uint64
	for i, n := range live {
		ct := c.net.Counters(n.name)
		packet += ct.PacketBytesSent - before[i].packet
		stream += ct.StreamBytesSent - before[i].stream
	}
	secs := window.Seconds()
	nodes := float64(len(live))
	b.Packet = float64(packet) / nodes / secs
	b.Stream = float64(stream) / nodes / secs
	b.PerNode = b.Packet + b.Stream
	d := c.meter.snapshot().Sub(links)
	b.CrossRegion = float64(d.CrossRegion()) / secs
	b.Total = float64(d.Total()) / secs
	return b, nil
}
