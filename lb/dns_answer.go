package lb

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

const dnsHeaderLen = 12

// process handles one query's wire bytes. It returns the reply to send
// (nil: send nothing), or the parsed query when it must be forwarded
// upstream, and the largest reply the client accepts.
func (s *DNSServer) process(raw []byte, tcp bool) (reply []byte, fwd *dns.Msg, size int) {
	s.stats.queries.Add(1)
	if len(raw) < dnsHeaderLen || raw[2]&0x80 != 0 {
		// No header to answer, or a response: answering either could be
		// used to bounce traffic between servers.
		s.stats.dropped.Add(1)
		return nil, nil, 0
	}
	size = dns.MinMsgSize
	if tcp {
		size = dns.MaxMsgSize
	}
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		s.stats.formErr.Add(1)
		return headerReply(raw, dns.RcodeFormatError), nil, size
	}
	opt := req.IsEdns0()
	if opt != nil && !tcp {
		size = min(max(int(opt.UDPSize()), dns.MinMsgSize), maxDNSUDPResponse)
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		return s.fail(req, dns.RcodeNotImplemented, size, tcp), nil, size
	case len(req.Question) != 1:
		s.stats.formErr.Add(1)
		return s.fail(req, dns.RcodeFormatError, size, tcp), nil, size
	case opt != nil && opt.Version() != 0:
		return s.fail(req, dns.RcodeBadVers, size, tcp), nil, size
	}
	name := strings.ToLower(req.Question[0].Name)
	if !dns.IsSubDomain(s.domain, name) {
		if len(s.cfg.Upstreams) == 0 {
			s.stats.refused.Add(1)
			return s.fail(req, dns.RcodeRefused, size, tcp), nil, size
		}
		return nil, req, size
	}
	s.stats.local.Add(1)
	return s.finish(s.answerLocal(req, name), req, size, tcp), nil, size
}

// answerLocal answers a query for a name inside the server's domain.
func (s *DNSServer) answerLocal(req *dns.Msg, name string) *dns.Msg {
	q := req.Question[0]
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.RecursionAvailable = len(s.cfg.Upstreams) > 0
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	if name == s.domain {
		if q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeANY {
			resp.Answer = append(resp.Answer, s.soa())
		} else {
			resp.Ns = append(resp.Ns, s.soa())
		}
		return resp
	}
	label := name[:len(name)-len(s.domain)-1]
	addrs, rotate, found := s.lookup(label)
	if !found {
		resp.Rcode = dns.RcodeNameError
		resp.Ns = append(resp.Ns, s.soa())
		return resp
	}
	start := 0
	if rotate && len(addrs) > 1 {
		start = int(s.rr.Add(1) % uint32(len(addrs)))
	}
	ttl := uint32(s.cfg.TTL.Seconds())
	for i := range addrs {
		a := addrs[(start+i)%len(addrs)].Unmap()
		hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: ttl}
		switch {
		case a.Is4() && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeA
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && (q.Qtype == dns.TypeAAAA || q.Qtype == dns.TypeANY):
			hdr.Rrtype = dns.TypeAAAA
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	if len(resp.Answer) == 0 {
		resp.Ns = append(resp.Ns, s.soa()) // NODATA: the name exists
	}
	return resp
}

// lookup resolves one label: services first, then endpoints and nodes.
func (s *DNSServer) lookup(label string) (addrs []netip.Addr, rotate, found bool) {
	if s.services != nil {
		if sa, ok := s.services.LookupService(label); ok && s.vniAllowed(sa.VNI) {
			return sa.Addrs, sa.Mode == ModeDNSRR, true
		}
	}
	if s.records != nil {
		if a := s.records.LookupHost(label); len(a) > 0 {
			return a, false, true
		}
	}
	return nil, false, false
}

func (s *DNSServer) vniAllowed(vni uint32) bool {
	if len(s.cfg.VNIs) == 0 {
		return true
	}
	for _, v := range s.cfg.VNIs {
		if v == vni {
			return true
		}
	}
	return false
}

// soa is the zone's SOA record, sent in negative answers so resolvers cache
// them for (at most) the TTL.
func (s *DNSServer) soa() dns.RR {
	ttl := uint32(s.cfg.TTL.Seconds())
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: s.domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:      "ns." + s.domain,
		Mbox:    "hostmaster." + s.domain,
		Serial:  1,
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  ttl,
	}
}

// fail builds an error reply to req.
func (s *DNSServer) fail(req *dns.Msg, rcode, size int, tcp bool) []byte {
	resp := new(dns.Msg)
	resp.SetRcode(req, rcode)
	resp.RecursionAvailable = len(s.cfg.Upstreams) > 0
	return s.finish(resp, req, size, tcp)
}

// finish adds EDNS when the client used it, truncates for UDP and packs.
func (s *DNSServer) finish(resp, req *dns.Msg, size int, tcp bool) []byte {
	if req.IsEdns0() != nil && resp.IsEdns0() == nil {
		resp.SetEdns0(maxDNSUDPResponse, false)
	}
	if !tcp {
		resp.Truncate(size)
	}
	b, err := resp.Pack()
	if err != nil {
		s.log.Debug("packing dns reply failed", "err", err)
		var hdr [dnsHeaderLen]byte
		binary.BigEndian.PutUint16(hdr[0:], req.Id)
		return headerReply(hdr[:], dns.RcodeServerFailure)
	}
	return b
}

// headerReply builds a bare reply (no sections) to the query whose header
// starts raw, for queries too broken to unpack.
func headerReply(raw []byte, rcode int) []byte {
	b := make([]byte, dnsHeaderLen)
	copy(b[0:2], raw[0:2])                  // ID
	b[2] = 0x80 | raw[2]&0x78 | raw[2]&0x01 // QR, opcode, RD
	b[3] = byte(rcode & 0x0f)
	return b
}

// forward sends req to the upstreams in turn and returns the first answer,
// or SERVFAIL if none answers.
func (s *DNSServer) forward(ctx context.Context, req *dns.Msg, size int, tcp bool) []byte {
	s.stats.forwarded.Add(1)
	q := req.Copy()
	q.Id = dns.Id() // unpredictable towards the upstream, whatever the client chose
	c := &dns.Client{Net: "udp", Timeout: s.cfg.UpstreamTimeout, UDPSize: maxDNSUDPResponse}
	if tcp {
		c.Net = "tcp"
	}
	for _, u := range s.cfg.Upstreams {
		resp, _, err := c.ExchangeContext(ctx, q, u.String())
		if err != nil {
			s.log.Debug("dns upstream failed", "upstream", u, "err", err)
			continue
		}
		resp.Id = req.Id
		return s.finish(resp, req, size, tcp)
	}
	s.stats.forwardFailed.Add(1)
	return s.fail(req, dns.RcodeServerFailure, size, tcp)
}
