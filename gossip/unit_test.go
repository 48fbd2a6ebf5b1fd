package gossip

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meshnet.dev/meshnet/gossip/wire"
)

func TestLamportClock(t *testing.T) {
	var c lamportClock
	if c.Increment() != 1 || c.Increment() != 2 {
		t.Fatal("increment")
	}
	c.Witness(10)
	if got := c.Increment(); got != 11 {
		t.Errorf("after witnessing 10, next time %d, want 11", got)
	}
	c.Witness(3)
	if c.Time() != 11 {
		t.Errorf("witnessing the past moved the clock to %d", c.Time())
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 1000 {
				c.Witness(uint64(i*1000 + j))
			}
		})
	}
	wg.Wait()
	if c.Time() != 7999 {
		t.Errorf("concurrent witnesses left %d, want 7999", c.Time())
	}
}

func TestRetransmitLimit(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 1}, {1, 1}, {2, 1}, {3, 2}, {5, 4}, {6, 5}, {9, 8}, {10, 8}, {20, 8}, {99, 8}, {100, 12}, {10000, 20}} {
		if got := retransmitLimit(4, tc.n); got != tc.want {
			t.Errorf("retransmitLimit(4, %d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

func TestEventQueue(t *testing.T) {
	var q eventQueue[string]
	q.push("a", 10)
	q.push("b", 10)
	items := q.ordered()
	if items[0].id != "b" {
		t.Errorf("newest not first: %v", items[0].id)
	}
	q.sent(items[0], "x", 2)
	if got := q.ordered()[0].id; got != "a" {
		t.Errorf("least sent not first: %v", got)
	}
	if !items[0].wasSentTo("x") || items[0].wasSentTo("y") {
		t.Error("sent-to not recorded")
	}
	q.sent(q.ordered()[1], "y", 2) // b reaches its limit
	if q.len() != 1 {
		t.Errorf("item not forgotten after its retransmit limit: %d left", q.len())
	}
	q.sent(q.ordered()[0], "x", 10)
	q.push("a", 10) // a newer write resets its transmissions
	if it := q.ordered()[0]; it.transmits != 0 || it.wasSentTo("x") {
		t.Error("re-push did not reset transmissions")
	}
	dropped := 0
	for i := range 20 {
		dropped += q.push(fmt.Sprint(i), 10)
	}
	if q.len() != 10 || dropped != 11 {
		t.Errorf("bounded queue holds %d after %d drops, want 10 and 11", q.len(), dropped)
	}
	if _, ok := q.items["19"]; !ok {
		t.Error("newest item dropped instead of oldest")
	}
}

func TestSelectTargetsUniform(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("n%02d", i)
	}
	hits := map[string]int{}
	for range 4000 {
		got := selectTargets(slices.Clone(names), 3, nil, rng)
		if len(got) != 3 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 3 {
			t.Fatalf("picked %v", got)
		}
		for _, g := range got {
			hits[g]++
		}
	}
	for _, n := range names {
		if hits[n] < 450 || hits[n] > 750 { // expected 600
			t.Errorf("%s picked %d times of 12000, want about 600", n, hits[n])
		}
	}
	if got := selectTargets([]string{"x", "y"}, 3, nil, rng); len(got) != 2 {
		t.Errorf("fewer candidates than fanout: %v", got)
	}
	if got := selectTargets(nil, 3, nil, rng); got != nil {
		t.Errorf("no candidates: %v", got)
	}
}

// With distances, k-1 picks favour near members by weight and one is
// uniformly random among the rest: near members get most of the traffic,
// every member is reached now and then, and when all links are alike
// (estimates differ only by noise) the picks spread evenly.
func TestSelectTargetsTopologyAware(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	names := make([]string, 20)
	dist := map[string]time.Duration{}
	for i := range names {
		names[i] = fmt.Sprintf("n%02d", i)
		if i < 5 {
			dist[names[i]] = 2 * time.Millisecond
		} else {
			dist[names[i]] = 50 * time.Millisecond
		}
	}
	delete(dist, "n19") // no estimate: weighted as the farthest
	distFn := func(n string) (time.Duration, bool) { d, ok := dist[n]; return d, ok }
	const trials = 6000
	nearHits, randomHits, nearPicks := map[string]int{}, map[string]int{}, 0
	for range trials {
		got := selectTargets(slices.Clone(names), 3, distFn, rng)
		if len(got) != 3 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 3 {
			t.Fatalf("picked %v", got)
		}
		for _, g := range got[:2] {
			nearHits[g]++
			if dist[g] == 2*time.Millisecond {
				nearPicks++
			}
		}
		randomHits[got[2]]++
	}
	// Weights 1/sqrt(RTT): 5 near members at 22.4 against 15 far ones at
	// 4.5, so about 62% of the weighted picks go near, where uniform picks
	// would send 25%.
	if share := float64(nearPicks) / (2 * trials); share < 0.55 || share > 0.70 {
		t.Errorf("%.0f%% of the weighted picks went to the 5 near members, want about 62%%", 100*share)
	}
	for _, n := range names[:5] {
		if nearHits[n] < 1200 || nearHits[n] > 1800 { // expected about 1500
			t.Errorf("near member %s picked %d times, want about 1500", n, nearHits[n])
		}
	}
	for _, n := range names {
		if randomHits[n] < 150 || randomHits[n] > 450 { // about 6000/18 for far members, fewer for near ones
			t.Errorf("random pick chose %s %d times", n, randomHits[n])
		}
	}

	// Alike links: estimates within ±20% of each other spread the picks.
	for i, n := range names {
		dist[n] = time.Duration(20+i%9-4) * 100 * time.Microsecond
	}
	hits := map[string]int{}
	for range trials {
		for _, g := range selectTargets(slices.Clone(names), 3, distFn, rng) {
			hits[g]++
		}
	}
	for _, n := range names {
		if hits[n] < 600 || hits[n] > 1300 { // expected 900
			t.Errorf("alike links: %s picked %d of %d times, want about 900", n, hits[n], 3*trials)
		}
	}
	if got := selectTargets(slices.Clone(names), 1, distFn, rng); len(got) != 1 {
		t.Errorf("fanout 1: %v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Name = "mngsp-x"
	if err := ok.validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want string
	}{
		"no name":    {func(c *Config) { c.Name = "" }, "Name is empty"},
		"long name":  {func(c *Config) { c.Name = strings.Repeat("x", MaxNodeNameLen+1) }, "Name is"},
		"short key":  {func(c *Config) { c.Keys = [][]byte{make([]byte, 16)} }, "AES-256"},
		"primary":    {func(c *Config) { c.Keys = [][]byte{make([]byte, 32)}; c.PrimaryKey = 1 }, "PrimaryKey"},
		"negative":   {func(c *Config) { c.GossipInterval = -1 }, "GossipInterval"},
		"meta":       {func(c *Config) { c.Meta = make([]byte, 600) }, "Meta"},
		"tombstone":  {func(c *Config) { c.TombstoneTTL = 2 * wire.MaxTTL }, "TombstoneTTL"},
		"neg fanout": {func(c *Config) { c.Fanout = -2 }, "Fanout"},
	} {
		c := ok
		tc.mod(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error about %s", name, err, tc.want)
		}
	}
	zero := Config{Name: "mngsp-x"}
	if err := zero.validate(); err != nil || zero.GossipInterval != DefaultGossipInterval || zero.Fanout != DefaultFanout {
		t.Errorf("zero values not defaulted: %v %+v", err, zero)
	}
}

func TestSecretsNotInErrors(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef!")
	c := DefaultConfig()
	c.Name = "mngsp-x"
	c.Keys = [][]byte{key}
	err := c.validate()
	if err == nil || strings.Contains(err.Error(), string(key[:16])) {
		t.Errorf("error %v leaks or misses the bad key", err)
	}
}

func TestConfigRedactsKeys(t *testing.T) {
	c := DefaultConfig()
	c.Name = "mngsp-x"
	c.Keys = [][]byte{[]byte("SECRETSECRETSECRETSECRETSECRET!!")}
	var buf strings.Builder
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), buf.String()} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "83 69 67") {
			t.Errorf("key leaked: %s", s)
		}
	}
}

