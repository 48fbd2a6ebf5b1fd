package chaos

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
	"meshnet.dev/meshnet/node/api"
)

// view is what one node believes about the cluster, reduced to what must
// be identical on every live member once the cluster has converged.
type view struct {
	alive     []string // alive members, this node included, sorted
	members   []string // members of network red, sorted
	endpoints []string // red's endpoints "ip mac node", sorted
	services  []string // services and their backends, sorted
	epoch     uint64
	problems  []string // duplicates and other things that must never be
	drops     string   // gossip drop counters other than stale, for reports
}

// viewOf reads node i's view from its status and service list.
func (c *cluster) viewOf(i int) (view, error) {
	var v view
	st, err := c.ms[i].Status()
	if err != nil {
		return v, err
	}
	v.alive = []string{st.Node.Name}
	for _, p := range st.Peers {
		if p.State == "alive" {
			v.alive = append(v.alive, p.Name)
		}
	}
	slices.Sort(v.alive)
	var red *api.Network
	for k := range st.Networks {
		if st.Networks[k].Name == network {
			red = &st.Networks[k]
		}
	}
	if red == nil {
		return v, fmt.Errorf("%s is not attached to %s", st.Node.Name, network)
	}
	v.members = slices.Sorted(slices.Values(red.Members))
	ips := map[string]string{}
	for _, e := range red.Endpoints {
		v.endpoints = append(v.endpoints, e.IP+" "+e.MAC+" "+e.Node)
		if e.IP == "" {
			continue
		}
		if other, ok := ips[e.IP]; ok {
			v.problems = append(v.problems, fmt.Sprintf("%s lists %s twice (%s and %s)", st.Node.Name, e.IP, other, e.Node))
		}
		ips[e.IP] = e.Node
	}
	slices.Sort(v.endpoints)
	for _, d := range st.Duplicates {
		v.problems = append(v.problems, fmt.Sprintf("%s reports duplicate %s on %s: winner %s, losers %v", st.Node.Name, d.IP, d.Network, d.Winner, d.Losers))
	}
	for _, cf := range st.Conflicts {
		v.problems = append(v.problems, fmt.Sprintf("%s reports a network conflict: %s", st.Node.Name, cf))
	}
	svcs, err := c.services(i)
	if err != nil {
		return v, err
	}
	for _, s := range svcs {
		var bs []string
		for _, b := range s.Backends {
			bs = append(bs, fmt.Sprintf("%s@%s(healthy=%v)", b.Addr, b.Node, b.Healthy))
		}
		slices.Sort(bs)
		v.services = append(v.services, fmt.Sprintf("%s vip=%s [%s]", s.Name, s.VIP, strings.Join(bs, " ")))
	}
	slices.Sort(v.services)
	v.epoch = st.Keys.Epoch
	var drops []string
	for _, r := range slices.Sorted(maps.Keys(st.Gossip.Dropped)) {
		if r != "stale" {
			drops = append(drops, fmt.Sprintf("%s=%d", r, st.Gossip.Dropped[r]))
		}
	}
	v.drops = strings.Join(drops, " ")
	return v, nil
}

