package proxy

import (
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// tagConn lets the forwarder find the connection behind a streamed
// response. fasthttp sets the request deadline on the connection and
// leaves it there while the body is streamed, which would cut every SSE
// stream at the time-to-first-byte timeout; fasthttp offers no handle to
// the connection, so the dialer tags it through its LocalAddr, which
// fasthttp copies into Response.LocalAddr.
type tagConn struct {
	net.Conn
	laddr *tagAddr
	// watch, while a stream reads from the connection, makes Read probe
	// the client during upstream silence (see keepalive.go).
	watch *streamWatch
}

// tagAddr is the connection's real local address plus a way back to it.
// It prints and compares like the address it wraps.
type tagAddr struct {
	net.Addr
	conn *tagConn
}

func (c *tagConn) LocalAddr() net.Addr { return c.laddr }

// responseConn returns the connection a streamed response is read from, or
// nil if it was not dialed by the forwarder.
func responseConn(resp *fasthttp.Response) *tagConn {
	if a, ok := resp.LocalAddr().(*tagAddr); ok {
		return a.conn
	}
	return nil
}

// dial is fasthttp's DialTimeout hook. timeout is what remains of the
// request's own timeout; the configured dial timeout caps it so a slow
// connect fails fast even when the request may take ten minutes.
func (f *Forwarder) dial(addr string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 || timeout > f.opts.DialTimeout {
		timeout = f.opts.DialTimeout
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := &tagConn{Conn: c}
	tc.laddr = &tagAddr{Addr: c.LocalAddr(), conn: tc}
	return tc, nil
}
