// Package api holds the control API's wire types and its client. The daemon
// serves HTTP+JSON on a unix socket in its state directory; the CLI uses
// Client and nothing else to reach the daemon.
package api

// SocketName is the control socket's file name inside the state directory.
const SocketName = "meshnet.sock"

// Status is the daemon's answer to GET /v1/status.
type Status struct {
	Node     NodeInfo          `json:"node"`
	Networks []Network         `json:"networks"`
	Peers    []Peer            `json:"peers"`
	Drops    map[string]uint64 `json:"drops"` // not attributable to a network
}

// NodeInfo describes the daemon itself.
type NodeInfo struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	PID           int    `json:"pid"`
	Mode          string `json:"mode"`
	Underlay      string `json:"underlay"`
	VXLANPort     int    `json:"vxlan_port"`
	UptimeSeconds int64  `json:"uptime_seconds"`
}

// Network is one attached network and its counters.
type Network struct {
	Name      string     `json:"name"`
	VNI       uint32     `json:"vni"`
	Subnet    string     `json:"subnet"`
	Address   string     `json:"address"`
	Device    string     `json:"device"`
	MTU       int        `json:"mtu"`
	Encrypted bool       `json:"encrypted"`
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
	Name      string   `json:"name"`
	Underlay  string   `json:"underlay"`
	Networks  []string `json:"networks"`
	TxPackets uint64   `json:"tx_packets"`
	TxBytes   uint64   `json:"tx_bytes"`
	RxPackets uint64   `json:"rx_packets"`
	RxBytes   uint64   `json:"rx_bytes"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}
