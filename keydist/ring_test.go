package keydist

import (
	"bytes"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestRingRotate(t *testing.T) {
	r := newRing(t)
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Primary != 1 {
		t.Fatalf("new ring primary %d, want the middle", r.Primary)
	}
	k := newSym(t)
	next := r.Rotate(k)
	if !next.Keys[0].Equal(r.Keys[1]) || !next.Keys[1].Equal(r.Keys[2]) || !next.Keys[2].Equal(k) || next.Primary != 1 {
		t.Fatal("Rotate does not shift the oldest key out and append the new one")
	}
	if !next.PrimaryKey().Equal(r.Keys[2]) {
		t.Fatal("the staged key did not become primary")
	}
	if next.Contains(r.Keys[0]) || !next.Contains(k) || next.Contains(SymmetricKey{}) {
		t.Fatal("Contains wrong")
	}
}

func TestRingEmergency(t *testing.T) {
	r := newRing(t)
	p, n := newSym(t), newSym(t)
	e := r.Emergency(p, n)
	if !e.Keys[0].Equal(r.PrimaryKey()) || !e.PrimaryKey().Equal(p) || !e.Keys[2].Equal(n) {
		t.Fatal("Emergency: want [old primary, new primary, new next]")
	}
	// A node holding only r can send to e (e keeps r's primary) but cannot
	// read e's primary.
	if r.Contains(e.PrimaryKey()) || !e.Contains(r.PrimaryKey()) {
		t.Fatal("emergency ring does not lock out holders of the old ring")
	}
	// After the purge rotation nothing of r is left.
	purged := e.Rotate(newSym(t))
	for _, k := range r.Keys {
		if purged.Contains(k) {
			t.Fatal("purge rotation kept a key of the old ring")
		}
	}
}

func TestRingValidate(t *testing.T) {
	r := newRing(t)
	dup := r
	dup.Keys[2] = dup.Keys[0]
	missing := r
	missing.Keys[1] = SymmetricKey{}
	badPrimary := r
	badPrimary.Primary = 3
	for name, bad := range map[string]GossipKeyring{"duplicate": dup, "missing": missing, "primary": badPrimary} {
		if err := bad.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	if !r.Equal(r) || r.Equal(dup) || !(GossipKeyring{}).IsZero() || r.IsZero() {
		t.Fatal("Equal/IsZero wrong")
	}
}

// recordingKeyring is a Keyring that logs calls and checks that the primary
// is always installed.
type recordingKeyring struct {
	keys    [][]byte // keys[0] is primary, as memberlist keeps it
	calls   []string
	invalid bool
}

func (k *recordingKeyring) AddKey(key []byte) error {
	k.calls = append(k.calls, "add")
	if !slices.ContainsFunc(k.keys, func(h []byte) bool { return bytes.Equal(h, key) }) {
		k.keys = append(k.keys, key)
	}
	return nil
}

func (k *recordingKeyring) UseKey(key []byte) error {
	k.calls = append(k.calls, "use")
	i := slices.IndexFunc(k.keys, func(h []byte) bool { return bytes.Equal(h, key) })
	if i < 0 {
		k.invalid = true
		return errors.New("not installed")
	}
	k.keys[0], k.keys[i] = k.keys[i], k.keys[0]
	return nil
}

func (k *recordingKeyring) RemoveKey(key []byte) error {
	k.calls = append(k.calls, "remove")
	if bytes.Equal(k.keys[0], key) {
		k.invalid = true
		return errors.New("removing the primary")
	}
	k.keys = slices.DeleteFunc(k.keys, func(h []byte) bool { return bytes.Equal(h, key) })
	return nil
}

func (k *recordingKeyring) GetKeys() [][]byte { return k.keys }

func TestApplyOrder(t *testing.T) {
	r := newRing(t)
	kr := &recordingKeyring{}
	if err := r.Apply(kr); err != nil {
		t.Fatal(err)
	}
	next := r.Rotate(newSym(t))
	kr.calls = nil
	if err := next.Apply(kr); err != nil {
		t.Fatal(err)
	}
	if want := []string{"add", "add", "add", "use", "remove"}; !slices.Equal(kr.calls, want) || kr.invalid {
		t.Fatalf("calls %v, want %v (install, use, remove)", kr.calls, want)
	}
	if len(kr.keys) != 3 || !bytes.Equal(kr.keys[0], next.PrimaryKey().Bytes()) {
		t.Fatal("keyring does not hold exactly the new ring")
	}
}

func TestApplyToMemberlistKeyring(t *testing.T) {
	r := newRing(t)
	primary, all := r.MemberlistKeys()
	kr, err := memberlist.NewKeyring(all, primary)
	if err != nil {
		t.Fatal(err)
	}
	// Two regular rotations and an emergency one, each applied in place.
	for i, next := range []GossipKeyring{r.Rotate(newSym(t)), r.Rotate(newSym(t)).Rotate(newSym(t)), r.Emergency(newSym(t), newSym(t))} {
		if err := next.Apply(kr); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if !bytes.Equal(kr.GetPrimaryKey(), next.PrimaryKey().Bytes()) {
			t.Fatalf("step %d: memberlist primary is not the ring's", i)
		}
		got := kr.GetKeys()
		if len(got) != RingSize {
			t.Fatalf("step %d: memberlist holds %d keys, want %d", i, len(got), RingSize)
		}
		for _, k := range got {
			if !next.Contains(symmetricFrom(k)) {
				t.Fatalf("step %d: memberlist holds a key not in the ring", i)
			}
		}
	}
}

// TestRotationNeverStrandsAReceiver simulates a cluster whose nodes apply each
// key record at a different, random time within the rotation period, with
// real memberlist keyrings. At every moment every node must be able to
// decrypt what every other node sends.
func TestRotationNeverStrandsAReceiver(t *testing.T) {
	const (
		nodes     = 7
		rotations = 12
		period    = 1000 // arbitrary time units
	)
	rng := mrand.New(mrand.NewPCG(1, 2))
	rings := []GossipKeyring{newRing(t)}
	for i := 0; i < rotations; i++ {
		rings = append(rings, rings[len(rings)-1].Rotate(newSym(t)))
	}
	// apply[n][k] is when node n applies ring k; ring 0 is known to all at
	// time 0 and ring k is issued at k*period.
	type event struct {
		at, node, ring int
	}
	var events []event
	for n := 0; n < nodes; n++ {
		for k := 1; k <= rotations; k++ {
			events = append(events, event{at: k*period + rng.IntN(period), node: n, ring: k})
		}
	}
	slices.SortFunc(events, func(a, b event) int { return a.at - b.at })
	krs := make([]*memberlist.Keyring, nodes)
	for n := range krs {
		primary, all := rings[0].MemberlistKeys()
		kr, err := memberlist.NewKeyring(all, primary)
		if err != nil {
			t.Fatal(err)
		}
		krs[n] = kr
	}
	for _, ev := range events {
		if err := rings[ev.ring].Apply(krs[ev.node]); err != nil {
			t.Fatal(err)
		}
		if err := allCanDecrypt(krs); err != nil {
			t.Fatalf("t=%d after node %d applied ring %d: %v", ev.at, ev.node, ev.ring, err)
		}
	}
}

// allCanDecrypt checks that every node's primary is installed on every node.
func allCanDecrypt(krs []*memberlist.Keyring) error {
	for s, sender := range krs {
		primary := sender.GetPrimaryKey()
		for r, receiver := range krs {
			if !slices.ContainsFunc(receiver.GetKeys(), func(k []byte) bool { return bytes.Equal(k, primary) }) {
				return fmt.Errorf("node %d cannot decrypt node %d", r, s)
			}
		}
	}
	return nil
}

// TestStrandedWhenTwoRotationsApart shows what the schedule prevents: a
// node that missed a rotation entirely cannot read a node two rotations
// ahead, so the check above can fail.
func TestStrandedWhenTwoRotationsApart(t *testing.T) {
	r0 := newRing(t)
	r2 := r0.Rotate(newSym(t)).Rotate(newSym(t))
	krs := make([]*memberlist.Keyring, 2)
	for i, r := range []GossipKeyring{r0, r2} {
		primary, all := r.MemberlistKeys()
		kr, err := memberlist.NewKeyring(all, primary)
		if err != nil {
			t.Fatal(err)
		}
		krs[i] = kr
	}
	if allCanDecrypt(krs) == nil {
		t.Fatal("nodes two rotations apart can still read each other; the simulation check is vacuous")
	}
}
