package events

// UpsertRequest asks for one object to be created if it is missing. A
// message is a JSON list of them.
type UpsertRequest struct {
	Kind      string `json:"kind"` // UpsertUser, UpsertTeam or UpsertTeamMember
	UserID    string `json:"user_id,omitempty"`
	UserEmail string `json:"user_email,omitempty"`
	TeamID    string `json:"team_id,omitempty"`
	// UserRole is the role UpsertUserRole sets.
	UserRole string `json:"user_role,omitempty"`
}

// Upsert kinds.
const (
	UpsertUser       = "user"
	UpsertTeam       = "team"
	UpsertTeamMember = "team_member"
	// UpsertUserRole sets an existing user's user_role, and
	// UpsertTeamMemberRemove removes a membership (sync_user_role_and_teams).
	UpsertUserRole         = "user_role"
	UpsertTeamMemberRemove = "team_member_remove"
)
