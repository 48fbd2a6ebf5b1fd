package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/keydist"
	"meshnet.dev/meshnet/node/config"
)

// TestEvictionCutsANodeOff evicts one of three nodes and checks that it
// can no longer reach anyone, cannot read gossip, cannot come back with its
// old token, and that the others keep working.
func TestEvictionCutsANodeOff(t *testing.T) {
	hosts, ms, ips := encryptedPair(t, 3, clusterOpts{})
	tok := readToken(t, ms[2]) // the token h3 joined with
	ping(t, hosts[2], mustAddr(ips[0]), 1)

	st, err := ms[2].Status()
	if err != nil {
		t.Fatal(err)
	}
	evictedKey := st.Keys.PublicKey
	start := time.Now()
	if out, err := ms[0].CLI("evict", hosts[2].Name); err != nil {
		t.Fatalf("meshnet evict: %v\n%s", err, out)
	}
	for _, h := range hosts[:2] {
		err := netlab.Poll(30*time.Second, 5*time.Millisecond, func() error {
			out, err := h.Run("wg", "show", "wg-"+h.Name, "peers")
			if err != nil {
				return err
			}
			if strings.Contains(out, evictedKey) {
				return fmt.Errorf("%s still has the evicted node as a WireGuard peer", h.Name)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("evict to the evicted node removed from every member's WireGuard: %s", time.Since(start).Round(time.Millisecond))
	pingFails(t, hosts[2], mustAddr(ips[0]))
	pingFails(t, hosts[2], mustAddr(ips[1]))
	ping(t, hosts[0], mustAddr(ips[1]), 3) // the others keep working
	ping(t, hosts[1], mustAddr(ips[0]), 3)

	// Gossip now arrives under keys the evicted node does not have.
	err = netlab.Poll(60*time.Second, 200*time.Millisecond, func() error {
		if !strings.Contains(strings.ToLower(ms[2].Proc.Output()), "decrypt") {
			return fmt.Errorf("no decrypt failures logged by the evicted node yet")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// It cannot come back with its old token, even with a fresh key.
	ms[2].Proc.Kill()
	if err := os.RemoveAll(ms[2].StateDir); err != nil {
		t.Fatal(err)
	}
	c := config.DefaultConfig()
	c.Name = hosts[2].Name
	c.Networks = []config.NetworkConfig{{Name: "red"}}
	c.Token = tok
	back, err := hosts[2].StartMeshnet(bin.meshnet, c)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, err := back.Status()
		if err == nil && st.Keys.Epoch != 0 {
			t.Fatalf("the evicted machine got keys again with its old token (epoch %d)", st.Keys.Epoch)
		}
		if _, err := hosts[2].Run("ping", "-c", "1", "-W", "1", ips[0]); err == nil {
			t.Fatal("the evicted machine reaches a member again with its old token")
		}
	}
	ping(t, hosts[0], mustAddr(ips[1]), 3)
}

// readToken returns the join token a daemon was started with.
func readToken(t *testing.T, m *netlab.Meshnet) string {
	t.Helper()
	b, err := os.ReadFile(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	match := regexp.MustCompile(`(?m)^token: (\S+)`).FindSubmatch(b)
	if match == nil {
		t.Fatal("no token in the config")
	}
	return strings.Trim(string(match[1]), `"`)
}

// pingSeries runs count pings at interval and returns sent and received.
func pingSeries(h *netlab.Host, ip string, count int, interval time.Duration) (sent, received int, err error) {
	out, err := h.Run("ping", "-q", "-c", strconv.Itoa(count), "-i", fmt.Sprintf("%.2f", interval.Seconds()), "-W", "2", ip)
	m := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("ping said %q: %v", out, err)
	}
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	return sent, received, nil
}

// TestRotationUnderLoad rotates the gossip keyring and the data-key epoch
// every 3 s for a minute while pings and a TCP stream cross three nodes:
// no ping is lost, the stream completes intact, and every node ends on the
// same epoch.
func TestRotationUnderLoad(t *testing.T) {
	duration := time.Minute
	if testing.Short() {
		duration = 20 * time.Second
	}
	hosts, ms, ips := encryptedPair(t, 3, clusterOpts{rotation: 3 * time.Second})
	first := epochOf(t, ms[0])
	count := int(duration / (50 * time.Millisecond))
	var wg sync.WaitGroup
	type result struct {
		what           string
		sent, received int
		err            error
	}
	results := make(chan result, 2)
	for _, p := range []struct {
		from *netlab.Host
		to   string
	}{{hosts[1], ips[2]}, {hosts[2], ips[0]}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, r, err := pingSeries(p.from, p.to, count, 50*time.Millisecond)
			results <- result{p.from.Name + "→" + p.to, s, r, err}
		}()
	}
	// A steady stream well below link capacity: loss from congestion on
	// two shared cores must not be mistaken for loss from rotation.
	const mbps = 100
	sent, got := transfer(t, hosts[1], hosts[0], ips[0], int64(duration.Seconds()*mbps*1e6/8), "-mbps", fmt.Sprint(mbps))
	wg.Wait()
	close(results)
	lost := 0
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		lost += r.sent - r.received
		t.Logf("ping %s: %d sent, %d received", r.what, r.sent, r.received)
	}
	if got.SHA256 != sent.SHA256 || got.Bytes != sent.Bytes {
		t.Fatal("the TCP stream was corrupted")
	}
	t.Logf("%d MB stream at %.0f Mbit/s during rotation, SHA-256 matches", sent.Bytes>>20, sent.Mbps)
	var final uint64
	err := netlab.Poll(30*time.Second, 100*time.Millisecond, func() error {
		final = epochOf(t, ms[0])
		for _, m := range ms[1:] {
			if e := epochOf(t, m); e != final {
				return fmt.Errorf("%s on epoch %d, admin on %d", m.Host.Name, e, final)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if final == first {
		t.Fatal("no rotation happened")
	}
	if lost != 0 {
		t.Fatalf("%d pings lost during rotation", lost)
	}
}

func epochOf(t *testing.T, m *netlab.Meshnet) uint64 {
	t.Helper()
	st, err := m.Status()
	if err != nil {
		t.Fatal(err)
	}
	return st.Keys.Epoch
}

// TestKeysNeverLogged runs a cluster at debug level through token
// issuance, rotations and traffic, then searches every log and every
// status output for every key it used, in every usual encoding.
func TestKeysNeverLogged(t *testing.T) {
	hosts, ms, ips := encryptedPair(t, 3, clusterOpts{rotation: 2 * time.Second, debug: true})
	var secrets [][]byte
	collect := func() {
		var pubs []keydist.NodePublic
		var epochs []keydist.Epoch
		for _, m := range ms {
			s, pub, epoch := stateSecrets(t, m.StateDir)
			secrets = append(secrets, s...)
			pubs, epochs = append(pubs, pub), append(epochs, epoch)
		}
		for i := range pubs {
			for j := range pubs {
				if i < j {
					secrets = append(secrets, keydist.PairPSK(epochs[i], pubs[i], pubs[j]).Bytes())
				}
			}
		}
	}
	collect()
	token := joinToken(t, ms[0])
	for i := range 3 {
		ping(t, hosts[i], mustAddr(ips[(i+1)%3]), 2)
		before := epochOf(t, ms[0])
		err := netlab.Poll(30*time.Second, 100*time.Millisecond, func() error {
			if epochOf(t, ms[0]) == before {
				return fmt.Errorf("no rotation yet")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		collect()
	}
	var outputs []string
	for _, m := range ms {
		outputs = append(outputs, m.Proc.Output())
		for _, cmd := range [][]string{{"status", "--json"}, {"peers", "--json"}, {"status"}, {"peers"}, {"networks"}} {
			out, err := m.CLI(cmd...)
			if err != nil {
				t.Fatal(err)
			}
			outputs = append(outputs, out)
		}
	}
	all := strings.Join(outputs, "\n")
	if strings.Contains(all, strings.TrimPrefix(token, keydist.TokenPrefix)) {
		t.Fatal("a join token appears in logs or status")
	}
	for _, s := range secrets {
		for _, enc := range encodings(s) {
			if strings.Contains(all, enc) {
				t.Fatalf("key material appears in logs or status (as %q)", enc[:8]+"…")
			}
		}
	}
	t.Logf("searched %d KiB of logs and status for %d keys in %d encodings each", len(all)/1024, len(secrets), len(encodings(secrets[0])))
}

// stateSecrets reads every secret in a node's state directory — its node
// key, the admin key if any, the gossip keyring and the data-key epochs —
// and returns them with the node's public key and current epoch.
func stateSecrets(t *testing.T, dir string) ([][]byte, keydist.NodePublic, keydist.Epoch) {
	t.Helper()
	var out [][]byte
	nodeKeyText, err := os.ReadFile(filepath.Join(dir, keydist.NodeKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(nodeKeyText)))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, raw)
	if b, err := os.ReadFile(filepath.Join(dir, "admin.key")); err == nil {
		seed := strings.TrimPrefix(strings.TrimSpace(string(b)), "adminpriv:")
		if s, err := base64.StdEncoding.DecodeString(seed); err == nil {
			out = append(out, s)
		}
	}
	key, _, err := keydist.LoadOrCreateNodeKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := keydist.OpenMember(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	st := m.State()
	for _, k := range st.Ring.Keys {
		out = append(out, k.Bytes())
	}
	for _, e := range []keydist.Epoch{st.Epochs.Current, st.Epochs.Previous} {
		if !e.Key.IsZero() {
			out = append(out, e.Key.Bytes())
		}
	}
	return out, key.Public(), st.Epochs.Current
}

// encodings lists the forms a key might be printed in.
func encodings(b []byte) []string {
	return []string{
		hex.EncodeToString(b), strings.ToUpper(hex.EncodeToString(b)),
		base64.StdEncoding.EncodeToString(b), base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
	}
}
