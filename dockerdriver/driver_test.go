package dockerdriver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// call posts body to path and returns the decoded answer.
func call(t *testing.T, h http.Handler, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(b)))
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: answer %q: %v", path, rec.Body, err)
	}
	return out
}

func errOf(m map[string]any) string { s, _ := m["Err"].(string); return s }

// setupNetwork creates network "n1" on red through the protocol, as
// docker network create does.
func setupNetwork(t *testing.T, h http.Handler) {
	t.Helper()
	if e := errOf(call(t, h, "/IpamDriver.RequestPool", requestPoolRequest{AddressSpace: AddressSpace, Pool: "10.30.0.0/16",
		Options: map[string]string{"network": "red"}})); e != "" {
		t.Fatal(e)
	}
	if e := errOf(call(t, h, "/NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "n1",
		IPv4Data: []ipamData{{AddressSpace: AddressSpace, Pool: "10.30.0.0/16", Gateway: "10.30.115.1/16"}}})); e != "" {
		t.Fatal(e)
	}
}

func TestNetworkTableSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	daemon := newFakeDaemon()
	d, _ := New(daemon, newFakeVeths(), dir)
	setupNetwork(t, d.Handler())
	d2, err := New(daemon, newFakeVeths(), dir)
	if err != nil {
		t.Fatal(err)
	}
	h := d2.Handler()
	addr := call(t, h, "/IpamDriver.RequestAddress", requestAddressRequest{PoolID: "meshnet/red"})["Address"].(string)
	out := call(t, h, "/NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "n1", EndpointID: "e1",
		Interface: &endpointInterface{Address: addr}})
	if errOf(out) != "" || out["Interface"].(map[string]any)["MacAddress"] == "" {
		t.Fatalf("CreateEndpoint after a plugin restart: %v", out)
	}
}

func TestRefusesWhatMeshnetCannotHonour(t *testing.T) {
	daemon, veths := newFakeDaemon(), newFakeVeths()
	d, _ := New(daemon, veths, t.TempDir())
	h := d.Handler()
	setupNetwork(t, h)
	cases := []struct {
		path string
		body any
		want string
	}{
		{"/IpamDriver.RequestPool", requestPoolRequest{Pool: "10.30.0.0/16"}, "--ipam-opt network=NAME"},
		{"/IpamDriver.RequestPool", requestPoolRequest{Pool: "10.99.0.0/16", Options: map[string]string{"network": "red"}}, "--subnet 10.30.0.0/16"},
		{"/IpamDriver.RequestPool", requestPoolRequest{Pool: "10.30.0.0/16", V6: true, Options: map[string]string{"network": "red"}}, "IPv4 only"},
		{"/IpamDriver.RequestPool", requestPoolRequest{Pool: "10.30.0.0/16", Options: map[string]string{"network": "green"}}, "not attached"},
		{"/IpamDriver.RequestAddress", requestAddressRequest{PoolID: "default/x"}, "not a meshnet pool"},
		{"/IpamDriver.RequestAddress", requestAddressRequest{PoolID: "meshnet/red", Address: "10.30.115.9"}, "leave out --ip"},
		{"/NetworkDriver.CreateNetwork", createNetworkRequest{NetworkID: "n2", IPv4Data: []ipamData{{AddressSpace: "LocalDefault", Pool: "172.18.0.0/16"}}}, "--ipam-driver meshnet"},
		{"/NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "n1", EndpointID: "e1", Interface: &endpointInterface{Address: "10.30.200.7/16"}}, "not allocated by meshnet"},
		{"/NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "nx", EndpointID: "e1", Interface: &endpointInterface{Address: "10.30.115.2/16"}}, "not a meshnet network"},
		{"/NetworkDriver.Join", joinRequest{NetworkID: "n1", EndpointID: "unknown"}, "reconnect"},
	}
	for _, c := range cases {
		if e := errOf(call(t, h, c.path, c.body)); !strings.Contains(e, c.want) {
			t.Errorf("%s %+v: error %q, want it to say %q", c.path, c.body, e, c.want)
		}
	}
	addr := call(t, h, "/IpamDriver.RequestAddress", requestAddressRequest{PoolID: "meshnet/red"})["Address"].(string)
	out := call(t, h, "/NetworkDriver.CreateEndpoint", createEndpointRequest{NetworkID: "n1", EndpointID: "e1",
		Interface: &endpointInterface{Address: addr, MacAddress: "02:11:22:33:44:55"}})
	if !strings.Contains(errOf(out), "--mac-address") {
		t.Errorf("a MAC of Docker's own: %v", out)
	}
	for range 2 {
		for _, p := range []string{"/NetworkDriver.Leave", "/NetworkDriver.DeleteEndpoint"} {
			if e := errOf(call(t, h, p, endpointRequest{NetworkID: "n1", EndpointID: "e1"})); e != "" {
				t.Errorf("%s twice: %s", p, e)
			}
		}
	}
	if e := errOf(call(t, h, "/IpamDriver.ReleaseAddress", releaseAddressRequest{PoolID: "meshnet/red", Address: addr})); e != "" || len(daemon.eps) != 0 {
		t.Fatalf("ReleaseAddress: %q, endpoints left %v", e, daemon.eps)
	}
}

func TestMalformedRequestIsAnError(t *testing.T) {
	d, _ := New(newFakeDaemon(), newFakeVeths(), t.TempDir())
	rec := httptest.NewRecorder()
	d.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/NetworkDriver.Join", strings.NewReader(`{"NetworkID":`)))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "malformed request") {
		t.Fatalf("answer %s", body)
	}
}

// FuzzHandler sends arbitrary bodies to every call: each gets an answer,
// never a crash.
func FuzzHandler(f *testing.F) {
	paths := []string{"/NetworkDriver.CreateNetwork", "/NetworkDriver.CreateEndpoint", "/NetworkDriver.Join",
		"/NetworkDriver.Leave", "/NetworkDriver.DeleteEndpoint", "/NetworkDriver.DeleteNetwork",
		"/IpamDriver.RequestPool", "/IpamDriver.RequestAddress", "/IpamDriver.ReleaseAddress"}
	f.Add(uint8(0), []byte(`{"NetworkID":"n","Options":{"com.docker.network.generic":{"network":7}},"IPv4Data":[{"AddressSpace":"meshnet","Pool":"x"}]}`))
	f.Add(uint8(1), []byte(`{"NetworkID":"n","EndpointID":"e","Interface":{"Address":"10.30.115.2"}}`))
	f.Add(uint8(6), []byte(`{"Pool":"10.30.0.0/16","Options":{"network":"red"}}`))
	f.Add(uint8(7), []byte(`{"PoolID":"meshnet/","Options":{"RequestAddressType":"com.docker.network.gateway"}}`))
	f.Add(uint8(8), []byte(`{"PoolID":"meshnet/red","Address":"::1"}`))
	f.Fuzz(func(t *testing.T, p uint8, body []byte) {
		d, _ := New(newFakeDaemon(), newFakeVeths(), t.TempDir())
		rec := httptest.NewRecorder()
		d.Handler().ServeHTTP(rec, httptest.NewRequest("POST", paths[int(p)%len(paths)], bytes.NewReader(body)))
		if rec.Code != 200 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer %d %q", rec.Code, rec.Body)
		}
	})
}

func FuzzDecodeNetworks(f *testing.F) {
	f.Add([]byte(`{"236a148c":"red"}`))
	f.Add([]byte(`{"":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeNetworks(b)
		if err != nil {
			return
		}
		for id, name := range m {
			if id == "" || name == "" {
				t.Fatal("accepted an empty id or name")
			}
		}
	})
}
