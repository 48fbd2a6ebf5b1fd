package confdoc

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/node/config"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../../.."

// TestConfigDocUpToDate regenerates docs/CONFIG.md and fails if the
// committed file differs, so the reference never drifts from node/config/config.go.
func TestConfigDocUpToDate(t *testing.T) {
	host, _ := os.Hostname()
	want, err := Meshnet(repoRoot, host)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repoRoot, "docs", "CONFIG.md")
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run `make docs`", err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("docs/CONFIG.md is out of date with node/config/config.go; run `make docs` and commit the result\n%s", firstDiff(have, want))
	}
}

// TestDocDefaultsAgree checks that where a doc comment states a default
// ("Default 2s.") it is the default DefaultConfig really has.
func TestDocDefaultsAgree(t *testing.T) {
	host, _ := os.Hostname()
	fields := meshnetFields(t, host)
	for _, f := range fields {
		stated := DocDefault(f.Doc)
		if !f.Literal || stated == "" {
			continue
		}
		if !strings.Contains(stated, strings.Trim(f.Default, `"`)) {
			t.Errorf("%s: the doc comment says the default is %q but config.DefaultConfig() has %s; fix one of them in node/config/config.go",
				f.Key, stated, f.Default)
		}
	}
}

// TestEveryKeyInExample checks that configs/meshnet.yaml, the annotated
// example, mentions every key (set or commented out).
func TestEveryKeyInExample(t *testing.T) {
	example, err := os.ReadFile(filepath.Join(repoRoot, "configs", "meshnet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range meshnetFields(t, "") {
		leaf := f.Key[strings.LastIndexAny(f.Key, ".]")+1:]
		if !bytes.Contains(example, []byte(leaf+":")) {
			t.Errorf("configs/meshnet.yaml does not mention %s (no %q line); add it with its default", f.Key, leaf+":")
		}
	}
}

// TestHostNameIsNotPrinted: the generated file must be the same on every
// machine, so the host name default is described, not printed.
func TestHostNameIsNotPrinted(t *testing.T) {
	for _, f := range meshnetFields(t, "build-host-7") {
		if f.Key == "name" && f.Default != "the host name" {
			t.Errorf("name: default %q, want it described as the host name", f.Default)
		}
	}
}

// defaultsWithHost is config.DefaultConfig() as it is on a machine called
// host ("" keeps this machine's name).
func defaultsWithHost(host string) config.Config {
	c := config.DefaultConfig()
	if host != "" {
		c.Name = host
	}
	return c
}

func meshnetFields(t *testing.T, host string) []Field {
	t.Helper()
	fields, err := Fields(Options{Dir: filepath.Join(repoRoot, "node", "config"), Root: "Config", Defaults: defaultsWithHost(host), HostName: host})
	if err != nil {
		t.Fatal(err)
	}
	return fields
}

// sampleSource is a small config tree for the generator's own tests; the
// sample type below mirrors it to hold defaults.
const sampleSource = `package p

import "time"

type sample struct {
	// Name names it. Default: the host name.
	Name string ` + "`yaml:\"name\"`" + `
	// Wait is how long to wait. Default 1m30s.
	Wait time.Duration ` + "`yaml:\"wait\"`" + `
	// On turns it on. Default true.
	On *bool ` + "`yaml:\"on\"`" + `
	// Items are things; see the Inner type and ItemLimit.
	Items []sampleItem ` + "`yaml:\"items\"`" + `
	// ItemLimit bounds Items.
	ItemLimit int ` + "`yaml:\"item_limit\"`" + `
	// Tags label it.
	Tags map[string]string ` + "`yaml:\"tags,omitempty\"`" + `
	// Ignored is not configurable.
	Ignored string ` + "`yaml:\"-\"`" + `
	sampleBase ` + "`yaml:\",inline\"`" + `
}

// sampleItem is one thing. It has a <placeholder>.
type sampleItem struct {
	// Port of the thing; DNS port by default.
	Port uint16 ` + "`yaml:\"port\"`" + `
}

type sampleBase struct {
	// Level is the level.
	Level string
}
`

type sample struct {
	Name      string
	Wait      time.Duration
	On        *bool
	Items     []struct{ Port uint16 }
	ItemLimit int
	Tags      map[string]string
	Ignored   string
	sampleBase
}

type sampleBase struct{ Level string }

func writeSource(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "c.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFieldsOfSample(t *testing.T) {
	on := true
	fields, err := Fields(Options{Dir: writeSource(t, sampleSource), Root: "sample", HostName: "h1",
		Defaults: sample{Name: "h1", Wait: 90 * time.Second, On: &on, ItemLimit: 4, sampleBase: sampleBase{Level: "info"}}})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ key, typ, def, doc string }
	var got []row
	for _, f := range fields {
		got = append(got, row{f.Key, f.Type, f.Default, f.Doc})
	}
	want := []row{
		{"name", "string", "the host name", "`name` names it. Default: the host name.\n"},
		{"wait", "duration", "1m30s", "`wait` is how long to wait. Default 1m30s.\n"},
		{"on", "bool", "true", "`on` turns it on. Default true.\n"},
		{"items", "list of objects", "", "`items` are things; see the Inner type and `item_limit`.\n\nEach entry is one thing. It has a <placeholder>."},
		{"items[].port", "integer", "none", "`port` of the thing; DNS port by default.\n"},
		{"item_limit", "integer", "4", "`item_limit` bounds `items`.\n"},
		{"tags", "map of string to string", "{}", "`tags` label it.\n"},
		{"level", "string", "info", "`level` is the level.\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields:\n got %q\nwant %q", got, want)
	}
}

