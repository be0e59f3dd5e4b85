package api

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// An id a create names is kept; a blank one is refused rather than
// replaced, so a client's bug does not create an object under a stranger id.
func TestChosenID(t *testing.T) {
	named := "team-1"
	if id, err := chosenID("team_id", &named); err != nil || id != named {
		t.Errorf("named: got %q, %v", id, err)
	}
	if id, err := chosenID("team_id", nil); err != nil || len(id) != 36 {
		t.Errorf("none: got %q, %v", id, err)
	}
	blank := " "
	_, err := chosenID("organization_id", &blank)
	if e, ok := err.(*apierror.Error); !ok || e.Status != 400 || e.Param != "organization_id" || e.Message != "organization_id: must not be empty" {
		t.Errorf("blank: got %v", err)
	}
}
