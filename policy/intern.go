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
	strs  map[string]string
	lists map[string][]string
}

const maxInterned = 1 << 20

func newInterner() *interner {
	return &interner{strs: map[string]string{}, lists: map[string][]string{}}
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
}
