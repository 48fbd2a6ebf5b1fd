package keydist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// RotatorConfig configures a Rotator.
type RotatorConfig struct {
	// Interval between regular rotations; 0 means DefaultRotationInterval.
	Interval time.Duration
	// PurgeDelay after an eviction rotation; 0 means DefaultPurgeDelay.
	PurgeDelay time.Duration
	// RetryDelay after a failed rotation; 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// Last is when the keys were last rotated (Issuer.State().KeysIssuedAt),
	// so a restart does not postpone the schedule.
	Last time.Time
	// Clock drives the timers; SystemClock() in production.
	Clock Clock
	// Logger receives one line per rotation; nil discards.
	Logger *slog.Logger
	// Rotate performs one rotation: typically Issuer.Rotate with
	// reason.Emergency(), then publishing the record. It is called from the
	// rotator's goroutine only, never concurrently; ctx ends on Close.
	Rotate func(ctx context.Context, reason Reason) error
}

// Rotator runs the admin node's rotation schedule in one goroutine, owned by
// the Rotator and stopped by Close.
type Rotator struct {
	cfg   RotatorConfig
	log   *slog.Logger
	sched *Schedule // owned by the goroutine

	mu      sync.Mutex
	pending Reason // strongest requested reason, guarded by mu
	wake    chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRotator validates cfg and starts the schedule.
func NewRotator(cfg RotatorConfig) (*Rotator, error) {
	if cfg.Rotate == nil {
		return nil, fmt.Errorf("rotator: no Rotate function configured")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sched, err := NewSchedule(cfg.Interval, cfg.PurgeDelay, cfg.RetryDelay, cfg.Last)
	if err != nil {
		return nil, fmt.Errorf("rotator: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Rotator{
		cfg:    cfg,
		log:    log.With("component", "keydist.rotator"),
		sched:  sched,
		wake:   make(chan struct{}, 1),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go r.run()
	return r, nil
}

// Trigger asks for a rotation now. It never blocks; requests made while one
// is pending coalesce into one rotation with the strongest reason, so an
// eviction is never downgraded to a regular rotation.
func (r *Rotator) Trigger(reason Reason) {
	r.mu.Lock()
	r.pending = max(r.pending, reason)
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Close stops the schedule and waits for the goroutine to exit, cancelling a
// rotation in progress.
func (r *Rotator) Close() error {
	r.cancel()
	<-r.done
	return nil
}

func (r *Rotator) run() {
	defer close(r.done)
	for {
		at, why := r.sched.Next()
		t := r.cfg.Clock.NewTimer(max(0, at.Sub(r.cfg.Clock.Now())))
		select {
		case <-r.ctx.Done():
			t.Stop()
			return
		case <-r.wake:
			t.Stop()
			r.mu.Lock()
			reason := r.pending
			r.pending = 0
			r.mu.Unlock()
			if reason != 0 {
				r.rotate(reason)
			}
		case <-t.C():
			r.rotate(why)
		}
	}
}

func (r *Rotator) rotate(reason Reason) {
	err := r.cfg.Rotate(r.ctx, reason)
	now := r.cfg.Clock.Now()
	if r.ctx.Err() != nil {
		return
	}
	if err != nil {
		r.sched.Failed(now, reason)
		next, _ := r.sched.Next()
		if errors.Is(err, ErrPostponed) {
			r.log.Info("key rotation postponed", "reason", reason.String(), "why", err, "retry_at", next)
			return
		}
		r.log.Error("key rotation failed; will retry", "reason", reason.String(), "err", err, "retry_at", next)
		return
	}
	r.sched.Done(now, reason)
	next, nextWhy := r.sched.Next()
	r.log.Info("rotated keys", "reason", reason.String(), "next", next, "next_reason", nextWhy.String())
}
