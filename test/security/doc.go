// Package security attacks a running gateway: a control plane and an edge
// in this process, on an embedded JetStream server, with the real OpenID
// provider (internal/oidctest) issuing the legitimate tokens, a private
// ClickHouse holding spend, and a fake OpenAI upstream (the only mock).
// Every attack is an HTTP request to the real edge or control API; every
// refusal is checked for its status and its OpenAI error envelope, and
// counted. TestSecurity prints one summary line per category
// ("security: ..."), which docs/reliability.md quotes.
//
// The package holds only tests; this file carries its documentation so
// that go doc and go list show it.
package security
