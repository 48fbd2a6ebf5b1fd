package keydist

import (
	"encoding/base64"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/nacl/box"
)

var writeSeeds = flag.Bool("write-fuzz-seeds", false, "regenerate the seed corpora under testdata/fuzz")

// TestWriteFuzzSeeds regenerates the valid inputs in the seed corpora:
//
//	go test -run TestWriteFuzzSeeds -write-fuzz-seeds ./keydist
//
// Crashers found by fuzzing are kept next to them under their own names.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-fuzz-seeds to regenerate the seed corpora")
	}
	rnd := testRand(7)
	admin, node := fuzzAdmin(), fuzzNode()
	cluster := ClusterID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ring, err := NewGossipKeyring(rnd)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := NewSymmetricKey(rnd)
	mat := Material{ClusterID: cluster, Epoch: Epoch{Number: 5, Key: key}, Ring: ring}
	other1, _ := NewNodePrivate(rnd)
	other2, _ := NewNodePrivate(rnd)

	tok := Token{
		ClusterID: cluster,
		Bootstrap: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:7946"), netip.MustParseAddrPort("[2001:db8::1]:7946")},
		AdminPub:  admin.Public(),
		Ring:      ring,
		IssuedAt:  fuzzNow().Add(-time.Hour),
		Expiry:    fuzzNow().AddDate(100, 0, 0),
	}
	valid, err := EncodeToken(tok, admin)
	if err != nil {
		t.Fatal(err)
	}
	tok.Expiry = fuzzNow().Add(-time.Minute)
	expired, err := EncodeToken(tok, admin)
	if err != nil {
		t.Fatal(err)
	}
	writeStringSeeds(t, "FuzzParseToken", valid, expired, "  "+valid[:30]+"\n"+valid[30:]+"\n")

	rec, err := SealKeyRecord(admin, 9, fuzzNow(), mat, []NodePublic{node.Public(), other1.Public(), other2.Public()}, rnd)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := SealKeyRecord(admin, 10, fuzzNow(), mat, nil, rnd)
	if err != nil {
		t.Fatal(err)
	}
	writeBytesSeeds(t, "FuzzDecodeKeyRecord", rec.Encode(), empty.Encode())

	ev, err := SignEvictRecord(admin, cluster, 11, fuzzNow(), other1.Public(), "node-1")
	if err != nil {
		t.Fatal(err)
	}
	writeBytesSeeds(t, "FuzzDecodeEvictRecord", ev.Encode())

	pub := node.Public()
	sealed, err := box.SealAnonymous(nil, mat.encode(), &pub.k, rnd)
	if err != nil {
		t.Fatal(err)
	}
	writeBytesSeeds(t, "FuzzOpenSealed", mat.encode(), sealed)

	st := ClusterState{ClusterID: cluster, Admin: admin.Public(), Seq: 9, KeysIssuedAt: fuzzNow(), Ring: ring,
		Epochs: Epochs{Current: mat.Epoch}}
	st, _, _ = st.withEviction(Eviction{Node: other1.Public(), Name: "node-1", Seq: 11, IssuedAt: fuzzNow()})
	st, _, _ = st.withEviction(Eviction{Node: other2.Public(), Name: "node-2", Seq: 12, IssuedAt: fuzzNow()})
	writeBytesSeeds(t, "FuzzDecodeClusterState", st.encode())

	writeStringSeeds(t, "FuzzParseKeyText",
		pub.String(),
		"nodepub:"+pub.String(),
		admin.Public().String(),
		cluster.String(),
		base64.StdEncoding.EncodeToString(node.raw()[:])+"\n",
		"adminpriv:"+base64.StdEncoding.EncodeToString(admin.seed())+"\n",
	)
}

func writeBytesSeeds(t *testing.T, target string, seeds ...[]byte) {
	t.Helper()
	for i, s := range seeds {
		writeSeed(t, target, i, fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s))
	}
}

func writeStringSeeds(t *testing.T, target string, seeds ...string) {
	t.Helper()
	for i, s := range seeds {
		writeSeed(t, target, i, fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s))
	}
}

func writeSeed(t *testing.T, target string, i int, content string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("valid-%d", i)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readSeed returns the value in a one-value seed corpus file.
func readSeed(t *testing.T, target, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fuzz", target, name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(strings.TrimSpace(string(data)), "\n", 2)
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s/%s is not a seed corpus file", target, name)
	}
	v := lines[1]
	v = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(v, "[]byte("), "string("), ")")
	s, err := strconv.Unquote(v)
	if err != nil {
		t.Fatalf("%s/%s: %v", target, name, err)
	}
	return []byte(s)
}

// The valid seeds must stay valid, or the fuzzers would start from inputs
// that never pass the signature and expiry checks.
func TestFuzzSeedsReachAcceptance(t *testing.T) {
	if _, err := ParseToken(string(readSeed(t, "FuzzParseToken", "valid-0")), fuzzNow()); err != nil {
		t.Errorf("token seed: %v", err)
	}
	rec, err := DecodeKeyRecord(readSeed(t, "FuzzDecodeKeyRecord", "valid-0"))
	if err == nil {
		err = rec.Verify(fuzzAdmin().Public())
	}
	if err == nil {
		_, err = rec.Open(fuzzNode())
	}
	if err != nil {
		t.Errorf("key record seed: %v", err)
	}
	ev, err := DecodeEvictRecord(readSeed(t, "FuzzDecodeEvictRecord", "valid-0"))
	if err == nil {
		err = ev.Verify(fuzzAdmin().Public())
	}
	if err != nil {
		t.Errorf("eviction seed: %v", err)
	}
	if _, err := decodeMaterial(readSeed(t, "FuzzOpenSealed", "valid-0")); err != nil {
		t.Errorf("material seed: %v", err)
	}
	if _, err := decodeClusterState(readSeed(t, "FuzzDecodeClusterState", "valid-0")); err != nil {
		t.Errorf("state seed: %v", err)
	}
}
