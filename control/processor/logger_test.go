package processor

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
)

// TestGatedLogger: lines come out at the levels the handler enables, with
// Watermill's Info at our Debug, and a disabled level builds nothing.
func TestGatedLogger(t *testing.T) {
	fields := watermill.LogFields{"message_uuid": "m1", "topic": "spend"}
	for _, tc := range []struct {
		level slog.Level
		want  []string // lines written, in order
	}{
		{slog.LevelInfo, []string{"error"}},
		{slog.LevelDebug, []string{"info", "debug", "error"}},
		{watermill.LevelTrace, []string{"info", "debug", "trace", "error"}},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
			var w watermill.LoggerAdapter = gatedLogger{watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}), log}
			w = w.With(watermill.LogFields{"handler": "budget"})
			w.Info("info", fields)
			w.Debug("debug", fields)
			w.Trace("trace", fields)
			w.Error("error", nil, fields)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if line == "" {
					continue
				}
				if !strings.Contains(line, "handler=budget") || !strings.Contains(line, "topic=spend") {
					t.Errorf("line without its fields: %s", line)
				}
				got = append(got, strings.Fields(strings.SplitN(line, "msg=", 2)[1])[0])
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("lines %v, want %v", got, tc.want)
			}
			if tc.level == slog.LevelInfo {
				if n := testing.AllocsPerRun(100, func() { w.Trace("Received message", fields) }); n != 0 {
					t.Fatalf("a disabled Trace allocates %v times", n)
				}
			}
		})
	}
}
