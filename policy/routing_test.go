package policy

import (
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

func TestCompileRouting(t *testing.T) {
	two, zero, thirty := 2, 0, 30.0
	cases := []struct {
		name string
		in   *events.RoutingSettings
		want Routing
	}{
		{"defaults", nil, Routing{Strategy: SimpleShuffle, Retries: events.DefaultNumRetries,
			AllowedFails: events.DefaultAllowedFails, Cooldown: events.DefaultCooldownTime}},
		{"configured", &events.RoutingSettings{RoutingStrategy: events.RoutingLeastBusy, NumRetries: &two, AllowedFails: &zero,
			CooldownTime: &thirty, Fallbacks: []map[string][]string{{"a": {"b", "c"}}, {"d": {"e"}}, {"a": {"x"}}}},
			Routing{Strategy: LeastBusy, Retries: 2, RetriesExplicit: true, AllowedFails: 0, Cooldown: 30 * time.Second,
				fallbacks: map[string][]string{"a": {"b", "c"}, "d": {"e"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := CompileRouting(c.in); !reflect.DeepEqual(*got, c.want) {
				t.Errorf("got  %+v\nwant %+v", *got, c.want)
			}
		})
	}
}

// TestSnapshotRouting checks that the snapshot serves compiled settings
// from the start and recompiles them when the event changes.
func TestSnapshotRouting(t *testing.T) {
	s := Empty(nil)
	if r := s.Routing(); r == nil || r.Retries != events.DefaultNumRetries || r.FallbacksFor("a") != nil {
		t.Fatalf("empty snapshot routing: %+v", r)
	}
	s = build(t, &events.RoutingSettings{ID: events.RoutingSettingsID, RoutingStrategy: events.RoutingLeastBusy,
		Fallbacks: []map[string][]string{{"a": {"b"}}}})
	if r := s.Routing(); r.Strategy != LeastBusy || !reflect.DeepEqual(r.FallbacksFor("a"), []string{"b"}) {
		t.Errorf("applied routing: %+v", r)
	}
	if s.RoutingSettings() == nil || s.RoutingSettings().RoutingStrategy != events.RoutingLeastBusy {
		t.Error("the event itself must stay available for export")
	}
}
