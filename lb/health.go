package lb

// The health checker's one goroutine owns the target states. Each tick it
// probes every target concurrently (bounded), waits for the round to end
// (each probe ends by Timeout), then applies the rise/fall thresholds and
// publishes changes, so Publish is always called from that goroutine, in
// order. Close cancels any probes in flight and waits for the goroutine.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// maxConcurrentProbes bounds the probes running at once.
const maxConcurrentProbes = 32

// HealthConfig configures a HealthChecker.
type HealthConfig struct {
	// Node is this node's name; only its own backends are probed.
	Node string
	// Interval between probe rounds.
	Interval time.Duration
	// Timeout for one probe; at most Interval. A UDP probe to a healthy
	// backend that does not reply waits all of it.
	Timeout time.Duration
	// Rise consecutive successes mark an unhealthy backend healthy; Fall
	// consecutive failures mark a healthy one unhealthy. A new target takes
	// the state of its first probe at once.
	Rise, Fall int
	// Publish is called with the backend and its new state (Healthy) on
	// every change. It runs on the checker's goroutine, so it must not
	// block for long or call Close; calling SetTargets is fine.
	Publish func(Backend)
	// Dialer opens probe connections.
	Dialer Dialer
	// NewTicker starts a ticker; tests pass a manual one. stop releases it.
	NewTicker func(d time.Duration) (ticks <-chan time.Time, stop func())
	Logger    *slog.Logger
}

// DefaultHealthConfig returns the defaults; the caller sets Node and
// Publish.
func DefaultHealthConfig() HealthConfig {
	return HealthConfig{
		Interval: 2 * time.Second, // notices a dead backend within ~6 s
		Timeout:  time.Second,
		Rise:     2, // one lucky probe does not bring a flapping backend back
		Fall:     3, // one lost SYN does not take a backend out
		Dialer:   &net.Dialer{},
		NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		},
		Logger: slog.New(slog.DiscardHandler),
	}
}

func (c *HealthConfig) validate() error {
	var errs []error
	if c.Node == "" {
		errs = append(errs, errors.New("health: node is empty: give this node's name"))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("health: interval %v must be positive", c.Interval))
	}
	if c.Timeout <= 0 || c.Timeout > c.Interval {
		errs = append(errs, fmt.Errorf("health: timeout %v must be positive and at most the interval %v", c.Timeout, c.Interval))
	}
	if c.Rise < 1 || c.Fall < 1 {
		errs = append(errs, fmt.Errorf("health: rise %d and fall %d must be at least 1", c.Rise, c.Fall))
	}
	if c.Publish == nil {
		errs = append(errs, errors.New("health: publish callback is nil"))
	}
	if c.Dialer == nil || c.NewTicker == nil {
		errs = append(errs, errors.New("health: dialer or ticker is nil: start from DefaultHealthConfig"))
	}
	return errors.Join(errs...)
}

// HealthChecker probes the local node's backends and publishes changes.
type HealthChecker struct {
	cfg    HealthConfig
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	pending []HealthTarget
	changed bool
	wake    chan struct{} // capacity 1: targets changed

	states map[healthKey]*healthState // owned by the run goroutine
}

type healthKey struct {
	service string
	addr    netip.AddrPort
}

type healthState struct {
	target  HealthTarget
	known   bool
	healthy bool
	streak  int // consecutive results disagreeing with healthy
	result  error
}

// NewHealthChecker starts a checker with no targets.
func NewHealthChecker(cfg HealthConfig) (*HealthChecker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &HealthChecker{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "health"),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
		wake:   make(chan struct{}, 1),
		states: map[healthKey]*healthState{},
	}
	ticks, stop := cfg.NewTicker(cfg.Interval)
	go h.run(ticks, stop)
	return h, nil
}

// SetTargets replaces the set of backends to probe. Targets of other nodes
// are ignored. New targets are probed right away; removed ones are
// forgotten without a publish. It never blocks.
func (h *HealthChecker) SetTargets(ts []HealthTarget) {
	h.mu.Lock()
	h.pending = append(h.pending[:0:0], ts...)
	h.changed = true
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Close stops probing and waits for the checker's goroutines.
func (h *HealthChecker) Close() error {
	h.cancel()
	<-h.done
	return nil
}

func (h *HealthChecker) run(ticks <-chan time.Time, stopTicker func()) {
	defer close(h.done)
	defer stopTicker()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
			h.round(h.applyTargets())
		case <-ticks:
			h.round(h.allStates())
		}
	}
}

// applyTargets installs the pending target set and returns the new states.
func (h *HealthChecker) applyTargets() []*healthState {
	h.mu.Lock()
	ts, changed := h.pending, h.changed
	h.changed = false
	h.mu.Unlock()
	if !changed {
		return nil
	}
	next := make(map[healthKey]*healthState, len(ts))
	var fresh []*healthState
	for _, t := range ts {
		if t.Backend.Node != h.cfg.Node {
			continue
		}
		k := healthKey{t.Backend.Service, t.Backend.Addr}
		if old := h.states[k]; old != nil && old.target.Probe == t.Probe && old.target.Proto == t.Proto {
			old.target = t
			next[k] = old
			continue
		}
		st := &healthState{target: t}
		next[k] = st
		fresh = append(fresh, st)
	}
	h.states = next
	return fresh
}

func (h *HealthChecker) allStates() []*healthState {
	out := make([]*healthState, 0, len(h.states))
	for _, st := range h.states {
		out = append(out, st)
	}
	return out
}

// round probes sts concurrently, then applies the results in order.
func (h *HealthChecker) round(sts []*healthState) {
	if len(sts) == 0 {
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxConcurrentProbes)
	for _, st := range sts {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(h.ctx, h.cfg.Timeout)
			defer cancel()
			st.result = probe(ctx, h.cfg.Dialer, &st.target)
		})
	}
	wg.Wait()
	if h.ctx.Err() != nil {
		return // closing: results of cancelled probes mean nothing
	}
	for _, st := range sts {
		h.apply(st)
	}
}

// apply counts one probe result against the thresholds and publishes a
// change of state.
func (h *HealthChecker) apply(st *healthState) {
	ok := st.result == nil
	switch {
	case !st.known:
		st.known, st.healthy, st.streak = true, ok, 0
	case ok == st.healthy:
		st.streak = 0
		return
	default:
		st.streak++
		need := h.cfg.Fall
		if ok {
			need = h.cfg.Rise
		}
		if st.streak < need {
			return
		}
		st.healthy, st.streak = ok, 0
	}
	b := st.target.Backend
	b.Healthy = st.healthy
	h.log.Info("backend health changed", "service", b.Service, "backend", b.Addr, "healthy", b.Healthy, "probe", st.target.Probe, "err", st.result)
	h.cfg.Publish(b)
}
