// Package api holds the control API's wire types and its client. The daemon
// serves HTTP+JSON on a unix socket in its state directory; the CLI uses
// Client and nothing else to reach the daemon.
package api

import "time"

// SocketName is the control socket's file name inside the state directory.
const SocketName = "meshnet.sock"

// Status is the daemon's answer to GET /v1/status.
type Status struct {
	Node     NodeInfo          `json:"node"`
	Networks []Network         `json:"networks"`
	Peers    []Peer            `json:"peers"`
	Drops    map[string]uint64 `json:"drops"` // not attributable to a network
	// Conflicts are network definitions that lost to an earlier one.
	Conflicts []string `json:"conflicts,omitempty"`
	// Duplicates are addresses claimed by more than one endpoint.
	Duplicates []Duplicate `json:"duplicates,omitempty"`
	// StaticPeers are static peers and endpoints left out, and why.
	StaticPeers []string `json:"static_peer_problems,omitempty"`
	// Waiting are networks this node wants that nobody has defined yet.
	Waiting []string `json:"waiting,omitempty"`
	// WaitingKeys are encrypted networks this node attaches once the
	// admin node has granted it the cluster keys.
	WaitingKeys []string `json:"waiting_keys,omitempty"`
	// Gossip counts the control plane's traffic.
	Gossip GossipStats `json:"gossip"`
	// Keys is the node's key state.
	Keys Keys `json:"keys"`
}

// GossipStats counts control-plane traffic on this node since it started.
type GossipStats struct {
	BytesSent     uint64            `json:"bytes_sent"` // everything on the wire, probes included
	BytesReceived uint64            `json:"bytes_received"`
	Dropped       map[string]uint64 `json:"dropped,omitempty"`
	Entries       map[string]int    `json:"entries,omitempty"`
}

// Duplicate is an address claimed by more than one endpoint: the earliest
// claim (Winner) is used everywhere, the others are ignored.
type Duplicate struct {
	Network string   `json:"network"`
	IP      string   `json:"ip"`
	Winner  string   `json:"winner"`
	Losers  []string `json:"losers"`
}

// NetworkDef is a network's definition, as both views of a network show
// it.
type NetworkDef struct {
	Name      string `json:"name"`
	VNI       uint32 `json:"vni"`
	Subnet    string `json:"subnet"`
	Encrypted bool   `json:"encrypted"`
	Origin    string `json:"origin"` // the node that created it
}

// ClusterNetwork is a network as the cluster defines it (GET /v1/networks).
type ClusterNetwork struct {
	NetworkDef
	Members []string `json:"members"`
	// Attached reports whether this node is on the network; Endpoints is
	// only known then.
	Attached  bool `json:"attached"`
	Endpoints int  `json:"endpoints"`
}

// CreateNetwork is the body of POST /v1/networks.
type CreateNetwork struct {
	Name      string `json:"name"`
	Subnet    string `json:"subnet"`
	VNI       uint32 `json:"vni,omitempty"`
	Encrypted bool   `json:"encrypted"`
}

// JoinNetwork is the body of POST /v1/networks/{name}/join.
type JoinNetwork struct {
	Address string `json:"address,omitempty"`
}

// NodeInfo describes the daemon itself.
type NodeInfo struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	PID           int    `json:"pid"`
	Mode          string `json:"mode"`
	Underlay      string `json:"underlay"`
	GossipPort    int    `json:"gossip_port"`
	Members       int    `json:"members"` // live cluster members, this node included
	UptimeSeconds int64  `json:"uptime_seconds"`
	// Reachability is what members see of this node's gossip address.
	Reachability *Reachability `json:"reachability,omitempty"`
}

// Reachability says whether a NAT stands between this node and the other
// members, learnt from what they see of its packets.
type Reachability struct {
	// NAT is "none", "endpoint-independent" (a cone NAT: one public
	// address for every peer), "endpoint-dependent" (a symmetric NAT: a
	// new public port per peer) or "unknown".
	NAT       string `json:"nat"`
	BehindNAT bool   `json:"behind_nat"`
	// Advertised is the gossip address this node tells members to use.
	Advertised string `json:"advertised"`
	// Public is where members see it, when they agree.
	Public string `json:"public,omitempty"`
	// Observers are the members' latest answers.
	Observers []Observer `json:"observers,omitempty"`
	// Summary says it in words.
	Summary string `json:"summary"`
}

