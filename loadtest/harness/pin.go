package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// PhasePinned is the saturation phase again with the proxy under test
// alone on one core (taskset; for nginx, its master and its one worker)
// and everything else (client, mock upstream, JetStream, control plane) on
// the others: its RPS is what one core of that proxy serves, and its CPU
// per request does not depend on what else the machine runs. B0 has no
// proxy and is not run.
const PhasePinned = "pinned"

// pinning moves the processes of a run between cores with taskset.
type pinning struct {
	all, proxy, rest string // cpu lists
}

// newPinning returns nil when pinning cannot run here (one CPU, or no
// taskset).
func newPinning() (*pinning, error) {
	n := runtime.NumCPU()
	if n < 2 {
		return nil, fmt.Errorf("pinned phase needs 2 CPUs, this machine has %d", n)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return nil, fmt.Errorf("pinned phase needs taskset: %w", err)
	}
	rest := "0"
	if n > 2 {
		rest = fmt.Sprintf("0-%d", n-2)
	}
	return &pinning{all: fmt.Sprintf("0-%d", n-1), proxy: strconv.Itoa(n - 1), rest: rest}, nil
}

// setAffinity gives every thread of pid the cpu list.
func setAffinity(ctx context.Context, pid int, cpus string) error {
	out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", cpus, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", cpus, pid, err, out)
	}
	return nil
}

// pin puts proxy (with its children: nginx's worker) alone on the last
// core and every other process of the run, this one (the client)
// included, on the others.
func (p *pinning) pin(ctx context.Context, procs []*proc, proxy *proc) error {
	for _, q := range procs {
		cpus := p.rest
		if q == proxy {
			cpus = p.proxy
		}
		if err := q.setAffinity(ctx, cpus); err != nil {
			return err
		}
	}
	return setAffinity(ctx, os.Getpid(), p.rest)
}

// unpin lets every process run on every core again.
func (p *pinning) unpin(ctx context.Context, procs []*proc) error {
	for _, q := range procs {
		if err := q.setAffinity(ctx, p.all); err != nil {
			return err
		}
	}
	return setAffinity(ctx, os.Getpid(), p.all)
}

// setAffinity gives the process and its children the cpu list.
func (q *proc) setAffinity(ctx context.Context, cpus string) error {
	for _, pid := range q.pids() {
		if err := setAffinity(ctx, pid, cpus); err != nil {
			return err
		}
	}
	return nil
}
