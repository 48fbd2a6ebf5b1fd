package node

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"meshnet.dev/meshnet/node/config"
)

// The state file is read back at every start; a disk error could garble it.
func FuzzStateFile(f *testing.F) {
	good, _ := json.Marshal(persisted{V: 1, Seeds: []string{"192.0.2.1:7946"}, Networks: []persistedNet{{Name: "blue"}},
		Blocks: map[string]string{"blue": "10.0.0.4/30"}})
	f.Add(good)
	f.Add([]byte(`{"v":1,"networks":[{"name":"../x"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, stateFile), b, 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := loadState(dir)
		if err != nil {
			return
		}
		for _, n := range p.Networks {
			if !config.ValidName(n.Name) {
				t.Fatalf("accepted network name %q", n.Name)
			}
		}
	})
}
