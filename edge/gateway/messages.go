package gateway

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse/gatehouse/policy"
)

// messages is Anthropic's POST /v1/messages: passed through to anthropic/
// deployments, translated to a chat completion for the others. Errors on
// it are in Anthropic's envelope (httpx.AnthropicRoute).
func (g *Gateway) messages(c *fiber.Ctx) error { return g.llmCall(c, policy.EndpointMessages) }

// messagesCountTokens is POST /v1/messages/count_tokens, for anthropic/
// deployments (others answer a 400 naming the endpoint).
func (g *Gateway) messagesCountTokens(c *fiber.Ctx) error {
	return g.llmCall(c, policy.EndpointCountTokens)
}

// anthropicHeaders are the client headers a Messages API passthrough
// sends on: the API version the client was written against and the beta
// features it opted into (Claude Code sends several).
var anthropicHeaders = []string{"anthropic-version", "anthropic-beta"}

// passHeaders are the client headers ep sends upstream; nil (no
// allocation) for every endpoint but the Messages API's.
func passHeaders(c *fiber.Ctx, ep policy.Endpoint) map[string]string {
	if ep != policy.EndpointMessages && ep != policy.EndpointCountTokens {
		return nil
	}
	var out map[string]string
	for _, h := range anthropicHeaders {
		if v := c.Get(h); v != "" {
			if out == nil {
				out = make(map[string]string, len(anthropicHeaders))
			}
			out[h] = strings.Clone(v) // c.Get aliases fasthttp's buffer
		}
	}
	return out
}