// Observer is one member's answer: the address it saw this node's packet
// come from.
type Observer struct {
	Member     string `json:"member"` // the member's gossip address
	Saw        string `json:"saw"`
	AgeSeconds int64  `json:"age_seconds"`
}

// Network is one attached network and its counters.
type Network struct {
	NetworkDef
	Address   string     `json:"address"`
	Device    string     `json:"device"`
	MTU       int        `json:"mtu"`
	Members   []string   `json:"members"`
	Endpoints []Endpoint `json:"endpoints"`
	Counters  Counters   `json:"counters"`
}

// Endpoint is an (IP, MAC) pair and the node it lives behind.
type Endpoint struct {
	IP   string `json:"ip,omitempty"`
	MAC  string `json:"mac"`
	Node string `json:"node"`
}

// Counters are a network's data-path counters on this node.
type Counters struct {
	TxPackets  uint64            `json:"tx_packets"`
	TxBytes    uint64            `json:"tx_bytes"`
	RxPackets  uint64            `json:"rx_packets"`
	RxBytes    uint64            `json:"rx_bytes"`
	ARPReplies uint64            `json:"arp_replies"`
	NDReplies  uint64            `json:"nd_replies"`
	Replicated uint64            `json:"replicated"`
	Drops      map[string]uint64 `json:"drops"`
}

// Peer is a remote node as this node sees it.
type Peer struct {
	Name     string `json:"name"`
	Underlay string `json:"underlay"`
	// State is alive, suspect, failed or left; "static" for hosts that do
	// not run meshnet (the peers sections of nodes' configs).
	State string `json:"state"`
	// Path is how this node reaches the member: "direct", or direct
	// through the NAT in front of "it", "this node" or "both"
	// (docs/NAT.md). Empty for static peers.
	Path string `json:"path,omitempty"`
	// RTTMillis is the estimated round trip (network coordinates); 0 when
	// not known yet.
	RTTMillis float64  `json:"rtt_ms"`
	Networks  []string `json:"networks"`
	// PublicKey, Epoch and the WireGuard figures describe the encrypted
	// path to the peer; LastHandshake is zero before the first handshake.
	PublicKey string `json:"public_key,omitempty"`
	Epoch     uint64 `json:"epoch,omitempty"`
	// PSKKind says where the pair's WireGuard preshared key comes from:
	// "epoch" (derived from the cluster's rotating data key; members),
	// "fixed" (a static peer's preshared_key_file, never rotated) or
	// "none" (a static peer without one). Empty without WireGuard.
	PSKKind string `json:"psk_kind,omitempty"`
	// VTEP is the peer's VXLAN address inside WireGuard.
	VTEP string `json:"vtep,omitempty"`
	// Sponsors are the nodes whose configs list a static peer.
	Sponsors      []string  `json:"sponsors,omitempty"`
	LastHandshake time.Time `json:"last_handshake,omitzero"`
	WGRxBytes     uint64    `json:"wg_rx_bytes"`
	WGTxBytes     uint64    `json:"wg_tx_bytes"`
	TxPackets     uint64    `json:"tx_packets"`
	TxBytes       uint64    `json:"tx_bytes"`
	RxPackets     uint64    `json:"rx_packets"`
	RxBytes       uint64    `json:"rx_bytes"`
}

// TokenRequest is the body of POST /v1/token.
type TokenRequest struct {
	TTLSeconds int64 `json:"ttl_seconds"`
}

// Token is a join token and when it expires.
type Token struct {
	Token   string    `json:"token"`
	Expires time.Time `json:"expires"`
	Cluster string    `json:"cluster"`
}

// RotateRequest is the body of POST /v1/keys/rotate.
type RotateRequest struct {
	// Node rotates this node's identity key instead of the cluster keys.
	Node bool `json:"node"`
}

// EvictRequest is the body of POST /v1/evict.
type EvictRequest struct {
	Node string `json:"node"` // name or public key
}

