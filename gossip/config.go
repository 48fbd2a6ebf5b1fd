package gossip

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/memberlist"

	"meshnet.dev/meshnet/gossip/wire"
)

// Config configures a DB. Start from DefaultConfig; it is read once by New
// and must not be changed afterwards.
type Config struct {
	// Name is this node's unique name in the cluster (its memberlist name
	// and the owner of its entries). Required.
	Name string

	// BindAddr and BindPort are where the default UDP/TCP transport
	// listens. Port 0 picks a free port. Ignored when Transport is set.
	BindAddr string
	BindPort int

	// AdvertiseAddr and AdvertisePort are what peers use to reach this
	// node, when it differs from the bind address (NAT). Optional.
	AdvertiseAddr string
	AdvertisePort int
	// LocalAddr is this host's own address on the underlay, where it
	// differs from AdvertiseAddr because a NAT stands between (Discover
	// found the public one). Members that see this node at its local
	// address reach it without the NAT. Optional: AdvertiseAddr.
	LocalAddr string

	// Meta is opaque node metadata spread with membership (for example the
	// data-path endpoint and public key), at most memberlist.MetaMaxSize
	// bytes. Change it later with SetMeta.
	Meta []byte

	// Keys is the AES-256 gossip keyring (32-byte keys); Keys[PrimaryKey]
	// encrypts, all of them decrypt. Empty means no encryption.
	Keys       [][]byte
	PrimaryKey int

	// GossipInterval is how often each network's queued events are sent.
	GossipInterval time.Duration
	// Fanout is how many members of a network get its events per interval.
	Fanout int
	// BulkSyncInterval is how often each network's digest goes to one
	// random member of it, and a membership digest to one random node; a
	// mismatch starts the full exchange (anti-entropy, digest.go).
	BulkSyncInterval time.Duration
	// TombstoneTTL is how long a delete is remembered; the remaining
	// lifetime travels with the tombstone.
	TombstoneTTL time.Duration
	// NodeReapTimeout is how long a failed node's hidden entries are kept
	// in case it comes back.
	NodeReapTimeout time.Duration
	// TopologyAware biases the fanout towards members that are near by
	// Vivaldi distance, keeping one uniformly random target.
	TopologyAware bool
	// ProbeInterval is the SWIM period: how often this node probes one
	// other member. The probe timeout follows from it (ProbeTimeout).
	ProbeInterval time.Duration

	// Transport carries all gossip; nil means real UDP/TCP sockets on
	// BindAddr:BindPort. Tests and the simulator pass an in-memory one.
	Transport memberlist.NodeAwareTransport
	// Tune, if set, gets the last word on the memberlist configuration
	// (timeouts, suspicion) for tests and the simulator.
	Tune func(*memberlist.Config)
	// Logger receives the DB's and memberlist's logs; nil discards them.
	Logger *slog.Logger
	// Admit, if set, is asked before a node joins or updates its
	// metadata; an error refuses it (for example a node whose key was
	// evicted). It must be fast and must not call into the DB.
	Admit func(name string, meta []byte) error
	// Side, if set, answers side requests (DB.SideRequest): small
	// unauthenticated exchanges on the gossip TCP port for what must work
	// when the gossip keys do not, such as a member that missed key
	// rotations fetching the keys sealed to it. It runs on untrusted input
	// and must authenticate, bound and rate-limit its own work; its answer
	// must be safe to give to anyone.
	Side func(req []byte) []byte
	// Now is the wall clock used for local deadlines (tombstone and node
	// reaping); nil means time.Now. Ordering never uses wall clocks, and no
	// absolute time is ever sent, so skewed clocks still converge.
	Now func() time.Time
}

