package harness

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/loadtest/loadgen"
)

// Phases in run order.
const (
	PhaseC1      = "c1"      // closed loop, one connection: added latency
	PhaseSat     = "sat"     // closed loop, Conns connections: saturation RPS
	PhaseOpen    = "open"    // open loop at half of B1's saturation RPS
	PhaseTTFT    = "ttft"    // one stream at a time: time to first frame
	PhaseStreams = "streams" // Streams concurrent paced streams
	PhaseEmbC1   = "emb-c1"  // embeddings, closed loop, one connection
	PhaseEmbSat  = "emb-sat" // embeddings, closed loop, Conns connections
)

// Cell is one target's result in one phase of one round.
type Cell struct {
	Round int
	// Non-stream phases.
	Result *loadgen.Result
	// Stream phases.
	Stream *loadgen.StreamResult
	// Rate is the open-loop rate asked for.
	Rate float64
	// CPUPerReq is the serving processes' CPU time per successful request
	// (for B2: nginx's master and worker; for G: edge plus NATS, which
	// stores the spend events).
	CPUPerReq time.Duration
	// ProcCPU is CPUPerReq for each serving process by name.
	ProcCPU map[string]time.Duration
}

// Report is everything a run measured.
type Report struct {
	Config    Config
	Started   time.Time
	Finished  time.Time
	GoVersion string
	CPUs      int
	// Targets are the Targets this run measured; Notes say why any other
	// was skipped ("nginx not installed: B2 skipped").
	Targets []string
	Notes   []string
	// Cells[phase][target] in round order.
	Cells map[string]map[string][]Cell
	// IdleRSS and PeakRSS per process name, KiB.
	IdleRSS, PeakRSS map[string]int64
	// Propagation is the propagation probe's result (nil if skipped).
	Propagation *Propagation
}

// Run starts the system, runs every phase for every target in interleaved
// rounds, stops the system and returns the measurements.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	work := cfg.WorkDir
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "gatehouse-bench-"); err != nil {
			return nil, err
		}
		if !cfg.KeepWorkDir {
			defer os.RemoveAll(work)
		}
	}
	s := &system{cfg: cfg, work: work}
	defer s.close()
	if cfg.Pinned {
		var err error
		if s.pin, err = newPinning(); err != nil {
			return nil, err
		}
	}
	cfg.Log.Info("starting processes", "workdir", work)
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	for _, n := range s.notes {
		cfg.Log.Warn(n)
	}
	rep := &Report{Config: cfg, Started: time.Now(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Targets: s.targets, Notes: s.notes,
		Cells: map[string]map[string][]Cell{}, IdleRSS: map[string]int64{}, PeakRSS: map[string]int64{}}
	// Idle: after start-up and provisioning, before any load.
	for _, p := range s.procs {
		rep.IdleRSS[p.Name], _ = p.rssKB()
	}
	// Warm-up: connections, the JWT cache, the Go heap sizes of every
	// process; not recorded.
	for _, name := range s.targets {
		loadgen.Closed(ctx, s.target(name, false, false), cfg.Conns, time.Second)
	}
	for round := 1; round <= cfg.Rounds; round++ {
		// Rotate the target order each round so no target always runs
		// first (or right after another's heap growth).
		order := slices.Clone(s.targets)
		for range (round - 1) % len(order) {
			order = append(order[1:], order[0])
		}
		cfg.Log.Info("round", "n", round, "order", order)
		for _, phase := range s.phases() {
			var b1Sat float64
			if phase == PhaseOpen {
				cells := rep.Cells[PhaseSat][B1]
				b1Sat = cells[len(cells)-1].Result.RPS()
			}
			for _, name := range order {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if phase == PhasePinned && name == B0 {
					continue
				}
				c, err := s.cell(ctx, phase, name, b1Sat)
				if err != nil {
					return nil, err
				}
				c.Round = round
				if rep.Cells[phase] == nil {
					rep.Cells[phase] = map[string][]Cell{}
				}
				rep.Cells[phase][name] = append(rep.Cells[phase][name], c)
				cfg.Log.Info("cell", "round", round, "phase", phase, "target", name, "summary", c.summary())
				time.Sleep(200 * time.Millisecond) // let closed connections drain
			}
		}
	}
	for _, p := range s.procs {
		_, rep.PeakRSS[p.Name] = p.rssKB()
	}
	if cfg.Flips > 0 {
		cfg.Log.Info("propagation probe", "flips", cfg.Flips)
		pr, err := s.probePropagation(ctx, cfg.Flips)
		if err != nil {
			return nil, err
		}
		rep.Propagation = pr
	}
	rep.Finished = time.Now()
	return rep, nil
}

