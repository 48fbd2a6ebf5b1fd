package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// phase is a stretch of a chaos run: a fault window (from injecting the
// fault to removing it) or the recovery after one.
type phase struct {
	name  string
	fault bool
	start time.Time
	end   time.Time
	// allowUntil is when losses stop being this fault's: the moment the
	// cluster had reconverged after the fault was removed, plus grace.
	allowUntil time.Time
	// reconverge is how long the cluster took to converge again after the
	// fault was removed; 0 if not measured.
	reconverge time.Duration
	notes      []string
}

// timeline is the sequence of phases of a run, with hosts retired from
// accounting (evicted) and when.
type timeline struct {
	phases  []*phase
	retired map[string]time.Time
	grace   time.Duration
}

func newTimeline(grace time.Duration) *timeline {
	return &timeline{retired: map[string]time.Time{}, grace: grace}
}

// begin closes the current phase and opens a new one.
func (tl *timeline) begin(name string, fault bool) *phase {
	now := time.Now()
	if n := len(tl.phases); n > 0 && tl.phases[n-1].end.IsZero() {
		tl.phases[n-1].end = now
	}
	p := &phase{name: name, fault: fault, start: now}
	tl.phases = append(tl.phases, p)
	return p
}

// finish closes the last phase.
func (tl *timeline) finish() {
	if n := len(tl.phases); n > 0 && tl.phases[n-1].end.IsZero() {
		tl.phases[n-1].end = time.Now()
	}
}

// recovered records that the cluster reconverged after fault p ended, took
// d from the end of p.
func (tl *timeline) recovered(p *phase, d time.Duration) {
	p.reconverge = d
	p.allowUntil = p.end.Add(d).Add(tl.grace)
}

// retire stops accounting traffic to and from host from now on.
func (tl *timeline) retire(host string) { tl.retired[host] = time.Now() }

// counts is a tally of samples.
type counts struct{ sent, lost int }

// accounting is the verdict over all samples of a run.
type accounting struct {
	perPhase map[*phase]map[string]*counts // phase → flow → counts
	outside  []sample                      // lost outside every fault's window
	excluded int                           // to or from retired hosts
	stalls   []stall                       // stream stalls
}

// backoffSpan is how soon after a fault's window a stream stall may start
// and still be TCP's retransmission backoff from that fault.
const backoffSpan = 15 * time.Second

// stall is a stretch in which the TCP stream's receiver got nothing.
type stall struct {
	from, to time.Time
	excused  bool // inside a fault's window
	backoff  bool // began in a fault's window; TCP's retransmission timer, see account
}

// excuse returns the fault whose window holds t, if any.
func (tl *timeline) excuse(t time.Time) *phase {
	for _, p := range tl.phases {
		if !p.fault {
			continue
		}
		until := p.allowUntil
		if until.IsZero() { // never reconverged: the whole rest of the run
			until = time.Now().Add(time.Hour)
		}
		if !t.Before(p.start) && t.Before(until) {
			return p
		}
	}
	return nil
}

// phaseAt is the phase that holds t.
func (tl *timeline) phaseAt(t time.Time) *phase {
	for _, p := range tl.phases {
		if !t.Before(p.start) && t.Before(p.end) {
			return p
		}
	}
	return nil
}

// account attributes every sample and stream stall to phases and lists
// the losses no fault excuses. A stall is a gap of over stallMin between
// receiver progress.
func (tl *timeline) account(samples []sample, sr *streamResult, stallMin time.Duration) *accounting {
	a := &accounting{perPhase: map[*phase]map[string]*counts{}}
	for _, s := range samples {
		if r, ok := tl.retired[s.src]; ok && !s.t.Before(r) {
			a.excluded++
			continue
		}
		if r, ok := tl.retired[s.dst]; ok && !s.t.Before(r) {
			a.excluded++
			continue
		}
		p := tl.phaseAt(s.t)
		if p == nil {
			continue // before the first or after the last phase (warm-up, drain)
		}
		if a.perPhase[p] == nil {
			a.perPhase[p] = map[string]*counts{}
		}
		cn := a.perPhase[p][s.flow]
		if cn == nil {
			cn = &counts{}
			a.perPhase[p][s.flow] = cn
		}
		cn.sent++
		if !s.ok {
			cn.lost++
			if tl.excuse(s.t) == nil {
				a.outside = append(a.outside, s)
			}
		}
	}
	if sr != nil {
		for k := 1; k < len(sr.progress); k++ {
			prev, cur := sr.progress[k-1], sr.progress[k]
			if cur.bytes != prev.bytes {
				continue
			}
			// Extend over the whole run of unchanged progress.
			end := k
			for end < len(sr.progress) && sr.progress[end].bytes == prev.bytes {
				end++
			}
			to := sr.progress[end-1].t
			if end < len(sr.progress) {
				to = sr.progress[end].t
			}
			if to.Sub(prev.t) > stallMin && tl.phaseAt(prev.t) != nil {
				st := stall{from: prev.t, to: to}
				st.excused = tl.excuse(prev.t) != nil && tl.excuse(to.Add(-stallMin)) != nil
				a.stalls = append(a.stalls, st)
			}
			k = end
		}
	}
	sort.Slice(a.outside, func(i, j int) bool { return a.outside[i].t.Before(a.outside[j].t) })
	// A stall that began inside a fault's window, or within backoffSpan
	// of one, is the sender's retransmission timer, armed during the
	// fault: TCP doubles it with every loss and keeps it doubled until new
	// data is acknowledged (Karn), so the stream may stall again soon after
	// the first retransmission gets through. That is the fault's doing,
	// not the overlay's, as long as the overlay delivered every probe sent
	// during the stall.
	for i := range a.stalls {
		st := &a.stalls[i]
		if st.excused || (tl.excuse(st.from) == nil && tl.excuse(st.from.Add(-backoffSpan)) == nil) {
			continue
		}
		delivered := true
		for _, s := range a.outside {
			if !s.t.Before(st.from) && s.t.Before(st.to) {
				delivered = false
			}
		}
		st.excused, st.backoff = delivered, delivered
	}
	return a
}

