// Command scale measures an edge with a large policy (default 1,000,000
// virtual keys and 10,000 teams) and writes the result into
// docs/benchmarks.md. `make bench-scale` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/loadtest/harness"
	"github.com/gatehouse/gatehouse/loadtest/scale"
)

func main() {
	c := scale.Config{}
	flag.IntVar(&c.Keys, "keys", 1_000_000, "virtual keys")
	flag.IntVar(&c.Teams, "teams", 10_000, "teams")
	flag.IntVar(&c.EdgeStartups, "startups", 3, "edge start-ups to time")
	flag.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the in-process replay here")
	out := flag.String("out", "docs/benchmarks.md", "markdown file to update (the scale section); empty: stdout only")
	flag.Parse()
	ctx, stop, tool, err := harness.StartTool("bench-scale", "./cmd/scale")
	if err != nil {
		fatal(err)
	}
	defer stop()
	c.Root, c.Log = tool.Root, tool.Log
	r, err := scale.Run(ctx, c)
	if err != nil {
		fatal(err)
	}
	md := markdown(r, tool.Command)
	fmt.Println(md)
	if *out != "" {
		if err := harness.ReplaceSection(*out, "scale", md); err != nil {
			fatal(err)
		}
	}
}

func markdown(r *scale.Result, command string) string {
	ready := slices.Clone(r.EdgeReady)
	slices.Sort(ready)
	med := ready[len(ready)/2]
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s. %d virtual keys and %d teams in the policy stream (%.0f MiB); a new edge process replays it. Command: `%s`.\n\n",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Keys, r.Teams, float64(r.StreamBytes)/(1<<20), command)
	b.WriteString("| measure | value | goal |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| writing the events (async publishes, one client) | %v | |\n", r.PublishTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "| edge process start -> ready, replaying the whole stream | %v | |\n", r.EdgeReplay.Round(time.Millisecond))
	fmt.Fprintf(&b, "| edge RSS 5 s after ready by replay | %.0f MiB | < 400 MB |\n", float64(r.EdgeRSSReplay)/1024)
	fmt.Fprintf(&b, "| control plane start -> snapshot stored (%.0f MiB) | %v | |\n", float64(r.SnapshotBytes)/(1<<20), r.SnapshotWrite.Round(time.Millisecond))
	fmt.Fprintf(&b, "| edge process start -> ready from the snapshot (median of %d; all: %v) | %v | < 5 s |\n", len(ready), roundAll(r.EdgeReady), med.Round(time.Millisecond))
	fmt.Fprintf(&b, "| edge RSS when ready / 5 s later | %.0f MiB / %.0f MiB | < 400 MB |\n", float64(r.EdgeRSSReady)/1024, float64(r.EdgeRSSSettled)/1024)
	if r.InProcReplay > 0 {
		fmt.Fprintf(&b, "| in-process replay to ready | %v | |\n", r.InProcReplay.Round(time.Millisecond))
		fmt.Fprintf(&b, "| live heap of the state (in-process, after GC) | %.0f MiB (%.0f B per key) | |\n", float64(r.InProcHeapBytes)/(1<<20), float64(r.InProcHeapBytes)/float64(r.Keys))
		fmt.Fprintf(&b, "| key lookup by hash, random keys | %.0f ns/op, %d allocs | |\n", r.LookupNs, r.LookupAllocs)
		fmt.Fprintf(&b, "| lookup + CheckKey decision | %.0f ns/op, %d allocs | <= 300 ns, 0 allocs |\n", r.CheckKeyNs, r.CheckKeyAllocs)
	}
	return b.String()
}

func roundAll(v []time.Duration) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, d := range v {
		out[i] = d.Round(10 * time.Millisecond)
	}
	return out
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}
