package gossip

import (
	"errors"

	"meshnet.dev/meshnet/gossip/wire"
)

// handleMessage is the entry point for every message memberlist hands us,
// by packet or stream. It never panics on bad input: every failure is a
// counted drop.
func (d *DB) handleMessage(buf []byte) {
	t, err := wire.PeekType(buf)
	if err != nil {
		d.stats.drop(dropReasonFor(err), 1)
		return
	}
	d.stats.received(t, len(buf))
	switch t {
	case wire.TypeTableEvents:
		decodeThen(d, buf, wire.DecodeTableEvents, d.mergeTableEvents)
	case wire.TypeNetworkEvents:
		decodeThen(d, buf, wire.DecodeNetworkEvents, d.mergeGossipRecords)
	case wire.TypeBulkSync:
		decodeThen(d, buf, wire.DecodeBulkSync, d.mergeBulkSync)
	case wire.TypeDigest:
		decodeThen(d, buf, wire.DecodeDigest, d.mergeDigest)
	}
}

// decodeThen decodes buf and merges the message, or counts why it could
// not be decoded.
func decodeThen[M any](d *DB, buf []byte, decode func([]byte) (M, error), merge func(M)) {
	m, err := decode(buf)
	if err != nil {
		d.stats.drop(dropReasonFor(err), 1)
		return
	}
	merge(m)
}

func dropReasonFor(err error) dropReason {
	switch {
	case errors.Is(err, wire.ErrOversized), errors.Is(err, wire.ErrTooLong):
		return dropOversized
	case errors.Is(err, wire.ErrVersion):
		return dropVersion
	case errors.Is(err, wire.ErrType):
		return dropUnknownType
	}
	return dropMalformed
}

// acceptSenderLocked checks that a message comes from a member we know.
// The caller holds (gaps.go) what a stranger's message carried.
func (d *DB) acceptSenderLocked(sender string, items int) bool {
	if d.closed {
		return false
	}
	m := d.members[sender]
	if m == nil {
		d.stats.drop(dropUnknownSender, max(items, 1))
		return false
	}
	if !m.visible() {
		// It is back, or memberlist would not have let it in to talk; a
		// gap brings its alive message if memberlist here missed it.
		d.gapLocked(sender, "")
	}
	return true
}

func (d *DB) mergeTableEvents(m wire.TableEvents) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.networks[m.Network]
	if !ok {
		// Never stored, not even for a moment: a node holds entries only of
		// networks it has joined.
		d.stats.drop(dropNotMember, max(len(m.Events), 1))
		return
	}
	now := d.now()
	if !d.acceptSenderLocked(m.Sender, len(m.Events)) {
		for _, ev := range m.Events {
			d.holdEntryLocked(m.Sender, m.Sender, n.id, ev, now)
		}
		return
	}
	for _, ev := range m.Events {
		if d.applyEntryLocked(n, ev, m.Sender, now) {
			d.queueEntryLocked(n, entryID{ev.Table, ev.Key, ev.Owner})
		}
	}
}

func (d *DB) mergeGossipRecords(m wire.NetworkEvents) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mergeRecordsLocked(m)
}

// mergeRecordsLocked merges membership records that came by gossip or
// push/pull, holding them if the sender is a stranger.
func (d *DB) mergeRecordsLocked(m wire.NetworkEvents) {
	now := d.now()
	if !d.acceptSenderLocked(m.Sender, len(m.Records)) {
		for _, r := range m.Records {
			d.holdRecordLocked(m.Sender, m.Sender, r, now)
		}
		return
	}
	for _, r := range m.Records {
		if d.applyRecordLocked(r, m.Sender, now) {
			d.queueRecordLocked(recordID{r.Node, r.Network})
		}
	}
}

// mergePushPull merges the membership table memberlist's push/pull
// carried, which is how a missed join heals cluster-wide even for nodes
// outside the network.
func (d *DB) mergePushPull(buf []byte) {
	m, err := wire.DecodeNetworkEvents(buf)
	if err != nil {
		d.stats.drop(dropReasonFor(err), 1)
		return
	}
	d.stats.received(wire.TypeNetworkEvents, len(buf))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mergeRecordsLocked(m)
}

func (d *DB) mergeBulkSync(m wire.BulkSync) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.acceptSenderLocked(m.Sender, len(m.Entries)) {
		// A sync is repaired by a sync, once the sender is known.
		if g := d.gapLocked(m.Sender, ""); g != nil {
			if _, joined := d.networks[m.Network]; joined {
				g.overflow[m.Network] = true
			}
		}
		return
	}
	n, ok := d.networks[m.Network]
	if !ok {
		d.stats.drop(dropNotMember, max(len(m.Entries), 1))
		return
	}
	now := d.now()
	// Membership changes are relayed: they are few, and this is how a
	// missed join reaches everyone quickly. Entry changes are relayed only
	// when there are few of them: a sync that repaired a handful of entries
	// (or raced with their gossip, which then looks stale here and would
	// not be relayed) passes them on, while a sync that filled a newcomer's
	// table doesn't flood everyone's queues with what they already have.
	for _, r := range m.Records {
		if d.applyRecordLocked(r, m.Sender, now) {
			d.queueRecordLocked(recordID{r.Node, r.Network})
		}
	}
	var changed []entryID
	for _, ev := range m.Entries {
		if d.applyEntryLocked(n, ev, m.Sender, now) && len(changed) <= maxSyncRelay {
			changed = append(changed, entryID{ev.Table, ev.Key, ev.Owner})
		}
	}
	if len(changed) <= maxSyncRelay {
		for _, id := range changed {
			d.queueEntryLocked(n, id)
		}
	}
	n.synced = true
	if m.Respond && m.Sender != d.name && d.members.alive(m.Sender) {
		d.scheduleSyncLocked(m.Network, m.Sender, false)
	}
}
