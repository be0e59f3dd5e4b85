package gateway

// LiteLLM's response headers on the LLM routes, as LiteLLM's proxy builds
// them (get_custom_headers in litellm/proxy/common_request_processing.py,
// the router's additional_headers, the v3 rate limiter's post-call hook):
// the deployment that answered, what it cost, how long it took, the
// retries and fallbacks it took, and the caller's key limits. Values are
// written from strings the deployment and the key already hold and from
// numbers appended into stack buffers: no allocation per request.

import (
	"net/textproto"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/version"
	"github.com/gatehouse/gatehouse/policy"
)

// The names in canonical form: set with SetCanonical, fasthttp does not
// normalize them (normalizing was most of a Set's cost).
var (
	hdrModelID            = canonical("x-litellm-model-id")
	hdrModelAPIBase       = canonical("x-litellm-model-api-base")
	hdrModelGroup         = canonical("x-litellm-model-group")
	hdrResponseCost       = canonical("x-litellm-response-cost")
	hdrVersion            = canonical("x-litellm-version")
	hdrKeySpend           = canonical("x-litellm-key-spend")
	hdrKeyMaxBudget       = canonical("x-litellm-key-max-budget")
	hdrKeyRPMLimit        = canonical("x-litellm-key-rpm-limit")
	hdrKeyTPMLimit        = canonical("x-litellm-key-tpm-limit")
	hdrAttemptedRetries   = canonical("x-litellm-attempted-retries")
	hdrMaxRetries         = canonical("x-litellm-max-retries")
	hdrAttemptedFallbacks = canonical("x-litellm-attempted-fallbacks")
	hdrResponseDuration   = canonical("x-litellm-response-duration-ms")
	hdrOverheadDuration   = canonical("x-litellm-overhead-duration-ms")
)

func canonical(name string) []byte { return []byte(textproto.CanonicalMIMEHeaderKey(name)) }

// setString sets a canonical header to a string through a stack copy
// (fasthttp takes values as bytes).
func setString(h *fasthttp.ResponseHeader, name []byte, v string) {
	var buf [128]byte
	if len(v) > len(buf) {
		h.SetCanonical(name, []byte(v))
		return
	}
	h.SetCanonical(name, append(buf[:0], v...))
}

// setGrantHeaders names, once the caller is known, the gateway's version
// and the key's own limits and budget (each only when set, as LiteLLM
// leaves out "None"). They stay on every answer that follows, refusals
// included.
func setGrantHeaders(h *fasthttp.ResponseHeader, k *events.Key) {
	setString(h, hdrVersion, version.String())
	if k == nil {
		return
	}
	var buf [32]byte
	if k.TPMLimit != nil {
		h.SetCanonical(hdrKeyTPMLimit, strconv.AppendInt(buf[:0], *k.TPMLimit, 10))
	}
	if k.RPMLimit != nil {
		h.SetCanonical(hdrKeyRPMLimit, strconv.AppendInt(buf[:0], *k.RPMLimit, 10))
	}
	if k.MaxBudget != nil {
		h.SetCanonical(hdrKeyMaxBudget, policy.AppendPyFloat(buf[:0], *k.MaxBudget))
	}
}

// setAnswerHeaders describes an answer the deployment c.d gave after
// retries attempts in its group and fallbacks fallback groups. The cost
// is named only when the answer is complete (costKnown: not a stream),
// as LiteLLM sends its headers before a stream's cost exists; it is the
// spend event's cost.
func (c *chatCall) setAnswerHeaders(h *fasthttp.ResponseHeader, retries, fallbacks int, costKnown bool) {
	d := c.d
	var buf [32]byte
	setString(h, hdrModelID, d.ID)
	if base := apiBase(d.PublicAPIBase, d.Provider); base != "" {
		setString(h, hdrModelAPIBase, base)
	}
	setString(h, hdrModelGroup, c.ev.ModelGroup)
	h.SetCanonical(hdrAttemptedRetries, strconv.AppendInt(buf[:0], int64(retries), 10))
	if retries > 0 {
		h.SetCanonical(hdrMaxRetries, strconv.AppendInt(buf[:0], int64(c.rt.Retries), 10))
	}
	h.SetCanonical(hdrAttemptedFallbacks, strconv.AppendInt(buf[:0], int64(fallbacks), 10))
	total := time.Since(c.t0)
	h.SetCanonical(hdrResponseDuration, appendMillis(buf[:0], total))
	h.SetCanonical(hdrOverheadDuration, appendMillis(buf[:0], max(0, total-c.upstream)))
	if costKnown {
		h.SetCanonical(hdrResponseCost, policy.AppendPyFloat(buf[:0], c.ev.Cost))
	}
	c.g.setKeySpend(h, c.key)
}

