package httpx

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
)

// HeaderBufferSize is the servers' read buffer, which bounds the request
// line and headers together. fasthttp's default (4 KiB) refuses a real
// identity provider's token with many group claims (Entra ID tokens reach
// 5-8 KiB) with a 431 before the JWT verifier sees it; this fits a token
// of the verifier's own limit (verifier.MaxTokenSize, 16 KiB) plus
// ordinary headers, so that limit is the one that decides.
const HeaderBufferSize = 24 << 10

// readTimeout bounds how long a client may take to send one request.
const readTimeout = 60 * time.Second

// ServerConfig is the HTTP server settings the edge and the control plane
// share (and the benchmark's Fiber floor, loadtest/baseline -fiber, so it
// measures the framework as the gateway runs it): bodies are streamed so
// LimitBody can refuse an oversized one cleanly (handlers still see the
// whole body via c.Body()), headers get HeaderBufferSize, and the read
// timeout bounds reading a request, not answering it (streams run for
// minutes), so a client that trickles its request cannot hold a
// connection for ever. errorHandler renders every error (nil: Fiber's).
func ServerConfig(name string, bodyLimit int, errorHandler fiber.ErrorHandler) fiber.Config {
	return fiber.Config{
		AppName:               name,
		DisableStartupMessage: true,
		BodyLimit:             bodyLimit,
		ReadBufferSize:        HeaderBufferSize,
		StreamRequestBody:     true,
		ErrorHandler:          errorHandler,
		ReadTimeout:           readTimeout,
		IdleTimeout:           120 * time.Second,
		JSONEncoder:           json.Marshal,
		JSONDecoder:           json.Unmarshal,
	}
}

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
			if err := decodeBody(rc, limit); err != nil {
				return err
			}
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
				if err := decodeBody(rc, limit); err != nil {
					return err
				}
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

// maxCodings bounds how many content codings one body may stack.
const maxCodings = 3

// decodeBody undoes the request's Content-Encoding with the same limit as
// the body itself, then drops the header. Fiber's c.Body() would
// otherwise decompress it again without any bound: a 100 KiB gzip is
// 100 MiB of JSON, past every limit. Every Content-Encoding header counts
// (Fiber reads the last one); codings other than gzip and deflate are
// refused, as no OpenAI client sends them.
func decodeBody(rc *fasthttp.RequestCtx, limit int) error {
	var codings []string
	rc.Request.Header.VisitAll(func(k, v []byte) {
		if !strings.EqualFold(string(k), fiber.HeaderContentEncoding) {
			return
		}
		for _, cd := range strings.Split(string(v), ",") {
			if cd = strings.ToLower(strings.TrimSpace(cd)); cd != "" && cd != "identity" {
				codings = append(codings, cd)
			}
		}
	})
	if len(codings) == 0 {
		rc.Request.Header.Del(fiber.HeaderContentEncoding)
		return nil
	}
	if len(codings) > maxCodings {
		return apierror.BadEncoding.With("request body has %d content codings; at most %d are accepted", len(codings), maxCodings)
	}
	body := rc.Request.Body()
	// Codings are listed in the order they were applied: undo the last first.
	for i := len(codings) - 1; i >= 0; i-- {
		var (
			r   io.Reader
			err error
		)
		switch codings[i] {
		case "gzip", "x-gzip":
			r, err = gzip.NewReader(bytes.NewReader(body))
		case "deflate": // HTTP's deflate is the zlib format
			r, err = zlib.NewReader(bytes.NewReader(body))
		default:
			return apierror.BadEncoding.With("request Content-Encoding %q is not supported; send the body uncompressed, gzip or deflate", codings[i])
		}
		if err != nil {
			return apierror.BadRequest.Wrap(err, "request body is not valid %s: %v", codings[i], err)
		}
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(r, int64(limit)+1))
		if n > int64(limit) {
			return apierror.TooLarge.With("request body too large once decompressed: the limit is %d bytes", limit)
		}
		if err != nil {
			return apierror.BadRequest.Wrap(err, "request body is not valid %s: %v", codings[i], err)
		}
		body = buf.Bytes()
	}
	rc.Request.SetBody(body)
	rc.Request.Header.Del(fiber.HeaderContentEncoding)
	return nil
}
