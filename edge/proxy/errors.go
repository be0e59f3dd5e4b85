package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

// maxErrorBody bounds how much of an upstream error body is read: enough
// for any real error envelope, small enough that a misbehaving upstream
// cannot make the edge buffer megabytes per failed request.
const maxErrorBody = 64 << 10

// redacted replaces secrets found in upstream text.
const redacted = "[REDACTED]"

// bearerSecret matches OpenAI-style keys. Upstreams echo keys in errors
// ("Incorrect API key provided: sk-abc..."), and the key may be a different
// one than the deployment's (a proxy upstream with its own key), so any
// key-shaped token is removed, not only d.APIKey. Google API keys
// (AIza...) and OAuth access tokens (ya29....) are as shaped, and AWS
// access key ids name the account's key even without the secret.
var bearerSecret = regexp.MustCompile(`sk-[A-Za-z0-9_-]{8,}|AIza[A-Za-z0-9_-]{30,}|ya29\.[A-Za-z0-9_.-]{8,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`)

// scrub removes the deployment's secrets and anything key-shaped from text
// that may reach a client or a log. Short values are not replaced: an
// 'api key' of "abc" would shred ordinary words in the message.
func scrub(s string, d *policy.Deployment) string {
	eachSecret(d, func(sec string) { s = strings.ReplaceAll(s, sec, redacted) })
	return bearerSecret.ReplaceAllString(s, redacted)
}

// secretsOf are the deployment's credentials as they would appear in an
// upstream's bytes: its key, its AWS secret key and session token, and
// the values of its secret-looking extra headers (8 characters or more, as
// in scrub). A stream holds them for its life; a whole answer is redacted
// by redactDeployment, which needs no list.
func secretsOf(d *policy.Deployment) []string {
	var out []string
	eachSecret(d, func(sec string) { out = append(out, sec) })
	return out
}

// eachSecret calls fn with each of d's credentials (see secretsOf): the
// one list scrub, secretsOf and redactDeployment all use.
func eachSecret(d *policy.Deployment, fn func(string)) {
	for _, sec := range [...]string{d.APIKey, d.AWS.SecretAccessKey, d.AWS.SessionToken} {
		if len(sec) >= 8 {
			fn(sec)
		}
	}
	for k, v := range d.ExtraHeaders {
		if len(v) >= 8 && secretHeader(k) {
			fn(v)
		}
	}
}

// redactSecrets replaces the given credentials in a response body the
// client is about to get (a success body or a stream event, where an
// upstream can echo them too). Unlike scrub it leaves other key-shaped
// text alone: that may be the model's legitimate output. b is returned
// unchanged, without a copy, when it holds none.
func redactSecrets(b []byte, secrets []string) []byte {
	for _, sec := range secrets {
		b = redactSecret(b, sec)
	}
	return b
}

// redactID is an answer's id as the client read it: the id is the
// upstream's bytes, which reach the client redacted of d's credentials,
// so the ledger (the spend event's response_id) gets it the same way.
// Nothing is allocated when it holds none, which is always.
func redactID(id string, d *policy.Deployment) string {
	if id == "" {
		return id
	}
	eachSecret(d, func(sec string) {
		if strings.Contains(id, sec) {
			id = strings.ReplaceAll(id, sec, redacted)
		}
	})
	return id
}

// redactDeployment is redactSecrets with d's credentials.
func redactDeployment(b []byte, d *policy.Deployment) []byte {
	eachSecret(d, func(sec string) { b = redactSecret(b, sec) })
	return b
}

func redactSecret(b []byte, sec string) []byte {
	if secretIndex(b, sec) < 0 {
		return b
	}
	return bytes.ReplaceAll(b, []byte(sec), []byte(redacted))
}

