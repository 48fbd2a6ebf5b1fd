package tun

import (
	"strings"
	"testing"
)

func TestCloneAccessAllows(t *testing.T) {
	const alice, staff, other = 1000, 50, 60
	for _, c := range []struct {
		a    CloneAccess
		uid  int
		gids []int
		want bool
	}{
		{CloneAccess{Perm: 0o600}, 0, nil, true}, // root reads anything
		{CloneAccess{Perm: 0o600}, alice, []int{alice}, false},
		{CloneAccess{Perm: 0o666}, alice, []int{alice}, true},
		{CloneAccess{Perm: 0o660, GID: staff}, alice, []int{alice, staff}, true},
		{CloneAccess{Perm: 0o660, GID: staff}, alice, []int{alice, other}, false},
		{CloneAccess{Perm: 0o640, GID: staff}, alice, []int{staff}, false}, // read-only group
		{CloneAccess{Perm: 0o600, UID: alice}, alice, nil, true},
		{CloneAccess{Perm: 0o066, UID: alice}, alice, nil, false}, // the owner's bits count, not others'
		{CloneAccess{Perm: 0o606, GID: staff}, alice, []int{staff}, false},
	} {
		if got := c.a.Allows(c.uid, c.gids...); got != c.want {
			t.Errorf("%04o owner %d group %d: uid %d groups %v allowed = %t, want %t", c.a.Perm, c.a.UID, c.a.GID, c.uid, c.gids, got, c.want)
		}
	}
}

func TestCheckCloneForSaysHowToFixIt(t *testing.T) {
	a, err := StatClone()
	if err != nil {
		t.Skip(err)
	}
	err = CheckCloneFor("nobody", nobody, nobody)
	if a.Allows(nobody, nobody) {
		if err != nil {
			t.Fatalf("mode %04o allows nobody, but CheckCloneFor = %v", a.Perm, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "--fix-perms") || !strings.Contains(err.Error(), "chmod 666 /dev/net/tun") {
		t.Fatalf("mode %04o: CheckCloneFor = %v, want the fixes", a.Perm, err)
	}
}
