package security

import (
	"testing"
)

// TestSecurity starts one system and runs every attack against it, then
// searches everything the system wrote (logs, every stream, every
// ClickHouse table) for the secrets the attacks used.
func TestSecurity(t *testing.T) {
	s := startStack(t)
	t.Run("jwt", func(t *testing.T) { jwtAttacks(t, s) })
	t.Run("keys", func(t *testing.T) { keyAttacks(t, s) })
	t.Run("admin", func(t *testing.T) { adminMatrix(t, s) })
	t.Run("smuggling", func(t *testing.T) { smuggling(t, s) })
	t.Run("bodies", func(t *testing.T) { bodies(t, s) })
	attacks.summary(t)
}
