// Package api is the control plane's admin REST API, with LiteLLM's paths
// and bodies (/key/generate, /team/new, /model/new, ...). Every change is an
// event committed to the policy stream through store.Store; the API holds no
// state of its own.
//
// It guarantees that a write answers only after the store committed it
// (x-gatehouse-event-seq) and says whether every live edge applied it
// (x-gatehouse-propagation), that every refusal is a typed apierror naming
// the field the caller wrote, and that a caller who is not an admin reads
// only their own team or user.
package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/auth"
	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/control/budget"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/internal/obs"
	"github.com/gatehouse/gatehouse/policy"
)

// Options configure the API.
type Options struct {
	// MasterKey is the admin secret (LiteLLM's general_settings.master_key).
	// Empty refuses every management call: unlike LiteLLM, no master key does
	// not mean "everyone is admin".
	MasterKey string
	// BodyLimit bounds request bodies (bytes); default 1 MiB.
	BodyLimit int
	Log       *slog.Logger
	// ValidateModel checks /model/new bodies (config.yaml's rules).
	ValidateModel ModelValidator
	// ValidateJWTSettings checks POST /jwt/settings bodies.
	ValidateJWTSettings JWTSettingsValidator
	// JWT verifies admin JWTs (nil: JWTs are refused).
	JWT *jwtauth.Manager
	// Totals is the budget tracker's bucket, for spend in /key/info etc.
	Totals jetstream.KeyValue
	// JS serves the poison queue routes (nil: they answer 503).
	JS jetstream.JetStream
	// Spend is ClickHouse for the spend routes (/spend/logs, /global/spend/*,
	// the daily activity routes; nil: those routes answer 503).
	Spend *SpendStore
	// AccessLog logs one line per request at Info (see obs.Middleware).
	AccessLog bool
	// Metrics receives the request metrics (nil: none are kept).
	Metrics *prometheus.Registry
	// ServeMetrics serves Metrics on /metrics, unauthenticated.
	ServeMetrics bool
	// KeyDefaults fill the fields a /key/generate body leaves out
	// (default_key_generate_params); KeyUpperBound limits every generated
	// or updated key (upperbound_key_generate_params).
	KeyDefaults, KeyUpperBound *KeyParams
	// KeyGeneration is LiteLLM's key_generation_settings: who besides an
	// admin may generate team and personal keys (nil: LiteLLM's defaults).
	KeyGeneration *KeyGenerationSettings
	// UserDefaults fill the fields a /user/new body leaves out
	// (default_internal_user_params, max_internal_user_budget).
	UserDefaults *UserParams
	// AllowUserTeamCreation is general_settings.allow_user_team_creation:
	// an internal_user may create standalone teams within its own limits.
	AllowUserTeamCreation bool
	// DisableAutoAddProxyAdminToTeams is general_settings.
	// disable_auto_add_proxy_admin_to_teams: a proxy admin user creating a
	// team is not made its admin.
	DisableAutoAddProxyAdminToTeams bool
	// DryRunConfig writes a config.yaml's policy into a sandbox store, for
	// POST /gatehouse/policy/dry-run (nil: config dry runs answer 503).
	DryRunConfig func(ctx context.Context, st *store.Store, yaml []byte) error
}

// API serves the admin routes.
type API struct {
	store        *store.Store
	masterSum    [32]byte
	hasMaster    bool
	log          *slog.Logger
	validator    ModelValidator
	jwtValidator JWTSettingsValidator
	jwt          *jwtauth.Manager
	totals       jetstream.KeyValue
	js           jetstream.JetStream
	spend        *SpendStore
	keyDefaults  *KeyParams
	keyBound     *KeyParams
	userDefaults *UserParams
	opts         Options
}

