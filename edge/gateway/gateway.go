// Package gateway is the edge proxy: it follows the policy stream into an
// in-memory snapshot, authorizes every request locally against it, and
// forwards chat traffic to the upstream models. Management routes are
// relayed to the control plane so LiteLLM's curl examples work against the
// edge port unchanged.
//
// The chat handler is one straight line: credential (auth.Authenticate),
// decision (auth.Grant, the same for every credential kind), rate limits,
// forward over the model group's deployments and fallbacks (loadBalancer,
// proxy), spend. Values that outlive the handler (spend events, upserts,
// stream writers) are copied out of the fiber.Ctx first.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/auth/jwtauth"
	edgebudget "github.com/gatehouse/gatehouse/edge/budget"
	"github.com/gatehouse/gatehouse/edge/proxy"
	"github.com/gatehouse/gatehouse/edge/ratelimit"
	"github.com/gatehouse/gatehouse/edge/spend"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/policy"
)

// Options configure an edge.
type Options struct {
	// NATSURL of the JetStream server or cluster (comma-separated).
	NATSURL string
	// JSDomain is the hub's JetStream domain when NATSURL is a regional
	// leaf node ("" when connected to the hub itself).
	JSDomain string
	// Listen address, e.g. "127.0.0.1:4000".
	Listen string
	// ControlURL is where management routes are relayed, e.g.
	// "http://127.0.0.1:4001". Empty disables the relay (404).
	ControlURL string
	// MasterKey lets the admin call models at this edge; optional.
	MasterKey string
	// EdgeID names this edge in status reports; default host-pid.
	EdgeID string
	Region string
	// BodyLimit bounds request bodies in bytes; default 10 MiB (LiteLLM's
	// max_request_size_mb default).
	BodyLimit int
	// Heartbeat is how often the edge reports its status; default 1s.
	Heartbeat time.Duration
	Proxy     proxy.Options
	// SpendBatchWindow is how long spend events gather into one message
	// (spend.Options.BatchDelay); 0: its default.
	SpendBatchWindow time.Duration
	// SpendPlain publishes spend messages as JSON, not compressed
	// (spend.Options.Plain).
	SpendPlain bool
	// SpillDir holds spend events while NATS is unreachable; one per edge
	// process. Default: a directory under the system temp dir.
	SpillDir string
	// Budget configures the local budget view (edge/budget).
	Budget edgebudget.Options
	// JWKSClient fetches identity providers' keys (nil: default client).
	JWKSClient *http.Client
	Log        *slog.Logger
	// AccessLog logs one line per request at Info (request id, route,
	// status, duration); see obs.Middleware.
	AccessLog bool
	// Metrics is the registry the edge's series go to (nil: a new one with
	// the Go and process collectors). It is served on /metrics.
	Metrics *prometheus.Registry
	// MetricsAddr, if set, serves /metrics on this address instead of the
	// main listener, to keep it off a public port.
	MetricsAddr string
	// MaxStaleness bounds how long the edge decides on a snapshot it has
	// not confirmed is current with the policy stream (0: no bound; the
	// gatehouse command defaults to DefaultMaxStaleness). StaleMode says
	// what happens past it: StaleClosed (503, the default) or StaleStatic
	// (serve, with the x-gatehouse-policy-stale header). Per edge, for
	// every model it serves.
	MaxStaleness time.Duration
	StaleMode    string
	// UseXForwardedFor is LiteLLM's general_settings.use_x_forwarded_for:
	// allowed_ips (a key's and general_settings') are checked against the
	// leftmost address of the X-Forwarded-For header, which a load
	// balancer in front of the edge sets. Off (and off in the config's
	// router settings event), they are checked against the connection's
	// peer address, since any client can write the header.
	UseXForwardedFor bool
	// UnauthenticatedDenials caps the denial rows per second for callers
	// the edge could not identify; default DefaultUnauthenticatedDenials.
	UnauthenticatedDenials int
	// Listener, if set, is used instead of Listen (tests pass port 0).
	Listener net.Listener
	// Ready receives the listen address once serving.
	Ready chan<- string
}

