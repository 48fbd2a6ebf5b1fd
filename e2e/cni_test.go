package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"meshnet.dev/meshnet/cni"
	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
)

// cniHost runs the real meshnet-cni binary through libcni, as a container
// runtime on host h would: inside h's namespace (a wrapper in the plugin
// directory enters it), with h's daemon socket in the network config.
type cniHost struct {
	h    *netlab.Host
	m    *netlab.Meshnet
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
}

func newCNIHost(t *testing.T, m *netlab.Meshnet) *cniHost {
	t.Helper()
	h := m.Host
	dir := filepath.Join(h.Dir, "cni-bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", h.NS, bin.cni)
	if err := os.WriteFile(filepath.Join(dir, "meshnet-cni"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`{"cniVersion": "1.1.0", "name": "red", "plugins": [
		{"type": "meshnet-cni", "network": "red", "socket": %q}]}`, filepath.Join(m.StateDir, api.SocketName))
	list, err := libcni.ConfListFromBytes([]byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	return &cniHost{h: h, m: m, list: list, cni: libcni.NewCNIConfigWithCacheDir([]string{dir}, filepath.Join(h.Dir, "cni-cache"), nil)}
}

func podRT(pod *netlab.Host) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: "ctr-" + pod.Name, NetNS: "/var/run/netns/" + pod.NS, IfName: "eth0"}
}

// add runs CNI ADD for pod and returns its address.
func (c *cniHost) add(t *testing.T, pod *netlab.Host) netip.Addr {
	t.Helper()
	res, err := c.cni.AddNetworkList(t.Context(), c.list, podRT(pod))
	if err != nil {
		t.Fatalf("CNI ADD %s on %s: %v", pod.Name, c.h.Name, err)
	}
	r, err := current.NewResultFromResult(res)
	if err != nil || len(r.IPs) != 1 {
		t.Fatalf("CNI ADD result %v: %v", res, err)
	}
	a, _ := netip.AddrFromSlice(r.IPs[0].Address.IP)
	t.Logf("CNI ADD %s on %s: %s mac %s gateway %s", pod.Name, c.h.Name, r.IPs[0].Address.String(), r.Interfaces[1].Mac, r.IPs[0].Gateway)
	return a.Unmap()
}

func (c *cniHost) del(t *testing.T, pod *netlab.Host) {
	t.Helper()
	if err := c.cni.DelNetworkList(t.Context(), c.list, podRT(pod)); err != nil {
		t.Fatalf("CNI DEL %s on %s: %v", pod.Name, c.h.Name, err)
	}
}

// endpoints is the daemon's list of network red's endpoints.
func (c *cniHost) endpoints(t *testing.T) api.NetworkEndpoints {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	eps, err := api.NewClient(filepath.Join(c.m.StateDir, api.SocketName)).Endpoints(ctx, "red")
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// listed reports whether the daemon lists ip among red's endpoints.
func (c *cniHost) listed(t *testing.T, ip netip.Addr) bool {
	for _, e := range c.endpoints(t).Endpoints {
		if e.IP == ip.String() {
			return true
		}
	}
	return false
}

// podPing waits until pod reaches ip, then pings it count times.
func podPing(t *testing.T, pod *netlab.Host, ip netip.Addr, count int) string {
	t.Helper()
	err := netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		_, err := pod.Run("ping", "-c", "1", "-W", "1", ip.String())
		return err
	})
	if err != nil {
		t.Fatalf("%s never reached %s: %v", pod.Name, ip, err)
	}
	return ping(t, pod, ip, count)
}

