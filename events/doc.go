// Package events is the contract between the control plane and the edges.
//
// Every change to policy (models, virtual keys, teams, users, orgs, access
// groups) is an event appended to one JetStream stream, which is the source of
// truth. Events follow the shape of nats-server advisories: an envelope
// {id, type, time, actor, data} with a versioned, never-reused type string
// such as "gatehouse.key.v1.upserted".
//
// Rules this package encodes:
//   - Events carry the full state of one object (or a tombstone), so applying
//     one twice is harmless and the stream can keep only the last message per
//     subject: a replaying edge reads current state, not all history.
//   - Each object has its own subject (gatehouse.policy.<kind>.<token>). The
//     control plane publishes with Nats-Msg-Id (dedupe) and the expected last
//     sequence of that subject (optimistic concurrency), so two admins racing
//     on one object cannot both win silently.
//   - Type strings are append-only. A consumer that meets a type it does not
//     know must stop and report (ErrUnknownType), never skip: a skipped
//     revocation is a security hole.
//   - Plaintext virtual keys never appear here: keys are identified by the
//     hex sha256 of the key.
//   - Every NATS resource (stream, subject, KV bucket, object store, durable
//     consumer, connection name, header) is named in names.go and nowhere
//     else; the poison queue's format, listing and replay are in poison.go,
//     and how a durable pull consumer is read (drained on shutdown,
//     recreated when lost) in pull.go.
//
// This package imports no HTTP, Fiber or ClickHouse code.
package events
