// Package cni is the meshnet-cni plugin's logic: CNI ADD, DEL, CHECK,
// STATUS and GC for containers on a meshnet network. The daemon allocates
// each container's address and MAC from meshnet's IPAM and publishes the
// endpoint in gossip (node/api's endpoint routes); the plugin creates a
// veth pair whose host end joins the network's bridge, which holds the
// node's TAP device. The plugin reaches the daemon through Daemon and
// interfaces through Links, so its logic is tested with fakes; Netns is
// the real Links, on the CNI project's pkg/ns and pkg/ip.
package cni