// New builds the Fiber app for the admin API.
func New(st *store.Store, o Options) *fiber.App {
	a := &API{store: st, log: o.Log, validator: o.ValidateModel, jwtValidator: o.ValidateJWTSettings, jwt: o.JWT, totals: o.Totals, js: o.JS, spend: o.Spend,
		keyDefaults: o.KeyDefaults, keyBound: o.KeyUpperBound, userDefaults: o.UserDefaults, opts: o}
	if a.log == nil {
		a.log = slog.Default()
	}
	if o.MasterKey != "" {
		a.masterSum, a.hasMaster = sha256.Sum256([]byte(o.MasterKey)), true
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = 1 << 20
	}
	errorHandler := httpx.ErrorHandler(a.log)
	app := fiber.New(httpx.ServerConfig("gatehouse-control", o.BodyLimit, errorHandler))
	var httpMetrics *obs.HTTP
	if o.Metrics != nil {
		httpMetrics = obs.NewHTTP(o.Metrics)
	}
	app.Use(obs.Middleware(obs.MiddlewareOptions{Log: a.log, AccessLog: o.AccessLog, HTTP: httpMetrics, ErrorHandler: errorHandler}))
	app.Use(httpx.LimitBody(o.BodyLimit))
	if o.Metrics != nil && o.ServeMetrics {
		// Before the admin group: scrapers carry no master key.
		app.Get("/metrics", obs.FiberHandler(o.Metrics))
	}
	app.Get("/health/liveliness", a.liveliness)
	app.Get("/health/liveness", a.liveliness)
	app.Get("/health/readiness", a.readiness)

	admin := app.Group("", a.authenticate)
	admin.Post("/key/generate", a.selfService, a.keyGenerate)
	admin.Post("/key/service-account/generate", a.adminOnly, a.keyServiceAccountGenerate)
	admin.Get("/key/info", a.keyInfo)
	admin.Get("/key/list", a.keyList)
	admin.Get("/key/aliases", a.readOnly, a.keyAliases)
	admin.Post("/key/health", a.keyHealth)
	admin.Post("/key/update", a.selfService, a.keyUpdate)
	admin.Post("/key/bulk_update", a.adminOnly, a.keyBulkUpdate)
	admin.Post("/key/delete", a.selfService, a.keyDelete)
	admin.Post("/key/regenerate", a.selfService, a.keyRegenerate)
	admin.Post("/key/:key/regenerate", a.selfService, a.keyRegenerate)
	// LiteLLM's route check admits an internal_user to /key/block and
	// /key/unblock; the handler then admits the admins of the key's team
	// or its organization (checkKeyAccess).
	admin.Post("/key/block", a.selfService, a.keyBlock(true))
	admin.Post("/key/unblock", a.selfService, a.keyBlock(false))

	admin.Post("/team/new", a.teamNewGuard, a.teamNew)
	admin.Post("/team/update", a.adminOnly, a.teamUpdate)
	admin.Get("/team/info", a.teamInfo)
	admin.Get("/team/list", a.teamList)
	admin.Get("/v2/team/list", a.teamListV2)
	admin.Get("/team/available", a.teamAvailable)
	admin.Post("/team/delete", a.adminOnly, a.teamDelete)
	admin.Post("/team/block", a.adminOnly, a.teamBlock(true))
	admin.Post("/team/unblock", a.adminOnly, a.teamBlock(false))
	admin.Post("/team/member_add", a.adminOnly, a.teamMemberAdd)
	admin.Post("/team/bulk_member_add", a.adminOnly, a.teamBulkMemberAdd)
	admin.Post("/team/member_delete", a.adminOnly, a.teamMemberDelete)
	admin.Post("/team/member_update", a.adminOnly, a.teamMemberUpdate)
	a.teamPermissionRoutes(admin)

	admin.Post("/user/new", a.adminOnly, a.userNew)
	admin.Post("/user/update", a.userUpdateGuard, a.userUpdate)
	admin.Post("/user/bulk_update", a.adminOnly, a.userBulkUpdate)
	admin.Get("/user/info", a.userInfo)
	admin.Get("/v2/user/info", a.userInfoV2)
	admin.Get("/user/list", a.readOnly, a.userList)
	admin.Post("/user/delete", a.adminOnly, a.userDelete)

	admin.Post("/model/new", a.modelWriter, a.modelNew)
	admin.Get("/model/info", a.modelInfo)
	admin.Get("/v1/model/info", a.modelInfo)
	admin.Get("/v2/model/info", a.modelInfo)
	admin.Get("/model_group/info", a.modelGroupInfo)
	admin.Post("/model/delete", a.modelWriter, a.modelDelete)
	admin.Post("/model/update", a.modelWriter, a.modelUpdate)
	admin.Patch("/model/:model_id/update", a.modelWriter, a.modelPatch)

	admin.Post("/access_group/new", a.adminOnly, a.accessGroupPut(false))
	admin.Post("/access_group/update", a.adminOnly, a.accessGroupPut(true))
	admin.Get("/access_group/info", a.readOnly, a.accessGroupInfo)
	admin.Post("/access_group/delete", a.adminOnly, a.accessGroupDelete)
	// LiteLLM 2026's access group routes, the group named by the path.
	admin.Get("/access_group/list", a.readOnly, a.accessGroupList)
	admin.Get("/access_group/:access_group/info", a.readOnly, a.accessGroupInfoPath)
	admin.Put("/access_group/:access_group/update", a.adminOnly, a.accessGroupPut(true))
	admin.Delete("/access_group/:access_group/delete", a.adminOnly, a.accessGroupDelete)

	a.organizationRoutes(admin)
	a.customerRoutes(admin)

	admin.Get("/spend/logs", a.readOnly, a.spendLogs)
	admin.Get("/spend/logs/v2", a.readOnly, a.spendLogsV2)
	admin.Get("/spend/logs/ui", a.readOnly, a.spendLogsV2)
	admin.Post("/global/spend/end_users", a.readOnly, a.globalSpendEndUsers)
	// Scoped by the handlers: a caller that is not an admin sees its own
	// keys and user, and prices the models it may call.
	admin.Get("/spend/keys", a.spendKeys)
	admin.Get("/spend/users", a.spendUsers)
	admin.Post("/spend/calculate", a.spendCalculate)
	admin.Get("/spend/tags", a.spendTags)
	// A proxy-wide spend route: LiteLLM 2026 refuses it to internal users
	// before the handler (which here says tags are not recorded).
	admin.Get("/global/spend/tags", a.readOnly, a.globalSpendTags)
	admin.Get("/global/spend/report", a.readOnly, a.globalSpendReport)
	admin.Get("/global/spend", a.readOnly, a.globalSpend)
	admin.Get("/global/spend/keys", a.readOnly, a.globalSpendKeys)
	admin.Get("/global/spend/models", a.readOnly, a.globalSpendModels)
	admin.Get("/global/spend/teams", a.readOnly, a.globalSpendTeams)
	admin.Post("/global/spend/reset", a.masterOnly, a.globalSpendReset)
	for _, r := range budgetTableRoutes {
		// Management routes in LiteLLM: a caller that is not an admin
		// is refused before learning they are not supported; a view-only
		// admin reads (LiteLLM 2026 lets it GET /budget/list and
		// /budget/settings).
		guard := a.adminOnly
		if r.method == fiber.MethodGet {
			guard = a.readOnly
		}
		admin.Add(r.method, r.path, guard, a.budgetTable)
	}
	// LiteLLM's self-managed routes: the handlers scope a caller that is
	// not an admin to its own user or teams.
	admin.Get("/user/daily/activity", a.userDailyActivity)
	admin.Get("/team/daily/activity", a.teamDailyActivity)
	admin.Get("/tag/daily/activity", a.readOnly, a.tagDailyActivity)
	admin.Get("/gatehouse/decisions", a.readOnly, a.decisions)

	admin.Get("/jwt/settings", a.readOnly, a.jwtSettingsGet)
	admin.Post("/jwt/settings", a.adminOnly, a.jwtSettingsPut)

	admin.Get("/gatehouse/state", a.readOnly, a.state)
	admin.Get("/gatehouse/edges", a.readOnly, a.edgeList)
	admin.Get("/gatehouse/why/:id", a.readOnly, a.why)
	admin.Post("/gatehouse/policy/dry-run", a.adminOnly, a.dryRun)
	admin.Get("/gatehouse/poison", a.masterOnly, a.poisonList)
	admin.Post("/gatehouse/poison/replay", a.masterOnly, a.poisonReplay)
	return app
}

