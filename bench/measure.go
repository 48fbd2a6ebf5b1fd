package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"meshnet.dev/meshnet/e2e/netlab"
)

const (
	// reachTimeout bounds the wait for a subject's first ping to come back.
	reachTimeout = 20 * time.Second
	// busyCores is how much CPU other work may use in the second before a
	// subject starts, in cores, before its round is flagged: on two cores,
	// half a core taken by something else skews every figure. (The load
	// average cannot tell: the subject before leaves it near 2 for a
	// minute.)
	busyCores = 0.5
	// busyWindow is that second.
	busyWindow = time.Second
)

// otherCPU is the machine's busy CPU, in cores, over busyWindow while the
// benchmark runs nothing; -1 if it cannot be read.
func otherCPU(ctx context.Context) float64 {
	before, err := systemCPU()
	if err != nil {
		return -1
	}
	start := time.Now()
	select {
	case <-time.After(busyWindow):
	case <-ctx.Done():
		return -1
	}
	after, err := systemCPU()
	if err != nil {
		return -1
	}
	return (after - before) / time.Since(start).Seconds()
}

// runSubject checks, sets up, measures and removes one subject.
func (e *env) runSubject(ctx context.Context, s *subject) (res subjectResult) {
	res = subjectResult{Name: s.Name, Title: s.Title, Kernel: s.Kernel, LoadAvg: loadAvg1()}
	if res.OtherCPU = otherCPU(ctx); res.OtherCPU > busyCores {
		res.BusyRounds = 1
	}
	start := time.Now()
	defer func() { res.Duration = time.Since(start).Seconds() }()
	if err := s.Check(ctx, e); err != nil {
		if isUnavailable(err) {
			res.Skipped = err.Error()
		} else {
			res.Error = err.Error()
		}
		return res
	}
	e.progress("%s: setting up", s.Title)
	sess, err := s.Start(ctx, e)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.MTU = sess.MTU
	err = e.measure(ctx, s, sess, &res)
	e.progress("%s: removing", s.Title)
	if stopErr := sess.Stop(); stopErr != nil {
		err = errors.Join(err, fmt.Errorf("removing %s: %w", s.Title, stopErr))
	}
	switch {
	case ctx.Err() != nil:
		res.Error = "interrupted"
	case err != nil:
		res.Error = err.Error()
	}
	return res
}

// measure takes every figure of a subject that is set up, in a fixed
// order: latency on an idle path first, then TCP (with the overlay's CPU
// time read around it), then small UDP packets, then peak memory.
func (e *env) measure(ctx context.Context, s *subject, sess *session, res *subjectResult) error {
	err := netlab.Poll(reachTimeout, 50*time.Millisecond, func() error {
		_, err := e.run(ctx, e.a, "ping", "-n", "-c", "1", "-W", "1", sess.Dst.String())
		return errors.Join(err, ctx.Err())
	})
	if err != nil {
		return fmt.Errorf("host B (%s) is not reachable over %s: %w", sess.Dst, s.Title, err)
	}
	srv, err := e.startIperfServer(s.Name)
	if err != nil {
		return err
	}
	defer srv.Kill()

	e.progress("%s: ping", s.Title)
	if res.Ping, err = e.measurePing(ctx, sess.Dst); err != nil {
		return err
	}
	cpu0, err := overlayCPU(sess.Procs)
	if err != nil {
		return err
	}
	sys0, err := systemCPU()
	if err != nil {
		return err
	}
	e.progress("%s: TCP, 1 stream, %s", s.Title, e.opts.Duration)
	if res.TCP1, err = e.measureTCP(ctx, sess.Dst, 1); err != nil {
		return err
	}
	e.progress("%s: TCP, %d streams, %s", s.Title, e.opts.Streams, e.opts.Duration)
	if res.TCPN, err = e.measureTCP(ctx, sess.Dst, e.opts.Streams); err != nil {
		return err
	}
	cpu1, err := overlayCPU(sess.Procs)
	if err != nil {
		return err
	}
	sys1, err := systemCPU()
	if err != nil {
		return err
	}
	e.progress("%s: UDP, %d-byte datagrams, %s", s.Title, udpDatagram, e.opts.Duration)
	if res.UDP, err = e.measureUDP(ctx, sess.Dst); err != nil {
		return err
	}
	moved := res.TCP1.Bytes + res.TCPN.Bytes
	res.System = &systemUsage{CPUSeconds: sys1 - sys0, BytesMoved: moved, CPUSecondsPerGB: perGB(sys1-sys0, moved)}
	if !s.Kernel {
		if res.Overlay, err = overlayUsage(sess.Procs, cpu0, cpu1, moved); err != nil {
			return err
		}
	}
	if sess.Verify != nil {
		if err := sess.Verify(moved); err != nil {
			return err
		}
	}
	if res.Overlay != nil && e.opts.Idle > 0 {
		e.progress("%s: idle for %s, then resident memory", s.Title, e.opts.Idle)
		select {
		case <-time.After(e.opts.Idle): // the figure is defined as the RSS this long after the load
		case <-ctx.Done():
			return ctx.Err()
		}
		return idleUsage(res.Overlay, sess.Procs)
	}
	return nil
}

