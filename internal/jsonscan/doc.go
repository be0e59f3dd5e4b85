// Package jsonscan owns the strict JSON scanner that decoders of the hot
// messages (a snapshot's keys, the edge's spend events) are built from:
// primitives that each read one value of exactly the form encoding/json
// (or a hand-written encoder that matches it byte for byte) writes, a
// literal, a string, a number, a bool, an RFC 3339 time, a list of strings.
//
// Its guarantee is one-sided: whatever a primitive accepts, it decodes to
// the value json.Unmarshal would store for the same bytes; whatever it does
// not vouch for (whitespace, an escape it does not decode, invalid UTF-8,
// a number the target type cannot hold, null where a value is expected)
// it refuses, and the decoder built on it then hands the whole text to
// json.Unmarshal. A decoder that refuses too much is only slower, never
// wrong; each decoder proves its equivalence with a fuzz test against
// json.Unmarshal.
//
// It has no dependency outside the standard library, so any package may
// use it.
package jsonscan
