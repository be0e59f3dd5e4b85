// Package ctl is gatewayctl: an admin CLI over gatehouse's REST API (the
// control plane's, or an edge's, which relays management routes). It is a
// plain client of the LiteLLM-compatible routes: everything it does can be
// done with curl, it only spares the JSON typing and prints tables.
package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls the admin API.
type Client struct {
	// BaseURL of the control plane or an edge, e.g. http://127.0.0.1:4001.
	BaseURL string
	// Key is the master key (or a virtual key for the info routes).
	Key  string
	HTTP *http.Client
}

// APIError is an error answer in the OpenAI envelope.
type APIError struct {
	Status  int
	Message string
	Type    string
	Param   string
	Code    string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	switch {
	case e.Type != "" && e.Code != "":
		fmt.Fprintf(&b, " %s (%s)", e.Type, e.Code)
	case e.Type != "" || e.Code != "":
		fmt.Fprintf(&b, " %s%s", e.Type, e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Param != "" {
		b.WriteString(" [param: " + e.Param + "]")
	}
	return b.String()
}

// Response is a successful answer.
type Response struct {
	Body   json.RawMessage
	Header http.Header
}

// Do sends one request: body (if not nil) as JSON, query as the query
// string. A non-2xx answer is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body any) (*Response, error) {
	u := strings.TrimRight(c.BaseURL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		return nil, apiError(resp.StatusCode, b)
	}
	return &Response{Body: b, Header: resp.Header}, nil
}

func apiError(status int, body []byte) *APIError {
	var env struct {
		Error struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Param   json.RawMessage `json:"param"`
			Code    json.RawMessage `json:"code"`
		} `json:"error"`
	}
	e := &APIError{Status: status}
	if json.Unmarshal(body, &env) == nil && (env.Error.Message != "" || env.Error.Type != "") {
		e.Message, e.Type = env.Error.Message, env.Error.Type
		e.Param, e.Code = scalar(env.Error.Param), scalar(env.Error.Code)
		return e
	}
	// Not our envelope (a proxy in between, a wrong URL): show the start.
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "..."
	}
	return e
}

func scalar(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	return string(r)
}
