package keysync

import (
	"context"
	"fmt"
	"time"

	"meshnet.dev/meshnet/keydist"
)

// evictionPurgeDelay is how long the gossip key in use before an eviction
// stays installed (receive-only) after the emergency rotation: long enough
// for every live member to apply the emergency keys, short enough that an
// evicted node holding the old key can inject nothing for long.
const evictionPurgeDelay = 15 * time.Second

// restageWait bounds how long an eviction waits for members to install the
// fresh keys before making them primary anyway (a member that missed them
// then needs a new token).
const restageWait = 10 * time.Second

// rotationStartGrace bounds how long a restarted admin node postpones
// scheduled rotations while it has not rejoined its cluster.
const rotationStartGrace = time.Minute

// SetRotation (admin) starts the rotation schedule, or replaces it with
// one of a new interval. On other nodes it does nothing.
func (k *Keys) SetRotation(interval time.Duration) error {
	if k.issuer == nil {
		return nil
	}
	k.rotatorMu.Lock()
	defer k.rotatorMu.Unlock()
	if old := k.rotator.Load(); old != nil {
		old.Close()
	}
	rot, err := keydist.NewRotator(keydist.RotatorConfig{Interval: interval, Last: k.issuer.State().KeysIssuedAt,
		PurgeDelay: evictionPurgeDelay, Logger: k.log, Rotate: k.rotate})
	if err != nil {
		k.rotator.Store(nil)
		return err
	}
	k.rotator.Store(rot)
	return nil
}

// trigger asks the rotator (admin) for a rotation; false without one.
func (k *Keys) trigger(reason keydist.Reason) bool {
	rot := k.rotator.Load()
	if k.issuer == nil || rot == nil {
		return false
	}
	rot.Trigger(reason)
	return true
}

// rotate (admin) runs one key rotation for the rotator. An eviction runs
// in two steps: first a fresh staged gossip key and data epoch sealed to the
// remaining members, sent under the current primary (so they can read it);
// then, once every member announces the new epoch, a regular rotation that
// makes the fresh key primary. The evicted node never held it, so from then
// on it reads nothing; the purge rotation that follows removes the last key
// it knew.
func (k *Keys) rotate(ctx context.Context, reason keydist.Reason) error {
	is := k.issuer
	if err := k.readyToRotate(reason); err != nil {
		return err
	}
	if reason.Emergency() {
		rec, err := is.Restage(k.memberPubs())
		if err != nil {
			return err
		}
		k.log.Info("eviction: staging fresh keys", "epoch", rec.Epoch, "members", len(rec.Recipients))
		if err := k.publishGrants(rec); err != nil {
			return err
		}
		k.awaitEpoch(ctx, rec.Epoch, restageWait)
	}
	rec, err := is.Rotate(k.memberPubs(), false)
	if err != nil {
		return err
	}
	k.log.Info("rotating cluster keys", "reason", reason, "epoch", rec.Epoch, "members", len(rec.Recipients))
	return k.publishGrants(rec)
}

// awaitEpoch waits until every live member announces epoch (or newer), the
// timeout passes or ctx ends.
func (k *Keys) awaitEpoch(ctx context.Context, epoch uint64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		behind := 0
		for _, m := range k.liveMetas() {
			if m.Epoch < epoch {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	k.log.Warn("some members did not install the staged keys in time", "epoch", epoch)
}

// readyToRotate postpones scheduled rotations of an admin node that has
// not rejoined its cluster since it started: sealed to itself alone, they
// would leave every member a rotation behind, and two would lock them out
// of gossip. On-demand rotations and evictions run when asked.
func (k *Keys) readyToRotate(reason keydist.Reason) error {
	if reason != keydist.ReasonScheduled && reason != keydist.ReasonPurge {
		return nil
	}
	if k.cfg.Joined() || time.Since(k.links.Load().started) > rotationStartGrace {
		return nil
	}
	return fmt.Errorf("%w: this node has not rejoined its cluster since it started", keydist.ErrPostponed)
}

// RotateNodeKey replaces this node's identity key: WireGuard switches to
// it, the new public key goes out in the node's metadata so peers update
// their configuration, and the admin seals the cluster keys to it.
func (k *Keys) RotateNodeKey() error {
	k.applyMu.Lock()
	defer k.applyMu.Unlock()
	key, err := keydist.ReplaceNodeKey(k.cfg.StateDir)
	if err != nil {
		return err
	}
	m, err := keydist.OpenMember(k.cfg.StateDir, key)
	if err != nil {
		return err
	}
	old := k.Public()
	k.setIdentity(key, m)
	if wg := k.links.Load().wg; wg != nil {
		if err := wg.SetPrivateKey(key, keydist.VTEP(key.Public())); err != nil {
			return fmt.Errorf("switching WireGuard to the new key: %w", err)
		}
	}
	k.cfg.PublishMeta()
	k.log.Info("node identity key rotated", "old", old, "new", key.Public())
	k.cfg.Poke()
	return nil
}
