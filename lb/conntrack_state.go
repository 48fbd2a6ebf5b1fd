package lb

import "time"

// Flow timeouts, after Linux nf_conntrack's defaults: a flow is forgotten
// this long after its last packet, depending on what it has seen.
const (
	TCPTimeoutSynSent     = 120 * time.Second
	TCPTimeoutSynRecv     = 60 * time.Second
	TCPTimeoutEstablished = 5 * 24 * time.Hour
	TCPTimeoutFinWait     = 120 * time.Second
	TCPTimeoutCloseWait   = 60 * time.Second
	TCPTimeoutLastAck     = 30 * time.Second
	TCPTimeoutTimeWait    = 120 * time.Second
	TCPTimeoutClose       = 10 * time.Second
	UDPTimeout            = 30 * time.Second  // no reply seen yet
	UDPTimeoutReplied     = 120 * time.Second // replies seen: a stream
	ICMPTimeout           = 30 * time.Second
)

// tcpState is a coarse TCP connection state, tracked from the flags of the
// segments seen in each direction (no sequence-number window checks).
type tcpState uint8

const (
	tcpNone tcpState = iota
	tcpSynSent
	tcpSynRecv
	tcpEstablished
	tcpFinWait
	tcpCloseWait
	tcpLastAck
	tcpTimeWait
	tcpClose
)

func (s tcpState) String() string {
	switch s {
	case tcpNone:
		return "NONE"
	case tcpSynSent:
		return "SYN_SENT"
	case tcpSynRecv:
		return "SYN_RECV"
	case tcpEstablished:
		return "ESTABLISHED"
	case tcpFinWait:
		return "FIN_WAIT"
	case tcpCloseWait:
		return "CLOSE_WAIT"
	case tcpLastAck:
		return "LAST_ACK"
	case tcpTimeWait:
		return "TIME_WAIT"
	case tcpClose:
		return "CLOSE"
	}
	return "INVALID"
}

// tcpTrack is the per-flow TCP tracking state.
type tcpTrack struct {
	state tcpState
	// finReply records which side sent the first FIN (true: the server).
	finReply bool
}

// step advances the state for one segment with the given flags, seen in the
// reply direction (server to client) or not.
//
//	SYN from client            -> SYN_SENT
//	SYN+ACK from server        SYN_SENT -> SYN_RECV
//	ACK from client            SYN_RECV -> ESTABLISHED
//	first FIN (either side)    -> FIN_WAIT
//	ACK from the other side    FIN_WAIT -> CLOSE_WAIT
//	FIN from the other side    FIN_WAIT, CLOSE_WAIT -> LAST_ACK
//	ACK from the first closer  LAST_ACK -> TIME_WAIT
//	RST (either side)          -> CLOSE
//
// A flow first seen mid-stream (after an eviction, say) is picked up as
// ESTABLISHED, as Linux does with nf_conntrack_tcp_loose.
func (t *tcpTrack) step(flags uint8, reply bool) {
	syn, ack, fin := flags&tcpSYN != 0, flags&tcpACK != 0, flags&tcpFIN != 0
	switch {
	case flags&tcpRST != 0:
		t.state = tcpClose
	case syn && !ack && !reply:
		if t.state == tcpNone || t.state == tcpSynSent {
			t.state = tcpSynSent
		}
	case syn && ack && reply:
		if t.state == tcpSynSent {
			t.state = tcpSynRecv
		}
	case syn:
		// A SYN in an unexpected direction: leave the state alone.
	case fin:
		switch t.state {
		case tcpNone, tcpSynSent, tcpSynRecv, tcpEstablished:
			t.state, t.finReply = tcpFinWait, reply
		case tcpFinWait, tcpCloseWait:
			if reply != t.finReply {
				t.state = tcpLastAck
			}
		}
	case ack:
		switch t.state {
		case tcpNone:
			t.state = tcpEstablished
		case tcpSynRecv:
			if !reply {
				t.state = tcpEstablished
			}
		case tcpFinWait:
			if reply != t.finReply {
				t.state = tcpCloseWait
			}
		case tcpLastAck:
			if reply == t.finReply {
				t.state = tcpTimeWait
			}
		}
	default:
		if t.state == tcpNone {
			t.state = tcpEstablished
		}
	}
}

// timeout returns how long the flow lives after its last packet.
func (t *tcpTrack) timeout() time.Duration {
	switch t.state {
	case tcpSynSent:
		return TCPTimeoutSynSent
	case tcpSynRecv:
		return TCPTimeoutSynRecv
	case tcpFinWait:
		return TCPTimeoutFinWait
	case tcpCloseWait:
		return TCPTimeoutCloseWait
	case tcpLastAck:
		return TCPTimeoutLastAck
	case tcpTimeWait:
		return TCPTimeoutTimeWait
	case tcpClose:
		return TCPTimeoutClose
	}
	return TCPTimeoutEstablished
}

// reopens reports whether a client segment with flags starts a new
// connection on a tuple whose previous connection has closed.
func (t *tcpTrack) reopens(flags uint8) bool {
	return (t.state == tcpTimeWait || t.state == tcpClose) && flags&(tcpSYN|tcpACK|tcpRST) == tcpSYN
}

// flowTimeout returns the idle timeout of a flow of proto in its state.
func flowTimeout(proto Proto, t *tcpTrack, replied bool) time.Duration {
	switch proto {
	case ProtoTCP:
		return t.timeout()
	case ProtoUDP:
		if replied {
			return UDPTimeoutReplied
		}
		return UDPTimeout
	}
	return ICMPTimeout
}
