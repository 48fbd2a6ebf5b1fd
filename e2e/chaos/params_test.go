package chaos

import (
	"os"
	"strconv"
	"time"
)

// params size a chaos run. The CI run keeps every kind of fault with short
// windows; CHAOS_FULL=1 (make chaos) lengthens windows and repeats kills.
type params struct {
	full      bool
	hosts     int
	rotation  time.Duration // admin key rotation interval, throughout
	baseline  time.Duration // traffic before the first fault
	fault     time.Duration // length of each fault window
	recovery  time.Duration // quiet time after each fault has reconverged
	losses    []int         // underlay loss percentages, one window each
	kills     int           // SIGKILL/restart rounds, the first on the admin node
	killDown  time.Duration // how long a killed node stays down
	skews     []int64       // clock offsets (seconds) of the skewed node, one window each
	bound     time.Duration // reconvergence bound after each fault
	grace     time.Duration // losses allowed this long after reconvergence
	streamMbs int           // TCP stream pace
}

func chaosParams() params {
	p := params{
		hosts:     8,
		rotation:  3 * time.Second,
		baseline:  5 * time.Second,
		fault:     8 * time.Second,
		recovery:  3 * time.Second,
		losses:    []int{10, 30},
		kills:     2,
		killDown:  3 * time.Second,
		skews:     []int64{30 * 24 * 3600},
		bound:     60 * time.Second,
		grace:     3 * time.Second,
		streamMbs: 4,
	}
	if os.Getenv("CHAOS_FULL") != "" {
		p.full = true
		p.baseline = 20 * time.Second
		p.fault = 30 * time.Second
		p.recovery = 15 * time.Second
		p.kills = 6
		p.killDown = 6 * time.Second
		p.skews = []int64{30 * 24 * 3600, -30 * 24 * 3600}
		p.streamMbs = 8
	}
	if d, err := time.ParseDuration(os.Getenv("CHAOS_ROTATION")); err == nil && d >= time.Second {
		p.rotation = d
	}
	if n, err := strconv.Atoi(os.Getenv("CHAOS_HOSTS")); err == nil && n >= 8 {
		p.hosts = n
	}
	return p
}

// slowReconvergence is the reconvergence time past which the report notes
// what kept the cluster apart last: a SIGKILLed node is normally back in
// every view within a few seconds.
const slowReconvergence = 5 * time.Second