func TestUndocumentedFieldIsAnError(t *testing.T) {
	dir := writeSource(t, "package p\n\ntype C struct {\n\t// A is documented.\n\tA int `yaml:\"a\"`\n\tB int `yaml:\"b\"`\n}\n")
	_, err := Fields(Options{Dir: dir, Root: "C"})
	if err == nil || !strings.Contains(err.Error(), "C.B") || !strings.Contains(err.Error(), "no doc comment") {
		t.Fatalf("err = %v, want one naming C.B and the missing doc comment", err)
	}
}

func TestDocDefault(t *testing.T) {
	for doc, want := range map[string]string{
		"Port is the port. Default 4789 (IANA).":                    "4789 (IANA)",
		"Domain is the zone. Default \"meshnet.internal.\".":        `"meshnet.internal."`,
		"SOCKS5 is it. Default 127.0.0.1:1080. Keep it local.":      "127.0.0.1:1080",
		"RotationInterval is it. Default 12h; at least 1s.":         "12h",
		"VNI is it.\nDefault: derived from\nthe name.":              "derived from the name",
		"Mode is \"tap\" (the default) or \"tun\".":                 "",
		"Forward sends names. false answers REFUSED. Default true.": "true",
	} {
		if got := DocDefault(doc); got != want {
			t.Errorf("DocDefault(%q) = %q, want %q", doc, got, want)
		}
	}
}

func TestYAMLNames(t *testing.T) {
	sib := map[string]string{"DNS": "dns", "TokenFile": "token_file", "Token": "token", "Name": "name", "Mode": "mode"}
	for _, c := range []struct{ doc, own, want string }{
		{"DNS configures the embedded DNS server.", "DNS", "`dns` configures the embedded DNS server."},
		{"Token is a secret: prefer TokenFile.", "Token", "`token` is a secret: prefer `token_file`."},
		{"Device is \"mn-\" + Name, cut.", "Device", "Device is \"mn-\" + `name`, cut."},
		{"It is fine. Mode starts a sentence; `Name` is quoted.", "X", "It is fine. Mode starts a sentence; `Name` is quoted."},
	} {
		if got := yamlNames(c.doc, c.own, sib); got != c.want {
			t.Errorf("yamlNames(%q) = %q, want %q", c.doc, got, c.want)
		}
	}
}

func TestMarkdownEscapesAndAnchors(t *testing.T) {
	md := string(Markdown([]Field{
		{Key: "dns", Type: "object", Object: true, Doc: "`dns` configures DNS.\n"},
		{Key: "dns.domain", Depth: 1, Type: "string", Default: "meshnet.internal.", Literal: true, Doc: "<service>.<domain> answers; `<kept>`.\n"},
		{Key: "networks[].vni", Depth: 1, Type: "integer", Default: "derived from the name", Doc: "VNI.\n\n\tcode line\n"},
	}))
	for _, want := range []string{
		"| [`dns.domain`](#dnsdomain) | string | `meshnet.internal.` |",
		"| [`networks[].vni`](#networksvni) | integer | derived from the name |",
		"### `dns.domain`\n\nType: string. Default: `meshnet.internal.`.\n\n&lt;service&gt;.&lt;domain&gt; answers; `<kept>`.\n",
		"Type: integer. Default: derived from the name.\n\nVNI.\n\n```\ncode line\n```\n",
		"## `dns`\n\nType: object with the keys below.\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

// firstDiff shows where two texts first differ, line by line.
func firstDiff(have, want []byte) string {
	h, w := strings.Split(string(have), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(h) || i < len(w); i++ {
		var hl, wl string
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if hl != wl {
			return "first difference at line " + strconv.Itoa(i+1) + ":\n  committed: " + hl + "\n  generated: " + wl
		}
	}
	return ""
}
