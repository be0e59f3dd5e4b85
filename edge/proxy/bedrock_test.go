package proxy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/testutil"
	"github.com/gatehouse/gatehouse/policy"
)

const (
	testAWSKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testAWSSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testAWSToken  = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLESESSIONTOKEN"
)

func bedrockDeployment(base string) *policy.Deployment {
	return &policy.Deployment{ID: "br-1", ModelName: "claude-br", Provider: policy.ProviderBedrock,
		UpstreamModel: "anthropic.claude-3-5-sonnet-20240620-v1:0", Model: &events.Model{},
		AWS: policy.AWSParams{AccessKeyID: testAWSKeyID, SecretAccessKey: testAWSSecret, SessionToken: testAWSToken,
			Region: "us-east-1", RuntimeEndpoint: base}}
}

// eventStreamFrames encodes a recorded ConverseStream (one message per
// line: its headers and JSON payload) with the SDK's own encoder, so the
// fake sends real event-stream framing, CRCs included.
func eventStreamFrames(t *testing.T, name string) [][]byte {
	t.Helper()
	var out [][]byte
	enc := eventstream.NewEncoder()
	for _, line := range bytes.Split(bytes.TrimSpace(testdata(t, name)), []byte("\n")) {
		var rec struct {
			Headers map[string]string `json:"headers"`
			Payload json.RawMessage   `json:"payload"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var msg eventstream.Message
		for _, k := range []string{":event-type", ":exception-type", ":content-type", ":message-type"} {
			if v, ok := rec.Headers[k]; ok {
				msg.Headers.Set(k, eventstream.StringValue(v))
			}
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, rec.Payload); err != nil {
			t.Fatal(err)
		}
		msg.Payload = compact.Bytes()
		var buf bytes.Buffer
		if err := enc.Encode(&buf, msg); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

type awsRecorded struct {
	recorded
	host, rawPath string
}

// awsUpstream is a fake Bedrock runtime: it records each request (with
// its escaped path, which the signature covers) and answers with status
// and body, or with event-stream frames sent one write and flush each.
type awsUpstream struct {
	reqs chan awsRecorded
	gate chan struct{}
}

func bedrockFake(t *testing.T, status int, body []byte, frames [][]byte) (*awsUpstream, string) {
	t.Helper()
	u := &awsUpstream{reqs: make(chan awsRecorded, 16)}
	srv := startUpstream(t, func(w http.ResponseWriter, r *http.Request, stop <-chan struct{}) {
		b, _ := io.ReadAll(r.Body)
		u.reqs <- awsRecorded{recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: b},
			r.Host, r.URL.EscapedPath()}
		w.Header().Set("X-Amzn-Requestid", "5d7e2f3a-9c1b-4c55-8a7e-0b4e1f2a3c4d")
		if frames == nil {
			w.Header().Set("Content-Type", "application/json")
			if status == 429 {
				w.Header().Set("X-Amzn-Errortype", "ThrottlingException")
			}
			w.WriteHeader(status)
			_, _ = w.Write(body)
			return
		}
		w.Header().Set("Content-Type", amzEventStream)
		w.WriteHeader(200)
		rc := http.NewResponseController(w)
		for i, f := range frames {
			if _, err := w.Write(f); err != nil {
				return
			}
			_ = rc.Flush()
			if u.gate != nil && i == 0 {
				select {
				case <-u.gate:
				case <-stop:
					return
				}
			}
		}
	})
	return u, srv.URL
}

func (u *awsUpstream) next(t *testing.T) awsRecorded {
	t.Helper()
	return testutil.Receive(t, u.reqs, waitLimit, "upstream was not called")
}

// checkSigV4 re-signs the request the fake received with the SDK's own
// signer (same credentials, same time, the headers it says it signed)
// and compares: a path, header or body changed after signing, or a
// header signed but not sent, makes them differ.
func checkSigV4(t *testing.T, r awsRecorded, service, region string) {
	t.Helper()
	checkSigV4With(t, r, aws.Credentials{AccessKeyID: testAWSKeyID, SecretAccessKey: testAWSSecret, SessionToken: testAWSToken}, service, region)
}

func checkSigV4With(t *testing.T, r awsRecorded, creds aws.Credentials, service, region string) {
	t.Helper()
	auth := r.header.Get("Authorization")
	wantScope := "AWS4-HMAC-SHA256 Credential=" + creds.AccessKeyID + "/"
	if !strings.HasPrefix(auth, wantScope) || !strings.Contains(auth, "/"+region+"/"+service+"/aws4_request, ") {
		t.Fatalf("Authorization %q: want a SigV4 signature for %s in %s", auth, service, region)
	}
	_, signed, _ := strings.Cut(auth, "SignedHeaders=")
	signed, _, _ = strings.Cut(signed, ",")
	wantSigned := "accept;content-type;host;x-amz-date"
	if creds.SessionToken != "" {
		wantSigned += ";x-amz-security-token"
	}
	if signed != wantSigned {
		t.Errorf("SignedHeaders=%s, want %s", signed, wantSigned)
	}
	when, err := time.Parse("20060102T150405Z", r.header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	hr, err := http.NewRequest(r.method, "http://"+r.host+r.rawPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "x-amz-date" && h != "x-amz-security-token" {
			hr.Header.Set(h, r.header.Get(h))
		}
	}
	sum := sha256.Sum256(r.body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, hr, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		t.Fatal(err)
	}
	if got, want := auth, hr.Header.Get("Authorization"); got != want {
		t.Errorf("signature does not verify:\n got  %s\n want %s", got, want)
	}
	if got := r.header.Get("X-Amz-Security-Token"); got != creds.SessionToken {
		t.Errorf("X-Amz-Security-Token %q", got)
	}
}

func TestProviderBedrockRequestTranslation(t *testing.T) {
	up, base := bedrockFake(t, 200, nil, eventStreamFrames(t, "bedrock_stream.jsonl"))
	d := bedrockDeployment(base)
	d.ExtraHeaders = map[string]string{"X-Team": "search"}
	e := startEdge(t, newTestForwarder(), d)
	postOK(t, e.url, string(testdata(t, "chat_request_rich_inline.json")), nil)
	r := up.next(t)
	if r.method != "POST" || r.rawPath != "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream" {
		t.Errorf("upstream %s %s", r.method, r.rawPath)
	}
	checkHeaders(t, r.header, map[string]string{"Content-Type": "application/json", "Accept": "text/event-stream", "X-Team": "search", "X-Api-Key": ""})
	checkSigV4(t, r, "bedrock", "us-east-1")
	golden(t, "bedrock_request_rich.json", r.body)
	e.waitResult(t)

	// Refused before anything is sent: an image by URL (Converse takes
	// bytes only) and a parameter Converse has no equivalent for.
	for _, tc := range []struct{ body, param string }{
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}]}`, "messages[0].content"},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true}`, "logprobs"},
	} {
		resp := post(t, e.url, tc.body, nil)
		body := readAll(t, resp.Body)
		be := decodeError(t, body)
		if resp.StatusCode != 400 || be.Param == nil || *be.Param != tc.param || !strings.Contains(be.Message, "bedrock") {
			t.Errorf("%s: %d %s", tc.param, resp.StatusCode, body)
		}
		e.waitResult(t)
	}
	select {
	case r := <-up.reqs:
		t.Errorf("a refused request reached the upstream: %s", r.body)
	default:
	}
}

func TestProviderBedrockResponses(t *testing.T) {
	for _, tc := range []struct {
		file, model, rawPath string
		prompt, completion   int64
		finish               string
	}{
		{"bedrock_converse.json", "", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", 12, 10, "stop"},
		{"bedrock_converse_tool_use.json", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
			"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3/converse", 384 + 1024 + 2048, 64, "tool_calls"},
		{"bedrock_converse_max_tokens.json", "", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", 9, 5, "length"},
	} {
		up, base := bedrockFake(t, 200, testdata(t, tc.file), nil)
		d := bedrockDeployment(base)
		if tc.model != "" {
			d.UpstreamModel = tc.model
		}
		e := startEdge(t, newTestForwarder(), d)
		resp := post(t, e.url, `{"model":"claude-br","messages":[{"role":"user","content":"hi"}],"max_tokens":100}`, nil)
		body := readAll(t, resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("X-Upstream-Request-Id") != "5d7e2f3a-9c1b-4c55-8a7e-0b4e1f2a3c4d" {
			t.Fatalf("%s: status %d (request id %q): %s", tc.file, resp.StatusCode, resp.Header.Get("X-Upstream-Request-Id"), body)
		}
		r := up.next(t)
		if r.rawPath != tc.rawPath || string(r.body) != `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":100}}` {
			t.Errorf("%s: upstream %s %s", tc.file, r.rawPath, r.body)
		}
		checkSigV4(t, r, "bedrock", "us-east-1")
		checkCompletion(t, e, tc.file, body, tc.finish, tc.prompt, tc.completion)
	}
}

