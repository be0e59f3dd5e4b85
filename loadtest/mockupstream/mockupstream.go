// Package mockupstream is a fasthttp OpenAI-compatible mock upstream for load
// tests. It answers POST /v1/chat/completions (and /chat/completions) with a
// fixed chat.completion body, or with a paced SSE stream of chat.completion.chunk
// frames when the request asks for "stream": true, and POST /v1/embeddings
// (and /embeddings) with a fixed embedding list.
//
// The request body is never unmarshalled: the server only scans the raw bytes
// for `"stream"` and `"include_usage"` keys followed by a literal `true` (see
// jsonKeyTrue). This is deliberately cheap and can be fooled by those key
// names appearing inside string values; that is acceptable for a load-test mock.
package mockupstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Defaults: New applies DefaultChunks when Options.Chunks is 0.
const (
	DefaultChunks        = 64
	DefaultChunkInterval = 20 * time.Millisecond
)

// Options configures the mock upstream.
type Options struct {
	// Latency is a fixed delay before any response bytes are sent (0 = immediate).
	Latency time.Duration
	// Chunks is the number of content chunks per stream (0 = DefaultChunks).
	Chunks int
	// ChunkInterval is the pause before each content chunk; 0 (or negative)
	// means as fast as possible. DefaultChunkInterval (20ms) is what
	// DefaultOptions and the cmd/mockupstream flag use.
	ChunkInterval time.Duration
}

// DefaultOptions returns Options{Chunks: DefaultChunks, ChunkInterval: DefaultChunkInterval}.
func DefaultOptions() Options {
	return Options{Chunks: DefaultChunks, ChunkInterval: DefaultChunkInterval}
}

// Server is the mock upstream. Create it with New.
type Server struct {
	opts     Options
	srv      *fasthttp.Server
	requests atomic.Uint64
	streams  atomic.Uint64

	usageFrame []byte // depends on Chunks
}

// Fixed fake token counts used in usage blocks.
const (
	promptTokens     = 42
	completionTokens = 128 // non-stream only; stream reports Chunks
)

var (
	pathV1        = []byte("/v1/chat/completions")
	pathBare      = []byte("/chat/completions")
	keyStream     = []byte(`"stream"`)
	keyUsage      = []byte(`"include_usage"`)
	contentJSON   = []byte("application/json")
	contentSSE    = []byte("text/event-stream")
	noCache       = []byte("no-cache")
	hdrCacheCtl   = []byte("Cache-Control")
	contentFrame  = []byte(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock-model","choices":[{"index":0,"delta":{"content":"tok "},"finish_reason":null}]}` + "\n\n")
	finishFrame   = []byte(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	doneFrame     = []byte("data: [DONE]\n\n")
	nonStreamBody = buildNonStreamBody()
	pathEmbV1     = []byte("/v1/embeddings")
	pathEmbBare   = []byte("/embeddings")
	embeddingBody = buildEmbeddingBody()
)

// EmbeddingDimensions is the length of the mock's one embedding:
// text-embedding-3-small's, base64 encoded as OpenAI's clients ask by
// default (about 8 KiB).
const EmbeddingDimensions = 1536

// EmbeddingBody returns a copy of the fixed embeddings response body.
func EmbeddingBody() []byte { return append([]byte(nil), embeddingBody...) }

func buildEmbeddingBody() []byte {
	raw := make([]byte, 4*EmbeddingDimensions)
	for i := range EmbeddingDimensions {
		// Little-endian float32s of a small varying value.
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(i%97)/97-0.5))
	}
	return []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":"` + base64.StdEncoding.EncodeToString(raw) +
		`"}],"model":"text-embedding-3-small","usage":{"prompt_tokens":` + strconv.Itoa(promptTokens) +
		`,"total_tokens":` + strconv.Itoa(promptTokens) + `}}`)
}

// NonStreamBody returns a copy of the fixed non-stream response body.
func NonStreamBody() []byte { return append([]byte(nil), nonStreamBody...) }

