package wire

import (
	"errors"
	"fmt"
	"math"

	"github.com/hashicorp/serf/coordinate"
)

// A Vivaldi coordinate rides on every memberlist ping ack:
//
//	version byte | dims byte | dims x float64 | error | adjustment | height |
//	clock (version 2 only)
//
// Floats are IEEE 754 big-endian, in seconds (error is dimensionless);
// clock is the acking node's wall clock in Unix seconds when it built the
// ack, from which the prober estimates the clock skew between them.
// Version 1 acks (no clock) are still accepted.
const (
	coordVersion = 2
	// CoordDims is the coordinate's dimensionality; the ack payload
	// carries it so a change can be detected and refused.
	CoordDims = 8
)

// ErrBadCoord: a coordinate's shape or values are out of bounds.
var ErrBadCoord = errors.New("coordinate is invalid")

// AppendCoordinate appends an ack payload: c and the acker's clock.
func AppendCoordinate(b []byte, c *coordinate.Coordinate, clock float64) []byte {
	b = append(b, coordVersion, byte(len(c.Vec)))
	for _, v := range c.Vec {
		b = appendFloat(b, v)
	}
	b = appendFloat(b, c.Error)
	b = appendFloat(b, c.Adjustment)
	b = appendFloat(b, c.Height)
	return appendFloat(b, clock)
}

// DecodeCoordinate decodes an ack payload: the coordinate and, from
// version 2 on, the acker's clock (0 when absent).
func DecodeCoordinate(buf []byte) (*coordinate.Coordinate, float64, error) {
	r := reader{buf: buf}
	version := r.byte()
	if r.err == nil && version != 1 && version != coordVersion {
		return nil, 0, fmt.Errorf("%w %d", ErrVersion, version)
	}
	dims := int(r.byte())
	if r.err == nil && dims != CoordDims {
		return nil, 0, fmt.Errorf("%w: %d dimensions, want %d", ErrBadCoord, dims, CoordDims)
	}
	c := &coordinate.Coordinate{Vec: make([]float64, dims)}
	for i := range c.Vec {
		c.Vec[i] = r.float()
	}
	c.Error = r.float()
	c.Adjustment = r.float()
	c.Height = r.float()
	var clock float64
	if version >= 2 {
		clock = r.float()
	}
	if err := r.finish(); err != nil {
		return nil, 0, err
	}
	if !c.IsValid() || c.Error < 0 || c.Height < 0 {
		return nil, 0, ErrBadCoord
	}
	if !bounded(c.Error) || !bounded(c.Adjustment) || !bounded(c.Height) {
		return nil, 0, ErrBadCoord
	}
	for _, v := range c.Vec {
		if !bounded(v) {
			return nil, 0, ErrBadCoord
		}
	}
	if math.IsNaN(clock) || math.IsInf(clock, 0) || clock < 0 || clock > maxClock {
		return nil, 0, ErrBadCoord
	}
	return c, clock, nil
}

func bounded(v float64) bool { return math.Abs(v) <= maxCoordComponent }
