package api

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/auth/jwtauth"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
	"github.com/gatehouse/gatehouse/policy"
)

// keyFields are the settable fields of a key, shared by /key/generate,
// /key/update and /key/regenerate. Pointers distinguish "not sent".
type keyFields struct {
	KeyAlias       *string   `json:"key_alias"`
	Duration       *string   `json:"duration"`
	Models         *[]string `json:"models"`
	TeamID         *string   `json:"team_id"`
	UserID         *string   `json:"user_id"`
	OrganizationID *string   `json:"organization_id"`
	limitFields
	MaxParallelRequests *int64            `json:"max_parallel_requests"`
	Aliases             map[string]string `json:"aliases"`
	Blocked             *bool             `json:"blocked"`
	AllowedRoutes       *[]string         `json:"allowed_routes"`
	AllowedIPs          *[]string         `json:"allowed_ips"`
	AccessGroupIDs      *[]string         `json:"access_group_ids"`
	// grace is how long a regenerated key's old token keeps working
	// (keyRegenerate sets it from grace_period).
	grace time.Duration
}

type keyRequest struct {
	// Key is the custom plaintext key for /key/generate, and the key to act
	// on (plaintext or token) for the other routes.
	Key *string `json:"key"`
	keyFields
	// NewKey is /key/regenerate's optional custom replacement.
	NewKey *string `json:"new_key"`
	// KeyType is LiteLLM's shorthand for allowed_routes on /key/generate
	// and /key/regenerate (see keyTypeRoutes).
	KeyType *string `json:"key_type"`
	// GracePeriod ("30m", "24h") and GracePeriodMinutes are LiteLLM's
	// /key/regenerate grace period: the old key keeps working that long.
	GracePeriod        *string `json:"grace_period"`
	GracePeriodMinutes *int64  `json:"grace_period_minutes"`
}

// gracePeriod reads /key/regenerate's grace period (0: none); the other
// routes refuse it, naming the field sent.
func (r *keyRequest) gracePeriod(regenerate bool) (time.Duration, error) {
	field := "grace_period"
	if r.GracePeriod == nil {
		field = "grace_period_minutes"
	}
	if r.GracePeriod == nil && r.GracePeriodMinutes == nil {
		return 0, nil
	}
	if !regenerate {
		return 0, httpx.Param(field, "only valid for /key/regenerate")
	}
	if r.GracePeriod != nil && r.GracePeriodMinutes != nil {
		return 0, httpx.Param("grace_period_minutes", "send grace_period or grace_period_minutes, not both")
	}
	if m := r.GracePeriodMinutes; m != nil {
		if *m < 0 {
			return 0, httpx.Param(field, "must be >= 0, got %d", *m)
		}
		return time.Duration(*m) * time.Minute, nil
	}
	if *r.GracePeriod == "" {
		return 0, nil
	}
	d, err := parseDuration(field, *r.GracePeriod)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, httpx.Param(field, "must not be negative, got %q", *r.GracePeriod)
	}
	return d, nil
}

// keyTypeRoutes are the allowed_routes each LiteLLM key_type stands for;
// like LiteLLM, a key_type replaces any allowed_routes sent with it, and
// "default" leaves them as sent.
var keyTypeRoutes = map[string][]string{
	"llm_api":    {"llm_api_routes"},
	"management": {"management_routes"},
	"read_only":  {"info_routes"},
	"default":    nil,
}

// applyKeyType turns key_type into allowed_routes, before any check of
// what the caller may grant sees them.
func (r *keyRequest) applyKeyType() error {
	if r.KeyType == nil {
		return nil
	}
	routes, ok := keyTypeRoutes[*r.KeyType]
	if !ok {
		return httpx.Param("key_type", "must be one of llm_api, management, read_only, default; got %q", *r.KeyType)
	}
	if routes != nil {
		r.AllowedRoutes = &routes
	}
	return nil
}

// keyResponse is a key as returned when its plaintext is shown: once, at
// generation.
type keyResponse struct {
	keyView
	Plaintext string `json:"key"`
	// TokenID is LiteLLM's name for the token in /key/generate's answer.
	TokenID string `json:"token_id"`
}

