package netlab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Host is one namespace on the lab's underlay.
type Host struct {
	lab    *Lab
	Name   string
	NS     string     // namespace name
	Addr   netip.Addr // eth0's address: on the underlay, or private behind a NAT
	Dir    string     // scratch directory for this host
	uplink string     // the bridge-side veth, in the underlay or a NAT router
}

// Uplink is the bridge-side interface of the host's eth0: in the underlay
// namespace, or for a host behind a NAT in the NAT's router (NAT.Router).
func (h *Host) Uplink() string { return h.uplink }

// Command returns a command that runs inside the host's namespace.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Run runs a command in the host and returns its combined output.
func (h *Host) Run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fmt.Fprintf(h.lab.log, "+ [%s] %s %s\n", h.Name, name, strings.Join(args, " "))
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("[%s] %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Proc is a background process in a host.
type Proc struct {
	Cmd  *exec.Cmd
	Log  string // file holding its stdout and stderr
	done chan struct{}
	err  error
}

// Start starts a long-running command in the host with output to a log
// file in the host's directory.
func (h *Host) Start(logName string, name string, args ...string) (*Proc, error) {
	logPath := h.Dir + "/" + logName + ".log"
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(h.lab.log, "+ [%s] %s %s &\n", h.Name, name, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	h.lab.track(p)
	return p, nil
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	p.Cmd.Process.Kill()
	<-p.done
}

// Wait waits up to timeout for the process to exit and returns its error.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("process %d still running after %s", p.Cmd.Process.Pid, timeout)
	}
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Output returns what the process logged so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(bytes.TrimSpace(b))
}

// Poll calls cond every interval until it returns nil or timeout passes,
// and returns cond's last error.
func Poll(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}
