package gossip

import (
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"
)

// SuspicionMult is memberlist's suspicion multiplier in meshnet (LAN
// default 4): a suspected node is declared dead after SuspicionMult x
// max(1, log10 N) probe intervals unless it refutes, which is 4.8 s at
// 1,000 nodes with the default 800 ms probe interval, so every member marks a
// crash failed within 10 s. With 2, memberlist waits for no independent
// confirmation (it asks for SuspicionMult-2), so a live node is saved only
// by refuting, which it does as soon as the suspicion's gossip reaches it:
// well under the 2 s it has at 10 nodes.
const SuspicionMult = 2

// DefaultProbeInterval is how often each node probes one other member, the
// SWIM period (memberlist's LAN default is 1 s). Detection takes the wait for
// some member to probe the crashed node (about one interval: N members
// each probe one of N), a probe round, the suspicion timeout and the dead
// message's gossip; at 800 ms that is about 7 s at 1,000 simulated nodes
// and under 10 s for all 30 crashes measured, where 1 s gave 8.2 to
// 10.7 s (docs/SCALE.md), for 25% more probe packets.
const DefaultProbeInterval = 800 * time.Millisecond

// maxProbeTimeout covers round trips between continents.
const maxProbeTimeout = 400 * time.Millisecond

// ProbeTimeout is how long a direct probe waits for its ack, with probe
// period interval, before asking other members to probe indirectly: half
// the period, so the indirect probes have the rest, and at most 400 ms
// (400 ms at the default 800 ms).
func ProbeTimeout(interval time.Duration) time.Duration {
	return min(maxProbeTimeout, interval/2)
}

// memberlistConfig builds memberlist's configuration: the LAN defaults,
// our delegates, the keyring, dead-node reclaim so a crashed node can come
// back under its name from a new address, our probe period and suspicion
// multiplier, and no periodic push/pull (digest.go exchanges a membership
// digest instead and pushes/pulls only on a mismatch); Tune has the last
// word.
func (d *DB) memberlistConfig(t memberlist.NodeAwareTransport) *memberlist.Config {
	c := memberlist.DefaultLANConfig()
	c.Name = d.cfg.Name
	c.BindAddr = d.cfg.BindAddr
	c.BindPort = d.cfg.BindPort
	c.AdvertiseAddr = d.cfg.AdvertiseAddr
	c.AdvertisePort = d.cfg.AdvertisePort
	c.Transport = t
	dl := mlDelegate{d}
	c.Delegate, c.Events, c.Ping, c.Alive = dl, dl, dl, dl
	c.Keyring = d.keyring
	c.DeadNodeReclaimTime = deadNodeReclaimTime
	c.SuspicionMult = SuspicionMult
	c.ProbeInterval, c.ProbeTimeout = d.cfg.ProbeInterval, ProbeTimeout(d.cfg.ProbeInterval)
	// memberlist's timer sends the whole member list every 30 s (scaled by
	// log N), O(N) bytes per node per interval.
	c.PushPullInterval = 0
	c.LogOutput = nil
	c.Logger = log.New(d.mlLog, "", 0)
	if d.cfg.Tune != nil {
		d.cfg.Tune(c)
	}
	return c
}

// transport returns the configured transport, or real sockets, wrapped to
// count every byte.
func (d *DB) transport() (*countingTransport, error) {
	inner := d.cfg.Transport
	if inner == nil {
		nt, err := d.netTransport()
		if err != nil {
			return nil, err
		}
		inner = nt
	}
	g := &streamGuard{refused: func() { d.stats.drop(dropStreamRefused, 1) }}
	if d.cfg.Side != nil {
		g.side = d.serveSide
	}
	if nt, ok := inner.(*netTransport); ok {
		g.back = nt.acceptBack
	}
	return newCountingTransport(inner, &d.stats.transport, g), nil
}

// netTransport binds UDP and TCP on BindAddr:BindPort (nettransport.go).
func (d *DB) netTransport() (*netTransport, error) {
	hooks := netHooks{
		oversized: func() { d.stats.drop(dropOversized, 1) },
		log:       log.New(d.mlLog, "", 0).Printf,
	}
	if d.keyring != nil {
		hooks.auth = newPacketAuth(d.keyring)
		hooks.rejected = func() { d.stats.drop(dropUndecryptable, 1) }
		hooks.path = d.handlePath
	}
	nt, err := listenNet(d.cfg.BindAddr, d.cfg.BindPort, hooks)
	if err != nil {
		return nil, fmt.Errorf("gossip: listening on %s port %d: %w (is the port free and the address local?)", d.cfg.BindAddr, d.cfg.BindPort, err)
	}
	if d.cfg.BindPort == 0 {
		d.cfg.BindPort = nt.port()
	}
	d.nt = nt
	if d.keyring != nil {
		seal := newPathSealer(d.keyring)
		nt.enableConnectBack(seal, d.advertisedGossipAddr())
		d.obs.Store(newObserver(observerConfig{
			seal: seal, send: nt.writePath, back: nt.answerBack,
			local: d.localGossipAddr(), advertised: d.advertisedGossipAddr(),
			now: d.now, drop: func(r dropReason) { d.stats.drop(r, 1) },
			seen: func(adv, from netip.AddrPort, nat bool) { d.memberSeen(nt, adv, from, nat) },
		}))
	}
	return nt, nil
}