// keyView is a key as the admin API answers it: LiteLLM always sends
// metadata ({} when unset), and clients index it without checking.
type keyView struct {
	*events.Key
	Metadata map[string]any `json:"metadata"`
}

func viewKey(k *events.Key) keyView {
	md := maskMetadata(k.Metadata)
	if md == nil {
		md = map[string]any{}
	}
	return keyView{Key: k, Metadata: md}
}

func (f *keyFields) validate() error {
	if err := f.limitFields.validate(); err != nil {
		return err
	}
	if f.MaxParallelRequests != nil && *f.MaxParallelRequests < 0 {
		return httpx.Param("max_parallel_requests", "must be >= 0")
	}
	if f.AllowedIPs != nil {
		for i, ip := range *f.AllowedIPs {
			if err := policy.CheckIPEntry(ip); err != nil {
				return httpx.Param("allowed_ips", "entry %d: %v", i, err)
			}
		}
	}
	if f.AllowedRoutes != nil {
		for i, r := range *f.AllowedRoutes {
			if err := jwtauth.CheckRouteItem(r); err != nil {
				return httpx.Param("allowed_routes", "entry %d: %v", i, err)
			}
		}
	}
	return validModels(f.Models)
}

// apply sets the sent fields on k.
func (f *keyFields) apply(k *events.Key, now time.Time) error {
	setList(&k.AccessGroupIDs, f.AccessGroupIDs)
	set(&k.KeyAlias, f.KeyAlias)
	if f.Duration != nil {
		if *f.Duration == "" || *f.Duration == "-1" {
			// LiteLLM's "never expires" ("-1" is its older spelling).
			k.Expires = nil
		} else {
			d, err := policy.ParseKeyDuration(*f.Duration)
			if err != nil {
				return httpx.Param("duration", "%v", err)
			}
			exp := now.Add(d)
			k.Expires = &exp
		}
	}
	setList(&k.Models, f.Models)
	set(&k.TeamID, f.TeamID)
	set(&k.UserID, f.UserID)
	set(&k.OrganizationID, f.OrganizationID)
	f.limitFields.apply(&k.MaxBudget, &k.BudgetDuration, &k.TPMLimit, &k.RPMLimit, &k.BudgetFlag, now, &k.Metadata)
	setRef(&k.MaxParallelRequests, f.MaxParallelRequests)
	if f.Aliases != nil {
		k.Aliases = maps.Clone(f.Aliases)
	}
	set(&k.Blocked, f.Blocked)
	setList(&k.AllowedRoutes, f.AllowedRoutes)
	setList(&k.AllowedIPs, f.AllowedIPs)
	k.Models = orEmpty(k.Models)
	return nil
}

// nullMeansNever reads a "duration": null in body as "never expires", as
// LiteLLM's /key/update and /key/regenerate do (a field not sent keeps
// the key's expiry).
func (f *keyFields) nullMeansNever(body []byte) {
	if f.Duration == nil && sentFields(body)["duration"] {
		never := ""
		f.Duration = &never
	}
}

// newPlaintextKey returns "sk-" and 22 url-safe random characters (128 bits).
func newPlaintextKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sk-" + base64.RawURLEncoding.EncodeToString(b[:])
}

func maskKey(plain string) string {
	if len(plain) < 8 {
		return "sk-..."
	}
	return "sk-..." + plain[len(plain)-4:]
}

// validCustomKey checks a caller's own key (field "key" on /key/generate,
// "new_key" on /key/regenerate) with LiteLLM's texts; two dots are
// refused too, since a credential with two dots is read as a JWT.
func validCustomKey(field, k string) error {
	if !strings.HasPrefix(k, "sk-") {
		if field == "new_key" {
			return param(apierror.BadRequest.With("New key must start with 'sk-'. This is to distinguish a key hash (used by litellm for logging / internal logic) from the actual key."), field)
		}
		masked := "****"
		if len(k) > 8 {
			masked = k[:4] + masked + k[len(k)-4:]
		}
		return param(apierror.BadRequest.With("Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: %s", masked), field)
	}
	if strings.Count(k, ".") >= 2 {
		return httpx.Param(field, "custom keys must not look like a JWT (two dots)")
	}
	return nil
}

