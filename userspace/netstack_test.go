package userspace

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNetstackDialErrorsCarryErrnos(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	d := NewNetstack(n.proxy.Net())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := d.DialContext(ctx, "tcp", "10.1.0.1:81")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to a closed port: %v, want ECONNREFUSED", err)
	}
	if classify(err) != failRefused {
		t.Fatalf("classified as %v", classify(err))
	}
	short, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	if _, err := d.DialContext(short, "tcp", "10.1.0.99:80"); classify(err) != failTimeout {
		t.Fatalf("dial to nobody: %v (%v), want a timeout", err, classify(err))
	}
	if _, err := d.DialContext(ctx, "tcp", "web.mesh:80"); err == nil || !strings.Contains(err.Error(), "resolve names") {
		t.Fatalf("dial by name: %v", err)
	}
	if _, err := d.DialContext(ctx, "sctp", "10.1.0.1:80"); err == nil || !strings.Contains(err.Error(), "tcp or udp") {
		t.Fatalf("dial sctp: %v", err)
	}
}

func TestNetstackListenerCloseUnblocksAccept(t *testing.T) {
	checkGoroutines(t)
	n := newTestNet(t)
	l, err := NewNetstack(n.proxy.Net()).ListenTCP(netip.AddrPortFrom(proxyAddr4, 4242))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	l.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Accept succeeded on a closed listener")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	again, err := NewNetstack(n.proxy.Net()).ListenTCP(netip.AddrPortFrom(proxyAddr4, 4242))
	if err != nil {
		t.Fatalf("the port is not free again after Close: %v", err)
	}
	again.Close()
}
