package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

const conf = `{"cniVersion":"1.1.0","name":"red","type":"meshnet-cni","socket":"/fake.sock"}`

func newPlugin() (*Plugin, *fakeDaemon, *fakeLinks, *bytes.Buffer) {
	d, l, out := newFakeDaemon(), newFakeLinks(), &bytes.Buffer{}
	p := &Plugin{Daemon: func(socket string) Daemon {
		if socket != "/fake.sock" {
			panic("socket " + socket)
		}
		return d
	}, Links: l, Out: out}
	return p, d, l, out
}

func args(id string, stdin string) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: id, Netns: "/run/netns/" + id, IfName: "eth0", StdinData: []byte(stdin)}
}

// code returns err's CNI error code, failing the test if it is none.
func code(t *testing.T, err error) uint {
	t.Helper()
	var e *types.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not a CNI error", err)
	}
	if e.Msg == "" {
		t.Fatalf("CNI error %d has no message", e.Code)
	}
	return e.Code
}

func TestAddPrintsResultAndCreatesInterface(t *testing.T) {
	p, d, l, out := newPlugin()
	if err := p.Add(args("c1", conf)); err != nil {
		t.Fatal(err)
	}
	var res current.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("result %s: %v", out, err)
	}
	if len(res.IPs) != 1 || res.IPs[0].Address.String() != "10.9.0.2/24" || res.IPs[0].Gateway.String() != "10.9.0.1" {
		t.Fatalf("result IPs %s", out)
	}
	if len(res.Interfaces) != 2 || res.Interfaces[1].Sandbox != "/run/netns/c1" || res.Interfaces[1].Mac != "02:00:00:00:00:02" {
		t.Fatalf("result interfaces %s", out)
	}
	i := l.ifs["/run/netns/c1/eth0"]
	if i.bridge != "mb-red" || i.mtu != 1370 || i.host != HostVethName("c1", "eth0") || i.addr.String() != "10.9.0.2/24" {
		t.Fatalf("interface %+v", i)
	}
	if len(d.eps) != 1 {
		t.Fatalf("daemon holds %d endpoints", len(d.eps))
	}
	if err := p.Check(args("c1", conf)); err != nil {
		t.Fatalf("CHECK after ADD: %v", err)
	}
}

func TestAddWithDaemonDownMakesNothing(t *testing.T) {
	p, d, l, out := newPlugin()
	d.down = true
	err := p.Add(args("c1", conf))
	if code(t, err) != types.ErrTryAgainLater || !strings.Contains(err.Error(), "not running") || !strings.Contains(err.Error(), "/fake.sock") {
		t.Fatalf("ADD with the daemon down: %v", err)
	}
	if len(l.calls) != 0 || out.Len() != 0 {
		t.Fatalf("ADD with the daemon down touched interfaces %v or printed %q", l.calls, out)
	}
}

func TestAddRollsBackWhenInterfaceFails(t *testing.T) {
	p, d, l, _ := newPlugin()
	l.fail = errors.New("veth exploded")
	if err := p.Add(args("c1", conf)); err == nil || !strings.Contains(err.Error(), "veth exploded") {
		t.Fatalf("ADD: %v", err)
	}
	if len(d.eps) != 0 || d.removed != 1 {
		t.Fatalf("endpoint not withdrawn after a failed ADD: %v", d.eps)
	}
}

func TestDelIsIdempotent(t *testing.T) {
	p, d, l, _ := newPlugin()
	if err := p.Add(args("c1", conf)); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := p.Del(args("c1", conf)); err != nil {
			t.Fatalf("DEL %d: %v", i+1, err)
		}
	}
	if err := p.Del(args("unknown", conf)); err != nil {
		t.Fatalf("DEL of an unknown container: %v", err)
	}
	noNetns := args("c2", conf)
	noNetns.Netns = ""
	if err := p.Del(noNetns); err != nil {
		t.Fatalf("DEL without a namespace: %v", err)
	}
	if len(d.eps) != 0 || len(l.ifs) != 0 {
		t.Fatalf("left behind: endpoints %v, interfaces %v", d.eps, l.ifs)
	}
	if err := p.Check(args("c1", conf)); code(t, err) != types.ErrUnknownContainer {
		t.Fatalf("CHECK after DEL: %v", err)
	}
}

