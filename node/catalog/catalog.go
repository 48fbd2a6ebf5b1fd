package catalog

import (
	"log/slog"
	"net/netip"
	"time"

	"meshnet.dev/meshnet/gossip"
	"meshnet.dev/meshnet/lb"
	"meshnet.dev/meshnet/node/tables"
	"meshnet.dev/meshnet/routing"
)

// Gossip is what the catalog needs of the gossip DB; *gossip.DB
// implements it.
type Gossip interface {
	Put(network, table, key string, value []byte) error
	Delete(network, table, key string) error
	Walk(network, table string, fn func(gossip.Entry) bool)
	Members() []gossip.Member
}

// Local is what the catalog needs to know of this node; the node
// implements it from what its reconciler last published.
type Local interface {
	// Attached returns network name's definition if this node is on it.
	Attached(name string) (tables.NetDef, bool)
	// Services and Backends are what the balancer was last fed.
	Services() []lb.Service
	Backends() []lb.Backend
	// Snapshot is the forwarding table.
	Snapshot() *routing.Snapshot
	// Poke asks the reconciler for a pass soon; it never blocks.
	Poke()
}

// Config is what a catalog is made of.
type Config struct {
	Self   string // this node's name
	Gossip Gossip
	Local  Local
	// Settle is how long a new definition is given to meet a concurrent
	// one from another node before the caller is told it stands: a few
	// gossip rounds.
	Settle time.Duration
	Logger *slog.Logger
}

// Catalog reads and changes the cluster's definitions of networks and
// services, and this node's backends. Its methods may be called from any
// goroutine; it holds no state of its own.
type Catalog struct {
	cfg Config
	log *slog.Logger
}

// New returns a catalog.
func New(cfg Config) *Catalog {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Catalog{cfg: cfg, log: log}
}

// Rows reads a whole gossip table.
func (c *Catalog) Rows(scope, table string) []gossip.Entry {
	var out []gossip.Entry
	c.cfg.Gossip.Walk(scope, table, func(e gossip.Entry) bool {
		out = append(out, e)
		return true
	})
	return out
}

// Defs reads and resolves every network definition: the winner of each
// name, and the definitions that lost.
func (c *Catalog) Defs() (map[string]tables.NetDef, []tables.DefConflict) {
	var defs []tables.NetDef
	for _, e := range c.Rows(gossip.ClusterScope, tables.Networks) {
		d, err := tables.DecodeDef(e)
		if err != nil {
			c.log.Debug("ignoring malformed network definition", "owner", e.Owner, "key", e.Key, "err", err)
			continue
		}
		defs = append(defs, d)
	}
	return tables.ResolveDefs(defs)
}

// ServiceSet resolves the cluster's services on the networks nets.
func (c *Catalog) ServiceSet(nets map[string]tables.NetDef) tables.ServiceSet {
	return tables.ResolveServices(c.Rows(gossip.ClusterScope, tables.Services), c.Rows(gossip.ClusterScope, tables.Removals), nets)
}

// Define publishes a new network definition owned by this node, given
// the definitions that won in the cluster (see tables.NewDef).
func (c *Catalog) Define(name string, subnet netip.Prefix, vni uint32, encrypted bool, won map[string]tables.NetDef) (tables.NetDef, error) {
	d, err := tables.NewDef(name, subnet, vni, encrypted, c.cfg.Self, won)
	if err != nil {
		return d, err
	}
	b, err := d.Encode()
	if err != nil {
		return d, err
	}
	if err := c.cfg.Gossip.Put(gossip.ClusterScope, tables.Networks, name, b); err != nil {
		return d, err
	}
	c.log.Info("network defined", "network", name, "vni", d.VNI, "subnet", subnet, "encrypted", encrypted)
	c.cfg.Local.Poke()
	return d, nil
}
