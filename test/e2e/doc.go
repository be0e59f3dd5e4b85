// Package e2e runs the gatehouse binary as separate processes (a control
// plane and edges) on a real JetStream server, against a mock OpenAI
// upstream, and talks to them over HTTP the way users do.
//
// The package holds only tests; this file carries its documentation so
// that go doc and go list show it.
package e2e
