package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/gatehouse/gatehouse/internal/apierror"
	"github.com/gatehouse/gatehouse/policy"
)

const (
	streamBufSize = 16 << 10
	// maxEventSize bounds how much of one SSE event is held back waiting
	// for its terminating blank line, so a hostile upstream cannot make the
	// edge buffer without limit. A bigger event is passed on in pieces;
	// real LLM events are a few KiB.
	maxEventSize = 1 << 20
)

var streamBufPool = sync.Pool{New: func() any { b := make([]byte, streamBufSize); return &b }}

// ErrClientGone reports that the client stopped reading a stream; the
// upstream connection was closed so the provider stops generating (and
// billing) for nobody.
var ErrClientGone = errors.New("client disconnected during the stream")

// sseStream copies one upstream SSE body to the client. It lives in the
// stream-writer goroutine and owns resp.
type sseStream struct {
	d     *policy.Deployment
	resp  *fasthttp.Response
	body  io.Reader
	conn  *tagConn
	idle  time.Duration
	done  func(Usage, error)
	bufp  *[]byte
	buf   []byte
	first int // bytes read by startStream
	// secrets are the deployment's credentials, redacted from every event
	// (an upstream's in-stream error can echo its key).
	secrets []string
	err     error // error that came with the first read (only io.EOF)
	sc      eventScanner
	// Client probing during upstream silence (keepalive.go).
	keepAlive time.Duration
	watch     streamWatch
	w         *bufio.Writer
	gone      error // set when a probe found the client gone

	// Accounting, set by openAI before the writer starts.
	start  time.Time // the call, for TTFT
	status int
	// strip removes include_usage's final chunk: the forwarder asked for
	// it, the client did not.
	strip bool
	// payload is the upstream request, kept for the prompt estimate of a
	// stream that ends without usage. It is the forwarder's own copy, not
	// the client's body, which is reused once the handler returns.
	payload []byte
	usage   Usage // reported counts and model, as far as seen
	usageOK bool  // the upstream reported usage
	chars   int64 // generated text received, for the estimate
	// progress is Call.Progress.
	progress func(chars int64)
	ttft     time.Duration
	// frames, if set, reads events that are not chat completion chunks
	// (Anthropic's, the Responses API's) in place of inspectFrame.
	frames frameReader
}

// frameReader reads the accounting out of one event of a stream in
// another API's shape. It may return the event rewritten (the Responses
// API's ids), else nil.
type frameReader interface {
	read(ev []byte) (fi frameInfo, rewritten []byte)
}

// startStream reads the first upstream bytes while the handler still runs.
// That is what makes stream_timeout a time-to-first-byte limit (the
// request deadline still applies to this read), and a failure here can
// still be answered with a proper status instead of a broken stream.
func (f *Forwarder) startStream(d *policy.Deployment, resp *fasthttp.Response, done func(Usage, error)) (*sseStream, error) {
	body := resp.BodyStream()
	if body == nil {
		body = bytesReader(resp.Body())
	}
	bufp := streamBufPool.Get().(*[]byte)
	s := &sseStream{d: d, resp: resp, body: body, conn: responseConn(resp), idle: f.streamIdle(d),
		keepAlive: f.opts.StreamKeepAlive, done: done, bufp: bufp, buf: *bufp, secrets: secretsOf(d)}
	var n int
	var err error
	for range 100 { // a Reader may return 0, nil; do not spin forever
		if n, err = body.Read(s.buf); n > 0 || err != nil {
			break
		}
	}
	if err != nil && err != io.EOF {
		streamBufPool.Put(bufp)
		return nil, streamError(d, err)
	}
	s.first, s.err = n, err
	return s, nil
}

