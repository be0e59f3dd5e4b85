package policy

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"strings"

	"github.com/gatehouse/gatehouse/events"
)

// interner shares the strings and model lists that many keys repeat
// (team, user and org ids, creators, model lists): with a million keys
// each decoded event would otherwise keep its own copy of them, tens of
// bytes a key. Only the applier goroutine uses its maps; request handlers
// never see it. Values of deleted objects stay interned; maxInterned
// bounds that.
//
// Compact keys share a keyShape. Shapes are found by a hash of their
// content (shapeHash), which a snapshot read computes on its decoders, so
// the one applying goroutine does a map lookup on a uint64 and compares
// the candidate's fields with the key's; it interns a key's strings only
// when its shape is new. Equal hashes of different shapes are expected
// (rarely) and handled: every candidate is compared field by field.
type interner struct {
	strs  map[string]string
	lists map[string][]string
	// seed is fixed at creation and only read afterwards, so decoders may
	// hash with it while the applier writes the maps.
	seed maphash.Seed
	// shapes holds the first shape of each hash, more the others of a
	// hash shared by different shapes; nshapes counts both.
	shapes  map[uint64]*keyShape
	more    map[uint64][]*keyShape
	nshapes int
}

const maxInterned = 1 << 20

func newInterner() *interner {
	return &interner{strs: map[string]string{}, lists: map[string][]string{}, seed: maphash.MakeSeed(),
		shapes: map[uint64]*keyShape{}, more: map[uint64][]*keyShape{}}
}

func (in *interner) str(s string) string {
	if s == "" || in == nil {
		return s
	}
	if v, ok := in.strs[s]; ok {
		return v
	}
	if len(in.strs) < maxInterned {
		in.strs[s] = s
	}
	return s
}

// list returns a shared copy of l. Shared lists are read-only: nothing in
// the policy state mutates a key's models in place.
func (in *interner) list(l []string) []string {
	if len(l) == 0 || in == nil {
		return l
	}
	k := strings.Join(l, "\x00")
	if v, ok := in.lists[k]; ok {
		return v
	}
	if len(in.lists) < maxInterned {
		for i := range l {
			l[i] = in.str(l[i])
		}
		in.lists[k] = l
	}
	return l
}

func (in *interner) key(k *events.Key) {
	k.Models = in.list(k.Models)
	k.TeamID = in.str(k.TeamID)
	k.UserID = in.str(k.UserID)
	k.OrganizationID = in.str(k.OrganizationID)
	k.CreatedBy = in.str(k.CreatedBy)
	k.BudgetDuration = in.str(k.BudgetDuration)
	k.AllowedRoutes = in.list(k.AllowedRoutes)
}

// shapeHash hashes the fields of k that make its shape. It reads only the
// seed, so any goroutine may call it. Strings and lists are written with
// their lengths, so no two different shapes hash the same input; a nil
// list is told from an empty one (the rebuilt key's JSON differs), and a
// limit's presence is hashed beside its value.
func (in *interner) shapeHash(k *events.Key) uint64 {
	var h maphash.Hash
	h.SetSeed(in.seed)
	var b [8]byte
	num := func(v uint64) {
		binary.LittleEndian.PutUint64(b[:], v)
		h.Write(b[:]) //nolint:errcheck // never fails
	}
	str := func(s string) {
		num(uint64(len(s)))
		h.WriteString(s) //nolint:errcheck
	}
	list := func(l []string) {
		if l == nil {
			num(math.MaxUint64)
			return
		}
		num(uint64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	str(k.TeamID)
	str(k.UserID)
	str(k.OrganizationID)
	str(k.CreatedBy)
	str(k.BudgetDuration)
	list(k.Models)
	list(k.AllowedRoutes)
	var set uint64
	for i, p := range [...]*int64{k.TPMLimit, k.RPMLimit, k.MaxParallelRequests} {
		if p != nil {
			set |= 1 << i
			num(uint64(*p))
		}
	}
	if k.MaxBudget != nil {
		set |= 1 << 3
		num(math.Float64bits(*k.MaxBudget))
	}
	num(set)
	return h.Sum64()
}

// shapeOf returns the shared shape of k, whose shapeHash is hash, making
// it (and interning k's strings and lists for it) when it is new. Keys of
// one shape share its limit pointers: nothing writes through them.
func (in *interner) shapeOf(k *events.Key, hash uint64) *keyShape {
	if sh := in.shapes[hash]; sh != nil {
		if sh.is(k) {
			return sh
		}
		for _, sh := range in.more[hash] {
			if sh.is(k) {
				return sh
			}
		}
	}
	in.key(k)
	sh := &keyShape{team: k.TeamID, user: k.UserID, org: k.OrganizationID, createdBy: k.CreatedBy, models: k.Models,
		allowedRoutes: k.AllowedRoutes, maxBudget: k.MaxBudget, tpm: k.TPMLimit, rpm: k.RPMLimit, maxParallel: k.MaxParallelRequests,
		budgetDuration: k.BudgetDuration}
	if in.nshapes < maxInterned {
		if _, ok := in.shapes[hash]; ok {
			in.more[hash] = append(in.more[hash], sh)
		} else {
			in.shapes[hash] = sh
		}
		in.nshapes++
	}
	return sh
}

// is reports whether k has shape sh: a key rebuilt from sh would carry
// exactly k's shape fields (limits compared by value, a budget by its
// bits, so -0 stays -0).
func (sh *keyShape) is(k *events.Key) bool {
	return sh.team == k.TeamID && sh.user == k.UserID && sh.org == k.OrganizationID && sh.createdBy == k.CreatedBy &&
		sh.budgetDuration == k.BudgetDuration && sameList(sh.models, k.Models) && sameList(sh.allowedRoutes, k.AllowedRoutes) &&
		sameInt(sh.tpm, k.TPMLimit) && sameInt(sh.rpm, k.RPMLimit) && sameInt(sh.maxParallel, k.MaxParallelRequests) &&
		(sh.maxBudget == nil) == (k.MaxBudget == nil) && (sh.maxBudget == nil || math.Float64bits(*sh.maxBudget) == math.Float64bits(*k.MaxBudget))
}

func sameList(a, b []string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameInt(a, b *int64) bool {
	return a == b || a != nil && b != nil && *a == *b
}
