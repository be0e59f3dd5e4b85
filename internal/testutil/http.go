package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// NewRequest builds an API request the way tests send them: body as JSON
// (nil: no body; a string or []byte: sent as it is, to test malformed
// input), "Authorization: Bearer <bearer>" when bearer is set,
// Content-Type application/json when there is a body, then headers.
func NewRequest(method, url, bearer string, body any, headers map[string]string) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// Do sends NewRequest's request with c and reads the answer; the
// response's body is already closed. A body cut short is returned as far
// as it came, without an error: tests check what a client saw.
func Do(c *http.Client, method, url, bearer string, body any, headers map[string]string) (*http.Response, []byte, error) {
	req, err := NewRequest(method, url, bearer, body, headers)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw, nil
}
