package wire

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/hashicorp/serf/coordinate"
)

func sampleCoordinate() *coordinate.Coordinate {
	cfg := coordinate.DefaultConfig()
	cfg.Dimensionality = CoordDims
	c := coordinate.NewCoordinate(cfg)
	for i := range c.Vec {
		c.Vec[i] = float64(i) * 0.001
	}
	c.Adjustment = -0.0002
	return c
}

func TestCoordinateRoundTrip(t *testing.T) {
	c := sampleCoordinate()
	got, clock, err := DecodeCoordinate(AppendCoordinate(nil, c, 1.7e9))
	if err != nil || !reflect.DeepEqual(got, c) || clock != 1.7e9 {
		t.Fatalf("got %+v %v, %v; want %+v", got, clock, err, c)
	}
	// A version 1 ack has no clock and is still accepted.
	v1 := AppendCoordinate(nil, c, 0)
	v1 = v1[:len(v1)-8]
	v1[0] = 1
	if got, clock, err := DecodeCoordinate(v1); err != nil || clock != 0 || !reflect.DeepEqual(got, c) {
		t.Fatalf("version 1: %+v %v %v", got, clock, err)
	}
}

func TestCoordinateRejects(t *testing.T) {
	nan := sampleCoordinate()
	nan.Vec[3] = math.NaN()
	huge := sampleCoordinate()
	huge.Height = 1e9
	neg := sampleCoordinate()
	neg.Error = -1
	short := sampleCoordinate()
	short.Vec = short.Vec[:2]
	for name, c := range map[string]*coordinate.Coordinate{"nan": nan, "huge": huge, "negative error": neg, "dims": short} {
		if _, _, err := DecodeCoordinate(AppendCoordinate(nil, c, 0)); !errors.Is(err, ErrBadCoord) {
			t.Errorf("%s: got %v, want ErrBadCoord", name, err)
		}
	}
	b := AppendCoordinate(nil, sampleCoordinate(), 0)
	b[0] = 9
	if _, _, err := DecodeCoordinate(b); !errors.Is(err, ErrVersion) {
		t.Errorf("version: got %v", err)
	}
	if _, _, err := DecodeCoordinate(b[:10]); err == nil {
		t.Error("truncated coordinate decoded")
	}
}
