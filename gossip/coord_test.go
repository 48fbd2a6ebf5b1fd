package gossip

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/serf/coordinate"
)

func sampleCoordinate() *coordinate.Coordinate {
	c := coordinate.NewCoordinate(coordinate.DefaultConfig())
	for i := range c.Vec {
		c.Vec[i] = float64(i) * 0.001
	}
	c.Adjustment = -0.0002
	return c
}

func TestCoordinateRoundTrip(t *testing.T) {
	c := sampleCoordinate()
	got, clock, err := decodeCoordinate(appendCoordinate(nil, c, 1.7e9))
	if err != nil || !reflect.DeepEqual(got, c) || clock != 1.7e9 {
		t.Fatalf("got %+v %v, %v; want %+v", got, clock, err, c)
	}
	// A version 1 ack has no clock and is still accepted.
	v1 := appendCoordinate(nil, c, 0)
	v1 = v1[:len(v1)-8]
	v1[0] = 1
	if got, clock, err := decodeCoordinate(v1); err != nil || clock != 0 || !reflect.DeepEqual(got, c) {
		t.Fatalf("version 1: %+v %v %v", got, clock, err)
	}
}

func TestClockSkewEstimate(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	ours := func() time.Time { return base }
	theirs := func() time.Time { return base.Add(90 * time.Second) }
	a, _ := newVivaldi(ours)
	b, _ := newVivaldi(theirs)
	if err := a.observe("b", 10*time.Millisecond, b.payload()); err != nil {
		t.Fatal(err)
	}
	skew, ok := a.clockSkew("b")
	if !ok || skew < 89*time.Second || skew > 91*time.Second {
		t.Fatalf("skew %v %v, want about 90s", skew, ok)
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
		if _, _, err := decodeCoordinate(appendCoordinate(nil, c, 0)); !errors.Is(err, errBadCoord) {
			t.Errorf("%s: got %v, want errBadCoord", name, err)
		}
	}
	b := appendCoordinate(nil, sampleCoordinate(), 0)
	b[0] = 9
	if _, _, err := decodeCoordinate(b); !errors.Is(err, errVersion) {
		t.Errorf("version: got %v", err)
	}
	if _, _, err := decodeCoordinate(b[:10]); err == nil {
		t.Error("truncated coordinate decoded")
	}
}

func TestVivaldiObserve(t *testing.T) {
	a, _ := newVivaldi(time.Now)
	b, _ := newVivaldi(time.Now)
	if _, ok := a.distance("b"); ok {
		t.Fatal("estimate before any observation")
	}
	for range 20 {
		if err := a.observe("b", 20*time.Millisecond, b.payload()); err != nil {
			t.Fatal(err)
		}
		if err := b.observe("a", 20*time.Millisecond, a.payload()); err != nil {
			t.Fatal(err)
		}
	}
	d, ok := a.distance("b")
	if !ok || d < 5*time.Millisecond || d > 60*time.Millisecond {
		t.Errorf("estimate %v %v, want about 20ms", d, ok)
	}
	if err := a.observe("c", time.Millisecond, []byte{1, 2, 3}); err == nil {
		t.Error("garbage payload accepted")
	}
	a.forget("b")
	if _, ok := a.distance("b"); ok {
		t.Error("estimate survived forget")
	}
}
