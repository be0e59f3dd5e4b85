package api

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
)

// The poison queue routes (gatewayctl poison list|replay). Master key only:
// a poisoned message holds another tenant's spend or identity data, and a
// replay re-runs a processor, which admin_allowed_routes was never asked
// to grant to a JWT.

func (a *API) masterOnly(c *fiber.Ctx) error {
	if !who(c).master {
		return apierror.Forbidden.With("Only the master key may use %s", c.Path())
	}
	return c.Next()
}

func (a *API) poisonList(c *fiber.Ctx) error {
	if a.js == nil {
		return apierror.Unavailable.With("the poison queue is not available on this control plane")
	}
	list, err := events.ListPoison(c.UserContext(), a.js, c.QueryInt("limit", 1000))
	if err != nil {
		return apierror.Unavailable.Wrap(err, "reading the poison queue: %v", err)
	}
	return c.JSON(fiber.Map{"messages": list})
}

func (a *API) poisonReplay(c *fiber.Ctx) error {
	var req struct {
		ID uint64 `json:"id"`
	}
	if err := decode(c, &req); err != nil {
		return err
	}
	if req.ID == 0 {
		e := apierror.MissingParam.With("id is required: the poisoned message's id from /gatehouse/poison")
		e.Param = "id"
		return e
	}
	if a.js == nil {
		return apierror.Unavailable.With("the poison queue is not available on this control plane")
	}
	p, err := events.ReplayPoison(c.UserContext(), a.js, req.ID)
	if errors.Is(err, events.ErrPoisonNotFound) {
		e := apierror.NotFound.With("no poisoned message with id %d", req.ID)
		e.Param = "id"
		return e
	}
	if errors.Is(err, events.ErrNotReplayable) {
		e := apierror.BadRequest.With("%v", err)
		e.Param = "id"
		return e
	}
	if err != nil {
		return apierror.Unavailable.Wrap(err, "replaying poisoned message %d: %v", req.ID, err)
	}
	a.log.Info("poisoned message replayed", "id", req.ID, "consumer", p.Consumer, "stream", p.Stream, "seq", p.Seq)
	return c.JSON(fiber.Map{"replayed": p})
}
