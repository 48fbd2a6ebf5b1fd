package encap

import "golang.zx2c4.com/wireguard/conn"

// noGSOBind is a bind that never coalesces sends into one GSO datagram:
// the bind only coalesces into a packet's spare capacity, so Send cuts it
// off. Wrapping the bind also means wireguard-go no longer recognises it as
// its standard bind and skips its route listener (which refreshes cached
// source addresses when routes change); DisableOffload documents that.
type noGSOBind struct{ conn.Bind }

// Send caps every buffer at its length, in place (the slice headers are
// wireguard-go's scratch), and sends them one datagram each.
func (b noGSOBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	for i, p := range bufs {
		bufs[i] = p[:len(p):len(p)]
	}
	return b.Bind.Send(bufs, ep)
}
