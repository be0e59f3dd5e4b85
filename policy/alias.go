package policy

import "github.com/gatehouse/gatehouse/events"

// TeamsByAlias returns the teams whose team_alias is alias (JWT
// team_alias_jwt_field). It walks the teams: aliases are not unique, and
// the lookup runs only for tokens that carry an alias and no team id.
func (s *Snapshot) TeamsByAlias(alias string) []*events.Team {
	if alias == "" {
		return nil
	}
	var out []*events.Team
	for _, t := range s.teams {
		if t.TeamAlias == alias {
			out = append(out, t)
		}
	}
	return out
}

// OrgsByAlias returns the organizations whose organization_alias is alias
// (JWT org_alias_jwt_field).
func (s *Snapshot) OrgsByAlias(alias string) []*events.Org {
	if alias == "" {
		return nil
	}
	var out []*events.Org
	for _, o := range s.orgs {
		if o.OrganizationAlias == alias {
			out = append(out, o)
		}
	}
	return out
}