// TestCNIPodsAcrossHosts attaches a pod namespace on each of two hosts of
// an encrypted network through libcni and the real plugin, checks ping and
// a TCP transfer between them, DEL and re-ADD, a daemon restart, DEL
// twice, GC, and that nothing is left behind.
func TestCNIPodsAcrossHosts(t *testing.T) {
	lab, hosts := newLab(t, 2)
	_, ms, _ := encryptedOn(t, hosts, clusterOpts{bridge: "mb-red", subnet: "10.30.0.0/16"})
	cs := []*cniHost{newCNIHost(t, ms[0]), newCNIHost(t, ms[1])}
	pods := make([]*netlab.Host, 2)
	ips := make([]netip.Addr, 2)
	for i := range pods {
		p, err := lab.AddPod(fmt.Sprintf("pod%d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		pods[i] = p
		ips[i] = cs[i].add(t, p)
	}
	for i, c := range cs {
		if err := c.cni.CheckNetworkList(t.Context(), c.list, podRT(pods[i])); err != nil {
			t.Fatalf("CNI CHECK on %s: %v", c.h.Name, err)
		}
		if err := c.cni.GetStatusNetworkList(t.Context(), c.list); err != nil {
			t.Fatalf("CNI STATUS on %s: %v", c.h.Name, err)
		}
	}
	t.Logf("pod1 -> pod2:\n%s", podPing(t, pods[0], ips[1], 5))
	t.Logf("pod2 -> pod1:\n%s", podPing(t, pods[1], ips[0], 5))
	const size = 32 << 20
	sent, got := transfer(t, pods[0], pods[1], ips[1].String(), size)
	if got.Bytes != size || got.SHA256 != sent.SHA256 {
		t.Fatalf("transfer: sent %+v, received %+v", sent, got)
	}
	t.Logf("TCP pod1 -> pod2 over the encrypted network: %d bytes in %.2fs, %.0f Mbit/s, sha256 match", got.Bytes, got.Seconds, got.Mbps)

	// DEL, then ADD again: the pod gets its address back and is reachable.
	cs[0].del(t, pods[0])
	if _, err := pods[0].Run("ip", "link", "show", "eth0"); err == nil {
		t.Fatal("eth0 still in pod1 after DEL")
	}
	if again := cs[0].add(t, pods[0]); again != ips[0] {
		t.Logf("pod1 came back with %s (was %s)", again, ips[0])
		ips[0] = again
	}
	t.Logf("pod2 -> pod1 after DEL and ADD:\n%s", podPing(t, pods[1], ips[0], 3))

	// A daemon restart keeps the endpoint: pod2 still reaches pod1, CHECK
	// passes, and DEL after the restart withdraws it.
	ms[0].Proc.Signal(syscall.SIGTERM)
	if err := ms[0].Proc.Wait(10 * time.Second); err != nil {
		t.Fatalf("daemon exit: %v", err)
	}
	// With the daemon down, ADD fails with a CNI error and makes nothing.
	pod3, err := lab.AddPod("pod3")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs[0].cni.AddNetworkList(t.Context(), cs[0].list, podRT(pod3))
	var cerr *types.Error
	if !errors.As(err, &cerr) || cerr.Code != types.ErrTryAgainLater || !strings.Contains(cerr.Msg, "not running") {
		t.Fatalf("ADD with the daemon down: %v", err)
	}
	t.Logf("ADD with h1's daemon down: code %d: %s", cerr.Code, cerr.Error())
	if out, _ := pod3.Run("ip", "-o", "link", "show"); strings.Contains(out, "eth0") {
		t.Fatalf("a failed ADD left an interface in pod3:\n%s", out)
	}
	if out, _ := cs[0].h.Run("ip", "-o", "link", "show"); strings.Contains(out, cni.HostVethName(podRT(pod3).ContainerID, "eth0")) {
		t.Fatalf("a failed ADD left its host veth on h1:\n%s", out)
	}
	if err := ms[0].Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := ms[0].WaitNetworks(30*time.Second, "red"); err != nil {
		t.Fatal(err)
	}
	t.Logf("pod2 -> pod1 after h1's daemon restarted:\n%s", podPing(t, pods[1], ips[0], 3))
	if err := netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		return cs[0].cni.CheckNetworkList(t.Context(), cs[0].list, podRT(pods[0]))
	}); err != nil {
		t.Fatalf("CNI CHECK after the restart: %v", err)
	}

	// DEL twice on both hosts, and DEL of a container nobody knows.
	for i, c := range cs {
		c.del(t, pods[i])
		c.del(t, pods[i])
	}
	unknown := podRT(pods[0])
	unknown.ContainerID = "never-added"
	if err := cs[0].cni.DelNetworkList(t.Context(), cs[0].list, unknown); err != nil {
		t.Fatalf("DEL of an unknown container: %v", err)
	}
	// GC withdraws an endpoint whose container the runtime no longer has.
	ghost := cs[1].add(t, pods[1])
	if err := cs[1].cni.GCNetworkList(t.Context(), cs[1].list, &libcni.GCArgs{}); err != nil {
		t.Fatalf("CNI GC: %v", err)
	}
	if eps := cs[1].endpoints(t); len(eps.Containers) != 0 {
		t.Fatalf("GC left %+v", eps.Containers)
	}
	pods[1].Run("ip", "link", "del", "eth0") // GC withdraws; the runtime removes the namespace

	// Nothing left: no interface in the pods, no host veth, the bridges
	// hold only the TAP, and neither daemon lists a pod address.
	err = netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		for _, c := range cs {
			for _, ip := range append(ips, ghost) {
				if c.listed(t, ip) {
					return fmt.Errorf("%s still lists %s", c.h.Name, ip)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		out, _ := pods[i].Run("ip", "-o", "link", "show")
		if strings.Contains(out, "eth0") {
			t.Fatalf("%s still has eth0:\n%s", pods[i].Name, out)
		}
		veths, _ := c.h.Run("ip", "-o", "link", "show", "type", "veth")
		if strings.Contains(veths, "mnc") {
			t.Fatalf("%s still has a pod veth:\n%s", c.h.Name, veths)
		}
		ports, _ := c.h.Run("ip", "-o", "link", "show", "master", "mb-red")
		if strings.Count(strings.TrimSpace(ports), "\n") != 0 || !strings.Contains(ports, "mn-red") {
			t.Fatalf("%s's bridge holds more than its TAP:\n%s", c.h.Name, ports)
		}
		eps := c.endpoints(t)
		t.Logf("%s after DEL: pod interfaces %q; veths %q; bridge ports %q; containers %d; endpoints %v",
			c.h.Name, strings.TrimSpace(out), strings.TrimSpace(veths), strings.TrimSpace(ports), len(eps.Containers), eps.Endpoints)
		if len(eps.Containers) != 0 || len(eps.Endpoints) != 2 {
			t.Fatalf("%s after DEL: %+v", c.h.Name, eps)
		}
	}
}
