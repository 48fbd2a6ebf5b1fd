package api

import (
	"context"
	"net/http"
	"net/url"
)

// PeerSetup is what the host of an encrypted static peer needs to join
// the cluster's networks (GET /v1/peers/{name}/setup): this node's and the
// other members' public keys, endpoints and VTEPs, and the peer's own
// VTEP, networks and addresses. It holds no private or preshared key:
// the peer's host has its own, and the cluster's stay in the cluster.
type PeerSetup struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"` // the peer's, from the config
	VTEP      string `json:"vtep"`
	// ListenPort is the port of the peer's endpoint in the config, where
	// the members send WireGuard; 51820 when the config gives none.
	ListenPort uint16 `json:"listen_port"`
	// PresharedKey says whether the config gives the peer a preshared
	// key file; the peer's host must hold the same key.
	PresharedKey bool               `json:"preshared_key"`
	Networks     []PeerSetupNetwork `json:"networks"`
	// Members are the cluster members on the peer's networks that pair
	// with it, this node first.
	Members []PeerSetupMember `json:"members"`
}

// PeerSetupNetwork is one of a static peer's networks.
type PeerSetupNetwork struct {
	Name   string `json:"name"`
	VNI    uint32 `json:"vni"`
	Subnet string `json:"subnet"`
	// MTU is the network's MTU on this node: the peer's vxlan device
	// must use the same.
	MTU int `json:"mtu"`
	// Endpoints are the peer's endpoints on the network, from the config.
	Endpoints []Endpoint `json:"endpoints"`
}

// PeerSetupMember is a member a static peer pairs with.
type PeerSetupMember struct {
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	Endpoint  string `json:"endpoint"` // WireGuard's IP:port on the underlay
	VTEP      string `json:"vtep"`
}

// PeerSetup fetches what static peer name's host needs.
func (c *Client) PeerSetup(ctx context.Context, name string) (PeerSetup, error) {
	var out PeerSetup
	return out, c.Do(ctx, http.MethodGet, "/v1/peers/"+url.PathEscape(name)+"/setup", nil, &out)
}
