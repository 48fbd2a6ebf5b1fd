package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"meshnet.dev/meshnet/node/api"
)

// serve runs the control API for f in a temporary state directory.
func serve(t *testing.T, f *fakeNode) (dir string, do func(method, path, body string) (int, string)) {
	t.Helper()
	dir = t.TempDir()
	sock := filepath.Join(dir, api.SocketName)
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // left by a crashed daemon
		t.Fatal(err)
	}
	stop, err := Serve(dir, f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return dir, func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://meshnet"+path, strings.NewReader(body))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// Every route reaches its operation, and errors answer with the status
// their kind asks for.
func TestRoutes(t *testing.T) {
	f := newFakeNode()
	_, do := serve(t, f)
	cases := []struct {
		method, path, body string
		err                error
		code               int
		call               string
	}{
		{"POST", "/v1/networks", `{"name":"red","subnet":"10.1.0.0/24"}`, nil, 201, "create network red"},
		{"POST", "/v1/networks", `{"name":"red"}`, errors.New("x"), 400, "create network red"},
		{"POST", "/v1/networks", `{"name":"red"}`, ErrConflict, 409, "create network red"},
		{"POST", "/v1/networks/red/join", `{}`, nil, 200, "join red"},
		{"POST", "/v1/networks/red/leave", ``, nil, 200, "leave red"},
		{"POST", "/v1/services", `{"name":"web"}`, nil, 201, "create service web"},
		{"DELETE", "/v1/services/web", ``, nil, 200, "remove service web"},
		{"POST", "/v1/services/web/backends", `{"addr":"10.0.0.5:80"}`, nil, 200, "add backend web 10.0.0.5:80"},
		{"POST", "/v1/services/web/backends/remove", `{"addr":"10.0.0.5:80"}`, nil, 200, "remove backend web 10.0.0.5:80"},
		{"POST", "/v1/token", `{"ttl_seconds":60}`, nil, 200, "token 1m0s"},
		{"POST", "/v1/token", `{"ttl_seconds":60}`, NotAllowed(errors.New("no admin key")), 403, "token 1m0s"},
		{"POST", "/v1/keys/rotate", `{"node":true}`, nil, 200, "rotate node key"},
		{"POST", "/v1/evict", `{"node":"n2"}`, NotAllowed(errors.New("no admin key")), 403, "evict n2"},
		{"POST", "/v1/shutdown", ``, nil, 200, "shutdown"},
		{"POST", "/v1/networks/red/endpoints", `{"container_id":"c1","ifname":"eth0"}`, nil, 200, "add endpoint red c1 eth0"},
		{"POST", "/v1/networks/red/endpoints", `{"container_id":"c1","ifname":"eth0"}`, errors.New("no bridge"), 400, "add endpoint red c1 eth0"},
		{"POST", "/v1/networks/red/endpoints", `{"container":"c1"}`, nil, 400, ""},
		{"DELETE", "/v1/networks/red/endpoints/c1/eth0", ``, nil, 200, "remove endpoint red c1 eth0"},
		{"GET", "/v1/networks/red/endpoints", ``, nil, 200, "endpoints red"},
		{"POST", "/v1/networks", `{"name":`, nil, 400, ""},
		{"POST", "/v1/networks", `{"nome":"red"}`, nil, 400, ""},
		{"POST", "/v1/networks", `"` + strings.Repeat("x", maxRequestBody) + `"`, nil, 413, ""},
	}
	for _, c := range cases {
		f.err = c.err
		before := len(f.called())
		code, body := do(c.method, c.path, c.body)
		var got string
		if calls := f.called(); len(calls) > before {
			got = calls[len(calls)-1]
		}
		if code != c.code || got != c.call {
			t.Errorf("%s %s %s: %d %q, call %q; want %d, call %q", c.method, c.path, c.body[:min(len(c.body), 30)], code, body, got, c.code, c.call)
		}
		if c.err != nil && !strings.Contains(body, c.err.Error()) {
			t.Errorf("%s %s: answer %q does not carry the error %q", c.method, c.path, body, c.err)
		}
	}
}

// The reads answer from the node's state, through the real client.
func TestReadsThroughTheClient(t *testing.T) {
	dir, _ := serve(t, newFakeNode())
	c := api.NewClient(filepath.Join(dir, api.SocketName))
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Node.Name != "n1" || st.Node.Members != 2 || len(st.Networks) != 1 || st.Networks[0].Address != "10.0.0.1/24" {
		t.Fatalf("status %+v", st)
	}
	peers, err := c.Peers(context.Background())
	if err != nil || len(peers) != 2 || peers[0].Name != "n2" || peers[0].RTTMillis != 1.5 || peers[1].State != "failed" {
		t.Fatalf("peers %+v %v", peers, err)
	}
	nets, err := c.Networks(context.Background())
	if err != nil || !reflect.DeepEqual(nets, []api.ClusterNetwork{{NetworkDef: api.NetworkDef{Name: "blue", VNI: 10}}}) {
		t.Fatalf("networks %+v %v", nets, err)
	}
}

// The endpoint routes carry container ids and interface names through the
// real client, escaped in the path.
func TestEndpointsThroughTheClient(t *testing.T) {
	f := newFakeNode()
	dir, _ := serve(t, f)
	c := api.NewClient(filepath.Join(dir, api.SocketName))
	ctx := context.Background()
	ep, err := c.AddEndpoint(ctx, "red", api.EndpointRequest{ContainerID: "c 1", IfName: "eth0"})
	if err != nil || ep.ContainerID != "c 1" || ep.Network != "red" {
		t.Fatalf("add: %+v %v", ep, err)
	}
	if err := c.RemoveEndpoint(ctx, "red", "c 1", "eth0"); err != nil {
		t.Fatal(err)
	}
	if eps, err := c.Endpoints(ctx, "red"); err != nil || eps.Network != "red" {
		t.Fatalf("list: %+v %v", eps, err)
	}
	want := []string{"add endpoint red c 1 eth0", "remove endpoint red c 1 eth0", "endpoints red"}
	if got := f.called(); !reflect.DeepEqual(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// Stopping the server removes its socket.
func TestStopRemovesTheSocket(t *testing.T) {
	dir := t.TempDir()
	stop, err := Serve(dir, newFakeNode(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, api.SocketName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket after stop: %v", err)
	}
}
