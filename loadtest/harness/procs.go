package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/childproc"
)

// build compiles the binaries the harness runs into dir.
func build(ctx context.Context, root, dir string) (map[string]string, error) {
	// The product and the load-test tools are separate modules: each is
	// built from its own module root.
	bins := map[string][2]string{
		"gatehouse":    {".", "./cmd/gatehouse"},
		"mockupstream": {"loadtest", "./cmd/mockupstream"},
		"baseline":     {"loadtest", "./cmd/baseline"},
	}
	out := map[string]string{}
	for name, b := range bins {
		modDir, pkg := b[0], b[1]
		path := filepath.Join(dir, name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", path, pkg)
		cmd.Dir = filepath.Join(root, modDir)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		out[name] = path
	}
	return out, nil
}

// proc is a child process with its output in a log file.
type proc struct{ *childproc.Proc }

func startProc(name, bin, logDir string, env []string, args ...string) (*proc, error) {
	p, err := childproc.Start(childproc.Spec{Name: name, Path: bin, Args: args, Env: env,
		LogFile: filepath.Join(logDir, name+".log")})
	if err != nil {
		return nil, err
	}
	return &proc{p}, nil
}

func (p *proc) stop() {
	if p != nil {
		_ = p.Stop()
	}
}

func (p *proc) tail() string { return p.Tail(4000) }

// pids are the process and its children: a server that forks its workers
// (nginx's master and its worker) is measured and pinned as one. The
// children are found by their parent pid in /proc/<pid>/stat (as pgrep -P
// does; /proc/<pid>/task/<tid>/children needs a kernel option).
func (p *proc) pids() []int {
	out := []int{p.Pid()}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == p.Pid() {
			continue
		}
		if f := statFields(pid); len(f) > 1 && f[1] == strconv.Itoa(p.Pid()) {
			out = append(out, pid)
		}
	}
	return out
}

// rssKB is the resident set (VmRSS) and peak (VmHWM) in KiB of the
// process and its children, summed.
func (p *proc) rssKB() (rss, peak int64) {
	for _, pid := range p.pids() {
		r, h := RSS(pid)
		rss, peak = rss+r, peak+h
	}
	return rss, peak
}

// RSS reads a process's resident set (VmRSS) and peak (VmHWM) in KiB
// (0 when it cannot be read).
func RSS(pid int) (rss, peak int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			prefix string
			dst    *int64
		}{{"VmRSS:", &rss}, {"VmHWM:", &peak}} {
			if v, ok := strings.CutPrefix(line, k.prefix); ok {
				*k.dst, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			}
		}
	}
	return rss, peak
}

// cpuTicks is the user+system CPU time in clock ticks of the process and
// its children (each read from its own /proc/<pid>/stat while it runs).
func (p *proc) cpuTicks() int64 {
	var n int64
	for _, pid := range p.pids() {
		f := statFields(pid)
		if len(f) < 13 {
			continue
		}
		// utime and stime are fields 14 and 15 of the whole line.
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		n += u + st
	}
	return n
}

// statFields are the fields of /proc/<pid>/stat after the parenthesised
// command name (the first is the state, the second the parent pid); nil
// when it cannot be read.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
}

// waitHTTP waits until url answers 200; waitTCP until addr accepts
// connections. Either fails at once if the process exits.
func waitHTTP(p *proc, url string, timeout time.Duration) error {
	return p.WaitReady(timeout, childproc.HTTPReady(url))
}

func waitTCP(p *proc, addr string, timeout time.Duration) error {
	return p.WaitReady(timeout, childproc.TCPReady(addr))
}

// api calls a JSON admin route and decodes the answer into out.
func api(method, url, key string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	raw, err := doOK(req, method+" "+url)
	if err != nil {
		return err
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// doOK sends req with the default client and returns the body of a 200;
// any other status is an error naming what (the request), with the body.
func doOK(req *http.Request, what string) ([]byte, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %d %s", what, resp.StatusCode, raw)
	}
	return raw, nil
}

// RepoRoot finds the gatehouse repository (the product module, whose
// binaries the harness builds) from the working directory upwards, so the
// load-test commands work from the repository root and from loadtest/.
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/gatehouse/gatehouse\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no gatehouse go.mod above %s", wd)
		}
	}
}
