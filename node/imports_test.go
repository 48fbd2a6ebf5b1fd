package node

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPackageGraph keeps the packages under node/ in the order of the data
// flow: each may import only the node packages listed for it (tests
// aside), so config and tables stay leaves and nothing reaches back into
// the node.
func TestPackageGraph(t *testing.T) {
	const mod = "meshnet.dev/meshnet/node"
	allowed := map[string][]string{
		"api":                        nil,
		"config":                     nil,
		"config/confdoc":             {"config"},
		"config/confdoc/cmd/confdoc": {"config/confdoc"},
		"tables":                     nil,
		"endpoints":                  nil,
		"internal/gossipfake":        nil,
		"keysync":                    {"tables"},
		"metrics":                    {"api"},
		"memory":                     nil,
		"control":                    {"api", "config", "tables"},
		"catalog":                    {"api", "config", "control", "tables"},
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || path == "." || strings.Contains(path, "testdata") {
			return err
		}
		fset := token.NewFileSet()
		files, _ := filepath.Glob(filepath.Join(path, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			seen[path] = true
			ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if p != mod && !strings.HasPrefix(p, mod+"/") {
					continue
				}
				rel := strings.TrimPrefix(strings.TrimPrefix(p, mod), "/")
				ok, listed := allowed[path]
				if !listed {
					t.Errorf("package node/%s is not in this test's list: add it with the node packages it may import", path)
				} else if rel == "" || !slices.Contains(ok, rel) {
					t.Errorf("%s imports %s; node/%s may import only %v", f, p, path, ok)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range allowed {
		if !seen[p] {
			t.Errorf("node/%s is listed but has no Go files", p)
		}
	}
}
