package autopilot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ControlState is what the control plane says about this producer (sdk/spec/CONTRACT.md, section 9).
type ControlState struct {
	Enabled bool
	Killed  bool
	Ring    *int
	Domain  string
	Source  string // "default" (never asked, or no entry) or "control-plane"
}

// Sending reports whether the producer may send: enabled and not killed.
func (s ControlState) Sending() bool { return s.Enabled && !s.Killed }

func defaultControl() ControlState { return ControlState{Enabled: true, Source: "default"} }

// ControlURL is GET {endpoint}/v1/control/{producer}?env={env}, the URN percent-encoded as one path segment and
// the environment (AUTOPILOT_ENV) as the env query parameter, left out when empty. With env the service answers the
// producer's rollout flag in that environment; a server that predates it ignores env and answers the producer switch.
func ControlURL(endpoint, producer, env string) string {
	u := endpoint + "/v1/control/" + url.PathEscape(producer)
	if env != "" {
		u += "?env=" + strings.ReplaceAll(url.QueryEscape(env), "+", "%20")
	}
	return u
}

type controlPlane struct {
	client   *http.Client
	url      string
	token    string
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time
	problems *problems
	etag     string
	next     time.Time
	state    ControlState
}

func (c *controlPlane) due() time.Duration { return max(0, c.next.Sub(c.now())) }

// pollIfDue asks the control plane when a poll is due; any failure keeps the last known state, so an
// unreachable control plane neither kills nor revives a producer.
func (c *controlPlane) pollIfDue(ctx context.Context) ControlState {
	if c.now().Before(c.next) {
		return c.state
	}
	c.next = c.now().Add(c.interval)
	c.state = c.fetch(ctx)
	return c.state
}

func (c *controlPlane) fetch(ctx context.Context) ControlState {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		c.problems.report("control", "autopilot: control plane URL %q is unusable (%v); keeping the last state.", c.url, err)
		return c.state
	}
	requestHeaders(req, c.token)
	if c.etag != "" {
		req.Header.Set("If-None-Match", c.etag)
	}
	resp, err := c.do(req)
	if err != nil {
		c.problems.report("control", "autopilot: control plane unreachable (%s); keeping the last state.", describe(err))
		return c.state
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return c.state
	case http.StatusNotFound:
		c.problems.clear("control", "")
		return defaultControl()
	case http.StatusOK:
	default:
		c.problems.report("control", "autopilot: control plane answered HTTP %d; keeping the last state.", resp.StatusCode)
		return c.state
	}
	var answer struct {
		Enabled *bool   `json:"enabled"`
		Killed  *bool   `json:"killed"`
		Ring    *int    `json:"ring"`
		Domain  *string `json:"domain"`
	}
	if readErr == nil {
		readErr = json.Unmarshal(body, &answer)
	}
	if readErr != nil {
		c.problems.report("control", "autopilot: control plane answer is not JSON (%v); keeping the last state.", readErr)
		return c.state
	}
	state := ControlState{Enabled: answer.Enabled == nil || *answer.Enabled, Killed: answer.Killed != nil && *answer.Killed,
		Ring: answer.Ring, Source: "control-plane"}
	if answer.Domain != nil {
		state.Domain = *answer.Domain
	}
	c.problems.clear("control", "autopilot: control plane reachable again.")
	c.etag = resp.Header.Get("ETag")
	return state
}

func (c *controlPlane) do(req *http.Request) (resp *http.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, fmt.Errorf("transport panicked: %v", r)
		}
	}()
	return c.client.Do(req)
}