// checkConverged returns nil when every live node answers, sees exactly
// the live nodes alive, lists the same members, endpoints and services as
// every other, lists each live node's own address, reports no duplicate,
// and holds a data-key epoch at most one behind the newest.
func (c *cluster) checkConverged() error {
	live := c.live()
	var want []string
	for _, i := range live {
		want = append(want, c.hosts[i].Name)
	}
	slices.Sort(want)
	views := make(map[string]view, len(live))
	var minEpoch, maxEpoch uint64
	for k, i := range live {
		name := c.hosts[i].Name
		v, err := c.viewOf(i)
		if err != nil {
			return err
		}
		if len(v.problems) > 0 {
			return fmt.Errorf("%s", strings.Join(v.problems, "; "))
		}
		if !slices.Equal(v.alive, want) {
			return fmt.Errorf("%s sees alive %v, want %v", name, v.alive, want)
		}
		if !slices.Equal(v.members, want) {
			return fmt.Errorf("%s lists members %v of %s, want %v", name, v.members, network, want)
		}
		for _, j := range live {
			if !slices.ContainsFunc(v.endpoints, func(e string) bool {
				return strings.HasPrefix(e, overlayIP(j).String()+" ") && strings.HasSuffix(e, " "+c.hosts[j].Name)
			}) {
				return fmt.Errorf("%s does not list %s's address %s", name, c.hosts[j].Name, overlayIP(j))
			}
		}
		for _, e := range v.endpoints {
			node := e[strings.LastIndexByte(e, ' ')+1:]
			if !slices.Contains(want, node) {
				return fmt.Errorf("%s still uses an endpoint of %s: %s", name, node, e)
			}
		}
		views[name] = v
		if k == 0 {
			minEpoch, maxEpoch = v.epoch, v.epoch
		}
		minEpoch, maxEpoch = min(minEpoch, v.epoch), max(maxEpoch, v.epoch)
	}
	if err := differences("endpoints", views, func(v view) []string { return v.endpoints }); err != nil {
		return err
	}
	if err := differences("services", views, func(v view) []string { return v.services }); err != nil {
		return err
	}
	if maxEpoch-minEpoch > 1 {
		return fmt.Errorf("data-key epochs range from %d to %d", minEpoch, maxEpoch)
	}
	return nil
}

// divergence is a difference between views, with counters that change
// while it lasts and so are not part of what it is.
type divergence struct{ what, counters string }

func (d *divergence) Error() string { return d.what + d.counters }

// sameDifference reports whether a and b are the same difference.
func sameDifference(a, b error) bool {
	var da, db *divergence
	if errors.As(a, &da) && errors.As(b, &db) {
		return da.what == db.what
	}
	return a.Error() == b.Error()
}

// differences returns nil if every view lists the same items, or an error
// that groups the nodes by what they list: a slow reconvergence must show
// whether one node lacks an item or only one node has it.
func differences(what string, views map[string]view, items func(view) []string) error {
	var variants [][]string // distinct item lists, in order of first node
	holders := map[int][]string{}
	for _, name := range slices.Sorted(maps.Keys(views)) {
		its := items(views[name])
		k := slices.IndexFunc(variants, func(v []string) bool { return slices.Equal(v, its) })
		if k < 0 {
			k = len(variants)
			variants = append(variants, its)
		}
		holders[k] = append(holders[k], name)
	}
	if len(variants) <= 1 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s differ:", what)
	for k, v := range variants {
		fmt.Fprintf(&b, "\n  %s: %v", strings.Join(holders[k], ","), v)
	}
	// Why a node may lack an item: what its gossip dropped since it started.
	var drops strings.Builder
	for _, name := range slices.Sorted(maps.Keys(views)) {
		fmt.Fprintf(&drops, "\n  %s dropped: %s", name, views[name].drops)
	}
	return &divergence{b.String(), drops.String()}
}

// converge polls until the cluster has converged and returns how long that
// took, or the last difference after timeout.
func (c *cluster) converge(timeout time.Duration) (time.Duration, error) {
	d, _, err := c.convergeExplained(timeout)
	return d, err
}

// convergeExplained is converge that also says what kept the cluster
// apart last, and for how long, so a slow reconvergence in a report names
// its cause ("" if it had converged at the first look).
func (c *cluster) convergeExplained(timeout time.Duration) (time.Duration, string, error) {
	start := time.Now()
	var last error
	var since time.Time
	err := netlab.Poll(timeout, 250*time.Millisecond, func() error {
		err := c.checkConverged()
		if err != nil {
			if last == nil || !sameDifference(err, last) {
				since = time.Now()
			}
			last = err
		}
		return err
	})
	if last == nil {
		return time.Since(start), "", err
	}
	return time.Since(start), fmt.Sprintf("%s (for %s)", last, time.Since(since).Round(100*time.Millisecond)), err
}

// describe is a one-line summary of node i's view, for reports.
func (c *cluster) describe(i int) string {
	v, err := c.viewOf(i)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d alive, %d endpoints, services %v, epoch %d", len(v.alive), len(v.endpoints), v.services, v.epoch)
}
