package encap

import (
	"sync"
	"testing"
	"time"
)

// TestWireGuardPeersConfiguredTogetherHandshakeAtOnce configures two nodes
// with each other at the same moment, as gossip does when they join a
// network together. Only one end starts the handshake, so the two
// initiations never cross (each would overwrite the other's handshake
// state, and both sessions would wait for WireGuard's five-second retry).
func TestWireGuardPeersConfiguredTogetherHandshakeAtOnce(t *testing.T) {
	psk := newTestKey(t)
	for range 10 {
		a, b := newWGNode(t, nil), newWGNode(t, nil)
		pa, pb := a.peer(psk), b.peer(psk)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, set := range []func(){func() { a.setPeers(pb) }, func() { b.setPeers(pa) }} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				set()
			}()
		}
		begun := time.Now()
		close(start)
		wg.Wait()
		deadline := begun.Add(2 * time.Second) // well inside WireGuard's 5 s retry
		for {
			sa, _ := a.peerStats(b.pub)
			sb, _ := b.peerStats(a.pub)
			if !sa.LastHandshake.IsZero() && !sb.LastHandshake.IsZero() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no session %s after configuring both ends together: a %+v, b %+v", time.Since(begun).Round(time.Millisecond), sa, sb)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
