package harness

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/gatehouse/gatehouse/loadtest/loadgen"
	"github.com/gatehouse/gatehouse/loadtest/mockupstream"
)

// Check is one target of the issue, with what this run measured.
type Check struct {
	Name, Target, Measured string
	Pass                   bool
}

// median of per-round values.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// per collects f over the rounds of one phase and target.
func (r *Report) per(phase, target string, f func(Cell) float64) []float64 {
	var out []float64
	for _, c := range r.Cells[phase][target] {
		out = append(out, f(c))
	}
	return out
}

// ratio collects f(target)/f(base) per round: ratios are taken within a
// round, then the median across rounds.
func (r *Report) ratio(phase, target, base string, f func(Cell) float64) float64 {
	a, b := r.per(phase, target, f), r.per(phase, base, f)
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] != 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return median(out)
}

// diff collects f(target)-f(base) per round, median across rounds.
func (r *Report) diff(phase, target, base string, f func(Cell) float64) float64 {
	a, b := r.per(phase, target, f), r.per(phase, base, f)
	var out []float64
	for i := range min(len(a), len(b)) {
		out = append(out, a[i]-b[i])
	}
	return median(out)
}

func pct(q float64) func(Cell) float64 {
	return func(c Cell) float64 { return float64(c.Result.Pct(q)) }
}

func ttft(q float64) func(Cell) float64 {
	return func(c Cell) float64 { return float64(loadgen.Quantile(c.Stream.TTFT, q)) }
}

func rps(c Cell) float64 { return c.Result.RPS() }

// proxyCPU is the CPU per request of the proxy process alone: the plain
// proxy for B1, nginx (master and worker) for B2, the edge for G.
func proxyCPU(c Cell) float64 {
	for _, n := range []string{"baseline-fast", "nginx", "edge"} {
		if d, ok := c.ProcCPU[n]; ok {
			return float64(d)
		}
	}
	return 0
}

// refs are the reference proxies this run measured (B2 only where nginx
// is installed).
func (r *Report) refs() []string {
	return slices.DeleteFunc(slices.Clone(refs), func(t string) bool { return !slices.Contains(r.Targets, t) })
}

// short is a target's label: "B1" for "B1 proxy".
func short(target string) string {
	label, _, _ := strings.Cut(target, " ")
	return label
}

func natsCPU(c Cell) float64    { return float64(c.ProcCPU["nats"]) }
func controlCPU(c Cell) float64 { return float64(c.ProcCPU["control"]) }
func fps(c Cell) float64        { return c.Stream.FPS() }
func cpuReq(c Cell) float64     { return float64(c.CPUPerReq) }

func us(ns float64) string { return fmt.Sprintf("%.0f µs", ns/1e3) }

func ms(ns float64) string { return fmt.Sprintf("%.2f ms", ns/1e6) }

// Checks evaluates the targets that this run measures.
func (r *Report) Checks() []Check {
	var out []Check
	for _, g := range []string{GKey, GJWT} {
		sat := r.ratio(PhaseSat, g, B1, rps)
		out = append(out, Check{"saturation RPS " + g + " / B1", ">= 0.90", fmt.Sprintf("%.3f", sat), sat >= 0.90})
		for _, ref := range r.refs() {
			if len(r.Cells[PhasePinned][g]) == 0 || len(r.Cells[PhasePinned][ref]) == 0 {
				continue
			}
			pin := r.ratio(PhasePinned, g, ref, rps)
			out = append(out, Check{"saturation RPS, each proxy alone on one core, " + g + " / " + short(ref), ">= 0.90", fmt.Sprintf("%.3f", pin), pin >= 0.90})
			cpu := r.ratio(PhasePinned, g, ref, proxyCPU)
			out = append(out, Check{"proxy CPU per request, one core, " + g + " edge / " + ref, "<= 1.10", fmt.Sprintf("%.3f", cpu), cpu <= 1.10})
		}
		p50 := r.diff(PhaseC1, g, B0, pct(.5))
		p99 := r.diff(PhaseC1, g, B0, pct(.99))
		out = append(out, Check{"added latency c=1 p50 (" + g + " - B0)", "<= 100 µs", us(p50), p50 <= 100e3})
		out = append(out, Check{"added latency c=1 p99 (" + g + " - B0)", "<= 1 ms", us(p99), p99 <= 1e6})
		op := r.ratio(PhaseOpen, g, B1, pct(.99))
		out = append(out, Check{"p99 at B1/2 rate, " + g + " / B1", "<= 1.5", fmt.Sprintf("%.2f", op), op <= 1.5})
		tt := r.diff(PhaseTTFT, g, B0, ttft(.5))
		out = append(out, Check{"added TTFT p50 (" + g + " - B0)", "<= 500 µs", us(tt), tt <= 500e3})
		fr := r.ratio(PhaseStreams, g, B0, fps)
		out = append(out, Check{fmt.Sprintf("frames/s at %d streams, %s / B0", r.Config.Streams, g), ">= 0.97", fmt.Sprintf("%.3f", fr), fr >= 0.97})
	}
	for _, g := range []string{GKey, GJWT} {
		sat := r.ratio(PhaseEmbSat, g, B1, rps)
		out = append(out, Check{"embeddings saturation RPS " + g + " / B1", ">= 0.90", fmt.Sprintf("%.3f", sat), sat >= 0.90})
		p50 := r.diff(PhaseEmbC1, g, B0, pct(.5))
		out = append(out, Check{"embeddings added latency c=1 p50 (" + g + " - B0)", "<= 100 µs", us(p50), p50 <= 100e3})
	}
	var lost int64
	for _, t := range r.Targets {
		for _, c := range r.Cells[PhaseStreams][t] {
			lost += c.Stream.Lost + c.Stream.Failed
		}
	}
	out = append(out, Check{"streams with lost frames or errors (all targets)", "0", fmt.Sprint(lost), lost == 0})
	idle := float64(r.IdleRSS["edge"]) / 1024
	out = append(out, Check{"edge idle RSS", "<= 40 MB", fmt.Sprintf("%.1f MiB", idle), idle <= 40})
	return out
}

