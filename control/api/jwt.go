package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/internal/httpx"
)

// JWTSettingsValidator checks settings sent to POST /jwt/settings with the
// config loader's rules.
type JWTSettingsValidator func(s *events.JWTSettings) error

func (a *API) jwtSettingsGet(c *fiber.Ctx) error {
	s := a.store.Snapshot().JWT()
	if s == nil {
		return c.JSON(fiber.Map{"enable_jwt_auth": false})
	}
	return c.JSON(s)
}

// jwtSettingsPut replaces the JWT settings. Edges apply the new settings
// with the next event: no restart.
func (a *API) jwtSettingsPut(c *fiber.Ctx) error {
	var s events.JWTSettings
	if err := decode(c, &s); err != nil {
		return err
	}
	if s.ID != "" && s.ID != events.JWTSettingsID {
		return httpx.Param("id", "must be %q or omitted", events.JWTSettingsID)
	}
	s.ID = events.JWTSettingsID
	s.Auth = s.Auth.WithDefaults()
	s.UpdatedAt = a.store.Now()
	if a.jwtValidator != nil {
		if err := a.jwtValidator(&s); err != nil {
			return apierror.BadRequest.With("%v", err)
		}
	}
	res, err := a.store.Mutate(c.UserContext(), who(c).actor(), events.KindJWTSettings, events.JWTSettingsID, func(any) (string, any, error) {
		return events.JWTSettingsUpserted, &s, nil
	})
	if err != nil {
		return err
	}
	return commit(c, res, &s)
}
