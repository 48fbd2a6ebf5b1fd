package gossip

import (
	"errors"
	"fmt"
	"math"

	"github.com/hashicorp/serf/coordinate"
)

// A Vivaldi coordinate rides on every memberlist ping ack:
//
//	version byte | dims byte | dims x float64 | error | adjustment | height
//
// Floats are IEEE 754 big-endian, in seconds (error is dimensionless).
const (
	coordVersion = 1
	// coordDims is the coordinate's dimensionality; the ack payload
	// carries it so a change can be detected and refused.
	coordDims = 8
	// maxCoordComponent bounds every component, in seconds: far beyond
	// any real round trip, small enough that one forged coordinate can't
	// throw ours to infinity.
	maxCoordComponent = 100.0
)

var errBadCoord = errors.New("coordinate is invalid")

func appendCoordinate(b []byte, c *coordinate.Coordinate) []byte {
	b = append(b, coordVersion, byte(len(c.Vec)))
	for _, v := range c.Vec {
		b = appendFloat(b, v)
	}
	b = appendFloat(b, c.Error)
	b = appendFloat(b, c.Adjustment)
	return appendFloat(b, c.Height)
}

// decodeCoordinate decodes an ack payload.
func decodeCoordinate(buf []byte) (*coordinate.Coordinate, error) {
	r := reader{buf: buf}
	if v := r.byte(); r.err == nil && v != coordVersion {
		return nil, fmt.Errorf("%w %d", errVersion, v)
	}
	dims := int(r.byte())
	if r.err == nil && dims != coordDims {
		return nil, fmt.Errorf("%w: %d dimensions, want %d", errBadCoord, dims, coordDims)
	}
	c := &coordinate.Coordinate{Vec: make([]float64, dims)}
	for i := range c.Vec {
		c.Vec[i] = r.float()
	}
	c.Error = r.float()
	c.Adjustment = r.float()
	c.Height = r.float()
	if err := r.finish(); err != nil {
		return nil, err
	}
	if !c.IsValid() || c.Error < 0 || c.Height < 0 {
		return nil, errBadCoord
	}
	if !bounded(c.Error) || !bounded(c.Adjustment) || !bounded(c.Height) {
		return nil, errBadCoord
	}
	for _, v := range c.Vec {
		if !bounded(v) {
			return nil, errBadCoord
		}
	}
	return c, nil
}

func bounded(v float64) bool { return math.Abs(v) <= maxCoordComponent }
