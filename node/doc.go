// Package node runs one meshnet daemon: it starts the parts in order
// (Run's steps, start.go), attaches the networks the cluster defines and
// the node wants, and stops everything in reverse. Its reconciler is the
// loop that applies wanted state: on every gossip event and on a timer it
// reads gossip, translates it with node/tables and applies the result to
// the forwarding table, the devices, WireGuard (through node/keysync) and
// the load balancer.
//
// Goroutines and what they own:
//   - Run's caller: the start and stop steps; what a step sets is not
//     changed afterwards.
//   - the reconciler: the attachments and everything computed from gossip
//     (reconciled, view.go), the DNS server and userspace services, the
//     state file. It publishes views of them behind an atomic pointer;
//     every other goroutine reads views only.
//   - the learn loop publishes endpoints the Forwarder learned; the join
//     loop joins and rejoins the cluster; each port's goroutine forwards
//     one device's frames. Key sync, gossip, the Forwarder, the control
//     and metrics servers own their goroutines and stop them when their
//     step stops.
//
// Locks: wanted networks have their own (the control API and Reload
// change them); reloadMu serialises Reload with itself and with stopping.
// Nothing else in the node is shared under a lock.
//
// The packages under node/ read like the data flow: config (what the user
// wrote) and tables (gossip formats and their translation) import no other
// node package; keysync, control and metrics import only those and
// node/api; catalog imports control too, for the errors the API maps to
// status codes; node imports them all (TestPackageGraph keeps it so).
// Nothing imports node but cmd, e2e, bench and the demo.
package node
