package api

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/control/store/storetest"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// jwtControl is a control-plane API on a real JetStream store, with JWT
// auth against a local JWKS.
type jwtControl struct {
	st   *store.Store
	app  *fiber.App
	key  *rsa.PrivateKey
	jwks string
}

func startJWTControl(t *testing.T) *jwtControl {
	t.Helper()
	_, js := testutil.NewJetStream(t)
	f := &jwtControl{st: storetest.New(t, js)}
	var err error
	if f.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{"kty": "RSA", "kid": "k1", "alg": "RS256",
			"n": enc(f.key.N.Bytes()), "e": enc(big.NewInt(int64(f.key.E)).Bytes())}}})
	}))
	t.Cleanup(srv.Close)
	f.jwks = srv.URL
	f.app = New(f.st, Options{MasterKey: "sk-master-control-test", JWT: &jwtauth.Manager{}})
	return f
}

func (f *jwtControl) put(t *testing.T, obj any) {
	t.Helper()
	if _, err := f.st.Put(t.Context(), "test", obj, nil); err != nil {
		t.Fatal(err)
	}
}

func (f *jwtControl) settings(t *testing.T, a events.JWTAuth) {
	t.Helper()
	f.put(t, &events.JWTSettings{ID: events.JWTSettingsID, Enabled: true, PublicKeyURLs: []string{f.jwks}, Auth: a.WithDefaults()})
}

func (f *jwtControl) token(claims map[string]any) string {
	now := time.Now().Unix()
	claims["iat"], claims["exp"] = now, now+600
	h, _ := json.Marshal(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	c, _ := json.Marshal(claims)
	return testutil.ForgeJWS(string(h), string(c), testutil.SignRSA(f.key, crypto.SHA256))
}

func (f *jwtControl) get(t *testing.T, path, tok string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := f.app.Test(req, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestJWTUpsertsOnControlRoutes: a JWT admitted on a control-plane route
// applies its decision's upserts, as the edge does for LLM routes (audit
// finding 3), and before the request runs: a new SSO user's first
// /user/info finds the user LiteLLM would have created.
func TestJWTUpsertsOnControlRoutes(t *testing.T) {
	f := startJWTControl(t)
	f.put(t, &events.Team{TeamID: "team-a", Models: []string{}, MembersWithRoles: []events.Member{}})

	t.Run("user_id_upsert on /user/info", func(t *testing.T) {
		f.settings(t, events.JWTAuth{UserIDJWTField: "sub", UserIDUpsert: true})
		tok := f.token(map[string]any{"sub": "newuser1"})
		if code, body := f.get(t, "/user/info?user_id=newuser1", tok); code != 200 || !strings.Contains(body, `"user_id":"newuser1"`) {
			t.Fatalf("first /user/info: %d %.300s", code, body)
		}
		if f.st.Snapshot().User("newuser1") == nil {
			t.Fatal("user not created")
		}
	})

	t.Run("no upsert without user_id_upsert", func(t *testing.T) {
		f.settings(t, events.JWTAuth{UserIDJWTField: "sub"})
		if code, body := f.get(t, "/user/info?user_id=ghost", f.token(map[string]any{"sub": "ghost"})); code != 401 {
			t.Fatalf("%d %.300s", code, body)
		}
		if f.st.Snapshot().User("ghost") != nil {
			t.Fatal("user created without user_id_upsert")
		}
	})

	t.Run("sync_user_role_and_teams on /key/list", func(t *testing.T) {
		f.put(t, &events.User{UserID: "syncu", UserRole: events.RoleInternalUser, Models: []string{}, Teams: []string{}})
		f.settings(t, events.JWTAuth{UserIDJWTField: "sub", TeamIDsJWTField: events.ClaimPaths{"groups"}, RolesJWTField: events.ClaimPaths{"roles"},
			SyncUserRoleAndTeams: true, JWTLiteLLMRoleMap: []events.JWTLiteLLMRoleMap{{JWTRole: "gh-admin", LiteLLMRole: events.RoleProxyAdmin}}})
		tok := f.token(map[string]any{"sub": "syncu", "roles": []string{"gh-admin"}, "groups": []string{"team-a"}})
		if code, body := f.get(t, "/key/list", tok); code != 200 {
			t.Fatalf("/key/list: %d %.300s", code, body)
		}
		s := f.st.Snapshot()
		u := s.User("syncu")
		if u == nil || u.UserRole != events.RoleProxyAdmin || !slices.Contains(u.Teams, "team-a") {
			t.Fatalf("user after /key/list: %+v", u)
		}
		if tm := s.Team("team-a"); tm == nil || !slices.ContainsFunc(tm.MembersWithRoles, func(m events.Member) bool { return m.UserID == "syncu" }) {
			t.Fatalf("team-a members: %+v", tm)
		}
	})

	t.Run("map_user_to_teams and team_id_upsert on /team/info", func(t *testing.T) {
		f.settings(t, events.JWTAuth{UserIDJWTField: "sub", TeamIDJWTField: "client_id", TeamIDUpsert: true, UserIDUpsert: true})
		tok := f.token(map[string]any{"sub": "member1", "client_id": "team-new"})
		if code, body := f.get(t, "/team/info?team_id=team-new", tok); code != 200 {
			t.Fatalf("/team/info: %d %.300s", code, body)
		}
		s := f.st.Snapshot()
		tm := s.Team("team-new")
		if tm == nil || !slices.ContainsFunc(tm.MembersWithRoles, func(m events.Member) bool { return m.UserID == "member1" }) {
			t.Fatalf("team-new: %+v", tm)
		}
		if u := s.User("member1"); u == nil || !slices.Contains(u.Teams, "team-new") {
			t.Fatalf("member1: %+v", u)
		}
	})

	// Audit finding 1, control side: the same decision answers.
	t.Run("admin scope outside admin_allowed_routes", func(t *testing.T) {
		f.settings(t, events.JWTAuth{})
		code, body := f.get(t, "/gatehouse/state", f.token(map[string]any{"scope": "litellm_proxy_admin"}))
		if code != 401 || !strings.Contains(body, "Admin not allowed to access this route. Route=/gatehouse/state, Allowed Routes=['/user/new', ") {
			t.Fatalf("%d %.300s", code, body)
		}
	})
}
