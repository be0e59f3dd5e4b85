// Package auth turns a request's credential into a Grant: who the caller
// is (master key, virtual key or JWT), which team, org, user and end user
// it acts for, and where the requested model goes, decided against the
// local policy snapshot with no network call on the request path.
//
// It owns the one place where the three credential kinds differ. What it
// guarantees: keys are compared by sha256 digest only (constant time for
// the master key, a map lookup for virtual keys), a JWT is used only when
// the snapshot enables JWT auth, every refusal is an *apierror.Error, and
// a cached key or token costs no allocation to authenticate and decide.
// Callers then read a Grant and never look at the credential kind again.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// Method is the kind of credential a caller presented.
type Method uint8

const (
	// MethodKey is a virtual key ("sk-..." stored as its sha256).
	MethodKey Method = iota
	// MethodJWT is a token from an identity provider.
	MethodJWT
	// MethodMasterKey is the gateway's master key.
	MethodMasterKey
)

// String is the spend ledger's auth column value.
func (m Method) String() string {
	switch m {
	case MethodJWT:
		return "jwt"
	case MethodMasterKey:
		return "master_key"
	}
	return "key"
}

// Identity is an authenticated caller, before any decision about what it
// may do; Grant makes that decision for one request.
type Identity struct {
	// Admin is the master key: every model, no budget checks.
	Admin bool
	// Key is the virtual key (nil for Admin and JWT callers).
	Key *events.Key
	// JWT is set for a caller authenticated by a JWT; what it may do is
	// decided per request, against the current snapshot.
	JWT *jwtauth.Identity
}

// Method says which credential kind the identity came from.
func (id Identity) Method() Method {
	switch {
	case id.Admin:
		return MethodMasterKey
	case id.JWT != nil:
		return MethodJWT
	}
	return MethodKey
}

// Authenticator checks credentials.
type Authenticator struct {
	masterSum [32]byte
	hasMaster bool
	jwt       *jwtauth.Manager
}

// New returns an authenticator; masterKey may be empty (no admin access at
// the edge). jwt keeps the JWT engine for the snapshot's settings; nil
// refuses JWTs as unknown credentials.
func New(masterKey string, jwt *jwtauth.Manager) *Authenticator {
	a := &Authenticator{jwt: jwt}
	if masterKey != "" {
		a.masterSum, a.hasMaster = sha256.Sum256([]byte(masterKey)), true
	}
	return a
}

// Authenticate resolves any credential against a snapshot: a JWT when the
// snapshot enables JWT auth (verified, or found in the verified-token
// cache), else the master key or a virtual key (see AuthenticateKey).
func (a *Authenticator) Authenticate(ctx context.Context, s *policy.Snapshot, cred string, present bool, now time.Time) (Identity, error) {
	if present && a.jwt != nil && jwtauth.IsJWT(cred) {
		if set := s.JWT(); set != nil && set.Enabled {
			eng, err := a.jwt.Engine(set)
			if err != nil {
				return Identity{}, err
			}
			jid, err := eng.Authenticate(ctx, cred, now)
			return Identity{JWT: jid}, err
		}
	}
	return a.AuthenticateKey(s, cred, present)
}

// AuthenticateKey resolves a master or virtual key against a snapshot.
// Keys are compared by their sha256 digest (a map lookup on the digest,
// and a constant-time compare for the master key), so neither timing nor
// logs expose them.
func (a *Authenticator) AuthenticateKey(s *policy.Snapshot, cred string, present bool) (Identity, error) {
	if !present {
		return Identity{}, apierror.Unauthenticated.With("Authentication Error, No api key passed in. Pass it as 'Authorization: Bearer sk-...'.")
	}
	if cred == "" {
		return Identity{}, apierror.Unauthenticated.With("Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.")
	}
	sum := sha256.Sum256([]byte(cred))
	if a.hasMaster && subtle.ConstantTimeCompare(sum[:], a.masterSum[:]) == 1 {
		return Identity{Admin: true}, nil
	}
	if !strings.HasPrefix(cred, "sk-") {
		if strings.Count(cred, ".") == 2 {
			return Identity{}, apierror.Unauthenticated.With("Authentication Error, a JWT was passed but JWT auth is not enabled on this gateway")
		}
		return Identity{}, NotVirtualKey()
	}
	k := s.Key(policy.KeyHash(sum))
	if k == nil {
		// A regenerated key's old token in its grace period; looked up
		// only on a miss, so a key that exists costs no clock read.
		if k = s.KeyAt(policy.KeyHash(sum), time.Now()); k == nil {
			return Identity{}, KeyNotFound(sum[:])
		}
	}
	return Identity{Key: k}, nil
}

// KeyNotFound is LiteLLM's refusal of a virtual key the policy does not
// hold. Like LiteLLM it names the key's sha256 (the id /spend/logs shows
// as api_key), never the key.
func KeyNotFound(sum []byte) error {
	return apierror.Unauthenticated.With("Authentication Error, Invalid proxy server token passed. key=%s, not found in db. Create key via `/key/generate` call.",
		hex.EncodeToString(sum))
}

// NotVirtualKey is LiteLLM's refusal of a credential that is neither the
// master key nor a JWT and does not start with "sk-", with the
// "Authentication Error, " its auth exception handler puts before every
// such refusal. LiteLLM echoes the credential ("Received=<key>"); this
// does not.
func NotVirtualKey() error {
	return apierror.Unauthenticated.With("Authentication Error, LiteLLM Virtual Key expected. Received a key that does not start with 'sk-' (not shown), expected to start with 'sk-'.")
}
