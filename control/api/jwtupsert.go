package api

import (
	"context"

	"github.com/gatehouse/gatehouse/control/upsert"
	"github.com/gatehouse/gatehouse/events"
)

// applyUpserts applies a JWT decision's upserts (user_id_upsert,
// team_id_upsert, map_user_to_teams, sync_user_role_and_teams) for a
// request the control plane admitted. The edge queues them for the upsert
// consumer; here the control plane owns the store, so it applies them
// itself, with the consumer's code (upsert.Apply: create-if-missing, sync
// only what the token is authoritative for), before the request runs. As
// in LiteLLM, which creates the user before answering, a new SSO user's
// first /user/info finds the user: each write is settled in the read model
// before the next step. A write that fails refuses the request, as a
// failed upsert does in LiteLLM; the next request asks again.
func (a *API) applyUpserts(ctx context.Context, reqs []events.UpsertRequest) error {
	for _, r := range reqs {
		if err := upsert.Apply(ctx, a.store, r); err != nil {
			return err
		}
	}
	return nil
}
