// Package endpoints keeps the container endpoints this node hosts: a
// container's interface on a network (container id, interface name, MAC,
// address), allocated through the control API by the meshnet-cni plugin.
// It picks the address from the node's IPAM blocks and the MAC from the
// names, and keeps the records in a file of the state directory so a
// restarted daemon publishes them again and can still withdraw them. It
// knows nothing of gossip: the node publishes what the registry holds.
package endpoints
