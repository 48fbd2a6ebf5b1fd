package sim

import (
	"fmt"
	"time"
)

// The latency model: nodes live in three regions, round-robin by index.
// One-way delays are fixed per region pair (no jitter), so Vivaldi sees a
// clean signal and runs are comparable.
const (
	// Regions is the number of regions.
	Regions = 3
	// IntraRegionDelay is the one-way delay between two nodes of one region.
	IntraRegionDelay = time.Millisecond
)

// interRegionDelay is the one-way delay between two different regions:
// 0-1 40 ms, 1-2 60 ms, 0-2 80 ms.
func interRegionDelay(a, b int) time.Duration {
	switch a + b {
	case 1:
		return 40 * time.Millisecond
	case 3:
		return 60 * time.Millisecond
	}
	return 80 * time.Millisecond
}

// nodeName names node i; its region is encoded in the name so that the
// latency function, which memnet calls for every packet under its lock,
// needs no lookup.
func nodeName(i int) string { return fmt.Sprintf("r%d-%05d", i%Regions, i) }

// regionOf returns the region encoded by nodeName, or -1.
func regionOf(name string) int {
	if len(name) < 2 || name[0] != 'r' || name[1] < '0' || int(name[1]-'0') >= Regions {
		return -1
	}
	return int(name[1] - '0')
}

// delay is memnet's latency function.
func delay(from, to string) time.Duration {
	a, b := regionOf(from), regionOf(to)
	if a < 0 || b < 0 || a == b {
		return IntraRegionDelay
	}
	return interRegionDelay(a, b)
}