// tokenOf turns a key given by a caller (plaintext "sk-..." or the 64-hex
// token) into the token.
func tokenOf(field, k string) (string, error) {
	k = strings.TrimSpace(k)
	if strings.HasPrefix(k, "sk-") {
		return events.HashKey(k), nil
	}
	if len(k) == 64 {
		if _, err := hex.DecodeString(k); err == nil {
			return strings.ToLower(k), nil
		}
	}
	if k == "" {
		return "", apierror.MissingParam.With("%s is required", field)
	}
	return "", httpx.Param(field, "expected a key ('sk-...') or its 64-hex token")
}

// checkTeamBound enforces that a key of a team gets no model its team lacks.
func (a *API) checkTeamBound(ctx context.Context, k *events.Key) error {
	if k.TeamID == "" {
		return nil
	}
	obj, _, err := a.store.Get(ctx, events.KindTeam, k.TeamID)
	if err != nil {
		return err
	}
	team, _ := obj.(*events.Team)
	if team == nil {
		return apierror.NotFound.With("team_id %q does not exist. Create it via /team/new", k.TeamID)
	}
	snap := a.store.Snapshot()
	for _, m := range k.Models {
		if !policy.WithinModels(snap, m, snap.TeamModels(team)) {
			return apierror.TeamModelDenied.With("key model %q is not in the models of team %s. Allowed team models = %s", m, team.TeamID, apierror.PyList(team.Models))
		}
	}
	return nil
}

func (a *API) keyGenerate(c *fiber.Ctx) error {
	var req keyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	return a.generateKey(c, &req)
}

// keyServiceAccountGenerate is LiteLLM's /key/service-account/generate: a
// key of a team that exists, and of no user (a user_id sent is dropped).
// Admin only (stricter than LiteLLM): a key of no user is nobody's to
// manage but an admin's.
func (a *API) keyServiceAccountGenerate(c *fiber.Ctx) error {
	var req keyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	if err := needTeam(deref(req.TeamID)); err != nil {
		return err
	}
	if a.store.Snapshot().Team(*req.TeamID) == nil {
		return param(apierror.BadRequest.With("team_id does not exist in the database. Please specify a valid `team_id` in the request body."), "team_id")
	}
	req.UserID = nil
	return a.generateKey(c, &req)
}

// serviceAccountTeam is LiteLLM's rule for a service account key (one
// whose metadata has a service_account_id): it must belong to a team.
func serviceAccountTeam(md map[string]any, teamID string) error {
	if md["service_account_id"] == nil {
		return nil
	}
	return needTeam(teamID)
}

// needTeam refuses a service account key without a team, with LiteLLM's text.
func needTeam(teamID string) error {
	if teamID == "" {
		return param(apierror.BadRequest.With("team_id is required for service account keys. Please specify `team_id` in the request body."), "team_id")
	}
	return nil
}

// generateKey makes the key a /key/generate body asks for.
func (a *API) generateKey(c *fiber.Ctx, req *keyRequest) error {
	if err := serviceAccountTeam(req.Metadata, deref(req.TeamID)); err != nil {
		return err
	}
	if req.NewKey != nil {
		return httpx.Param("new_key", "only valid for /key/regenerate")
	}
	if _, err := req.gracePeriod(false); err != nil {
		return err
	}
	if err := req.applyKeyType(); err != nil {
		return err
	}
	if me := who(c); !me.admin {
		if err := a.checkSelfGenerate(me, &req.keyFields, c.Body()); err != nil {
			return err
		}
	}
	a.memberKeyDuration(&req.keyFields)
	fillKey(&req.keyFields, a.keyDefaults)
	if err := boundKey(&req.keyFields, a.keyBound, true); err != nil {
		return err
	}
	resp, res, err := a.createKey(c.UserContext(), who(c), req.Key, &req.keyFields, "")
	if err != nil {
		return err
	}
	return commit(c, res, resp)
}

