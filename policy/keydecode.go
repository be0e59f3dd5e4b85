package policy

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/events"
)

// decodeKey decodes a snapshot's key line into k, which must be zero.
//
// Keys are nearly all of a large snapshot, and encoding/json spends most
// of a start-up on them (reflection, a validating pre-scan, then the
// decode). A snapshot's keys are what json.Marshal wrote, in the struct's
// field order, so a scanner that expects exactly that encoding decodes a
// typical key several times faster. Anything else it does not vouch for
// (an escaped string, whitespace, another order, aliases or metadata, a
// number it would have to interpret) goes to json.Unmarshal, so the
// result is always what json.Unmarshal gives (FuzzDecodeKey checks it).
func decodeKey(b []byte, k *events.Key) error {
	if (&keyScanner{b: b}).key(k) {
		return nil
	}
	*k = events.Key{}
	return json.Unmarshal(b, k)
}

// keyScanner reads json.Marshal's encoding of an events.Key; every method
// reports false on anything unexpected, and the caller falls back.
type keyScanner struct {
	b []byte
	i int
}

func (s *keyScanner) key(k *events.Key) bool {
	ok := s.lit(`{"token":`) && s.str(&k.Token) &&
		s.lit(`,"key_name":`) && s.str(&k.KeyName) &&
		s.optStr(`,"key_alias":`, &k.KeyAlias) &&
		s.lit(`,"models":`) && s.list(&k.Models) &&
		s.optStr(`,"team_id":`, &k.TeamID) &&
		s.optStr(`,"user_id":`, &k.UserID) &&
		s.optStr(`,"organization_id":`, &k.OrganizationID) &&
		s.lit(`,"blocked":`) && s.bool(&k.Blocked) &&
		s.lit(`,"expires":`) && s.timePtr(&k.Expires) &&
		s.lit(`,"max_budget":`) && s.float(&k.MaxBudget) &&
		s.optStr(`,"budget_duration":`, &k.BudgetDuration) &&
		s.lit(`,"tpm_limit":`) && s.int(&k.TPMLimit) &&
		s.lit(`,"rpm_limit":`) && s.int(&k.RPMLimit) &&
		s.lit(`,"max_parallel_requests":`) && s.int(&k.MaxParallelRequests)
	if !ok {
		return false
	}
	// aliases and metadata (maps) are rare: json.Unmarshal decodes those keys.
	if s.has(`,"aliases":`) || s.has(`,"metadata":`) {
		return false
	}
	if s.has(`,"allowed_routes":`) && !(s.lit(`,"allowed_routes":`) && s.list(&k.AllowedRoutes)) {
		return false
	}
	ok = s.optStr(`,"regenerated_from":`, &k.RegeneratedFrom) &&
		s.optStr(`,"created_by":`, &k.CreatedBy) &&
		s.lit(`,"created_at":`) && s.time(&k.CreatedAt) &&
		s.lit(`,"updated_at":`) && s.time(&k.UpdatedAt)
	if !ok {
		return false
	}
	if s.has(`,"budget_exceeded":`) && !(s.lit(`,"budget_exceeded":`) && s.bool(&k.BudgetExceeded)) {
		return false
	}
	if s.has(`,"budget_reset_at":`) && !(s.lit(`,"budget_reset_at":`) && s.timePtr(&k.BudgetResetAt)) {
		return false
	}
	return s.lit(`}`) && s.i == len(s.b)
}

func (s *keyScanner) has(lit string) bool {
	return len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit
}

func (s *keyScanner) lit(lit string) bool {
	if !s.has(lit) {
		return false
	}
	s.i += len(lit)
	return true
}

// optStr reads `<name>"value"` if the field is there (omitempty).
func (s *keyScanner) optStr(name string, dst *string) bool {
	if !s.has(name) {
		return true
	}
	s.i += len(name)
	return s.str(dst)
}

// rawStr returns a string's bytes, without quotes, when they are its
// value as they stand: no escape, no control character, valid UTF-8
// (json.Unmarshal would replace invalid bytes).
func (s *keyScanner) rawStr() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start, ascii := s.i+1, true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[start:j]
			if !ascii && !utf8.Valid(v) {
				return nil, false
			}
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (s *keyScanner) str(dst *string) bool {
	v, ok := s.rawStr()
	if ok {
		*dst = string(v)
	}
	return ok
}

// list reads null, [] or an array of strings, as json.Unmarshal fills a
// nil []string: nil, empty non-nil, or the strings.
func (s *keyScanner) list(dst *[]string) bool {
	if s.lit(`null`) {
		return true
	}
	if !s.lit(`[`) {
		return false
	}
	l := []string{}
	if s.lit(`]`) {
		*dst = l
		return true
	}
	for {
		var v string
		if !s.str(&v) {
			return false
		}
		l = append(l, v)
		if s.lit(`]`) {
			*dst = l
			return true
		}
		if !s.lit(`,`) {
			return false
		}
	}
}

func (s *keyScanner) bool(dst *bool) bool {
	switch {
	case s.lit(`true`):
		*dst = true
	case s.lit(`false`):
		*dst = false
	default:
		return false
	}
	return true
}

// time reads a string with time.Time's own UnmarshalJSON, as json does.
func (s *keyScanner) time(dst *time.Time) bool {
	start := s.i
	if _, ok := s.rawStr(); !ok {
		return false
	}
	return dst.UnmarshalJSON(s.b[start:s.i]) == nil
}

func (s *keyScanner) timePtr(dst **time.Time) bool {
	if s.lit(`null`) {
		return true
	}
	t := new(time.Time)
	if !s.time(t) {
		return false
	}
	*dst = t
	return true
}

// number returns a JSON number's text: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// (integral: no fraction or exponent allowed).
func (s *keyScanner) number(integral bool) ([]byte, bool) {
	b, j := s.b, s.i
	digits := func() bool {
		n := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > n
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return nil, false
	}
	if !integral {
		if j < len(b) && b[j] == '.' {
			j++
			if !digits() {
				return nil, false
			}
		}
		if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
			j++
			if j < len(b) && (b[j] == '+' || b[j] == '-') {
				j++
			}
			if !digits() {
				return nil, false
			}
		}
	}
	v := b[s.i:j]
	s.i = j
	return v, true
}

func (s *keyScanner) float(dst **float64) bool {
	if s.lit(`null`) {
		return true
	}
	v, ok := s.number(false)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return false
	}
	*dst = &f
	return true
}

func (s *keyScanner) int(dst **int64) bool {
	if s.lit(`null`) {
		return true
	}
	v, ok := s.number(true)
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return false
	}
	*dst = &n
	return true
}
