package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/control/api"
	"github.com/gatehouse/gatehouse/control/config"
	"github.com/gatehouse/gatehouse/control/store"
	"github.com/gatehouse/gatehouse/edge/gateway"
	"github.com/gatehouse/gatehouse/policy"
)

type obj = map[string]any

// get walks a path of map keys.
func get(o any, path ...string) any {
	for _, p := range path {
		m, ok := o.(obj)
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func str(o any, path ...string) string { s, _ := get(o, path...).(string); return s }

func list(o any, path ...string) []any { l, _ := get(o, path...).([]any); return l }

func labels(o any, path ...string) map[string]string {
	out := map[string]string{}
	m, _ := get(o, path...).(obj)
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// subset: every selector label is on the object.
func subset(sel, lbl map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lbl[k] != v {
			return false
		}
	}
	return true
}

type manifests struct {
	all        []obj
	byKind     map[string]map[string]obj
	workloads  []obj // Deployments and StatefulSets
	configMaps map[string]obj
	secrets    map[string]obj
}

func load(t *testing.T) *manifests {
	t.Helper()
	dir := "k8s"
	var kust struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &kust); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "kustomization.yaml" && !slices.Contains(kust.Resources, b) {
			t.Errorf("%s is not listed in kustomization.yaml", b)
		}
	}
	m := &manifests{byKind: map[string]map[string]obj{}, configMaps: map[string]obj{}, secrets: map[string]obj{}}
	for _, r := range kust.Resources {
		raw, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", r, err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var o obj
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			if o == nil {
				continue
			}
			kind, name := str(o, "kind"), str(o, "metadata", "name")
			if kind == "" || name == "" || str(o, "apiVersion") == "" {
				t.Fatalf("%s: object without apiVersion, kind or name: %v", r, o)
			}
			if kind != "Namespace" && str(o, "metadata", "namespace") != kust.Namespace {
				t.Errorf("%s %s: namespace %q, want %q", kind, name, str(o, "metadata", "namespace"), kust.Namespace)
			}
			if m.byKind[kind] == nil {
				m.byKind[kind] = map[string]obj{}
			}
			if _, dup := m.byKind[kind][name]; dup {
				t.Errorf("%s %s defined twice", kind, name)
			}
			m.byKind[kind][name] = o
			m.all = append(m.all, o)
			switch kind {
			case "Deployment", "StatefulSet":
				m.workloads = append(m.workloads, o)
			case "ConfigMap":
				m.configMaps[name] = o
			case "Secret":
				m.secrets[name] = o
			}
		}
	}
	return m
}

func containers(w obj) []any { return list(w, "spec", "template", "spec", "containers") }

// containerPort resolves a named or numbered port of a container.
func containerPort(c any, port any) (int, bool) {
	for _, p := range list(c, "ports") {
		n, _ := get(p, "containerPort").(int)
		switch v := port.(type) {
		case string:
			if str(p, "name") == v {
				return n, true
			}
		case int:
			if n == v {
				return n, true
			}
		}
	}
	return 0, false
}

func envValue(c any, name string) string {
	for _, e := range list(c, "env") {
		if str(e, "name") == name {
			return str(e, "value")
		}
	}
	return ""
}

// routes are the GET routes each gatehouse role really serves.
func routes(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	edge := gateway.New(&policy.Live{}, gateway.Options{}, nil).App(gateway.Options{})
	for _, r := range edge.GetRoutes() {
		if r.Method == "GET" {
			out["edge"] = append(out["edge"], r.Path)
		}
	}
	ctl := api.New(&store.Store{}, api.Options{})
	for _, r := range ctl.GetRoutes() {
		if r.Method == "GET" {
			out["control"] = append(out["control"], r.Path)
		}
	}
	return out
}

