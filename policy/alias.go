package policy

import "github.com/gatehouse/gatehouse/events"

// TeamsByAlias returns the teams whose team_alias is alias (JWT
// team_alias_jwt_field). It walks the teams: aliases are not unique, and
// the lookup runs only for tokens that carry an alias and no team id.
func (s *Snapshot) TeamsByAlias(alias string) []*events.Team {
	return byAlias(s.teams, alias, func(t *events.Team) string { return t.TeamAlias })
}

// OrgsByAlias returns the organizations whose organization_alias is alias
// (JWT org_alias_jwt_field).
func (s *Snapshot) OrgsByAlias(alias string) []*events.Org {
	return byAlias(s.orgs, alias, func(o *events.Org) string { return o.OrganizationAlias })
}

// byAlias returns the objects of m whose alias is alias; none for "".
func byAlias[T any](m map[string]*T, alias string, aliasOf func(*T) string) []*T {
	if alias == "" {
		return nil
	}
	var out []*T
	for _, o := range m {
		if aliasOf(o) == alias {
			out = append(out, o)
		}
	}
	return out
}

// KeyByAlias returns a key other than except (a token) whose key_alias is
// alias, or nil; none for "". It walks the keys: the admin API's
// uniqueness check of key_alias (LiteLLM's _enforce_unique_key_alias,
// itself a table scan) is its only caller.
func (s *Snapshot) KeyByAlias(alias, except string) *events.Key {
	if alias == "" {
		return nil
	}
	for i := range s.keys {
		for h, r := range s.keys[i] {
			if k := r.peek(h); k.KeyAlias == alias && k.Token != except {
				return k
			}
		}
	}
	return nil
}
