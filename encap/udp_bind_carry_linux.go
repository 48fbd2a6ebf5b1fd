package encap

// A GRO message that holds more datagrams than the caller's batch has
// room for: the bind keeps the rest here and returns it on the next
// receive, so a batch smaller than the kernel's 64-datagram GRO limit
// loses nothing. Owned by the socket's receiving goroutine.

import "golang.zx2c4.com/wireguard/conn"

// udpCarry holds the datagrams of one GRO message left over, each gso
// bytes but the last.
type udpCarry struct {
	buf  []byte // made on first use, 64 KiB: one GRO message at most
	off  int
	size int
	gso  int
	ep   conn.Endpoint
}

func (c *udpCarry) left() bool { return c.off < c.size }

// keep copies rest, datagrams of gso bytes from ep, to be returned later.
func (c *udpCarry) keep(rest []byte, gso int, ep conn.Endpoint) {
	if c.buf == nil {
		c.buf = make([]byte, 1<<16)
	}
	c.size = copy(c.buf, rest)
	c.off, c.gso, c.ep = 0, gso, ep
}

// drain fills bufs with kept datagrams and returns how many.
func (c *udpCarry) drain(bufs [][]byte, sizes []int, eps []conn.Endpoint) int {
	k := 0
	for ; k < len(bufs) && c.left(); k++ {
		end := min(c.off+c.gso, c.size)
		sizes[k] = copy(bufs[k], c.buf[c.off:end])
		eps[k] = c.ep
		c.off = end
	}
	if !c.left() {
		c.ep = nil
	}
	return k
}
