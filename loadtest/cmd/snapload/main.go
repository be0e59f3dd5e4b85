// Command snapload times an edge's start from a policy snapshot in
// process, in CPU seconds as well as wall time (a busy machine inflates
// wall time, not the CPU a load takes), with the RSS it leaves:
//
//	snapload -nats URL -mode seed -keys 1000000 -file /tmp/snap.txt  # a snapshot of N keys (bench-scale's), stored and written to a file
//	snapload -nats URL -mode load   # what an edge does: object store download + decode + apply (CompactKeys)
//	snapload -mode file -file /tmp/snap.txt  # decode + apply only
//
// seed replaces the policy stream of the server it is given: use a
// scratch server (`gatehouse nats -port 4391 -store /tmp/x`).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/loadtest/scale"
	"github.com/gatehouse/gatehouse/policy"
)

func main() {
	url := flag.String("nats", "nats://127.0.0.1:4222", "NATS server (seed, load)")
	mode := flag.String("mode", "load", "seed | load | file")
	keys := flag.Int("keys", 100_000, "keys to seed")
	teams := flag.Int("teams", 10_000, "teams to seed")
	file := flag.String("file", "", "snapshot file (seed writes it, file reads it)")
	prof := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	t0, c0 := time.Now(), cpu()
	var s *policy.Snapshot
	var err error
	switch *mode {
	case "seed":
		err = seed(*url, *keys, *teams, *file)
	case "load":
		s, err = load(*url)
	case "file":
		s, err = readFile(*file)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fatal(err)
	}
	n := 0
	if s != nil {
		n = s.NumKeys()
	}
	fmt.Printf("%s: %d keys, wall %v, cpu %v, rss %d MiB (peak %d MiB)\n", *mode, n, time.Since(t0).Round(time.Millisecond),
		(cpu() - c0).Round(time.Millisecond), rss()>>10, peakRSS()>>10)
	runtime.KeepAlive(s)
}

// seed stores a snapshot of bench-scale's keys. The stream starts past
// the snapshot's sequence (an edge refuses a snapshot ahead of its
// stream) and holds one event, so nothing is replayed after the load.
func seed(url string, keys, teams int, file string) error {
	ctx := context.Background()
	nc, js, err := events.Connect(url, "snapload")
	if err != nil {
		return err
	}
	defer nc.Close()
	now := time.Now().UTC()
	objs := make([]any, 0, keys+teams)
	for i := range teams {
		objs = append(objs, scale.TeamObject(i, now))
	}
	for i := range keys {
		objs = append(objs, scale.KeyObject(i, teams, now))
	}
	s, err := policy.SnapshotOf(nil, objs...)
	if err != nil {
		return err
	}
	if err := js.DeleteStream(ctx, events.PolicyStream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return err
	}
	cfg := events.PolicyStreamConfig(events.StreamOptions{})
	cfg.FirstSeq = s.Seq() + 10
	st, err := js.CreateStream(ctx, cfg)
	if err != nil {
		return err
	}
	data, err := json.Marshal(objs[0])
	if err != nil {
		return err
	}
	env, err := json.Marshal(events.Envelope{ID: events.NewID(), Type: events.TypeFor(events.KindTeam, events.ActionUpserted), Time: now, Actor: "snapload", Data: data})
	if err != nil {
		return err
	}
	if _, err := js.Publish(ctx, events.Subject(events.KindTeam, scale.TeamID(0)), env); err != nil {
		return err
	}
	if _, err := policy.SaveSnapshot(ctx, js, s, 1); err != nil {
		return err
	}
	if file == "" {
		return nil
	}
	info, err := st.Info(ctx)
	if err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := policy.WriteSnapshot(f, s, info.Created); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func load(url string) (*policy.Snapshot, error) {
	nc, js, err := events.Connect(url, "snapload")
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	return policy.LoadSnapshotOf(context.Background(), js, nil, policy.CompactKeys)
}

func readFile(name string) (*policy.Snapshot, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, _, err := policy.ReadSnapshotOf(f, nil, policy.CompactKeys)
	return s, err
}

// cpu is the process's user + system CPU time.
func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the resident set in KiB.
func rss() int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int
	_, _ = fmt.Sscan(string(b), &size, &res)
	return res * os.Getpagesize() / 1024
}

func peakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "snapload:", err)
	os.Exit(1)
}