func TestKubernetesManifests(t *testing.T) {
	m := load(t)
	served := routes(t)
	for _, kind := range []string{"StatefulSet", "Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret"} {
		if len(m.byKind[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}

	for _, w := range m.workloads {
		name := str(w, "kind") + " " + str(w, "metadata", "name")
		sel := labels(w, "spec", "selector", "matchLabels")
		if !subset(sel, labels(w, "spec", "template", "metadata", "labels")) {
			t.Errorf("%s: selector %v does not match its pod labels", name, sel)
		}
		vols := map[string]any{}
		for _, v := range list(w, "spec", "template", "spec", "volumes") {
			vols[str(v, "name")] = v
		}
		for _, v := range list(w, "spec", "volumeClaimTemplates") {
			vols[str(v, "metadata", "name")] = v
		}
		for _, v := range vols {
			if cm := str(v, "configMap", "name"); cm != "" && m.configMaps[cm] == nil {
				t.Errorf("%s: volume from missing ConfigMap %s", name, cm)
			}
			if s := str(v, "secret", "secretName"); s != "" && m.secrets[s] == nil {
				t.Errorf("%s: volume from missing Secret %s", name, s)
			}
		}
		for _, c := range containers(w) {
			cname := name + "/" + str(c, "name")
			mounts := map[string]string{} // mount path -> volume
			for _, vm := range list(c, "volumeMounts") {
				if vols[str(vm, "name")] == nil {
					t.Errorf("%s: mounts undefined volume %s", cname, str(vm, "name"))
				}
				mounts[str(vm, "mountPath")] = str(vm, "name")
			}
			// A file path given to the process must be a key of the
			// ConfigMap mounted over its directory.
			args := list(c, "args")
			cmd := list(c, "command")
			files := []string{envValue(c, "CONFIG")}
			for i, a := range append(cmd, args...) {
				if s, _ := a.(string); (s == "-c" || s == "-config") && i+1 < len(cmd)+len(args) {
					files = append(files, fmt.Sprint(append(cmd, args...)[i+1]))
				}
			}
			for _, f := range files {
				if f == "" {
					continue
				}
				vol := mounts[filepath.Dir(f)]
				cm := m.configMaps[str(vols[vol], "configMap", "name")]
				if cm == nil || get(cm, "data", filepath.Base(f)) == nil {
					t.Errorf("%s: %s is not a key of a ConfigMap mounted at %s", cname, f, filepath.Dir(f))
				}
			}
			for _, e := range list(c, "env") {
				if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
					s := m.secrets[str(ref, "name")]
					if s == nil || get(s, "stringData", str(ref, "key")) == nil && get(s, "data", str(ref, "key")) == nil {
						t.Errorf("%s: env %s from missing secret key %s/%s", cname, str(e, "name"), str(ref, "name"), str(ref, "key"))
					}
				}
				if ref := get(e, "valueFrom", "configMapKeyRef"); ref != nil {
					if cm := m.configMaps[str(ref, "name")]; cm == nil || get(cm, "data", str(ref, "key")) == nil {
						t.Errorf("%s: env %s from missing ConfigMap key", cname, str(e, "name"))
					}
				}
			}
			for _, ef := range list(c, "envFrom") {
				if s := str(ef, "secretRef", "name"); s != "" && m.secrets[s] == nil {
					t.Errorf("%s: envFrom missing Secret %s", cname, s)
				}
				if cm := str(ef, "configMapRef", "name"); cm != "" && m.configMaps[cm] == nil {
					t.Errorf("%s: envFrom missing ConfigMap %s", cname, cm)
				}
			}
			role := ""
			if strings.Contains(str(c, "image"), "gatehouse") && len(args) > 0 {
				role = fmt.Sprint(args[0])
			}
			// The port the process listens on is the one declared.
			listen := map[string]string{"edge": "EDGE_ADDR", "control": "CONTROL_ADDR"}[role]
			if listen != "" {
				_, port, err := net.SplitHostPort(envValue(c, listen))
				n, _ := strconv.Atoi(port)
				if _, ok := containerPort(c, n); err != nil || !ok {
					t.Errorf("%s: %s=%q is not a declared container port", cname, listen, envValue(c, listen))
				}
			}
			for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
				hg := get(c, probe, "httpGet")
				if get(c, probe) == nil {
					continue
				}
				if hg == nil {
					t.Errorf("%s: %s is not an httpGet probe", cname, probe)
					continue
				}
				if _, ok := containerPort(c, get(hg, "port")); !ok {
					t.Errorf("%s: %s port %v is not a container port", cname, probe, get(hg, "port"))
				}
				path, _, _ := strings.Cut(str(hg, "path"), "?")
				switch {
				case role != "":
					if !slices.Contains(served[role], path) {
						t.Errorf("%s: %s path %s is not a GET route of gatehouse %s", cname, probe, path, role)
					}
				case strings.HasPrefix(str(c, "image"), "nats:"):
					if path != "/healthz" {
						t.Errorf("%s: %s path %s; nats-server health is /healthz", cname, probe, path)
					}
				default:
					t.Errorf("%s: probe on an unknown image %s", cname, str(c, "image"))
				}
			}
			if role == "edge" && get(c, "readinessProbe", "httpGet", "path") != "/health/readiness" {
				t.Errorf("%s: edge readiness must be /health/readiness (not ready until caught up)", cname)
			}
		}
	}

	// Services select pods and target ports those pods declare.
	for name, svc := range m.byKind["Service"] {
		sel := labels(svc, "spec", "selector")
		var matched []obj
		for _, w := range m.workloads {
			if subset(sel, labels(w, "spec", "template", "metadata", "labels")) {
				matched = append(matched, w)
			}
		}
		if len(matched) == 0 {
			t.Errorf("Service %s: selector %v matches no pods", name, sel)
			continue
		}
		for _, p := range list(svc, "spec", "ports") {
			for _, w := range matched {
				ok := false
				for _, c := range containers(w) {
					_, found := containerPort(c, get(p, "targetPort"))
					ok = ok || found
				}
				if !ok {
					t.Errorf("Service %s: targetPort %v not declared by %s", name, get(p, "targetPort"), str(w, "metadata", "name"))
				}
			}
		}
	}
	for _, ss := range m.byKind["StatefulSet"] {
		h := m.byKind["Service"][str(ss, "spec", "serviceName")]
		if h == nil || str(h, "spec", "clusterIP") != "None" {
			t.Errorf("StatefulSet %s: serviceName %q is not a headless Service", str(ss, "metadata", "name"), str(ss, "spec", "serviceName"))
		}
	}
	for name, pdb := range m.byKind["PodDisruptionBudget"] {
		sel := labels(pdb, "spec", "selector", "matchLabels")
		n := 0
		for _, w := range m.workloads {
			if subset(sel, labels(w, "spec", "template", "metadata", "labels")) {
				n++
				replicas, _ := get(w, "spec", "replicas").(int)
				if min, ok := get(pdb, "spec", "minAvailable").(int); ok && min >= replicas {
					t.Errorf("PDB %s: minAvailable %d blocks every eviction of %d replicas", name, min, replicas)
				}
			}
		}
		if n != 1 {
			t.Errorf("PDB %s: selector matches %d workloads, want 1", name, n)
		}
	}

	// URLs between components name a Service port.
	svcPort := func(u string) error {
		pu, err := url.Parse(u)
		if err != nil {
			return err
		}
		svc := m.byKind["Service"][strings.Split(pu.Hostname(), ".")[0]]
		if svc == nil {
			return fmt.Errorf("no Service %s", pu.Hostname())
		}
		for _, p := range list(svc, "spec", "ports") {
			if strconv.Itoa(get(p, "port").(int)) == pu.Port() {
				return nil
			}
		}
		return fmt.Errorf("Service %s has no port %s", pu.Hostname(), pu.Port())
	}
	for _, w := range m.workloads {
		for _, c := range containers(w) {
			for _, env := range []string{"NATS_URL", "CONTROL_URL"} {
				if v := envValue(c, env); v != "" {
					if err := svcPort(v); err != nil {
						t.Errorf("%s: %s=%s: %v", str(w, "metadata", "name"), env, v, err)
					}
				}
			}
		}
	}

	// The NATS configurations load, their routes and remotes resolve, and
	// edges use the hub's JetStream domain.
	hub := natsConf(t, m, "nats-config", "nats.conf")
	ss := m.byKind["StatefulSet"]["nats"]
	replicas := get(ss, "spec", "replicas").(int)
	if len(hub.Routes) != replicas {
		t.Errorf("nats.conf has %d routes for %d replicas", len(hub.Routes), replicas)
	}
	for i, r := range hub.Routes {
		want := fmt.Sprintf("nats-%d.%s.", i, str(ss, "spec", "serviceName"))
		if !strings.HasPrefix(r.Host, want) {
			t.Errorf("route %s: want host %s...", r, want)
		}
	}
	for _, w := range m.workloads {
		for _, c := range containers(w) {
			if args := list(c, "args"); len(args) > 0 && args[0] == "control" {
				if n, _ := strconv.Atoi(envValue(c, "STREAM_REPLICAS")); n < 1 || n > replicas {
					t.Errorf("control: STREAM_REPLICAS=%q for %d JetStream nodes", envValue(c, "STREAM_REPLICAS"), replicas)
				}
			}
			if args := list(c, "args"); len(args) > 0 && args[0] == "edge" {
				if d := envValue(c, "NATS_JS_DOMAIN"); d != hub.JetStreamDomain {
					t.Errorf("%s: NATS_JS_DOMAIN=%q, hub domain %q", str(w, "metadata", "name"), d, hub.JetStreamDomain)
				}
				leafSvc, _ := url.Parse(envValue(c, "NATS_URL"))
				if !strings.HasPrefix(leafSvc.Hostname(), "nats-leaf-") {
					t.Errorf("%s: edges connect to their region's leaf, not %s", str(w, "metadata", "name"), leafSvc.Hostname())
				}
			}
		}
	}
	for name := range m.configMaps {
		if !strings.HasPrefix(name, "nats-leaf-") {
			continue
		}
		leaf := natsConf(t, m, name, "leaf.conf")
		if leaf.JetStream || len(leaf.LeafNode.Remotes) != 1 {
			t.Errorf("%s: want no JetStream and one remote", name)
			continue
		}
		for _, u := range leaf.LeafNode.Remotes[0].URLs {
			if err := svcPort(u.String()); err != nil || u.Port() != strconv.Itoa(hub.LeafNode.Port) {
				t.Errorf("%s: remote %s: %v (hub leafnode port %d)", name, u, err, hub.LeafNode.Port)
			}
		}
	}

	// config.yaml is valid for gatehouse.
	cfg := str(m.configMaps["gatehouse-config"], "data", "config.yaml")
	if _, err := config.Parse([]byte(cfg)); err != nil {
		t.Errorf("gatehouse-config config.yaml: %v", err)
	}
}