// memberKeyDuration gives a key generated for a team for a user, without
// a duration of its own, the team's team_member_key_duration (LiteLLM's
// add_team_member_key_duration; a key of no user, a service account's,
// keeps none). It comes before default_key_generate_params.
func (a *API) memberKeyDuration(f *keyFields) {
	if f.Duration != nil || f.TeamID == nil || f.UserID == nil || *f.UserID == "" {
		return
	}
	if t := a.store.Snapshot().Team(*f.TeamID); t != nil && t.TeamMemberKeyDuration != "" {
		d := t.TeamMemberKeyDuration
		f.Duration = &d
	}
}

// checkAccessGroups refuses access_group_ids naming no access group: a
// typo would otherwise grant nothing, silently.
func (a *API) checkAccessGroups(ids *[]string) error {
	if ids == nil {
		return nil
	}
	snap := a.store.Snapshot()
	for i, id := range *ids {
		if !snap.Catalog().IsGroup(id) {
			return httpx.Param("access_group_ids", "entry %d: %q is no access group (model_info.access_groups or /access_group/new)", i, id)
		}
	}
	return nil
}

// createKey makes a new key, or with from set, the replacement of key from.
func (a *API) createKey(ctx context.Context, me caller, custom *string, f *keyFields, from string) (keyResponse, store.Result, error) {
	actor := me.actor()
	if err := f.validate(); err != nil {
		return keyResponse{}, store.Result{}, err
	}
	if err := a.checkOrgExists(f.OrganizationID); err != nil {
		return keyResponse{}, store.Result{}, err
	}
	if err := a.checkAccessGroups(f.AccessGroupIDs); err != nil {
		return keyResponse{}, store.Result{}, err
	}
	if f.KeyAlias != nil {
		if err := uniqueAlias(a.store.Snapshot(), *f.KeyAlias, from); err != nil {
			return keyResponse{}, store.Result{}, err
		}
	}
	plain := newPlaintextKey()
	field := "key"
	if from != "" {
		field = "new_key"
	}
	if custom != nil && *custom != "" {
		if err := validCustomKey(field, *custom); err != nil {
			return keyResponse{}, store.Result{}, err
		}
		plain = *custom
	}
	now := a.store.Now()
	k := &events.Key{}
	typ := events.KeyUpserted
	if from != "" {
		obj, _, err := a.store.Get(ctx, events.KindKey, from)
		if err != nil {
			return keyResponse{}, store.Result{}, err
		}
		old, _ := obj.(*events.Key)
		if old == nil {
			return keyResponse{}, store.Result{}, apierror.NotFound.With("key not found")
		}
		cp := *old
		k = &cp
		k.RegeneratedFrom = from
		// Only the token it replaces now may have a grace period (LiteLLM's
		// previous_token is one deep): the old key's own one ends here.
		k.PreviousTokenExpires = nil
		if f.grace > 0 {
			until := now.Add(f.grace)
			k.PreviousTokenExpires = &until
		}
		typ = events.KeyRegenerated
	} else {
		k.CreatedAt, k.CreatedBy = now, me.creator()
	}
	if err := f.apply(k, now); err != nil {
		return keyResponse{}, store.Result{}, err
	}
	k.Token, k.KeyName, k.UpdatedAt = events.HashKey(plain), maskKey(plain), now
	if err := a.checkTeamBound(ctx, k); err != nil {
		return keyResponse{}, store.Result{}, err
	}
	res, err := a.store.Mutate(ctx, actor, events.KindKey, k.Token, func(cur any) (string, any, error) {
		if cur != nil {
			// LiteLLM's 400 for a custom key already in use.
			return "", nil, param(apierror.BadRequest.With("Key already exists."), field)
		}
		return typ, k, nil
	})
	if err != nil {
		return keyResponse{}, store.Result{}, err
	}
	return keyResponse{keyView: viewKey(k), Plaintext: plain, TokenID: k.Token}, res, nil
}

