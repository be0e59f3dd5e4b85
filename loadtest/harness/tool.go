package harness

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
)

// Tool is how a benchmark command (cmd/bench, cmd/scale) starts: the
// repository root, made the working directory so that -out paths are
// relative to it wherever the command was started; a text logger on
// stderr; a context that Ctrl-C ends; and the command line the report
// quotes.
type Tool struct {
	Root    string
	Log     *slog.Logger
	Command string
}

// StartTool sets the working directory to the repository root. target is
// the make target that runs the command with its defaults and pkg its
// package (./cmd/bench): a report names the make target unless flags were
// given. The caller defers the returned stop.
func StartTool(target, pkg string) (context.Context, context.CancelFunc, Tool, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, nil, Tool{}, err
	}
	if err := os.Chdir(root); err != nil {
		return nil, nil, Tool{}, err
	}
	t := Tool{Root: root, Log: slog.New(slog.NewTextHandler(os.Stderr, nil)), Command: "make " + target}
	if len(os.Args) > 1 {
		t.Command = "go -C loadtest run " + pkg + " " + strings.Join(os.Args[1:], " ")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	return ctx, stop, t, nil
}