func TestProviderBedrockStream(t *testing.T) {
	for _, tc := range []streamCase{
		{"bedrock_stream.jsonl", false, 25, 15},
		{"bedrock_stream.jsonl", true, 25, 15},
		{"bedrock_stream_tools.jsonl", true, 472, 89},
	} {
		up, base := bedrockFake(t, 200, nil, eventStreamFrames(t, tc.file))
		up.gate = make(chan struct{})
		e := startEdge(t, newTestForwarder(), bedrockDeployment(base))
		checkStream(t, e, tc, "claude-br", ".jsonl", func() { checkSigV4(t, up.next(t), "bedrock", "us-east-1") }, func() { close(up.gate) })
	}
}

func TestProviderBedrockErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		status      int
		file        string
		stream      bool
		wantStatus  int
		wantType    string
		wantInMsg   string
		notInAnswer string
	}{
		{"throttled", 429, "bedrock_error_throttling.json", false, 429, "rate_limit_error", "Too many requests", ""},
		{"bad credentials", 403, "bedrock_error_validation.json", false, 502, "upstream_error", "rejected the gateway's credentials", testAWSKeyID},
		{"stream throttled at once", 200, "bedrock_stream_throttled.jsonl", true, 429, "rate_limit_error", "Too many tokens", ""},
	} {
		var up *awsUpstream
		var base string
		if tc.stream {
			up, base = bedrockFake(t, 200, nil, eventStreamFrames(t, tc.file))
		} else {
			up, base = bedrockFake(t, tc.status, testdata(t, tc.file), nil)
		}
		e := startEdge(t, newTestForwarder(), bedrockDeployment(base))
		resp := post(t, e.url, `{"model":"claude-br","stream":`+map[bool]string{true: "true", false: "false"}[tc.stream]+`,"messages":[{"role":"user","content":"hi"}]}`, nil)
		body := readAll(t, resp.Body)
		up.next(t)
		be := decodeError(t, body)
		if resp.StatusCode != tc.wantStatus || be.Type != tc.wantType || !strings.Contains(be.Message, tc.wantInMsg) {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
		if tc.notInAnswer != "" && strings.Contains(body, tc.notInAnswer) {
			t.Errorf("%s: the answer holds %q: %s", tc.name, tc.notInAnswer, body)
		}
		if err := e.waitDone(t); err == nil {
			t.Errorf("%s: the forwarder reported success", tc.name)
		}
	}

	// A stream that fails after content ends with an error event, not
	// [DONE], so the cut answer does not look complete.
	up, base := bedrockFake(t, 200, nil, eventStreamFrames(t, "bedrock_stream_cut.jsonl"))
	e := startEdge(t, newTestForwarder(), bedrockDeployment(base))
	resp := post(t, e.url, `{"model":"claude-br","stream":true,"messages":[{"role":"user","content":"hi"}]}`, nil)
	body := readAll(t, resp.Body)
	up.next(t)
	if resp.StatusCode != 200 || !strings.Contains(body, `"content":"Hello"`) || !strings.Contains(body, `"error"`) || strings.Contains(body, "[DONE]") {
		t.Errorf("cut stream: %d %s", resp.StatusCode, body)
	}
	if err := e.waitDone(t); err == nil {
		t.Error("cut stream reported as a success")
	}
}

