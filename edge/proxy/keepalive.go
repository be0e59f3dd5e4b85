package proxy

import (
	"bufio"
	"time"

	"github.com/gatehouse/gatehouse/policy"
)

// Silence in the middle of a stream. Two things must not wait for the
// next upstream chunk: ending a stream whose upstream hangs (streamIdle),
// and noticing that the client left, so the upstream stops generating for
// nobody. A client that closes its connection is only seen when the edge
// writes to it, so while the upstream is silent the edge writes an SSE
// comment (": keep-alive", ignored by SSE parsers) every StreamKeepAlive;
// a failed write aborts the upstream request. fasthttp copies the stream
// writer's output to the client through a pipe, so a write fails only
// once an earlier one hit the closed socket: a departed client is noticed
// about three StreamKeepAlive periods (3 s by default) into a silence,
// and within a few chunks while tokens flow. The wait happens inside the
// upstream connection's Read, in short slices, so fasthttp's body reader
// never sees a timeout it would treat as the end of the body.

// keepAliveComment is a complete SSE comment block.
const keepAliveComment = ": keep-alive\n\n"

// streamIdle bounds the upstream's silence between two chunks. A
// deployment's stream_timeout (else its timeout) bounds it as it bounds
// the wait for the first chunk, the way httpx's read timeout does for
// LiteLLM; the edge-wide StreamIdleTimeout applies only to deployments
// that set neither.
func (f *Forwarder) streamIdle(d *policy.Deployment) time.Duration {
	if d.StreamTimeout > 0 || d.Timeout > 0 {
		return f.timeout(d, true)
	}
	return f.opts.StreamIdleTimeout
}

// streamWatch is installed on the upstream connection for one read of a
// stream: until is the silence limit, probe runs every `every` before it.
type streamWatch struct {
	every time.Duration
	until time.Time
	probe func() error
}

// Read waits for upstream bytes; with a watch installed it waits in slices
// of w.every and runs the probe between them. The probe's error (the
// client left) ends the read; so does the real deadline.
func (c *tagConn) Read(p []byte) (int, error) {
	w := c.watch
	if w == nil {
		return c.Conn.Read(p)
	}
	for {
		next := time.Now().Add(w.every)
		if next.After(w.until) {
			next = w.until
		}
		_ = c.Conn.SetReadDeadline(next)
		n, err := c.Conn.Read(p)
		if n > 0 || err == nil || !isTimeout(err) || !time.Now().Before(w.until) {
			return n, err
		}
		if perr := w.probe(); perr != nil {
			return 0, perr
		}
	}
}

// armRead prepares the next upstream read of the stream: the silence
// limit, and the keep-alive probe unless part of an event was already
// written (a comment there would corrupt it).
func (s *sseStream) armRead(w *bufio.Writer, midEvent bool) {
	if s.conn == nil {
		return
	}
	until := time.Now().Add(s.idle)
	_ = s.conn.SetReadDeadline(until)
	if s.keepAlive <= 0 || midEvent {
		s.conn.watch = nil
		return
	}
	if s.watch.probe == nil {
		s.w = w
		s.watch = streamWatch{every: s.keepAlive, probe: s.probeClient}
	}
	s.watch.until = until
	s.conn.watch = &s.watch
}

// disarm removes the watch before the connection goes back to the pool.
func (s *sseStream) disarm() {
	if s.conn != nil {
		s.conn.watch = nil
	}
}

// probeClient writes a keep-alive comment; a failed write means the client
// is gone, which ends the stream as ErrClientGone.
func (s *sseStream) probeClient() error {
	if _, err := s.w.WriteString(keepAliveComment); err == nil {
		if err = s.w.Flush(); err == nil {
			return nil
		}
		s.gone = clientGone(err)
	} else {
		s.gone = clientGone(err)
	}
	return s.gone
}
