package rollup

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Synth describes a synthetic ledger for benchmarks and tests, generated
// inside ClickHouse (INSERT ... SELECT FROM numbers()): Rows requests
// spread evenly over Days UTC days ending with End's day, in time order,
// request ids "syn-<Seed>-<n>".
type Synth struct {
	Rows uint64
	Days int
	End  time.Time
	// Seed keeps request ids of several loads apart.
	Seed int
	// Keys, Users, Teams, Orgs, EndUsers: how many distinct values (org ""
	// for one in Orgs+1 requests, like a team without an organization).
	Keys, Users, Teams, Orgs, EndUsers int
}

func (s Synth) withDefaults() Synth {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.Days, 120)
	def(&s.Keys, 2000)
	def(&s.Users, 500)
	def(&s.Teams, 50)
	def(&s.Orgs, 5)
	def(&s.EndUsers, 5000)
	if s.End.IsZero() {
		s.End = time.Now()
	}
	return s
}

// SynthSQL is the INSERT of s into db.spend_events.
func SynthSQL(db string, s Synth) string {
	s = s.withDefaults()
	end := s.End.UTC()
	endDay := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC)
	start := endDay.AddDate(0, 0, -s.Days+1).Unix()
	span := int64(s.Days) * 86400
	n := strconv.FormatUint(max(s.Rows, 1), 10)
	i := func(v int) string { return strconv.Itoa(v) }
	// sec: the request's second; h: a hash to spread the dimensions.
	sec := "(" + strconv.FormatInt(start, 10) + " + intDiv(number * " + strconv.FormatInt(span, 10) + ", " + n + "))"
	h := "intHash32(number)"
	return fmt.Sprintf(`INSERT INTO %[1]s.spend_events (request_id, event_time, event_ms, date, key_hash, key_alias, user_id, team_id,
    org_id, end_user, auth, model_group, model, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens,
    estimated, cost, latency_ms, ttft_ms, status, stream, outcome, edge_id, region, client_request_id)
SELECT concat('syn-%[2]d-', toString(number)), toDateTime(%[3]s), toUInt16(number %% 1000), toDate(intDiv(%[3]s, 86400)),
    concat('hash-', toString(%[4]s %% %[5]s)), concat('key-', toString(%[4]s %% %[5]s)),
    concat('user-', toString(%[4]s %% %[6]s)), concat('team-', toString(%[4]s %% %[7]s)),
    if(%[4]s %% (%[8]s + 1) = 0, '', concat('org-', toString(%[4]s %% %[8]s))),
    concat('end-', toString(intHash32(number + 1) %% %[9]s)), 'key',
    ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama'][%[4]s %% 4 + 1],
    ['gpt-4o-2024-08-06', 'gpt-4o-mini', 'claude-3-5-sonnet', 'llama-3.1-70b'][%[4]s %% 4 + 1],
    concat('dep-', toString(%[4]s %% 8)), ['openai', 'azure', 'anthropic', 'vllm'][%[4]s %% 4 + 1],
    toUInt64(10 + number %% 990), toUInt64(number %% 500), toUInt64(10 + number %% 990 + number %% 500),
    toUInt8(number %% 97 = 0), (10 + number %% 990) * 0.0000025 + (number %% 500) * 0.00001,
    toFloat64(number %% 2000), toFloat64(number %% 300), toUInt16(if(number %% 50 = 0, 502, 200)), toUInt8(number %% 3 = 0),
    if(number %% 50 = 0, 'upstream_error', 'ok'), concat('edge-', toString(number %% 4)), 'eu', ''
FROM system.numbers LIMIT %[10]s`,
		db, s.Seed, sec, h, i(s.Keys), i(s.Users), i(s.Teams), i(s.Orgs), i(s.EndUsers), n)
}

// Load inserts s into db.spend_events.
func Load(ctx context.Context, conn driver.Conn, db string, s Synth) error {
	if err := conn.Exec(ctx, SynthSQL(db, s)); err != nil {
		return fmt.Errorf("rollup: synthetic ledger: %w", err)
	}
	return nil
}
