package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"meshnet.dev/meshnet/gossip"
)

// Config is the daemon's configuration file. Every field is documented in
// configs/meshnet.yaml; DefaultConfig holds the defaults and Validate checks
// everything once, before anything starts.
type Config struct {
	// Name identifies this node in the cluster. Default: the host name.
	Name string `yaml:"name"`
	// StateDir holds the node's persistent state and its control socket.
	StateDir string `yaml:"state_dir"`
	// Mode is the kind of device each network gets: "tap" (Ethernet, the
	// default) or "tun" (IP only; meshnet adds and strips Ethernet headers).
	Mode string `yaml:"mode"`
	// Userspace runs every network in an unprivileged userspace TCP/IP
	// stack instead of a TAP/TUN device: no root, no capabilities. Reach
	// the overlay through the proxies, forwards and exposes below.
	Userspace bool `yaml:"userspace"`
	// Proxy configures the localhost proxies into the overlay (userspace
	// mode only).
	Proxy ProxyConfig `yaml:"proxy"`
	// Forward relays localhost ports into the overlay (userspace mode):
	// "tcp:LOCALPORT:NAME_OR_IP:PORT" or "udp:...".
	Forward []string `yaml:"forward"`
	// Expose makes localhost services reachable on the node's overlay
	// addresses (userspace mode): "tcp:PORT" or "tcp:OVERLAYPORT:LOCALPORT".
	Expose []string `yaml:"expose"`
	// Underlay says how other nodes reach this one.
	Underlay UnderlayConfig `yaml:"underlay"`
	// Join lists gossip addresses (IP or IP:port) of nodes already in the
	// cluster. Empty: this node starts a new cluster.
	Join []string `yaml:"join"`
	// Token is a join token from `meshnet token` on an admin node; needed
	// once, to join a cluster. It is a secret: prefer TokenFile.
	Token string `yaml:"token"`
	// TokenFile names a file holding the join token.
	TokenFile string `yaml:"token_file"`
	// Gossip tunes the control plane.
	Gossip GossipConfig `yaml:"gossip"`
	// WireGuard configures the encrypted transport.
	WireGuard WireGuardConfig `yaml:"wireguard"`
	// Keys configures key rotation (on the admin node).
	Keys KeysConfig `yaml:"keys"`
	// DNS configures the embedded DNS server.
	DNS DNSConfig `yaml:"dns"`
	// Health configures backend health checks.
	Health HealthConfig `yaml:"health"`
	// Broadcast bounds the broadcast and multicast this node sends.
	Broadcast BroadcastConfig `yaml:"broadcast"`
	// Metrics configures the Prometheus endpoint.
	Metrics MetricsConfig `yaml:"metrics"`
	// Networks are the overlay networks this node attaches to.
	Networks []NetworkConfig `yaml:"networks"`
	// Peers are hosts that do not run meshnet, plain VXLAN (a kernel vxlan
	// device) or encrypted (a kernel vxlan device inside a tunnel made
	// with stock wg tools), and the endpoints behind them. They apply live
	// on reload (SIGHUP).
	Peers []PeerConfig `yaml:"peers"`
	// Log controls logging.
	Log LogConfig `yaml:"log"`
	// Performance switches the data path's optimisations (perf_config.go).
	Performance PerformanceConfig `yaml:"performance"`
}

// UnderlayConfig is the node's presence on the underlay network.
type UnderlayConfig struct {
	// Address is the IP address peers send to. Default: the address of the
	// interface that routes towards the first peer.
	Address string `yaml:"address"`
	// VXLANPort is the UDP port of plain VXLAN. Default 4789 (IANA).
	VXLANPort int `yaml:"vxlan_port"`
}

// ProxyConfig configures netstack mode's proxies.
type ProxyConfig struct {
	// SOCKS5 is the SOCKS5 proxy's address; "" turns it off. Default
	// 127.0.0.1:1080. Anyone who can connect reaches the overlay: keep it
	// on loopback.
	SOCKS5 string `yaml:"socks5"`
	// HTTP is the HTTP CONNECT proxy's address; "" turns it off. Default
	// 127.0.0.1:3128.
	HTTP string `yaml:"http"`
}

// WireGuardConfig configures the encrypted transport.
type WireGuardConfig struct {
	// Port is the WireGuard UDP port. Default 51820.
	Port int `yaml:"port"`
	// Interface names the WireGuard control socket, so `wg show NAME`
	// lists this node's peers. Default "wg-" + the node name, cut to 15
	// bytes.
	Interface string `yaml:"interface"`
}