// Gateway is one edge.
type Gateway struct {
	live    *policy.Live
	auth    *auth.Authenticator
	jwt     *jwtauth.Manager
	upserts *upserter
	limiter *ratelimit.Limiter
	spend   *spend.Publisher
	budgets *edgebudget.View
	fwd     *proxy.Forwarder
	relay   *relay
	bal     *loadBalancer
	log     *slog.Logger
	edgeID  string
	nowFunc func() time.Time
	metrics *edgeMetrics

	parallel          inFlight // max_parallel_requests
	maxStale          time.Duration
	staleStatic       bool
	useXFF            bool
	denials           denialLimiter
	denialsUnrecorded prometheus.Counter
}

// Run connects to NATS, follows the policy stream and serves until ctx
// ends.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	if o.EdgeID == "" {
		o.EdgeID = defaultEdgeID()
	}
	o.EdgeID = subjectToken(o.EdgeID)
	log = log.With("component", "edge", "edge_id", o.EdgeID)
	nc, js, err := events.Connect(o.NATSURL, events.ConnEdgePrefix+o.EdgeID, events.WithJSDomain(o.JSDomain))
	if err != nil {
		return fmt.Errorf("edge: %w", err)
	}
	defer nc.Close()
	rep := &reporter{nc: nc, subject: events.EdgeStatusPrefix + "." + o.EdgeID, id: o.EdgeID, region: o.Region}
	live := &policy.Live{JS: js, Log: log, Keys: policy.CompactKeys, Seed: func(ctx context.Context) (*policy.Snapshot, error) {
		return policy.LoadSnapshotOf(ctx, js, nil, policy.CompactKeys)
	}}
	g := New(live, o, log)
	g.upserts = newUpserter(nc, log)
	defer g.upserts.close()
	if g.limiter, err = ratelimit.New(nc, o.EdgeID, 0, log); err != nil {
		return err
	}
	defer g.limiter.Close()
	g.limiter.LeaseFraction = o.Budget.LeaseFraction
	bo := o.Budget
	bo.EdgeID, bo.Log, bo.Connected = o.EdgeID, log, nc.IsConnected
	g.budgets = edgebudget.New(bo)
	go func() { _ = g.budgets.Run(ctx, nc, js) }()
	spillDir := o.SpillDir
	if spillDir == "" {
		spillDir = filepath.Join(os.TempDir(), "gatehouse-spend-"+o.EdgeID)
	}
	if g.spend, err = spend.New(spend.Options{JS: js, EdgeID: o.EdgeID, Region: o.Region, SpillDir: spillDir, Log: log,
		BatchDelay: o.SpendBatchWindow, Plain: o.SpendPlain, Registerer: g.metrics.reg}); err != nil {
		return err
	}
	// Deferred: runs when Run returns, after the server has shut down, so
	// every finished request has recorded its spend before the flush.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.spend.Close(ctx); err != nil {
			log.Error("spend publisher close", "err", err)
		}
	}()
	envWarn := &envWarnings{}
	live.OnPublish = func(s *policy.Snapshot) {
		// Build the JWT engine for changed settings here, on the applier,
		// not on the first request that needs it.
		if _, err := g.jwt.Update(s.JWT()); err != nil {
			log.Error("JWT settings rejected; JWT requests fail until fixed", "err", err)
		}
		envWarn.check(s, log)
		rep.report(s.Seq(), live)
	}
	liveErr := make(chan error, 1)
	go func() { liveErr <- live.Run(ctx) }()
	g.keepConfirmed(ctx)

	app := g.App(o)
	ln, serveErr, stopMetrics, err := obs.Serve(ctx, app, o.Listener, "edge", o.Listen, o.MetricsAddr, g.metrics.reg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	log.Info("edge serving", "addr", ln.Addr().String(), "control", o.ControlURL)
	if o.Ready != nil {
		o.Ready <- ln.Addr().String()
	}
	hb := o.Heartbeat
	if hb <= 0 {
		hb = time.Second
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			rep.leave()
			_ = app.ShutdownWithTimeout(10 * time.Second)
			return nil
		case err := <-serveErr:
			rep.leave()
			return err
		case err := <-liveErr:
			// A stalled follower keeps the edge up (fail closed, visible in
			// readiness and status) instead of crash-looping on the same
			// event.
			if err != nil && ctx.Err() == nil {
				log.Error("policy follower ended; requests are refused until restart", "err", err)
			}
			liveErr = nil
		case <-tick.C:
			rep.report(live.Load().Seq(), live)
		}
	}
}