func (a *API) liveliness(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) }

func (a *API) readiness(c *fiber.Ctx) error {
	if err := a.store.Live.Check(); err != nil {
		return apierror.NotReady.Wrap(err, "control plane not ready: %v", err)
	}
	return c.JSON(fiber.Map{"status": "ready", "seq": a.store.Snapshot().Seq()})
}

// caller is who made a management request.
type caller struct {
	admin  bool
	master bool // the master key itself, not an admin JWT
	// viewer is a view-only admin (user_role proxy_admin_viewer): it reads
	// what an admin reads and changes nothing.
	viewer bool
	// selfKeys is an internal_user: it manages its own keys (LiteLLM's
	// internal_user_routes), checked in the key handlers.
	selfKeys bool
	role     string      // the caller's user_role, for refusals
	key      *events.Key // a virtual key calling info routes about itself
	// teamID and userID are the caller's own team and user (from its key
	// or its JWT): the objects a non-admin may read.
	teamID, userID string
	name           string // for the event's actor
}

func (c caller) actor() string {
	switch {
	case c.name != "":
		return c.name
	case c.key != nil:
		return "key:" + c.key.Token[:12]
	case c.admin:
		return "master_key"
	}
	return "anonymous"
}

// creator is what a key the caller makes records as created_by: its
// user, as LiteLLM records it (and /key/list's include_created_by_keys
// reads it), else its actor name.
func (c caller) creator() string {
	if c.userID != "" {
		return c.userID
	}
	return c.actor()
}

