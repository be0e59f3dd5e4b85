package api

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// test_upsert_group_memberships_self_reference_rejected (BerriAI/litellm
// tests/test_litellm/proxy/auth/test_nested_access_groups_db.py): a group
// that names itself among its members is a 400 before anything is
// written; naming other groups is how groups nest (policy's
// TestLiteLLMNestedAccessGroups). The file's other cases are Prisma calls.
func TestLiteLLMAccessGroupSelfReference(t *testing.T) {
	for _, path := range []string{"/new", "/update"} {
		var got error
		app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error { got = err; return nil }})
		app.Post("/new", (&API{}).accessGroupPut(false))
		app.Post("/update", (&API{}).accessGroupPut(true))
		req := httptest.NewRequest("POST", path, strings.NewReader(`{"access_group_id":"A","models":["A","B"]}`))
		req.Header.Set("Content-Type", "application/json")
		if _, err := app.Test(req); err != nil {
			t.Fatal(err)
		}
		var e *apierror.Error
		if !errors.As(got, &e) || e.Status != 400 || e.Param != "models" || !strings.Contains(e.Message, `access group "A" cannot include itself`) {
			t.Errorf("%s: error = %#v", path, got)
		}
	}
}
