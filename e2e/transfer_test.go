package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"

	"meshnet.dev/meshnet/e2e/netlab"
)

// xferResult mirrors what the xfer tool prints.
type xferResult struct {
	Bytes   int64   `json:"bytes"`
	SHA256  string  `json:"sha256"`
	Seconds float64 `json:"seconds"`
	Mbps    float64 `json:"mbps"`
}

// transfer sends n bytes over TCP from one host to another's overlay
// address and returns what each side saw.
func transfer(t *testing.T, from, to *netlab.Host, toAddr string, n int64, extra ...string) (sent, got xferResult) {
	t.Helper()
	recv := to.Command(t.Context(), bin.xfer, "recv", "-listen", ":5001")
	return xferPair(t, recv, func() (string, error) {
		return from.Run(bin.xfer, append([]string{"send", "-to", toAddr + ":5001", "-bytes", fmt.Sprint(n)}, extra...)...)
	})
}

// xferPair starts recv (an `xfer recv -listen :5001`), waits until it
// listens, runs send (the matching `xfer send`) and returns what each side
// reported.
func xferPair(t *testing.T, recv *exec.Cmd, send func() (string, error)) (sent, got xferResult) {
	t.Helper()
	stdout, err := recv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	defer recv.Wait()
	defer recv.Process.Kill()
	rd := bufio.NewReader(stdout)
	// The receiver prints "listening" first: wait for it so the sender
	// never races the listener.
	if line, err := rd.ReadString('\n'); err != nil || line != "listening\n" {
		t.Fatalf("receiver: %q %v", line, err)
	}
	sendOut, err := send()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(sendOut), &sent); err != nil {
		t.Fatalf("sender said %q: %v", sendOut, err)
	}
	if err := json.NewDecoder(rd).Decode(&got); err != nil {
		t.Fatalf("receiver: %v", err)
	}
	return sent, got
}

func TestTransfer200MB(t *testing.T) {
	for _, mode := range []string{"tap", "tun"} {
		t.Run(mode, func(t *testing.T) {
			_, hosts := newLab(t, 2)
			startAll(t, hosts, staticConfigs(hosts, mode))
			sent, got := transfer(t, hosts[0], hosts[1], overlayIP(1).String(), 200<<20)
			if got.Bytes != sent.Bytes || got.SHA256 != sent.SHA256 {
				t.Fatalf("sent %d bytes sha256 %s, received %d bytes sha256 %s", sent.Bytes, sent.SHA256, got.Bytes, got.SHA256)
			}
			t.Logf("%s mode: 200 MiB in %.2fs = %.0f Mbit/s, SHA-256 %s matches", mode, sent.Seconds, sent.Mbps, sent.SHA256[:16])
		})
	}
}