func (a *API) keyInfo(c *fiber.Ctx) error {
	me := who(c)
	q := c.Query("key")
	if q == "" && me.key != nil {
		return c.JSON(fiber.Map{"key": me.key.Token, "info": withSpend(viewKey(me.key), a.spendOf(c, events.KindKey, me.key.Token))})
	}
	tok, err := tokenOf("key", q)
	if err != nil {
		return err
	}
	// LiteLLM looks the key up before it checks the caller may read it:
	// an unknown key is a 404 for anyone.
	k := a.store.Snapshot().KeyByToken(tok)
	if k == nil {
		return param(apierror.NotFound.With("Key not found in database"), "key")
	}
	if !me.reads() && (me.key == nil || me.key.Token != tok) {
		return apierror.Forbidden.With("a virtual key may only read its own info")
	}
	return c.JSON(fiber.Map{"key": q, "info": withSpend(viewKey(k), a.spendOf(c, events.KindKey, k.Token))})
}

// ownKey: a non-admin lists its user's keys (LiteLLM's /key/list is an
// info route, scoped to the caller's user), or only itself when it has no
// user.
func ownKey(me caller, k *events.Key) bool {
	if me.userID != "" {
		return k.UserID == me.userID
	}
	return me.key != nil && k.Token == me.key.Token
}

// keyListDenied is validate_key_list_check's refusal: a ProxyException of
// type bad_request_error with status 403.
var keyListDenied = &apierror.Error{Status: 403, Type: "bad_request_error", Code: "forbidden"}

// checkKeyListScope is LiteLLM's validate_key_list_check for a caller
// with a user that is not an admin: a filter naming another user, a team
// or organization it is not in, or a key it may not read, is a 403
// rather than an empty list.
func checkKeyListScope(snap *policy.Snapshot, me caller, user, team, org, hash string) error {
	if user != "" && user != me.userID {
		return param(keyListDenied.With("You are not authorized to check another user's keys"), "user_id")
	}
	if team != "" && teamMember(snap.Team(team), me.userID) == nil {
		return param(keyListDenied.With("You are not authorized to check this team's keys"), "team_id")
	}
	if org != "" {
		if !orgMember(snap.Org(org), me.userID) {
			return param(keyListDenied.With("You are not authorized to check this organization's keys"), "organization_id")
		}
	}
	if hash != "" {
		k := snap.KeyByToken(hash)
		if k == nil {
			return param(keyListDenied.With("Key Hash not found."), "key_hash")
		}
		if !ownKey(me, k) && (k.TeamID == "" || !teamAdmin(snap.Team(k.TeamID), me.userID)) {
			return apierror.Forbidden.With("You are not allowed to access this key's info. Your role=%s", me.role)
		}
	}
	return nil
}

// keyHealth is POST /key/health (a LiteLLM info route): clients call it to
// check that a key works. The key got here, so its standing is good; it
// has no logging callbacks of its own (LiteLLM's only other check).
func (a *API) keyHealth(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"key": "healthy", "logging_callbacks": nil})
}

