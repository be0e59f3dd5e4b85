package childproc

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the child: CHILDPROC_MODE picks what it does.
func TestMain(m *testing.M) {
	switch os.Getenv("CHILDPROC_MODE") {
	case "":
		os.Exit(m.Run())
	case "exit3":
		fmt.Println("about to fail")
		os.Exit(3)
	case "term": // exits 0 on SIGTERM
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		fmt.Println("waiting")
		<-ch
		os.Exit(0)
	case "stubborn": // ignores SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring")
		time.Sleep(time.Hour)
	case "http": // serves 200 on CHILDPROC_ADDR after a moment
		time.Sleep(50 * time.Millisecond)
		ln, err := net.Listen("tcp", os.Getenv("CHILDPROC_ADDR"))
		if err != nil {
			os.Exit(2)
		}
		_ = http.Serve(ln, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	}
	os.Exit(1)
}

func TestLifecycle(t *testing.T) {
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		mode     string
		ready    func() error
		readyErr string        // "" : ready
		stopErr  string        // "" : clean exit
		grace    time.Duration // StopTimeout: generous unless the kill is the point
		maxStop  time.Duration
	}{
		{"terminates on SIGTERM", "term", func() error { return nil }, "", "", 10 * time.Second, 10 * time.Second},
		{"killed after the grace period", "stubborn", func() error { return nil }, "", "signal: killed", 300 * time.Millisecond, 5 * time.Second},
		{"exit before ready reports status and log", "exit3", func() error { return errors.New("never") }, "exit status 3", "exit status 3", 10 * time.Second, time.Second},
		{"ready once HTTP answers", "http", HTTPReady("http://" + addr + "/"), "", "signal: terminated", 10 * time.Second, 10 * time.Second},
		{"readiness times out", "term", func() error { return errors.New("not yet") }, "not ready after", "", 10 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "child.log")
			p, err := Start(Spec{Name: tt.mode, Path: os.Args[0], Env: []string{"CHILDPROC_MODE=" + tt.mode, "CHILDPROC_ADDR=" + addr},
				LogFile: log, StopTimeout: tt.grace})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			err = p.WaitReady(time.Second, tt.ready)
			if tt.readyErr == "" && err != nil || tt.readyErr != "" && (err == nil || !strings.Contains(err.Error(), tt.readyErr)) {
				t.Fatalf("WaitReady = %v, want %q", err, tt.readyErr)
			}
			if tt.mode == "exit3" && !strings.Contains(err.Error(), "about to fail") {
				t.Fatalf("WaitReady error lacks the log tail: %v", err)
			}
			if tt.mode == "stubborn" || tt.mode == "term" {
				// Let the child install its signal handler before Stop.
				if err := p.WaitReady(5*time.Second, func() error {
					if p.Tail(100) == "" {
						return errors.New("no output yet")
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			t0 := time.Now()
			err = p.Stop()
			if el := time.Since(t0); el > tt.maxStop {
				t.Fatalf("Stop took %v", el)
			}
			if got := fmt.Sprint(err); tt.stopErr == "" && err != nil || tt.stopErr != "" && !strings.Contains(got, tt.stopErr) {
				t.Fatalf("Stop = %v, want %q", err, tt.stopErr)
			}
			if !p.Exited() || fmt.Sprint(p.Err()) != fmt.Sprint(err) {
				t.Fatalf("after Stop: Exited %v, Err %v", p.Exited(), p.Err())
			}
			if p.Stop() != err {
				t.Fatal("a second Stop reports differently")
			}
		})
	}
}

func TestSignalWaits(t *testing.T) {
	p, err := Start(Spec{Name: "stubborn", Path: os.Args[0], Env: []string{"CHILDPROC_MODE=stubborn"}})
	if err != nil {
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := p.Signal(syscall.SIGKILL); !errors.As(err, &ee) || !p.Exited() {
		t.Fatalf("Signal(SIGKILL) = %v, exited %v", err, p.Exited())
	}
}

func TestStartMissingBinary(t *testing.T) {
	if _, err := Start(Spec{Name: "nope", Path: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Fatal("started a binary that does not exist")
	}
}

func TestFreePort(t *testing.T) {
	p, err := FreePort()
	if err != nil || p <= 0 || p > 65535 {
		t.Fatalf("FreePort = %d, %v", p, err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("free port %d not bindable: %v", p, err)
	}
	ln.Close()
}
