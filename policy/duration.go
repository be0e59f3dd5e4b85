package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads LiteLLM durations: "30s", "30m", "30h", "30d", "2w",
// "1mo" (30 days).
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s, false) }

// ParseKeyDuration is ParseDuration for a key's duration, which may be
// zero: "0s" is a key that has expired already, as in LiteLLM.
func ParseKeyDuration(s string) (time.Duration, error) { return parseDuration(s, true) }

func parseDuration(s string, zero bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		d      time.Duration
	}{{"mo", 30 * 24 * time.Hour}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 || v == 0 && !zero {
				break
			}
			return time.Duration(v) * u.d, nil
		}
	}
	return 0, fmt.Errorf("%q is not a duration like 30s, 30m, 30h, 30d, 2w or 1mo", s)
}

// NextBudgetReset is LiteLLM's get_next_standardized_reset_time (UTC; its
// litellm_settings.timezone is not read): the budget_reset_at of a window
// with this budget_duration that is running at now.
//
//   - "1d": the next midnight; "7d" and "1w": the next Monday at midnight;
//     "30d": the 1st of next month at midnight; other "Nd" and "Nw":
//     midnight today plus N days (weeks).
//   - "Nh": the next hour of the day that is a multiple of N (16:00 for "2h"
//     at 15:20); "Nm" the next minute of the hour that is a multiple of N;
//     "Ns" the next second of the minute that is a multiple of N (a value
//     past the hour, minute or day carries over, as in LiteLLM).
//   - "1mo": the 1st of next month at midnight; "Nmo" the 1st N months on
//     (LiteLLM refuses N other than 1).
func NextBudgetReset(duration string, now time.Time) (time.Time, error) {
	if _, err := ParseDuration(duration); err != nil {
		return time.Time{}, err
	}
	s := strings.TrimSpace(duration)
	unit := strings.TrimLeft(s, "0123456789")
	n, _ := strconv.Atoi(strings.TrimSuffix(s, unit))
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	sinceMidnight := func(h, m, sec int) time.Time {
		return midnight.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(sec)*time.Second)
	}
	next := func(cur int) int { return cur - cur%n + n }
	switch unit {
	case "s":
		return sinceMidnight(now.Hour(), now.Minute(), next(now.Second())), nil
	case "m":
		return sinceMidnight(now.Hour(), next(now.Minute()), 0), nil
	case "h":
		return sinceMidnight(next(now.Hour()), 0, 0), nil
	case "mo":
		return time.Date(now.Year(), now.Month()+time.Month(n), 1, 0, 0, 0, 0, time.UTC), nil
	case "w":
		n *= 7
	}
	switch n {
	case 1:
		return midnight.AddDate(0, 0, 1), nil
	case 7:
		// Weekday: Sunday 0 ... Saturday 6; days to the next Monday, 7 on a Monday.
		return midnight.AddDate(0, 0, 7-(int(now.Weekday())+6)%7), nil
	case 30:
		return time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC), nil
	}
	return midnight.AddDate(0, 0, n), nil
}