// secretIndex is bytes.Index(b, []byte(sec)) for a credential, which every
// answer is searched for. bytes.Index anchors on the needle's first byte,
// and a key starts with lower-case letters ("sk-", "ya29") that a JSON
// answer is full of, so it stopped at nearly every letter of the body;
// this anchors on the byte of sec that text holds least (see rarity), so
// the vectorised IndexByte skips most of the body at once.
func secretIndex(b []byte, sec string) int {
	n := len(sec)
	if n == 0 {
		return 0
	}
	if n > len(b) {
		return -1
	}
	k := 0
	for j := 1; j < n; j++ {
		if rarity[sec[j]] < rarity[sec[k]] {
			k = j
		}
	}
	c := sec[k]
	// Candidates put c at i, so the match starts at i-k and ends at
	// i-k+n <= len(b).
	for i, last := k, len(b)-n+k; i <= last; i++ {
		j := bytes.IndexByte(b[i:last+1], c)
		if j < 0 {
			return -1
		}
		i += j
		if string(b[i-k:i-k+n]) == sec {
			return i - k
		}
	}
	return -1
}

// rarity ranks bytes by how often they appear in JSON answers and prose:
// lower is rarer. Upper-case letters and most punctuation are rare, digits
// and '-', '_' less so, lower-case letters, space and JSON's own
// punctuation common.
var rarity = func() (t [256]uint8) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z', c == ' ', c == '"', c == ',', c == ':', c == '{', c == '}', c == '.', c == '\\', c == '\n':
			t[c] = 3
		case '0' <= c && c <= '9', c == '-', c == '_':
			t[c] = 2
		case 'A' <= c && c <= 'Z':
			t[c] = 1
		}
	}
	return t
}()

// safeRetryAfter passes on an upstream's Retry-After only in one of the
// two forms HTTP defines (delay-seconds or an HTTP-date): the value is
// copied into the client's response, and an upstream can put anything,
// its key included, in a header.
func safeRetryAfter(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 40 {
		return ""
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return strconv.FormatUint(n, 10)
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.UTC().Format(http.TimeFormat)
	}
	return ""
}

// secretHeader guesses whether an extra header carries a credential
// (api-key, x-auth-token, ...); their values are scrubbed like the key.
func secretHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "key") || strings.Contains(n, "auth") ||
		strings.Contains(n, "token") || strings.Contains(n, "secret")
}

// upstreamEnvelope covers the error shapes of OpenAI-compatible servers:
// OpenAI's {"error":{...}}, servers that put a bare string in "error", and
// vLLM-style top-level {"message","type","code"}.
type upstreamEnvelope struct {
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Param   json.RawMessage `json:"param"`
	Detail  json.RawMessage `json:"detail"`
}

type upstreamErrorBody struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
	Param   json.RawMessage `json:"param"`
}

// parseUpstreamError extracts message, type, code and param; ok is false
// when the body is not a recognisable JSON error.
func parseUpstreamError(body []byte) (e upstreamErrorBody, ok bool) {
	var env upstreamEnvelope
	if json.Unmarshal(body, &env) != nil {
		return e, false
	}
	switch {
	case len(env.Error) > 0 && env.Error[0] == '{':
		if json.Unmarshal(env.Error, &e) != nil {
			return e, false
		}
	case len(env.Error) > 0 && env.Error[0] == '"':
		if json.Unmarshal(env.Error, &e.Message) != nil {
			return e, false
		}
	default:
		e = upstreamErrorBody{Message: env.Message, Type: env.Type, Code: env.Code, Param: env.Param}
		if e.Message == "" && len(env.Detail) > 0 && env.Detail[0] == '"' {
			_ = json.Unmarshal(env.Detail, &e.Message)
		}
	}
	return e, e.Message != "" || e.Type != ""
}

// rawScalar renders a JSON string or number as text ("" for null/absent),
// since upstreams send codes as either.
func rawScalar(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	if r[0] == '"' {
		var s string
		if json.Unmarshal(r, &s) == nil {
			return s
		}
		return ""
	}
	if r[0] == '-' || (r[0] >= '0' && r[0] <= '9') {
		return string(r)
	}
	return ""
}

