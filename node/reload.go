package node

import (
	"log/slog"
	"slices"
	"strings"

	"meshnet.dev/meshnet/node/config"
)

// Reload applies a new configuration to the running node, for what can
// change live: the log level, the metrics endpoint, the key rotation
// interval and the networks joined from the config. Everything else needs a
// restart, and Reload says which keys changed that it did not apply.
func (n *Node) Reload(cfg config.Config) error {
	s, err := cfg.Validate()
	if err != nil {
		return err
	}
	var applied, needRestart []string
	if n.level != nil && s.LogLevel != n.level.Level() {
		n.level.Set(s.LogLevel)
		applied = append(applied, "log.level="+s.LogLevel.String())
	}
	if s.Metrics != n.spec.Metrics {
		if n.metrics != nil {
			n.metrics.stop()
			n.metrics = nil
		}
		if s.Metrics != "" {
			m, err := n.startMetrics(s.Metrics)
			if err != nil {
				return err
			}
			n.metrics = m
		}
		n.spec.Metrics = s.Metrics
		applied = append(applied, "metrics.address="+s.Metrics)
	}
	if s.Rotation != n.spec.Rotation {
		if err := n.keys.SetRotation(s.Rotation); err != nil {
			return err
		}
		n.spec.Rotation = s.Rotation
		applied = append(applied, "keys.rotation_interval="+s.Rotation.String())
	}
	if changed := n.reloadNetworks(s.Networks); len(changed) > 0 {
		applied = append(applied, "networks: "+strings.Join(changed, ", "))
	}
	for key, same := range map[string]bool{
		"name": s.Name == n.spec.Name, "mode": s.TUN == n.spec.TUN && s.Userspace == n.spec.Userspace,
		"underlay": s.Underlay == n.spec.Underlay && s.VXLANPort == n.spec.VXLANPort,
		"gossip":   s.Gossip == n.spec.Gossip, "wireguard": s.WGPort == n.spec.WGPort && s.WGIface == n.spec.WGIface,
		"dns": s.DNS == n.spec.DNS, "health": s.Health == n.spec.Health,
	} {
		if !same {
			needRestart = append(needRestart, key)
		}
	}
	slices.Sort(needRestart)
	n.log.Info("configuration reloaded", "applied", applied, "needs_restart", needRestart)
	return nil
}

// reloadNetworks makes the config's networks wanted and forgets config
// networks no longer listed; networks joined at run time stay.
func (n *Node) reloadNetworks(nets []config.NetworkSpec) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var changed []string
	listed := map[string]bool{}
	for _, ns := range nets {
		listed[ns.Name] = true
		if old, ok := n.want[ns.Name]; !ok || old.runtime {
			n.want[ns.Name] = wantedNet{NetworkSpec: ns}
			if !ok {
				changed = append(changed, "+"+ns.Name)
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
