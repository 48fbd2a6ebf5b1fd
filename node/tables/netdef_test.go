package tables

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"meshnet.dev/meshnet/gossip"
)

func def(name string, vni uint32, subnet, origin string, ltime uint64) NetDef {
	return NetDef{Name: name, VNI: vni, Subnet: netip.MustParsePrefix(subnet), Origin: origin, OriginLTime: ltime}
}

func TestResolveDefs(t *testing.T) {
	blueA := def("blue", 10, "10.0.0.0/24", "a", 5)
	blueB := def("blue", 11, "10.1.0.0/24", "b", 7)
	blueSame := def("blue", 10, "10.0.0.0/24", "c", 9) // the same network defined by another config
	redA := def("red", 10, "10.2.0.0/24", "c", 6)      // VNI of blue, defined later
	greenEarly := def("green", 12, "10.3.0.0/24", "z", 1)
	greenTie := def("green", 13, "10.4.0.0/24", "y", 1) // same time: the lower origin wins
	cases := []struct {
		name string
		defs []NetDef
		won  []string // "name/origin"
		lost []string // "loser origin > winner origin"
	}{
		{"earliest creation wins a name", []NetDef{blueB, blueA}, []string{"blue/a"}, []string{"b>a"}},
		{"identical definitions are one network", []NetDef{blueSame, blueA}, []string{"blue/a"}, nil},
		{"a VNI belongs to the earliest network", []NetDef{redA, blueA}, []string{"blue/a"}, []string{"c>a"}},
		{"ties go to the lower origin", []NetDef{greenEarly, greenTie}, []string{"green/y"}, []string{"z>y"}},
		{"independent networks both win", []NetDef{blueA, greenEarly}, []string{"blue/a", "green/z"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			won, lost := ResolveDefs(c.defs)
			var gotWon, gotLost []string
			for _, name := range []string{"blue", "green", "red"} {
				if d, ok := won[name]; ok {
					gotWon = append(gotWon, d.Name+"/"+d.Origin)
				}
			}
			for _, l := range lost {
				gotLost = append(gotLost, l.Loser.Origin+">"+l.Winner.Origin)
			}
			if !reflect.DeepEqual(gotWon, c.won) || !reflect.DeepEqual(gotLost, c.lost) {
				t.Fatalf("won %v lost %v, want %v and %v", gotWon, gotLost, c.won, c.lost)
			}
		})
	}
}

func TestConflictReportNamesBothSides(t *testing.T) {
	_, lost := ResolveDefs([]NetDef{def("blue", 11, "10.1.0.0/24", "b", 7), def("blue", 10, "10.0.0.0/24", "a", 5), def("blue", 11, "10.1.0.0/24", "b", 7)})
	rep := ConflictReport(lost)
	if len(rep) != 1 || !strings.Contains(rep[0], `defined by b`) || !strings.Contains(rep[0], "defined earlier by a") {
		t.Fatalf("report %q: want one line naming both creators", rep)
	}
}

func TestNewDefPicksAFreeVNI(t *testing.T) {
	sub := netip.MustParsePrefix("10.9.0.0/24")
	auto, err := NewDef("blue", sub, 0, true, "a", nil)
	if err != nil || auto.VNI < 1<<16 || auto.Origin != "a" || !auto.Encrypted {
		t.Fatalf("auto VNI: %+v %v", auto, err)
	}
	// The same name again, with its VNI taken: the next one.
	again, err := NewDef("blue", sub, 0, true, "a", map[string]NetDef{"x": {VNI: auto.VNI}})
	if err != nil || again.VNI != auto.VNI+1 {
		t.Fatalf("VNI %d taken: got %d (%v), want %d", auto.VNI, again.VNI, err, auto.VNI+1)
	}
	if _, err := NewDef("red", sub, 42, false, "a", map[string]NetDef{"x": {VNI: 42}}); err == nil {
		t.Fatal("a VNI held by another network was accepted")
	}
}

func TestDecodeDefOrigin(t *testing.T) {
	enc := func(d NetDef) []byte { b, _ := json.Marshal(d); return b }
	own := def("blue", 10, "10.0.0.0/24", "a", 0)
	cases := []struct {
		name, owner string
		value       []byte
		ok          bool
		ltime       uint64
	}{
		{"the creator's own entry takes the entry's time", "a", enc(own), true, 9},
		{"a copy without the original time is refused", "b", enc(own), false, 0},
		{"a copy carries the original time", "b", enc(def("blue", 10, "10.0.0.0/24", "a", 3)), true, 3},
		{"VNI out of range", "a", enc(def("blue", 0, "10.0.0.0/24", "a", 0)), false, 0},
		{"subnet with host bits", "a", enc(NetDef{Name: "blue", VNI: 10, Subnet: netip.MustParsePrefix("10.0.0.1/24"), Origin: "a"}), false, 0},
	}
	for _, c := range cases {
		d, err := DecodeDef(gossip.Entry{Key: "blue", Owner: c.owner, LTime: 9, Value: c.value})
		if (err == nil) != c.ok || (c.ok && (d.OriginLTime != c.ltime || d.Owner != c.owner)) {
			t.Errorf("%s: %+v %v", c.name, d, err)
		}
	}
}
