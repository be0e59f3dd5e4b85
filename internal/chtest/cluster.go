package chtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/childproc"
)

// ClusterName is the remote_servers name of a StartCluster cluster.
const ClusterName = "ledger"

// zooKeeperJar is Debian's zookeeper package (pulled in by zookeeperd);
// its manifest names the libraries it needs.
const zooKeeperJar = "/usr/share/java/zookeeper.jar"

// ZooKeeperBinary returns the argv prefix that runs a standalone
// ZooKeeper server (append port and data directory), or an error saying
// how to install one.
func ZooKeeperBinary() ([]string, error) {
	java, err := exec.LookPath("java")
	if err != nil || !isFile(zooKeeperJar) {
		return nil, errors.New("chtest: no ZooKeeper (java and " + zooKeeperJar + "); run `make test-deps` (apt-get install zookeeperd)")
	}
	// No admin HTTP server: it would take port 8080.
	return []string{java, "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.4lw.commands.whitelist=srvr", "-Xmx256m", "-cp", zooKeeperJar,
		"org.apache.zookeeper.server.ZooKeeperServerMain"}, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Cluster is a ZooKeeper and one ClickHouse server per shard (one
// replica each), all private to a test, in remote_servers as ClusterName.
type Cluster struct {
	Shards []*Server
	ZK     string // host:port
}

// StartCluster starts ZooKeeper and shards ClickHouse servers that form
// ClusterName, with macros {shard} (01, 02, ...) and {replica}, an
// interserver port each and distributed DDL (ON CLUSTER) through
// ZooKeeper. It skips the test, saying why, when ZooKeeper or ClickHouse
// is not installed (`make test-deps` installs both).
func StartCluster(t testing.TB, shards int) *Cluster {
	t.Helper()
	zkBin, err := ZooKeeperBinary()
	if err != nil {
		t.Skip(err)
	}
	chBin, err := Binary()
	if err != nil {
		t.Skip(err)
	}
	c := &Cluster{ZK: startZooKeeper(t, zkBin)}
	for range shards {
		s := newServer(t, chBin)
		if s.tcpPort, err = childproc.FreePort(); err != nil {
			t.Fatal(err)
		}
		if s.httpPort, err = childproc.FreePort(); err != nil {
			t.Fatal(err)
		}
		c.Shards = append(c.Shards, s)
	}
	var remote strings.Builder
	for _, s := range c.Shards {
		fmt.Fprintf(&remote, `            <shard><internal_replication>true</internal_replication>
                <replica><host>127.0.0.1</host><port>%d</port></replica></shard>
`, s.tcpPort)
	}
	zkHost, zkPort, _ := strings.Cut(c.ZK, ":")
	for i, s := range c.Shards {
		inter, err := childproc.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s.extra = fmt.Sprintf(`    <interserver_http_host>127.0.0.1</interserver_http_host>
    <interserver_http_port>%d</interserver_http_port>
    <remote_servers>
        <%s>
%s        </%s>
    </remote_servers>
    <zookeeper>
        <node><host>%s</host><port>%s</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <macros>
        <shard>%02d</shard>
        <replica>r1</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
`, inter, ClusterName, remote.String(), ClusterName, zkHost, zkPort, i+1)
		if err := s.writeConfig(); err != nil {
			t.Fatal(err)
		}
	}
	// Started together: a slow start-up (a loaded machine) is paid once.
	errs := make(chan error, len(c.Shards))
	for _, s := range c.Shards {
		go func() { errs <- s.start() }()
	}
	for range c.Shards {
		if err := <-errs; err != nil {
			t.Fatalf("chtest: start cluster member: %v", err)
		}
	}
	// 18.16 crashes (SIGSEGV in ZooKeeper::createImpl) on an ON CLUSTER
	// query sent before its ZooKeeper session is up: wait for it.
	for _, s := range c.Shards {
		conn := s.Conn(t)
		if err := s.proc.WaitReady(startTimeout, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var n uint64
			return conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n)
		}); err != nil {
			t.Fatalf("chtest: %s has no ZooKeeper session: %v\n%s", s.Addr(), err, s.ErrLog())
		}
	}
	return c
}

// startZooKeeper runs a standalone ZooKeeper on a free port with its data
// under t.TempDir(), stopped when the test ends, and returns its address.
func startZooKeeper(t testing.TB, bin []string) string {
	t.Helper()
	dir := t.TempDir()
	port, err := childproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := append(append([]string{}, bin[1:]...), strconv.Itoa(port), filepath.Join(dir, "data"))
	proc, err := childproc.Start(childproc.Spec{Name: "zookeeper", Path: bin[0], Args: args, Dir: dir,
		LogFile: filepath.Join(dir, "zookeeper.log"), SysProcAttr: sysProcAttr(), StopTimeout: stopTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Stop() })
	// Serving, not just listening: "srvr" says "not currently serving
	// requests" until the server has loaded its data.
	if err := proc.WaitReady(60*time.Second, func() error { return zkServing(addr) }); err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return addr
}

// zkServing asks ZooKeeper's four-letter "srvr" whether it serves.
func zkServing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return err
	}
	b, _ := io.ReadAll(c)
	if !strings.Contains(string(b), "Mode:") {
		return fmt.Errorf("zookeeper %s not serving: %q", addr, b)
	}
	return nil
}
