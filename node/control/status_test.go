package control

import (
	"reflect"
	"strings"
	"testing"

	"meshnet.dev/meshnet/node/api"
)

func TestStatus(t *testing.T) {
	st := Status(newFakeNode().state)
	nw := st.Networks[0]
	if nw.Name != "blue" || nw.Address != "10.0.0.1/24" || !reflect.DeepEqual(nw.Members, []string{"n1", "n2"}) {
		t.Fatalf("network %+v", nw)
	}
	var owners []string
	for _, e := range nw.Endpoints {
		owners = append(owners, e.Node+"@"+e.IP)
	}
	if !reflect.DeepEqual(owners, []string{"n1@10.0.0.1", "n2@10.0.0.2"}) {
		t.Fatalf("endpoints %v: this node's own are named after it", owners)
	}
	if st.Node.Members != 2 { // n1 and the alive n2; the failed n3 does not count
		t.Fatalf("members %d", st.Node.Members)
	}
	if len(st.Duplicates) != 1 || st.Duplicates[0].Winner != "n2" || len(st.Waiting) != 1 {
		t.Fatalf("report %+v %v", st.Duplicates, st.Waiting)
	}
	starting := Status(State{Name: "n1", Mode: "tap"})
	if starting.Node.Name != "n1" || starting.Networks != nil || starting.Node.Underlay != "" {
		t.Fatalf("status of a starting node %+v", starting)
	}
}

func TestDoctorReportsWhatTheReconcilerFound(t *testing.T) {
	checks := map[string]api.Check{}
	for _, c := range Doctor(newFakeNode()) {
		checks[c.Name] = c
	}
	for name, status := range map[string]string{
		"duplicate address 10.0.0.9": "fail",
		"network definitions":        "warn",
		"network green":              "warn",
		"peer n3":                    "fail", // failed
		"peer n2 gossip":             "ok",
		"device":                     "ok", // userspace
	} {
		if c, ok := checks[name]; !ok || c.Status != status {
			t.Errorf("check %q: %+v, want status %s", name, c, status)
		}
	}
	if c := checks["peer n3"]; !strings.Contains(c.Fix, "7946") && !strings.Contains(c.Fix, "running") {
		t.Errorf("a failed peer's check says nothing to do: %+v", c)
	}
}

func TestResolvePath(t *testing.T) {
	s := newFakeNode().state
	cases := []struct {
		target, addr, node string
		ok                 bool
	}{
		{"n2", "10.0.0.2", "n2", true},       // a node by name
		{"10.0.0.1", "10.0.0.1", "n1", true}, // this node's own address
		{"10.0.0.77", "10.0.0.77", "", true}, // in the subnet, unknown: the echo will tell
		{"10.9.0.1", "", "", false},          // on no network of this node
		{"nobody", "", "", false},
	}
	for _, c := range cases {
		res, _, err := resolvePath(&s, c.target)
		if (err == nil) != c.ok || res.Address != c.addr || res.Node != c.node {
			t.Errorf("%s: %+v %v", c.target, res, err)
		}
	}
	res, _, _ := resolvePath(&s, "n2")
	if res.Underlay != "127.0.0.2:4789" || res.Network != "blue" {
		t.Errorf("path to n2: %+v", res)
	}
}