func TestDelWithDaemonDownRemovesInterfaceAndAsksForRetry(t *testing.T) {
	p, d, l, _ := newPlugin()
	if err := p.Add(args("c1", conf)); err != nil {
		t.Fatal(err)
	}
	d.down = true
	if err := p.Del(args("c1", conf)); code(t, err) != types.ErrTryAgainLater {
		t.Fatalf("DEL with the daemon down: %v", err)
	}
	if len(l.ifs) != 0 {
		t.Fatal("interface left")
	}
	d.down = false
	if err := p.Del(args("c1", conf)); err != nil || len(d.eps) != 0 {
		t.Fatalf("retried DEL: %v, endpoints %v", err, d.eps)
	}
}

func TestCheckFindsWhatIsWrong(t *testing.T) {
	p, d, l, _ := newPlugin()
	if err := p.Add(args("c1", conf)); err != nil {
		t.Fatal(err)
	}
	d.unpub = true
	if err := p.Check(args("c1", conf)); code(t, err) != types.ErrLimitedConnectivity {
		t.Fatalf("CHECK of an unpublished endpoint: %v", err)
	}
	d.unpub = false
	i := l.ifs["/run/netns/c1/eth0"]
	i.mac = "02:00:00:00:00:99"
	l.ifs["/run/netns/c1/eth0"] = i
	if err := p.Check(args("c1", conf)); err == nil || !strings.Contains(err.Error(), "MAC") {
		t.Fatalf("CHECK of a changed MAC: %v", err)
	}
	delete(l.ifs, "/run/netns/c1/eth0")
	if err := p.Check(args("c1", conf)); err == nil {
		t.Fatal("CHECK passed without the interface")
	}
	prev := `{"cniVersion":"1.1.0","name":"red","type":"meshnet-cni","socket":"/fake.sock",
		"prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.9.0.77/24"}]}}`
	if err := p.Check(args("c1", prev)); err == nil || !strings.Contains(err.Error(), "prevResult") {
		t.Fatalf("CHECK with a prevResult of another address: %v", err)
	}
}

func TestStatus(t *testing.T) {
	p, d, _, _ := newPlugin()
	if err := p.Status(args("", conf)); err != nil {
		t.Fatal(err)
	}
	d.attached = false
	if err := p.Status(args("", conf)); code(t, err) != types.ErrPluginNotAvailable {
		t.Fatalf("STATUS with the network detached: %v", err)
	}
	d.down = true
	if err := p.Status(args("", conf)); code(t, err) != types.ErrPluginNotAvailable {
		t.Fatalf("STATUS with the daemon down: %v", err)
	}
}

func TestGCKeepsOnlyValidAttachments(t *testing.T) {
	p, d, _, _ := newPlugin()
	for _, id := range []string{"keep", "stale1", "stale2"} {
		if err := p.Add(args(id, conf)); err != nil {
			t.Fatal(err)
		}
	}
	gc := `{"cniVersion":"1.1.0","name":"red","type":"meshnet-cni","socket":"/fake.sock",
		"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"},{"containerID":"stale1","ifname":"eth1"}]}`
	if err := p.GC(args("", gc)); err != nil {
		t.Fatal(err)
	}
	if len(d.eps) != 1 || d.eps[[2]string{"keep", "eth0"}].ContainerID != "keep" {
		t.Fatalf("after GC: %v", d.eps)
	}
}

func TestBadConfigIsACNIError(t *testing.T) {
	p, _, l, _ := newPlugin()
	for _, c := range []string{`{`, `{"name":"Red_Net"}`, `{"name":"red","mtu":10}`} {
		if err := p.Add(args("c1", c)); code(t, err) != types.ErrInvalidNetworkConfig {
			t.Errorf("config %s: %v", c, err)
		}
	}
	if len(l.calls) != 0 {
		t.Fatal("a bad config touched interfaces")
	}
}

func TestHostVethNameFitsIFNAMSIZ(t *testing.T) {
	n := HostVethName(strings.Repeat("f", 64), "eth0")
	if len(n) > 15 || n == HostVethName(strings.Repeat("f", 64), "eth1") {
		t.Fatalf("host veth name %q", n)
	}
}

func FuzzParseConf(f *testing.F) {
	f.Add([]byte(conf))
	f.Add([]byte(`{"cniVersion":"1.1.0","name":"red","prevResult":{"cniVersion":"1.1.0","ips":[{"address":"10.9.0.2/24","interface":5}]}}`))
	f.Add([]byte(`{"cniVersion":"0.3.1","name":"red","network":"blue","mtu":1400,"cni.dev/valid-attachments":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConf(b)
		if err != nil {
			return
		}
		if !networkRE.MatchString(c.Network) || c.Socket == "" {
			t.Fatalf("accepted %+v", c)
		}
	})
}
