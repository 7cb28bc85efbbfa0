package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
	"time"
)

// Series is one line of the launches chart: cumulative runners launched at each time.
type Series struct {
	Name   string
	Color  string
	Dashed bool
	X, Y   []float64 // production seconds, runners
}

// LaunchSeries turns a burst's launch times into a cumulative step line.
func LaunchSeries(b *BurstResult, color string) Series {
	s := Series{Name: "runners launched: " + b.Scenario.Name, Color: color, X: []float64{0}, Y: []float64{0}}
	for i, t := range b.Launches {
		s.X = append(s.X, t, t)
		s.Y = append(s.Y, float64(i), float64(i+1))
	}
	return s
}

// QuotaSeries is the most launches the binding quota allows by each time, for n jobs
// (Quota.Allowed per job, capped at n).
func QuotaSeries(q Quota, n int, until float64, color string) Series {
	shape := fmt.Sprintf("%g at once, then %g/s", q.Burst, q.PerSecond)
	if q.Window > 0 {
		shape = fmt.Sprintf("%g in any %s", q.Burst, q.Window)
	}
	s := Series{Name: "quota: " + q.Name + " (" + shape + ")", Color: color, Dashed: true}
	per := math.Max(q.PerJob, 1e-9)
	steps := 400
	for i := 0; i <= steps; i++ {
		t := until * float64(i) / float64(steps)
		y := math.Min(float64(n), q.Allowed(time.Duration(t*float64(time.Second)))/per)
		if q.Window > 0 && i > 0 && y != s.Y[len(s.Y)-1] {
			s.X = append(s.X, t) // a vertical step where a window opens
			s.Y = append(s.Y, s.Y[len(s.Y)-1])
		}
		s.X = append(s.X, t)
		s.Y = append(s.Y, y)
	}
	return s
}

// WriteSVG draws the series on one chart, hand-written SVG with no dependency. marks
// are vertical lines (e.g. the new image's build time) labelled by their key.
func WriteSVG(w io.Writer, title string, series []Series, marks map[string]float64) error {
	const width, height = 900.0, 520.0
	const left, right, top, bottom = 70.0, 20.0, 50.0, 130.0
	xmax, ymax := 1.0, 1.0
	for _, s := range series {
		for i := range s.X {
			xmax, ymax = math.Max(xmax, s.X[i]), math.Max(ymax, s.Y[i])
		}
	}
	for _, v := range marks {
		xmax = math.Max(xmax, v)
	}
	xmax, ymax = niceCeil(xmax*1.02), niceCeil(ymax)
	pw, ph := width-left-right, height-top-bottom
	px := func(x float64) float64 { return left + x/xmax*pw }
	py := func(y float64) float64 { return top + ph - y/ymax*ph }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="24" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	for i := 0; i <= 5; i++ {
		xv, yv := xmax*float64(i)/5, ymax*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(xv), py(0), px(xv), py(ymax))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(0), py(yv), px(xmax), py(yv))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", px(xv), py(0)+16, round3(xv))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", px(0)-6, py(yv)+4, round3(yv))
	}
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(xmax), py(0))
	fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(0), py(ymax))
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">production seconds since the first job was queued</text>`+"\n", left+pw/2, py(0)+34)
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">runners launched</text>`+"\n", top+ph/2)
	for _, k := range sortedKeys(marks) {
		x := px(marks[k])
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888" stroke-dasharray="2 4"/>`+"\n", x, py(0), x, py(ymax))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#555" text-anchor="end">%s</text>`+"\n", x-4, py(ymax)+14, html.EscapeString(k))
	}
	for _, s := range series {
		if len(s.X) == 0 {
			continue
		}
		var pts []string
		for i := range s.X {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(s.X[i]), py(s.Y[i])))
		}
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="8 5"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", s.Color, dash, strings.Join(pts, " "))
	}
	for i, s := range series {
		y := height - bottom + 56 + float64(i)*18
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="8 5"`
		}
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", left, y-4, left+30, y-4, s.Color, dash)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f">%s</text>`+"\n", left+38, y, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// niceCeil rounds up to 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten, so the
// five grid steps read well and the data fills most of the chart.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// Chart draws every burst's launches against the binding quotas and the new image's
// build.
func Chart(w io.Writer, r *Report) error {
	colors := []string{"#1f77b4", "#d62728", "#2ca02c"}
	var series []Series
	until := 1.0
	for _, b := range r.Bursts {
		until = math.Max(until, math.Max(b.LaunchSpan, b.Minimum))
	}
	quotaColors := []string{"#7f7f7f", "#ff7f0e"}
	seen := map[string]bool{}
	for i, b := range r.Bursts {
		series = append(series, LaunchSeries(b, colors[i%len(colors)]))
		if len(b.Bounds) > 0 {
			q := b.Bounds[0].Quota
			if key := fmt.Sprintf("%s/%g/%g", q.ID, q.Burst, q.PerSecond); !seen[key] {
				seen[key] = true
				series = append(series, QuotaSeries(q, b.Jobs, until*1.02, quotaColors[len(seen)%len(quotaColors)]))
			}
		}
	}
	marks := map[string]float64{}
	if r.Config.BuildSeconds > 0 {
		for _, s := range r.Config.LabelSets {
			if s.New {
				marks["new image built"] = r.Config.BuildSeconds
			}
		}
	}
	title := fmt.Sprintf("Runners launched for %d jobs queued at once (time scale %.2f, production seconds)", r.Config.Jobs, r.Config.TimeScale)
	return WriteSVG(w, title, series, marks)
}
