package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/schema"
)

// providerLeaks makes the upstream put the provider key everywhere it can
// in what it returns; none of it may reach the client.
func providerLeaks(t *testing.T, s *stack) {
	const cat = "provider key in responses"
	key := s.newKey(t, map[string]any{"team_id": "team-a", "models": []string{"leaky", "leaky-azure", "leaky-badkey"}})
	chatURL := s.edge + "/v1/chat/completions"
	provider := []string{s.providerKey, s.azureKey, s.badProviderKey}
	scenarios := []struct {
		what   string
		stream bool
		status int // 0: a success whose headers and body must still be clean
	}{
		{"leak-message", false, 400},
		{"leak-fields", false, 400},
		{"leak-string-error", false, 502},
		{"leak-detail", false, 422},
		{"leak-vllm", false, 400},
		{"leak-escaped", false, 400},
		{"leak-html", false, 502},
		{"leak-long", false, 502},
		{"leak-retry-after", false, 429},
		{"leak-request-id", false, 0},
		{"leak-stream-error", true, 0},
		{"ok", true, 0},
		{"ok", false, 0},
	}
	for _, model := range []string{"leaky", "leaky-azure", "leaky-badkey"} {
		for _, sc := range scenarios {
			body := map[string]any{"model": model, "stream": sc.stream, "messages": []map[string]string{{"role": "user", "content": sc.what}}}
			r := s.do(t, "POST", chatURL, key, body, nil)
			name := fmt.Sprintf("%s on %s (stream %v)", sc.what, model, sc.stream)
			want := sc.status
			if model == "leaky-badkey" {
				want = 502 // the upstream refuses the gateway's key, echoing it
			}
			leaked := ""
			for _, pk := range provider {
				if where := findSecret(r, pk); where != "" {
					leaked = where
				}
			}
			count(cat, leaked != "")
			switch {
			case leaked != "":
				t.Errorf("LEAKED %s: provider key in the %s: %s", name, leaked, trim(r.body))
			case want == 0 && r.status != 200:
				t.Errorf("%s: status %d: %s", name, r.status, trim(r.body))
			case want != 0 && r.status != want:
				t.Errorf("%s: status %d, want %d: %s", name, r.status, want, trim(r.body))
			case want != 0:
				if err := checkEnvelope(r); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
}

// findSecret says where in a response a secret (or a 16-character piece
// of it) appears.
func findSecret(r response, secret string) string {
	f := newFinder(map[string]string{secret: "secret"})
	for k, vs := range r.header {
		for _, v := range vs {
			if hit := f.find(k + ": " + v); hit != "" {
				return "header " + k
			}
		}
	}
	if hit := f.find(string(r.body)); hit != "" {
		return "body"
	}
	return ""
}

// window is the length of the secret fragments searched for: long enough
// that random text does not contain one, short enough to catch a key that
// was cut (truncated log lines) or partly masked.
const window = 16

// finder looks for every window-sized piece of a set of secrets in one
// pass over a text.
type finder struct {
	pieces map[string]string // piece -> which secret
}

func newFinder(secrets map[string]string) *finder {
	f := &finder{pieces: map[string]string{}}
	for sec, what := range secrets {
		for _, part := range secretParts(sec) {
			if len(part) < window {
				continue
			}
			for i := 0; i+window <= len(part); i++ {
				f.pieces[part[i:i+window]] = what
			}
		}
	}
	return f
}

// secretParts are the unguessable parts of a secret: a JWT's signature
// (its header and claims are not secret, and identical across tokens),
// a key without its well-known prefix.
func secretParts(sec string) []string {
	if strings.Count(sec, ".") == 2 {
		return []string{sec[strings.LastIndexByte(sec, '.')+1:]}
	}
	for _, p := range []string{"sk-master-", "sk-proj-", "sk-"} {
		if strings.HasPrefix(sec, p) {
			return []string{sec[len(p):]}
		}
	}
	return []string{sec}
}

func (f *finder) find(text string) string {
	for i := 0; i+window <= len(text); i++ {
		if what, ok := f.pieces[text[i:i+window]]; ok {
			return fmt.Sprintf("%s (%q at %d)", what, text[i:i+window], i)
		}
	}
	return ""
}

// secretsAtRest searches everything the system wrote for every secret the
// suite used: the logs of control, edge and sink, every message of every
// stream (policy, audit, spend, key-value buckets) and every ClickHouse
// row.
func secretsAtRest(t *testing.T, s *stack) {
	s.secretsMu.Lock()
	secrets := make(map[string]string, len(s.secrets))
	for k, v := range s.secrets {
		secrets[k] = v
	}
	s.secretsMu.Unlock()
	f := newFinder(secrets)
	// The finder can find: a planted secret is reported.
	if hit := f.find("prefix " + s.masterKey + " suffix"); hit == "" {
		t.Fatal("control: the finder misses a planted master key")
	}
	slog.Debug("log capture check") // the default logger is captured too
	if !strings.Contains(s.logs.String(), "log capture check") {
		t.Fatal("control: logs are not captured")
	}
	// Wait for the spend sink: every spend event in ClickHouse.
	ctx := context.Background()
	_, js := testutil.Connect(t, s.natsURL)
	conn, err := schema.Open(ctx, s.ch.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	testutil.Eventually(t, 30*time.Second, func() error {
		info, err := events.StreamInfo(ctx, js, events.SpendStream)
		if err != nil {
			return err
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+chDB+".spend_events").Scan(&n); err != nil {
			return err
		}
		if info.State.LastSeq == 0 || n < info.State.LastSeq {
			return fmt.Errorf("%d of %d spend events in ClickHouse", n, info.State.LastSeq)
		}
		return nil
	})

	found := 0
	check := func(where, text string) {
		if hit := f.find(text); hit != "" {
			found++
			i := strings.Index(text, strings.Split(strings.SplitN(hit, "(\"", 2)[1], "\"")[0])
			t.Errorf("plaintext %s in %s: ...%s...", hit, where, text[max(0, i-200):min(len(text), i+100)])
		}
	}
	logs := s.logs.String()
	for i, line := range strings.Split(logs, "\n") {
		if line != "" {
			check(fmt.Sprintf("log line %d", i+1), line)
		}
	}
	// Every stream, every message, subject and headers included.
	names := js.StreamNames(ctx)
	nstreams, nmsgs, compressed := 0, 0, 0
	for name := range names.Name() {
		nstreams++
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
			m, err := st.GetMsg(ctx, seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			nmsgs++
			hdr, _ := json.Marshal(m.Header)
			// A compressed spend message is searched as its JSON: a
			// secret in it would not show in the compressed bytes.
			data, err := events.SpendJSON(m.Data)
			if err != nil {
				t.Fatalf("stream %s seq %d: %v", name, seq, err)
			}
			compressed += btoi(events.CompressedSpend(m.Data))
			check(fmt.Sprintf("stream %s seq %d", name, seq), m.Subject+" "+string(hdr)+" "+string(data))
		}
	}
	if names.Err() != nil {
		t.Fatal(names.Err())
	}
	t.Logf("%d streams, %d messages, %d of them compressed spend batches", nstreams, nmsgs, compressed)
	if nstreams < 3 || nmsgs < 50 || compressed == 0 {
		t.Fatalf("control: only %d streams and %d messages read (%d compressed spend batches)", nstreams, nmsgs, compressed)
	}
	// Every ClickHouse table of the gateway's database, every row.
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View'", chDB)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	nrows := 0
	for _, tbl := range tables {
		// Every column scanned into its own Go type and printed: the
		// server may be too old for formatRow.
		rs, err := conn.Query(ctx, "SELECT * FROM "+chDB+".`"+tbl+"`")
		if err != nil {
			t.Fatal(err)
		}
		cols := rs.ColumnTypes()
		for rs.Next() {
			vals := make([]any, len(cols))
			for i, c := range cols {
				vals[i] = reflect.New(c.ScanType()).Interface()
			}
			if err := rs.Scan(vals...); err != nil {
				t.Fatal(err)
			}
			var row strings.Builder
			for i, v := range vals {
				fmt.Fprintf(&row, "%s=%v ", cols[i].Name(), reflect.ValueOf(v).Elem().Interface())
			}
			nrows++
			check("ClickHouse "+tbl, row.String())
		}
		rs.Close()
	}
	if nrows == 0 {
		t.Fatal("control: no ClickHouse row read")
	}
	fmt.Printf("security: secrets at rest: %d secrets searched in %d log lines, %d messages of %d streams, %d ClickHouse rows of %d tables: found %d\n",
		len(secrets), strings.Count(logs, "\n"), nmsgs, nstreams, nrows, len(tables), found)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
