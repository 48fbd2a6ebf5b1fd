// Package dockerdriver is meshnet's Docker network plugin: a libnetwork
// remote network driver and IPAM driver served over a unix socket in
// /run/docker/plugins, so `docker network create -d meshnet --ipam-driver
// meshnet` puts containers on a meshnet network. Like meshnet-cni, it
// asks the daemon (node/api) for each container's address and MAC, which
// the daemon publishes in gossip, and puts a veth's host end on the
// network's bridge; Docker moves the other end into the container.
package dockerdriver
