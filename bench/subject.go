package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"meshnet.dev/meshnet/e2e/netlab"
)

// A subject is one way of carrying traffic from host A to host B. Each is
// set up on the same pair of namespaces in turn, measured, and removed
// before the next one starts.
type subject struct {
	// Name is the subject's --subjects name.
	Name string
	// Title labels it in the table.
	Title string
	// Kernel subjects forward in the kernel: there is no overlay process
	// to charge CPU time and memory to.
	Kernel bool
	// Check says why the subject cannot run in this build or on this
	// machine (an *unavailable), or returns nil. It touches no namespace.
	Check func(ctx context.Context, e *env) error
	// Start sets the subject up on the pair. On error it has already
	// removed whatever it made.
	Start func(ctx context.Context, e *env) (*session, error)
}

// session is a subject set up on the pair.
type session struct {
	// Dst is host B's address on the subject's network.
	Dst netip.Addr
	// MTU of the subject's interface; 0 when unknown.
	MTU int
	// Procs are the overlay processes, host A's first; none for kernel
	// subjects.
	Procs []*netlab.Proc
	// Stop removes everything Start made.
	Stop func() error
	// Verify, if set, checks after the TCP runs that the traffic took the
	// path the subject claims (say, the encrypted transport), given the
	// bytes the receivers got.
	Verify func(moved int64) error
}

// unavailable is a subject this build or machine cannot run: it is skipped
// and reported, not failed.
type unavailable struct{ reason string }

func (u *unavailable) Error() string { return "not available in this build: " + u.reason }

func notAvailable(format string, args ...any) error {
	return &unavailable{reason: fmt.Sprintf(format, args...)}
}

func isUnavailable(err error) bool {
	var u *unavailable
	return errors.As(err, &u)
}

// subjects lists every subject in table order. The first is the baseline
// every ratio is taken against.
func subjects() []*subject {
	return []*subject{
		vethSubject(),
		vxlanSubject(),
		wireguardGoSubject(),
		meshnetPlainSubject("tap"),
		meshnetPlainSubject("tun"),
		meshnetEncryptedSubject("tap"),
		meshnetEncryptedSubject("tun"),
	}
}

// Names of the reference subjects every figure is compared with.
const (
	baselineName = "veth"
	wgGoName     = "wg-go"
)

func subjectNames() []string {
	var names []string
	for _, s := range subjects() {
		names = append(names, s.Name)
	}
	return names
}

func findSubject(name string) *subject {
	for _, s := range subjects() {
		if s.Name == name {
			return s
		}
	}
	return nil
}
