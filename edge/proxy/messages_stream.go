package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"

	"github.com/valyala/fasthttp"
)

// messagesSSE turns a chat.completion.chunk stream into the Messages
// API's events (message_start, content_block_start/delta/stop,
// message_delta, message_stop). It is an io.Writer under the provider's
// own stream writer, so the chat stream's relay (keep-alives, redaction,
// usage accounting, client-gone detection) is the same for both APIs:
// whatever the inner writer flushes is parsed into complete events,
// translated and flushed to the client.
type messagesSSE struct {
	out *bufio.Writer
	sc  eventScanner
	buf []byte // the incomplete event

	started   bool
	id, model string
	block     int    // index of the open content block, -1 if none
	blockType string // "text" or "tool_use"
	next      int    // index of the next content block
	tools     map[int]int
	finish    string
	usage     chatUsage
	ended     bool // message_stop or an error was written
}

func newMessagesSSE(out *bufio.Writer) *messagesSSE {
	return &messagesSSE{out: out, block: -1, tools: map[int]int{}}
}

// messagesStream wraps a chat StreamWriter so the client gets Messages
// API events.
type messagesStream struct{ inner StreamWriter }

func (m messagesStream) run(w *bufio.Writer) {
	t := newMessagesSSE(w)
	bw := bufio.NewWriterSize(t, streamBufSize)
	m.inner.run(bw)
	_ = bw.Flush()
	t.close()
}

// translateMessagesSSE translates a whole chat stream body at once (the
// mock answers a stream as one body).
func translateMessagesSSE(body []byte) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	t := newMessagesSSE(w)
	_, _ = t.Write(body)
	t.close()
	return b.Bytes()
}

func (t *messagesSSE) Write(p []byte) (int, error) {
	start := 0
	for i, c := range p {
		if !t.sc.step(c) {
			continue
		}
		ev := p[start : i+1]
		if len(t.buf) > 0 {
			ev = append(t.buf, ev...)
			t.buf = t.buf[:0]
		}
		start = i + 1
		if err := t.event(ev); err != nil {
			return start, err
		}
	}
	if start < len(p) {
		t.buf = append(t.buf, p[start:]...)
		if len(t.buf) > maxEventSize {
			t.buf = t.buf[:0] // a runaway event is dropped, not held without bound
		}
	}
	return len(p), nil
}

// close ends a stream that stopped without [DONE]: the inner writer has
// written its error event already, or the client is gone.
func (t *messagesSSE) close() {
	if len(bytes.TrimSpace(t.buf)) > 0 {
		_ = t.event(t.buf)
	}
	_ = t.out.Flush()
}

