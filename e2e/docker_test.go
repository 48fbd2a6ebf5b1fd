package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/encap"
	"meshnet.dev/meshnet/node/api"
)

// TestDockerContainersAcrossHosts has Docker itself attach containers to
// an encrypted meshnet network on two hosts: on each host a dockerd (from
// Debian's docker.io) with `meshnet docker-plugin` as its network and IPAM
// driver, `docker network create -d meshnet` and `docker run`. The
// containers ping each other (nothing of the pings crosses the underlay
// in plaintext) and carry a TCP transfer; after `docker rm -f` and
// `docker network rm` no veth, bridge port or endpoint is left, and
// stopping dockerd and the plugin leaves no process, mount, cgroup,
// socket or file outside the test's directory.
func TestDockerContainersAcrossHosts(t *testing.T) {
	testenvTools(t, "dockerd", "docker", "containerd", "runc", "nsenter", "unshare", "busybox", "tcpdump")
	lab, hosts := newLab(t, 2)
	start := time.Now() // after the wait for other processes' labs
	_, ms, _ := encryptedOn(t, hosts, clusterOpts{bridge: "mb-red", subnet: "10.31.0.0/16"})
	sharedBefore := sharedDirs()
	ds := []*dockerHost{startDocker(t, ms[0]), startDocker(t, ms[1])}
	image := filepath.Join(lab.Dir, "busybox.tar")
	busyboxImage(t, image)
	for _, d := range ds {
		d.wait(t)
	}
	t.Logf("dockerd and plugin up on both hosts %.1fs after the lab; %s", time.Since(start).Seconds(),
		strings.ReplaceAll(ds[0].docker(t, "version", "--format", "client {{.Client.Version}}, server {{.Server.Version}}"), "\n", " "))

	ips := make([]netip.Addr, 2)
	for i, d := range ds {
		d.docker(t, "import", image, "meshnet-e2e/busybox")
		d.docker(t, "network", "create", "-d", "meshnet", "--ipam-driver", "meshnet",
			"--ipam-opt", "network=red", "--subnet", "10.31.0.0/16", "red")
		name := fmt.Sprintf("c%d", i+1)
		d.docker(t, "run", "-d", "--name", name, "--network", "red", "meshnet-e2e/busybox", "sleep", "600")
		ip, err := netip.ParseAddr(d.docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name))
		if err != nil {
			t.Fatal(err)
		}
		ips[i] = ip
		t.Logf("%s on %s: %s", name, d.h.Name, d.docker(t, "exec", name, "ip", "-o", "-4", "addr", "show", "eth0"))
		if !listed(t, d.m, ip) {
			t.Fatalf("%s's daemon does not list %s's address %s", d.h.Name, name, ip)
		}
	}

	// Ping both ways, once the other container's endpoint has reached
	// each node through gossip; capture the underlay meanwhile.
	capture, err := hosts[1].StartCapture("underlay", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	const pattern, pings = 0xa5, 10
	for i, d := range ds {
		name, peer := fmt.Sprintf("c%d", i+1), ips[1-i]
		err := netlab.Poll(15*time.Second, 100*time.Millisecond, func() error {
			_, err := d.dockerQuiet("exec", name, "ping", "-c", "1", "-W", "1", peer.String())
			return err
		})
		if err != nil {
			t.Fatalf("%s never reached %s: %v", name, peer, err)
		}
		out := d.docker(t, "exec", name, "ping", "-c", fmt.Sprint(pings), "-i", "0.1", "-s", "200", "-p", fmt.Sprintf("%x", pattern), peer.String())
		t.Logf("%s -> %s:\n%s", name, peer, out)
	}
	if err := capture.WaitFrames(10*time.Second, 4*pings, netlab.UDPPort(encap.DefaultWireGuardPort)); err != nil {
		t.Fatalf("WireGuard traffic in the capture: %v", err)
	}
	frames := stopNoPlaintext(t, capture, bytes.Repeat([]byte{pattern}, 64))
	t.Logf("underlay capture: %d frames, no plaintext VXLAN, no ping payload", len(frames))

	const size = 32 << 20
	sent, got := dockerTransfer(t, ds[0], "c1", ds[1], "c2", ips[1], size)
	if got.Bytes != size || got.SHA256 != sent.SHA256 {
		t.Fatalf("transfer: sent %+v, received %+v", sent, got)
	}
	t.Logf("TCP c1 -> c2 over the encrypted network: %d bytes in %.2fs, %.0f Mbit/s, sha256 match", got.Bytes, got.Seconds, got.Mbps)

	// Remove the containers and the networks: nothing may be left.
	for i, d := range ds {
		d.docker(t, "rm", "-f", fmt.Sprintf("c%d", i+1))
		d.docker(t, "network", "rm", "red")
	}
	err = netlab.Poll(10*time.Second, 50*time.Millisecond, func() error {
		for _, d := range ds {
			for _, ip := range ips {
				if listed(t, d.m, ip) {
					return fmt.Errorf("%s still lists %s", d.h.Name, ip)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		out, _ := d.h.Run("ip", "-br", "link", "show", "type", "veth")
		var veths []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			veths = append(veths, strings.Fields(l)[0])
		}
		if strings.Contains(out, "mnd") || strings.Contains(out, "mnp") {
			t.Fatalf("%s still has a container veth:\n%s", d.h.Name, out)
		}
		ports, _ := d.h.Run("ip", "-br", "link", "show", "master", "mb-red")
		if strings.Count(strings.TrimSpace(ports), "\n") != 0 || !strings.HasPrefix(ports, "mn-red ") {
			t.Fatalf("%s's bridge holds more than its TAP:\n%s", d.h.Name, ports)
		}
		eps := endpointsOf(t, d.m)
		if len(eps.Containers) != 0 || len(eps.Endpoints) != 2 {
			t.Fatalf("%s after docker rm: %+v", d.h.Name, eps)
		}
		cli, err := d.m.CLI("network", "endpoints", "red")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s after docker rm -f and docker network rm: veths %v; bridge ports %v; containers %d; meshnet network endpoints red:\n%s",
			d.h.Name, veths, strings.Fields(ports)[:1], len(eps.Containers), strings.TrimSpace(cli))
	}

	// Stop dockerd and the plugin: nothing of theirs may stay.
	for _, d := range ds {
		if left := d.stop(); len(left) > 0 {
			t.Fatalf("stopping docker on %s left: %s\n%s", d.h.Name, strings.Join(left, "; "), d.dockerd.Output())
		}
		if ms := mountsUnder(lab.Dir); len(ms) > 0 {
			t.Fatalf("mounts left under the lab: %v", ms)
		}
		if entries, _ := os.ReadDir(d.plugins); len(entries) > 0 {
			t.Fatalf("the plugin left %v in %s", entries, d.plugins)
		}
		if _, err := os.Stat(filepath.Join(d.dir, "dockerd.pid")); !os.IsNotExist(err) {
			t.Fatalf("dockerd left its pid file: %v", err)
		}
		t.Logf("%s: dockerd, containerd and plugin stopped; no process in dockerd's mount namespace, no cgroup %s, no mount, plugin socket gone", d.h.Name, d.cgroup)
	}
	for p := range sharedDirs() {
		if !sharedBefore[p] {
			t.Fatalf("%s appeared outside the test's directory", p)
		}
	}
	t.Logf("whole test from the lab on: %.1fs", time.Since(start).Seconds())
}

// endpointsOf is m's view of network red.
func endpointsOf(t *testing.T, m *netlab.Meshnet) api.NetworkEndpoints {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	eps, err := api.NewClient(filepath.Join(m.StateDir, api.SocketName)).Endpoints(ctx, "red")
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// listed reports whether m lists ip among red's endpoints or its containers.
func listed(t *testing.T, m *netlab.Meshnet, ip netip.Addr) bool {
	eps := endpointsOf(t, m)
	for _, e := range eps.Endpoints {
		if e.IP == ip.String() {
			return true
		}
	}
	for _, c := range eps.Containers {
		if p, err := netip.ParsePrefix(c.Address); err == nil && p.Addr() == ip {
			return true
		}
	}
	return false
}

// dockerTransfer sends n bytes over TCP from container src to container
// dst (address ip) with xfer, through `docker exec`, and returns what each
// side saw.
func dockerTransfer(t *testing.T, sd *dockerHost, src string, dd *dockerHost, dst string, ip netip.Addr, n int64) (sent, got xferResult) {
	t.Helper()
	recv := dd.dockerCmd(t, "exec", dst, "/xfer", "recv", "-listen", ":5001")
	return xferPair(t, recv, func() (string, error) {
		return sd.docker(t, "exec", src, "/xfer", "send", "-to", ip.String()+":5001", "-bytes", fmt.Sprint(n)), nil
	})
}
