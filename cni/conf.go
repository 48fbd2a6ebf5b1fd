package cni

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// DefaultSocket is the control socket of a daemon with the default state
// directory.
const DefaultSocket = "/var/lib/meshnet/meshnet.sock"

// maxConfBytes bounds the configuration read from the runtime.
const maxConfBytes = 1 << 20

// NetConf is meshnet-cni's network configuration: the CNI fields and
//
//	"network": the meshnet network (default: the CNI network's name)
//	"socket":  the daemon's control socket (default DefaultSocket)
//	"mtu":     the container interface's MTU (default: the network's)
//	"defaultRoute": route everything through the node's address
type NetConf struct {
	types.PluginConf
	Network      string `json:"network,omitempty"`
	Socket       string `json:"socket,omitempty"`
	MTU          int    `json:"mtu,omitempty"`
	DefaultRoute bool   `json:"defaultRoute,omitempty"`
}

var networkRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ParseConf decodes and checks the configuration the runtime passes on
// stdin, including a previous result (CHECK, DEL).
func ParseConf(b []byte) (*NetConf, error) {
	if len(b) > maxConfBytes {
		return nil, fmt.Errorf("network configuration is %d bytes, more than %d", len(b), maxConfBytes)
	}
	c := &NetConf{}
	if err := json.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("network configuration is not valid JSON: %w", err)
	}
	if c.Network == "" {
		c.Network = c.Name
	}
	if !networkRE.MatchString(c.Network) {
		return nil, fmt.Errorf("network %q is not a meshnet network name: set \"network\" to one (lower-case letters, digits, '-')", c.Network)
	}
	if c.Socket == "" {
		c.Socket = DefaultSocket
	}
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 65000) {
		return nil, fmt.Errorf("mtu %d out of range: use 576-65000, or leave it out for the network's", c.MTU)
	}
	if c.RawPrevResult != nil {
		if err := version.ParsePrevResult(&c.PluginConf); err != nil {
			return nil, fmt.Errorf("prevResult: %w", err)
		}
	}
	return c, nil
}

// cniError is err as a CNI error with a code the runtime understands.
func cniError(code uint, msg string, err error) *types.Error {
	details := ""
	if err != nil {
		details = err.Error()
	}
	return types.NewError(code, msg, details)
}
