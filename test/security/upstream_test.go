package security

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// upstream is a fake OpenAI that misbehaves on request: the first message
// of a chat request names the misbehaviour. Upstreams echo credentials in
// error bodies more often than one would hope (OpenAI's "Incorrect API key
// provided: sk-...", proxies that dump the request); the gateway must not
// pass them on.
type upstream struct {
	addr string
	keys map[string]bool // provider keys it accepts
}

func startUpstream(t *testing.T, keys ...string) *upstream {
	u := &upstream{keys: map[string]bool{}}
	for _, k := range keys {
		u.keys[k] = true
	}
	srv := httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(srv.Close)
	u.addr = srv.Listener.Addr().(*net.TCPAddr).String()
	return u
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	key := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !u.keys[key] {
		// What OpenAI does, but with the whole key.
		writeJSON(w, 401, fmt.Sprintf(`{"error":{"message":"Incorrect API key provided: %s","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`, key))
		return
	}
	what := ""
	if len(req.Messages) > 0 {
		what = req.Messages[0].Content
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	switch what {
	case "leak-message":
		writeJSON(w, 400, `{"error":{"message":"invalid request for organisation using key `+key+`","type":"invalid_request_error","param":null,"code":null}}`)
	case "leak-fields":
		writeJSON(w, 400, `{"error":{"message":"bad","type":`+q(key)+`,"param":`+q(key)+`,"code":`+q(key)+`}}`)
	case "leak-string-error":
		writeJSON(w, 500, `{"error":"quota of `+key+` exhausted"}`)
	case "leak-detail":
		writeJSON(w, 422, `{"detail":"key `+key+` is not valid for this model"}`)
	case "leak-vllm":
		writeJSON(w, 400, `{"object":"error","message":"key `+key+`","type":"BadRequestError","code":400}`)
	case "leak-escaped":
		// The key spelled with JSON escapes: decoded, it is the key.
		esc := ""
		for _, c := range key {
			esc += fmt.Sprintf(`\u%04x`, c)
		}
		writeJSON(w, 400, `{"error":{"message":"key `+esc+`","type":"invalid_request_error"}}`)
	case "leak-html":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(502)
		_, _ = w.Write([]byte("<html><body>upstream proxy error; Authorization: Bearer " + key + "</body></html>"))
	case "leak-long":
		// The key straddles the point where a logged body is truncated.
		pad := strings.Repeat("x", 470) // the key starts before byte 512 and ends after it
		writeJSON(w, 503, `{"error":{"message":"`+pad+key+`","type":"server_error"}}`)
	case "leak-request-id":
		w.Header().Set("X-Request-Id", key)
		writeJSON(w, 200, okBody(req.Model))
	case "leak-retry-after":
		w.Header().Set("Retry-After", key)
		writeJSON(w, 429, `{"error":{"message":"slow down","type":"rate_limit_error"}}`)
	case "leak-stream-error":
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		_, _ = fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n")
		_, _ = fmt.Fprintf(w, "data: {\"error\":{\"message\":\"upstream failure for key %s\",\"type\":\"server_error\"}}\n\n", key)
	default:
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = fmt.Fprintf(w, "data: {\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n", req.Model)
			_, _ = fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n")
			_, _ = fmt.Fprintf(w, "data: [DONE]\n\n")
			return
		}
		writeJSON(w, 200, okBody(req.Model))
	}
}

func okBody(model string) string {
	return fmt.Sprintf(`{"id":"chatcmpl-1","object":"chat.completion","model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`, model)
}
