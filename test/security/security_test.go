package security

import (
	"encoding/json"
	"testing"
)

// TestSecurity starts one system and runs every attack against it, then
// searches everything the system wrote (logs, every stream, every
// ClickHouse table) for the secrets the attacks used.
func TestSecurity(t *testing.T) {
	s := startStack(t)
	t.Run("jwt", func(t *testing.T) { jwtAttacks(t, s) })
	t.Run("keys", func(t *testing.T) { keyAttacks(t, s) })
	t.Run("admin", func(t *testing.T) { adminMatrix(t, s) })
	t.Run("smuggling", func(t *testing.T) { smuggling(t, s) })
	t.Run("bodies", func(t *testing.T) { bodies(t, s) })
	t.Run("provider keys", func(t *testing.T) { providerLeaks(t, s) })
	t.Run("traffic", func(t *testing.T) { traffic(t, s) })
	t.Run("secrets at rest", func(t *testing.T) { secretsAtRest(t, s) })
	attacks.summary(t)
}

// traffic is the ordinary use every secret goes through before the
// search: custom and regenerated keys, JWT and key calls, streaming or
// not, management reads with keys in query strings.
func traffic(t *testing.T, s *stack) {
	custom := s.secret("custom virtual key", "sk-custom-"+randomHex(12))
	s.must(t, "POST", s.control+"/key/generate", map[string]any{"key": custom, "team_id": "team-a", "models": []string{"gpt-4o"}})
	replacement := s.secret("custom regenerated key", "sk-replacement-"+randomHex(12))
	var regen struct {
		Key string `json:"key"`
	}
	_ = json.Unmarshal(s.must(t, "POST", s.control+"/key/regenerate", map[string]any{"key": custom, "new_key": replacement}), &regen)
	if regen.Key != replacement {
		t.Fatalf("regenerate with new_key: got %q", regen.Key)
	}
	key := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"gpt-4o", "leaky"}, "key_alias": "traffic"})
	creds := []string{replacement, key, s.token(t, "team-a-svc"), s.token(t, "groups-a"), s.token(t, "user-1-app"), s.masterKey}
	for _, cred := range creds {
		for _, stream := range []bool{false, true} {
			body := chat("gpt-4o")
			body["stream"] = stream
			if r := s.do(t, "POST", s.edge+"/v1/chat/completions", cred, body, nil); r.status != 200 {
				t.Fatalf("traffic: %d %s", r.status, r.body)
			}
		}
	}
	for _, stream := range []bool{false, true} {
		body := chat("leaky")
		body["stream"] = stream
		if r := s.do(t, "POST", s.edge+"/v1/chat/completions", key, body, nil); r.status != 200 {
			t.Fatalf("traffic to the upstream: %d %s", r.status, r.body)
		}
	}
	for _, u := range []string{s.control + "/key/info?key=" + key, s.edge + "/key/info?key=" + key, s.control + "/spend/logs", s.control + "/key/list"} {
		if r := s.do(t, "GET", u, s.masterKey, nil, nil); r.status != 200 {
			t.Fatalf("GET %s: %d %s", u, r.status, r.body)
		}
	}
	s.must(t, "POST", s.control+"/key/update", map[string]any{"key": key, "metadata": map[string]any{"note": "rotated"}})
	s.must(t, "POST", s.control+"/key/delete", map[string]any{"keys": []string{key}})
}
