package httpx

import (
	"bytes"
	"io"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/apierror"
)

// HeaderBufferSize is the servers' read buffer, which bounds the request
// line and headers together. fasthttp's default (4 KiB) refuses a real
// identity provider's token with many group claims (Entra ID tokens reach
// 5-8 KiB) with a 431 before the JWT verifier sees it; this fits a token
// of the verifier's own limit (verifier.MaxTokenSize, 16 KiB) plus
// ordinary headers, so that limit is the one that decides.
const HeaderBufferSize = 24 << 10

// maxDrain bounds how much of an oversized body is read and discarded so the
// client can finish sending and read our 413; past it the connection is
// closed instead (an abusive upload should not cost more than this).
const maxDrain = 64 << 20

// LimitBody refuses bodies over limit with a 413 envelope. The app must run
// with StreamRequestBody, so the body is not buffered before this check.
// Closing a connection while the client is still sending makes its kernel
// see a reset before it reads the response; draining (bounded, with a
// deadline) lets it read the 413, as Go's net/http server does.
func LimitBody(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		rc := c.Context()
		cl := rc.Request.Header.ContentLength()
		// -2: no Content-Length and not chunked, which for a request means
		// no body.
		if cl == -2 || (cl >= 0 && cl <= limit) {
			return c.Next()
		}
		stream := rc.RequestBodyStream()
		if cl == -1 && stream != nil { // chunked: read up to the limit to decide
			var buf bytes.Buffer
			n, err := io.Copy(&buf, io.LimitReader(stream, int64(limit)+1))
			if err != nil {
				return apierror.BadRequest.Wrap(err, "could not read request body")
			}
			if n <= int64(limit) {
				rc.Request.SetBody(buf.Bytes())
				return c.Next()
			}
		}
		if stream != nil && cl <= maxDrain {
			_ = rc.Conn().SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.Copy(io.Discard, io.LimitReader(stream, maxDrain))
		}
		c.Set(fiber.HeaderConnection, "close")
		return apierror.TooLarge.With("request body too large: the limit is %d bytes", limit)
	}
}