// New builds an edge around a live projection (tests feed it events).
func New(live *policy.Live, o Options, log *slog.Logger) *Gateway {
	if log == nil {
		log = slog.Default()
	}
	jwt := &jwtauth.Manager{Log: log, HTTPClient: o.JWKSClient}
	g := &Gateway{live: live, auth: auth.New(o.MasterKey, jwt), jwt: jwt,
		fwd: proxy.New(o.Proxy), log: log, edgeID: o.EdgeID, nowFunc: time.Now, metrics: newEdgeMetrics(o.Metrics)}
	g.metrics.reg.MustRegister(policyCollector{live: live, edgeID: o.EdgeID}, g.jwt.Collector())
	g.maxStale, g.staleStatic = o.MaxStaleness, o.StaleMode == StaleStatic
	g.useXFF = o.UseXForwardedFor
	g.denials.max = o.UnauthenticatedDenials
	if g.denials.max <= 0 {
		g.denials.max = DefaultUnauthenticatedDenials
	}
	g.denialsUnrecorded = newDenialsUnrecorded(g.metrics.reg)
	g.bal = newLoadBalancer(func() time.Time { return g.nowFunc() })
	if o.ControlURL != "" {
		g.relay = newRelay(o.ControlURL)
	}
	return g
}

// Registry holds the edge's metrics.
func (g *Gateway) Registry() *prometheus.Registry { return g.metrics.reg }

// App builds the HTTP routes.
func (g *Gateway) App(o Options) *fiber.App {
	limit := o.BodyLimit
	if limit <= 0 {
		limit = 10 << 20
	}
	errorHandler := httpx.ErrorHandler(g.log)
	app := fiber.New(httpx.ServerConfig("gatehouse-edge", limit, errorHandler))
	// First: every response, the 413 of LimitBody included, gets an
	// x-request-id and is counted.
	app.Use(obs.Middleware(obs.MiddlewareOptions{Log: g.log, AccessLog: o.AccessLog, HTTP: g.metrics.http, ErrorHandler: errorHandler}))
	app.Use(httpx.LimitBody(limit))
	if o.MetricsAddr == "" {
		// Unauthenticated, like LiteLLM's /metrics: scrapers carry no key.
		// Public edges should use MetricsAddr instead.
		app.Get("/metrics", obs.FiberHandler(g.metrics.reg))
	}
	app.Get("/health/liveliness", g.liveliness)
	app.Get("/health/liveness", g.liveliness)
	app.Get("/health/readiness", g.readiness)
	app.Post("/v1/chat/completions", g.chatCompletions)
	app.Post("/chat/completions", g.chatCompletions)
	app.Post("/openai/deployments/:model/chat/completions", g.chatCompletions)
	app.Post("/v1/embeddings", g.embeddings)
	app.Post("/embeddings", g.embeddings)
	app.Post("/openai/deployments/:model/embeddings", g.embeddings)
	app.Post("/v1/completions", g.completions)
	app.Post("/completions", g.completions)
	app.Post("/openai/deployments/:model/completions", g.completions)
	app.Post("/v1/messages", g.messages)
	app.Post("/v1/messages/count_tokens", g.messagesCountTokens)
	for _, p := range []string{"/v1/responses", "/responses"} {
		app.Post(p, g.responses)
		app.Get(p+"/:id", g.responseByID)
		app.Delete(p+"/:id", g.responseByID)
		app.Get(p+"/:id/input_items", g.responseByID)
		app.Post(p+"/:id/cancel", g.responseByID)
	}
	app.Get("/v1/models", g.models)
	app.Get("/models", g.models)
	app.Get("/v1/models/+", g.model)
	app.Get("/models/+", g.model)
	app.Get("/gatehouse/edge/state", g.state)
	g.relayManagementRoutes(app)
	return app
}