// run is the fasthttp StreamWriter. It flushes after every complete event,
// so each token reaches the client as soon as the upstream produced it,
// and holds back partial events so a failure can end the stream with a
// well-formed error event instead of half a JSON object.
func (s *sseStream) run(w *bufio.Writer) {
	err := s.copy(w)
	if s.gone != nil {
		err = s.gone // however the body reader reported the probe's error
	}
	s.disarm()
	if err != nil && !errors.Is(err, ErrClientGone) {
		writeErrorEvent(w, streamError(s.d, err))
	}
	// Unread body: closes the upstream connection, aborting the upstream
	// request. Fully read: returns the connection to the pool.
	_ = s.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(s.resp)
	// The pooled buffer is free even if copy outgrew it.
	streamBufPool.Put(s.bufp)
	s.resp, s.body, s.buf, s.bufp = nil, nil, nil, nil
	if s.done != nil {
		s.done(s.result(err), err)
	}
	s.payload = nil
}

// observe reads the accounting out of one complete event and reports
// what of it the client must not see (see strip) and whether it carries
// generated text. With strip, the usage chunk is dropped (drop) and a
// "usage":null member is cut out (ev[cutStart:cutEnd]).
func (s *sseStream) observe(ev []byte) (out []byte, drop bool, cutStart, cutEnd int, text bool) {
	out = ev
	var fi frameInfo
	if s.frames != nil {
		var re []byte
		if fi, re = s.frames.read(ev); re != nil {
			out = re
		}
	} else {
		fi = inspectFrame(ev)
	}
	if fi.hasUsage {
		s.usage.set(fi.tokens)
		s.usageOK = true
	}
	// Kept from the first event that has them (OpenAI's first chunk
	// carries both), so this allocates once per stream.
	if s.usage.Model != "" {
		fi.model = nil
	}
	if s.usage.ID != "" {
		fi.id = nil
	}
	if len(fi.model) > 0 || len(fi.id) > 0 {
		model, id := modelAndID(fi.model, fi.id)
		if model != "" {
			s.usage.Model = model
		}
		if id != "" {
			s.usage.ID = id
		}
	}
	s.chars += fi.chars
	if fi.chars > 0 && s.progress != nil {
		s.progress(s.chars)
	}
	if !s.strip {
		return out, false, 0, 0, fi.chars > 0
	}
	return out, fi.usageOnly, fi.cutStart, fi.cutEnd, fi.chars > 0
}

// writeEvent writes ev without ev[cutStart:cutEnd] and without secrets,
// and flushes it.
func writeEvent(w *bufio.Writer, ev []byte, cutStart, cutEnd int, secrets []string) error {
	for _, sec := range secrets {
		if secretIndex(ev, sec) >= 0 { // rare: take the copying path
			if cutEnd > cutStart {
				ev = append(append([]byte{}, ev[:cutStart]...), ev[cutEnd:]...)
				cutStart, cutEnd = 0, 0
			}
			ev = redactSecrets(ev, secrets)
			break
		}
	}
	if cutEnd > cutStart {
		if _, err := w.Write(ev[:cutStart]); err != nil {
			return err
		}
		ev = ev[cutEnd:]
	}
	if _, err := w.Write(ev); err != nil {
		return err
	}
	return w.Flush()
}

// observeRest counts the complete events left in b after the client went
// away: the upstream generated (and bills) them even though nobody got
// them.
func (s *sseStream) observeRest(b []byte) {
	start := 0
	for i := range b {
		if s.sc.step(b[i]) {
			_, _, _, _, _ = s.observe(b[start : i+1])
			start = i + 1
		}
	}
}

// result is the stream's Usage: the upstream's counts if it reported
// them, else estimated from what it sent so far.
func (s *sseStream) result(err error) Usage {
	u := s.usage
	u.Status, u.Outcome, u.TTFT, u.UpstreamStatus = s.status, outcomeOf(err), s.ttft, s.status
	u.ID = redactID(u.ID, s.d)
	if !s.usageOK {
		u.Estimated = true
		u.PromptTokens = EstimateTokens(promptChars(s.payload))
		u.CompletionTokens = EstimateTokens(s.chars)
		u.TotalTokens = u.PromptTokens + u.CompletionTokens
	}
	return u
}

