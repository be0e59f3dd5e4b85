package gateway

import (
	"log/slog"

	"github.com/gatehouse/gatehouse/policy"
)

// envWarnings logs, once per deployment and reference, the os.environ/
// references this edge cannot resolve: at start (the first snapshot) and
// when a deployment is added, rather than only as a 500 on the first
// request. It runs on the policy applier, only when the models changed.
type envWarnings struct {
	// router is the routing table last checked: it is rebuilt exactly
	// when the deployments change, so an unchanged one needs no walk.
	router *policy.Catalog
	seen   map[string]bool
}

func (w *envWarnings) check(s *policy.Snapshot, log *slog.Logger) {
	if s.Catalog() == w.router {
		return
	}
	w.router = s.Catalog()
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	for _, line := range policy.MissingEnvWarnings(s, nil) {
		if !w.seen[line] {
			w.seen[line] = true
			log.Warn("model_list: " + line + " on this edge")
		}
	}
}
