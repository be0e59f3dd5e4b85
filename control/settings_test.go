package control

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

func TestSyncLiteLLMSettings(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	live := st.Live
	ctx := t.Context()
	two, three := 2.0, 3.0
	steps := []struct {
		value *float64
		want  *float64
	}{
		{nil, nil}, // nothing set, nothing published
		{&two, &two},
		{&two, &two}, // unchanged: no new event
		{&three, &three},
		{nil, nil}, // removed from the config: cleared
	}
	var seq uint64
	for i, s := range steps {
		if err := SyncLiteLLMSettings(ctx, st, s.value, slog.Default()); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, func() error {
			got := live.Load().MaxEndUserBudget()
			if (got == nil) != (s.want == nil) || (got != nil && *got != *s.want) {
				return fmt.Errorf("step %d: max_end_user_budget %v, want %v", i, got, s.want)
			}
			return nil
		})
		now := live.Load().Seq()
		if i == 2 && now != seq {
			t.Errorf("an unchanged value published an event (seq %d -> %d)", seq, now)
		}
		seq = now
	}
}
