package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Product prefixes every type string and subject.
const Product = "gatehouse"

// Kind names the aggregate an event is about.
type Kind string

// The aggregates. Adding one is allowed; renaming one never is.
const (
	KindModel       Kind = "model"
	KindKey         Kind = "key"
	KindTeam        Kind = "team"
	KindUser        Kind = "user"
	KindOrg         Kind = "org"
	KindAccessGroup Kind = "access_group"
	KindJWTSettings Kind = "jwt_settings"
	// KindRouterSettings is the one load-balancing settings object.
	KindRouterSettings Kind = "router_settings"
	// KindCustomer is an end user (LiteLLM's /customer/* objects).
	KindCustomer Kind = "customer"
	// KindLiteLLMSettings is the one litellm_settings object.
	KindLiteLLMSettings Kind = "litellm_settings"
)

// Action says what happened. Every action except Deleted carries the full
// state of the object after the change; Deleted carries a Tombstone.
type Action string

// The actions.
const (
	ActionUpserted    Action = "upserted"
	ActionDeleted     Action = "deleted"
	ActionBlocked     Action = "blocked"
	ActionUnblocked   Action = "unblocked"
	ActionRegenerated Action = "regenerated"
	ActionMemberAdded Action = "member_added"
)

// Type strings. ONLY ADD TO THIS LIST; never change or reuse a value: edges
// and replicas in a rolling upgrade must agree on what each one means.
const (
	ModelUpserted = "gatehouse.model.v1.upserted"
	ModelDeleted  = "gatehouse.model.v1.deleted"

	KeyUpserted    = "gatehouse.key.v1.upserted"
	KeyDeleted     = "gatehouse.key.v1.deleted"
	KeyBlocked     = "gatehouse.key.v1.blocked"
	KeyUnblocked   = "gatehouse.key.v1.unblocked"
	KeyRegenerated = "gatehouse.key.v1.regenerated"

	TeamUpserted    = "gatehouse.team.v1.upserted"
	TeamDeleted     = "gatehouse.team.v1.deleted"
	TeamBlocked     = "gatehouse.team.v1.blocked"
	TeamUnblocked   = "gatehouse.team.v1.unblocked"
	TeamMemberAdded = "gatehouse.team.v1.member_added"

	UserUpserted = "gatehouse.user.v1.upserted"
	UserDeleted  = "gatehouse.user.v1.deleted"

	OrgUpserted = "gatehouse.org.v1.upserted"
	OrgDeleted  = "gatehouse.org.v1.deleted"

	AccessGroupUpserted = "gatehouse.access_group.v1.upserted"
	AccessGroupDeleted  = "gatehouse.access_group.v1.deleted"

	JWTSettingsUpserted = "gatehouse.jwt_settings.v1.upserted"

	RouterSettingsUpserted = "gatehouse.router_settings.v1.upserted"

	CustomerUpserted  = "gatehouse.customer.v1.upserted"
	CustomerDeleted   = "gatehouse.customer.v1.deleted"
	CustomerBlocked   = "gatehouse.customer.v1.blocked"
	CustomerUnblocked = "gatehouse.customer.v1.unblocked"

	LiteLLMSettingsUpserted = "gatehouse.litellm_settings.v1.upserted"
)

// TypeInfo describes a known type string.
type TypeInfo struct {
	Kind   Kind
	Action Action
}

var registry = map[string]TypeInfo{
	ModelUpserted:          {KindModel, ActionUpserted},
	ModelDeleted:           {KindModel, ActionDeleted},
	KeyUpserted:            {KindKey, ActionUpserted},
	KeyDeleted:             {KindKey, ActionDeleted},
	KeyBlocked:             {KindKey, ActionBlocked},
	KeyUnblocked:           {KindKey, ActionUnblocked},
	KeyRegenerated:         {KindKey, ActionRegenerated},
	TeamUpserted:           {KindTeam, ActionUpserted},
	TeamDeleted:            {KindTeam, ActionDeleted},
	TeamBlocked:            {KindTeam, ActionBlocked},
	TeamUnblocked:          {KindTeam, ActionUnblocked},
	TeamMemberAdded:        {KindTeam, ActionMemberAdded},
	UserUpserted:           {KindUser, ActionUpserted},
	UserDeleted:            {KindUser, ActionDeleted},
	OrgUpserted:            {KindOrg, ActionUpserted},
	OrgDeleted:             {KindOrg, ActionDeleted},
	AccessGroupUpserted:    {KindAccessGroup, ActionUpserted},
	AccessGroupDeleted:     {KindAccessGroup, ActionDeleted},
	JWTSettingsUpserted:    {KindJWTSettings, ActionUpserted},
	RouterSettingsUpserted: {KindRouterSettings, ActionUpserted},
}

// Lookup returns what a type string means, or false when it is unknown to
// this build.
func Lookup(typ string) (TypeInfo, bool) {
	ti, ok := registry[typ]
	return ti, ok
}

