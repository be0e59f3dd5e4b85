package control

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/events"
)

// SyncLiteLLMSettings publishes litellm_settings.max_end_user_budget as the
// litellm_settings event when it differs from the stream's (nil clears a
// budget set before). The budget tracker and the admin API read it from
// the policy snapshot; edges enforce its consequence, the end user's
// budget_exceeded flag. It is meant to be called at start next to
// SyncRouterSettings, with the value config.yaml holds.
func SyncLiteLLMSettings(ctx context.Context, st *store.Store, maxEndUserBudget *float64, log *slog.Logger) error {
	cur := st.Snapshot().LiteLLMSettings()
	if cur == nil && maxEndUserBudget == nil {
		return nil
	}
	if cur != nil && sameBudget(cur.MaxEndUserBudget, maxEndUserBudget) {
		return nil
	}
	s := &events.LiteLLMSettings{ID: events.LiteLLMSettingsID, MaxEndUserBudget: maxEndUserBudget, UpdatedAt: st.Now()}
	res, err := st.Put(ctx, "config", s, func(c any) bool {
		o, _ := c.(*events.LiteLLMSettings)
		return o != nil && sameBudget(o.MaxEndUserBudget, maxEndUserBudget)
	})
	if err != nil {
		return fmt.Errorf("control: sync litellm_settings: %w", err)
	}
	log.Info("litellm_settings synced", "max_end_user_budget", maxEndUserBudget, "published", !res.Noop)
	return nil
}

func sameBudget(a, b *float64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
