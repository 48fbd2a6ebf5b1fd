package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/internal/testenv"
	"meshnet.dev/meshnet/node/config"
)

// kernelVXLAN turns h into a plain-mode peer made of a Linux kernel vxlan
// device with static forwarding and neighbour entries pointing at the
// meshnet node.
func kernelVXLAN(t *testing.T, h, meshnetHost *netlab.Host, mac, ip, meshnetMAC, meshnetIP string) {
	t.Helper()
	steps := [][]string{
		{"ip", "link", "add", "vx0", "type", "vxlan", "id", "4242", "dstport", "4789", "local", h.Addr.String(), "dev", "eth0", "nolearning"},
		{"ip", "link", "set", "vx0", "address", mac, "mtu", "1450"},
		{"ip", "addr", "add", ip + "/24", "dev", "vx0"},
		// Over veth nobody completes a checksum the kernel left to
		// "hardware", so the vxlan device must compute inner checksums
		// itself; a physical NIC would fill them in on the way out.
		{"ethtool", "-K", "vx0", "tx", "off"},
		{"ip", "link", "set", "vx0", "up"},
		{"bridge", "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", meshnetHost.Addr.String()},
		{"bridge", "fdb", "add", meshnetMAC, "dev", "vx0", "dst", meshnetHost.Addr.String()},
		{"ip", "neigh", "add", meshnetIP, "lladdr", meshnetMAC, "dev", "vx0", "nud", "permanent"},
	}
	for _, s := range steps {
		if _, err := h.Run(s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKernelVXLANInterop(t *testing.T) {
	_, hosts := newLab(t, 2)
	testenv.RequireTools(t, "bridge", "ethtool")
	mesh, kern := hosts[0], hosts[1]
	const kernelMAC = "02:00:00:00:42:02"
	meshMAC := config.InterfaceMAC(mesh.Name, "blue")
	kernelVXLAN(t, kern, mesh, kernelMAC, "10.42.0.2", config.FormatMAC(meshMAC), "10.42.0.1")

	c := config.DefaultConfig()
	c.Name = mesh.Name
	c.Networks = []config.NetworkConfig{{Name: "blue", VNI: 4242, Subnet: "10.42.0.0/24", Address: "10.42.0.1", Encrypted: plain}}
	c.Peers = []config.PeerConfig{{Name: "kernel", Address: kern.Addr.String(),
		Endpoints: []config.EndpointConfig{{Network: "blue", IP: "10.42.0.2", MAC: kernelMAC}}}}
	m, err := mesh.StartMeshnet(bin.meshnet, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.WaitNetworks(20*time.Second, "blue"); err != nil {
		t.Fatal(err)
	}

	ping(t, mesh, overlayIP(1), 3)
	ping(t, kern, overlayIP(0), 3)
	for _, dir := range []struct {
		from, to *netlab.Host
		addr     string
	}{{mesh, kern, "10.42.0.2"}, {kern, mesh, "10.42.0.1"}} {
		sent, got := transfer(t, dir.from, dir.to, dir.addr, 20<<20)
		if sent.SHA256 != got.SHA256 || sent.Bytes != got.Bytes {
			t.Fatalf("%s→%s: transfer corrupted", dir.from.Name, dir.to.Name)
		}
		t.Logf("%s→%s: 20 MiB at %.0f Mbit/s", dir.from.Name, dir.to.Name, sent.Mbps)
	}
}

// TestTsharkDecodesVXLAN captures meshnet's plain traffic on the underlay
// and checks a standard dissector sees VXLAN with our VNI and the inner
// ICMP.
func TestTsharkDecodesVXLAN(t *testing.T) {
	_, hosts := newLab(t, 2)
	testenv.RequireTools(t, "tshark")
	startAll(t, hosts, staticConfigs(hosts, "tap"))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cap := hosts[1].Command(ctx, "tshark", "-i", "eth0", "-c", "4", "-f", "udp port 4789", "-l",
		"-T", "fields", "-e", "vxlan.vni", "-e", "icmp.type")
	out := &strings.Builder{}
	cap.Stdout = out
	if err := cap.Start(); err != nil {
		t.Fatal(err)
	}
	// tshark needs a moment to open the interface; keep pinging until it
	// has seen enough packets.
	done := make(chan error, 1)
	go func() { done <- cap.Wait() }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			// Every packet is VXLAN of the network; most are the pings
			// (ICMP type 8 or 0), but an ARP or ND frame of the kernel's
			// may cross at the same time.
			echoes := 0
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				f := strings.Split(l, "\t")
				if f[0] != "4242" {
					t.Fatalf("tshark did not decode VXLAN with VNI 4242: %q", out.String())
				}
				if len(f) == 2 && (f[1] == "8" || f[1] == "0") {
					echoes++
				}
			}
			if echoes < 2 {
				t.Fatalf("tshark decoded %d ICMP echoes inside VXLAN, want 2 or more: %q", echoes, out.String())
			}
			return
		default:
			ping(t, hosts[0], overlayIP(1), 1)
		}
	}
}