// TypeFor returns the type string for a kind and action; it panics on a
// combination that does not exist, which is a programming error.
func TypeFor(k Kind, a Action) string {
	if t, ok := TypeOf(k, a); ok {
		return t
	}
	panic(fmt.Sprintf("events: no type for %s/%s", k, a))
}

// TypeOf returns the type string for a kind and action, and false when
// this build has none (input from a newer writer).
func TypeOf(k Kind, a Action) (string, bool) {
	for t, ti := range registry {
		if ti.Kind == k && ti.Action == a {
			return t, true
		}
	}
	return "", false
}

// ErrUnknownType is returned when an event's type string is not known to this
// build. Consumers must stop advancing when they meet it.
var ErrUnknownType = errors.New("events: unknown event type")

// ErrMalformed is returned for an event that cannot be decoded.
var ErrMalformed = errors.New("events: malformed event")

// Envelope is the wire form of every event.
type Envelope struct {
	ID    string          `json:"id"`
	Type  string          `json:"type"`
	Time  time.Time       `json:"time"`
	Actor string          `json:"actor"`
	Data  json.RawMessage `json:"data"`
}

// Event is a decoded envelope with its place in the stream.
type Event struct {
	Envelope
	// Seq is the stream sequence; Subject the subject it was stored under.
	Seq     uint64
	Subject string
	Info    TypeInfo
	// Object is one of *Model, *Key, *Team, *User, *Org, *AccessGroup,
	// *Customer, the settings objects or *Tombstone (for ActionDeleted).
	Object any
}

// Decode parses an envelope and its payload. It returns ErrUnknownType
// (wrapped) for a type this build does not know, and ErrMalformed (wrapped)
// for anything that does not parse.
func Decode(data []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(data, &ev.Envelope); err != nil {
		return ev, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if ev.ID == "" || ev.Type == "" {
		return ev, fmt.Errorf("%w: envelope without id or type", ErrMalformed)
	}
	ti, ok := Lookup(ev.Type)
	if !ok {
		return ev, fmt.Errorf("%w: %q", ErrUnknownType, ev.Type)
	}
	ev.Info = ti
	obj, err := newObject(ti)
	if err != nil {
		return ev, err
	}
	if len(ev.Data) == 0 {
		return ev, fmt.Errorf("%w: %s without data", ErrMalformed, ev.Type)
	}
	if err := json.Unmarshal(ev.Data, obj); err != nil {
		return ev, fmt.Errorf("%w: %s data: %v", ErrMalformed, ev.Type, err)
	}
	if id := ObjectID(obj); id == "" {
		return ev, fmt.Errorf("%w: %s without object id", ErrMalformed, ev.Type)
	}
	ev.Object = obj
	return ev, nil
}

func newObject(ti TypeInfo) (any, error) {
	if ti.Action == ActionDeleted {
		return &Tombstone{}, nil
	}
	if o, ok := newObjects[ti.Kind]; ok {
		return o(), nil
	}
	return nil, fmt.Errorf("%w: kind %q", ErrUnknownType, ti.Kind)
}

// newObjects makes an empty object of each kind; KindOf reads it
// backwards.
var newObjects = map[Kind]func() object{
	KindModel:           func() object { return &Model{} },
	KindKey:             func() object { return &Key{} },
	KindTeam:            func() object { return &Team{} },
	KindUser:            func() object { return &User{} },
	KindOrg:             func() object { return &Org{} },
	KindAccessGroup:     func() object { return &AccessGroup{} },
	KindJWTSettings:     func() object { return &JWTSettings{} },
	KindRouterSettings:  func() object { return &RoutingSettings{} },
	KindCustomer:        func() object { return &Customer{} },
	KindLiteLLMSettings: func() object { return &LiteLLMSettings{} },
}

var kindOfType = func() map[reflect.Type]Kind {
	m := make(map[reflect.Type]Kind, len(newObjects))
	for k, o := range newObjects {
		m[reflect.TypeOf(o())] = k
	}
	return m
}()

// object is every payload: it names the id it is stored under.
type object interface{ objectID() string }

func (o *Model) objectID() string           { return o.ID }
func (o *Key) objectID() string             { return o.Token }
func (o *Team) objectID() string            { return o.TeamID }
func (o *User) objectID() string            { return o.UserID }
func (o *Org) objectID() string             { return o.OrganizationID }
func (o *AccessGroup) objectID() string     { return o.AccessGroupID }
func (o *JWTSettings) objectID() string     { return o.ID }
func (o *RoutingSettings) objectID() string { return o.ID }
func (o *Customer) objectID() string        { return o.UserID }
func (o *LiteLLMSettings) objectID() string { return o.ID }
func (o *Tombstone) objectID() string       { return o.ID }

// ObjectID returns the identifier an object is stored under: the key hash for
// keys, the id for everything else.
func ObjectID(obj any) string {
	if o, ok := obj.(object); ok {
		return o.objectID()
	}
	return ""
}

// KindOf returns the kind of an object value (not a tombstone).
func KindOf(obj any) Kind {
	return kindOfType[reflect.TypeOf(obj)]
}
