package confdoc

import (
	"fmt"
	"go/ast"
	"reflect"
	"strings"
)

// walker collects the fields of a struct type and the types it nests.
type walker struct {
	pkg    *pkgTypes
	host   string
	fields []Field
}

// kind is what a field's Go type means in YAML.
type kind struct {
	typ    string // for people
	object string // struct type name for objects and lists of objects
	list   bool
}

// walk lists the keys of struct type name under prefix. v holds the
// defaults (invalid inside list elements, which have none).
func (w *walker) walk(name, prefix string, depth int, v reflect.Value, inList bool) error {
	st := w.pkg.structs[name]
	siblings := map[string]string{}
	for _, f := range st.Fields.List {
		for _, n := range fieldNames(f) {
			if key, _, skip := yamlKey(f, n); !skip {
				siblings[n] = key
			}
		}
	}
	for _, f := range st.Fields.List {
		for _, goName := range fieldNames(f) {
			key, inline, skip := yamlKey(f, goName)
			if skip {
				continue
			}
			k, err := w.describe(f.Type)
			if err != nil {
				return fmt.Errorf("confdoc: %s.%s: %w", name, goName, err)
			}
			var fv reflect.Value
			if v.IsValid() {
				fv = v.FieldByName(goName)
			}
			if inline {
				if k.object == "" || k.list {
					return fmt.Errorf("confdoc: %s.%s: only structs can be inlined", name, goName)
				}
				if err := w.walk(k.object, prefix, depth, fv, inList); err != nil {
					return err
				}
				continue
			}
			doc := f.Doc.Text()
			if doc == "" {
				doc = f.Comment.Text()
			}
			if strings.TrimSpace(doc) == "" {
				return fmt.Errorf("confdoc: %s.%s (%s%s) has no doc comment; every configuration field needs one", name, goName, prefix, key)
			}
			doc = yamlNames(doc, goName, siblings)
			field := Field{Key: prefix + key, Depth: depth, Type: k.typ, Doc: doc, Object: k.object != ""}
			if k.object != "" {
				field.Doc = joinDoc(field.Doc, w.typeDoc(k.object, k.list))
			} else {
				field.Default, field.Literal = w.defaultOf(fv, doc)
			}
			w.fields = append(w.fields, field)
			if k.object == "" {
				continue
			}
			if k.list {
				err = w.walk(k.object, prefix+key+"[].", depth+1, reflect.Value{}, true)
			} else {
				err = w.walk(k.object, prefix+key+".", depth+1, fv, inList)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldNames returns the names a field declares; an embedded field is
// named after its type.
func fieldNames(f *ast.Field) []string {
	if len(f.Names) > 0 {
		out := make([]string, len(f.Names))
		for i, n := range f.Names {
			out[i] = n.Name
		}
		return out
	}
	t := f.Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch t := t.(type) {
	case *ast.Ident:
		return []string{t.Name}
	case *ast.SelectorExpr:
		return []string{t.Sel.Name}
	}
	return nil
}

// describe says what a Go type expression is in YAML.
func (w *walker) describe(e ast.Expr) (kind, error) {
	switch t := e.(type) {
	case *ast.Ident:
		switch t.Name {
		case "string":
			return kind{typ: "string"}, nil
		case "bool":
			return kind{typ: "bool"}, nil
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
			return kind{typ: "integer"}, nil
		case "float32", "float64":
			return kind{typ: "number"}, nil
		}
		if _, ok := w.pkg.structs[t.Name]; ok {
			return kind{typ: "object", object: t.Name}, nil
		}
		if def, ok := w.pkg.named[t.Name]; ok {
			return w.describe(def)
		}
		return kind{}, fmt.Errorf("unknown type %s", t.Name)
	case *ast.SelectorExpr:
		name := fmt.Sprintf("%s.%s", t.X, t.Sel.Name)
		if k, ok := foreignTypes[name]; ok {
			return kind{typ: k}, nil
		}
		return kind{typ: name}, nil
	case *ast.StarExpr:
		return w.describe(t.X)
	case *ast.ArrayType:
		if t.Len != nil {
			return kind{}, fmt.Errorf("arrays are not supported; use a slice")
		}
		el, err := w.describe(t.Elt)
		if err != nil {
			return kind{}, err
		}
		if el.list {
			return kind{typ: "list of lists"}, nil
		}
		if el.object != "" {
			return kind{typ: "list of objects", object: el.object, list: true}, nil
		}
		return kind{typ: "list of " + plural(el.typ)}, nil
	case *ast.MapType:
		k, err := w.describe(t.Key)
		if err != nil {
			return kind{}, err
		}
		v, err := w.describe(t.Value)
		if err != nil {
			return kind{}, err
		}
		if v.object != "" {
			return kind{}, fmt.Errorf("maps of objects are not supported")
		}
		return kind{typ: "map of " + k.typ + " to " + v.typ}, nil
	}
	return kind{}, fmt.Errorf("unsupported type %T", e)
}

// foreignTypes names types from other packages that configs may use.
var foreignTypes = map[string]string{
	"time.Duration":  "duration",
	"netip.Addr":     "IP address",
	"netip.Prefix":   "CIDR prefix",
	"netip.AddrPort": "IP:port",
}

func plural(t string) string {
	switch t {
	case "bool":
		return "bools"
	case "string", "integer", "number", "duration":
		return t + "s"
	}
	return t + " values"
}

// typeDoc is the doc comment of a nested struct type, reworded for the key
// that holds it: "NetworkConfig is one overlay network." becomes "Each
// entry is one overlay network." for a list; for a single object the first
// sentence (which restates the field's own doc) is left out.
func (w *walker) typeDoc(name string, list bool) string {
	doc := strings.TrimSpace(w.pkg.docs[name])
	if doc == "" {
		return ""
	}
	if list {
		if rest, ok := strings.CutPrefix(doc, name+" "); ok {
			return "Each entry " + rest
		}
		return doc
	}
	flat := strings.Join(strings.Fields(doc), " ")
	if i := strings.Index(flat, ". "); i >= 0 {
		return flat[i+2:]
	}
	return ""
}

// joinDoc appends paragraph b to a.
func joinDoc(a, b string) string {
	if strings.TrimSpace(b) == "" {
		return a
	}
	return strings.TrimRight(a, "\n") + "\n\n" + b
}