// Keys is this node's key state as shown by status: never key material.
type Keys struct {
	Cluster   string `json:"cluster"`
	PublicKey string `json:"public_key"`
	Admin     bool   `json:"admin"`
	Epoch     uint64 `json:"epoch"`
	Evicted   int    `json:"evicted"`
	Rejected  uint64 `json:"rejected_records"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// CreateService is the body of POST /v1/services.
type CreateService struct {
	Name    string `json:"name"`
	Network string `json:"network"`
	// Ports like "80/tcp,53/udp".
	Ports string `json:"ports"`
	// VIP is "auto" (or empty) for an address chosen from the subnet, or an
	// address; ignored in dnsrr mode.
	VIP string `json:"vip,omitempty"`
	// Mode is "vip" (default) or "dnsrr".
	Mode string `json:"mode,omitempty"`
}

// Service is a service and its backends (GET /v1/services).
type Service struct {
	Name     string    `json:"name"`
	Network  string    `json:"network"`
	VNI      uint32    `json:"vni"`
	VIP      string    `json:"vip,omitempty"`
	Ports    []string  `json:"ports"`
	Mode     string    `json:"mode"`
	Origin   string    `json:"origin"`
	Backends []Backend `json:"backends"`
}

// Backend is one backend of a service and its health as its node sees it.
type Backend struct {
	Addr    string `json:"addr"`
	Node    string `json:"node"`
	Healthy bool   `json:"healthy"`
}

// BackendRequest is the body of backend add and remove calls.
type BackendRequest struct {
	Addr string `json:"addr"`
}

// Check is one finding of GET /v1/doctor.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, warn, fail or skip
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// PingRequest is the body of POST /v1/ping.
type PingRequest struct {
	Target string `json:"target"` // node name or overlay IP
	Count  int    `json:"count"`
}

// PingResult describes the overlay path to a target and the echo replies.
type PingResult struct {
	Target    string    `json:"target"`
	Address   string    `json:"address"`
	Network   string    `json:"network"`
	Node      string    `json:"node"`
	Underlay  string    `json:"underlay"`
	Encrypted bool      `json:"encrypted"`
	Handshake time.Time `json:"last_handshake,omitzero"`
	Sent      int       `json:"sent"`
	Received  int       `json:"received"`
	RTTsMs    []float64 `json:"rtts_ms"`
}

// EndpointRequest asks the daemon for a container endpoint on a network
// (POST /v1/networks/{name}/endpoints): CNI's container id and interface
// name. Asking again for the same pair returns the same endpoint.
type EndpointRequest struct {
	ContainerID string `json:"container_id"`
	IfName      string `json:"ifname"`
}

// ContainerEndpoint is a container endpoint this node hosts: the address
// and MAC to give the container's interface, the bridge its host end
// joins, the gateway (this node's address on the network) and the MTU.
type ContainerEndpoint struct {
	Network     string `json:"network"`
	ContainerID string `json:"container_id"`
	IfName      string `json:"ifname"`
	MAC         string `json:"mac"`
	Address     string `json:"address"` // CIDR: the address with the network's prefix length
	Gateway     string `json:"gateway,omitempty"`
	Bridge      string `json:"bridge"`
	MTU         int    `json:"mtu"`
	Published   bool   `json:"published"` // in the network's forwarding table
}

// NetworkEndpoint is one endpoint of a network's forwarding table as this
// node sees it (GET /v1/networks/{name}/endpoints): a node's interface, an
// endpoint learned behind it, or a container endpoint (with its container
// id and interface name when this node hosts it).
type NetworkEndpoint struct {
	MAC         string `json:"mac"`
	IP          string `json:"ip,omitempty"`
	Node        string `json:"node"`
	ContainerID string `json:"container_id,omitempty"`
	IfName      string `json:"ifname,omitempty"`
}

// NetworkEndpoints is the answer of GET /v1/networks/{name}/endpoints.
type NetworkEndpoints struct {
	Network    string              `json:"network"`
	Attached   bool                `json:"attached"`
	Bridge     string              `json:"bridge,omitempty"`  // this node's bridge on the network
	Subnet     string              `json:"subnet,omitempty"`  // when attached
	Gateway    string              `json:"gateway,omitempty"` // this node's address on the network, once settled
	MTU        int                 `json:"mtu,omitempty"`
	Endpoints  []NetworkEndpoint   `json:"endpoints"`
	Containers []ContainerEndpoint `json:"containers"` // this node's, attached or not
}
