package jwtauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// maxUserinfoBody bounds a userinfo response.
const maxUserinfoBody = 1 << 20

// UsesUserinfo reports whether a bearer that is not JWT-shaped and not a
// virtual key should be resolved through the OIDC userinfo endpoint
// (oidc_userinfo_enabled; LiteLLM 2026 uses userinfo only for such
// opaque tokens).
func UsesUserinfo(s *events.JWTSettings, cred string) bool {
	return s != nil && s.Enabled && s.Auth.OIDCUserinfoEnabled && cred != "" && !strings.HasPrefix(cred, "sk-") && !IsJWT(cred)
}

// AuthenticateOpaque resolves an opaque access token through the
// userinfo endpoint: its JSON answer is the claims, which then go through
// the same identity rules as a JWT's. Answers are cached per sha256 of
// the token for oidc_userinfo_cache_ttl (the token itself is not kept as
// the key), so a valid token costs the provider one call per TTL.
func (e *Engine) AuthenticateOpaque(ctx context.Context, token string, now time.Time) (*Identity, error) {
	a := &e.settings.Auth
	if !a.OIDCUserinfoEnabled {
		return nil, apierror.Unauthenticated.With("Authentication Error, an opaque token was passed but oidc_userinfo_enabled is off")
	}
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	return e.cachedIdentity(e.userinfo, key, now, func() (map[string]any, error) {
		return e.fetchUserinfo(ctx, a.OIDCUserinfoEndpoint, token)
	})
}

func (e *Engine) fetchUserinfo(ctx context.Context, endpoint, token string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return nil, apierror.Internal.Wrap(err, "JWT Auth: oidc_userinfo_endpoint is not a valid URL")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	client := e.httpClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		e := apierror.Unavailable.Wrap(err, "Service Unavailable, the identity provider's userinfo endpoint is unreachable. Please retry.")
		e.Type, e.Code = "auth_provider_unavailable", "auth_provider_unavailable"
		e.Header = map[string]string{"Retry-After": "1"}
		return nil, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserinfoBody+1))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, invalidToken("Authentication Error, the identity provider refused the token at its userinfo endpoint (HTTP %d)", resp.StatusCode)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		e := apierror.Unavailable.With("Service Unavailable, the identity provider's userinfo endpoint answered HTTP %d. Please retry.", resp.StatusCode)
		e.Type, e.Code = "auth_provider_unavailable", "auth_provider_unavailable"
		e.Header = map[string]string{"Retry-After": "1"}
		return nil, e
	case resp.StatusCode != http.StatusOK:
		return nil, invalidToken("Authentication Error, the identity provider's userinfo endpoint answered HTTP %d", resp.StatusCode)
	case err != nil || len(body) > maxUserinfoBody:
		return nil, invalidToken("Authentication Error, unreadable userinfo response")
	}
	var c map[string]any
	if err := json.Unmarshal(body, &c); err != nil || c == nil {
		return nil, invalidToken("Authentication Error, the userinfo response is not a JSON object")
	}
	return c, nil
}

// invalidToken is a 401 with the RFC 6750 challenge.
func invalidToken(format string, args ...any) *apierror.Error {
	msg := fmt.Sprintf(format, args...)
	e := apierror.Unauthenticated.With("%s", msg)
	e.Header = map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}
	return e
}
