package verifier

import (
	"errors"
	"net/http"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// errMisconfigured marks a key fetch that failed because of how the
// identity provider or this gateway is set up, not because the provider is
// down: a discovery document without jwks_uri, a JWKS URL answering 404,
// a body that is not a key set. Retrying will not help, so the client gets
// a 401 naming the cause instead of a 503 with Retry-After.
type errMisconfigured struct{ error }

func (e errMisconfigured) Unwrap() error { return e.error }

func misconfigured(err error) error {
	if err == nil {
		return nil
	}
	return errMisconfigured{err}
}

// isMisconfigured reports whether err is a setup error.
func isMisconfigured(err error) bool {
	var m errMisconfigured
	return errors.As(err, &m)
}

// transientStatus reports whether an HTTP status from the provider may
// clear up by itself: 5xx, 408 and 429. Any other non-200 (404, 401, 403,
// ...) is the URL or the provider's setup.
func transientStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// keysUnusable is the 401 for a token whose keys cannot be loaded because
// of a setup error (errMisconfigured): the cause is named, the operator's
// to fix; there is nothing to retry.
func keysUnusable(cause error) *apierror.Error {
	return invalid("JWT Auth: the identity provider's signing keys could not be loaded: " + cause.Error())
}
