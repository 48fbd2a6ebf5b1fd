package node

import (
	"log/slog"
	"slices"
	"strings"
	"time"

	"meshnet.dev/meshnet/keydist"
)

// Reload applies a new configuration to the running node, for what can
// change live: the log level, the metrics endpoint, the key rotation
// interval and the networks joined from the config. Everything else needs a
// restart, and Reload says which keys changed that it did not apply.
func (n *Node) Reload(cfg Config) error {
	s, err := cfg.validate()
	if err != nil {
		return err
	}
	var applied, needRestart []string
	if n.level != nil && s.logLevel != n.level.Level() {
		n.level.Set(s.logLevel)
		applied = append(applied, "log.level="+s.logLevel.String())
	}
	if s.metrics != n.spec.metrics {
		if n.metrics != nil {
			n.metrics.stop()
			n.metrics = nil
		}
		if s.metrics != "" {
			m, err := n.startMetrics(s.metrics)
			if err != nil {
				return err
			}
			n.metrics = m
		}
		n.spec.metrics = s.metrics
		applied = append(applied, "metrics.address="+s.metrics)
	}
	if s.rotation != n.spec.rotation {
		if err := n.restartRotator(s.rotation); err != nil {
			return err
		}
		applied = append(applied, "keys.rotation_interval="+s.rotation.String())
	}
	if changed := n.reloadNetworks(s.networks); len(changed) > 0 {
		applied = append(applied, "networks: "+strings.Join(changed, ", "))
	}
	for key, same := range map[string]bool{
		"name": s.name == n.spec.name, "mode": s.tun == n.spec.tun && s.userspace == n.spec.userspace,
		"underlay": s.underlay == n.spec.underlay && s.vxlanPort == n.spec.vxlanPort,
		"gossip":   s.gossip == n.spec.gossip, "wireguard": s.wgPort == n.spec.wgPort && s.wgIface == n.spec.wgIface,
		"dns": s.dns == n.spec.dns, "health": s.health == n.spec.health,
	} {
		if !same {
			needRestart = append(needRestart, key)
		}
	}
	slices.Sort(needRestart)
	n.log.Info("configuration reloaded", "applied", applied, "needs_restart", needRestart)
	return nil
}

// restartRotator replaces the admin's rotation schedule.
func (n *Node) restartRotator(interval time.Duration) error {
	n.spec.rotation = interval
	old := n.rotator.Load()
	if old == nil {
		return nil
	}
	old.Close()
	rot, err := keydist.NewRotator(keydist.RotatorConfig{Interval: interval, Last: n.keys.issuer.State().KeysIssuedAt,
		PurgeDelay: evictionPurgeDelay, Logger: n.log, Rotate: n.rotate})
	if err != nil {
		return err
	}
	n.rotator.Store(rot)
	return nil
}

// reloadNetworks makes the config's networks wanted and forgets config
// networks no longer listed; networks joined at run time stay.
func (n *Node) reloadNetworks(nets []netSpec) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var changed []string
	listed := map[string]bool{}
	for _, ns := range nets {
		listed[ns.name] = true
		if old, ok := n.want[ns.name]; !ok || old.runtime {
			n.want[ns.name] = ns
			if !ok {
				changed = append(changed, "+"+ns.name)
			}
		}
	}
	for name, w := range n.want {
		if !w.runtime && !listed[name] {
			delete(n.want, name)
			changed = append(changed, "-"+name)
		}
	}
	if len(changed) > 0 {
		n.poke()
	}
	slices.Sort(changed)
	return changed
}

// Shutdown asks a running node to stop, as SIGTERM does.
func (n *Node) Shutdown() {
	n.stopOnce.Do(func() { close(n.stop) })
}

// levelVar returns a level variable set to level, so Reload can change it.
func levelVar(level slog.Level) *slog.LevelVar {
	v := new(slog.LevelVar)
	v.Set(level)
	return v
}
