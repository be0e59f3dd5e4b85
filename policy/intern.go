package policy

import (
	"strings"

	"github.com/gatehouse/gatehouse/events"
)

// interner shares the strings and model lists that many keys repeat
// (team, user and org ids, creators, model lists): with a million keys
// each decoded event would otherwise keep its own copy of them, tens of
// bytes a key. Only the applier goroutine uses it; request handlers never
// see it. Values of deleted objects stay interned; maxInterned bounds that.
type interner struct {
	strs   map[string]string
	lists  map[string][]string
	shapes map[shapeID]*keyShape
}

// shapeID identifies a keyShape whose strings and lists are interned:
// a list by its first element's address (an interned list is one array)
// and length, limits by value.
type shapeID struct {
	team, user, org, createdBy string
	models, routes             listID
	maxBudget                  float64
	tpm, rpm, maxParallel      int64
	set                        uint8 // which of the limits are set
	budgetDuration             string
}

type listID struct {
	first *string
	n     int
	isNil bool
}

func listIDOf(l []string) listID {
	id := listID{n: len(l), isNil: l == nil}
	if len(l) > 0 {
		id.first = &l[0]
	}
	return id
}

const maxInterned = 1 << 20

func newInterner() *interner {
	return &interner{strs: map[string]string{}, lists: map[string][]string{}, shapes: map[shapeID]*keyShape{}}
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

// shape returns the shared copy of sh, whose strings and lists are
// already interned. Keys of one shape share its limit pointers: nothing
// writes through them.
func (in *interner) shape(sh keyShape) *keyShape {
	id := shapeID{team: sh.team, user: sh.user, org: sh.org, createdBy: sh.createdBy, models: listIDOf(sh.models),
		routes: listIDOf(sh.allowedRoutes), budgetDuration: sh.budgetDuration}
	for i, lim := range [...]struct{ p, v *int64 }{{sh.tpm, &id.tpm}, {sh.rpm, &id.rpm}, {sh.maxParallel, &id.maxParallel}} {
		if lim.p != nil {
			id.set |= 1 << i
			*lim.v = *lim.p
		}
	}
	if sh.maxBudget != nil {
		id.set |= 1 << 3
		id.maxBudget = *sh.maxBudget
	}
	if v, ok := in.shapes[id]; ok {
		return v
	}
	p := &sh
	if len(in.shapes) < maxInterned {
		in.shapes[id] = p
	}
	return p
}
