// Package chtest runs a private ClickHouse server for a test: its own
// process, free ports on 127.0.0.1, data and logs under t.TempDir(), stopped
// when the test ends. Tests that need ClickHouse should fail, not skip,
// when the server binary is missing: CI must run them (`make test-deps`
// installs it).
//
// The server is whatever the machine has: Debian's clickhouse-server
// (18.16, ancient) or a current release (`clickhouse server`). The
// generated config sticks to settings both understand.
package chtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/gatehouse/gatehouse/internal/childproc"
)

const (
	startTimeout = 30 * time.Second
	// A server with open client connections can take a long time to stop
	// on SIGTERM; after this it gets SIGKILL, which MergeTree survives.
	stopTimeout = 2 * time.Second
)

// Server is a private clickhouse-server process (running or stopped).
type Server struct {
	dir      string
	tcpPort  int
	httpPort int
	bin      []string // argv prefix: {"/usr/sbin/clickhouse-server"} or {"/usr/bin/clickhouse", "server"}
	extra    string   // more top-level config elements (a cluster member's)

	mu   sync.Mutex
	proc *childproc.Proc
}

// Binary returns the argv prefix that runs a ClickHouse server, or an error
// saying how to install one.
func Binary() ([]string, error) {
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	// Debian's package puts it in /usr/sbin, which is not on a normal
	// user's PATH.
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/local/sbin/clickhouse-server"} {
		if isExec(p) {
			return []string{p}, nil
		}
	}
	// Official packages ship one multi-call binary.
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	for _, p := range []string{"/usr/bin/clickhouse", "/usr/local/bin/clickhouse"} {
		if isExec(p) {
			return []string{p, "server"}, nil
		}
	}
	return nil, errors.New("chtest: no ClickHouse server found (clickhouse-server on PATH, /usr/sbin/clickhouse-server or /usr/bin/clickhouse); " +
		"run `make test-deps` (scripts/clickhouse.sh install) to install it")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start starts a private server and stops it when the test ends (its error
// log is printed if the test failed). It fails the test if no server can be
// started.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, bin)
	// A free port found by listening on :0 can be taken by someone else
	// before the server binds it; try a few times.
	var lastErr error
	for range 3 {
		if s.tcpPort, err = childproc.FreePort(); err != nil {
			t.Fatal(err)
		}
		if s.httpPort, err = childproc.FreePort(); err != nil {
			t.Fatal(err)
		}
		if err := s.writeConfig(); err != nil {
			t.Fatal(err)
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("chtest: start %s: %v\nerror log:\n%s", strings.Join(bin, " "), lastErr, s.ErrLog())
	return nil
}

// newServer is a stopped server with its own directory, killed when the
// test ends.
func newServer(t testing.TB, bin []string) *Server {
	s := &Server{dir: t.TempDir(), bin: bin}
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("chtest: server %s error log:\n%s", s.Addr(), s.ErrLog())
		}
	})
	return s
}

// Addr is host:port of the native protocol.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.tcpPort) }

// Dir is the server's directory (config, data, logs).
func (s *Server) Dir() string { return s.dir }

// ErrLog returns the tail of the server's error log.
func (s *Server) ErrLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "log", "clickhouse-server.err.log"))
	if len(b) > 16<<10 {
		b = b[len(b)-16<<10:]
	}
	out, _ := os.ReadFile(filepath.Join(s.dir, "log", "stdout.log"))
	if len(out) > 4<<10 {
		out = out[len(out)-4<<10:]
	}
	return string(b) + string(out)
}

// Stop stops the server (SIGTERM, then SIGKILL after stopTimeout), to
// simulate an outage; Restart brings it back. Safe to call repeatedly.
func (s *Server) Stop() { s.stop(syscall.SIGTERM) }

// Kill stops the server with SIGKILL at once, like a crash (written parts
// survive: they are in the page cache). Restart brings it back.
func (s *Server) Kill() { s.stop(syscall.SIGKILL) }

func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	proc := s.proc
	s.proc = nil
	s.mu.Unlock()
	if proc == nil {
		return
	}
	if sig == syscall.SIGKILL {
		_ = proc.Signal(sig)
		return
	}
	_ = proc.Stop()
}

// Restart starts the server again on the same port with the same data; a
// running server is stopped first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("chtest: restart on %s: %v\nerror log:\n%s", s.Addr(), err, s.ErrLog())
	}
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && !s.proc.Exited()
}

// Options are the client options Conn uses, for callers that open their
// own connections.
func (s *Server) Options() *clickhouse.Options {
	return &clickhouse.Options{
		Addr:        []string{s.Addr()},
		Protocol:    clickhouse.Native,
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		DialTimeout: 2 * time.Second,
		ReadTimeout: 30 * time.Second,
		Compression: &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	}
}

// Conn opens a native-protocol connection pool to the server, closed when
// the test ends. It survives Stop/Restart: broken connections are replaced.
func (s *Server) Conn(t testing.TB) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(s.Options())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	logDir := filepath.Join(s.dir, "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	args := append(append([]string{}, s.bin[1:]...), "--config-file="+filepath.Join(s.dir, "config.xml"))
	proc, err := childproc.Start(childproc.Spec{Name: "clickhouse-server", Path: s.bin[0], Args: args, Dir: s.dir,
		LogFile: filepath.Join(logDir, "stdout.log"), SysProcAttr: sysProcAttr(), StopTimeout: stopTimeout})
	if err != nil {
		return err
	}
	if err := proc.WaitReady(startTimeout, func() error { return ping(s.Addr()) }); err != nil {
		_ = proc.Signal(syscall.SIGKILL)
		return err
	}
	s.proc = proc
	return nil
}

// ping opens a fresh connection and runs SELECT 1.
func ping(addr string) error {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 2 * time.Second,
	})
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var one uint8
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// The root element is <yandex>, which 18.16 requires and current releases
// still accept (they read the config without looking at the root's name).
// No interserver port (but in a cluster, see StartCluster): without one
// the server opens none.
func (s *Server) writeConfig() error {
	for _, d := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			return err
		}
	}
	p := func(sub string) string { return filepath.Join(s.dir, sub) + "/" }
	var cfg bytes.Buffer
	fmt.Fprintf(&cfg, `<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>%s</log>
        <errorlog>%s</errorlog>
        <size>100M</size>
        <count>1</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%d</tcp_port>
    <http_port>%d</http_port>
    <path>%s</path>
    <tmp_path>%s</tmp_path>
    <user_files_path>%s</user_files_path>
    <format_schema_path>%s</format_schema_path>
    <users_config>%s</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mlock_executable>false</mlock_executable>
%s</yandex>
`, filepath.Join(s.dir, "log", "clickhouse-server.log"), filepath.Join(s.dir, "log", "clickhouse-server.err.log"),
		s.tcpPort, s.httpPort, p("data"), p("tmp"), p("user_files"), p("format_schemas"),
		filepath.Join(s.dir, "users.xml"), s.extra)
	users := `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(s.dir, "config.xml"), cfg.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "users.xml"), []byte(users), 0o644)
}
