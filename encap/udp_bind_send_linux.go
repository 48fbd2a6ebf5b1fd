package encap

// Send side of udpBind (see udp_bind_linux.go).

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/conn"
)

// udpSendScratch is one Send's messages, pooled.
type udpSendScratch struct {
	msgs []unix.Mmsghdr
	iovs []unix.Iovec
	oob  [][udpOOBLen]byte
	sa   unix.RawSockaddrInet6
	n    int // messages prepared
	sent int // messages the kernel took
	err  error
	fn   func(fd uintptr) bool // write, bound once
}

func newUDPSendScratch() *udpSendScratch {
	sc := &udpSendScratch{
		msgs: make([]unix.Mmsghdr, udpBatch),
		iovs: make([]unix.Iovec, udpBatch),
		oob:  make([][udpOOBLen]byte, udpBatch),
	}
	sc.fn = sc.write
	return sc
}

// Send sends each bufs[i] as one datagram to ep, in as few system calls and
// kernel datagrams as GSO allows. It neither keeps nor modifies bufs.
func (b *udpBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	if len(bufs) == 0 {
		return nil
	}
	e, ok := ep.(*udpEndpoint)
	if !ok {
		return fmt.Errorf("udp bind: endpoint %T is not one of this bind's", ep)
	}
	if len(bufs) > udpBatch {
		return fmt.Errorf("udp bind: %d packets in one send, at most %d", len(bufs), udpBatch)
	}
	s := b.socketFor(e.dst.Addr())
	if s == nil {
		return unix.EAFNOSUPPORT
	}
	sc := b.send.Get().(*udpSendScratch)
	defer b.send.Put(sc)
	gso := s.txGSO.Load()
	err := sc.send(s, bufs, e, gso)
	if err != nil && gso && errors.Is(err, unix.EIO) {
		// EIO: the device cannot checksum a GSO datagram (udp(7)). Carry
		// on without GSO on this socket, and say so once.
		s.txGSO.Store(false)
		err = sc.send(s, bufs, e, false)
		return conn.ErrUDPGSODisabled{RetryErr: err}
	}
	if err != nil && errors.Is(err, unix.EINVAL) {
		if src, _ := e.source(); src.IsValid() {
			// The sticky source is no longer ours: let the kernel pick.
			e.ClearSrc()
			err = sc.send(s, bufs, e, gso)
		}
	}
	return err
}

// send prepares the messages for bufs and writes them all.
func (sc *udpSendScratch) send(s *udpSocket, bufs [][]byte, e *udpEndpoint, gso bool) error {
	namelen := putSockaddr(&sc.sa, e.dst)
	src, ifidx := e.source()
	maxPayload := maxUDPPayload4
	if !e.dst.Addr().Is4() {
		maxPayload = maxUDPPayload6
	}
	m, iv := 0, 0
	for i := 0; i < len(bufs); {
		seg, run, total := len(bufs[i]), 1, len(bufs[i])
		if gso {
			for i+run < len(bufs) && run < udpMaxSegs {
				l := len(bufs[i+run])
				if l > seg || total+l > maxPayload || l == 0 {
					break
				}
				total += l
				run++
				if l < seg {
					break // a shorter datagram ends a GSO run
				}
			}
		}
		for j := range run {
			sc.iovs[iv+j].Base = unsafe.SliceData(bufs[i+j])
			sc.iovs[iv+j].SetLen(len(bufs[i+j]))
		}
		h := &sc.msgs[m].Hdr
		h.Name = (*byte)(unsafe.Pointer(&sc.sa))
		h.Namelen = namelen
		h.Iov = &sc.iovs[iv]
		h.SetIovlen(run)
		oob := putSendControl(sc.oob[m][:0], run > 1, uint16(seg), src, ifidx)
		h.Control = nil
		if len(oob) > 0 {
			h.Control = &sc.oob[m][0]
		}
		h.SetControllen(len(oob))
		h.Flags = 0
		iv += run
		i += run
		m++
	}
	sc.n, sc.sent, sc.err = m, 0, nil
	err := s.rc.Write(sc.fn)
	for i := range iv {
		sc.iovs[i].Base = nil // do not keep the caller's buffers
	}
	if err == nil {
		err = sc.err
	}
	if err != nil {
		return s.errClosed(err)
	}
	return nil
}

// write is the poller callback: sendmmsg until every message went or one
// failed.
func (sc *udpSendScratch) write(fd uintptr) bool {
	for sc.sent < sc.n {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&sc.msgs[sc.sent])),
			uintptr(sc.n-sc.sent), 0, 0, 0)
		switch errno {
		case 0:
			sc.sent += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			sc.err = os.NewSyscallError("sendmmsg", errno)
			return true
		}
	}
	return true
}

// putSendControl appends a UDP_SEGMENT message (when segmenting) and a
// packet-info message (with a sticky source) to oob.
func putSendControl(oob []byte, segment bool, seg uint16, src netip.Addr, ifidx int32) []byte {
	if segment {
		oob = appendCmsg(oob, unix.SOL_UDP, unix.UDP_SEGMENT, 2)
		*(*uint16)(unsafe.Pointer(&oob[len(oob)-unix.CmsgSpace(2)+unix.CmsgLen(0)])) = seg
	}
	switch {
	case src.Is4():
		oob = appendCmsg(oob, unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo)
		info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&oob[len(oob)-unix.CmsgSpace(unix.SizeofInet4Pktinfo)+unix.CmsgLen(0)]))
		info.Ifindex, info.Spec_dst = ifidx, src.As4()
	case src.Is6():
		oob = appendCmsg(oob, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo)
		info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&oob[len(oob)-unix.CmsgSpace(unix.SizeofInet6Pktinfo)+unix.CmsgLen(0)]))
		info.Ifindex, info.Addr = uint32(ifidx), src.As16()
	}
	return oob
}

// appendCmsg appends a zeroed control message of dataLen bytes with its
// header filled in; oob must have the capacity.
func appendCmsg(oob []byte, level, typ int32, dataLen int) []byte {
	start := len(oob)
	oob = oob[:start+unix.CmsgSpace(dataLen)]
	clear(oob[start:])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[start]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(dataLen))
	return oob
}
