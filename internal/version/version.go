// Package version names the gatehouse build: what the edge answers as
// LiteLLM's x-litellm-version header.
package version

import (
	"runtime/debug"
	"sync"
)

// Version is set at link time (-ldflags "-X github.com/gatehouse/gatehouse/internal/version.Version=v1.2.3");
// unset, String reads the module version and VCS revision Go stamped
// into the binary.
var Version string

// String is the build's version, computed once: Version if set, else the
// main module's version ("v1.2.3", or a pseudo-version for a build from a
// checkout), else the VCS revision (12 hex digits, "+dirty" for a
// modified tree), else "dev".
var String = sync.OnceValue(func() string {
	if Version != "" {
		return Version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return fromBuildInfo(info)
})

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return "dev"
	}
	return rev[:min(12, len(rev))] + dirty
}