// DNSConfig configures the DNS server each node runs on its overlay
// addresses.
type DNSConfig struct {
	// Enabled turns the server on. Default true.
	Enabled *bool `yaml:"enabled"`
	// Domain is the zone meshnet answers: <service>.<domain> and
	// <node>.<domain>. Default "meshnet.internal.".
	Domain string `yaml:"domain"`
	// Port is the DNS port. Default 53.
	Port int `yaml:"port"`
	// Forward sends names outside the domain to the host's resolvers (from
	// /etc/resolv.conf); false answers them REFUSED. Default true.
	Forward *bool `yaml:"forward"`
}

// MetricsConfig configures the Prometheus endpoint.
type MetricsConfig struct {
	// Address serves /metrics on this address, e.g. 127.0.0.1:9431. Empty
	// (the default) turns metrics off. Keep it on localhost unless a
	// scraper elsewhere needs it: metrics name peers and addresses.
	Address string `yaml:"address"`
}

// HealthConfig configures health checks of this node's own backends.
type HealthConfig struct {
	// Interval between probes of each backend. Default 2s.
	Interval time.Duration `yaml:"interval"`
}

// BroadcastConfig bounds broadcast and multicast frames, which this node
// sends to every member of a network: a host that floods its network
// costs each member only this much.
type BroadcastConfig struct {
	// Rate is how many broadcast and multicast frames a second this node
	// sends on each network; the rest are dropped and counted (bum_rate in
	// meshnet status and the metrics). Default 2000.
	Rate int `yaml:"rate"`
	// Burst is how many may go at once above the rate. Default 400.
	Burst int `yaml:"burst"`
}

// KeysConfig configures key rotation.
type KeysConfig struct {
	// RotationInterval is how often the admin node rotates the gossip
	// keyring and the data-key epoch. Default 12h; at least 1s.
	RotationInterval time.Duration `yaml:"rotation_interval"`
}

// GossipConfig tunes gossip and failure detection.
type GossipConfig struct {
	// Port is the gossip TCP and UDP port. Default 7946.
	Port int `yaml:"port"`
	// Interval is how often each network's news is sent. Default 200ms.
	Interval time.Duration `yaml:"interval"`
	// Fanout is how many members of a network get its news per interval.
	// Default 3.
	Fanout int `yaml:"fanout"`
	// BulkSyncInterval is how often each network's whole table is
	// exchanged with one member (heals anything gossip missed). Default 30s.
	BulkSyncInterval time.Duration `yaml:"bulk_sync_interval"`
	// ProbeInterval is how often each node probes a random other node.
	// Default 800ms; a crashed node is declared dead after a few
	// intervals (about 3 s among 10 nodes, about 7 s and always under
	// 10 s among 1,000 in simulation).
	ProbeInterval time.Duration `yaml:"probe_interval"`
	// LeaveTimeout bounds leaving the cluster on shutdown: telling members
	// this node's entries are gone and that it left. A node whose network
	// has vanished (a laptop's lid closed) gives up after it and stops.
	// Default 3s.
	LeaveTimeout time.Duration `yaml:"leave_timeout"`
}

// NetworkConfig is one overlay network. With a subnet it defines the network
// (created in the cluster if no node has yet); with only a name it joins a
// network defined elsewhere (`meshnet network create`).
type NetworkConfig struct {
	// Name of the network; a DNS label.
	Name string `yaml:"name"`
	// VNI is the VXLAN network identifier, 1..16777215, the same on every
	// node. Default: derived from the name.
	VNI int `yaml:"vni"`
	// Subnet is the network's IPv4 or IPv6 prefix.
	Subnet string `yaml:"subnet"`
	// Address is this node's static address on the network. Default: the
	// first address of an address block claimed from the subnet (IPAM).
	Address string `yaml:"address"`
	// Device is the interface name. Default "mn-" + Name, cut to 15 bytes.
	Device string `yaml:"device"`
	// Bridge puts the device into a Linux bridge of this name, which the
	// node creates if missing and gives the node's address on the network,
	// so containers whose veth is on the bridge (the meshnet-cni plugin)
	// are endpoints of the network. TAP mode only. Default: no bridge.
	Bridge string `yaml:"bridge,omitempty"`
	// MTU overrides the device MTU. Default: underlay path MTU minus the
	// encapsulation overhead.
	MTU int `yaml:"mtu"`
	// Encrypted networks carry traffic only over the encrypted transport;
	// plain VXLAN for them is dropped and counted. Default true. Set false
	// only on a trusted underlay or to talk to plain VXLAN peers.
	Encrypted *bool `yaml:"encrypted"`
}

