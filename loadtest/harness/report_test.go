package harness

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/loadtest/loadgen"
)

// synthetic is a one-round report of targets: every proxy serves 1000
// requests a second at 20 µs of CPU each.
func synthetic(targets []string, notes ...string) *Report {
	r := &Report{Config: DefaultConfig(), Targets: targets, Notes: notes, Cells: map[string]map[string][]Cell{},
		IdleRSS: map[string]int64{}, PeakRSS: map[string]int64{}}
	names := map[string]string{B0: "mock-fast", B1: "baseline-fast", B2: "nginx", GKey: "edge", GJWT: "edge"}
	for _, phase := range []string{PhaseC1, PhaseSat, PhasePinned, PhaseOpen, PhaseTTFT, PhaseStreams, PhaseEmbC1, PhaseEmbSat} {
		r.Cells[phase] = map[string][]Cell{}
		for _, t := range targets {
			c := Cell{Round: 1, ProcCPU: map[string]time.Duration{names[t]: 20 * time.Microsecond}}
			if phase == PhaseTTFT || phase == PhaseStreams {
				c.Stream = &loadgen.StreamResult{OK: 1, Frames: 100, Elapsed: time.Second}
			} else {
				c.Result = &loadgen.Result{OK: 1000, Elapsed: time.Second, Latencies: []time.Duration{time.Millisecond}}
			}
			r.Cells[phase][t] = append(r.Cells[phase][t], c)
		}
	}
	return r
}

func checkNames(r *Report) []string {
	var out []string
	for _, c := range r.Checks() {
		out = append(out, c.Name)
	}
	return out
}

func TestReportB2(t *testing.T) {
	r := synthetic(Targets)
	names := checkNames(r)
	for _, want := range []string{
		"saturation RPS, each proxy alone on one core, G key / B1",
		"proxy CPU per request, one core, G key edge / B1 proxy",
		"saturation RPS, each proxy alone on one core, G key / B2",
		"proxy CPU per request, one core, G key edge / B2 nginx",
		"proxy CPU per request, one core, G jwt edge / B2 nginx",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no check %q in %q", want, names)
		}
	}
	for _, c := range r.Checks() {
		if strings.Contains(c.Name, "B2") && (c.Measured != "1.000" || !c.Pass) {
			t.Errorf("%s: %s pass=%v, want 1.000 met", c.Name, c.Measured, c.Pass)
		}
	}
	if err := r.Chart(filepath.Join(t.TempDir(), "chart.png")); err != nil {
		t.Fatal(err)
	}
	md := r.Markdown("chart.png", "make bench")
	for _, want := range []string{
		"| target | RPS | / B1 | / B2 | p50 | p99 | proxy CPU per request | / B1 | / B2 | JetStream CPU per request | control plane CPU per request | failed |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
		"| B2 nginx | 1000 | 1.000 | 1.000 | 1.00 ms | 1.00 ms | 20 µs | 1.000 | 1.000 | 0 µs | 0 µs | 0 |\n",
		"| B2 nginx | 1000 µs | 1000 µs | 1000 µs | 0 µs | 0 µs | 0 µs |\n", // c=1
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestReportWithoutNginx(t *testing.T) {
	r := synthetic([]string{B0, B1, GKey, GJWT}, "nginx not installed: B2 skipped")
	for _, n := range checkNames(r) {
		if strings.Contains(n, "B2") {
			t.Errorf("check %q without B2", n)
		}
	}
	md := r.Markdown("chart.png", "make bench")
	if !strings.Contains(md, "nginx not installed: B2 skipped") {
		t.Error("markdown does not say B2 was skipped")
	}
	if strings.Contains(md, "/ B2") || strings.Contains(md, "| B2 nginx") {
		t.Errorf("markdown has B2 columns or rows:\n%s", md)
	}
	if !strings.Contains(md, "| target | RPS | / B1 | p50 | p99 | proxy CPU per request | / B1 | JetStream CPU per request | control plane CPU per request | failed |\n|---|---|---|---|---|---|---|---|---|---|\n") {
		t.Errorf("pinned table without B2 differs from before:\n%s", md)
	}
}
