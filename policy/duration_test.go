package policy

import (
	"testing"
	"time"
)

// LiteLLM's own cases (tests/test_litellm/litellm_core_utils/
// test_duration_parser.py, UTC ones), and a few more of its rule.
func TestNextBudgetReset(t *testing.T) {
	at := func(y int, mo time.Month, d, h, m, s int) time.Time { return time.Date(y, mo, d, h, m, s, 0, time.UTC) }
	base := at(2023, 5, 15, 10, 30, 0) // a Monday
	wednesday := at(2023, 5, 17, 15, 45, 0)
	hms := at(2023, 5, 15, 15, 20, 30)
	midnight := at(2023, 5, 15, 0, 0, 0)
	for _, c := range []struct {
		duration string
		now      time.Time
		want     time.Time
	}{
		{"1d", base, at(2023, 5, 16, 0, 0, 0)},
		{"7d", wednesday, at(2023, 5, 22, 0, 0, 0)},
		{"30d", base, at(2023, 6, 1, 0, 0, 0)},
		{"3d", base, at(2023, 5, 18, 0, 0, 0)},
		{"1w", wednesday, at(2023, 5, 22, 0, 0, 0)},
		{"2w", at(2023, 5, 17, 10, 30, 0), at(2023, 5, 31, 0, 0, 0)},
		{"2h", hms, at(2023, 5, 15, 16, 0, 0)},
		{"30m", hms, at(2023, 5, 15, 15, 30, 0)},
		{"15s", hms, at(2023, 5, 15, 15, 20, 45)},
		{"50h", midnight, at(2023, 5, 17, 2, 0, 0)},
		{"4000m", midnight, at(2023, 5, 17, 18, 40, 0)},
		{"200000s", midnight, at(2023, 5, 17, 7, 33, 20)},
		{"365d", midnight, at(2024, 5, 14, 0, 0, 0)},
		{"8760h", midnight, at(2024, 5, 14, 0, 0, 0)},
		{"525600m", midnight, at(2024, 5, 14, 0, 0, 0)},
		{"31536000s", midnight, at(2024, 5, 14, 0, 0, 0)},
		{"2h", at(2023, 5, 15, 14, 0, 0), at(2023, 5, 15, 16, 0, 0)},
		{"30m", at(2023, 5, 15, 14, 30, 0), at(2023, 5, 15, 15, 0, 0)},
		{"30m", at(2023, 5, 15, 23, 50, 0), at(2023, 5, 16, 0, 0, 0)},
		// LiteLLM's test_create_update_team: "2d" and "10d" at midnight UTC.
		{"2d", base, at(2023, 5, 17, 0, 0, 0)},
		{"10d", base, at(2023, 5, 25, 0, 0, 0)},
		{"7d", base, at(2023, 5, 22, 0, 0, 0)}, // on a Monday: the next one
		{"1mo", at(2023, 12, 31, 23, 0, 0), at(2024, 1, 1, 0, 0, 0)},
		{"30d", at(2023, 12, 2, 0, 0, 0), at(2024, 1, 1, 0, 0, 0)},
		{"1d", time.Date(2023, 5, 15, 22, 30, 0, 0, time.FixedZone("x", -4*3600)), at(2023, 5, 17, 0, 0, 0)},
	} {
		got, err := NextBudgetReset(c.duration, c.now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("NextBudgetReset(%q, %s) = %s, %v; want %s", c.duration, c.now, got, err, c.want)
		}
	}
	if _, err := NextBudgetReset("soon", base); err == nil {
		t.Error("a duration that does not parse has no reset")
	}
}

// TestParseDurationZero: only a key's duration may be zero ("0s": a key
// that has expired already); a budget window of zero is no duration.
func TestParseDurationZero(t *testing.T) {
	for _, tc := range []struct {
		in          string
		key, budget bool // parses as a key's duration, as a budget's
		want        time.Duration
	}{
		{"0s", true, false, 0}, {"0mo", true, false, 0}, {"00d", true, false, 0}, {"30s", true, true, 30 * time.Second},
		{"1mo", true, true, 30 * 24 * time.Hour}, {"-1s", false, false, 0}, {"0", false, false, 0}, {"0x", false, false, 0},
	} {
		d, err := ParseKeyDuration(tc.in)
		if (err == nil) != tc.key || err == nil && d != tc.want {
			t.Errorf("ParseKeyDuration(%q) = %v, %v", tc.in, d, err)
		}
		d, err = ParseDuration(tc.in)
		if (err == nil) != tc.budget || err == nil && d != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tc.in, d, err)
		}
	}
}