// reads reports whether the caller may read every object (an admin or a
// view-only admin).
func (c caller) reads() bool { return c.admin || c.viewer }

const callerLocal = "gatehouse.caller"

// authenticate accepts the master key (constant-time, on digests so the
// comparison time does not depend on the length either) or, for info routes
// about itself, a virtual key.
func (a *API) authenticate(c *fiber.Ctx) error {
	// general_settings.allowed_ips: LiteLLM checks it in user_api_key_auth,
	// so on management routes too, before the credential; the health
	// probes, outside this group, stay reachable.
	if err := a.store.Snapshot().Routing().CheckClientIP(c.Context().RemoteIP(), c.Get(fiber.HeaderXForwardedFor), false); err != nil {
		return err
	}
	cred, present := httpx.Credential(c)
	if !present || cred == "" {
		return apierror.Unauthenticated.With("Authentication Error, No api key passed in. Pass the master key as 'Authorization: Bearer <key>'.")
	}
	if jwtauth.IsJWT(cred) {
		return a.authenticateJWT(c, cred)
	}
	sum := sha256.Sum256([]byte(cred))
	if a.hasMaster && subtle.ConstantTimeCompare(sum[:], a.masterSum[:]) == 1 {
		c.Locals(callerLocal, caller{admin: true, master: true})
		return c.Next()
	}
	if snap := a.store.Snapshot(); jwtauth.UsesUserinfo(snap.JWT(), cred) && a.jwt != nil {
		return a.authenticateOpaque(c, cred)
	}
	if !strings.HasPrefix(cred, "sk-") {
		return auth.NotVirtualKey()
	}
	snap := a.store.Snapshot()
	k := snap.Key(policy.KeyHash(sum))
	if k == nil {
		return auth.KeyNotFound(sum[:])
	}
	// LiteLLM checks a key's standing (blocked, expired, its team blocked
	// or gone) on every route, info routes included; not its budget.
	if err := snap.KeyStanding(k, a.store.Now()); err != nil {
		return err
	}
	if err := jwtauth.CheckKeyRoute(k.AllowedRoutes, c.Path()); err != nil {
		return err
	}
	who := caller{key: k, teamID: k.TeamID, userID: k.UserID}
	// The key's user's role decides, as in LiteLLM: a proxy_admin user's
	// key is an admin, a proxy_admin_viewer's reads everything.
	if u := snap.User(k.UserID); k.UserID != "" && u != nil {
		who.role = u.UserRole
		who.admin = u.UserRole == "proxy_admin"
		who.viewer = u.UserRole == policy.ViewerRole
		who.selfKeys = u.UserRole == events.RoleInternalUser
	}
	c.Locals(callerLocal, who)
	return c.Next()
}

