package confdoc

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// pkgTypes is what confdoc needs of a parsed package: its struct types,
// other named types (to see through `type Mode string`) and type docs.
type pkgTypes struct {
	structs map[string]*ast.StructType
	named   map[string]ast.Expr // named non-struct types → their definition
	docs    map[string]string   // type name → doc comment
}

// parsePackage parses the non-test Go files of dir.
func parsePackage(dir string) (*pkgTypes, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("confdoc: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	p := &pkgTypes{structs: map[string]*ast.StructType{}, named: map[string]ast.Expr{}, docs: map[string]string{}}
	fset := token.NewFileSet()
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("confdoc: %w", err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, s := range gd.Specs {
				ts := s.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if doc != nil {
					p.docs[ts.Name.Name] = doc.Text()
				}
				if st, ok := ts.Type.(*ast.StructType); ok {
					p.structs[ts.Name.Name] = st
				} else {
					p.named[ts.Name.Name] = ts.Type
				}
			}
		}
	}
	return p, nil
}

// yamlKey returns a field's YAML key as gopkg.in/yaml.v3 derives it, and
// whether the field is inlined; skip is true for fields YAML ignores.
func yamlKey(f *ast.Field, goName string) (key string, inline, skip bool) {
	tag := ""
	if f.Tag != nil {
		tag = reflect.StructTag(strings.Trim(f.Tag.Value, "`")).Get("yaml")
	}
	if tag == "-" {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "inline" {
			inline = true
		}
	}
	embedded := len(f.Names) == 0
	if !ast.IsExported(goName) && !(embedded && inline) {
		return "", false, true
	}
	if name == "" {
		name = strings.ToLower(goName)
	}
	return name, inline, false
}