// phases in run order.
func (s *system) phases() []string {
	if s.pin != nil {
		return []string{PhaseC1, PhaseSat, PhasePinned, PhaseOpen, PhaseTTFT, PhaseStreams, PhaseEmbC1, PhaseEmbSat}
	}
	return []string{PhaseC1, PhaseSat, PhaseOpen, PhaseTTFT, PhaseStreams, PhaseEmbC1, PhaseEmbSat}
}

func (s *system) cell(ctx context.Context, phase, name string, b1Sat float64) (Cell, error) {
	paced := phase == PhaseStreams
	stream := phase == PhaseTTFT || phase == PhaseStreams
	t := s.target(name, paced, stream)
	if phase == PhaseEmbC1 || phase == PhaseEmbSat {
		t = s.embeddingTarget(name)
	}
	procs := s.procsOf(name, paced)
	if phase == PhasePinned {
		if err := s.pin.pin(ctx, s.procs, procs[0]); err != nil {
			return Cell{}, err
		}
		defer s.pin.unpin(context.WithoutCancel(ctx), s.procs) //nolint:errcheck // best effort: the next pin or the end of the run
	}
	ticks0 := make([]int64, len(procs))
	for i, p := range procs {
		ticks0[i] = p.cpuTicks()
	}
	var c Cell
	var ok int64
	switch phase {
	case PhaseC1, PhaseEmbC1:
		r := loadgen.Closed(ctx, t, 1, s.cfg.Duration)
		c.Result, ok = &r, r.OK
	case PhaseSat, PhasePinned, PhaseEmbSat:
		r := loadgen.Closed(ctx, t, s.cfg.Conns, s.cfg.Duration)
		c.Result, ok = &r, r.OK
	case PhaseOpen:
		c.Rate = b1Sat / 2
		r := loadgen.Open(ctx, t, c.Rate, s.cfg.Duration, s.cfg.Conns)
		c.Result, ok = &r, r.OK
	case PhaseTTFT:
		r := loadgen.Streams(ctx, t, 1, s.cfg.Duration, 8+3) // 8 content + finish + usage + [DONE]
		c.Stream, ok = &r, r.OK
	case PhaseStreams:
		r := loadgen.Streams(ctx, t, s.cfg.Streams, s.cfg.StreamDuration, s.cfg.Chunks+3)
		c.Stream, ok = &r, r.OK
	}
	if ok > 0 {
		c.ProcCPU = map[string]time.Duration{}
		for i, p := range procs {
			// Linux reports CPU in USER_HZ ticks of 10 ms.
			d := time.Duration((p.cpuTicks()-ticks0[i])*int64(10*time.Millisecond)) / time.Duration(ok)
			c.ProcCPU[p.Name] = d
			if p.Name != "control" {
				c.CPUPerReq += d
			}
		}
	}
	return c, nil
}

func (c Cell) summary() string {
	if c.Result != nil {
		r := c.Result
		s := fmt.Sprintf("rps=%.0f ok=%d failed=%d p50=%v p99=%v cpu/req=%v", r.RPS(), r.OK, r.Failed, r.Pct(.5), r.Pct(.99), c.CPUPerReq)
		if r.FirstErr != "" {
			s += " err=" + r.FirstErr
		}
		return s
	}
	r := c.Stream
	s := fmt.Sprintf("streams=%d ok=%d failed=%d lost=%d fps=%.0f ttft50=%v", r.Streams, r.OK, r.Failed, r.Lost, r.FPS(), loadgen.Quantile(r.TTFT, .5))
	if r.FirstErr != "" {
		s += " err=" + r.FirstErr
	}
	return s
}