func (a *API) keyList(c *fiber.Ctx) error {
	if err := checkQuery(c, "page", "size", "user_id", "team_id", "organization_id", "key_alias", "key_hash",
		"return_full_object", "include_team_keys", "include_created_by_keys", "sort_by", "sort_order"); err != nil {
		return err
	}
	team, user, org, alias := c.Query("team_id"), c.Query("user_id"), c.Query("organization_id"), c.Query("key_alias")
	var hash string
	if q := c.Query("key_hash"); q != "" {
		var err error
		if hash, err = tokenOf("key_hash", q); err != nil {
			return err
		}
	}
	full := c.QueryBool("return_full_object")
	me := who(c)
	snap := a.store.Snapshot()
	if !me.reads() && me.userID != "" {
		if err := checkKeyListScope(snap, me, user, team, org, hash); err != nil {
			return err
		}
	}
	// LiteLLM's include_team_keys adds the keys of the teams the caller
	// administers, include_created_by_keys the keys it created.
	teamKeys, createdKeys := c.QueryBool("include_team_keys"), c.QueryBool("include_created_by_keys") && me.userID != ""
	mine := func(k *events.Key) bool {
		if me.reads() || ownKey(me, k) {
			return true
		}
		if teamKeys && k.TeamID != "" && teamAdmin(snap.Team(k.TeamID), me.userID) {
			return true
		}
		return createdKeys && k.CreatedBy == me.userID
	}
	var match []*events.Key
	for _, k := range snap.Keys() {
		if (team == "" || k.TeamID == team) && (user == "" || k.UserID == user) && (org == "" || k.OrganizationID == org) &&
			(alias == "" || k.KeyAlias == alias) && (hash == "" || k.Token == hash) && mine(k) {
			match = append(match, k)
		}
	}
	if err := sortBy(c, match, "desc", map[string]func(*events.Key) string{
		"created_at": func(k *events.Key) string { return sortTime(k.CreatedAt) },
		"updated_at": func(k *events.Key) string { return sortTime(k.UpdatedAt) },
		"key_alias":  func(k *events.Key) string { return k.KeyAlias },
		"expires": func(k *events.Key) string {
			if k.Expires == nil {
				return ""
			}
			return sortTime(*k.Expires)
		},
	}); err != nil {
		return err
	}
	// LiteLLM's page/size; without them, every key (as before).
	p, err := pageOf(c, "size", len(match), len(match))
	if err != nil {
		return err
	}
	from, to := p.bounds()
	keys := make([]any, 0, to-from)
	for _, k := range match[from:to] {
		if full {
			// LiteLLM's return_full_object: the key objects, with spend.
			keys = append(keys, withSpend(viewKey(k), a.spendOf(c, events.KindKey, k.Token)))
		} else {
			keys = append(keys, k.Token)
		}
	}
	return c.JSON(fiber.Map{"keys": keys, "total_count": len(match), "current_page": p.n, "total_pages": p.pages()})
}

// keyAliases is LiteLLM's GET /key/aliases (a management route: admins
// and view-only admins): the distinct key aliases, sorted, with search (a
// case-insensitive substring), team_id and page/size.
func (a *API) keyAliases(c *fiber.Ctx) error {
	if err := checkQuery(c, "page", "size", "search", "team_id"); err != nil {
		return err
	}
	team, search := c.Query("team_id"), strings.ToLower(c.Query("search"))
	seen := map[string]bool{}
	aliases := []string{}
	for _, k := range a.store.Snapshot().Keys() {
		if k.KeyAlias == "" || seen[k.KeyAlias] || (team != "" && k.TeamID != team) ||
			!strings.Contains(strings.ToLower(k.KeyAlias), search) {
			continue
		}
		seen[k.KeyAlias] = true
		aliases = append(aliases, k.KeyAlias)
	}
	slices.Sort(aliases)
	p, err := pageOf(c, "size", len(aliases), len(aliases))
	if err != nil {
		return err
	}
	from, to := p.bounds()
	return c.JSON(fiber.Map{"aliases": aliases[from:to], "total_count": len(aliases), "current_page": p.n, "total_pages": p.pages()})
}

// mutateKey runs a read-modify-write on an existing key.
func (a *API) mutateKey(c *fiber.Ctx, tok string, typ string, change func(k *events.Key) error) error {
	res, out, err := mutate(a, c, events.KindKey, tok, typ, apierror.NotFound.With("key not found"),
		func(k *events.Key) *time.Time { return &k.UpdatedAt }, change)
	if err != nil {
		return err
	}
	if res.Noop {
		out, _ = res.Object.(*events.Key)
	}
	if out == nil {
		return commit(c, res, out)
	}
	return commit(c, res, viewKey(out))
}

func (a *API) keyUpdate(c *fiber.Ctx) error {
	var req keyRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	tok, err := a.checkKeyUpdate(c.Body(), &req)
	if err != nil {
		return err
	}
	return a.mutateKey(c, tok, events.KeyUpserted, a.keyChange(c, who(c), &req))
}

