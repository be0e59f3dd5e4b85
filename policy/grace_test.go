package policy_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// TestGraceToken: a regenerated key's old token stands for the new key
// until its grace period (previous_token_expires) ends, and no longer; a
// snapshot written and read back (how an edge restarts) keeps it.
func TestGraceToken(t *testing.T) {
	oldTok, newTok := events.HashKey("sk-old"), events.HashKey("sk-new")
	oldH, _ := policy.ParseKeyHash(oldTok)
	now := time.Now().UTC()
	until := now.Add(time.Hour)
	s0, err := policy.SnapshotOf(nil, &events.Key{Token: oldTok})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := s0.With(nil, &events.Key{Token: newTok, RegeneratedFrom: oldTok, PreviousTokenExpires: &until})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Key(oldH) != nil {
		t.Fatalf("the old token is still a key of its own")
	}
	check := func(name string, s *policy.Snapshot) {
		t.Helper()
		if k := s.KeyAt(oldH, now); k == nil || k.Token != newTok {
			t.Errorf("%s: old token in its grace period: %v, want the new key", name, k)
		}
		if k := s.KeyAt(oldH, until.Add(-time.Nanosecond)); k == nil {
			t.Errorf("%s: old token refused before its grace period ends", name)
		}
		if k := s.KeyAt(oldH, until); k != nil {
			t.Errorf("%s: old token still works when its grace period ends", name)
		}
	}
	check("applied", s1)
	// The snapshot before the regenerate is not changed by it.
	if k := s0.KeyAt(oldH, now); k == nil || k.Token != oldTok {
		t.Errorf("earlier snapshot: %v, want the old key itself", k)
	}
	var buf bytes.Buffer
	if err := policy.WriteSnapshot(&buf, s1, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []policy.KeyRecords{policy.FullKeys, policy.CompactKeys} {
		got, _, err := policy.ReadSnapshotOf(bytes.NewReader(buf.Bytes()), nil, m)
		if err != nil {
			t.Fatalf("ReadSnapshotOf(%v): %v", m, err)
		}
		check("read back", got)
	}
	// Regenerated again without a grace period: the new key's own old
	// token gets none, and the first one stands for a key that is gone.
	s2, err := s1.With(nil, &events.Key{Token: events.HashKey("sk-newer"), RegeneratedFrom: newTok})
	if err != nil {
		t.Fatal(err)
	}
	newH, _ := policy.ParseKeyHash(newTok)
	if s2.KeyAt(newH, now) != nil || s2.KeyAt(oldH, now) != nil {
		t.Errorf("tokens before the last regenerate still work")
	}
	// A grace period already over when applied (a replay) adds nothing.
	past := now.Add(-time.Minute)
	s3, err := s0.With(nil, &events.Key{Token: newTok, RegeneratedFrom: oldTok, PreviousTokenExpires: &past})
	if err != nil {
		t.Fatal(err)
	}
	if s3.KeyAt(oldH, past.Add(-time.Hour)) != nil {
		t.Errorf("an expired grace period was kept")
	}
}
