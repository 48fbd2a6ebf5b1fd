package chaos

import (
	"strings"
	"testing"
)

// A difference names every group of nodes with what they list, so a
// report shows whether one node lacks an item or only one node has it,
// and the drop counters, which change while it lasts, don't make it a
// new difference.
func TestDifferencesGroupNodes(t *testing.T) {
	views := map[string]view{
		"h1": {endpoints: []string{"a", "b"}, drops: "undecryptable=3"},
		"h2": {endpoints: []string{"a"}},
		"h3": {endpoints: []string{"a"}},
	}
	get := func(v view) []string { return v.endpoints }
	err := differences("endpoints", views, get)
	if err == nil {
		t.Fatal("no difference reported")
	}
	for _, want := range []string{"h1: [a b]", "h2,h3: [a]", "h1 dropped: undecryptable=3"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
	views["h1"] = view{endpoints: []string{"a", "b"}, drops: "undecryptable=4"}
	if again := differences("endpoints", views, get); !sameDifference(err, again) {
		t.Errorf("new counters made a new difference:\n%v\n%v", err, again)
	}
	views["h2"] = view{endpoints: []string{"a", "b"}}
	views["h3"] = view{endpoints: []string{"a", "b"}}
	if err := differences("endpoints", views, get); err != nil {
		t.Errorf("equal views: %v", err)
	}
}
