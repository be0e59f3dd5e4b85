package jwtauth

import (
	"strings"
	"testing"
	"time"
	"unsafe"
)

// A token handed over as a string aliasing a reused request buffer must
// not become whatever the buffer holds next: when the next request put a
// forged token of the same length there, it hit the cache as the verified
// one (seen as a flaky 200 for an attacker-signed token).
func TestCacheKeyOutlivesTheRequestBuffer(t *testing.T) {
	c := newTokenCache(100, time.Hour)
	now := time.Now()
	good := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ." + strings.Repeat("g", 342)
	forged := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdmMifQ." + strings.Repeat("A", 342)
	buf := []byte(good)
	c.put(unsafe.String(&buf[0], len(buf)), &Identity{}, now)
	copy(buf, forged) // the next request on the connection
	if c.get(forged, now) != nil {
		t.Fatal("a forged token hit the cache entry of a verified one")
	}
	if c.get(good, now) == nil {
		t.Fatal("the verified token is no longer cached")
	}
}
