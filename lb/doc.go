// Package lb implements meshnet services: virtual IPs (VIPs) whose traffic is
// load-balanced in the sender's Forwarder, DNS names for services, endpoints
// and nodes, and health checks of a node's own backends.
//
// The pieces:
//
//   - Service, Backend and PortSpec model what gossip carries; the Validate
//     functions give the CLI and the daemon one place to reject bad input
//     before anything is created.
//   - Maglev builds a consistent-hashing table (Eisenbud et al., NSDI 2016)
//     that every node computes identically from the same backend set.
//   - Balancer is the Forwarder's hook (it implements packet.Hook):
//     Outbound DNATs frames sent to a VIP towards a backend chosen by
//     Maglev and remembered in a bounded, sharded connection tracker;
//     Inbound reverses the translation on replies; LookupVIP gives proxy
//     ARP/ND the service MAC. They work in place on Ethernet frames and do
//     not allocate.
//   - DNSServer answers <name>.<domain> queries and forwards the rest.
//   - HealthChecker probes the local node's backends and reports changes.
//
// lb owns services: the model, balancing, NAT and tracking, DNS and health.
// It imports no other meshnet package except internal/packet (MAC,
// Ethernet and IP constants, checksum update, the hook types); the
// forwarding table reaches it only through the small MACResolver interface.
//
// Goroutines and locks: the Balancer's tables are an immutable snapshot
// behind an atomic pointer, replaced whole by Update (serialised by
// updateMu); the hook methods run on the data path's goroutines at once and
// take only the lock of one connection-tracker shard. DNSServer and
// HealthChecker start goroutines of their own and stop them on Close; the
// health checker's state is guarded by its mu.
package lb
