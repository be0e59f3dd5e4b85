// Package debugserver serves net/http/pprof on a listener of its own, so
// operators and the fault/soak tests can read goroutine counts and heap
// profiles without exposing them on the public API port.
package debugserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Start listens on addr and serves /debug/pprof/ until ctx ends. An empty
// addr disables it (the default): profiles reveal internals and cost CPU,
// so they are opt-in and meant for a loopback or otherwise private
// address. It returns the bound address (useful with port 0).
func Start(ctx context.Context, addr string, log *slog.Logger) (string, error) {
	if addr == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("debug listener %s: %w", addr, err)
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && log != nil {
			log.Error("debug listener stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if log != nil {
		log.Info("debug listener (pprof) serving", "addr", ln.Addr().String())
	}
	return ln.Addr().String(), nil
}

// Handler is the pprof mux. It is its own mux, not http.DefaultServeMux
// (where the pprof package also registers itself), so the profiles are
// reachable only through this listener.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
