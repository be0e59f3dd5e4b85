package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/childproc"
	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestRunMasterKeyOrder starts the real `gatehouse run` and checks which
// key is admin: -master-key/MASTER_KEY, else general_settings.master_key,
// else LITELLM_MASTER_KEY (LiteLLM's order), else the demo key sk-1234;
// and that the banner says which one and where it came from, without
// printing a configured key in full.
func TestRunMasterKeyOrder(t *testing.T) {
	const mock = "model_list:\n  - model_name: mock\n    litellm_params:\n      model: openai/gpt-4o-mini\n      mock_response: hi\n"
	withKey := mock + "general_settings:\n  master_key: sk-config-key-0123\n"
	cases := []struct {
		name, config string
		env          []string
		admin        string   // gets 200
		refused      []string // get 401
		banner       string   // in the banner's master key line
	}{
		{"config key", withKey, nil, "sk-config-key-0123", []string{"sk-1234"}, "sk-conf... (from general_settings.master_key in "},
		{"LITELLM_MASTER_KEY", mock, []string{"LITELLM_MASTER_KEY=sk-litellm-env-0123"}, "sk-litellm-env-0123", []string{"sk-1234"},
			"sk-lite... (from the LITELLM_MASTER_KEY environment variable"},
		{"config key over LITELLM_MASTER_KEY", withKey, []string{"LITELLM_MASTER_KEY=sk-litellm-env-0123"}, "sk-config-key-0123",
			[]string{"sk-litellm-env-0123", "sk-1234"}, "sk-conf... (from general_settings.master_key"},
		{"MASTER_KEY over config", withKey, []string{"MASTER_KEY=" + masterKey}, masterKey, []string{"sk-config-key-0123", "sk-1234"},
			"sk-e2e-... (from the MASTER_KEY environment variable)"},
		{"demo key", mock, nil, "sk-1234", nil, "sk-1234 (the built-in demo key"},
		// The built-in example's master_key is os.environ/MASTER_KEY.
		{"built-in example", "", nil, "sk-1234", nil, "sk-1234 (the built-in demo key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			var cfgArgs []string
			if tc.config != "" {
				writeFile(t, cfg, tc.config)
				cfgArgs = []string{"-config", cfg}
			}
			edge := testutil.FreeAddr(t)
			env := append([]string{"MASTER_KEY=", "LITELLM_MASTER_KEY="}, tc.env...)
			log := &childproc.LockedBuffer{}
			p, err := childproc.Start(childproc.Spec{Name: "run", Path: binary, Env: env, Log: log,
				Args: append([]string{"run", "-data", dir, "-edge", edge, "-control", testutil.FreeAddr(t),
					"-nats-port", strconv.Itoa(testutil.FreePort(t)), "-clickhouse", ""}, cfgArgs...)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_ = p.Stop()
				if t.Failed() {
					t.Logf("--- run log ---\n%s", log.String())
				}
			})
			if err := p.WaitReady(30*time.Second, childproc.HTTPReady("http://"+edge+"/health/readiness")); err != nil {
				t.Fatal(err)
			}
			if code, body := callRaw(t, "GET", "http://"+edge+"/v1/models", tc.admin, nil); code != 200 {
				t.Errorf("%s: %d %s, want 200", tc.admin, code, body)
			}
			for _, k := range tc.refused {
				if code, _ := callRaw(t, "GET", "http://"+edge+"/v1/models", k, nil); code != 401 {
					t.Errorf("%s: %d, want 401", k, code)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(log.String(), "master key ") && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			out := log.String()
			if !strings.Contains(out, tc.banner) {
				t.Errorf("banner lacks %q", tc.banner)
			}
			if tc.admin != "sk-1234" && strings.Contains(out, tc.admin) {
				t.Errorf("the output prints the key %s in full", tc.admin)
			}
		})
	}
}

// TestControlMasterKeyFromConfig: `gatehouse control` without MASTER_KEY
// takes general_settings.master_key, else LITELLM_MASTER_KEY, as LiteLLM.
func TestControlMasterKeyFromConfig(t *testing.T) {
	const mock = "model_list:\n  - model_name: mock\n    litellm_params:\n      model: openai/gpt-4o-mini\n      mock_response: hi\n"
	for _, tc := range []struct {
		name, config, admin, other string
		env                        []string
	}{
		{"config", mock + "general_settings:\n  master_key: sk-config-key-0123\n", "sk-config-key-0123", "sk-litellm-env-0123",
			[]string{"LITELLM_MASTER_KEY=sk-litellm-env-0123"}},
		{"LITELLM_MASTER_KEY", mock, "sk-litellm-env-0123", "sk-1234", []string{"LITELLM_MASTER_KEY=sk-litellm-env-0123"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := testutil.RunJetStream(t)
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			writeFile(t, cfg, tc.config)
			env := append([]string{"MASTER_KEY="}, tc.env...)
			ctl := start(t, "control", env, "control", "-nats", ns.ClientURL(), "-listen", testutil.FreeAddr(t), "-config", cfg)
			if code, body := callRaw(t, "GET", ctl.url("/model/info"), tc.admin, nil); code != 200 {
				t.Errorf("%s: %d %s, want 200", tc.admin, code, body)
			}
			if code, _ := callRaw(t, "GET", ctl.url("/model/info"), tc.other, nil); code != 401 {
				t.Errorf("%s: %d, want 401", tc.other, code)
			}
			if strings.Contains(ctl.log.String(), tc.admin) {
				t.Errorf("control logs the key %s in full", tc.admin)
			}
		})
	}
}
