package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
)

// mdnsGroup is the IPv4 mDNS group and port (RFC 6762).
var mdnsGroup = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}

// mdns asks the link for a .local name's IPv4 address, as a one-shot
// ("legacy unicast") mDNS querier: the query goes to the mDNS group on
// -iface from an ephemeral port and the responder answers to that port.
// It prints the addresses as JSON.
func mdns(args []string) error {
	fs := flag.NewFlagSet("mdns", flag.ExitOnError)
	name := fs.String("name", "", "name to resolve, e.g. h2.local")
	iface := fs.String("iface", "", "interface to ask on")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to keep asking")
	fs.Parse(args)
	ifi, err := net.InterfaceByName(*iface)
	if err != nil {
		return err
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := ipv4.NewPacketConn(c).SetMulticastInterface(ifi); err != nil {
		return fmt.Errorf("multicast interface %s: %w", *iface, err)
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(*name), dns.TypeA)
	query, err := q.Pack()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(*timeout)
	buf := make([]byte, 9000)
	for time.Now().Before(deadline) {
		if _, err := c.WriteToUDP(query, mdnsGroup); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				break // ask again
			}
			var r dns.Msg
			if r.Unpack(buf[:n]) != nil || r.Id != q.Id {
				continue
			}
			var addrs []string
			for _, rr := range r.Answer {
				if a, ok := rr.(*dns.A); ok && dns.Fqdn(*name) == dns.Fqdn(a.Hdr.Name) {
					ip, _ := netip.AddrFromSlice(a.A.To4())
					addrs = append(addrs, ip.String())
				}
			}
			if len(addrs) > 0 {
				return json.NewEncoder(os.Stdout).Encode(map[string]any{"name": *name, "addrs": addrs, "responder": from.IP.String()})
			}
		}
	}
	return fmt.Errorf("no mDNS answer for %s on %s within %s", *name, *iface, *timeout)
}
