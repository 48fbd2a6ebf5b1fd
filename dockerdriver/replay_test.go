package dockerdriver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
)

// exchange is one call of a recorded conversation.
type exchange struct {
	Path     string          `json:"path"`
	Request  json.RawMessage `json:"request"`
	Response json.RawMessage `json:"response"`
}

// TestReplayDockerd replays what a real dockerd (20.10.24, Debian's
// docker.io) sent the plugin for: docker network create without and with
// --subnet, a second create without --subnet, docker run --rm (ping of
// the gateway), docker run --ip (refused), docker network rm. Every answer
// must be the one dockerd got, and the run leaves no veth and no endpoint.
func TestReplayDockerd(t *testing.T) {
	f, err := os.Open("testdata/dockerd-20.10.24.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	daemon, veths := newFakeDaemon("06:26:e9:1a:7a:f1"), newFakeVeths()
	d, err := New(daemon, veths, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var x exchange
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatal(err)
		}
		n++
		body := []byte(x.Request)
		if string(body) == "null" {
			body = nil
		}
		resp, err := http.Post(srv.URL+x.Path, ContentType, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
			t.Fatalf("%s: HTTP %d, %s", x.Path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		var want, have map[string]any
		json.Unmarshal(x.Response, &want)
		json.Unmarshal(got, &have)
		if msg, ok := want["Err"]; ok {
			// An error: the network API reads Err, the IPAM API Error.
			if have["Err"] != msg || have["Error"] != msg {
				t.Errorf("%s: answered %s, want the error %q in Err and Error", x.Path, got, msg)
			}
			continue
		}
		if !reflect.DeepEqual(have, want) {
			t.Errorf("%s: answered %s\nwant %s", x.Path, bytes.TrimSpace(got), x.Response)
		}
		if x.Path == "/NetworkDriver.Join" {
			p := veths.pairs[strings.Replace(have["InterfaceName"].(map[string]any)["SrcName"].(string), "mnp", "mnd", 1)]
			if p.bridge != "mb-red" || p.mac != "06:26:e9:1a:7a:f1" || p.mtu != 1370 {
				t.Errorf("Join made %+v", p)
			}
		}
	}
	if n < 20 {
		t.Fatalf("replayed only %d calls", n)
	}
	if len(veths.pairs) != 0 || len(daemon.eps) != 0 {
		t.Fatalf("left behind: veths %v, endpoints %v", veths.pairs, daemon.eps)
	}
	if _, ok := d.nets.get("236a148cdf6ab7a4dfbe2040b0d973984b8c11cb6daa5b1a542830e789e584bc"); ok {
		t.Fatal("DeleteNetwork left the network in the table")
	}
}
