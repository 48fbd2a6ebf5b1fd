// Package tables is the step from gossip to forwarding: the formats of the
// gossip tables meshnet keeps (network definitions, endpoints, address
// claims, node metadata, services, their removals and backends, static
// peers), how conflicting definitions are settled, and the pure
// translation of gossip rows and member states into what the node applies:
// routing transactions (peers, network members, endpoints), the static
// peers WireGuard pairs with, the load balancer's services and backends,
// the networks to attach and detach, and the reports people see
// (conflicts, duplicate addresses, static peers left out).
//
// Every function here is a pure function of plain values: no goroutines,
// no locks, no I/O and no logging. The node's reconciler reads gossip,
// calls these, and applies the results. Decoders take bytes from other
// nodes and each has a fuzz target.
//
// It imports no package under node/; the node, keysync and control
// import it.
package tables