// Defaults, with the reasons for them.
const (
	// DefaultPort is memberlist's well-known port.
	DefaultPort = 7946
	// DefaultGossipInterval matches memberlist's LAN gossip interval: fast
	// enough that an endpoint is usable cluster-wide within a second.
	DefaultGossipInterval = 200 * time.Millisecond
	// DefaultFanout of 3 spreads an event to n nodes in about log3(n)
	// intervals while keeping per-node traffic constant.
	DefaultFanout = 3
	// DefaultBulkSyncInterval matches memberlist's default push/pull
	// interval: anti-entropy only repairs what gossip missed, so it can be
	// slow, and a round costs one small digest per network.
	DefaultBulkSyncInterval = 30 * time.Second
	// DefaultTombstoneTTL must outlast any realistic partition so a node
	// that was away still learns about deletes instead of resurrecting.
	DefaultTombstoneTTL = 30 * time.Minute
	// DefaultNodeReapTimeout keeps a failed node's entries for a day, so a
	// node that was only unreachable (maintenance, long partition) comes
	// back with its state intact.
	DefaultNodeReapTimeout = 24 * time.Hour
	// deadNodeReclaimTime lets a node that crashed come back under the same
	// name from a new address after this long.
	deadNodeReclaimTime = 10 * time.Second
)

// DefaultConfig returns the documented defaults. Name must still be set.
func DefaultConfig() Config {
	return Config{
		BindAddr:         "0.0.0.0",
		BindPort:         DefaultPort,
		GossipInterval:   DefaultGossipInterval,
		Fanout:           DefaultFanout,
		BulkSyncInterval: DefaultBulkSyncInterval,
		TombstoneTTL:     DefaultTombstoneTTL,
		NodeReapTimeout:  DefaultNodeReapTimeout,
		TopologyAware:    true,
		ProbeInterval:    DefaultProbeInterval,
	}
}

// validate fills zero durations and counts with defaults and checks the
// rest, with errors naming the field and the fix.
func (c *Config) validate() error {
	if c.Name == "" {
		return errors.New("gossip: config Name is empty: set a unique node name")
	}
	if len(c.Name) > MaxNodeNameLen {
		return fmt.Errorf("gossip: config Name is %d bytes: use at most %d", len(c.Name), MaxNodeNameLen)
	}
	if len(c.Meta) > memberlist.MetaMaxSize {
		return fmt.Errorf("gossip: config Meta is %d bytes: use at most %d", len(c.Meta), memberlist.MetaMaxSize)
	}
	for i, k := range c.Keys {
		if len(k) != 32 {
			return fmt.Errorf("gossip: config Keys[%d] is %d bytes: gossip keys are AES-256, 32 bytes", i, len(k))
		}
	}
	if len(c.Keys) > 0 && (c.PrimaryKey < 0 || c.PrimaryKey >= len(c.Keys)) {
		return fmt.Errorf("gossip: config PrimaryKey %d is not an index into Keys (0..%d)", c.PrimaryKey, len(c.Keys)-1)
	}
	if c.Fanout < 0 {
		return fmt.Errorf("gossip: config Fanout %d is negative: use 1 or more", c.Fanout)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"GossipInterval", &c.GossipInterval, DefaultGossipInterval},
		{"BulkSyncInterval", &c.BulkSyncInterval, DefaultBulkSyncInterval},
		{"TombstoneTTL", &c.TombstoneTTL, DefaultTombstoneTTL},
		{"NodeReapTimeout", &c.NodeReapTimeout, DefaultNodeReapTimeout},
		{"ProbeInterval", &c.ProbeInterval, DefaultProbeInterval},
	} {
		if *d.v < 0 {
			return fmt.Errorf("gossip: config %s %v is negative: use a positive duration or 0 for the default", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if c.TombstoneTTL > wire.MaxTTL {
		return fmt.Errorf("gossip: config TombstoneTTL %v is above the %v peers accept", c.TombstoneTTL, wire.MaxTTL)
	}
	if c.Fanout == 0 {
		c.Fanout = DefaultFanout
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// String describes the config with the keyring redacted.
func (c Config) String() string {
	return fmt.Sprintf("gossip.Config{Name:%q Bind:%s:%d Advertise:%s:%d Keys:%d(redacted) GossipInterval:%v Fanout:%d BulkSyncInterval:%v TombstoneTTL:%v NodeReapTimeout:%v TopologyAware:%v ProbeInterval:%v}",
		c.Name, c.BindAddr, c.BindPort, c.AdvertiseAddr, c.AdvertisePort, len(c.Keys),
		c.GossipInterval, c.Fanout, c.BulkSyncInterval, c.TombstoneTTL, c.NodeReapTimeout, c.TopologyAware, c.ProbeInterval)
}

// GoString is String, so that %#v does not print the keys either.
func (c Config) GoString() string { return c.String() }

// LogValue keeps the keys out of structured logs.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