// state dumps this edge's snapshot (master key only), to check that an edge
// and the control plane agree after replay.
func (g *Gateway) state(c *fiber.Ctx) error {
	cred, present := httpx.Credential(c)
	id, err := g.auth.AuthenticateKey(g.live.Load(), cred, present)
	if err != nil {
		return err
	}
	if !id.Admin {
		return apierror.Forbidden.With("only the master key may read edge state")
	}
	return c.JSON(policy.Export(g.live.Load()))
}

func (g *Gateway) liveliness(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }

func (g *Gateway) readiness(c *fiber.Ctx) error {
	if err := g.live.Check(); err != nil {
		return apierror.NotReady.Wrap(err, "edge not ready: %v", err)
	}
	if !g.staleStatic {
		if err := g.checkStale(c); err != nil {
			return err // out of the load balancer's rotation while it would refuse anyway
		}
	}
	return c.JSON(fiber.Map{"status": "ready", "seq": g.live.Load().Seq(), "edge_id": g.edgeID})
}

// snapshot returns the policy to authorize with, failing closed until the
// edge has caught up with the stream, and for good if it has stalled.
func (g *Gateway) snapshot() (*policy.Snapshot, error) {
	if err := g.live.Check(); err != nil {
		return nil, apierror.NotReady.Wrap(err, "gateway policy is not ready; retry shortly")
	}
	return g.live.Load(), nil
}

// identify loads the snapshot once and authenticates the caller against it;
// the handler then decides with that same snapshot, whose sequence the
// answer names (PolicySeqHeader), and within the staleness bound.
func (g *Gateway) identify(c *fiber.Ctx) (*policy.Snapshot, auth.Identity, error) {
	snap, err := g.snapshot()
	if err != nil {
		return nil, auth.Identity{}, err
	}
	setPolicySeq(c, snap.Seq())
	if err := g.checkStale(c); err != nil {
		return snap, auth.Identity{}, err
	}
	if err := g.checkProxyIP(c, snap); err != nil {
		return snap, auth.Identity{}, err
	}
	cred, present := httpx.Credential(c)
	id, err := g.auth.Authenticate(c.UserContext(), snap, cred, present, g.nowFunc())
	if err != nil && jwtauth.UsesUserinfo(snap.JWT(), cred) {
		// Not the master key, not a virtual key, not a JWT: an opaque
		// OIDC access token (oidc_userinfo_enabled).
		return g.identifyOpaque(c, snap, cred)
	}
	if err == nil && id.Key != nil {
		if err = jwtauth.CheckKeyRoute(id.Key.AllowedRoutes, c.Path()); err != nil {
			err = apierror.From(err).By(policy.Rule("key", id.Key.Token, "allowed_routes"))
		} else if len(id.Key.AllowedIPs) > 0 {
			err = policy.CheckKeyIP(id.Key, g.clientIP(c, snap))
		}
	}
	return snap, id, err
}

// clientIP is the address a key's allowed_ips are checked against, as
// the proxy's are (policy.Routing.ClientAddr): the connection's peer, or
// X-Forwarded-For's leftmost entry when the edge's flag or the config's
// general_settings.use_x_forwarded_for trusts the header.
func (g *Gateway) clientIP(c *fiber.Ctx, snap *policy.Snapshot) string {
	addr, shown := snap.Routing().ClientAddr(c.Context().RemoteIP(), c.Get(fiber.HeaderXForwardedFor), g.useXFF)
	if shown != "" {
		return shown
	}
	return addr.String()
}

// checkProxyIP is general_settings.allowed_ips: LiteLLM checks it before
// the credential, so an address outside the list learns nothing about
// keys. Without the setting it costs a nil check.
func (g *Gateway) checkProxyIP(c *fiber.Ctx, snap *policy.Snapshot) error {
	r := snap.Routing()
	if r.IPAllow == nil {
		return nil
	}
	return r.CheckClientIP(c.Context().RemoteIP(), c.Get(fiber.HeaderXForwardedFor), g.useXFF)
}

// request is what the decision needs from the HTTP request. The strings
// point into fasthttp's buffers; the Grant copies what it keeps.
func (g *Gateway) request(c *fiber.Ctx, model string) auth.Request {
	return auth.Request{Request: jwtauth.Request{Route: c.Path(), Model: model, TeamHeader: c.Get("x-litellm-team-id")}, Now: g.nowFunc()}
}

