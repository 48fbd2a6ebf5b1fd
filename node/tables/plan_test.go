package tables

import (
	"reflect"
	"testing"
)

func TestPlanAttachments(t *testing.T) {
	blue := def("blue", 10, "10.0.0.0/24", "a", 1)
	blue2 := def("blue", 11, "10.0.0.0/24", "a", 1) // blue redefined
	red := def("red", 12, "10.1.0.0/24", "a", 2)
	red.Encrypted = true
	names := func(ds []NetDef) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Name+"/"+string(rune('0'+d.VNI%10)))
		}
		return out
	}
	cases := []struct {
		name     string
		want     []string
		attached map[string]NetDef
		won      map[string]NetDef
		keys     bool
		detach   []string
		attach   []string
		waiting  []string
		keyless  []string
	}{
		{name: "a wanted, defined network is attached", want: []string{"blue"}, won: map[string]NetDef{"blue": blue}, keys: true,
			attach: []string{"blue/0"}},
		{name: "an attached network stays", want: []string{"blue"}, attached: map[string]NetDef{"blue": blue}, won: map[string]NetDef{"blue": blue}},
		{name: "unwanted networks are detached", attached: map[string]NetDef{"blue": blue}, won: map[string]NetDef{"blue": blue},
			detach: []string{"blue"}},
		{name: "a network whose definition went away is detached and waits", want: []string{"blue"}, attached: map[string]NetDef{"blue": blue},
			detach: []string{"blue"}, waiting: []string{"blue"}},
		{name: "a redefined network is detached and attached again", want: []string{"blue"}, attached: map[string]NetDef{"blue": blue},
			won: map[string]NetDef{"blue": blue2}, detach: []string{"blue"}, attach: []string{"blue/1"}},
		{name: "encrypted networks wait for keys", want: []string{"red", "blue"}, won: map[string]NetDef{"blue": blue, "red": red},
			attach: []string{"blue/0"}, keyless: []string{"red"}},
		{name: "with keys they attach", want: []string{"red", "blue"}, won: map[string]NetDef{"blue": blue, "red": red}, keys: true,
			attach: []string{"blue/0", "red/2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanAttachments(c.want, c.attached, c.won, c.keys)
			got := [][]string{p.Detach, names(p.Attach), p.Waiting, p.Keyless}
			want := [][]string{c.detach, c.attach, c.waiting, c.keyless}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("detach, attach, waiting, keyless:\n got %q\nwant %q", got, want)
			}
		})
	}
}