// report writes the run's report: phases, traffic per phase, reconvergence.
func (tl *timeline) report(w io.Writer, a *accounting, sr *streamResult) {
	start := tl.phases[0].start
	rel := func(t time.Time) string { return fmt.Sprintf("%6.1fs", t.Sub(start).Seconds()) }
	fmt.Fprintf(w, "%-28s %8s %8s %15s %15s %12s\n", "phase", "from", "to", "pings sent/lost", "http sent/fail", "reconverged")
	var faults int
	var totals [2]counts
	for _, p := range tl.phases {
		c := a.perPhase[p]
		get := func(flow string) counts {
			if c == nil || c[flow] == nil {
				return counts{}
			}
			return *c[flow]
		}
		pg, ht := get("ping"), get("http")
		totals[0].sent += pg.sent
		totals[0].lost += pg.lost
		totals[1].sent += ht.sent
		totals[1].lost += ht.lost
		name := p.name
		recon := ""
		if p.fault {
			faults++
			name = "FAULT " + name
			recon = "-"
			if p.reconverge > 0 {
				recon = fmt.Sprintf("%.1fs", p.reconverge.Seconds())
			}
		}
		fmt.Fprintf(w, "%-28s %8s %8s %15s %15s %12s\n", name, rel(p.start), rel(p.end),
			fmt.Sprintf("%d/%d", pg.sent, pg.lost), fmt.Sprintf("%d/%d", ht.sent, ht.lost), recon)
		for _, n := range p.notes {
			fmt.Fprintf(w, "    %s\n", n)
		}
	}
	fmt.Fprintf(w, "%-28s %8s %8s %15s %15s\n", "total", "", "", fmt.Sprintf("%d/%d", totals[0].sent, totals[0].lost), fmt.Sprintf("%d/%d", totals[1].sent, totals[1].lost))
	fmt.Fprintf(w, "faults injected: %d; losses outside fault windows (grace %s after reconvergence): %d; samples to or from evicted hosts not counted: %d\n",
		faults, tl.grace, len(a.outside), a.excluded)
	for k, s := range a.outside {
		if k == 20 {
			fmt.Fprintf(w, "  … %d more\n", len(a.outside)-20)
			break
		}
		ph := "?"
		if p := tl.phaseAt(s.t); p != nil {
			ph = p.name
		}
		fmt.Fprintf(w, "  lost outside: %s %s→%s at %s (in %s) %s\n", s.flow, s.src, s.dst, rel(s.t), ph, s.why)
	}
	if sr != nil {
		var excused, bad time.Duration
		for _, st := range a.stalls {
			if st.backoff {
				fmt.Fprintf(w, "  stream stall from a fault into the recovery: %s to %s (TCP retransmission backoff; every probe delivered meanwhile)\n", rel(st.from), rel(st.to))
			}
			if st.excused {
				excused += st.to.Sub(st.from)
			} else {
				bad += st.to.Sub(st.from)
				fmt.Fprintf(w, "  stream stall outside fault windows: %s to %s\n", rel(st.from), rel(st.to))
			}
		}
		match := sr.sent.SHA256 != "" && sr.sent.SHA256 == sr.got.SHA256 && sr.sent.Bytes == sr.got.Bytes
		fmt.Fprintf(w, "TCP stream: %d MiB sent, %d MiB received, SHA-256 match %v; stalled %.1fs inside fault windows, %.1fs outside\n",
			sr.sent.Bytes>>20, sr.got.Bytes>>20, match, excused.Seconds(), bad.Seconds())
	}
}

// summary is a line per fault for logs: name and reconvergence.
func (tl *timeline) summary() string {
	var b strings.Builder
	for _, p := range tl.phases {
		if p.fault {
			fmt.Fprintf(&b, "%s: reconverged in %s; ", p.name, p.reconverge.Round(100*time.Millisecond))
		}
	}
	return b.String()
}
