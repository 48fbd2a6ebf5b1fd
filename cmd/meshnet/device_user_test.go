package main

import (
	"strings"
	"testing"
)

func TestLookupUser(t *testing.T) {
	if uid, gid, _, err := lookupUser("root"); err != nil || uid != 0 || gid != 0 {
		t.Fatalf("root: uid %d gid %d err %v", uid, gid, err)
	}
	if uid, _, _, err := lookupUser("0"); err != nil || uid != 0 {
		t.Fatalf("0: uid %d err %v", uid, err)
	}
	// A directory user the static binary cannot see: taken by number.
	if uid, gid, groups, err := lookupUser("4242424"); err != nil || uid != 4242424 || gid != -1 || groups != nil {
		t.Fatalf("unknown numeric id: uid %d gid %d groups %v err %v", uid, gid, groups, err)
	}
	if _, _, _, err := lookupUser("no-such-user-here"); err == nil || !strings.Contains(err.Error(), "numeric uid") {
		t.Fatalf("unknown name: %v, want an error that suggests the numeric uid", err)
	}
	if _, _, _, err := lookupUser("-5"); err == nil {
		t.Fatal("a negative id was accepted")
	}
}
