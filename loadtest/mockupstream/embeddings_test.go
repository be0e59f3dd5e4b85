package mockupstream

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"testing"
)

// TestEmbeddings: both embeddings paths answer the fixed list, whose
// base64 vector has EmbeddingDimensions float32s and whose usage is set.
func TestEmbeddings(t *testing.T) {
	s, base := start(t, Options{})
	for _, path := range []string{"/v1/embeddings", "/embeddings"} {
		resp := post(t, base+path, `{"model":"m","input":"x","encoding_format":"base64"}`)
		b, _ := io.ReadAll(resp.Body)
		var out struct {
			Data []struct {
				Embedding string `json:"embedding"`
			} `json:"data"`
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal(b, &out); err != nil || len(out.Data) != 1 || out.Usage.PromptTokens != promptTokens {
			t.Fatalf("%s: %v %.200s", path, err, b)
		}
		raw, err := base64.StdEncoding.DecodeString(out.Data[0].Embedding)
		if err != nil || len(raw) != 4*EmbeddingDimensions {
			t.Fatalf("%s: vector of %d bytes: %v", path, len(raw), err)
		}
	}
	if s.Requests() != 2 {
		t.Fatalf("requests %d", s.Requests())
	}
}