func buildNonStreamBody() []byte {
	// ~880 bytes in total, padded via the assistant message content.
	content := strings.Repeat("This is a canned answer from the gatehouse mock upstream. ", 10)
	return []byte(`{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,` +
		`"model":"mock-model","system_fingerprint":"fp_mock",` +
		`"choices":[{"index":0,"message":{"role":"assistant","content":` + strconv.Quote(strings.TrimSpace(content)) + `},` +
		`"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":` + strconv.Itoa(promptTokens) +
		`,"completion_tokens":` + strconv.Itoa(completionTokens) +
		`,"total_tokens":` + strconv.Itoa(promptTokens+completionTokens) + `}}`)
}

// New returns a Server configured by o (zero fields get defaults).
func New(o Options) *Server {
	if o.Chunks <= 0 {
		o.Chunks = DefaultChunks
	}
	if o.ChunkInterval < 0 {
		o.ChunkInterval = 0
	}
	s := &Server{opts: o}
	s.usageFrame = []byte(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1700000000,"model":"mock-model","choices":[],` +
		`"usage":{"prompt_tokens":` + strconv.Itoa(promptTokens) +
		`,"completion_tokens":` + strconv.Itoa(o.Chunks) +
		`,"total_tokens":` + strconv.Itoa(promptTokens+o.Chunks) + "}}\n\n")
	s.srv = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "mockupstream",
		NoDefaultDate:                 true,
		DisableHeaderNamesNormalizing: true,
	}
	return s
}

// Options returns the effective options (after defaults).
func (s *Server) Options() Options { return s.opts }

// Serve serves requests on ln until Close is called.
func (s *Server) Serve(ln net.Listener) error { return s.srv.Serve(ln) }

// Close stops the server, waiting up to 2s for in-flight requests.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.ShutdownWithContext(ctx)
}

// Requests is the number of chat completion and embeddings requests
// handled.
func (s *Server) Requests() uint64 { return s.requests.Load() }

// Streams is the number of those requests that were streamed.
func (s *Server) Streams() uint64 { return s.streams.Load() }

func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	if bytes.Equal(path, pathEmbV1) || bytes.Equal(path, pathEmbBare) {
		if !ctx.IsPost() {
			ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
			return
		}
		s.requests.Add(1)
		if s.opts.Latency > 0 {
			time.Sleep(s.opts.Latency)
		}
		ctx.Response.Header.SetContentTypeBytes(contentJSON)
		ctx.Response.SetBodyRaw(embeddingBody)
		return
	}
	if !bytes.Equal(path, pathV1) && !bytes.Equal(path, pathBare) {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	if !ctx.IsPost() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	s.requests.Add(1)
	body := ctx.PostBody()
	stream := jsonKeyTrue(body, keyStream)
	includeUsage := stream && jsonKeyTrue(body, keyUsage)

	if s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}

	if !stream {
		ctx.Response.Header.SetContentTypeBytes(contentJSON)
		ctx.Response.SetBodyRaw(nonStreamBody)
		return
	}

	s.streams.Add(1)
	ctx.Response.Header.SetContentTypeBytes(contentSSE)
	ctx.Response.Header.SetBytesKV(hdrCacheCtl, noCache)
	chunks, interval, usage := s.opts.Chunks, s.opts.ChunkInterval, s.usageFrame
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		for i := 0; i < chunks; i++ {
			if interval > 0 {
				time.Sleep(interval)
			}
			w.Write(contentFrame) //nolint:errcheck // surfaced by Flush
			if w.Flush() != nil {
				return
			}
		}
		w.Write(finishFrame) //nolint:errcheck
		if includeUsage {
			w.Write(usage) //nolint:errcheck
		}
		w.Write(doneFrame) //nolint:errcheck
		w.Flush()          //nolint:errcheck
	})
}

// jsonKeyTrue reports whether body contains key (a quoted JSON key such as
// `"stream"`) followed by optional whitespace, ':', optional whitespace and the
// literal true. It is a byte scan, not a JSON parse.
func jsonKeyTrue(body, key []byte) bool {
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return false
		}
		body = body[i+len(key):]
		rest := skipWS(body)
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = skipWS(rest[1:])
		if bytes.HasPrefix(rest, []byte("true")) {
			return true
		}
	}
}

func skipWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
