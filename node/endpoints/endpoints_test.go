package endpoints

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestAllocateSkipsNodeNetworkAndUsed(t *testing.T) {
	subnet := netip.MustParsePrefix("10.0.0.0/24")
	block := netip.MustParsePrefix("10.0.0.0/30")
	used := map[netip.Addr]bool{}
	var got []netip.Addr
	for {
		ip, err := Allocate(subnet, []netip.Prefix{block}, func(a netip.Addr) bool { return used[a] })
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		used[ip] = true
		got = append(got, ip)
	}
	// .0 is the subnet's address, .1 the node's: .2 and .3 are left.
	want := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("allocated %v, want %v", got, want)
	}
	last := netip.MustParsePrefix("10.0.0.252/30")
	ip, err := Allocate(subnet, []netip.Prefix{last}, func(netip.Addr) bool { return false })
	if err != nil || ip != netip.MustParseAddr("10.0.0.254") {
		t.Fatalf("last block: %v %v, want 10.0.0.254 (never .253, the node's, nor .255)", ip, err)
	}
	ip, err = Allocate(subnet, []netip.Prefix{last}, func(a netip.Addr) bool { return a == netip.MustParseAddr("10.0.0.254") })
	if err != nil || ip != netip.MustParseAddr("10.0.0.252") {
		t.Fatalf("last block, .254 used: %v %v, want the block's first address last", ip, err)
	}
}

func TestRegistryAddIsIdempotentAndPersists(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{"red", "c1", "eth0"}
	n := 0
	alloc := func(taken map[netip.Addr]bool) (netip.Addr, error) {
		n++
		ip := netip.MustParseAddr("10.0.0.2")
		if taken[ip] {
			ip = ip.Next()
		}
		return ip, nil
	}
	e1, created, err := r.Add(k, MAC("n1", k), alloc)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	e2, created, err := r.Add(k, MAC("n1", k), alloc)
	if err != nil || created || e2 != e1 || n != 1 {
		t.Fatalf("second add: %+v created=%v err=%v allocs=%d", e2, created, err, n)
	}
	k2 := Key{"red", "c2", "eth0"}
	e3, _, err := r.Add(k2, MAC("n1", k2), alloc)
	if err != nil || e3.IP == e1.IP || e3.MAC == e1.MAC {
		t.Fatalf("second container got %+v (first %+v), %v", e3, e1, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("registry file: %v %v", fi, err)
	}
	r2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.List("red"); len(got) != 2 || got[0] != e1 || got[1] != e3 {
		t.Fatalf("reopened registry lists %+v", got)
	}
	for range 2 {
		if _, _, err := r2.Remove(k); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, _ := r2.Remove(Key{"red", "unknown", "eth0"}); ok {
		t.Fatal("removed an unknown endpoint")
	}
	r3, _ := Open(dir)
	if got := r3.List(""); len(got) != 1 || got[0] != e3 {
		t.Fatalf("after remove: %+v", got)
	}
}

func TestOpenRefusesCorruptFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, FileName), []byte("{not json"), 0o600)
	if _, err := Open(dir); err == nil {
		t.Fatal("opened a corrupt file")
	}
}

func TestCheckNames(t *testing.T) {
	for _, c := range []struct{ id, ifname string }{{"", "eth0"}, {"a/b", "eth0"}, {"c", ""}, {"c", "a-very-long-ifname"}, {"c", "e:0"}} {
		if CheckNames(c.id, c.ifname) == nil {
			t.Errorf("CheckNames(%q, %q) accepted", c.id, c.ifname)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"endpoints":[{"network":"red","container_id":"c1","ifname":"eth0","mac":"02:00:00:00:00:01","ip":"10.0.0.2"}]}`))
	f.Add([]byte(`{"v":1,"endpoints":[{"network":"","container_id":"c1","ifname":"eth0","mac":"x","ip":"y"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		eps, err := Decode(b)
		if err != nil {
			return
		}
		for _, e := range eps {
			if CheckNames(e.ContainerID, e.IfName) != nil || !e.IP.IsValid() {
				t.Fatalf("decoded a bad endpoint %+v", e)
			}
		}
	})
}
