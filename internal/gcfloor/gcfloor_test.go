package gcfloor

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		base, want  int
	}{
		{4 * mib, 64 * mib, 100, 1500},  // goal 4 MiB x 16 = 64 MiB
		{32 * mib, 64 * mib, 100, 100},  // the base already reaches the floor
		{200 * mib, 64 * mib, 100, 100}, // a large heap: GOGC as configured
		{40 * mib, 64 * mib, 100, 100},  // 80 MiB >= 64 MiB
		{16 * mib, 64 * mib, 50, 300},   // a lower base is raised as much as needed
		{16 * mib, 64 * mib, 400, 400},  // a higher base is kept
		{1, 64 * mib, 100, maxPercent},  // an empty heap: bounded
		{0, 64 * mib, 100, maxPercent},  //
		{63 * mib, 64 * mib, 1, 1},      // 63.63 MiB < 64 MiB, but p=1 is the base
	} {
		if got := percentFor(c.live, c.floor, c.base); got != c.want {
			t.Errorf("percentFor(%d, %d, %d) = %d, want %d", c.live, c.floor, c.base, got, c.want)
		}
	}
}

// TestFloorFollowsCycles: on this test's small heap the floor raises
// GOGC after a cycle, and Stop gives the original back.
func TestFloorFollowsCycles(t *testing.T) {
	base := debug.SetGCPercent(100)
	defer debug.SetGCPercent(base)
	f := Start(256 << 20)
	if f == nil {
		t.Fatal("Start returned nil with GOGC=100")
	}
	testutil.Eventually(t, 5*time.Second, func() error {
		runtime.GC()
		if p := f.Percent(); p <= 100 {
			return fmt.Errorf("GOGC still %d", p)
		}
		return nil
	})
	if got := debug.SetGCPercent(100); got != f.Percent() {
		t.Errorf("GOGC in force %d, floor says %d", got, f.Percent())
	}
	debug.SetGCPercent(f.Percent())
	f.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after Stop GOGC = %d, want 100", got)
	}
}

func TestOffAndZero(t *testing.T) {
	if Start(0) != nil {
		t.Error("a zero floor was installed")
	}
	base := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(base)
	if Start(64<<20) != nil {
		t.Error("a floor was installed with GOGC=off")
	}
}
