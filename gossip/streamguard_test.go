package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// startLoopback starts one encrypted node on a random loopback port and
// returns it with its gossip address.
func startLoopback(t *testing.T, name string, side func([]byte) []byte) (*DB, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = name
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = 0
	cfg.Keys, cfg.PrimaryKey = [][]byte{bytes.Repeat([]byte{7}, 32)}, 0
	cfg.Tune = func(c *memberlist.Config) {
		fastMemberlist(c)
		c.TCPTimeout = 10 * time.Second // memberlist waits this long for a claimed message
	}
	cfg.Logger = testLogger().With("node", name)
	cfg.Side = side
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Shutdown() })
	for _, m := range d.Members() {
		if m.Name == name {
			return d, m.Addr.String()
		}
	}
	t.Fatal("no own address")
	return nil, ""
}

// claimStream opens a stream that claims an encrypted message of claim
// bytes and sends nothing more.
func claimStream(t *testing.T, addr string, claim uint32) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hdr := binary.BigEndian.AppendUint32([]byte{mlEncryptMsg}, claim)
	if _, err := c.Write(hdr); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedByPeer reports whether the node closed c (within a second).
func closedByPeer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}

// An unauthenticated stream may not claim more than maxStreamClaim, and
// large claims together may not exceed the budget: the node closes such
// streams at once, counts them, and keeps taking small ones.
func TestStreamGuardBoundsUnauthenticatedClaims(t *testing.T) {
	d, addr := startLoopback(t, "mngsp-guard", nil)
	refused := func() uint64 { return d.Stats().Dropped["stream-refused"] }

	if c := claimStream(t, addr, 20<<20-1); !closedByPeer(c) {
		t.Fatal("a stream claiming 20 MiB was not closed")
	}
	if refused() != 1 {
		t.Fatalf("stream-refused = %d, want 1", refused())
	}
	// Three 8 MiB claims fit the 24 MiB budget; memberlist waits for
	// their bytes. The fourth does not fit.
	for i := range streamClaimBudget / maxStreamClaim {
		if c := claimStream(t, addr, maxStreamClaim); closedByPeer(c) {
			t.Fatalf("claim %d within the budget was refused", i)
		}
	}
	if c := claimStream(t, addr, maxStreamClaim); !closedByPeer(c) {
		t.Fatal("a claim over the budget was not closed")
	}
	if refused() != 2 {
		t.Fatalf("stream-refused = %d, want 2", refused())
	}
	// A small claim needs no budget: memberlist gets it (and closes it
	// itself once the junk fails to decrypt).
	c := claimStream(t, addr, 100)
	if _, err := c.Write(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	closedByPeer(c)
	if refused() != 2 {
		t.Fatalf("a small claim was refused by the guard (stream-refused = %d)", refused())
	}
}

// Side requests reach the handler outside gossip encryption; a node
// without a handler answers nothing, and oversized requests are refused.
func TestSideRequest(t *testing.T) {
	_, withSide := startLoopback(t, "mngsp-side", func(req []byte) []byte {
		return append([]byte("re:"), req...)
	})
	asker, noSide := startLoopback(t, "mngsp-noside", nil)
	ans, err := asker.SideRequest(withSide, []byte("keys please"))
	if err != nil || string(ans) != "re:keys please" {
		t.Fatalf("SideRequest = %q, %v", ans, err)
	}
	if _, err := asker.SideRequest(noSide, []byte("x")); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("a node without a handler: got %v, want ErrNoAnswer", err)
	}
	if _, err := asker.SideRequest(withSide, make([]byte, MaxSideRequest+1)); err == nil {
		t.Fatal("an oversized side request was sent")
	}
	// A raw oversized one is dropped by the server.
	c, err := net.Dial("tcp", withSide)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(binary.BigEndian.AppendUint16([]byte{wire.SideRequestMsg}, MaxSideRequest+1))
	if !closedByPeer(c) {
		t.Fatal("an oversized side request was not closed")
	}
	// Gossip still works between them.
	if _, err := asker.Join([]string{withSide}); err != nil {
		t.Fatalf("join after side requests: %v", err)
	}
	waitFor(t, 5*time.Second, func() error {
		if n := len(asker.Members()); n != 2 {
			return fmt.Errorf("%d members", n)
		}
		return nil
	})
}
