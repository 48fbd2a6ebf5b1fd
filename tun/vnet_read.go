package tun

import "meshnet.dev/meshnet/internal/packet"

// vnetReader turns what a virtio-net device's read(2) returns (a virtio-net
// header and one frame or super-frame) into the frames of a Read batch.
//
// A read lands at bufs[n][off-vnetHdrLen:] when the caller left that much
// room in front of the frame (meshnet always does: the headroom), so a
// plain frame is used in place and a super-frame's first segment too; its
// other segments are copied into the following buffers. The read gathers
// into two buffers (readv): the caller's, then the reader's own, so a
// super-frame longer than the caller's buffer spills over instead of being
// cut; it is then made whole in the reader's buffer. A super-frame with
// more segments than the batch has buffers left waits in the reader's
// buffer, and its remaining segments start the next batch, so nothing the
// kernel handed over is lost to a short batch.
//
// A vnetReader belongs to one reading goroutine at a time (the device's
// read lock).

// vnetReader is the read-side state of a device with offloads.
type vnetReader struct {
	eth   bool // frames start with an Ethernet header (TAP); else IP (TUN)
	drops *dropCounters

	// own is the reader's buffer: the read target when the caller left no
	// headroom, the spill of a read longer than the caller's buffer, and
	// where a super-frame waits while its segments are handed out.
	own []byte

	pending  bool // segments of the super-frame in own are still to come
	pendLen  int
	pendSF   superFrame
	pendNext int // its next segment
}

// maxSuperFrame bounds the largest frame a device with offloads hands
// over: 64 KiB of IP packet plus a tagged Ethernet header.
const maxSuperFrame = 65535 + packet.EthHeaderLen + vlanTagLen

func newVnetReader(eth bool, drops *dropCounters) *vnetReader {
	return &vnetReader{eth: eth, drops: drops, own: make([]byte, vnetHdrLen+maxSuperFrame)}
}

// target returns where the next read(2) should land for a frame that
// belongs at buf[off:], and whether that is in place (the caller's buffer,
// with the reader's own as spill) rather than the reader's own buffer.
func (r *vnetReader) target(buf []byte, off int) ([]byte, bool) {
	if off >= vnetHdrLen {
		return buf[off-vnetHdrLen:], true
	}
	return r.own, false
}

// spilled makes whole, in own, a read of m bytes of which dst (the
// caller's buffer) took the first len(dst) and own the rest, and returns
// it.
func (r *vnetReader) spilled(dst []byte, m int) []byte {
	over := m - len(dst)
	copy(r.own[len(dst):], r.own[:over]) // the spill moves behind the head; never overlaps: the head is far longer
	copy(r.own, dst)
	return r.own[:m]
}

// emitPending hands out as many pending segments as bufs has room for and
// returns how many.
func (r *vnetReader) emitPending(bufs [][]byte, sizes []int, off int) int {
	frame := r.own[:r.pendLen]
	k := 0
	for k < len(bufs) && r.pendNext < r.pendSF.segs {
		n := r.pendSF.segment(frame, r.pendNext, bufs[k][off:])
		r.pendNext++
		if n == 0 {
			r.drops.add(DropTruncated, 1)
			continue
		}
		sizes[k] = n
		k++
	}
	r.pending = r.pendNext < r.pendSF.segs
	return k
}

// consume takes one read(2) result, rd (virtio-net header and frame), and
// puts its frames into bufs from index 0. inPlace says rd is
// bufs[0][off-vnetHdrLen:], else it is in the reader's own buffer. It
// returns how many frames it filled.
func (r *vnetReader) consume(rd []byte, inPlace bool, bufs [][]byte, sizes []int, off int) int {
	h, err := parseVnetHdr(rd)
	if err != nil {
		r.drops.add(DropBadOffload, 1)
		return 0
	}
	frame := rd[vnetHdrLen:]
	if h.gsoType == vnetGSONone {
		if h.flags&vnetFlagNeedsCsum != 0 {
			if why := finishChecksum(frame, h); why != DropNone {
				r.drops.add(why, 1)
				return 0
			}
		}
		if !inPlace {
			if len(frame) > len(bufs[0])-off {
				r.drops.add(DropTruncated, 1)
				return 0
			}
			copy(bufs[0][off:], frame)
		}
		sizes[0] = len(frame)
		return 1
	}
	sf, why := parseSuperFrame(frame, h, r.eth)
	if why != DropNone {
		r.drops.add(why, 1)
		return 0
	}
	if !inPlace || sf.segs > len(bufs) {
		// Keep it whole (in own, where it may already be) and hand out
		// what fits.
		copy(r.own, frame) // the frame moves to the start of own (from behind the header, or from bufs[0])
		r.pendLen, r.pendSF, r.pendNext, r.pending = len(frame), sf, 0, true
		return r.emitPending(bufs, sizes, off)
	}
	k := 0
	for i := 1; i < sf.segs; i++ {
		n := sf.segment(frame, i, bufs[1+k][off:])
		if n == 0 {
			r.drops.add(DropTruncated, 1)
			continue
		}
		sizes[1+k] = n
		k++
	}
	// Segment 0 is cut in place, last: the others copied its headers.
	sizes[0] = sf.segment(frame, 0, frame)
	return 1 + k
}
