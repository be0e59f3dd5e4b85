package harness

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/childproc"
)

// TestNginx starts B2 as the harness does, in front of a stand-in
// upstream: it answers through both servers, its master and worker are
// counted as one proc, it writes its files into the work dir, and stop
// ends both.
func TestNginx(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		t.Skip("nginx not installed")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path)
	}))
	defer up.Close()
	s := &system{cfg: DefaultConfig(), work: t.TempDir()}
	s.mockFastAddr, s.mockPacedAddr = up.Listener.Addr().String(), up.Listener.Addr().String()
	for _, a := range []*string{&s.ngxFastAddr, &s.ngxPacedAddr} {
		if *a, err = childproc.FreeAddr(); err != nil {
			t.Fatal(err)
		}
	}
	args, err := s.nginxConfig()
	if err != nil {
		t.Fatal(err)
	}
	p, err := startProc("nginx", bin, s.work, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	s.nginx = p
	for _, paced := range []bool{false, true} {
		tg := s.target(B2, paced, false)
		if err := waitTCP(p, tg.Addr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := probe(tg); err != nil {
			t.Fatalf("paced=%v: %v\n%s", paced, err, p.tail())
		}
	}
	if got := s.procsOf(B2, false); len(got) != 1 || got[0] != p {
		t.Fatalf("procsOf(B2) = %v", got)
	}
	pids := p.pids()
	if len(pids) != 2 || pids[0] != p.Pid() {
		t.Fatalf("pids = %v, want the master %d and one worker", pids, p.Pid())
	}
	// Pinning moves the worker with the master.
	if err := p.setAffinity(context.Background(), "0"); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^Cpus_allowed_list:\s+0$`).Match(b) {
			t.Fatalf("pid %d not pinned to cpu 0:\n%s", pid, b)
		}
	}
	if rss, _ := p.rssKB(); rss <= 0 {
		t.Fatalf("rss = %d", rss)
	}
	for _, f := range []string{"nginx.conf", "nginx.pid", "nginx-client-body", "nginx-proxy"} {
		if _, err := os.Stat(s.work + "/" + f); err != nil {
			t.Error(err)
		}
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, p.tail())
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pids[1])); err == nil {
		t.Fatalf("worker %d still runs after stop", pids[1])
	}
}
