package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// The identity-provider checks of issue 20 through real edges, against
// the real OpenID provider of the suite: key rotation while the provider
// is down, a flood of made-up kids during rotations, the key-cache
// metrics, team membership from a token on both sides, and a stored
// proxy_admin.

func TestJWTKeyCacheThroughEdges(t *testing.T) {
	idp := oidctest.Start(t, oidctest.Client{ID: "svc", Secret: "s1"})
	sys := startSystem(t, jwtConfig, 2)
	a, b := sys.edges[0], sys.edges[1]
	call(t, "POST", sys.control.url("/team/new"), masterKey, map[string]any{"team_id": "svc", "models": []string{"gpt-4o"}}, nil)
	setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": map[string]any{"team_id_jwt_field": "client_id"}})
	old := idp.Token(t, "svc")
	expectChat(t, a, old, "gpt-4o", 200, "")
	expectChat(t, b, old, "gpt-4o", 200, "")

	t.Run("provider down at a rotation: the first retry after Retry-After is accepted", func(t *testing.T) {
		idp.Rotate(t)
		unseen := idp.Token(t, "svc")
		idp.Stop()
		code, raw, hdr := chatHdr(t, a, unseen, "gpt-4o")
		refused := time.Now()
		if code != 503 || !strings.Contains(string(raw), "auth_provider_unavailable") {
			t.Fatalf("new kid while the provider is down: %d %s", code, raw)
		}
		ra, err := strconv.Atoi(hdr.Get("Retry-After"))
		if err != nil || ra < 1 {
			t.Fatalf("503 without a usable Retry-After: %q", hdr.Get("Retry-After"))
		}
		// Known keys keep working meanwhile.
		expectChat(t, a, old, "gpt-4o", 200, "")
		idp.Restart(t)
		waitUntil(refused.Add(time.Duration(ra) * time.Second))
		if code, raw, _ := chatHdr(t, a, unseen, "gpt-4o"); code != 200 {
			t.Fatalf("first retry after Retry-After: %d %s, want 200: the key is published again", code, raw)
		}
		expectChat(t, b, unseen, "gpt-4o", 200, "")
	})

	t.Run("made-up kids do not delay a rotation beyond one fetch", func(t *testing.T) {
		genuine := idp.Token(t, "svc")
		payload := genuine[strings.IndexByte(genuine, '.')+1 : strings.LastIndexByte(genuine, '.')]
		sig := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 256))
		var accepted, refused atomic.Int64
		stopFlood := testutil.Flood(6, func(w, i int) {
			hdr := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":"RS256","typ":"at+jwt","kid":"made-up-%d-%d"}`, w, i)))
			code := postChat(a, hdr+"."+payload+"."+sig, "gpt-4o")
			if code == 200 {
				accepted.Add(1)
			} else {
				refused.Add(1)
			}
		})
		defer stopFlood() // also when a check below fails: no request outlives the test
		testutil.Eventually(t, 10*time.Second, func() error {
			if n := refused.Load(); n < 5 {
				return fmt.Errorf("%d made-up kids refused so far", n)
			}
			return nil
		})
		for round := 0; round < 3; round++ {
			kid := idp.Rotate(t)
			tok := idp.Token(t, "svc")
			t0 := time.Now()
			if code, raw, _ := chatHdr(t, a, tok, "gpt-4o"); code != 200 {
				t.Fatalf("round %d: first token of kid %s during the flood: %d %s", round, kid, code, raw)
			}
			if d := time.Since(t0); d > 3*time.Second {
				t.Errorf("round %d: accepted after %v; one refetch interval (1 s) and one fetch expected", round, d)
			}
		}
		stopFlood()
		if n := accepted.Load(); n != 0 {
			t.Fatalf("%d made-up-kid tokens accepted", n)
		}
		t.Logf("%d made-up kids refused during 3 rotations, every rotation accepted on its first token", refused.Load())
	})

	t.Run("key-cache metrics", func(t *testing.T) {
		code, raw := callRaw(t, "GET", a.url("/metrics"), "", nil)
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		text := string(raw)
		for _, want := range []struct {
			series string
			min    float64
		}{
			{`gatehouse_jwks_fetches_total{outcome="ok"}`, 3},
			{`gatehouse_jwks_fetches_total{outcome="error"}`, 1},
			{`gatehouse_jwks_unknown_kid_fetches_total`, 3},
			{`gatehouse_jwks_refetch_suppressed_total`, 0},
			{`gatehouse_jwks_rotations_total`, 3},
			{`gatehouse_jwks_unavailable_total`, 1},
			{`gatehouse_jwks_stale_served_total`, 0},
			{`gatehouse_jwks_keys{url="` + idp.JWKSURL + `"}`, 5},
			{`gatehouse_jwks_age_seconds{url="` + idp.JWKSURL + `"}`, 0},
			{`gatehouse_jwks_provider_failing{url="` + idp.JWKSURL + `"}`, 0},
		} {
			m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want.series) + ` (\S+)$`).FindStringSubmatch(text)
			if m == nil {
				t.Errorf("no %s in /metrics", want.series)
				continue
			}
			if v, _ := strconv.ParseFloat(m[1], 64); v < want.min {
				t.Errorf("%s = %v, want at least %v", want.series, v, want.min)
			}
		}
	})
}

