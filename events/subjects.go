package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// Subject returns the subject an object's events are stored under. Ids are
// hashed so that any id (dots, spaces, wildcards) makes a valid single
// subject token; keys already are a hash.
func Subject(kind Kind, id string) string {
	tok := id
	if kind != KindKey {
		sum := sha256.Sum256([]byte(id))
		tok = hex.EncodeToString(sum[:16])
	}
	return PolicySubjectPrefix + "." + string(kind) + "." + tok
}

// HashKey returns the hex sha256 of a plaintext virtual key: the only form in
// which a key is stored, logged or published.
func HashKey(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// EdgeStatus is what an edge reports about itself. The control plane uses it
// to wait, after a write, until every live edge has applied it.
type EdgeStatus struct {
	EdgeID  string `json:"edge_id"`
	Region  string `json:"region,omitempty"`
	Seq     uint64 `json:"seq"` // last applied stream sequence
	Ready   bool   `json:"ready"`
	Stalled string `json:"stalled,omitempty"` // why the edge stopped applying, if it did
	// Leaving is set once, when an edge shuts down cleanly, so writers stop
	// waiting for it at once.
	Leaving bool `json:"leaving,omitempty"`
}
