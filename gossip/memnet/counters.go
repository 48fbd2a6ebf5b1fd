package memnet

import "sync/atomic"

// Counters are one node's traffic, over all its transports.
type Counters struct {
	PacketsSent         uint64
	PacketBytesSent     uint64
	PacketsReceived     uint64
	PacketBytesReceived uint64
	// PacketsLost counts packets this node sent that were not delivered:
	// loss, partition, crash, unknown address or a full queue.
	PacketsLost         uint64
	StreamsOpened       uint64
	StreamBytesSent     uint64
	StreamBytesReceived uint64
}

// BytesSent is every byte the node sent, packets and streams.
func (c Counters) BytesSent() uint64 { return c.PacketBytesSent + c.StreamBytesSent }

// BytesReceived is every byte the node received, packets and streams.
func (c Counters) BytesReceived() uint64 { return c.PacketBytesReceived + c.StreamBytesReceived }

type counters struct {
	packetsSent, packetBytesSent         atomic.Uint64
	packetsReceived, packetBytesReceived atomic.Uint64
	packetsLost                          atomic.Uint64
	streamsOpened                        atomic.Uint64
	streamBytesSent, streamBytesReceived atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		PacketsSent:         c.packetsSent.Load(),
		PacketBytesSent:     c.packetBytesSent.Load(),
		PacketsReceived:     c.packetsReceived.Load(),
		PacketBytesReceived: c.packetBytesReceived.Load(),
		PacketsLost:         c.packetsLost.Load(),
		StreamsOpened:       c.streamsOpened.Load(),
		StreamBytesSent:     c.streamBytesSent.Load(),
		StreamBytesReceived: c.streamBytesReceived.Load(),
	}
}