// The probe period reaches memberlist with a timeout derived from it the
// same way for the daemon, the simulator and tests; zero is the default.
func TestProbeIntervalSetsMemberlistTimings(t *testing.T) {
	for _, tc := range []struct{ interval, wantInterval, wantTimeout time.Duration }{
		{0, DefaultProbeInterval, 400 * time.Millisecond},
		{500 * time.Millisecond, 500 * time.Millisecond, 250 * time.Millisecond},
		{5 * time.Second, 5 * time.Second, 400 * time.Millisecond},
	} {
		cfg := Config{Name: "mngsp-a", ProbeInterval: tc.interval}
		if err := cfg.validate(); err != nil {
			t.Fatal(err)
		}
		d := &DB{cfg: cfg}
		d.mlLog = newLogBridge(cfg.Logger, &d.stats, cfg.Now)
		mc := d.memberlistConfig(nil)
		if mc.ProbeInterval != tc.wantInterval || mc.ProbeTimeout != tc.wantTimeout {
			t.Errorf("ProbeInterval %v: memberlist probes every %v with timeout %v, want %v and %v",
				tc.interval, mc.ProbeInterval, mc.ProbeTimeout, tc.wantInterval, tc.wantTimeout)
		}
	}
	bad := Config{Name: "mngsp-a", ProbeInterval: -time.Second}
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "ProbeInterval") {
		t.Errorf("negative ProbeInterval: %v", err)
	}
}
