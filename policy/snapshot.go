// Package policy holds the in-memory policy state built from the event
// stream, and the rules that decide what a caller may do with it.
//
// It owns the compiled forms the request path reads: the model Catalog
// (model names to deployments, access groups; rebuilt when models or
// groups change) and Routing (router_settings with defaults applied;
// rebuilt when the settings event changes), so a request compiles
// nothing.
//
// A Snapshot is immutable once published: request handlers load it through
// an atomic pointer once per request and never lock. One goroutine applies
// events to a Builder, which copies only the maps (or, for keys, the one
// shard of 256) an event touches, and publishes a new Snapshot.
//
// The control plane uses the same projection as its read model, so the edge
// and the control plane cannot disagree on what an event means.
//
// The follower (Live) reads the policy stream with nats.go's ordered
// consumer, not through the control plane's Watermill processors
// (control/processor): it needs each event's stream sequence (a snapshot
// is "the state at sequence N", edges report their applied sequence, a
// policy snapshot resumes from N+1) and strict order with no redelivery,
// and an event it cannot apply must stop it, not go to a poison queue:
// skipping a revocation would be a security hole.
package policy

import (
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

const keyShards = 256

// KeyHash is the raw sha256 of a virtual key.
type KeyHash [32]byte

// ParseKeyHash decodes a hex token.
func ParseKeyHash(token string) (KeyHash, error) {
	var h KeyHash
	if len(token) != 64 {
		return h, fmt.Errorf("policy: key hash must be 64 hex chars, got %d", len(token))
	}
	if _, err := hex.Decode(h[:], []byte(token)); err != nil {
		return h, fmt.Errorf("policy: key hash: %w", err)
	}
	return h, nil
}

// Snapshot is the policy state at one stream sequence.
type Snapshot struct {
	seq   uint64
	keys  [keyShards]map[KeyHash]*keyRec
	nkeys int
	// grace are the tokens regenerated keys replaced that still work for
	// a while (/key/regenerate's grace_period), by their hash.
	grace map[KeyHash]graceToken
	// keyMode is what keys hold (see KeyRecords); fixed for a lineage.
	keyMode KeyRecords
	teams   map[string]*events.Team
	users   map[string]*events.User
	orgs    map[string]*events.Org
	groups  map[string]*events.AccessGroup
	models  map[string]*events.Model
	catalog *Catalog
	jwt     *events.JWTSettings
	// routingSettings is the router_settings event (nil: never set), kept
	// for export and persistence; routing is its compiled form.
	routingSettings *events.RoutingSettings
	routing         *Routing
	// customers are the end users with a record (see customer.go);
	// litellm is litellm_settings (nil: none set).
	customers map[string]*events.Customer
	litellm   *events.LiteLLMSettings
	// emails indexes users by lower-cased email (LiteLLM matches JWT users
	// by email when the id does not match).
	emails map[string]string
	// budgeted indexes the team members with limits (their own
	// max_budget_in_team, rpm_limit, tpm_limit or budget_exceeded flag,
	// or their team's member defaults).
	budgeted memberIndex[events.Member]
	// orgBudgeted indexes the org members with a
	// max_budget_in_organization.
	orgBudgeted memberIndex[events.OrgMember]
	// intern is shared by every snapshot of one lineage and used only by
	// the applier.
	intern *interner
}

// Empty returns the state before any event, keeping full keys.
func Empty(env Env) *Snapshot { return EmptyOf(env, FullKeys) }

// EmptyOf returns the state before any event, keeping keys as m says.
func EmptyOf(env Env, m KeyRecords) *Snapshot {
	s := &Snapshot{
		keyMode:     m,
		teams:       map[string]*events.Team{},
		users:       map[string]*events.User{},
		orgs:        map[string]*events.Org{},
		customers:   map[string]*events.Customer{},
		groups:      map[string]*events.AccessGroup{},
		models:      map[string]*events.Model{},
		emails:      map[string]string{},
		budgeted:    newMemberIndex[events.Member](),
		grace:       map[KeyHash]graceToken{},
		orgBudgeted: newMemberIndex[events.OrgMember](),
		intern:      newInterner(),
	}
	for i := range s.keys {
		s.keys[i] = map[KeyHash]*keyRec{}
	}
	s.catalog = buildCatalog(s.models, s.groups, env, nil)
	s.routing = defaultRouting
	return s
}

// Seq is the last stream sequence applied.
func (s *Snapshot) Seq() uint64 { return s.seq }

// graceToken is a replaced token still in its grace period: it stands for
// the key to until the instant until.
type graceToken struct {
	to    KeyHash
	until time.Time
}

// KeyAt is Key, and else the key a replaced token h stands for while its
// grace period runs at now (LiteLLM's previous_token): a lookup that
// finds no key pays for this, one that does pays nothing.
func (s *Snapshot) KeyAt(h KeyHash, now time.Time) *events.Key {
	if k := s.Key(h); k != nil {
		return k
	}
	if g, ok := s.grace[h]; ok && now.Before(g.until) {
		return s.Key(g.to)
	}
	return nil
}

// Key returns a key by hash. The key is shared and must not be changed.
func (s *Snapshot) Key(h KeyHash) *events.Key {
	if r := s.keys[h[0]][h]; r != nil {
		return r.key(h)
	}
	return nil
}

// KeyRecords says what the snapshot keeps per key.
func (s *Snapshot) KeyRecords() KeyRecords { return s.keyMode }

// KeyByToken returns a key by hex hash.
func (s *Snapshot) KeyByToken(token string) *events.Key {
	h, err := ParseKeyHash(token)
	if err != nil {
		return nil
	}
	return s.Key(h)
}

// NumKeys is the number of live keys.
func (s *Snapshot) NumKeys() int { return s.nkeys }

// Team returns a team by id.
func (s *Snapshot) Team(id string) *events.Team { return s.teams[id] }

// User returns a user by id.
func (s *Snapshot) User(id string) *events.User { return s.users[id] }

// UserByEmail returns the user with an email, case-insensitively.
func (s *Snapshot) UserByEmail(email string) *events.User {
	if id, ok := s.emails[strings.ToLower(email)]; ok {
		return s.users[id]
	}
	return nil
}

// Org returns an org by id.
func (s *Snapshot) Org(id string) *events.Org { return s.orgs[id] }

// AccessGroup returns an explicit access group by id.
func (s *Snapshot) AccessGroup(id string) *events.AccessGroup { return s.groups[id] }

// Model returns a deployment by id.
func (s *Snapshot) Model(id string) *events.Model { return s.models[id] }

// JWT returns the JWT settings (nil: JWT auth was never configured).
func (s *Snapshot) JWT() *events.JWTSettings { return s.jwt }

// RoutingSettings returns the router_settings event as applied (nil: none
// was ever set, LiteLLM's defaults apply).
func (s *Snapshot) RoutingSettings() *events.RoutingSettings { return s.routingSettings }

// Routing returns router_settings compiled for the request path; never
// nil.
func (s *Snapshot) Routing() *Routing { return s.routing }

// Catalog returns the model catalog compiled from the deployments.
func (s *Snapshot) Catalog() *Catalog { return s.catalog }

// Models returns every deployment, ordered by model_name then id.
func (s *Snapshot) Models() []*events.Model {
	out := make([]*events.Model, 0, len(s.models))
	for _, m := range s.models {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ModelName != out[j].ModelName {
			return out[i].ModelName < out[j].ModelName
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Teams returns every team ordered by id.
func (s *Snapshot) Teams() []*events.Team { return sortedValues(s.teams) }

// Users returns every user ordered by id.
func (s *Snapshot) Users() []*events.User { return sortedValues(s.users) }

// Orgs returns every org ordered by id.
func (s *Snapshot) Orgs() []*events.Org { return sortedValues(s.orgs) }

// AccessGroups returns every explicit access group ordered by id.
func (s *Snapshot) AccessGroups() []*events.AccessGroup { return sortedValues(s.groups) }

// Keys returns every key ordered by token. It walks the whole table: for
// admin listings and tests, not the request path.
func (s *Snapshot) Keys() []*events.Key {
	out := make([]*events.Key, 0, s.nkeys)
	for i := range s.keys {
		for h, r := range s.keys[i] {
			out = append(out, r.peek(h))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Token < out[j].Token })
	return out
}

func sortedValues[V any](m map[string]*V) []*V {
	ids := slices.Sorted(maps.Keys(m))
	out := make([]*V, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

// Builder applies events on top of a snapshot without changing it.
type Builder struct {
	base         *Snapshot
	s            Snapshot
	ownShard     [keyShards]bool
	ownTeams     bool
	ownUsers     bool
	ownOrgs      bool
	ownGroups    bool
	ownModels    bool
	ownCustomers bool
	ownBudgeted  bool
	ownOrgBudget bool
	ownGrace     bool
	dirty        bool // models or groups changed: rebuild the catalog
	env          Env
}

// Edit starts a builder on top of s. env resolves os.environ/ references in
// deployments.
func (s *Snapshot) Edit(env Env) *Builder {
	return &Builder{base: s, s: *s, env: env}
}

// Seq is the last sequence applied to the builder.
func (b *Builder) Seq() uint64 { return b.s.seq }

// Apply applies one event. Events at or below the builder's sequence are
// ignored, so replays and redeliveries are harmless.
func (b *Builder) Apply(ev events.Event) error {
	if ev.Seq != 0 && ev.Seq <= b.s.seq {
		return nil
	}
	del := ev.Info.Action == events.ActionDeleted
	id := events.ObjectID(ev.Object)
	switch ev.Info.Kind {
	case events.KindKey:
		h, err := ParseKeyHash(id)
		if err != nil {
			return fmt.Errorf("policy: %s: %w", ev.Type, err)
		}
		if del {
			b.deleteKey(h)
			break
		}
		k := ev.Object.(*events.Key)
		if k.RegeneratedFrom != "" {
			if old, err := ParseKeyHash(k.RegeneratedFrom); err == nil {
				b.deleteKey(old)
				b.graceFor(old, h, k)
			}
		}
		b.putKey(h, k)
	case events.KindTeam:
		old := b.s.teams[id]
		setOrDelete(own(&b.ownTeams, &b.s.teams), id, ev.Object, del)
		b.indexMembers(id, old, b.s.teams[id])
	case events.KindUser:
		if !b.ownUsers {
			b.s.users, b.s.emails, b.ownUsers = maps.Clone(b.s.users), maps.Clone(b.s.emails), true
		}
		if old := b.s.users[id]; old != nil && old.UserEmail != "" && b.s.emails[strings.ToLower(old.UserEmail)] == id {
			delete(b.s.emails, strings.ToLower(old.UserEmail))
		}
		setOrDelete(b.s.users, id, ev.Object, del)
		if u := b.s.users[id]; u != nil && u.UserEmail != "" {
			b.s.emails[strings.ToLower(u.UserEmail)] = id
		}
	case events.KindOrg:
		old := b.s.orgs[id]
		setOrDelete(own(&b.ownOrgs, &b.s.orgs), id, ev.Object, del)
		b.indexOrgMembers(id, old, b.s.orgs[id])
	case events.KindAccessGroup:
		setOrDelete(own(&b.ownGroups, &b.s.groups), id, ev.Object, del)
		b.dirty = true
	case events.KindJWTSettings:
		setOrClear(&b.s.jwt, ev.Object, del)
	case events.KindRouterSettings:
		setOrClear(&b.s.routingSettings, ev.Object, del)
		b.s.routing = CompileRouting(b.s.routingSettings)
		b.dirty = true // the catalog resolves model_group_alias
	case events.KindCustomer:
		setOrDelete(own(&b.ownCustomers, &b.s.customers), id, ev.Object, del)
	case events.KindLiteLLMSettings:
		setOrClear(&b.s.litellm, ev.Object, del)
	case events.KindModel:
		setOrDelete(own(&b.ownModels, &b.s.models), id, ev.Object, del)
		b.dirty = true
	default:
		return fmt.Errorf("%w: kind %q", events.ErrUnknownType, ev.Info.Kind)
	}
	if ev.Seq > b.s.seq {
		b.s.seq = ev.Seq
	}
	return nil
}

// own makes the Builder the owner of *m before its first write since the
// last publish (copy on write: the published Snapshot keeps the old map)
// and returns it.
func own[K comparable, V any](owned *bool, m *map[K]V) map[K]V {
	if !*owned {
		*m, *owned = maps.Clone(*m), true
	}
	return *m
}

func setOrDelete[V any](m map[string]*V, id string, obj any, del bool) {
	if del {
		delete(m, id)
		return
	}
	m[id] = obj.(*V)
}

// setOrClear sets a one-object setting (JWT, routing, litellm) from an
// event's object, or clears it on a delete.
func setOrClear[V any](dst **V, obj any, del bool) {
	if del {
		*dst = nil
		return
	}
	*dst = obj.(*V)
}

func (b *Builder) shard(h KeyHash) map[KeyHash]*keyRec {
	i := h[0]
	return own(&b.ownShard[i], &b.s.keys[i])
}

// putKey interns k's shared parts (k is the builder's from here on) and
// stores its record.
func (b *Builder) putKey(h KeyHash, k *events.Key) {
	var hash uint64
	if b.s.keyMode == CompactKeys {
		hash = b.s.intern.shapeHash(k)
	}
	b.putKeyRec(h, k, newKeyRec(k, b.s.keyMode), hash)
}

// putKeyRec is putKey with k's record made (newKeyRec) but not shaped;
// hash is k's shapeHash under CompactKeys.
func (b *Builder) putKeyRec(h KeyHash, k *events.Key, r *keyRec, hash uint64) {
	b.s.intern.setShape(r, k, hash)
	m := b.shard(h)
	// One map operation, not a lookup and then an insert: the length
	// tells whether h is new.
	n := len(m)
	m[h] = r
	if len(m) > n {
		b.s.nkeys++
	}
}

// presize makes the builder's key shards room for n keys, so a snapshot
// read does not grow (and rehash) them step by step. n comes from a
// snapshot's header: it is capped, the header is not trusted with memory.
func (b *Builder) presize(n int) {
	if n <= 0 || b.s.nkeys != 0 {
		return
	}
	n = min(n, 1<<26)
	for i := range b.s.keys {
		b.s.keys[i], b.ownShard[i] = make(map[KeyHash]*keyRec, n/keyShards+n/keyShards/8), true
	}
}

// graceFor lets old, the token key h (k) replaced, stand for it while
// k's grace period runs. A grace period already over is left out: KeyAt
// would refuse it anyway, and replays would otherwise keep every
// expired one.
func (b *Builder) graceFor(old, h KeyHash, k *events.Key) {
	if u := k.PreviousTokenExpires; u != nil && time.Now().Before(*u) {
		g := own(&b.ownGrace, &b.s.grace)
		if g == nil {
			g = map[KeyHash]graceToken{}
			b.s.grace = g
		}
		g[old] = graceToken{to: h, until: *u}
	} else if _, ok := b.s.grace[old]; ok {
		delete(own(&b.ownGrace, &b.s.grace), old)
	}
}

func (b *Builder) deleteKey(h KeyHash) {
	if _, ok := b.s.keys[h[0]][h]; !ok {
		return
	}
	delete(b.shard(h), h)
	b.s.nkeys--
}

// Snapshot publishes what the builder holds as a new immutable snapshot.
// The builder may keep applying events afterwards; it copies again what it
// touches next.
func (b *Builder) Snapshot() *Snapshot {
	if b.dirty || b.s.catalog == nil {
		b.s.catalog = buildCatalog(b.s.models, b.s.groups, b.env, b.s.routingSettings)
		b.dirty = false
	}
	out := b.s
	b.ownShard = [keyShards]bool{}
	b.ownTeams, b.ownUsers, b.ownOrgs, b.ownGroups, b.ownModels = false, false, false, false, false
	b.ownCustomers, b.ownBudgeted, b.ownOrgBudget, b.ownGrace = false, false, false, false
	b.base = &out
	return &out
}

// SnapshotOf builds a snapshot from objects, each applied as its upserted
// event in order (sequence 1, 2, ...): for tests and benchmarks that want a
// policy state without a stream.
func SnapshotOf(env Env, objs ...any) (*Snapshot, error) { return Empty(env).With(env, objs...) }

// With applies objects on top of s, each as its upserted event, numbered
// from the sequence after s's.
func (s *Snapshot) With(env Env, objs ...any) (*Snapshot, error) {
	b := s.Edit(env)
	for i, o := range objs {
		typ := events.TypeFor(events.KindOf(o), events.ActionUpserted)
		info, _ := events.Lookup(typ)
		ev := events.Event{Envelope: events.Envelope{Type: typ}, Seq: s.seq + uint64(i+1), Info: info, Object: o}
		if err := b.Apply(ev); err != nil {
			return nil, err
		}
	}
	return b.Snapshot(), nil
}

// memberKey names a team membership: team id and user id.
type memberKey struct{ team, user string }

// HasMemberLimits: member m has limits within team t, its own (a budget,
// rpm or tpm limit, or the tracker's flag from a budget) or the team's
// member defaults.
func HasMemberLimits(t *events.Team, m *events.Member) bool {
	return m.MaxBudgetInTeam != nil || m.BudgetExceeded || m.RPMLimit != nil || m.TPMLimit != nil || hasMemberDefaults(t)
}

// hasMemberDefaults: the team limits each of its members (LiteLLM's
// team_member_budget, team_member_rpm_limit, team_member_tpm_limit).
func hasMemberDefaults(t *events.Team) bool {
	return t.TeamMemberBudget != nil || t.TeamMemberRPMLimit != nil || t.TeamMemberTPMLimit != nil
}

// indexMembers replaces team id's entries in the membership limits index:
// old's members out, cur's in (either may be nil).
func (b *Builder) indexMembers(id string, old, cur *events.Team) {
	var om, cm []events.Member
	if old != nil {
		om = old.MembersWithRoles
	}
	if cur != nil {
		cm = cur.MembersWithRoles
	}
	b.s.budgeted.reindex(&b.ownBudgeted, id, om, cm,
		func(m *events.Member) bool { return HasMemberLimits(old, m) },
		func(m *events.Member) bool { return HasMemberLimits(cur, m) },
		func(m *events.Member) string { return m.UserID })
}

// indexOrgMembers replaces org id's entries in the org member budget
// index: old's members out, cur's in (either may be nil).
func (b *Builder) indexOrgMembers(id string, old, cur *events.Org) {
	var om, cm []events.OrgMember
	if old != nil {
		om = old.Members
	}
	if cur != nil {
		cm = cur.Members
	}
	budgeted := func(m *events.OrgMember) bool { return m.MaxBudgetInOrg != nil }
	b.s.orgBudgeted.reindex(&b.ownOrgBudget, id, om, cm, budgeted, budgeted,
		func(m *events.OrgMember) string { return m.UserID })
}

// memberIndex indexes the memberships of teams or orgs whose limits
// apply, by object and user id, so a request finds its membership without
// walking the members (an object may have thousands); email marks the
// objects where such a member is named only by email, walked instead.
type memberIndex[M any] struct {
	byUser map[memberKey]*M
	email  map[string]bool
}

func newMemberIndex[M any]() memberIndex[M] {
	return memberIndex[M]{byUser: map[memberKey]*M{}, email: map[string]bool{}}
}

// reindex replaces object id's entries: old's members out, cur's in where
// limited says their limits apply (oldLimited and curLimited judge a
// member of each side: a team's member defaults count). The maps are
// copied once per snapshot (own), and not at all when neither side has
// such a member.
func (x *memberIndex[M]) reindex(own *bool, id string, old, cur []M, oldLimited, curLimited func(*M) bool, userID func(*M) string) {
	limited := func(ms []M, f func(*M) bool) bool {
		return slices.ContainsFunc(ms, func(m M) bool { return f(&m) })
	}
	if !limited(old, oldLimited) && !limited(cur, curLimited) {
		return
	}
	if !*own {
		x.byUser, x.email, *own = maps.Clone(x.byUser), maps.Clone(x.email), true
	}
	for i := range old {
		if u := userID(&old[i]); u != "" {
			delete(x.byUser, memberKey{id, u})
		}
	}
	delete(x.email, id)
	for i := range cur {
		m := &cur[i]
		switch {
		case !curLimited(m):
		case userID(m) != "":
			x.byUser[memberKey{id, userID(m)}] = m
		default:
			x.email[id] = true
		}
	}
}

// member is user's entry in object id's index (nil: none by user id), and
// whether the object has such a member named only by email.
func (x *memberIndex[M]) member(id, user string) (m *M, byEmail bool) {
	if m := x.byUser[memberKey{id, user}]; m != nil {
		return m, false
	}
	return nil, x.email[id]
}
