package auth

import (
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/policy"
)

// Request is what a caller asks for, as far as the decision needs it:
// the route, model and team header a JWT decision reads, and the policy
// clock for key expiry. Its strings may point into the server's request
// buffers: what a Grant keeps of them is copied (the team header, which
// can become the team id of a spend event or an upsert after the buffer
// was reused).
type Request struct {
	jwtauth.Request
	Now time.Time
}

// Grant is what one authenticated caller may do for one request: the one
// decision result every credential kind produces, so a handler reads who
// is calling, whose limits and budgets apply and where the model goes
// without asking how the caller authenticated.
type Grant struct {
	Method Method
	// Admin: the master key, or a JWT of a proxy admin.
	Admin bool
	// KeyHash and KeyAlias name the virtual key ("" for other methods).
	KeyHash, KeyAlias string
	// UserID, TeamID, OrgID and EndUserID are who the request is for and
	// is billed to. OrgID falls back to the team's org.
	UserID, TeamID, OrgID, EndUserID string
	// Key and Team carry the rpm/tpm limits that apply (nil: none); their
	// budgets, and User's, were checked before the grant was made.
	Key  *events.Key
	Team *events.Team
	User *events.User
	// Route is where the requested model goes (zero when no model was
	// requested; not Found when no deployment serves it).
	Route policy.Route
	// Upserts are objects the control plane should create for a JWT
	// caller (team_id_upsert, user_id_upsert); the request does not wait.
	Upserts []events.UpsertRequest
}

// Grant decides one request for an authenticated caller against a
// snapshot, in LiteLLM's order for its credential kind: the master key
// may do anything; a virtual key passes policy.CheckKey; a JWT passes
// jwtauth.Decide. Refusals are *apierror.Error.
func (id Identity) Grant(s *policy.Snapshot, r Request) (Grant, error) {
	var g Grant
	switch {
	case id.Admin:
		g = Grant{Method: MethodMasterKey, Admin: true}
		if r.Model != "" {
			g.Route = s.Catalog().Resolve(r.Model)
		}
	case id.JWT != nil:
		jr := r.Request
		jr.TeamHeader = strings.Clone(jr.TeamHeader)
		d, err := jwtauth.Decide(s, id.JWT, jr)
		if err != nil {
			return Grant{Method: MethodJWT}, err
		}
		g = Grant{Method: MethodJWT, Admin: d.Admin, UserID: d.UserID, OrgID: d.OrgID, EndUserID: d.EndUserID,
			Team: d.Team, User: d.User, Route: d.Route, Upserts: d.Upserts}
		if d.Team != nil {
			g.TeamID = d.Team.TeamID
		}
	default:
		k := id.Key
		a, err := s.CheckKey(k, r.Model, r.Now)
		if err != nil {
			return Grant{Method: MethodKey}, err
		}
		g = Grant{Method: MethodKey, KeyHash: k.Token, KeyAlias: k.KeyAlias, UserID: k.UserID, TeamID: k.TeamID,
			OrgID: k.OrganizationID, Key: k, Team: a.Team, User: a.User, Route: a.Route}
	}
	if g.OrgID == "" && g.Team != nil {
		g.OrgID = g.Team.OrganizationID // a key or token's org is its team's
	}
	return g, nil
}

// Models lists the model names the caller may call, for /v1/models:
// everything for the master key, what the key's access rules allow for a
// virtual key, and for a JWT the names its decision allows. upserts are
// what the JWT decision asks the control plane to create.
func (id Identity) Models(s *policy.Snapshot, r Request) (names []string, upserts []events.UpsertRequest, err error) {
	switch {
	case id.Admin:
		return s.VisibleModels(nil), nil, nil
	case id.JWT != nil:
		jr := jwtauth.Request{Route: r.Route, TeamHeader: strings.Clone(r.TeamHeader)}
		d, err := jwtauth.Decide(s, id.JWT, jr)
		if err != nil {
			return nil, nil, err
		}
		for _, n := range s.Catalog().ModelNames() {
			jr.Model = n
			if _, err := jwtauth.Decide(s, id.JWT, jr); err == nil {
				names = append(names, n)
			}
		}
		return names, d.Upserts, nil
	}
	// /v1/models is a model route: the key must be in good standing and
	// its user may not be a view-only admin, as for a completion (CheckKey
	// with no model checks exactly that).
	if _, err := s.CheckKey(id.Key, "", r.Now); err != nil {
		return nil, nil, err
	}
	return s.VisibleModels(id.Key), nil, nil
}