// setFailureHeaders describes a request no deployment answered: the one
// tried last and the failure's cost (the spend event's, normally 0), as
// LiteLLM's error answers carry.
func (c *chatCall) setFailureHeaders(h *fasthttp.ResponseHeader) {
	var buf [32]byte
	if c.d != nil {
		setString(h, hdrModelID, c.d.ID)
	}
	if c.ev.Cost == 0 {
		setString(h, hdrResponseCost, errorCost)
	} else {
		h.SetCanonical(hdrResponseCost, policy.AppendPyFloat(buf[:0], c.ev.Cost))
	}
	c.g.setKeySpend(h, c.key)
}

// errorCost is the cost LiteLLM's error answers name (its int 0).
const errorCost = "0"

// setKeySpend names the key's spend as this edge's budget view holds it
// (the tracker's total in the budget window, plus what this and the other
// edges served since, plus requests in flight). The edge tracks only keys
// with a max_budget; for the others the header is left out rather than
// guessed.
func (g *Gateway) setKeySpend(h *fasthttp.ResponseHeader, k *events.Key) {
	if k == nil || k.MaxBudget == nil || g.budgets == nil {
		return
	}
	var buf [32]byte
	h.SetCanonical(hdrKeySpend, policy.AppendPyFloat(buf[:0], g.budgets.Used(events.KindKey, k.Token)))
}

// apiBase is the api_base a client is shown: the deployment's own, without
// credentials (policy.PublicURL), else its provider's public endpoint.
func apiBase(public, provider string) string {
	if public != "" {
		return public
	}
	return proxy.DefaultAPIBase(provider)
}

// rateLimitHeaders are LiteLLM's v3 rate limiter's names for one kind of
// limited object: x-ratelimit-<descriptor>-{remaining,limit}-{requests,tokens}.
type rateLimitHeaders struct{ remainingRequests, limitRequests, remainingTokens, limitTokens []byte }

func rateLimitNames(descriptor string) *rateLimitHeaders {
	p := "x-ratelimit-" + descriptor
	return &rateLimitHeaders{canonical(p + "-remaining-requests"), canonical(p + "-limit-requests"), canonical(p + "-remaining-tokens"), canonical(p + "-limit-tokens")}
}

// rateLimitDescriptors maps the limiter's object kinds to LiteLLM's
// descriptor keys; organizations have none in LiteLLM and get no headers.
var rateLimitDescriptors = map[string]*rateLimitHeaders{
	"key:":      rateLimitNames("api_key"),
	"team:":     rateLimitNames("team"),
	"end_user:": rateLimitNames("end_user"),
}

// setRateLimitHeaders names an admitted request's limits and what is left
// of them in the current minute, this request counted: requests and
// tokens across all edges as this edge knows them.
func (g *Gateway) setRateLimitHeaders(h *fasthttp.ResponseHeader, kind, obj string, rpm, tpm *int64) {
	names := rateLimitDescriptors[kind]
	if names == nil || h == nil {
		return
	}
	requests, tokens := g.limiter.Usage(obj)
	var buf [32]byte
	if rpm != nil {
		h.SetCanonical(names.remainingRequests, strconv.AppendInt(buf[:0], max(0, *rpm-requests), 10))
		h.SetCanonical(names.limitRequests, strconv.AppendInt(buf[:0], *rpm, 10))
	}
	if tpm != nil {
		h.SetCanonical(names.remainingTokens, strconv.AppendInt(buf[:0], max(0, *tpm-tokens), 10))
		h.SetCanonical(names.limitTokens, strconv.AppendInt(buf[:0], *tpm, 10))
	}
}

// appendMillis appends d in milliseconds with microsecond digits
// ("12.345"), from integers: a float's formatting costs several times more.
func appendMillis(b []byte, d time.Duration) []byte {
	us := max(0, d.Microseconds())
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}
