package config

import (
	"os"
	"strings"
)

// DemoMasterKey is the admin key `gatehouse run` falls back to when nothing
// else names one, so that the zero-config demo can be curled. It is
// public: it is never used by `gatehouse control`.
const DemoMasterKey = "sk-1234"

// EnvLiteLLMMasterKey is LiteLLM's fallback for general_settings.master_key.
const EnvLiteLLMMasterKey = "LITELLM_MASTER_KEY"

// Where a master key came from (MasterKeyChoice.From).
const (
	FromFlag        = "-master-key"
	FromEnv         = "MASTER_KEY"
	FromConfig      = "general_settings.master_key"
	FromLiteLLMEnv  = EnvLiteLLMMasterKey
	FromDemoDefault = "built-in demo key"
)

// MasterKeyChoice is the admin key in force and where it came from.
type MasterKeyChoice struct {
	Key  string
	From string // one of the From* constants; "" when there is no key
}

// ResolveMasterKey picks the admin key. gatehouse's own override comes
// first, then LiteLLM's order (proxy_server.py load_config:
// general_settings.master_key, else LITELLM_MASTER_KEY):
//
//  1. explicit, the -master-key flag or MASTER_KEY (from says which);
//  2. general_settings.master_key of f (a literal or os.environ/VAR);
//  3. LITELLM_MASTER_KEY;
//  4. demo, if not "" (`gatehouse run` only: DemoMasterKey).
//
// A config key that does not resolve (unset variable, no "sk-") is an
// error, never a reason to fall through to a weaker key. getenv nil is
// os.Getenv; f may be nil. The error never contains the key.
func ResolveMasterKey(f *File, explicit, from string, getenv func(string) string, demo string) (MasterKeyChoice, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if explicit != "" {
		return MasterKeyChoice{Key: explicit, From: from}, nil
	}
	if f != nil && f.GeneralSettings.MasterKey != "" {
		k, err := f.MasterKey(f.env(getenv))
		if err != nil {
			return MasterKeyChoice{}, err
		}
		return MasterKeyChoice{Key: k, From: FromConfig}, nil
	}
	if k := getenv(EnvLiteLLMMasterKey); k != "" {
		if !strings.HasPrefix(k, "sk-") {
			return MasterKeyChoice{}, &FieldError{Path: EnvLiteLLMMasterKey, Msg: `the value of LITELLM_MASTER_KEY must start with "sk-"`, bare: true}
		}
		return MasterKeyChoice{Key: k, From: FromLiteLLMEnv}, nil
	}
	if demo != "" {
		return MasterKeyChoice{Key: demo, From: FromDemoDefault}, nil
	}
	return MasterKeyChoice{}, nil
}

// Shown is the key as it may be printed: the demo key in full, any other
// key only by its first characters (sk-conf...), since banners and logs
// are read by more people than should hold the admin key.
func (c MasterKeyChoice) Shown() string {
	if c.From == FromDemoDefault {
		return c.Key
	}
	return MaskKey(c.Key)
}

// MaskKey keeps the first characters of a key: 7 of one of 12 or more,
// only "sk-" of a shorter one, so at least 5 characters are never shown.
func MaskKey(k string) string {
	n := 7
	if len(k) < 12 {
		n = min(3, len(k))
	}
	return k[:n] + "..."
}

// Describe says where the key came from, for a banner or a log line.
func (c MasterKeyChoice) Describe(configPath string) string {
	switch c.From {
	case FromFlag:
		return "from -master-key"
	case FromEnv:
		return "from the MASTER_KEY environment variable"
	case FromConfig:
		if configPath == "" {
			return "from general_settings.master_key"
		}
		return "from general_settings.master_key in " + configPath
	case FromLiteLLMEnv:
		return "from the LITELLM_MASTER_KEY environment variable (config.yaml sets no general_settings.master_key)"
	case FromDemoDefault:
		return "the built-in demo key: anyone who has read the README is admin; set general_settings.master_key, MASTER_KEY or -master-key"
	}
	return ""
}