// Markdown renders the report; chart is the PNG's path relative to the
// markdown file.
func (r *Report) Markdown(chart, command string) string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "Run %s, %s, %d CPUs, %d interleaved rounds; %v per cell (%v for the stream phase). Command: `%s`.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.GoVersion, r.CPUs, c.Rounds, c.Duration, c.StreamDuration, command)
	fmt.Fprintf(&b, "Every value is the median over rounds; every ratio is taken within a round, then the median. ")
	fmt.Fprintf(&b, "Client, mock upstream, proxy (and for G: edge, JetStream server, control plane) share the machine's %d cores.\n\n", r.CPUs)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "**%s.**\n\n", n)
	}
	b.WriteString("### Targets\n\n| target | goal | measured | |\n|---|---|---|---|\n")
	for _, ch := range r.Checks() {
		mark := "met"
		if !ch.Pass {
			mark = "**missed**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", ch.Name, ch.Target, ch.Measured, mark)
	}
	fmt.Fprintf(&b, "\n![benchmark chart](%s)\n\n", chart)

	fmt.Fprintf(&b, "### Non-streaming, closed loop, %d connections (saturation)\n\n", c.Conns)
	b.WriteString("| target | RPS | / B1 | p50 | p90 | p99 | CPU per request* | failed |\n|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %.0f | %.3f | %s | %s | %s | %s | %d |\n", t, median(r.per(PhaseSat, t, rps)), r.ratio(PhaseSat, t, B1, rps),
			ms(median(r.per(PhaseSat, t, pct(.5)))), ms(median(r.per(PhaseSat, t, pct(.9)))), ms(median(r.per(PhaseSat, t, pct(.99)))),
			us(median(r.per(PhaseSat, t, cpuReq))), r.failed(PhaseSat, t))
	}
	b.WriteString("\n*CPU per request: user+system time of the serving processes (B0: the mock; B1: the proxy; B2: nginx, master and worker; G: the edge plus the JetStream server storing spend events) divided by requests. ")
	if slices.Contains(r.Targets, B2) {
		b.WriteString("nginx runs one worker process, so B2 uses at most one core here, where B1 and the edge may use every core; its access log is off, ")
		b.WriteString("as the edge's is at the harness's LOG_LEVEL=warn (its access log writes at info), though the edge still counts and times every request in its metrics.")
	}
	b.WriteString("\n\n")
	if len(r.Cells[PhasePinned][B1]) > 0 {
		fmt.Fprintf(&b, "### Non-streaming, closed loop, %d connections, each proxy alone on one core\n\n", c.Conns)
		b.WriteString("The proxy under test (B1: the plain proxy; B2: nginx, its master and its one worker; G: the edge) runs alone on the last core (`taskset`); the client, mock upstream, JetStream server and control plane share the others. CPU per request is read from /proc/<pid>/stat of each process, so it does not depend on what else the machine runs. G's JetStream server and control plane store and decode its spend events on the client's core: when that core is the busier one, they, not the edge, bound G's RPS here.\n\n")
		// A ratio column per reference proxy after RPS and after proxy CPU.
		bases := r.refs()
		perBase := func(col func(base string) string) string {
			var cols strings.Builder
			for _, base := range bases {
				cols.WriteString(" " + col(base) + " |")
			}
			return cols.String()
		}
		ratio := func(t string, f func(Cell) float64) string {
			return perBase(func(base string) string { return fmt.Sprintf("%.3f", r.ratio(PhasePinned, t, base, f)) })
		}
		head := perBase(func(base string) string { return "/ " + short(base) })
		fmt.Fprintf(&b, "| target | RPS |%s p50 | p99 | proxy CPU per request |%s JetStream CPU per request | control plane CPU per request | failed |\n|%s\n",
			head, head, strings.Repeat("---|", 8+2*len(bases)))
		for _, t := range r.Targets[1:] {
			fmt.Fprintf(&b, "| %s | %.0f |%s %s | %s | %s |%s %s | %s | %d |\n", t, median(r.per(PhasePinned, t, rps)), ratio(t, rps),
				ms(median(r.per(PhasePinned, t, pct(.5)))), ms(median(r.per(PhasePinned, t, pct(.99)))),
				us(median(r.per(PhasePinned, t, proxyCPU))), ratio(t, proxyCPU), us(median(r.per(PhasePinned, t, natsCPU))),
				us(median(r.per(PhasePinned, t, controlCPU))), r.failed(PhasePinned, t))
		}
		b.WriteString("\n")
	}

	b.WriteString("### Non-streaming, one connection (added latency)\n\n")
	b.WriteString("| target | p50 | p90 | p99 | added p50 | added p90 | added p99 |\n|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", t,
			us(median(r.per(PhaseC1, t, pct(.5)))), us(median(r.per(PhaseC1, t, pct(.9)))), us(median(r.per(PhaseC1, t, pct(.99)))),
			us(r.diff(PhaseC1, t, B0, pct(.5))), us(r.diff(PhaseC1, t, B0, pct(.9))), us(r.diff(PhaseC1, t, B0, pct(.99))))
	}

	rates := r.per(PhaseOpen, B1, func(c Cell) float64 { return c.Rate })
	fmt.Fprintf(&b, "\n### Non-streaming, open loop at half of B1's saturation rate (%.0f req/s; latency from the scheduled send time)\n\n", median(rates))
	b.WriteString("| target | achieved RPS | p50 | p90 | p99 | p99 / B1 | failed |\n|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %.2f | %d |\n", t, median(r.per(PhaseOpen, t, rps)),
			ms(median(r.per(PhaseOpen, t, pct(.5)))), ms(median(r.per(PhaseOpen, t, pct(.9)))), ms(median(r.per(PhaseOpen, t, pct(.99)))),
			r.ratio(PhaseOpen, t, B1, pct(.99)), r.failed(PhaseOpen, t))
	}

	b.WriteString("\n### Streaming\n\n")
	fmt.Fprintf(&b, "Time to first frame, one stream at a time (upstream sends its frames at once), and %d concurrent streams of %d chunks paced %v apart.\n\n",
		c.Streams, c.Chunks, c.ChunkInterval)
	b.WriteString("| target | TTFT p50 | TTFT p99 | added TTFT p50 | frames/s | / B0 | streams ok | lost or failed |\n|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		var ok, bad int64
		for _, cell := range r.Cells[PhaseStreams][t] {
			ok += cell.Stream.OK
			bad += cell.Stream.Lost + cell.Stream.Failed
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %.0f | %.3f | %d | %d |\n", t,
			us(median(r.per(PhaseTTFT, t, ttft(.5)))), us(median(r.per(PhaseTTFT, t, ttft(.99)))), us(r.diff(PhaseTTFT, t, B0, ttft(.5))),
			median(r.per(PhaseStreams, t, fps)), r.ratio(PhaseStreams, t, B0, fps), ok, bad)
	}

	fmt.Fprintf(&b, "\n### Embeddings\n\nPOST /v1/embeddings, one input of about %d bytes, a base64 vector of %d dimensions back (about 8 KiB): one connection (added latency), then %d connections (saturation).\n\n",
		c.PromptBytes, mockupstream.EmbeddingDimensions, c.Conns)
	b.WriteString("| target | c=1 p50 | c=1 p99 | added p50 | added p99 | saturation RPS | / B1 | failed |\n|---|---|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.0f | %.3f | %d |\n", t,
			us(median(r.per(PhaseEmbC1, t, pct(.5)))), us(median(r.per(PhaseEmbC1, t, pct(.99)))),
			us(r.diff(PhaseEmbC1, t, B0, pct(.5))), us(r.diff(PhaseEmbC1, t, B0, pct(.99))),
			median(r.per(PhaseEmbSat, t, rps)), r.ratio(PhaseEmbSat, t, B1, rps), r.failed(PhaseEmbC1, t)+r.failed(PhaseEmbSat, t))
	}

	b.WriteString("\n### Memory (RSS)\n\n| process | idle | peak |\n|---|---|---|\n")
	names := make([]string, 0, len(r.IdleRSS))
	for n := range r.IdleRSS {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(&b, "| %s | %.1f MiB | %.1f MiB |\n", n, float64(r.IdleRSS[n])/1024, float64(r.PeakRSS[n])/1024)
	}
	if errs := r.errors(); len(errs) > 0 {
		b.WriteString("\nFirst errors seen:\n\n")
		for _, e := range errs {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	return b.String()
}

func (r *Report) failed(phase, target string) int64 {
	var n int64
	for _, c := range r.Cells[phase][target] {
		n += c.Result.Failed
	}
	return n
}

func (r *Report) errors() []string {
	var out []string
	for _, phase := range []string{PhaseC1, PhaseSat, PhasePinned, PhaseOpen, PhaseTTFT, PhaseStreams, PhaseEmbC1, PhaseEmbSat} {
		for _, t := range r.Targets {
			for _, c := range r.Cells[phase][t] {
				e := ""
				if c.Result != nil {
					e = c.Result.FirstErr
				} else if c.Stream != nil {
					e = c.Stream.FirstErr
				}
				if e != "" {
					out = append(out, fmt.Sprintf("%s / %s / round %d: %.200s", phase, t, c.Round, e))
					break
				}
			}
		}
	}
	return out
}

// Chart draws saturation RPS and the c=1 latency percentiles per target.
func (r *Report) Chart(path string) error {
	rpsPlot, err := r.barPlot(fmt.Sprintf("Saturation RPS, %d connections", r.Config.Conns), "requests/s", 0,
		func(t string) float64 { return median(r.per(PhaseSat, t, rps)) })
	if err != nil {
		return err
	}

	latPlot := plot.New()
	latPlot.Title.Text = "Latency at one connection"
	latPlot.Y.Label.Text = "µs"
	w := vg.Points(14)
	for i, q := range []float64{.5, .9, .99} {
		v := make(plotter.Values, len(r.Targets))
		for j, t := range r.Targets {
			v[j] = median(r.per(PhaseC1, t, pct(q))) / 1e3
		}
		bc, err := plotter.NewBarChart(v, w)
		if err != nil {
			return err
		}
		bc.Color = plotutil.Color(i + 1)
		bc.Offset = vg.Length(i-1) * w
		latPlot.Add(bc)
		latPlot.Legend.Add(fmt.Sprintf("p%.0f", q*100), bc)
	}
	latPlot.Legend.Top = true
	latPlot.Legend.Left = true
	latPlot.NominalX(r.Targets...)

	ttPlot, err := r.barPlot("Time to first frame p50", "µs", 4,
		func(t string) float64 { return median(r.per(PhaseTTFT, t, ttft(.5))) / 1e3 })
	if err != nil {
		return err
	}

	img := vgimg.New(vg.Points(1050), vg.Points(330))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 3, PadX: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{{rpsPlot, latPlot, ttPlot}}, tiles, dc)
	rpsPlot.Draw(canvases[0][0])
	latPlot.Draw(canvases[0][1])
	ttPlot.Draw(canvases[0][2])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// barPlot is a plot of one bar per target, of value(target), in the
// plotutil colour numbered color.
func (r *Report) barPlot(title, yLabel string, color int, value func(target string) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	vals := make(plotter.Values, len(r.Targets))
	for i, t := range r.Targets {
		vals[i] = value(t)
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return nil, err
	}
	bars.Color = plotutil.Color(color)
	p.Add(bars)
	p.NominalX(r.Targets...)
	return p, nil
}

// ReplaceSection puts body between the markers named name in the file at
// path (creating the file or appending the section when absent), so the
// generated parts of docs/benchmarks.md are rewritten and the written ones
// are kept.
func ReplaceSection(path, name, body string) error {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	block := begin + "\n" + strings.TrimSpace(body) + "\n" + end
	i, j := strings.Index(s, begin), strings.Index(s, end)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(end):]
	default:
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += "\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// Elapsed is the run's wall time.
func (r *Report) Elapsed() time.Duration { return r.Finished.Sub(r.Started) }
