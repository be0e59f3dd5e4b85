package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// FuzzDecode: no stored message makes Decode panic; every error is one of
// the two a follower acts on (stop on an unknown type, report a malformed
// one); and what Decode accepts survives an encode-decode round trip
// unchanged, so a replica that re-publishes an object (read-modify-write)
// never alters what it did not mean to change.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","type":"gatehouse.team.v1.upserted","time":"2026-01-01T00:00:00Z","actor":"a","data":{"team_id":"t1","models":[]}}`,
		`{"id":"1","type":"gatehouse.key.v1.deleted","data":{"id":"abc"}}`,
		`{"id":"1","type":"gatehouse.key.v1.upserted","data":{"token":"` + events.HashKey("sk-x") + `","models":["gpt-4o"],"max_budget":1.5,"expires":"2030-01-01T00:00:00+02:00","metadata":{"a":[1,{"b":null}]}}}`,
		`{"id":"1","type":"gatehouse.model.v1.upserted","data":{"id":"m1","model_name":"gpt-4o","litellm_params":{"model":"openai/gpt-4o","api_key":"os.environ/OPENAI_API_KEY"}}}`,
		`{"id":"1","type":"gatehouse.jwt_settings.v1.upserted","data":{"id":"jwt","enable_jwt_auth":true,"public_key_urls":["https://idp/jwks"],"litellm_jwtauth":{"roles_jwt_field":"roles, realm_access.roles","public_key_stale_ttl":0,"issuers":[{"issuer":"https://i","roles_jwt_field":["r"]}]}}}`,
		`{"id":"1","type":"gatehouse.user.v1.upserted","data":{"user_id":"u","user_email":"a@b"}}`,
		`{"id":"1","type":"gatehouse.org.v1.upserted","data":{"organization_id":"o"}}`,
		`{"id":"1","type":"gatehouse.access_group.v1.upserted","data":{"access_group_id":"g","models":["a"]}}`,
		`{"id":"1","type":"gatehouse.team.v1.member_added","data":{"team_id":"t","members_with_roles":[{"user_id":"u","role":"admin"}]}}`,
		`{"id":"1","type":"gatehouse.key.v9.exploded","data":{}}`, `{"id":`, `null`, `{"id":"1","type":"gatehouse.team.v1.upserted","data":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := events.Decode(data)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrUnknownType) {
				t.Fatalf("%q: error is neither malformed nor unknown type: %v", data, err)
			}
			return
		}
		if ev.Object == nil || events.ObjectID(ev.Object) == "" {
			t.Fatalf("%q: decoded without an object id", data)
		}
		obj1, err := json.Marshal(ev.Object)
		if err != nil {
			t.Fatalf("%q: decoded object does not encode: %v", data, err)
		}
		env := ev.Envelope
		env.Data = obj1
		wire, err := json.Marshal(env)
		if err != nil {
			t.Fatalf("%q: envelope does not encode: %v", data, err)
		}
		ev2, err := events.Decode(wire)
		if err != nil {
			t.Fatalf("re-encoded %q does not decode: %v", wire, err)
		}
		obj2, _ := json.Marshal(ev2.Object)
		if !bytes.Equal(obj1, obj2) || ev2.Info != ev.Info || ev2.ID != ev.ID || !ev2.Time.Equal(ev.Time) ||
			events.ObjectID(ev2.Object) != events.ObjectID(ev.Object) {
			t.Fatalf("round trip changed the event:\n%s\n%s", obj1, obj2)
		}
	})
}
