package encap

// Reading the device's state in WireGuard's configuration protocol, the
// text IpcGet returns (https://www.wireguard.com/xplatform/): key=value
// lines, device keys first, then each peer starting at its public_key
// line. The text holds the private and preshared keys; this parser skips
// their values without keeping or quoting them, and its errors name only
// the key of a bad line.

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

const (
	// maxIpcPeers bounds the peers parseIpcGet accepts, wireguard-go's own
	// limit (device.MaxPeers).
	maxIpcPeers = 1 << 16
	// maxIpcAllowedIPs bounds the allowed IPs kept per peer; meshnet sets
	// one, a hand-edited device may have more.
	maxIpcAllowedIPs = 1024
)

// ipcDevice is the part of a device's state the transport reads.
type ipcDevice struct {
	listenPort uint16
	peers      []ipcPeer
}

// ipcPeer is one peer's state as the device reports it.
type ipcPeer struct {
	pub           [32]byte
	endpoint      netip.AddrPort
	allowed       []netip.Prefix
	lastHandshake time.Time // zero: never
	rxBytes       uint64
	txBytes       uint64
	keepalive     time.Duration
}

// parseIpcGet parses the output of the device's IpcGet. Keys it does not
// know are skipped, so newer devices still parse.
func parseIpcGet(s string) (ipcDevice, error) {
	var d ipcDevice
	var p *ipcPeer
	var hsSec, hsNsec int64
	finish := func() {
		if p != nil && (hsSec != 0 || hsNsec != 0) {
			p.lastHandshake = time.Unix(hsSec, hsNsec)
		}
		hsSec, hsNsec = 0, 0
	}
	for n, line := range strings.Split(s, "\n") {
		if line == "" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return ipcDevice{}, fmt.Errorf("device state line %d has no '='", n+1)
		}
		var err error
		switch {
		case key == "public_key":
			finish()
			if len(d.peers) >= maxIpcPeers {
				return ipcDevice{}, fmt.Errorf("device state lists more than %d peers", maxIpcPeers)
			}
			d.peers = append(d.peers, ipcPeer{})
			p = &d.peers[len(d.peers)-1]
			err = decodeHexKey(&p.pub, value)
		case key == "private_key" || key == "preshared_key":
			// Secrets: skipped, never parsed or quoted.
		case p == nil && key == "listen_port":
			var v uint64
			v, err = strconv.ParseUint(value, 10, 16)
			d.listenPort = uint16(v)
		case p == nil:
			// Other device keys (fwmark, errno from a socket).
		default:
			err = p.set(key, value, &hsSec, &hsNsec)
		}
		if err != nil {
			return ipcDevice{}, fmt.Errorf("device state line %d (%s): %w", n+1, key, err)
		}
	}
	finish()
	return d, nil
}

// set applies one peer line.
func (p *ipcPeer) set(key, value string, hsSec, hsNsec *int64) error {
	var err error
	switch key {
	case "endpoint":
		p.endpoint, err = netip.ParseAddrPort(value)
		p.endpoint = netip.AddrPortFrom(p.endpoint.Addr().Unmap(), p.endpoint.Port())
	case "allowed_ip":
		var pfx netip.Prefix
		if pfx, err = netip.ParsePrefix(value); err == nil && len(p.allowed) < maxIpcAllowedIPs {
			p.allowed = append(p.allowed, pfx)
		}
	case "last_handshake_time_sec":
		*hsSec, err = strconv.ParseInt(value, 10, 64)
	case "last_handshake_time_nsec":
		*hsNsec, err = strconv.ParseInt(value, 10, 64)
	case "rx_bytes":
		p.rxBytes, err = strconv.ParseUint(value, 10, 64)
	case "tx_bytes":
		p.txBytes, err = strconv.ParseUint(value, 10, 64)
	case "persistent_keepalive_interval":
		var v uint64
		v, err = strconv.ParseUint(value, 10, 16)
		p.keepalive = time.Duration(v) * time.Second
	}
	return err
}

// decodeHexKey decodes a 64-character hex key into k.
func decodeHexKey(k *[32]byte, s string) error {
	if len(s) != 2*len(k) {
		return fmt.Errorf("key has %d hex characters, want %d", len(s), 2*len(k))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return fmt.Errorf("key is not hexadecimal")
	}
	return nil
}