// authenticateJWT admits an admin JWT on the routes admin_allowed_routes
// grants, and a team or user JWT on the info routes about itself.
func (a *API) authenticateJWT(c *fiber.Ctx, tok string) error {
	snap := a.store.Snapshot()
	s := snap.JWT()
	if s == nil || !s.Enabled || a.jwt == nil {
		return apierror.Unauthenticated.With("Authentication Error, a JWT was passed but JWT auth is not enabled on this gateway")
	}
	return a.admitWith(c, snap, tok, (*jwtauth.Engine).Authenticate)
}

// authenticateOpaque admits an opaque OIDC access token whose claims come
// from the provider's userinfo endpoint (oidc_userinfo_enabled), with the
// same rules as a JWT.
func (a *API) authenticateOpaque(c *fiber.Ctx, tok string) error {
	return a.admitWith(c, a.store.Snapshot(), tok, (*jwtauth.Engine).AuthenticateOpaque)
}

// admitWith reads tok's identity with authenticate, by the snapshot's JWT
// settings, and admits it.
func (a *API) admitWith(c *fiber.Ctx, snap *policy.Snapshot, tok string, authenticate func(*jwtauth.Engine, context.Context, string, time.Time) (*jwtauth.Identity, error)) error {
	eng, err := a.jwt.Engine(snap.JWT())
	if err != nil {
		return err
	}
	id, err := authenticate(eng, c.UserContext(), tok, a.store.Now())
	if err != nil {
		return err
	}
	return a.admitJWT(c, snap, id)
}

// admitJWT runs the decision for a JWT (or userinfo) identity on this
// route and records the caller.
func (a *API) admitJWT(c *fiber.Ctx, snap *policy.Snapshot, id *jwtauth.Identity) error {
	d, err := jwtauth.Decide(snap, id, jwtauth.Request{Route: c.Path(), TeamHeader: c.Get("x-litellm-team-id")})
	if err != nil {
		return err
	}
	if err := a.applyUpserts(c.UserContext(), d.Upserts); err != nil {
		return err
	}
	sub, _ := id.Claims["sub"].(string)
	who := caller{admin: d.Admin, userID: d.UserID, name: "jwt:" + sub, role: id.Role}
	if d.Team != nil {
		who.teamID = d.Team.TeamID
	}
	// An internal_user's JWT manages its own keys, as its key would: the
	// stored user's role decides, else the token's.
	if role := id.Role; !who.admin && d.UserID != "" {
		if u := snap.User(d.UserID); u != nil {
			role = u.UserRole
		}
		who.selfKeys = role == events.RoleInternalUser
	}
	c.Locals(callerLocal, who)
	return c.Next()
}

func who(c *fiber.Ctx) caller {
	v, _ := c.Locals(callerLocal).(caller)
	return v
}

func (a *API) adminOnly(c *fiber.Ctx) error {
	if !who(c).admin {
		return notAdmin(c)
	}
	return c.Next()
}