// TestProviderBedrockCredentialChain: without keys in litellm_params the
// standard AWS chain (here the environment) signs; with aws_role_name the
// role is assumed through STS once and its temporary credentials sign
// every call until they near expiry.
func TestProviderBedrockCredentialChain(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env/secret/EXAMPLEKEY0000000000000001")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")

	t.Run("environment", func(t *testing.T) {
		up, base := bedrockFake(t, 200, testdata(t, "bedrock_converse.json"), nil)
		d := bedrockDeployment(base)
		d.AWS = policy.AWSParams{Region: "eu-west-1", RuntimeEndpoint: base}
		e := startEdge(t, newTestForwarder(), d)
		resp := post(t, e.url, `{"model":"claude-br","messages":[{"role":"user","content":"hi"}]}`, nil)
		if body := readAll(t, resp.Body); resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		checkSigV4With(t, up.next(t), aws.Credentials{AccessKeyID: "AKIAENVEXAMPLE000001", SecretAccessKey: "env/secret/EXAMPLEKEY0000000000000001"}, "bedrock", "eu-west-1")
		e.waitResult(t)
	})

	t.Run("assumed role", func(t *testing.T) {
		var assumed atomic.Int32
		var form url.Values
		sts := startUpstream(t, func(w http.ResponseWriter, r *http.Request, _ <-chan struct{}) {
			_ = r.ParseForm()
			form = r.PostForm
			assumed.Add(1)
			w.Header().Set("Content-Type", "text/xml")
			_, _ = fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/bedrock-invoke/gw-test</Arn><AssumedRoleId>AROA3XFRBF535PLBIFPI4:gw-test</AssumedRoleId></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAROLEEXAMPLE00001</AccessKeyId>
      <SecretAccessKey>role/secret/EXAMPLEKEY00000000000001</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLEROLETOKEN</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		})
		t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
		up, base := bedrockFake(t, 200, testdata(t, "bedrock_converse.json"), nil)
		d := bedrockDeployment(base)
		d.AWS.RoleName = "arn:aws:iam::123456789012:role/bedrock-invoke"
		d.AWS.SessionName = "gw-test"
		e := startEdge(t, newTestForwarder(), d)
		role := aws.Credentials{AccessKeyID: "ASIAROLEEXAMPLE00001", SecretAccessKey: "role/secret/EXAMPLEKEY00000000000001", SessionToken: "IQoJb3JpZ2luX2VjEXAMPLEROLETOKEN"}
		for range 2 {
			resp := post(t, e.url, `{"model":"claude-br","messages":[{"role":"user","content":"hi"}]}`, nil)
			if body := readAll(t, resp.Body); resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			checkSigV4With(t, up.next(t), role, "bedrock", "us-east-1")
			e.waitResult(t)
		}
		if n := assumed.Load(); n != 1 {
			t.Errorf("AssumeRole called %d times for 2 calls", n)
		}
		if form.Get("Action") != "AssumeRole" || form.Get("RoleArn") != d.AWS.RoleName || form.Get("RoleSessionName") != "gw-test" {
			t.Errorf("AssumeRole request %v", form)
		}
	})
}
