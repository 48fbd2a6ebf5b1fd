package memnet

import (
	"errors"
	"net"
)

var errLinkDown = errors.New("memnet: link is down")

// conn is one end of a stream: it counts bytes for its node and fails,
// closing the stream, once the link between the two nodes is cut or
// either transport is shut down.
type conn struct {
	net.Conn
	net  *Network
	self *Transport
	peer *Transport
}

func (c *conn) up() bool {
	return !c.self.isClosed() && !c.peer.isClosed() && c.net.reachable(c.self.name, c.peer.name)
}

func (c *conn) Write(b []byte) (int, error) {
	if !c.up() {
		_ = c.Conn.Close()
		return 0, errLinkDown
	}
	n, err := c.Conn.Write(b)
	c.self.counters.streamBytesSent.Add(uint64(n))
	return n, err
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.self.counters.streamBytesReceived.Add(uint64(n))
	return n, err
}

func (c *conn) LocalAddr() net.Addr  { return net.TCPAddrFromAddrPort(c.self.addr) }
func (c *conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.peer.addr) }
