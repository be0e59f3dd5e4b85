// Package childproc owns how gatehouse's tests and load harness run other
// programs (gatehouse itself, NATS, ClickHouse, the OIDC provider, the
// mock upstream): start a binary with arguments and environment, send its
// output to a log, wait until it is ready, stop it, report how it ended.
//
// It guarantees that Stop always returns with the child reaped (SIGTERM,
// then SIGKILL after the grace period), that a readiness wait ends as soon
// as the child exits (with the tail of its log) instead of polling a dead
// process until the timeout, and that the exit status is kept for Err.
// It depends on the standard library and internal/backoff only, so the
// loadtest module can use it too.
package childproc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/internal/backoff"
)

// DefaultStopTimeout is how long Stop waits after SIGTERM before SIGKILL.
const DefaultStopTimeout = 10 * time.Second

// Spec says what to run.
type Spec struct {
	// Name labels the child in errors.
	Name string
	// Path is the binary; Args its arguments (without argv[0]).
	Path string
	Args []string
	// Env is added to this process's environment.
	Env []string
	// Dir is the working directory ("" : this process's).
	Dir string
	// Log receives stdout and stderr. LogFile, when set instead, is
	// appended to (and created if missing) and read back by Tail.
	Log     io.Writer
	LogFile string
	// Stdout, when set, receives stdout instead of Log (for a child that
	// announces readiness on it); Stdin is the child's stdin.
	Stdout io.Writer
	Stdin  io.Reader
	// SysProcAttr is passed to the child (e.g. a parent-death signal).
	SysProcAttr *syscall.SysProcAttr
	// StopTimeout is Stop's grace period (default DefaultStopTimeout).
	StopTimeout time.Duration
}

// Proc is a started child.
type Proc struct {
	Spec
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done is closed
}

// Start starts s.
func Start(s Spec) (*Proc, error) {
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = s.SysProcAttr
	cmd.Stdin = s.Stdin
	out := s.Log
	var f *os.File
	if s.LogFile != "" {
		var err error
		if f, err = os.OpenFile(s.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		out = f
	}
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if s.Stdout != nil {
		cmd.Stdout = s.Stdout
	}
	if err := cmd.Start(); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	p := &Proc{Spec: s, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if f != nil {
			f.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the child has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the child ended (nil: exit status 0); only meaningful once
// Done is closed.
func (p *Proc) Err() error {
	if !p.Exited() {
		return nil
	}
	return p.err
}

// Signal sends sig and waits, however long it takes, for the child to
// exit (SIGKILL for a crash that skips shutdown).
func (p *Proc) Signal(sig os.Signal) error {
	_ = p.cmd.Process.Signal(sig)
	<-p.done
	return p.err
}

// Stop sends SIGTERM, then SIGKILL if the child has not exited within
// StopTimeout, and returns how it ended. Safe to call repeatedly and on a
// nil Proc.
func (p *Proc) Stop() error {
	if p == nil {
		return nil
	}
	grace := p.StopTimeout
	if grace <= 0 {
		grace = DefaultStopTimeout
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// Tail returns the last n bytes of LogFile ("" without one).
func (p *Proc) Tail(n int) string {
	if p.LogFile == "" {
		return ""
	}
	b, _ := os.ReadFile(p.LogFile)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// WaitReady polls ready (with a backoff from 10ms to 250ms) until it
// returns nil, the child exits, or timeout passes. It does not stop the
// child.
func (p *Proc) WaitReady(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	b := backoff.Policy{Initial: 10 * time.Millisecond, Max: 250 * time.Millisecond}.Start()
	for {
		if p.Exited() {
			msg := fmt.Sprintf("%s exited before it was ready: %v", p.Name, p.err)
			if tail := p.Tail(4000); tail != "" {
				msg += "\n" + tail
			}
			return errors.New(msg)
		}
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", p.Name, timeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(b.Next()):
		}
	}
}

// HTTPReady is a readiness check: url answers 200.
func HTTPReady(url string) func() error {
	return func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %d", url, resp.StatusCode)
		}
		return nil
	}
}

// TCPReady is a readiness check: addr accepts connections.
func TCPReady(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// FreeAddr reserves a loopback host:port by listening and closing, for a
// child that is told its address (so the caller knows it up front). Another
// process may take it in between; callers that can retry should.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// FreePort is FreeAddr's port.
func FreePort() (int, error) {
	a, err := FreeAddr()
	if err != nil {
		return 0, err
	}
	_, port, _ := net.SplitHostPort(a)
	var n int
	_, err = fmt.Sscan(port, &n)
	return n, err
}

// LockedBuffer is a bytes.Buffer safe for a child's two output streams
// and a reader at once.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
