package node

import (
	"errors"
	"log/slog"
	"slices"
	"strings"

	"meshnet.dev/meshnet/node/config"
	"meshnet.dev/meshnet/node/metrics"
)

// Reload applies a new configuration to the running node, for what can
// change live: the log level, the metrics endpoint, the key rotation
// interval, the networks joined from the config and the static peers.
// Everything else needs a restart, and Reload says which keys changed that
// it did not apply. A config that does not validate, or whose static peers
// clash with the running cluster, changes nothing.
func (n *Node) Reload(cfg config.Config) error {
	s, err := cfg.Validate()
	if err != nil {
		return err
	}
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	if !n.isReady() || n.halted {
		return errors.New("the node is not running; start it with the new configuration instead")
	}
	if err := config.CheckPeers(s.Peers, n.clusterFacts()); err != nil {
		return err
	}
	var applied, needRestart []string
	if n.level != nil && s.LogLevel != n.level.Level() {
		n.level.Set(s.LogLevel)
		applied = append(applied, "log.level="+s.LogLevel.String())
	}
	if s.Metrics != n.metricsAddr {
		if err := n.setMetricsLocked(s.Metrics); err != nil {
			return err
		}
		applied = append(applied, "metrics.address="+s.Metrics)
	}
	if s.Rotation != n.rotation {
		if err := n.keys.SetRotation(s.Rotation); err != nil {
			return err
		}
		n.rotation = s.Rotation
		applied = append(applied, "keys.rotation_interval="+s.Rotation.String())
	}
	if changed := n.want.reload(s.Networks); len(changed) > 0 {
		n.poke()
		applied = append(applied, "networks: "+strings.Join(changed, ", "))
	}
	if changed := peerChanges(n.static.get(), s.Peers); len(changed) > 0 {
		n.static.set(s.Peers)
		n.poke()
		applied = append(applied, "peers: "+strings.Join(changed, ", "))
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

// setMetrics serves metrics on addr, replacing the server running on
// another address; "" stops it.
func (n *Node) setMetrics(addr string) error {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	return n.setMetricsLocked(addr)
}

// halt stops the metrics server and makes Reload refuse from now on: Run
// is stopping what Reload would change.
func (n *Node) halt() {
	n.reloadMu.Lock()
	defer n.reloadMu.Unlock()
	n.halted = true
	n.setMetricsLocked("")
}

// setMetricsLocked is setMetrics; n.reloadMu must be held.
func (n *Node) setMetricsLocked(addr string) error {
	if n.metrics != nil {
		n.metrics.Stop()
		n.metrics = nil
	}
	n.metricsAddr = addr
	if addr == "" {
		return nil
	}
	m, err := metrics.Serve(addr, metricsSource{n}, n.log)
	if err != nil {
		return err
	}
	n.metrics = m
	return nil
}

// Shutdown asks a running node to stop, as SIGTERM does.
func (n *Node) Shutdown() {
	n.stopped.Do(func() { close(n.stop) })
}

// levelVar returns a level variable set to level, so Reload can change it.
func levelVar(level slog.Level) *slog.LevelVar {
	v := new(slog.LevelVar)
	v.Set(level)
	return v
}
