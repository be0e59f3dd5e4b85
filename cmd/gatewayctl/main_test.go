package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/cmd/internal/ctl"
)

// The built binary prints its help, listing every command, and exits 0;
// without a command it prints it to stderr and exits 2.
func TestBinaryHelp(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gatewayctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	for _, c := range ctl.Commands() {
		if !strings.Contains(string(out), c) {
			t.Errorf("help lacks %q", c)
		}
	}
	for _, w := range []string{"GATEWAY_URL", "GATEWAY_KEY", "--json"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("help lacks %q", w)
		}
	}
	cmd := exec.Command(bin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "usage: gatewayctl") {
		t.Fatalf("no command: %v, stderr %q", err, stderr.String())
	}
}