func (s *sseStream) copy(w *bufio.Writer) error {
	filled := 0 // bytes in buf: a partial event, already scanned
	m, rerr := s.first, s.err
	spilled := false // part of the current event was written already
	for {
		end := filled + m
		start := 0
		for i := filled; i < end; i++ {
			if !s.sc.step(s.buf[i]) {
				continue
			}
			// The tail of an event too big to hold is passed on unread.
			ev := s.buf[start : i+1]
			drop, cs, ce, text := false, 0, 0, false
			if !spilled {
				ev, drop, cs, ce, text = s.observe(ev)
			}
			if !drop {
				if err := writeEvent(w, ev, cs, ce, s.secrets); err != nil {
					s.observeRest(s.buf[i+1 : end])
					return clientGone(err)
				}
				if text && s.ttft == 0 {
					s.ttft = time.Since(s.start)
				}
			}
			start, spilled = i+1, false
		}
		filled = copy(s.buf, s.buf[start:end])
		if rerr == io.EOF {
			// An upstream that ends without a final blank line still
			// meant its last bytes; pass them on.
			if filled > 0 {
				ev, drop, cs, ce := s.buf[:filled], false, 0, 0
				if !spilled {
					ev, drop, cs, ce, _ = s.observe(ev)
				}
				if !drop {
					if err := writeEvent(w, ev, cs, ce, s.secrets); err != nil {
						return clientGone(err)
					}
				}
			}
			return nil
		}
		if rerr != nil {
			// A held-back partial event is dropped; one already partly
			// written is terminated so the error event parses on its own.
			if spilled {
				_, _ = w.WriteString("\n\n")
			}
			return rerr
		}
		if filled == len(s.buf) {
			if len(s.buf) < maxEventSize {
				nb := make([]byte, 2*len(s.buf))
				copy(nb, s.buf[:filled])
				s.buf = nb
			} else {
				if _, err := w.Write(s.buf[:filled]); err != nil {
					return clientGone(err)
				}
				filled, spilled = 0, true
			}
		}
		// Replaces the request deadline fasthttp left on the connection:
		// from now on only silence ends the stream.
		s.armRead(w, spilled)
		m, rerr = s.body.Read(s.buf[filled:])
	}
}

func clientGone(err error) error { return fmt.Errorf("%w: %w", ErrClientGone, err) }

// writeErrorEvent ends a broken stream the way LiteLLM does, with an error
// object in a data event, so SDKs raise instead of treating the truncated
// answer as complete. There is no [DONE] after it for the same reason.
func writeErrorEvent(w *bufio.Writer, e *apierror.Error) {
	_, _ = w.WriteString("data: ")
	_, _ = w.Write(e.JSON())
	_, _ = w.WriteString("\n\n")
	_ = w.Flush()
}

// eventScanner finds the blank lines that end SSE events, across reads.
// SSE allows \n, \r\n and \r line endings. A \r\n\r\n boundary is reported
// at the second \r; the trailing \n then starts the next write, which SSE
// parsers treat as an empty line.
type eventScanner struct {
	lineStart bool // the previous byte ended a line
	afterCR   bool // the previous byte was \r
}

// step consumes one byte and reports whether it ends an event.
func (s *eventScanner) step(c byte) bool {
	switch c {
	case '\n':
		if s.afterCR {
			s.afterCR = false
			return false
		}
		end := s.lineStart
		s.lineStart = true
		return end
	case '\r':
		end := s.lineStart
		s.lineStart, s.afterCR = true, true
		return end
	}
	s.lineStart, s.afterCR = false, false
	return false
}

type sliceReader struct{ b []byte }

func bytesReader(b []byte) io.Reader { return &sliceReader{b: b} }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
