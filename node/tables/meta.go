package tables

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"meshnet.dev/meshnet/keydist"
)

// Meta is what a node tells the cluster about its data path, carried as
// memberlist node metadata. Fields are append-only; unknown fields are
// ignored so older nodes can read newer metadata.
type Meta struct {
	// V is the metadata format version.
	V int `json:"v"`
	// VXLAN is where plain VXLAN for this node goes.
	VXLAN netip.AddrPort `json:"vxlan"`
	// Key is the node's public key (its WireGuard static key).
	Key keydist.NodePublic `json:"key"`
	// WG is where WireGuard for this node goes.
	WG netip.AddrPort `json:"wg"`
	// Epoch is the data-key epoch this node has applied; each pair derives
	// its preshared key from the older epoch of the two.
	Epoch uint64 `json:"epoch"`
	// Token is when the join token this node started with was issued
	// (zero if it started without one): the admin grants no keys to a new
	// node whose token predates the latest eviction.
	Token time.Time `json:"token,omitzero"`
	// Boot is random for each start of the daemon: a peer that sees it
	// change starts its WireGuard pairing with this node afresh, so a
	// restart with the clock set back is not refused as a replay.
	Boot uint64 `json:"boot,omitempty"`
}

const (
	metaVersion = 1
	// maxMetaBytes is memberlist's limit on node metadata.
	maxMetaBytes = 512
)

// Encode is the metadata as the node publishes it.
func (m Meta) Encode() ([]byte, error) {
	m.V = metaVersion
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetaBytes {
		return nil, fmt.Errorf("node metadata is %d bytes, more than %d", len(b), maxMetaBytes)
	}
	return b, nil
}

var errBadMeta = errors.New("malformed node metadata")

// DecodeMeta parses metadata that arrived from the network.
func DecodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 || len(b) > maxMetaBytes {
		return m, errBadMeta
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %v", errBadMeta, err)
	}
	if m.V < 1 || !m.VXLAN.IsValid() || m.VXLAN.Port() == 0 || m.VXLAN.Addr().IsUnspecified() || m.VXLAN.Addr().IsMulticast() {
		return m, errBadMeta
	}
	m.VXLAN = netip.AddrPortFrom(m.VXLAN.Addr().Unmap(), m.VXLAN.Port())
	if m.WG.IsValid() {
		m.WG = netip.AddrPortFrom(m.WG.Addr().Unmap(), m.WG.Port())
	}
	return m, nil
}