// modelWriter admits the admins to the model write routes. LiteLLM
// serves these as self-managed routes whose handler refuses everyone else
// with a 403 (can_user_make_model_call), not the 401 of its admin-only
// route check; gatehouse has no team-scoped deployments, so no team admin
// gets through either.
func (a *API) modelWriter(c *fiber.Ctx) error {
	me := who(c)
	switch {
	case me.admin:
		return c.Next()
	case me.viewer:
		// LiteLLM 2026's route check refuses a view-only admin's writes
		// before any handler runs.
		return notAdmin(c)
	case me.role == "internal_user_viewer":
		return apierror.Forbidden.With("View-only users cannot manage models.")
	}
	return apierror.Forbidden.With("User does not have permission to make this model call. Your role=%s. You can only make model calls if you are a PROXY_ADMIN.", cmp.Or(me.role, "None"))
}

// readOnly admits the callers that may read every object: admins and
// view-only admins.
func (a *API) readOnly(c *fiber.Ctx) error {
	if !who(c).reads() {
		return notAdmin(c)
	}
	return c.Next()
}

// userUpdateGuard admits an admin, and a view-only admin changing only its
// own user_email: LiteLLM lets proxy_admin_viewer call /user/update for
// user_email and password (gatehouse keeps no passwords).
func (a *API) userUpdateGuard(c *fiber.Ctx) error {
	me := who(c)
	if me.admin {
		return c.Next()
	}
	if !me.viewer {
		return notAdmin(c)
	}
	param, ok := ownEmailOnly(c.Body(), me.userID)
	if ok {
		return c.Next()
	}
	// gatehouse keeps no passwords, so LiteLLM's message (which offers
	// password) would mislead there.
	if param != "" && param != "password" {
		return apierror.Forbidden.With("user not allowed to access this route, role= %s. Trying to access: %s and updating invalid param: %s. only user_email and password can be updated",
			policy.ViewerRole, c.Path(), param)
	}
	return notAdmin(c)
}

// ownEmailOnly reports whether a /user/update body names the user self
// and changes nothing but user_email; else the first other field it sets
// (in sorted order, so the answer is stable), if any.
func ownEmailOnly(body []byte, self string) (string, bool) {
	var m map[string]json.RawMessage
	if self == "" || json.Unmarshal(body, &m) != nil {
		return "", false
	}
	keys := slices.Sorted(maps.Keys(m))
	for _, k := range keys {
		if k != "user_id" && k != "user_email" {
			return k, false
		}
	}
	var id string
	if json.Unmarshal(m["user_id"], &id) != nil || id != self {
		return "", false
	}
	return "", true
}

// notAdmin is LiteLLM's refusal of a route to a caller that is not a
// proxy admin, with its role and user id (Python's None when unset). A
// view-only admin is authenticated and may read everything, so LiteLLM
// 2026 refuses it a write with 403, naming its role and the route.
func notAdmin(c *fiber.Ctx) error {
	me := who(c)
	if me.viewer {
		return apierror.Forbidden.With("user not allowed to access this route, role= %s. Trying to access: %s", policy.ViewerRole, c.Path())
	}
	role, user := cmp.Or(me.role, "None"), cmp.Or(me.userID, "None")
	return apierror.NotAdmin.With("Only proxy admin can be used to generate, delete, update info for new keys/users/teams. Route=%s. Your role=%s. Your user_id=%s",
		c.Path(), role, user)
}

// mutate applies change to a copy of the stored object kind/id (notFound
// when there is none), stamps the time updated points at, and publishes
// the result as an event of type typ; the store re-runs it on a
// concurrent write. It returns the object as written.
func mutate[T any](a *API, c *fiber.Ctx, kind events.Kind, id, typ string, notFound error,
	updated func(*T) *time.Time, change func(*T) error) (store.Result, *T, error) {
	var out *T
	res, err := a.store.Mutate(c.UserContext(), who(c).actor(), kind, id, func(cur any) (string, any, error) {
		old, _ := cur.(*T)
		if old == nil {
			return "", nil, notFound
		}
		v := *old
		if err := change(&v); err != nil {
			return "", nil, err
		}
		*updated(&v) = a.store.Now()
		out = &v
		return typ, &v, nil
	})
	return res, out, err
}

