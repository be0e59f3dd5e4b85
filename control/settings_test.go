package control

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/control/config"
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

// general_settings.allowed_ips reaches the stream with the router settings,
// and a config that drops it clears it even when it set nothing else
// there: a stale list would go on refusing clients and the admin API.
func TestSyncRoutingSettingsAllowedIPs(t *testing.T) {
	_, js := testutil.NewJetStream(t)
	st := storetest.New(t, js)
	ctx := t.Context()
	const model = "model_list:\n  - model_name: m\n    litellm_params:\n      model: openai/gpt-4o\n"
	steps := []struct {
		yaml string
		ips  []string // nil: no list in the stream
		xff  bool
	}{
		{model, nil, false},
		{model + "general_settings:\n  allowed_ips: [\"10.0.0.0/8\"]\n  use_x_forwarded_for: true\n", []string{"10.0.0.0/8"}, true},
		{model, nil, false},
		{model + "router_settings:\n  num_retries: 1\ngeneral_settings:\n  allowed_ips: [\"10.0.0.1\"]\n", []string{"10.0.0.1"}, false},
		{model + "router_settings:\n  num_retries: 1\n", nil, false},
	}
	for i, s := range steps {
		f, err := config.Parse([]byte(s.yaml))
		if err != nil {
			t.Fatal(err)
		}
		if err := SyncRoutingSettings(ctx, st, f, slog.Default()); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, func() error {
			r := st.Live.Load().RoutingSettings()
			var got []string
			xff := false
			if r != nil {
				xff = r.UseXForwardedFor
				if r.AllowedIPs != nil {
					got = *r.AllowedIPs
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(s.ips) || (got == nil) != (s.ips == nil) || xff != s.xff {
				return fmt.Errorf("step %d: allowed_ips %v, use_x_forwarded_for %v; want %v, %v", i, got, xff, s.ips, s.xff)
			}
			return nil
		})
	}
}