// idleUsage reads each overlay process's current resident memory into u.
func idleUsage(u *usage, procs []*netlab.Proc) error {
	for i, p := range procs {
		rss, err := procRSS(p.Cmd.Process.Pid)
		if err != nil {
			return err
		}
		anon, err := procStatusKB(p.Cmd.Process.Pid, "RssAnon")
		if err != nil {
			return err
		}
		u.IdleRSS, u.IdleAnon = max(u.IdleRSS, rss), max(u.IdleAnon, anon)
		if i < len(u.Processes) {
			u.Processes[i].IdleRSS, u.Processes[i].IdleAnon = rss, anon
		}
	}
	return nil
}

// overlayCPU reads the CPU time of each overlay process.
func overlayCPU(procs []*netlab.Proc) ([]float64, error) {
	var out []float64
	for _, p := range procs {
		if err := procIs(p.Cmd.Process.Pid, procBinary(p)); err != nil {
			return nil, err
		}
		s, err := procCPU(p.Cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// overlayUsage charges the CPU time between two readings to the bytes
// moved meanwhile, and reads each process's peak memory.
func overlayUsage(procs []*netlab.Proc, before, after []float64, moved int64) (*usage, error) {
	u := &usage{BytesMoved: moved}
	for i, p := range procs {
		rss, err := procPeakRSS(p.Cmd.Process.Pid)
		if err != nil {
			return nil, err
		}
		cpu := after[i] - before[i]
		u.CPUSeconds += cpu
		u.PeakRSS = max(u.PeakRSS, rss)
		u.Processes = append(u.Processes, procUsage{Host: procNamespace(p), Command: filepath.Base(procBinary(p)), CPUSeconds: cpu, PeakRSS: rss})
	}
	u.CPUSecondsPerGB = perGB(u.CPUSeconds, moved)
	return u, nil
}

// procBinary is the program a netlab process runs: its command line is
// `ip netns exec NS PROGRAM ARGS...`.
func procBinary(p *netlab.Proc) string {
	if len(p.Cmd.Args) > 4 {
		return p.Cmd.Args[4]
	}
	return p.Cmd.Path
}

// procNamespace is the namespace a netlab process runs in.
func procNamespace(p *netlab.Proc) string {
	if len(p.Cmd.Args) > 3 {
		return p.Cmd.Args[3]
	}
	return ""
}

// perGB is CPU seconds per 10^9 bytes moved; 0 when nothing moved.
func perGB(cpu float64, moved int64) float64 {
	if moved <= 0 {
		return 0
	}
	return cpu / (float64(moved) / 1e9)
}