// chatCompletions is the chat completions route.
func (g *Gateway) chatCompletions(c *fiber.Ctx) error { return g.llmCall(c, policy.EndpointChat) }

// llmCall is the one path of every LLM API route (chat completions,
// embeddings, text completions, Responses, Messages); a refusal before the
// request was forwarded is recorded as a denial row.
func (g *Gateway) llmCall(c *fiber.Ctx, ep policy.Endpoint) error {
	d := decision{ev: events.SpendEvent{Endpoint: ep.String()}} // a refusal's row names the API too
	err := g.call(c, ep, &d)
	if err != nil {
		err = g.budgetSpend(err)
		g.deny(c, &d, err)
	}
	return err
}

// call is that path, one step after the other: credential, grant (model
// access), rate limits, the deployments that serve the endpoint, forward,
// spend. What differs per endpoint is the field the body must have and
// whether it streams (endpoint.go).
func (g *Gateway) call(c *fiber.Ctx, ep policy.Endpoint, d *decision) error {
	t0 := time.Now() // for metrics; nowFunc is the policy clock
	start := g.nowFunc()
	snap, id, err := g.identify(c)
	d.snap, d.id = snap, id
	if err != nil {
		g.metrics.denied(failedMethod(c, snap), err)
		return err
	}
	body := c.Body()
	req, err := proxy.ParseChatRequest(body)
	if err != nil {
		return badJSON(err)
	}
	if err := checkIndirection(body); err != nil {
		return err
	}
	model := req.Model
	if p := c.Params("model"); p != "" && model == "" {
		model = strings.Clone(p) // outlives the handler in the spend event
	}
	if model == "" {
		return httpx.Required("model")
	}
	if err := checkBody(ep, &req); err != nil {
		return err
	}
	// The edge's id is the spend row's identity; the client's id, when it
	// sent a valid one, is what the client, the upstream and the logs see.
	d.ev = events.SpendEvent{RequestID: events.NewID(), Time: start.UTC(), PolicySeq: snap.Seq(), ModelGroup: model, Endpoint: ep.String()}
	ev := &d.ev
	reqID := ev.RequestID
	if cid := obs.ClientRequestID(c); cid != nil {
		ev.ClientRequestID = string(cid)
		reqID = ev.ClientRequestID
	}
	c.Response().Header.Set(obs.RequestIDHeader, reqID)
	grant, err := id.Grant(snap, g.request(c, model))
	if err != nil {
		g.metrics.denied(methodOf(grant.Method), err)
		return err
	}
	d.granted, d.key = true, grant.Key
	setGrantHeaders(&c.Response().Header, grant.Key)
	// The end user is the JWT's end_user_id_jwt_field, else the body's user.
	grant.EndUserID = policy.EndUserID(grant.EndUserID, req.User)
	ev.Auth, ev.KeyHash, ev.KeyAlias = grant.Method.String(), grant.KeyHash, grant.KeyAlias
	ev.UserID, ev.TeamID, ev.OrgID, ev.EndUserID = grant.UserID, grant.TeamID, grant.OrgID, grant.EndUserID
	if err := snap.CheckEndUser(grant.EndUserID, model, model); err != nil {
		g.metrics.denied(methodOf(grant.Method), err)
		return err
	}
	if err := checkClientTags(snap.Routing(), body); err != nil {
		g.metrics.denied(methodOf(grant.Method), err)
		return err
	}
	ev.RequestTags = spendTags(body, c.Request().Header.Peek("x-litellm-tags"), grant.Key, grant.Team)
	memberTPM, err := g.admit(c, snap, &grant)
	if err != nil {
		return err
	}
	if !grant.Route.Found() {
		return invalidModel(ep, model)
	}
	fallbacks, err := g.requestFallbacks(c, snap, id, req.Fallbacks, grant.Route.Group)
	if err != nil {
		return err
	}
	org, customer, err := g.scopeLimits(&c.Response().Header, snap, grant.OrgID, grant.EndUserID)
	if err != nil {
		return err
	}
	ev.Stream = req.Stream && streams(ep)
	route, err := servingRoute(grant.Route, ep)
	if err != nil {
		return err
	}
	if snap.Routing().TagFiltering {
		if route, err = routeByTags(route, body); err != nil {
			return err
		}
	}
	slot, err := g.parallel.acquire(grant.Key)
	if err != nil {
		return err
	}
	scopes := edgebudget.ScopesOf(snap, grant.Key, ev.UserID, ev.TeamID, ev.OrgID, ev.EndUserID)
	held, err := g.budgets.Reserve(&scopes, promptCostHint(route, len(body)))
	if err != nil {
		release(slot)
		return err
	}
	// LiteLLM's response header for the call id; here it is also the spend
	// row's request_id, so a client can match its answer to the ledger.
	// Exactly the answers that carry it have a row: forward records one
	// for every outcome, deny one for a refusal.
	c.Set("x-litellm-call-id", ev.RequestID)
	if ep == policy.EndpointResponses {
		route = pinPrevious(route, body)
	}
	d.forwarded = true
	call := &chatCall{g: g, endpoint: ep, pass: passHeaders(c, ep), ev: *ev, start: start, t0: t0, reqID: reqID, key: grant.Key, team: grant.Team, memberTPM: memberTPM, org: org, customer: customer, rt: snap.Routing(), fallbacks: fallbacks, held: held, slot: slot}
	return g.forward(c, snap, route, body, call)
}

