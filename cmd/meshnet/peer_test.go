package main

import (
	"bytes"
	"strings"
	"testing"

	"meshnet.dev/meshnet/node/api"
)

// testSetup is what GET /v1/peers/router/setup answers for a peer with a
// preshared key on network red, with two members.
func testSetup() api.PeerSetup {
	return api.PeerSetup{Name: "router", PublicKey: "ROUTERPUB=", VTEP: "fd11::1", ListenPort: 51820, PresharedKey: true,
		Networks: []api.PeerSetupNetwork{{Name: "red", VNI: 4242, Subnet: "10.10.0.0/24", MTU: 1370, Endpoints: []api.Endpoint{
			{IP: "10.10.0.200", MAC: "02:aa:00:00:00:01", Node: "router"}, {IP: "10.10.0.201", MAC: "02:aa:00:00:00:02", Node: "router"}}}},
		Members: []api.PeerSetupMember{
			{Name: "h1", PublicKey: "H1PUB=", Endpoint: "192.168.77.1:51820", VTEP: "fd01::1"},
			{Name: "h2", PublicKey: "H2PUB=", Endpoint: "[2001:db8::2]:51820", VTEP: "fd02::2"},
		}}
}

func TestPeerScript(t *testing.T) {
	f := peerSetupFlags{iface: "wg9", wireguardGo: "/opt/wireguard-go"}
	f.defaults("router")
	var b bytes.Buffer
	if err := writePeerScript(&b, testSetup(), f); err != nil {
		t.Fatal(err)
	}
	want := `# meshnet static peer "router": run these as root on its host.
# The host's private key stays there, in /etc/wireguard/router.key (wg genkey > /etc/wireguard/router.key);
# wg pubkey < /etc/wireguard/router.key must print ROUTERPUB=
# /etc/wireguard/router.psk must hold the key of the peers entry's preshared_key_file.
/opt/wireguard-go wg9
wg set wg9 listen-port 51820 private-key /etc/wireguard/router.key
# member h1
wg set wg9 peer H1PUB= preshared-key /etc/wireguard/router.psk endpoint 192.168.77.1:51820 allowed-ips fd01::1/128 persistent-keepalive 25
# member h2
wg set wg9 peer H2PUB= preshared-key /etc/wireguard/router.psk endpoint [2001:db8::2]:51820 allowed-ips fd02::2/128 persistent-keepalive 25
ip link set wg9 mtu 1440
ip -6 addr add fd11::1/128 dev wg9 nodad
ip link set wg9 up
ip -6 route add fd01::1/128 dev wg9
ip -6 route add fd02::2/128 dev wg9
# VXLAN inside WireGuard, to every member's VTEP
ip link add vx-red type vxlan id 4242 local fd11::1 dstport 4789
ip link set vx-red address 02:aa:00:00:00:01 mtu 1370
bridge fdb append 00:00:00:00:00:00 dev vx-red dst fd01::1
bridge fdb append 00:00:00:00:00:00 dev vx-red dst fd02::2
ip addr add 10.10.0.200/24 dev vx-red
ip link set vx-red up
# endpoint 10.10.0.201 (02:aa:00:00:00:02) on red: put it behind vx-red, for example on a bridge with it
`
	if b.String() != want {
		t.Fatalf("script\n%s\nwant\n%s", b.String(), want)
	}
	// Without a preshared key or wireguard-go: a kernel interface, no
	// preshared-key arguments.
	s := testSetup()
	s.PresharedKey = false
	b.Reset()
	writePeerScript(&b, s, peerSetupFlags{iface: "wg0", key: "/k"})
	if out := b.String(); !strings.Contains(out, "\nip link add wg0 type wireguard\n") || strings.Contains(out, "preshared") {
		t.Fatalf("script without a preshared key:\n%s", out)
	}
}

func TestPeerWGQuick(t *testing.T) {
	f := peerSetupFlags{iface: "wg0"}
	f.defaults("router")
	var b bytes.Buffer
	if err := writeWGQuick(&b, testSetup(), f); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"[Interface]\nListenPort = 51820\nAddress = fd11::1/128\nMTU = 1440\nPostUp = wg set %i private-key /etc/wireguard/router.key\n",
		"PostUp = wg set %i peer H1PUB= preshared-key /etc/wireguard/router.psk\n",
		"PostUp = ip link add vx-red type vxlan id 4242 local fd11::1 dstport 4789\n",
		"PostUp = bridge fdb append 00:00:00:00:00:00 dev vx-red dst fd02::2\n",
		"PostDown = ip link del vx-red\n",
		"\n[Peer]\n# member h2\nPublicKey = H2PUB=\nEndpoint = [2001:db8::2]:51820\nAllowedIPs = fd02::2/128\nPersistentKeepalive = 25\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("wg-quick file lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PrivateKey") || strings.Contains(out, "PresharedKey") {
		t.Fatalf("the file asks for a key inline:\n%s", out)
	}
}

func TestPeerConfigRefusesShellWords(t *testing.T) {
	for _, args := range [][]string{
		{"peer", "config", "router", "--private-key", "/tmp/my key"},
		{"peer", "config", "router", "--interface", "a-very-long-interface"},
		{"peer", "config", "router", "--wireguard-go", "wg;rm"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr.String())
		}
	}
}
