package netlab

import (
	"fmt"
	"strings"
)

// Underlay faults made with nftables, the only packet-mangling tool the labs
// rely on (there is no netem). Loss sits on the bridge, so every frame
// between two hosts crosses it exactly once; partitions sit in the hosts.

// lossTable is the nftables table holding the underlay loss rule.
const lossTable = "mnloss"

// SetUnderlayLoss drops percent of the frames the underlay bridge forwards
// between hosts, in both directions, chosen at random frame by frame
// (nftables numgen). 0 removes the rule. It replaces any earlier setting.
func (l *Lab) SetUnderlayLoss(percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("loss %d%%: want 0..100", percent)
	}
	ul := l.underlay()
	// Deleting a table that is not there fails; that is the no-loss state.
	l.runIn(ul, "nft", "delete", "table", "bridge", lossTable)
	if percent == 0 {
		return nil
	}
	rules := fmt.Sprintf("table bridge %s {\n chain loss { type filter hook forward priority 0; numgen random mod 100 < %d counter drop; }\n}\n", lossTable, percent)
	return l.nft(ul, rules)
}

// UnderlayLossDropped reports how many frames the loss rule dropped so far.
func (l *Lab) UnderlayLossDropped() (uint64, error) {
	out, err := runOutput("ip", "netns", "exec", l.underlay(), "nft", "list", "table", "bridge", lossTable)
	if err != nil {
		return 0, err
	}
	var n, bytes uint64
	if i := strings.Index(out, "counter packets "); i >= 0 {
		fmt.Sscanf(out[i:], "counter packets %d bytes %d", &n, &bytes)
	}
	return n, nil
}

// partitionTable is the nftables table of a partition in each host.
const partitionTable = "mnpart"

// Partition cuts every host of a off from every host of b (and b from a)
// by dropping their underlay traffic in both directions, in each host's own
// namespace. The returned function heals it.
func Partition(a, b []*Host) (heal func() error, err error) {
	cut := func(side, other []*Host) error {
		var set []string
		for _, o := range other {
			set = append(set, o.Addr.String())
		}
		addrs := "{ " + strings.Join(set, ", ") + " }"
		rules := fmt.Sprintf("table inet %s {\n chain in { type filter hook input priority 0; ip saddr %s drop; }\n chain out { type filter hook output priority 0; ip daddr %s drop; }\n}\n",
			partitionTable, addrs, addrs)
		for _, h := range side {
			if err := h.lab.nft(h.NS, rules); err != nil {
				return err
			}
		}
		return nil
	}
	heal = func() error {
		var errs []string
		for _, h := range append(append([]*Host(nil), a...), b...) {
			if err := h.lab.runIn(h.NS, "nft", "delete", "table", "inet", partitionTable); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("healing the partition: %s", strings.Join(errs, "; "))
		}
		return nil
	}
	if err := cut(a, b); err != nil {
		heal()
		return nil, err
	}
	if err := cut(b, a); err != nil {
		heal()
		return nil, err
	}
	return heal, nil
}

// nft loads a ruleset into namespace ns.
func (l *Lab) nft(ns, rules string) error {
	fmt.Fprintf(l.log, "+ [%s] nft -f - <<%q\n", ns, rules)
	cmd := execCommand("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}