// admit follows an allowing grant: the JWT's object upserts go to the
// control plane, the decision is counted, and the caller's rate limits
// take the request (or refuse it). It reports whether the response's
// tokens feed the tpm limit of the user's membership of the team.
func (g *Gateway) admit(c *fiber.Ctx, snap *policy.Snapshot, grant *auth.Grant) (bool, error) {
	g.upserts.send(grant.Upserts, obs.EnsureRequestID(c))
	g.metrics.allowed(methodOf(grant.Method))
	return g.rateLimit(&c.Response().Header, snap, grant)
}

// chatCall is one request (a chat completion, or another endpoint's) on
// its way through the deployments of its model group (and its fallbacks).
// done runs once the response is complete: after the handler for a
// stream, so it uses only this.
type chatCall struct {
	g        *Gateway
	endpoint policy.Endpoint
	// memberTPM: the tokens feed the tpm limit of the user's membership
	// of the team (ev names both).
	memberTPM bool
	// pass are client headers sent upstream (see proxy.Call.PassHeaders).
	pass  map[string]string
	ev    events.SpendEvent
	start time.Time
	t0    time.Time // monotonic, for metrics (start is the policy clock)
	reqID string    // sent upstream as x-request-id
	// upstream is the time spent waiting on upstreams, over all attempts.
	upstream time.Duration
	key      *events.Key
	team     *events.Team
	org      *events.Org      // set only when its tpm limit needs the tokens
	customer *events.Customer // likewise
	rt       *policy.Routing
	// fallbacks are the request's own (LiteLLM's request-level
	// "fallbacks"); nil: router_settings' for the group.
	fallbacks []string
	held      edgebudget.Reservation
	// slot is the key's max_parallel_requests slot (nil: no limit),
	// released when the answer is complete.
	slot *atomic.Int64
	// d is the deployment of the current attempt, st its balancer state
	// (nil for a group of one).
	d  *policy.Deployment
	st *deployState
}

func (c *chatCall) done(u proxy.Usage, err error) {
	if c.st != nil {
		c.st.inflight.Add(-1)
		if streamFault(err) {
			c.g.bal.failed(c.st, c.rt)
		}
	}
	c.record(u)
}

// progress charges a stream's budgets with its completion so far.
func (c *chatCall) progress(chars int64) {
	if c.d != nil {
		c.g.budgets.Charge(&c.held, float64(proxy.EstimateTokens(chars))*c.d.OutputCostPerToken)
	}
}

// record publishes the spend event, naming the deployment that answered
// (or failed last).
func (c *chatCall) record(u proxy.Usage) {
	provider := ""
	if c.d != nil {
		provider = c.d.Provider
	}
	c.g.metrics.finished(provider, c.ev.Stream, time.Since(c.t0), u)
	spend.Apply(&c.ev, c.d, u, c.g.nowFunc().Sub(c.start))
	c.g.budgets.Commit(&c.held, c.ev.Cost)
	c.ev.EdgeInstance = c.g.budgets.Instance()
	c.g.countTokens(c.key, c.team, c.memberTPM, c.ev.UserID, u.TotalTokens)
	c.g.countScopeTokens(c.org, c.customer, u.TotalTokens)
	release(c.slot)
	c.slot = nil
	if c.g.spend != nil {
		c.g.spend.Record(c.ev)
	}
}

