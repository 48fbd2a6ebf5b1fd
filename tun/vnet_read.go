package tun

// vnetReader turns what a virtio-net device's read(2) returns (a virtio-net
// header and one frame or super-frame) into the frames of a Read batch.
//
// A read lands at bufs[n][off-vnetHdrLen:] when the caller left that much
// room in front of the frame (meshnet always does: the headroom), so a
// plain frame is used in place and a super-frame's first segment too; its
// other segments are copied into the following buffers. A super-frame with
// more segments than the batch has buffers left is kept (copied once into
// the reader's own buffer) and its remaining segments start the next
// batch, so nothing the kernel handed over is lost to a short batch.
//
// A vnetReader belongs to one reading goroutine at a time (the device's
// read lock).

// vnetReader is the read-side state of a device with offloads.
type vnetReader struct {
	eth   bool // frames start with an Ethernet header (TAP); else IP (TUN)
	drops *dropCounters

	scratch []byte // read target when the caller left no headroom

	pend     []byte // a super-frame still being handed out, in its own buffer
	pendLen  int
	pendSF   superFrame
	pendNext int // its next segment
}

func newVnetReader(eth bool, drops *dropCounters) *vnetReader {
	return &vnetReader{eth: eth, drops: drops}
}

// target returns where the next read(2) should land for a frame that
// belongs at buf[off:]: in place when there is room for the header in
// front, else the reader's scratch buffer.
func (r *vnetReader) target(buf []byte, off int) []byte {
	if off >= vnetHdrLen {
		return buf[off-vnetHdrLen:]
	}
	if r.scratch == nil {
		r.scratch = make([]byte, vnetHdrLen+maxSuperFrame)
	}
	return r.scratch
}

// maxSuperFrame bounds the largest frame a device with offloads hands
// over: 64 KiB of IP packet plus a tagged Ethernet header.
const maxSuperFrame = 65535 + EthHeaderLen + vlanTagLen

// pending reports whether segments of a super-frame are still to come.
func (r *vnetReader) pending() bool { return r.pend != nil && r.pendNext < r.pendSF.segs }

// emitPending hands out as many pending segments as bufs has room for and
// returns how many.
func (r *vnetReader) emitPending(bufs [][]byte, sizes []int, off int) int {
	frame := r.pend[:r.pendLen]
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
	return k
}

// consume takes one read(2) result, rd (virtio-net header and frame, as
// returned by target), and puts its frames into bufs from index 0. It
// returns how many it filled.
func (r *vnetReader) consume(rd []byte, bufs [][]byte, sizes []int, off int) int {
	h, err := parseVnetHdr(rd)
	if err != nil {
		r.drops.add(DropBadOffload, 1)
		return 0
	}
	frame := rd[vnetHdrLen:]
	inPlace := off >= vnetHdrLen
	if !inPlace && len(frame) > len(bufs[0])-off && h.gsoType == vnetGSONone {
		r.drops.add(DropTruncated, 1)
		return 0
	}
	if h.gsoType == vnetGSONone {
		if h.flags&vnetFlagNeedsCsum != 0 {
			if why := finishChecksum(frame, h); why != DropNone {
				r.drops.add(why, 1)
				return 0
			}
		}
		if !inPlace {
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
	if sf.segs > len(bufs) || !inPlace {
		// Keep it whole and hand out what fits.
		if r.pend == nil {
			r.pend = make([]byte, maxSuperFrame)
		}
		r.pendLen = copy(r.pend, frame)
		r.pendSF, r.pendNext = sf, 0
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
