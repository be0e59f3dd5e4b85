// Package embednats runs a nats-server with JetStream inside the process, for
// `gatehouse run` (a newcomer's one-command setup), `gatehouse nats` and
// tests.
//
// It guarantees that Start and StartConfig return only once the server
// accepts client connections (or with an error), and that the server
// never installs signal handlers of its own: shutdown is the caller's.
package embednats

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options for an embedded server.
type Options struct {
	Host string // default 127.0.0.1
	// Port; -1 picks a free port. 4222 is usually taken by a system NATS,
	// so `gatehouse run` defaults to 4290.
	Port     int
	StoreDir string // JetStream file storage
	Name     string
	Logs     bool
}

// StartConfig runs a server from a nats-server configuration file, the
// same file the official nats-server binary takes, so a cluster node,
// a regional leaf node or a single server can run from this binary or from
// nats-server interchangeably.
func StartConfig(path string, logs bool) (*server.Server, error) {
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats config %s: %w", path, err)
	}
	opts.ConfigFile = path
	// Signals are the caller's (the process handles SIGTERM itself).
	opts.NoSigs = true
	opts.NoLog = !logs
	return run(opts, logs, fmt.Sprintf("%s:%d", opts.Host, opts.Port))
}

// Start runs a server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      !o.Logs,
		// Policy events are small; this caps what a misbehaving client
		// can make the server hold per message.
		MaxPayload: 8 << 20,
	}
	return run(opts, o.Logs, fmt.Sprintf("%s:%d", o.Host, o.Port))
}

func run(opts *server.Options, logs bool, where string) (*server.Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if logs {
		s.ConfigureLogger()
	}
	go s.Start()
	// A clustered JetStream node is ready for clients before its meta
	// group has a leader; clients retry their JetStream calls until then.
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready after 30s on %s", where)
	}
	return s, nil
}