// checkKeyUpdate checks a decoded /key/update body (body: as sent) and
// answers the token of the key it names.
func (a *API) checkKeyUpdate(body []byte, req *keyRequest) (string, error) {
	if req.Key == nil {
		return "", apierror.MissingParam.With("key is required")
	}
	if req.NewKey != nil {
		return "", httpx.Param("new_key", "only valid for /key/regenerate")
	}
	if _, err := req.gracePeriod(false); err != nil {
		return "", err
	}
	if req.KeyType != nil {
		return "", httpx.Param("key_type", "only valid for /key/generate and /key/regenerate; set allowed_routes to change a key's routes")
	}
	req.nullMeansNever(body)
	tok, err := tokenOf("key", *req.Key)
	if err != nil {
		return "", err
	}
	if err := req.validate(); err != nil {
		return "", err
	}
	if err := a.checkAccessGroups(req.AccessGroupIDs); err != nil {
		return "", err
	}
	if err := boundKey(&req.keyFields, a.keyBound, false); err != nil {
		return "", err
	}
	return tok, nil
}

// keyChange is the change a checked /key/update makes to its key, by me.
func (a *API) keyChange(c *fiber.Ctx, me caller, req *keyRequest) func(k *events.Key) error {
	return func(k *events.Key) error {
		if err := serviceAccountTeam(req.Metadata, cmp.Or(deref(req.TeamID), k.TeamID)); err != nil {
			return err
		}
		if !me.admin {
			if err := a.checkSelfUpdate(me, k, &req.keyFields, *req.Key, "/key/update"); err != nil {
				return err
			}
		}
		if err := req.apply(k, a.store.Now()); err != nil {
			return err
		}
		if req.KeyAlias != nil {
			if err := uniqueAlias(a.store.Snapshot(), k.KeyAlias, k.Token); err != nil {
				return err
			}
		}
		return a.checkTeamBound(c.UserContext(), k)
	}
}

// uniqueAlias refuses a key_alias another key (not the token except) has:
// LiteLLM requires unique aliases, and tools find keys by them.
func uniqueAlias(snap *policy.Snapshot, alias, except string) error {
	if snap.KeyByAlias(alias, except) != nil {
		e := apierror.BadRequest.With("Key with alias '%s' already exists. Unique key aliases across all keys are required.", alias)
		e.Param = "key_alias"
		return e
	}
	return nil
}

func (a *API) keyBlock(block bool) fiber.Handler {
	typ := events.KeyUnblocked
	if block {
		typ = events.KeyBlocked
	}
	return func(c *fiber.Ctx) error {
		var req struct {
			Key string `json:"key"`
		}
		if err := decode(c, &req); err != nil {
			return err
		}
		tok, err := tokenOf("key", req.Key)
		if err != nil {
			return err
		}
		if err := checkKeyAccess(a.store.Snapshot(), who(c), tok, c.Path()); err != nil {
			return err
		}
		return a.mutateKey(c, tok, typ, func(k *events.Key) error {
			k.Blocked = block
			return nil
		})
	}
}

// keyAccessDenied is LiteLLM 2026's refusal of /key/block and
// /key/unblock (team_access.require_key_access): 403, its detail an object.
var keyAccessDenied = &apierror.Error{Status: 403, Type: "auth_error", Code: "forbidden"}

// checkKeyAccess is LiteLLM 2026's require_key_access for /key/block and
// /key/unblock by a caller that is not an admin (the route admits only
// admins and internal users, who manage keys): a key that does not exist
// is a 404, and a key is blocked or unblocked by the admin of its team or
// an org admin of the team's organization. As for /key/update, a key
// whose user is an admin or view-only admin is never a team's.
func checkKeyAccess(snap *policy.Snapshot, me caller, tok, route string) error {
	if me.admin {
		return nil
	}
	k := snap.KeyByToken(tok)
	if k == nil {
		return apierror.NotFound.With("Key not found: %s", tok)
	}
	if team := snap.Team(k.TeamID); k.TeamID != "" && team != nil && me.userID != "" {
		if m := teamMember(team, me.userID); (teamAdmin(team, me.userID) && teamGrants(snap, team, m, k, route)) ||
			(orgAdmin(snap.Org(team.OrganizationID), me.userID) && !adminUserKey(snap, k)) {
			return nil
		}
	}
	return keyAccessDenied.With("Only proxy admins, team admins, or org admins can call %s. user_role=%s, user_id=%s", route, cmp.Or(me.role, "None"), cmp.Or(me.userID, "None"))
}

