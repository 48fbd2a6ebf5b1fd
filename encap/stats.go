package encap

import "sync/atomic"

// Stats counts a transport's traffic since it was created.
type Stats struct {
	// PacketsSent and BytesSent count packets handed to the network.
	PacketsSent, BytesSent uint64
	// PacketsReceived and BytesReceived count packets delivered to the
	// Receiver.
	PacketsReceived, BytesReceived uint64
	// SendErrors counts Send calls that failed.
	SendErrors uint64
	// ReceiveErrors counts failed reads from the network.
	ReceiveErrors uint64
	// Dropped counts packets the transport discarded on purpose (the channel
	// transport's loss, partitions, unknown destinations and full queues).
	Dropped uint64
}

// counters are the live, atomically updated form of Stats. Data paths add
// once per batch, not once per packet, to keep cache-line traffic low.
type counters struct {
	packetsSent, bytesSent         atomic.Uint64
	packetsReceived, bytesReceived atomic.Uint64
	sendErrors, receiveErrors      atomic.Uint64
	dropped                        atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		PacketsSent:     c.packetsSent.Load(),
		BytesSent:       c.bytesSent.Load(),
		PacketsReceived: c.packetsReceived.Load(),
		BytesReceived:   c.bytesReceived.Load(),
		SendErrors:      c.sendErrors.Load(),
		ReceiveErrors:   c.receiveErrors.Load(),
		Dropped:         c.dropped.Load(),
	}
}
