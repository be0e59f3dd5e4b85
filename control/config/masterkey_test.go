package config

import (
	"strings"
	"testing"
)

func TestResolveMasterKey(t *testing.T) {
	cfg := func(k string) *File { return &File{GeneralSettings: GeneralSettings{MasterKey: k}} }
	cases := []struct {
		name             string
		f                *File
		explicit, from   string
		env              map[string]string
		demo             string
		want, wantFrom   string
		wantErr, noLeaks string
	}{
		{"flag wins", cfg("sk-config"), "sk-flag", FromFlag, map[string]string{"LITELLM_MASTER_KEY": "sk-l"}, DemoMasterKey, "sk-flag", FromFlag, "", ""},
		{"MASTER_KEY wins", cfg("sk-config"), "sk-env", FromEnv, nil, DemoMasterKey, "sk-env", FromEnv, "", ""},
		{"config", cfg("sk-config"), "", "", map[string]string{"LITELLM_MASTER_KEY": "sk-l"}, DemoMasterKey, "sk-config", FromConfig, "", ""},
		{"config reference", cfg("os.environ/MK"), "", "", map[string]string{"MK": "sk-ref"}, "", "sk-ref", FromConfig, "", ""},
		{"config reference from environment_variables", &File{GeneralSettings: GeneralSettings{MasterKey: "os.environ/MK"}, EnvironmentVariables: map[string]string{"MK": "sk-file"}},
			"", "", nil, "", "sk-file", FromConfig, "", ""},
		{"LITELLM_MASTER_KEY", cfg(""), "", "", map[string]string{"LITELLM_MASTER_KEY": "sk-l"}, DemoMasterKey, "sk-l", FromLiteLLMEnv, "", ""},
		{"no file", nil, "", "", map[string]string{"LITELLM_MASTER_KEY": "sk-l"}, "", "sk-l", FromLiteLLMEnv, "", ""},
		{"demo for run", cfg(""), "", "", nil, DemoMasterKey, DemoMasterKey, FromDemoDefault, "", ""},
		{"none for control", cfg(""), "", "", nil, "", "", "", "", ""},
		// A config key that does not resolve stops the start: falling
		// through to LITELLM_MASTER_KEY or the public demo key would
		// make another key admin than the file says.
		{"config reference unset", cfg("os.environ/MK"), "", "", map[string]string{"LITELLM_MASTER_KEY": "sk-l"}, DemoMasterKey, "", "",
			"environment variable MK is not set", ""},
		{"config key without sk-", cfg("hunter2"), "", "", nil, DemoMasterKey, "", "", `must start with "sk-"`, "hunter2"},
		{"LITELLM_MASTER_KEY without sk-", cfg(""), "", "", map[string]string{"LITELLM_MASTER_KEY": "hunter2"}, DemoMasterKey, "", "",
			`LITELLM_MASTER_KEY must start with "sk-"`, "hunter2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveMasterKey(tc.f, tc.explicit, tc.from, func(k string) string { return tc.env[k] }, tc.demo)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if tc.noLeaks != "" && strings.Contains(err.Error(), tc.noLeaks) {
					t.Errorf("error leaks the key: %v", err)
				}
				return
			}
			if err != nil || got.Key != tc.want || got.From != tc.wantFrom {
				t.Errorf("got %+v, %v; want %q from %q", got, err, tc.want, tc.wantFrom)
			}
		})
	}
}

func TestMasterKeyShown(t *testing.T) {
	for _, tc := range []struct {
		c    MasterKeyChoice
		want string
	}{
		{MasterKeyChoice{Key: DemoMasterKey, From: FromDemoDefault}, "sk-1234"},
		{MasterKeyChoice{Key: "sk-1234", From: FromConfig}, "sk-..."},
		{MasterKeyChoice{Key: "sk-config-key", From: FromConfig}, "sk-conf..."},
		{MasterKeyChoice{Key: "sk-short", From: FromEnv}, "sk-..."},
	} {
		if got := tc.c.Shown(); got != tc.want {
			t.Errorf("%+v: Shown = %q, want %q", tc.c, got, tc.want)
		}
	}
}