// chunkIn is a chat.completion.chunk as far as it is translated.
type chunkIn struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Delta struct {
			Content   *string           `json:"content"`
			ToolCalls []chatToolCallOut `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

func (t *messagesSSE) event(ev []byte) error {
	if t.ended {
		return nil
	}
	// A \r\n\r\n boundary leaves its last \n to start the next event.
	ev = bytes.TrimLeft(ev, "\r\n")
	if len(ev) == 0 {
		return nil
	}
	var data []byte
	comment := true
	for _, line := range bytes.Split(ev, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
			comment = false
		} else if len(line) > 0 && line[0] != ':' {
			comment = false
		}
	}
	if comment {
		// Keep-alive comments pass: they are how a gone client is noticed.
		return t.raw(ev)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("[DONE]")) {
		return t.stop()
	}
	var c chunkIn
	if err := json.Unmarshal(data, &c); err != nil {
		return nil
	}
	if c.Error != nil {
		t.ended = true
		return t.emit("error", map[string]any{"type": "error", "error": map[string]string{"type": "api_error", "message": c.Error.Message}})
	}
	if err := t.begin(&c); err != nil {
		return err
	}
	if c.Usage != nil {
		t.usage = *c.Usage
	}
	for _, ch := range c.Choices {
		if d := ch.Delta.Content; d != nil && *d != "" {
			if t.blockType != "text" {
				if err := t.open("text", map[string]any{"type": "text", "text": ""}); err != nil {
					return err
				}
			}
			if err := t.emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": t.block,
				"delta": map[string]string{"type": "text_delta", "text": *d}}); err != nil {
				return err
			}
		}
		for _, tc := range ch.Delta.ToolCalls {
			k := 0
			if tc.Index != nil {
				k = *tc.Index
			}
			if _, seen := t.tools[k]; !seen {
				if err := t.open("tool_use", map[string]any{"type": "tool_use", "id": tc.ID, "name": tc.Function.Name, "input": map[string]any{}}); err != nil {
					return err
				}
				t.tools[k] = t.block
			}
			if tc.Function.Arguments != "" && t.tools[k] == t.block {
				if err := t.emit("content_block_delta", map[string]any{"type": "content_block_delta", "index": t.block,
					"delta": map[string]string{"type": "input_json_delta", "partial_json": tc.Function.Arguments}}); err != nil {
					return err
				}
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			t.finish = *ch.FinishReason
			if err := t.closeBlock(); err != nil {
				return err
			}
		}
	}
	return nil
}

// begin sends message_start before the first content. Input tokens are
// not known until the stream's end; message_delta carries them, as
// Anthropic's own message_delta may.
func (t *messagesSSE) begin(c *chunkIn) error {
	if t.started {
		return nil
	}
	t.started, t.id, t.model = true, messageID(c.ID), c.Model
	return t.emit("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": t.id, "type": "message", "role": "assistant", "model": t.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": messagesUsage{}}})
}

func (t *messagesSSE) open(typ string, block map[string]any) error {
	if err := t.closeBlock(); err != nil {
		return err
	}
	t.block, t.blockType = t.next, typ
	t.next++
	return t.emit("content_block_start", map[string]any{"type": "content_block_start", "index": t.block, "content_block": block})
}

func (t *messagesSSE) closeBlock() error {
	if t.block < 0 {
		return nil
	}
	i := t.block
	t.block, t.blockType = -1, ""
	return t.emit("content_block_stop", map[string]any{"type": "content_block_stop", "index": i})
}

// stop ends the message at the chat stream's [DONE]: by then the usage
// chunk (include_usage) has arrived.
func (t *messagesSSE) stop() error {
	if err := t.begin(&chunkIn{}); err != nil {
		return err
	}
	if err := t.closeBlock(); err != nil {
		return err
	}
	t.ended = true
	if err := t.emit("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": stopReason(t.finish), "stop_sequence": nil}, "usage": usageFromChat(t.usage)}); err != nil {
		return err
	}
	return t.emit("message_stop", map[string]string{"type": "message_stop"})
}

func (t *messagesSSE) emit(typ string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, _ = t.out.WriteString("event: ")
	_, _ = t.out.WriteString(typ)
	_, _ = t.out.WriteString("\ndata: ")
	_, _ = t.out.Write(b)
	_, _ = t.out.WriteString("\n\n")
	return t.out.Flush()
}

func (t *messagesSSE) raw(ev []byte) error {
	_, _ = t.out.Write(ev)
	return t.out.Flush()
}

var _ io.Writer = (*messagesSSE)(nil)

// messagesAnswer translates a complete chat answer in rc (a body, or a
// whole stream sent as one body, as the mock does) into the Messages
// API's.
func messagesAnswer(rc *fasthttp.RequestCtx) error {
	b := rc.Response.Body()
	if hasPrefixFold(rc.Response.Header.ContentType(), "text/event-stream") {
		rc.Response.SetBodyRaw(translateMessagesSSE(b))
		return nil
	}
	out, err := MessageFromChat(b)
	if err != nil {
		rc.Response.ResetBody()
		return err
	}
	rc.Response.SetBodyRaw(out)
	return nil
}
