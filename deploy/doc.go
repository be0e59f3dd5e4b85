// Package deploy holds deployment files; its tests check that they fit
// together: every Kubernetes manifest parses, every reference between them
// resolves, probes hit routes the processes really serve, and the NATS
// configuration files load with the server's own parser.
//
// The package holds only tests; this file carries its documentation so
// that go doc and go list show it.
package deploy
