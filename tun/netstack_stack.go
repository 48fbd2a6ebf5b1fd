package tun

import (
	"errors"
	"fmt"
	"net/netip"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"meshnet.dev/meshnet/internal/packet"
)

const (
	// stackNIC is the stack's one network interface.
	stackNIC tcpip.NICID = 1
	// stackLinkQueueLen is how many packets the link endpoint holds between
	// the stack's write and writeNotify taking it; beyond that the stack
	// drops, as a full NIC queue does.
	stackLinkQueueLen = 1024
)

// startStack builds the stack: IPv4 and IPv6 with TCP (SACK on), UDP and
// ICMP, one NIC on a channel endpoint that notifies d, the addresses, and a
// default route for each family in use.
func (d *Netstack) startStack(addrs []netip.Prefix) error {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        true,
	})
	ep := channel.New(stackLinkQueueLen, uint32(d.mtu), "")
	ep.AddNotify(stackNotifier{d})
	d.stack, d.ep = s, ep
	d.net = &StackNet{s: s}
	err := configureStack(s, ep, addrs)
	if err != nil {
		d.closeStack()
	}
	return err
}

func configureStack(s *stack.Stack, ep *channel.Endpoint, addrs []netip.Prefix) error {
	sack := tcpip.TCPSACKEnabled(true)
	if e := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); e != nil {
		return fmt.Errorf("enable TCP SACK: %s", e)
	}
	if e := s.CreateNIC(stackNIC, ep); e != nil {
		return fmt.Errorf("create the interface: %s", e)
	}
	var has4, has6 bool
	for _, p := range addrs {
		a := p.Addr()
		pa := tcpip.ProtocolAddress{
			Protocol:          ipv4.ProtocolNumber,
			AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix(),
		}
		if a.Is6() {
			pa.Protocol = ipv6.ProtocolNumber
		}
		if e := s.AddProtocolAddress(stackNIC, pa, stack.AddressProperties{}); e != nil {
			return fmt.Errorf("add address %s: %s", a, e)
		}
		has4, has6 = has4 || a.Is4(), has6 || a.Is6()
	}
	if has4 {
		s.AddRoute(tcpip.Route{Destination: header.IPv4EmptySubnet, NIC: stackNIC})
	}
	if has6 {
		s.AddRoute(tcpip.Route{Destination: header.IPv6EmptySubnet, NIC: stackNIC})
	}
	return nil
}

// stackNotifier keeps WriteNotify off Netstack's exported methods.
type stackNotifier struct{ d *Netstack }

// WriteNotify runs on the goroutine that sent a packet into the link
// endpoint: it takes one queued packet and frames it for Read, waiting for a
// free buffer while the device is open. After Close it drops the packet.
func (n stackNotifier) WriteNotify() {
	d := n.d
	pkt := d.ep.Read()
	if pkt == nil {
		return
	}
	defer pkt.DecRef()
	var idx int
	select {
	case idx = <-d.free:
	case <-d.done:
		return
	}
	buf := d.bufs[idx]
	size := pkt.Size()
	if size > d.mtu {
		d.drops.add(DropTruncated, 1)
		d.free <- idx
		return
	}
	off := packet.EthHeaderLen
	for _, v := range pkt.AsSlices() {
		off += copy(buf[off:], v)
	}
	if r := d.framer.frame(buf[:off]); r != DropNone {
		d.drops.add(r, 1)
		d.free <- idx
		return
	}
	select {
	case d.ready <- readyFrame{idx: idx, n: off}:
	case <-d.done:
		d.free <- idx
	}
}

// inject hands one IP packet to the stack, which copies it.
func (d *Netstack) inject(ip []byte) error {
	var proto tcpip.NetworkProtocolNumber
	switch ip[0] >> 4 {
	case 4:
		proto = ipv4.ProtocolNumber
	case 6:
		proto = ipv6.ProtocolNumber
	default:
		return errors.New("not an IP packet")
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(ip)})
	d.ep.InjectInbound(proto, pkt)
	pkt.DecRef()
	return nil
}

// closeStack shuts the stack down and waits for its goroutines. Removing
// the NIC first makes dials that start meanwhile fail at once (no route)
// rather than retry until their timeout. Packets the stack emits meanwhile
// reach writeNotify, which drops them once done is closed; after the
// endpoint is closed the stack's writes fail.
func (d *Netstack) closeStack() {
	d.stack.RemoveNIC(stackNIC)
	d.stack.Close()
	d.stack.Wait()
	d.ep.Close()
}
