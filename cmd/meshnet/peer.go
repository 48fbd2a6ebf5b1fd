package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"meshnet.dev/meshnet/node/api"
)

func peerCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "peer",
		Short: "Set up static peers (hosts that do not run meshnet)",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(peerConfigCmd(g))
	return c
}

// peerSetupFlags name the files and devices on the peer's host.
type peerSetupFlags struct {
	iface       string // WireGuard interface
	key         string // the peer's private key file
	psk         string // the peer's preshared key file
	wireguardGo string // userspace WireGuard binary; "" for the kernel's
	wgQuick     bool   // print a wg-quick file instead of commands
}

func peerConfigCmd(g *globals) *cobra.Command {
	var f peerSetupFlags
	c := &cobra.Command{
		Use:   "config NAME",
		Short: "Print the commands that make a host an encrypted static peer",
		Long: `Print, for the host of encrypted static peer NAME (a peers entry with a
public_key in some node's config), the wg, ip and bridge commands that make
it a peer of the cluster's networks: a WireGuard interface paired with
every member on the peer's networks, and a kernel vxlan device over it.
Run them as root on that host, or save the --wg-quick file as
/etc/wireguard/IFACE.conf and run wg-quick up IFACE.

The host keeps its own private key (--private-key names the file) and, if
the peers entry has a preshared_key_file, the same preshared key
(--preshared-key). Nothing printed is secret: no private or preshared key
of any node or of the cluster is shown. Run it again after members join
or leave, or after an eviction, and apply the difference.`,
		Example: `  meshnet peer config router1 > router1.sh
  meshnet peer config router1 --wg-quick > wg0.conf
  meshnet peer config router1 --wireguard-go /usr/local/bin/wireguard-go --interface wg-mesh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			setup, err := g.client().PeerSetup(ctx, args[0])
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(g.stdout, setup)
			}
			f.defaults(setup.Name)
			if f.wgQuick {
				return writeWGQuick(g.stdout, setup, f)
			}
			return writePeerScript(g.stdout, setup, f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.iface, "interface", "wg0", "WireGuard interface `NAME` on the peer's host")
	fl.StringVar(&f.key, "private-key", "", "the peer's private key `FILE` on its host (default /etc/wireguard/NAME.key)")
	fl.StringVar(&f.psk, "preshared-key", "", "the peer's preshared key `FILE` on its host (default /etc/wireguard/NAME.psk)")
	fl.StringVar(&f.wireguardGo, "wireguard-go", "", "start userspace WireGuard with this `PATH` instead of a kernel interface")
	fl.BoolVar(&f.wgQuick, "wg-quick", false, "print a wg-quick configuration file instead of commands")
	addJSONFlag(c, g)
	return c
}

// Names on the peer's host.
const (
	vxlanPrefix = "vx-"
	maxIfName   = 15
	// tunnelOverhead is what VXLAN over IPv6 adds inside WireGuard:
	// inner Ethernet 14, VXLAN 8, UDP 8, IPv6 40.
	tunnelOverhead = 70
	// peerKeepalive keeps the peer's NAT mappings open and tells members
	// where it is, as meshnet members do among themselves.
	peerKeepalive = 25
)

// vxlanDevice is the peer's vxlan device for network name.
func vxlanDevice(name string) string {
	d := vxlanPrefix + name
	return d[:min(len(d), maxIfName)]
}

// tunnelMTU is the WireGuard interface's MTU: the largest network MTU
// plus the VXLAN-over-IPv6 overhead, so a full inner frame fits.
func tunnelMTU(s api.PeerSetup) int {
	m := 0
	for _, n := range s.Networks {
		m = max(m, n.MTU)
	}
	return m + tunnelOverhead
}

// vxlanCommands set up the vxlan device of each network, over the VTEP,
// flooding broadcasts to every member's VTEP; the kernel learns where
// each MAC lives from what it receives.
func vxlanCommands(s api.PeerSetup) []string {
	var out []string
	for _, n := range s.Networks {
		dev := vxlanDevice(n.Name)
		bits := netip.MustParsePrefix(n.Subnet).Bits()
		out = append(out,
			fmt.Sprintf("ip link add %s type vxlan id %d local %s dstport 4789", dev, n.VNI, s.VTEP),
			fmt.Sprintf("ip link set %s address %s mtu %d", dev, n.Endpoints[0].MAC, n.MTU))
		for _, m := range s.Members {
			out = append(out, fmt.Sprintf("bridge fdb append 00:00:00:00:00:00 dev %s dst %s", dev, m.VTEP))
		}
		out = append(out, fmt.Sprintf("ip addr add %s/%d dev %s", n.Endpoints[0].IP, bits, dev),
			fmt.Sprintf("ip link set %s up", dev))
	}
	return out
}

// otherEndpoints notes endpoints beyond the vxlan device's own address:
// they must sit behind it (on a bridge with it) with these MACs.
func otherEndpoints(w io.Writer, s api.PeerSetup) {
	for _, n := range s.Networks {
		for _, e := range n.Endpoints[1:] {
			fmt.Fprintf(w, "# endpoint %s (%s) on %s: put it behind %s, for example on a bridge with it\n", e.IP, e.MAC, n.Name, vxlanDevice(n.Name))
		}
	}
}

// writePeerScript prints the setup as shell commands, one per line.
func writePeerScript(w io.Writer, s api.PeerSetup, f peerSetupFlags) error {
	fmt.Fprintf(w, "# meshnet static peer %q: run these as root on its host.\n", s.Name)
	fmt.Fprintf(w, "# The host's private key stays there, in %s (wg genkey > %s);\n", f.key, f.key)
	fmt.Fprintf(w, "# wg pubkey < %s must print %s\n", f.key, s.PublicKey)
	if s.PresharedKey {
		fmt.Fprintf(w, "# %s must hold the key of the peers entry's preshared_key_file.\n", f.psk)
	}
	if f.wireguardGo != "" {
		fmt.Fprintf(w, "%s %s\n", f.wireguardGo, f.iface)
	} else {
		fmt.Fprintf(w, "ip link add %s type wireguard\n", f.iface)
	}
	fmt.Fprintf(w, "wg set %s listen-port %d private-key %s\n", f.iface, s.ListenPort, f.key)
	for _, m := range s.Members {
		fmt.Fprintf(w, "# member %s\n", m.Name)
		line := fmt.Sprintf("wg set %s peer %s", f.iface, m.PublicKey)
		if s.PresharedKey {
			line += " preshared-key " + f.psk
		}
		fmt.Fprintf(w, "%s endpoint %s allowed-ips %s/128 persistent-keepalive %d\n", line, m.Endpoint, m.VTEP, peerKeepalive)
	}
	fmt.Fprintf(w, "ip link set %s mtu %d\n", f.iface, tunnelMTU(s))
	fmt.Fprintf(w, "ip -6 addr add %s/128 dev %s nodad\n", s.VTEP, f.iface)
	fmt.Fprintf(w, "ip link set %s up\n", f.iface)
	for _, m := range s.Members {
		fmt.Fprintf(w, "ip -6 route add %s/128 dev %s\n", m.VTEP, f.iface)
	}
	fmt.Fprintln(w, "# VXLAN inside WireGuard, to every member's VTEP")
	for _, c := range vxlanCommands(s) {
		fmt.Fprintln(w, c)
	}
	otherEndpoints(w, s)
	return nil
}

// writeWGQuick prints the setup as a wg-quick file. Keys are read from
// their files by PostUp, so the file holds no secret either.
func writeWGQuick(w io.Writer, s api.PeerSetup, f peerSetupFlags) error {
	fmt.Fprintf(w, "# meshnet static peer %q: save as /etc/wireguard/%s.conf on its host, then\n", s.Name, f.iface)
	fmt.Fprintf(w, "# wg-quick up %s. The private key stays in %s (wg pubkey < %s\n", f.iface, f.key, f.key)
	fmt.Fprintf(w, "# must print %s).\n", s.PublicKey)
	if s.PresharedKey {
		fmt.Fprintf(w, "# %s must hold the key of the peers entry's preshared_key_file.\n", f.psk)
	}
	fmt.Fprintf(w, "[Interface]\nListenPort = %d\nAddress = %s/128\nMTU = %d\n", s.ListenPort, s.VTEP, tunnelMTU(s))
	fmt.Fprintf(w, "PostUp = wg set %%i private-key %s\n", f.key)
	if s.PresharedKey {
		for _, m := range s.Members {
			fmt.Fprintf(w, "PostUp = wg set %%i peer %s preshared-key %s\n", m.PublicKey, f.psk)
		}
	}
	for _, c := range vxlanCommands(s) {
		fmt.Fprintf(w, "PostUp = %s\n", c)
	}
	for _, n := range s.Networks {
		fmt.Fprintf(w, "PostDown = ip link del %s\n", vxlanDevice(n.Name))
	}
	for _, m := range s.Members {
		fmt.Fprintf(w, "\n[Peer]\n# member %s\nPublicKey = %s\nEndpoint = %s\nAllowedIPs = %s/128\nPersistentKeepalive = %d\n",
			m.Name, m.PublicKey, m.Endpoint, m.VTEP, peerKeepalive)
	}
	otherEndpoints(w, s)
	return nil
}

// defaults names the key files after the peer unless flags named them.
func (f *peerSetupFlags) defaults(peer string) {
	if f.key == "" {
		f.key = "/etc/wireguard/" + peer + ".key"
	}
	if f.psk == "" {
		f.psk = "/etc/wireguard/" + peer + ".psk"
	}
}

// check refuses names that the printed commands could not carry as they
// are: a shell would split or interpret them.
func (f peerSetupFlags) check() error {
	if f.iface == "" || len(f.iface) > maxIfName {
		return usageError{fmt.Errorf("--interface %q: use 1 to %d characters", f.iface, maxIfName)}
	}
	for _, fv := range [][2]string{{"interface", f.iface}, {"private-key", f.key}, {"preshared-key", f.psk}, {"wireguard-go", f.wireguardGo}} {
		if strings.ContainsAny(fv[1], " \t\n'\"\\$`;&|<>*?()[]{}#") {
			return usageError{fmt.Errorf("--%s %q: use a name without white space or shell characters", fv[0], fv[1])}
		}
	}
	return nil
}