// forward tries the group's deployments, then its fallback groups, until
// one answers. A retry happens only while nothing reached the client: the
// forwarder reports a failure before it writes anything, and a stream
// counts as started once its first event arrived.
func (g *Gateway) forward(fc *fiber.Ctx, snap *policy.Snapshot, route policy.Route, body []byte, c *chatCall) error {
	c.ev.ModelGroup = route.Group
	retries, explicit := c.rt.Retries, c.rt.RetriesExplicit
	fallbacks := c.rt.FallbacksFor(route.Group)
	if c.fallbacks != nil {
		fallbacks = c.fallbacks
	}
	var triedBuf [8]*policy.Deployment
	tried := triedBuf[:0]
	done := c.done
	var (
		lastErr    error
		lastFailed proxy.Usage // what the failure reported last consumed
	)
	for next := 0; ; {
		for attempt := 0; ; attempt++ {
			d, st, err := g.bal.pick(route.Deployments, c.rt, tried)
			if err != nil && lastErr == nil {
				lastErr, lastFailed = err, proxy.ErrorUsage(err)
			}
			if d == nil {
				break
			}
			tried = append(tried, d)
			c.d, c.st = d, st
			c.ev.ModelGroup, c.ev.Model = route.Group, d.UpstreamModelFor(route.Requested)
			if st != nil {
				st.inflight.Add(1)
			}
			pc := proxy.Call{Endpoint: c.endpoint, Deployment: d, UpstreamModel: c.ev.Model, Body: proxy.ApplyDefaults(d, body), Stream: c.ev.Stream,
				RequestID: c.reqID, Done: done, Valid: true, PassHeaders: c.pass}
			if c.endpoint == policy.EndpointResponses {
				pc.IDSuffix = proxy.ResponseIDSuffix(route.Requested, d.ID)
			}
			if c.ev.Stream && c.held.Held() {
				pc.Progress = c.progress // a stream's cost counts against budgets as it goes
			}
			upstream, failed, err := g.fwd.TryChatCompletion(fc.Context(), pc)
			c.upstream += upstream
			if err == nil {
				g.metrics.forwarded(d.Provider, time.Since(c.t0), c.upstream)
				// A stream's writer owns c from here and records its cost
				// when it ends; any other answer was recorded already.
				c.setAnswerHeaders(&fc.Response().Header, attempt, next, !fc.Response().IsBodyStream())
				return nil
			}
			lastErr, lastFailed = err, failed
			if st != nil {
				st.inflight.Add(-1)
			}
			if !retryable(err) {
				c.st = nil
				g.metrics.forwarded(d.Provider, time.Since(c.t0), c.upstream)
				c.record(failed)
				c.setFailureHeaders(&fc.Response().Header)
				return err
			}
			g.bal.failed(st, c.rt)
			// A group of one is retried only when num_retries says so;
			// by default a retry means another deployment.
			if attempt >= retries || (len(route.Deployments) == 1 && !explicit) {
				break
			}
		}
		if next >= len(fallbacks) {
			break
		}
		route = snap.Catalog().ResolveFallback(fallbacks[next])
		next++
		if r, err := servingRoute(route, c.endpoint); err == nil {
			route = r
		} else {
			// A fallback group that does not serve the endpoint (a chat
			// group behind an embedding one) is passed over.
			route.Deployments = nil
		}
		tried = tried[:0]
		g.log.Info("falling back", "model_group", c.ev.ModelGroup, "fallback", route.Requested, "err", lastErr)
	}
	c.st = nil
	if c.d != nil {
		g.metrics.forwarded(c.d.Provider, time.Since(c.t0), c.upstream)
	}
	c.record(lastFailed)
	c.setFailureHeaders(&fc.Response().Header)
	return lastErr
}