// natsConf loads a ConfigMap's NATS configuration with the server's parser
// (POD_NAME is set by the pod spec's fieldRef).
func natsConf(t *testing.T, m *manifests, cm, key string) *server.Options {
	t.Helper()
	data := str(m.configMaps[cm], "data", key)
	if data == "" {
		t.Fatalf("ConfigMap %s has no %s", cm, key)
	}
	f := filepath.Join(t.TempDir(), key)
	if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("POD_NAME", "nats-0")
	opts, err := server.ProcessConfigFile(f)
	if err != nil {
		t.Fatalf("%s/%s: %v", cm, key, err)
	}
	if opts.ServerName != "nats-0" {
		t.Errorf("%s: server_name %q does not come from POD_NAME", cm, opts.ServerName)
	}
	return opts
}

// TestNATSHealthRoute: the probes' /healthz is the monitoring route of the
// server version we ship (a real server, answering on a free port).
func TestNATSHealthRoute(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir()}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	for _, path := range []string{"/healthz", "/healthz?js-enabled-only=true"} {
		resp, err := http.Get("http://" + s.MonitorAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

// TestClusterConfigs: the deploy/cluster files load with the server's
// parser and agree with each other (the e2e cluster test runs them).
func TestClusterConfigs(t *testing.T) {
	var domain string
	for i := 1; i <= 3; i++ {
		o, err := server.ProcessConfigFile(fmt.Sprintf("cluster/nats-%d.conf", i))
		if err != nil {
			t.Fatal(err)
		}
		if o.ServerName != fmt.Sprintf("nats-%d", i) || !o.JetStream || len(o.Routes) != 3 || o.LeafNode.Port == 0 || o.Cluster.Name != "gatehouse" {
			t.Errorf("nats-%d.conf: name %q js %v routes %d leaf port %d cluster %q", i, o.ServerName, o.JetStream, len(o.Routes), o.LeafNode.Port, o.Cluster.Name)
		}
		if domain != "" && o.JetStreamDomain != domain {
			t.Errorf("nats-%d.conf: domain %q, others %q", i, o.JetStreamDomain, domain)
		}
		domain = o.JetStreamDomain
	}
	if domain == "" {
		t.Error("the hub needs a JetStream domain for edges behind leaf nodes")
	}
	for _, r := range []string{"eu", "us"} {
		o, err := server.ProcessConfigFile("cluster/leaf-" + r + ".conf")
		if err != nil {
			t.Fatal(err)
		}
		if o.JetStream || len(o.LeafNode.Remotes) != 1 || len(o.LeafNode.Remotes[0].URLs) != 3 {
			t.Errorf("leaf-%s.conf: js %v remotes %d", r, o.JetStream, len(o.LeafNode.Remotes))
		}
	}
}
