package encap

// Receive side of udpBind (see udp_bind_linux.go).

import (
	"encoding/binary"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
)

func newUDPRecvState() udpRecvState {
	r := udpRecvState{
		msgs:  make([]unix.Mmsghdr, udpBatch),
		iovs:  make([]unix.Iovec, udpBatch),
		names: make([]unix.RawSockaddrInet6, udpBatch),
		oob:   make([][udpOOBLen]byte, udpBatch),
		eps:   udpEndpointCache{},
	}
	for i := range r.msgs {
		h := &r.msgs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i][0]
	}
	return r
}

// receive is the socket's conn.ReceiveFunc: it blocks for at least one
// datagram and returns up to len(bufs) of them, bufs[i][:sizes[i]] from
// eps[i]. One goroutine at a time.
func (s *udpSocket) receive(bufs [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
	r := &s.rx
	n := min(len(bufs), len(sizes), len(eps), udpBatch)
	if n == 0 {
		return 0, nil
	}
	if r.carry.left() {
		return r.carry.drain(bufs[:n], sizes, eps), nil
	}
	// With GRO a message may hold up to udpMaxSegs datagrams: read into the
	// last buffers only, so splitting has room in front. A batch smaller
	// than that keeps what does not fit for the next call (udpCarry).
	start := 0
	if s.rxGRO {
		start = n - max(1, n/udpMaxSegs)
	}
	for i := start; i < n; i++ {
		r.iovs[i].Base = unsafe.SliceData(bufs[i])
		r.iovs[i].SetLen(len(bufs[i]))
		h := &r.msgs[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(udpOOBLen)
		h.Flags = 0
		r.msgs[i].Len = 0
	}
	r.start, r.end, r.n, r.err = start, n, 0, nil
	err := s.rc.Read(r.fn)
	if err == nil {
		err = r.err
	}
	got := r.n
	for i := start; i < n; i++ {
		r.iovs[i].Base = nil // do not keep the caller's buffers
	}
	if err != nil {
		return 0, s.errClosed(err)
	}
	return r.split(bufs, sizes, eps, start, got), nil
}

// readLocked is the poller callback: one recvmmsg into msgs[start:end].
func (s *udpSocket) readLocked(fd uintptr) bool {
	r := &s.rx
	for {
		m, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[r.start])),
			uintptr(r.end-r.start), 0, 0, 0)
		switch errno {
		case 0:
			r.n = int(m)
			return true
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			r.err = os.NewSyscallError("recvmmsg", errno)
			return true
		}
	}
}

// split turns the got messages read at msgs[start:] into datagrams in
// bufs from index 0, cutting GRO messages at their segment size, and
// returns how many.
func (r *udpRecvState) split(bufs [][]byte, sizes []int, eps []conn.Endpoint, start, got int) int {
	k := 0
	for m := start; m < start+got; m++ {
		msg := &r.msgs[m]
		size := int(msg.Len)
		if msg.Hdr.Flags&unix.MSG_TRUNC != 0 {
			continue // larger than any buffer: not ours to carry
		}
		gso, src, ifidx := parseUDPControl(r.oob[m][:msg.Hdr.Controllen])
		ep := r.eps.get(udpEndpointKey{getSockaddr(&r.names[m]), src, ifidx})
		if gso <= 0 || gso >= size {
			gso = max(size, 1)
		}
		for off := 0; off < size || (size == 0 && off == 0); off += gso {
			if k > m {
				break // cannot happen with the spacing above; never clobber unread data
			}
			end := min(off+gso, size)
			if k == m && end < size && m == start+got-1 {
				// The last slot, and datagrams behind it: keep them
				// before this one's copy to the front can overwrite.
				r.carry.keep(bufs[m][end:size], gso, ep)
			}
			if k != m || off != 0 {
				copy(bufs[k], bufs[m][off:end])
			}
			sizes[k], eps[k] = end-off, ep
			k++
			if size == 0 || r.carry.left() {
				break
			}
		}
	}
	return k
}

// parseUDPControl reads a message's GRO segment size and the local address
// and interface it arrived on.
func parseUDPControl(oob []byte) (gso int, src netip.Addr, ifidx int32) {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return
		}
		oob = rest
		switch {
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 2:
			if len(data) >= 4 {
				gso = int(binary.NativeEndian.Uint32(data))
			} else {
				gso = int(binary.NativeEndian.Uint16(data))
			}
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex, spec_dst (the local address), addr.
			ifidx = int32(binary.NativeEndian.Uint32(data[0:4]))
			src = netip.AddrFrom4([4]byte(data[4:8]))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo: addr, ifindex.
			src = netip.AddrFrom16([16]byte(data[0:16]))
			ifidx = int32(binary.NativeEndian.Uint32(data[16:20]))
		}
	}
	return
}
