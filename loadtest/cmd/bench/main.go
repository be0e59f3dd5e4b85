// Command bench runs the gateway benchmark (loadtest/harness) and writes its
// tables and chart into docs/benchmarks.md. `make bench` runs it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse/loadtest/harness"
)

func main() {
	cfg := harness.DefaultConfig()
	flag.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "interleaved rounds")
	flag.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of each non-stream cell")
	flag.DurationVar(&cfg.StreamDuration, "stream-duration", cfg.StreamDuration, "length of each concurrent-streams cell")
	flag.IntVar(&cfg.Conns, "conns", cfg.Conns, "closed-loop connections in the saturation phase")
	flag.IntVar(&cfg.Streams, "streams", cfg.Streams, "concurrent streams")
	flag.IntVar(&cfg.Chunks, "chunks", cfg.Chunks, "chunks per paced stream")
	flag.DurationVar(&cfg.ChunkInterval, "chunk-interval", cfg.ChunkInterval, "pause between paced chunks")
	flag.IntVar(&cfg.Flips, "flips", cfg.Flips, "propagation probe flips (-1: skip)")
	flag.BoolVar(&cfg.KeepWorkDir, "keep", false, "keep the work dir (logs, store)")
	flag.BoolVar(&cfg.Pinned, "pinned", cfg.Pinned, "also run the saturation phase with each proxy alone on one core (taskset)")
	out := flag.String("out", "docs/benchmarks.md", "markdown file to update (the bench section is replaced); empty: stdout only")
	raw := flag.String("json", "", "also write the raw report as JSON here")
	flag.Parse()
	ctx, stop, tool, err := harness.StartTool("bench", "./cmd/bench")
	if err != nil {
		fatal(err)
	}
	defer stop()
	cfg.Root, cfg.Log = tool.Root, tool.Log
	rep, err := harness.Run(ctx, cfg)
	if err != nil {
		fatal(err)
	}
	command := tool.Command
	chart := "benchmarks.png"
	md := rep.Markdown(chart, command)
	fmt.Println(md)
	if rep.Propagation != nil {
		fmt.Println(rep.Propagation.Markdown(command))
	}
	if *raw != "" {
		b, _ := json.MarshalIndent(rep, "", " ")
		if err := os.WriteFile(*raw, b, 0o644); err != nil {
			fatal(err)
		}
	}
	if *out == "" {
		return
	}
	if err := rep.Chart(filepath.Join(filepath.Dir(*out), chart)); err != nil {
		fatal(err)
	}
	if err := harness.ReplaceSection(*out, "bench", md); err != nil {
		fatal(err)
	}
	if rep.Propagation != nil {
		if err := harness.ReplaceSection(*out, "propagation", rep.Propagation.Markdown(command)); err != nil {
			fatal(err)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s (%v)\n", *out, filepath.Join(filepath.Dir(*out), chart), rep.Elapsed().Round(1e9))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