// create publishes obj as the new object kind/id, of type typ; exists is
// the refusal when there is one already.
func (a *API) create(c *fiber.Ctx, kind events.Kind, id, typ string, obj any, exists error) (store.Result, error) {
	return a.store.Mutate(c.UserContext(), who(c).actor(), kind, id, func(cur any) (string, any, error) {
		if cur != nil {
			return "", nil, exists
		}
		return typ, obj, nil
	})
}

// decodeValid reads a request body strictly into an R and validates it.
func decodeValid[R any, P interface {
	*R
	validate() error
}](c *fiber.Ctx) (P, error) {
	req := P(new(R))
	if err := decode(c, req); err != nil {
		return nil, err
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	return req, nil
}

// infoID is the id an /info route reads: the query parameter param, else
// the caller's own (own); a caller who is not an admin may read only
// their own.
func infoID(param, id, own string, admin bool, forbidden error) (string, error) {
	if id == "" {
		id = own
	}
	if id == "" {
		return "", apierror.MissingParam.With("%s is required", param)
	}
	if !admin && own != id {
		return "", forbidden
	}
	return id, nil
}

// keysWhere returns the snapshot's keys for which match holds.
func keysWhere(snap *policy.Snapshot, match func(k *events.Key) bool) []*events.Key {
	keys := []*events.Key{}
	for _, k := range snap.Keys() {
		if match(k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// commit writes the response of a change, telling the caller how far it has
// propagated.
func commit(c *fiber.Ctx, res store.Result, body any) error {
	if res.Seq > 0 {
		c.Set("x-gatehouse-event-seq", strconv.FormatUint(res.Seq, 10))
	}
	if len(res.Lagging) > 0 {
		c.Set("x-gatehouse-propagation", "partial; lagging edges: "+strings.Join(res.Lagging, ","))
	} else {
		c.Set("x-gatehouse-propagation", "complete")
	}
	if w, _ := c.Locals(warningsKey).([]string); len(w) > 0 {
		return c.JSON(withWarnings(body, w))
	}
	return c.JSON(body)
}

func (a *API) state(c *fiber.Ctx) error {
	if c.Query("at") != "" {
		return a.pastState(c)
	}
	return c.JSON(policy.Export(a.store.Snapshot()))
}

func (a *API) edgeList(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"edges": a.store.Edges.Status()})
}

// spendOf returns an object's spend in its current budget window (0 when
// the tracker has seen none, or is not configured).
func (a *API) spendOf(c *fiber.Ctx, kind events.Kind, id string) budget.Totals {
	if a.totals == nil {
		return budget.Totals{}
	}
	t, err := budget.ReadTotals(c.UserContext(), a.totals, kind, id)
	if err != nil {
		a.log.Warn("reading spend totals", "err", err)
	}
	return t
}

// withSpend renders an object with its current spend, LiteLLM's "spend"
// field.
func withSpend(obj any, t budget.Totals) fiber.Map {
	raw, _ := json.Marshal(obj)
	var m fiber.Map
	_ = json.Unmarshal(raw, &m)
	m["spend"] = Money(t.Spend)
	// No spend seen yet has no window: omitted rather than Go's zero time.
	if !t.WindowStart.IsZero() {
		m["spend_window_start"] = t.WindowStart
	}
	return m
}

// parseDuration reads a LiteLLM duration ("30d") naming the field on error.
func parseDuration(field, s string) (time.Duration, error) {
	d, err := policy.ParseDuration(s)
	if err != nil {
		return 0, httpx.Param(field, "%v", err)
	}
	return d, nil
}
