package proxy

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestStreamProgress: Call.Progress sees the generated text grow event by
// event, before Done reports the usage (budgets count a stream as it goes).
func TestStreamProgress(t *testing.T) {
	up := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		rc := sseHeaders(w)
		_ = sendFrame(w, rc, `{"choices":[{"delta":{"content":"one"}}]}`)
		_ = sendFrame(w, rc, `{"choices":[{"delta":{"role":"assistant"}}]}`) // no text: no call
		_ = sendFrame(w, rc, `{"choices":[{"delta":{"content":"three"}}]}`)
		_ = sendFrame(w, rc, `[DONE]`)
	})
	d := openAIDeployment(up.URL + "/v1")
	f := New(Options{})
	var mu sync.Mutex
	var seen []int64
	done := make(chan int64, 1)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/v1/chat/completions", func(c *fiber.Ctx) error {
		_, err := f.Forward(c.Context(), Call{Deployment: d, Body: c.Body(), Stream: true,
			Progress: func(chars int64) { mu.Lock(); seen = append(seen, chars); mu.Unlock() },
			Done: func(u Usage, _ error) {
				mu.Lock()
				defer mu.Unlock()
				done <- int64(len(seen))
			}})
		return err
	})
	resp := post(t, testutil.Serve(t, app)+"/v1/chat/completions", `{"model":"my-group","stream":true,"messages":[]}`, nil)
	_ = readAll(t, resp.Body)
	select {
	case n := <-done:
		if n != 2 {
			t.Fatalf("%d progress calls before done, want 2", n)
		}
	case <-time.After(waitLimit):
		t.Fatal("done not called")
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(seen, []int64{3, 8}) {
		t.Fatalf("progress %v, want [3 8]", seen)
	}
}