// mapUpstreamError turns an upstream error response into the client's
// error. Client mistakes the upstream rejected keep their status so SDK
// retry logic (429) and validation errors (400) behave as with OpenAI.
// Upstream auth failures become 502: the client's key was fine, and a 401
// would make it think its own key is wrong. Everything else is the
// upstream's fault and becomes 502.
func mapUpstreamError(d *policy.Deployment, status int, body []byte, retryAfter string) *apierror.Error {
	retryAfter = safeRetryAfter(retryAfter)
	ue, parsed := parseUpstreamError(body)
	msg := scrub(ue.Message, d)
	cause := fmt.Errorf("upstream returned HTTP %d: %s", status, truncate(scrub(string(body), d), 512)) // scrub first: a cut key is no longer the key
	e := &apierror.Error{Status: status, Err: cause, Message: msg,
		Type: scrub(ue.Type, d), Code: scrub(rawScalar(ue.Code), d), Param: scrub(rawScalar(ue.Param), d)}
	if !parsed || msg == "" {
		e.Message = fmt.Sprintf("upstream provider returned HTTP %d for model %s", status, d.ModelName)
	}
	switch status {
	case 400, 404, 409, 413, 422, 429:
		if e.Type == "" {
			e.Type = "invalid_request_error"
			if status == 429 {
				e.Type = "rate_limit_error"
			}
		}
		if status == 429 && e.Code == "" {
			e.Code = apierror.RateLimited.Code
		}
		if retryAfter != "" {
			e.Header = map[string]string{"Retry-After": retryAfter}
		}
		return e
	case 401, 403:
		return &apierror.Error{Status: 502, Type: "upstream_error", Code: "upstream_auth_error", Err: cause,
			Message: "upstream provider rejected the gateway's credentials for model " + d.ModelName}
	case 408:
		e.Status, e.Type, e.Code, e.Param = apierror.UpstreamTimeout.Status, apierror.UpstreamTimeout.Type, apierror.UpstreamTimeout.Code, ""
		return e
	}
	e.Status, e.Type, e.Code, e.Param = apierror.UpstreamError.Status, apierror.UpstreamError.Type, apierror.UpstreamError.Code, ""
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, fasthttp.ErrDialTimeout) || (errors.As(err, &t) && t.Timeout())
}

// transportError maps a failure before any upstream response byte. The
// message names the model group only: the URL may carry credentials and
// the address is internal topology; both stay in the cause for logs.
func transportError(d *policy.Deployment, err error) *apierror.Error {
	var op *net.OpError
	switch {
	case isTimeout(err):
		return apierror.UpstreamTimeout.Wrap(err, "upstream provider for model %s timed out", d.ModelName)
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return apierror.Unavailable.Wrap(err, "too many concurrent requests to the upstream provider for model %s", d.ModelName)
	case errors.As(err, &op) && op.Op == "dial":
		return apierror.UpstreamError.Wrap(err, "could not connect to the upstream provider for model %s", d.ModelName)
	}
	return apierror.UpstreamError.Wrap(err, "connection to the upstream provider for model %s failed", d.ModelName)
}

// streamError maps a failure while reading an upstream body after the
// response status arrived.
func streamError(d *policy.Deployment, err error) *apierror.Error {
	if isTimeout(err) {
		return apierror.UpstreamTimeout.Wrap(err, "upstream provider for model %s timed out", d.ModelName)
	}
	return apierror.UpstreamError.Wrap(err, "upstream response for model %s was interrupted", d.ModelName)
}

// retryStale decides fasthttp retries. A POST is never retried by default,
// but an upstream closes idle keep-alive connections whenever it likes, and
// the next request on such a connection fails before the upstream read it.
// One retry on those errors hides that race; timeouts and errors after a
// response started are never retried, so a prompt is not billed twice for
// a slow model.
func retryStale(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if attempts > 1 {
		return false, false
	}
	if errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) {
		return false, true
	}
	return false, false
}

// noUpstreamCreds is the 502 for credentials (what) the gateway could not
// get for d's provider; the cause is kept without d's secrets.
func noUpstreamCreds(d *policy.Deployment, what string, err error) *apierror.Error {
	return &apierror.Error{Status: 502, Type: "upstream_error", Code: "upstream_auth_error",
		Message: "the gateway could not get " + what + " for model " + d.ModelName,
		Err:     errors.New(scrub(err.Error(), d))}
}
