package api

import "testing"

// sameMember is how team and org member_add and member_delete find a
// member: by id exactly, by email without regard to case.
func TestSameMember(t *testing.T) {
	for _, tc := range []struct {
		wantID, wantEmail, id, email string
		want                         bool
	}{
		{"u1", "", "u1", "a@x.com", true},
		{"u1", "", "u2", "a@x.com", false},
		{"", "A@X.com", "u2", "a@x.com", true},
		{"", "b@x.com", "u2", "a@x.com", false},
		{"u9", "a@x.com", "u2", "a@x.com", true},
		{"", "", "", "", false},
	} {
		if got := sameMember(tc.wantID, tc.wantEmail, tc.id, tc.email); got != tc.want {
			t.Errorf("sameMember(%q, %q, %q, %q) = %v", tc.wantID, tc.wantEmail, tc.id, tc.email, got)
		}
	}
}