// orgAdmin reports whether user holds org_admin in o.
func orgAdmin(o *events.Org, userID string) bool {
	return o != nil && userID != "" && slices.ContainsFunc(o.Members, func(m events.OrgMember) bool {
		return m.UserID == userID && m.UserRole == events.OrgRoleAdmin
	})
}

// adminUserKey reports whether k belongs to an admin or view-only admin
// user, whose keys no team or org admin acts on.
func adminUserKey(snap *policy.Snapshot, k *events.Key) bool {
	u := snap.User(k.UserID)
	return u != nil && (u.UserRole == "proxy_admin" || u.UserRole == policy.ViewerRole)
}

func (a *API) keyDelete(c *fiber.Ctx) error {
	var req struct {
		Keys       []string `json:"keys"`
		KeyAliases []string `json:"key_aliases"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if len(req.Keys) == 0 && len(req.KeyAliases) == 0 {
		return apierror.MissingParam.With("keys or key_aliases is required")
	}
	type target struct{ given, tok string }
	var targets []target
	for _, k := range req.Keys {
		tok, err := tokenOf("keys", k)
		if err != nil {
			return err
		}
		targets = append(targets, target{k, tok})
	}
	snap := a.store.Snapshot()
	for _, alias := range req.KeyAliases {
		found := false
		for _, k := range snap.Keys() {
			if k.KeyAlias == alias {
				targets = append(targets, target{alias, k.Token})
				found = true
			}
		}
		if !found {
			return apierror.NotFound.With("no key with key_alias %q", alias)
		}
	}
	// LiteLLM's delete_verification_tokens: a caller that is not an admin
	// deletes nothing unless it may delete every key it named.
	if me := who(c); !me.admin {
		for _, t := range targets {
			if k := snap.KeyByToken(t.tok); k != nil {
				if err := checkMayModify(snap, me, k, "/key/delete", "delete"); err != nil {
					return err
				}
			}
		}
	}
	deleted, missing := []string{}, []string{}
	var last store.Result
	for _, t := range targets {
		res, existed, err := a.store.Delete(c.UserContext(), who(c).actor(), events.KindKey, t.tok)
		if err != nil {
			return err
		}
		if existed {
			deleted = append(deleted, t.given)
			last = res
		} else {
			missing = append(missing, t.given)
		}
	}
	if len(deleted) == 0 {
		return apierror.NotFound.With("No matching keys or aliases found to delete")
	}
	// LiteLLM answers {"deleted_keys": [...]}; the keys that were not
	// there are named only when there are some.
	out := fiber.Map{"deleted_keys": deleted}
	if len(missing) > 0 {
		out["not_found"] = missing
	}
	return commit(c, last, out)
}

func (a *API) keyRegenerate(c *fiber.Ctx) error {
	var req keyRequest
	if len(c.Body()) > 0 {
		if err := decode(c, &req); err != nil {
			return err
		}
		req.nullMeansNever(c.Body())
	}
	if err := req.applyKeyType(); err != nil {
		return err
	}
	grace, err := req.gracePeriod(true)
	if err != nil {
		return err
	}
	req.grace = grace
	given := c.Params("key")
	if given == "" && req.Key != nil {
		given = *req.Key
	}
	tok, err := tokenOf("key", given)
	if err != nil {
		return err
	}
	if me := who(c); !me.admin {
		if err := a.checkSelfRegenerate(me, tok, given, &req.keyFields); err != nil {
			return err
		}
	}
	actor := who(c).actor()
	resp, res, err := a.createKey(c.UserContext(), who(c), req.NewKey, &req.keyFields, tok)
	if err != nil {
		return err
	}
	// The new key's event already removed the old one at every edge (its
	// token stands for the new key until a grace period ends); the
	// tombstone keeps the stream's per-subject state honest on replay.
	if dres, _, err := a.store.Delete(c.UserContext(), actor, events.KindKey, tok); err != nil {
		a.log.Warn("old key tombstone after regenerate failed; the old key is already revoked", "err", err)
	} else if dres.Seq > res.Seq {
		res.Seq = dres.Seq
	}
	return commit(c, res, resp)
}
