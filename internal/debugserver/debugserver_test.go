package debugserver

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestStartServesGoroutineProfile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := Start(ctx, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "goroutine profile: total ") {
		t.Fatalf("%d %.80s", resp.StatusCode, b)
	}
}

func TestEmptyAddrDisabled(t *testing.T) {
	addr, err := Start(context.Background(), "", nil)
	if addr != "" || err != nil {
		t.Fatalf("%q %v", addr, err)
	}
}
