package gossip

import (
	"cmp"
	"math"
	"slices"
)

// eventQueue holds the identities of items waiting for fanout and how often
// each was sent. It holds identities, not encodings: the packer reads the
// current state when it sends, so a newer write to the same entry replaces
// the queued one and a tombstone always carries its lifetime as of sending.
type eventQueue[K comparable] struct {
	items map[K]*queueItem[K]
	seq   uint64
}

type queueItem[K comparable] struct {
	id        K
	transmits int
	seq       uint64   // push order; newer items go first among equals
	sentTo    []string // members this version went to; never sent twice to one
}

// push queues id, or resets its transmit count if it is queued already.
// It returns how many old items were dropped to stay within limit.
func (q *eventQueue[K]) push(id K, limit int) int {
	if q.items == nil {
		q.items = make(map[K]*queueItem[K])
	}
	q.seq++
	if it, ok := q.items[id]; ok {
		it.transmits, it.seq, it.sentTo = 0, q.seq, nil
		return 0
	}
	q.items[id] = &queueItem[K]{id: id, seq: q.seq}
	dropped := 0
	for len(q.items) > limit {
		var oldest *queueItem[K]
		for _, it := range q.items {
			if oldest == nil || it.seq < oldest.seq {
				oldest = it
			}
		}
		delete(q.items, oldest.id)
		dropped++
	}
	return dropped
}

func (q *eventQueue[K]) len() int { return len(q.items) }

func (q *eventQueue[K]) remove(id K) { delete(q.items, id) }

// ordered returns the queued items, least transmitted first and, among
// equals, newest first: fresh news spreads before old news is repeated.
func (q *eventQueue[K]) ordered() []*queueItem[K] {
	out := make([]*queueItem[K], 0, len(q.items))
	for _, it := range q.items {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b *queueItem[K]) int {
		return cmp.Or(cmp.Compare(a.transmits, b.transmits), cmp.Compare(b.seq, a.seq))
	})
	return out
}

// wasSentTo reports whether this version of it already went to member to:
// sending it again would spend a transmission on a node that has it.
func (it *queueItem[K]) wasSentTo(to string) bool { return slices.Contains(it.sentTo, to) }

// sent records one more transmission of it, to member to, and forgets it
// once it has been sent limit times.
func (q *eventQueue[K]) sent(it *queueItem[K], to string, limit int) {
	it.transmits++
	it.sentTo = append(it.sentTo, to)
	if it.transmits >= limit {
		if cur, ok := q.items[it.id]; ok && cur == it {
			delete(q.items, it.id)
		}
	}
}

// retransmitLimit is how many times an event is sent in a network of n
// members: mult * ceil(log10(n+1)), as memberlist does for its own gossip,
// so the chance that some member never hears of it stays small as n grows.
// Below ten members that is mult sends to n-1 peers, and about one member
// in 500 missed a write (then waiting for a digest round, 30 s): there an
// event goes to every peer, up to 2*mult, the limit from ten members on.
// It is never more than the n-1 peers there are: an event is sent to each
// peer at most once, so a higher limit would keep it queued for good.
func retransmitLimit(mult, n int) int {
	scale := int(math.Ceil(math.Log10(float64(n + 1))))
	if scale < 1 {
		scale = 1
	}
	return max(1, min(n-1, max(mult*scale, 2*mult)))
}
