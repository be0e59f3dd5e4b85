package policy

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"strings"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/events"
)

// interner shares the strings and model lists that many keys repeat
// (team, user and org ids, creators, model lists): with a million keys
// each decoded event would otherwise keep its own copy of them, tens of
// bytes a key. Only the applier goroutine writes it; request handlers
// never see it. Values of deleted objects stay interned; maxInterned
// bounds that.
//
// Compact keys share a keyShape, found by a hash of its content
// (shapeHash) and then compared field by field with the key, so equal
// hashes of different shapes (rare, but possible) never merge them. A
// snapshot read hashes and finds known shapes on its decoders
// (knownShape), so the one applying goroutine only makes the new shapes,
// interning their strings and lists: at a million keys of 50,000 shapes
// it touches the string maps 50,000 times, not a million.
type interner struct {
	strs  map[string]string
	lists map[string][]string
	// seed is fixed at creation and only read afterwards, so decoders may
	// hash with it while the applier writes the maps.
	seed maphash.Seed
	// shapes holds the first shape of each hash, more the others of a
	// hash shared by different shapes; nshapes counts both. Decoders read
	// shapes (knownShape) while the applier adds to it, so it is a table
	// of atomic slots that only the applier writes, replaced whole (and
	// the pointer swapped) when it grows.
	shapes  atomic.Pointer[shapeTable]
	more    map[uint64][]*keyShape
	nshapes int
}

// shapeTable is an open-addressing table (linear probing) of shapes by
// hash, for one writer and any number of readers. A slot's hash is
// written before its shape is published (Store) and read only after the
// shape is seen (Load), so a reader never sees a slot half made. Slots
// are never changed or emptied once set.
type shapeTable struct {
	slots []shapeSlot // a power of two long
	n     int         // slots set; only the writer reads it
}

type shapeSlot struct {
	hash uint64
	sh   atomic.Pointer[keyShape]
}

// get returns the first shape stored under hash, or nil.
func (t *shapeTable) get(hash uint64) *keyShape {
	mask := uint64(len(t.slots) - 1)
	for i := hash & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		sh := sl.sh.Load()
		if sh == nil {
			return nil
		}
		if sl.hash == hash {
			return sh
		}
	}
}

// put stores sh under hash, which the table must not hold; it returns the
// table to use from then on (a bigger one when t is three quarters full).
func (t *shapeTable) put(hash uint64, sh *keyShape) *shapeTable {
	if t.n+1 > len(t.slots)/4*3 {
		bigger := &shapeTable{slots: make([]shapeSlot, 2*len(t.slots))}
		for i := range t.slots {
			if old := t.slots[i].sh.Load(); old != nil {
				bigger.put(t.slots[i].hash, old)
			}
		}
		t = bigger
	}
	mask := uint64(len(t.slots) - 1)
	i := hash & mask
	for t.slots[i].sh.Load() != nil {
		i = (i + 1) & mask
	}
	t.slots[i].hash = hash
	t.slots[i].sh.Store(sh)
	t.n++
	return t
}

const maxInterned = 1 << 20

func newInterner() *interner {
	in := &interner{strs: map[string]string{}, lists: map[string][]string{}, seed: maphash.MakeSeed(), more: map[uint64][]*keyShape{}}
	in.shapes.Store(&shapeTable{slots: make([]shapeSlot, 64)})
	return in
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
	k := listKey(l)
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

// listKey identifies a list by its elements, each preceded by its length,
// so no two different lists share a key: joined with a separator,
// ["a","b"] and ["a\x00b"] were one list, and a key of the second was
// rebuilt with the models of the first.
func listKey(l []string) string {
	n := 0
	for _, s := range l {
		n += len(s) + binary.MaxVarintLen64
	}
	var b strings.Builder
	b.Grow(n)
	var lb [binary.MaxVarintLen64]byte
	for _, s := range l {
		b.Write(binary.AppendUvarint(lb[:0], uint64(len(s))))
		b.WriteString(s)
	}
	return b.String()
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
	t := in.shapes.Load()
	first := t.get(hash)
	if first != nil {
		if first.is(k) {
			return first
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
		if first != nil {
			in.more[hash] = append(in.more[hash], sh)
		} else if bigger := t.put(hash, sh); bigger != t {
			in.shapes.Store(bigger)
		}
		in.nshapes++
	}
	return sh
}

// knownShape is the shape of k (whose shapeHash is hash) if it is the
// first of its hash, else nil: then shapeOf, on the applier, decides. Any
// goroutine may call it, so a snapshot read compares a key with its shape
// on the decoders. A shape stored meanwhile by the applier may be missed,
// never a wrong one returned: stored shapes never change or go.
func (in *interner) knownShape(k *events.Key, hash uint64) *keyShape {
	if sh := in.shapes.Load().get(hash); sh != nil && sh.is(k) {
		return sh
	}
	return nil
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
