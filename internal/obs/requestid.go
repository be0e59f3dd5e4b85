package obs

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
)

// RequestIDHeader carries a request's id: accepted from the client,
// returned on every response, sent upstream and to the control plane.
const RequestIDHeader = "X-Request-Id"

// MaxRequestIDLen bounds a client's request id.
const MaxRequestIDLen = 128

// ValidRequestID reports whether a client's x-request-id may be used: 1 to
// 128 bytes of letters, digits and - _ . : / + = @ (UUIDs, ULIDs, hex,
// base64, trace ids). Anything else (spaces, quotes, control characters,
// ';' or ',') is replaced by a generated id, so a client cannot forge log
// fields or smuggle header syntax upstream.
func ValidRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > MaxRequestIDLen {
		return false
	}
	for _, c := range id {
		if !idChar[c] {
			return false
		}
	}
	return true
}

var idChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-_.:/+=@" {
		t[c] = true
	}
	return t
}()

// ClientRequestID returns the client's x-request-id if it is valid, else
// nil. The bytes belong to the request: copy them to keep them.
func ClientRequestID(c *fiber.Ctx) []byte {
	if id := c.Request().Header.Peek(RequestIDHeader); ValidRequestID(id) {
		return id
	}
	return nil
}

// idPrefix makes generated ids unique across processes; the counter makes
// them unique within one, without a crypto/rand read per request.
var (
	idPrefix = func() (b [8]byte) {
		_, _ = rand.Read(b[:])
		return b
	}()
	idCounter atomic.Uint64
)

// NewRequestID is a gateway-generated id, 32 hex characters: 64 random bits
// fixed per process and a 64-bit counter, so unique per request (unlike a
// client's id, which a client may repeat). It is an id, not a secret.
func NewRequestID() string {
	var b [16]byte
	copy(b[:8], idPrefix[:])
	binary.BigEndian.PutUint64(b[8:], idCounter.Add(1))
	return hex.EncodeToString(b[:])
}

// ResponseRequestID returns the id already set on c's response, if any.
func ResponseRequestID(c *fiber.Ctx) []byte {
	return c.Response().Header.Peek(RequestIDHeader)
}

// EnsureRequestID sets the response's x-request-id unless a handler did:
// the client's valid id, else a generated one. It returns the id.
func EnsureRequestID(c *fiber.Ctx) []byte {
	if id := ResponseRequestID(c); len(id) > 0 {
		return id
	}
	if id := ClientRequestID(c); id != nil {
		c.Response().Header.SetBytesV(RequestIDHeader, id)
	} else {
		c.Response().Header.Set(RequestIDHeader, NewRequestID())
	}
	return ResponseRequestID(c)
}