func TestJWTTeamMembershipAndStoredAdmin(t *testing.T) {
	idp := oidctest.Start(t,
		oidctest.Client{ID: "ml-dev", Secret: "s1", Claims: map[string]any{"groups": []string{"ml-team"}, "email": "dev@my-co.com"}},
		oidctest.Client{ID: "boss-cli", Secret: "s2", Claims: map[string]any{"email": "boss@my-co.com"}},
	)
	sys := startSystem(t, jwtConfig, 1)
	a := sys.edges[0]
	call(t, "POST", sys.control.url("/team/new"), masterKey, map[string]any{"team_id": "ml-team", "models": []string{"gpt-4o"}}, nil)
	// Dex-like: no usable user id claim (sub is opaque), the email is the
	// user id.
	setJWT(t, sys, map[string]any{"public_key_urls": jwks(idp), "litellm_jwtauth": map[string]any{
		"team_ids_jwt_field": "groups", "user_email_jwt_field": "email", "user_id_upsert": true}})

	t.Run("joining a team through a token updates the user too", func(t *testing.T) {
		expectChat(t, a, idp.Token(t, "ml-dev"), "gpt-4o", 200, "")
		testutil.Eventually(t, 10*time.Second, func() error {
			var u struct {
				UserInfo struct {
					Teams []string `json:"teams"`
				} `json:"user_info"`
				Teams []struct {
					TeamID string `json:"team_id"`
				} `json:"teams"`
			}
			if code := call(t, "GET", sys.control.url("/user/info?user_id=dev@my-co.com"), masterKey, nil, &u); code != 200 {
				return fmt.Errorf("/user/info: %d", code)
			}
			if !slices.Contains(u.UserInfo.Teams, "ml-team") || len(u.Teams) != 1 || u.Teams[0].TeamID != "ml-team" {
				return fmt.Errorf("/user/info teams = %v / %+v, want ml-team", u.UserInfo.Teams, u.Teams)
			}
			var tm struct {
				TeamInfo struct {
					Members []struct {
						UserID string `json:"user_id"`
						Role   string `json:"role"`
					} `json:"members_with_roles"`
				} `json:"team_info"`
			}
			if code := call(t, "GET", sys.control.url("/team/info?team_id=ml-team"), masterKey, nil, &tm); code != 200 {
				return fmt.Errorf("/team/info: %d", code)
			}
			if len(tm.TeamInfo.Members) != 1 || tm.TeamInfo.Members[0].UserID != "dev@my-co.com" || tm.TeamInfo.Members[0].Role != "user" {
				return fmt.Errorf("/team/info members = %+v", tm.TeamInfo.Members)
			}
			return nil
		})
	})

	t.Run("a stored proxy_admin is an admin", func(t *testing.T) {
		boss := idp.Token(t, "boss-cli")
		// Before the user is stored as admin: not an admin (/user/list
		// is for admins; /key/list would answer its own keys).
		if code, raw := callRaw(t, "GET", a.url("/user/list"), boss, nil); code == 200 {
			t.Fatalf("/user/list before the role was stored: %d %s", code, raw)
		}
		code, raw := callRaw(t, "POST", sys.control.url("/user/new"), masterKey, map[string]any{"user_id": "boss@my-co.com",
			"user_email": "boss@my-co.com", "user_role": "proxy_admin", "auto_create_key": false})
		if code == 409 { // user_id_upsert created it from the request above
			code, raw = callRaw(t, "POST", sys.control.url("/user/update"), masterKey, map[string]any{"user_id": "boss@my-co.com", "user_role": "proxy_admin"})
		}
		if code != 200 {
			t.Fatalf("storing the admin: %d %s", code, raw)
		}
		if code, raw := callRaw(t, "GET", a.url("/user/list"), boss, nil); code != 200 {
			t.Fatalf("stored proxy_admin on /user/list: %d %s", code, raw)
		}
		// Every model, including one no team of the token may use.
		expectChat(t, a, boss, "gpt-4", 200, "")
		expectChat(t, a, boss, "anthropic-claude", 200, "")
		// The ml-team member is still limited to its team's models.
		expectChat(t, a, idp.Token(t, "ml-dev"), "gpt-4", 403, "")
	})
}
