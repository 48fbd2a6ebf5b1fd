package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/config"
)

// overlayIP is host i's (0-based) address on the test network.
func overlayIP(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 42, 0, byte(i + 1)}) }

// plain marks a network unencrypted (plain VXLAN).
var plain = new(bool)

// staticConfigs gives every host a config that lists every other host as a
// static (plain VXLAN) peer on network "blue": each host is its own
// cluster, and the data path is exercised without gossip or encryption.
func staticConfigs(hosts []*netlab.Host, mode string) []config.Config {
	cfgs := make([]config.Config, len(hosts))
	for i, h := range hosts {
		c := config.DefaultConfig()
		c.Name = h.Name
		c.Mode = mode
		c.Underlay.Address = h.Addr.String()
		c.Networks = []config.NetworkConfig{{Name: "blue", VNI: 4242, Subnet: "10.42.0.0/24", Address: overlayIP(i).String(), Encrypted: plain}}
		for j, o := range hosts {
			if j != i {
				c.Peers = append(c.Peers, config.PeerConfig{Name: o.Name, Address: o.Addr.String(),
					Endpoints: []config.EndpointConfig{{Network: "blue", IP: overlayIP(j).String()}}})
			}
		}
		cfgs[i] = c
	}
	return cfgs
}

// startAll starts meshnet on every host with its config.
func startAll(t *testing.T, hosts []*netlab.Host, cfgs []config.Config) []*netlab.Meshnet {
	t.Helper()
	ms := make([]*netlab.Meshnet, len(hosts))
	for i, h := range hosts {
		m, err := h.StartMeshnet(bin.meshnet, cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = m
	}
	for _, m := range ms {
		if _, err := m.WaitNetworks(20*time.Second, "blue"); err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

// ping sends count pings from h to ip and fails the test if any is lost.
func ping(t *testing.T, h *netlab.Host, ip netip.Addr, count int) string {
	t.Helper()
	out, err := h.Run("ping", "-c", fmt.Sprint(count), "-i", "0.05", "-W", "2", ip.String())
	if err != nil {
		t.Fatalf("ping %s from %s: %v", ip, h.Name, err)
	}
	return out
}

func TestPingEveryPair(t *testing.T) {
	for _, mode := range []string{"tap", "tun"} {
		t.Run(mode, func(t *testing.T) {
			_, hosts := newLab(t, 3)
			startAll(t, hosts, staticConfigs(hosts, mode))
			for i, h := range hosts {
				for j := range hosts {
					if i != j {
						ping(t, h, overlayIP(j), 3)
					}
				}
			}
		})
	}
}

func writeConfig(t *testing.T, path string, c config.Config) {
	t.Helper()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
