// Package jsonscan is the one JSON scanner of the hot paths. It owns
// three tools, each checked against encoding/json by a fuzz test:
//
//   - Valid accepts exactly what json.Valid accepts, about three times as
//     fast and without allocating: the edge validates every request body
//     with it, and the JWT verifier every token's header and payload.
//   - The skippers (SkipString, SkipValue, WS) find where a value ends
//     without checking it, for readers that take a few fields out of JSON
//     nobody validated (upstream answers and stream events) or that
//     Valid has already passed. They never run past the input.
//   - Strict is the scanner that decoders of the hot messages (a
//     snapshot's keys, the edge's spend events) are built from: primitives
//     that each read one value of exactly the form encoding/json (or a
//     hand-written encoder that matches it byte for byte) writes, a
//     literal, a string, a number, a bool, an RFC 3339 time, a list of
//     strings.
//
// Strict's guarantee is one-sided: whatever a primitive accepts, it
// decodes to the value json.Unmarshal would store for the same bytes;
// whatever it does not vouch for (whitespace, an escape it does not
// decode, invalid UTF-8, a number the target type cannot hold, null where a
// value is expected) it refuses, and the decoder built on it then hands
// the whole text to json.Unmarshal. A decoder that refuses too much is
// only slower, never wrong; each decoder proves its equivalence with a
// fuzz test against json.Unmarshal.
//
// It has no dependency outside the standard library, so any package may
// use it.
package jsonscan
