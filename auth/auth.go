// Package auth authenticates callers at the edge from the local policy
// snapshot: no network call on the request path.
//
// It owns the mapping from a presented credential (master key, virtual
// key, or a JWT handed on to jwtauth) to an Identity, and the wording of
// every refusal. It guarantees that a credential is compared only through
// its sha256 digest (constant-time for the master key), so neither timing
// nor logs expose a key, and that an unknown, malformed or missing
// credential is always refused with a typed apierror, never let through.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Identity is an authenticated caller.
type Identity struct {
	// Admin is the master key: every model, no budget checks.
	Admin bool
	// Key is the virtual key (nil for Admin and JWT callers).
	Key *events.Key
	// JWT is set for a caller authenticated by a JWT; what it may do is
	// decided per request by jwtauth.Decide.
	JWT *jwtauth.Identity
}

// Authenticator checks credentials.
type Authenticator struct {
	masterSum [32]byte
	hasMaster bool
}

// New returns an authenticator; masterKey may be empty (no admin access at
// the edge).
func New(masterKey string) *Authenticator {
	a := &Authenticator{}
	if masterKey != "" {
		a.masterSum, a.hasMaster = sha256.Sum256([]byte(masterKey)), true
	}
	return a
}

// Authenticate resolves a credential against a snapshot. Keys are compared
// by their sha256 digest (a map lookup on the digest, and a constant-time
// compare for the master key), so neither timing nor logs expose them.
func (a *Authenticator) Authenticate(s *policy.Snapshot, cred string, present bool) (Identity, error) {
	if !present {
		return Identity{}, apierror.Unauthenticated.With("Authentication Error, no api key passed in. Pass it as 'Authorization: Bearer sk-...'.")
	}
	if cred == "" {
		return Identity{}, apierror.Unauthenticated.With("Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")
	}
	sum := sha256.Sum256([]byte(cred))
	if a.hasMaster && subtle.ConstantTimeCompare(sum[:], a.masterSum[:]) == 1 {
		return Identity{Admin: true}, nil
	}
	if !strings.HasPrefix(cred, "sk-") {
		if strings.Count(cred, ".") == 2 {
			return Identity{}, apierror.Unauthenticated.With("Authentication Error, a JWT was passed but JWT auth is not enabled on this gateway")
		}
		return Identity{}, apierror.Unauthenticated.With("Authentication Error, virtual key expected: it starts with 'sk-'")
	}
	k := s.Key(policy.KeyHash(sum))
	if k == nil {
		return Identity{}, apierror.Unauthenticated.With("Authentication Error, Invalid proxy server token passed. Create a key via `/key/generate`.")
	}
	return Identity{Key: k}, nil
}
