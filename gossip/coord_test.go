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
	got, err := decodeCoordinate(appendCoordinate(nil, c))
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("got %+v, %v; want %+v", got, err, c)
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
		if _, err := decodeCoordinate(appendCoordinate(nil, c)); !errors.Is(err, errBadCoord) {
			t.Errorf("%s: got %v, want errBadCoord", name, err)
		}
	}
	b := appendCoordinate(nil, sampleCoordinate())
	b[0] = 9
	if _, err := decodeCoordinate(b); !errors.Is(err, errVersion) {
		t.Errorf("version: got %v", err)
	}
	if _, err := decodeCoordinate(b[:10]); err == nil {
		t.Error("truncated coordinate decoded")
	}
}

func TestVivaldiObserve(t *testing.T) {
	a, _ := newVivaldi()
	b, _ := newVivaldi()
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
