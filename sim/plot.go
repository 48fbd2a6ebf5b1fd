package sim

import (
	"fmt"
	"path/filepath"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// series is one line of a figure: y against N.
type series struct {
	name string
	y    func(Result) (float64, bool)
}

// WritePlots writes the figures as SVG into dir and returns their file
// names: convergence time, bytes per node per second, and failure
// detection time, each against N on a log axis.
func (rep Report) WritePlots(dir string) ([]string, error) {
	seconds := func(f func(Result) time.Duration) func(Result) (float64, bool) {
		return func(r Result) (float64, bool) {
			d := f(r)
			return d.Seconds(), d >= 0
		}
	}
	figs := []struct {
		file, title, ylabel string
		logY                bool
		lines               []series
	}{
		{"scale-convergence.svg", "One write reaching the other members", "virtual seconds", false, []series{
			{"50%", seconds(func(r Result) time.Duration { return r.Write.P50 })},
			{"99%", seconds(func(r Result) time.Duration { return r.Write.P99 })},
			{"100%", seconds(func(r Result) time.Duration { return r.Write.P100 })},
		}},
		{"scale-bandwidth.svg", "Bytes sent per node per second", "bytes/s (log)", true, []series{
			{"idle, all", func(r Result) (float64, bool) { return r.Idle.PerNode, r.Idle.PerNode > 0 }},
			{"idle, packets", func(r Result) (float64, bool) { return r.Idle.Packet, r.Idle.Packet > 0 }},
			{"idle, streams", func(r Result) (float64, bool) { return r.Idle.Stream, r.Idle.Stream > 0 }},
			{"1% churn/s, all", func(r Result) (float64, bool) { return r.Churn.PerNode, r.Churn.PerNode > 0 }},
		}},
		{"scale-failure.svg", "Crash until every member marked it failed (slowest crash)", "virtual seconds", false, lossSeries(rep.Main)},
	}
	var out []string
	for _, f := range figs {
		p := plot.New()
		p.Title.Text = f.title
		p.X.Label.Text = "nodes (log)"
		p.Y.Label.Text = f.ylabel
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		if f.logY {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		} else {
			p.Y.Min = 0
		}
		p.Legend.Top, p.Legend.Left = true, true
		var args []any
		for _, s := range f.lines {
			var xy plotter.XYs
			for _, r := range rep.Main {
				if y, ok := s.y(r); ok {
					xy = append(xy, plotter.XY{X: float64(r.N), Y: y})
				}
			}
			if len(xy) > 0 {
				args = append(args, s.name, xy)
			}
		}
		if len(args) == 0 {
			continue
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return out, fmt.Errorf("sim: plotting %s: %w", f.file, err)
		}
		if err := p.Save(16*vg.Centimeter, 10*vg.Centimeter, filepath.Join(dir, f.file)); err != nil {
			return out, fmt.Errorf("sim: writing %s: %w", f.file, err)
		}
		out = append(out, f.file)
	}
	return out, nil
}

// lossSeries is one detection-time line per loss rate measured.
func lossSeries(rs []Result) []series {
	var out []series
	if len(rs) == 0 {
		return out
	}
	for _, f := range rs[0].Failures {
		loss := f.Loss
		out = append(out, series{fmt.Sprintf("%.0f%% loss", loss*100), func(r Result) (float64, bool) {
			if fr := r.failure(loss); fr != nil && fr.Worst >= 0 {
				return fr.Worst.Seconds(), true
			}
			return 0, false
		}})
	}
	return out
}