// countTokens feeds tpm limits with what a response used (memberTPM:
// user's membership of the team has a tpm limit).
func (g *Gateway) countTokens(k *events.Key, t *events.Team, memberTPM bool, userID string, tokens int64) {
	if g.limiter == nil || tokens <= 0 {
		return
	}
	if t != nil && t.TPMLimit != nil {
		g.limiter.AddTokens("team:"+t.TeamID, tokens)
	}
	if memberTPM && t != nil {
		g.limiter.AddTokens(memberScope(t.TeamID, userID), tokens)
	}
	if k != nil && k.TPMLimit != nil {
		g.limiter.AddTokens("key:"+k.Token, tokens)
	}
}

// rateLimit admits the request under the rpm/tpm limits of the team, the
// user's membership of the team (its own rpm_limit/tpm_limit, else the
// team's team_member_rpm_limit/team_member_tpm_limit; LiteLLM's
// "team_member" limit, keyed <team_id>:<user_id>) and the key, counted
// across all edges, and names the key's and the team's on the answer (h).
// It reports whether the membership has a tpm limit the response's tokens
// feed.
func (g *Gateway) rateLimit(h *fasthttp.ResponseHeader, snap *policy.Snapshot, grant *auth.Grant) (memberTPM bool, err error) {
	if g.limiter == nil {
		return false, nil
	}
	if t := grant.Team; t != nil {
		if err := g.allow(h, "team:", t.TeamID, t.RPMLimit, t.TPMLimit); err != nil {
			return false, err
		}
		if l := snap.MemberLimits(t, grant.UserID); l.RPM != nil || l.TPM != nil {
			if err := g.limiter.Allow(memberScope(t.TeamID, grant.UserID), limits(l.RPM, l.TPM)); err != nil {
				return false, err
			}
			memberTPM = l.TPM != nil
		}
	}
	if k := grant.Key; k != nil {
		return memberTPM, g.allow(h, "key:", k.Token, k.RPMLimit, k.TPMLimit)
	}
	return memberTPM, nil
}

// memberScope is the rate-limit scope of user's membership of team:
// LiteLLM's team_member limit, keyed <team_id>:<user_id>.
func memberScope(team, user string) string { return "team_member:" + team + ":" + user }

// allow admits the request under the rpm/tpm limits of one scope (kind
// "team:", "key:", "org:" or "end_user:" and its id); a scope with neither
// limit is not counted. An admitted request's limits and what is left of
// them go on h (setRateLimitHeaders).
func (g *Gateway) allow(h *fasthttp.ResponseHeader, kind, id string, rpm, tpm *int64) error {
	if rpm == nil && tpm == nil {
		return nil
	}
	obj := kind + id
	if err := g.limiter.Allow(obj, limits(rpm, tpm)); err != nil {
		return err
	}
	g.setRateLimitHeaders(h, kind, obj, rpm, tpm)
	return nil
}

func limits(rpm, tpm *int64) ratelimit.Limits {
	var l ratelimit.Limits
	if rpm != nil {
		l.RPM = *rpm
	}
	if tpm != nil {
		l.TPM = *tpm
	}
	return l
}

func badJSON(err error) error {
	var typ *proxy.FieldTypeError
	if errors.As(err, &typ) {
		e := apierror.BadRequest.With("%v", typ)
		e.Param = typ.Field
		return e
	}
	if errors.Is(err, proxy.ErrNotObject) {
		return apierror.InvalidJSON.With("request body must be a JSON object")
	}
	return apierror.InvalidJSON.With("%v", err) // "request body is not valid JSON: <decoder detail>"
}

func defaultEdgeID() string {
	h, _ := hostname()
	return fmt.Sprintf("%s-%d", h, pid())
}

// subjectToken makes an id usable as one NATS subject token.
func subjectToken(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r <= ' ' {
			return '_'
		}
		return r
	}, s)
}

// promptCostHint is a cheap lower bound of a request's cost for the budget
// reservation before any request of its key has a known cost: its body
// priced as prompt tokens (about 4 bytes per token) on the first deployment.
func promptCostHint(route policy.Route, bodyLen int) float64 {
	if len(route.Deployments) == 0 {
		return 0
	}
	return route.Deployments[0].InputCostPerToken * float64(bodyLen) / 4
}
