package policy

import (
	"encoding/hex"
	"math"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KeyRecords says what a snapshot keeps per virtual key.
//
// An events.Key is 344 bytes of struct plus its strings: at a million keys
// that alone is over 400 MB of heap. An edge reads a key only to authorize
// a request, so it keeps a compact record (CompactKeys): the ids and model
// list, which thousands of keys share, behind one interned pointer, the
// limits and other fields few keys set behind another, nil when none is
// set, and the hash only as the map key. The record is lossless: the
// events.Key a caller gets is rebuilt from it on the first lookup of that
// key in its version and kept, so a key in use costs one allocation once,
// not one per request, and the edge's state dump still equals the control
// plane's. The control plane, which lists every key and writes snapshots,
// keeps the full events (FullKeys).
type KeyRecords uint8

const (
	FullKeys KeyRecords = iota
	CompactKeys
)

// keyRec is one key in a snapshot. Its fields never change once it is in
// a published snapshot; only full is filled in, once, by a lookup.
type keyRec struct {
	// full is the key as events.Key: set when applied under FullKeys,
	// built by the first lookup under CompactKeys.
	full atomic.Pointer[events.Key]
	// The rest is empty under FullKeys. Ordered so the record is 64
	// bytes, a size class, where a padded 66 would take 80.
	// names is the alias then the masked name in one string (one
	// allocation, not two); aliasLen splits it.
	names              string
	shape              *keyShape
	rare               *keyRare
	created, updated   int64 // UTC unix nanoseconds; noTime: zero time or kept in rare
	aliasLen           uint32
	blocked, budgetHit bool
}

// keyShape is what many keys repeat: whose they are, what they may call
// and their limits. Shapes are interned, so a million keys of 10,000 teams
// hold about as many shapes as there are (team, user) pairs.
type keyShape struct {
	team, user, org, createdBy string
	models, allowedRoutes      []string
	maxBudget                  *float64
	tpm, rpm, maxParallel      *int64
	budgetDuration             string
}

// keyRare holds the fields that are usually unset or differ per key; a
// key with none of them has a nil rare.
type keyRare struct {
	expires, budgetResetAt *time.Time
	regeneratedFrom        string
	previousTokenExpires   *time.Time
	// token is set only when the event's token is not the lower-case hex
	// of its hash (upper-case hex): the rebuilt key keeps what was sent.
	token    string
	aliases  map[string]string
	metadata map[string]any
	// accessGroupIDs are few keys': LiteLLM's newer grant by group id.
	accessGroupIDs []string
	// allowedIPs are few keys': the client addresses the key is bound to.
	allowedIPs []string
	// createdAt and updatedAt are set when the times do not pack into
	// the record (not UTC, or out of int64 nanoseconds).
	createdAt, updatedAt *time.Time
}

const noTime = math.MinInt64

func (r *keyRare) empty() bool {
	return r.expires == nil && r.budgetResetAt == nil && r.regeneratedFrom == "" && r.previousTokenExpires == nil && r.token == "" && r.aliases == nil &&
		r.metadata == nil && r.createdAt == nil && r.updatedAt == nil && r.accessGroupIDs == nil && r.allowedIPs == nil
}

// packTime returns t as UTC unix nanoseconds when that gives t back
// exactly (same instant, same location, so the JSON is the same).
func packTime(t time.Time) (int64, bool) {
	if t.IsZero() {
		return noTime, true
	}
	n := t.UnixNano()
	if t.Location() != time.UTC || !time.Unix(0, n).UTC().Equal(t) || n == noTime {
		return 0, false
	}
	return n, true
}

func unpackTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// newKeyRec makes the record of k under mode m but its shape, which
// setShape adds: all of it but the shape needs no interner, so a snapshot
// read builds it on its decoders, off the goroutine that applies.
func newKeyRec(k *events.Key, m KeyRecords) *keyRec {
	r := &keyRec{}
	if m == FullKeys {
		r.full.Store(k)
		return r
	}
	r.names, r.aliasLen, r.blocked, r.budgetHit = k.KeyAlias+k.KeyName, uint32(len(k.KeyAlias)), k.Blocked, k.BudgetExceeded
	rare := keyRare{expires: k.Expires, budgetResetAt: k.BudgetResetAt, regeneratedFrom: k.RegeneratedFrom,
		previousTokenExpires: k.PreviousTokenExpires, aliases: k.Aliases, metadata: k.Metadata,
		accessGroupIDs: k.AccessGroupIDs, allowedIPs: k.AllowedIPs}
	if tok := k.Token; len(tok) != 2*len(KeyHash{}) || !isLowerHex(tok) {
		rare.token = tok
	}
	// The times are copied, not pointed to: a snapshot read reuses k.
	var ok bool
	if r.created, ok = packTime(k.CreatedAt); !ok {
		t := k.CreatedAt
		rare.createdAt, r.created = &t, noTime
	}
	if r.updated, ok = packTime(k.UpdatedAt); !ok {
		t := k.UpdatedAt
		rare.updatedAt, r.updated = &t, noTime
	}
	if !rare.empty() {
		r.rare = &rare
	}
	return r
}

// setShape gives a compact record of k its shared shape (hash is k's
// shapeHash), unless a decoder already found it (knownShape); a full
// record has none, and k, which it keeps, is interned.
func (in *interner) setShape(r *keyRec, k *events.Key, hash uint64) {
	if r.full.Load() != nil {
		in.key(k)
		return
	}
	if r.shape == nil {
		r.shape = in.shapeOf(k, hash)
	}
}

// key returns the events.Key of r (hash h), building and keeping it on
// first use.
func (r *keyRec) key(h KeyHash) *events.Key {
	if k := r.full.Load(); k != nil {
		return k
	}
	k := r.build(h)
	if r.full.CompareAndSwap(nil, k) {
		return k
	}
	return r.full.Load()
}

// peek is key without keeping what it builds: for walks over every key,
// which would otherwise turn every compact record back into a full one.
func (r *keyRec) peek(h KeyHash) *events.Key {
	if k := r.full.Load(); k != nil {
		return k
	}
	return r.build(h)
}

func (r *keyRec) build(h KeyHash) *events.Key {
	k := &events.Key{Token: hex.EncodeToString(h[:]), KeyName: r.names[r.aliasLen:], KeyAlias: r.names[:r.aliasLen], Blocked: r.blocked,
		BudgetFlag: events.BudgetFlag{BudgetExceeded: r.budgetHit}, CreatedAt: unpackTime(r.created), UpdatedAt: unpackTime(r.updated)}
	sh := r.shape
	k.TeamID, k.UserID, k.OrganizationID, k.CreatedBy, k.Models, k.AllowedRoutes = sh.team, sh.user, sh.org, sh.createdBy, sh.models, sh.allowedRoutes
	k.MaxBudget, k.TPMLimit, k.RPMLimit, k.MaxParallelRequests, k.BudgetDuration = sh.maxBudget, sh.tpm, sh.rpm, sh.maxParallel, sh.budgetDuration
	if x := r.rare; x != nil {
		k.Expires, k.BudgetResetAt, k.RegeneratedFrom, k.Aliases, k.Metadata = x.expires, x.budgetResetAt, x.regeneratedFrom, x.aliases, x.metadata
		k.AccessGroupIDs, k.AllowedIPs, k.PreviousTokenExpires = x.accessGroupIDs, x.allowedIPs, x.previousTokenExpires
		if x.token != "" {
			k.Token = x.token
		}
		if x.createdAt != nil {
			k.CreatedAt = *x.createdAt
		}
		if x.updatedAt != nil {
			k.UpdatedAt = *x.updatedAt
		}
	}
	return k
}

// isLowerHex runs once per key of a snapshot read, on random hex: a
// table and no branch per byte, since a digit-or-letter branch mispredicts
// about every other byte.
func isLowerHex(s string) bool {
	var bad uint8
	for i := 0; i < len(s); i++ {
		bad |= notLowerHex[s[i]]
	}
	return bad == 0
}

var notLowerHex = func() (t [256]uint8) {
	for c := range t {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			t[c] = 1
		}
	}
	return t
}()
