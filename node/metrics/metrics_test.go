package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardQueriesExistingMetrics keeps the Grafana dashboard in
// configs/ in step with the metrics the node exports.
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	exported := map[string]bool{"process_resident_memory_bytes": true, "go_goroutines": true}
	ch := make(chan *prometheus.Desc, 64)
	go func() { collector{d: newDescs()}.describeAll(ch); close(ch) }()
	for d := range ch {
		name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())
		exported[name[1]] = true
	}
	b, err := os.ReadFile("../../configs/grafana-meshnet.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`\b(meshnet_[a-z_]+|process_[a-z_]+|go_[a-z_]+)\b`).FindAllString(tg.Expr, -1) {
				used++
				if !exported[m] {
					t.Errorf("panel %q queries %s, which meshnet does not export", p.Title, m)
				}
			}
		}
	}
	if used < 15 {
		t.Fatalf("the dashboard queries only %d metrics", used)
	}
}