// PeerConfig is a statically configured host that does not run meshnet:
// a plain VXLAN peer (address), such as a Linux kernel vxlan device, or an
// encrypted one (public_key), a host with stock WireGuard and a kernel
// vxlan device over it. The node publishes the entry to the cluster, so
// every member on the peer's networks reaches it and answers ARP and ND
// for the endpoints behind it; `meshnet peer config NAME` prints the
// commands that set up the peer's side.
type PeerConfig struct {
	// Name of the peer; a DNS label, distinct from every cluster member.
	Name string `yaml:"name"`
	// Address is a plain VXLAN peer's underlay IP, optionally with a port
	// (default underlay.vxlan_port). Leave it out for an encrypted peer.
	Address string `yaml:"address"`
	// PublicKey makes the peer an encrypted one: its WireGuard public key,
	// as `wg pubkey` prints it. Its endpoints must be on encrypted networks.
	PublicKey string `yaml:"public_key"`
	// Endpoint is an encrypted peer's WireGuard address on the underlay,
	// IP or IP:port (default port 51820). Empty: members wait for the
	// peer to reach them first (its persistent keepalive does).
	Endpoint string `yaml:"endpoint"`
	// PresharedKeyFile names a file only its owner may read holding the
	// WireGuard preshared key (`wg genpsk`) the peer uses with every
	// member. Optional. It is fixed: key rotations do not change it
	// (members use the rotating epoch keys among themselves). It reaches
	// the members inside encrypted gossip and never appears in logs or
	// status.
	PresharedKeyFile string `yaml:"preshared_key_file"`
	// VTEP is an encrypted peer's VXLAN address inside WireGuard, an IPv6
	// address in fd00::/8. Default: derived from public_key the way every
	// member's is.
	VTEP string `yaml:"vtep"`
	// Endpoints behind the peer; the peer is a member of every network it
	// has an endpoint in.
	Endpoints []EndpointConfig `yaml:"endpoints"`
}

// EndpointConfig is an (IP, MAC) pair behind a static peer.
type EndpointConfig struct {
	// Network the endpoint is on.
	Network string `yaml:"network"`
	// IP address of the endpoint.
	IP string `yaml:"ip"`
	// MAC of the endpoint. Default: the MAC meshnet gives the peer's own
	// interface on that network (derived from the peer and network names).
	MAC string `yaml:"mac"`
}

// LogConfig controls logging.
type LogConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Name:      host,
		StateDir:  "/var/lib/meshnet", // survives reboots; systemd's StateDirectory
		Mode:      "tap",              // L2 is the product; TUN is for hosts that only route IP
		Underlay:  UnderlayConfig{VXLANPort: 4789},
		Proxy:     ProxyConfig{SOCKS5: "127.0.0.1:1080", HTTP: "127.0.0.1:3128"}, // loopback only: whoever connects reaches the overlay
		WireGuard: WireGuardConfig{Port: 51820},                                  // WireGuard's customary port
		Keys:      KeysConfig{RotationInterval: 12 * time.Hour},                  // twice a day bounds what a stolen key reads
		DNS:       DNSConfig{Domain: "meshnet.internal.", Port: 53},
		Health:    HealthConfig{Interval: 2 * time.Second}, // a dead backend is out within about three probes
		Broadcast: BroadcastConfig{Rate: 2000, Burst: 400}, // ARP, ND, mDNS and DHCP of hundreds of hosts; a flood costs members little
		Gossip: GossipConfig{
			Port:             7946,                        // memberlist's well-known port
			Interval:         200 * time.Millisecond,      // an endpoint is usable cluster-wide within a second
			Fanout:           3,                           // log3(n) rounds to reach n nodes at constant load per node
			BulkSyncInterval: 30 * time.Second,            // anti-entropy: heals partitions and missed events
			ProbeInterval:    gossip.DefaultProbeInterval, // SWIM probe period: dead in ~3 s on a small LAN, within 10 s at 1,000 nodes
			LeaveTimeout:     3 * time.Second,             // a few gossip rounds; well inside systemd's stop timeout
		},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// maxConfigBytes bounds the config file; a real one is a few KiB.
const maxConfigBytes = 1 << 20

// LoadConfig reads a YAML config file over the defaults. Unknown keys are
// errors, so a typo never silently leaves a default in place.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return cfg, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > maxConfigBytes {
		return cfg, fmt.Errorf("config: %s is larger than %d bytes", path, maxConfigBytes)
	}
	if err := decodeConfig(data, &cfg); err != nil {
		return cfg, fmt.Errorf("config: %s: %w", path, err)
	}
	return cfg, nil
}

// decodeConfig strictly decodes YAML into cfg.
func decodeConfig(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
