package autopilot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// sdkVersion goes into the User-Agent: autopilot-go/<version>.
const sdkVersion = "0.1.0"

const (
	userAgent        = "autopilot-go/" + sdkVersion
	dropsHeader      = "Autopilot-Signals-Dropped"
	maxResponseBytes = 1 << 20 // the service answers a few KiB; never buffer an unbounded reply
)

type outcome int

const (
	delivered outcome = iota // 2xx: the service has the batch (items it rejected are counted apart)
	retry                    // no answer, 408, 429, 5xx
	refused                  // any other 4xx, 3xx: resending will not change the service's mind
)

type submission struct {
	outcome    outcome
	delivered  int // accepted + duplicate
	rejected   int // items the service rejected in a 2xx, or the whole batch when refused
	retryAfter time.Duration
	detail     string   // for the one log line a problem gets
	rejections []string // "id: field: error" per rejected item
}

// newHTTPClient is the SDK's own client: a connect timeout on the dial and the TLS handshake, a few
// kept connections dropped after 4 s idle (below the usual server keep-alive timeouts, so the server
// never closes one under a request), proxies from the environment. The total timeout is a context
// deadline per request, which also bounds a server that trickles its answer.
func newHTTPClient(connect time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   connect,
			MaxIdleConns:          2,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       4 * time.Second,
			ExpectContinueTimeout: time.Second,
			ForceAttemptHTTP2:     true,
		},
		// A redirect is the wrong endpoint; following it would resend the batch somewhere unintended.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func requestHeaders(req *http.Request, token string) {
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
}

// submit POSTs one batch once, within timeout (and ctx); it never panics and never returns an error:
// every failure is an outcome.
func submit(ctx context.Context, client *http.Client, endpoint, token string, body []byte, count int,
	timeout time.Duration, extra http.Header) (result submission) {
	defer func() {
		if r := recover(); r != nil { // a user-supplied RoundTripper may panic; the host must not see it
			result = submission{outcome: retry, detail: fmt.Sprintf("transport panicked: %v", r)}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return submission{outcome: refused, rejected: count, detail: fmt.Sprintf("bad endpoint %q: %v", endpoint, err)}
	}
	requestHeaders(req, token)
	req.Header.Set("Content-Type", BatchContentType)
	for name, values := range extra {
		req.Header[name] = values
	}
	resp, err := client.Do(req)
	if err != nil {
		return submission{outcome: retry, detail: describe(err)}
	}
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	resp.Body.Close()
	status := resp.StatusCode
	switch {
	case status >= 200 && status < 300:
		if readErr != nil {
			// The service answered 2xx and then the body broke off: it has the batch.
			return submission{outcome: delivered, delivered: count}
		}
		return accepted(answer, count)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return submission{outcome: retry, retryAfter: retryAfter(resp.Header.Get("Retry-After")),
			detail: fmt.Sprintf("HTTP %d: %s", status, snippet(answer))}
	}
	return submission{outcome: refused, rejected: count, detail: fmt.Sprintf("HTTP %d: %s", status, snippet(answer))}
}

func describe(err error) string {
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()) {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

func snippet(body []byte) string {
	if len(body) > 200 {
		body = body[:200]
	}
	return string(bytes.ToValidUTF8(body, []byte("?")))
}

func accepted(body []byte, count int) submission {
	var answer struct {
		Results []struct {
			ID     any    `json:"id"`
			Status string `json:"status"`
			Field  string `json:"field"`
			Error  string `json:"error"`
		} `json:"results"`
	}
	_ = json.Unmarshal(body, &answer) // a body without results means all were taken
	var rejections []string
	for _, item := range answer.Results {
		if item.Status == "rejected" {
			field, why := item.Field, item.Error
			if field == "" {
				field = "-"
			}
			if why == "" {
				why = "rejected"
			}
			rejections = append(rejections, fmt.Sprintf("%v: %s: %s", item.ID, field, why))
		}
	}
	rejected := min(len(rejections), count)
	return submission{outcome: delivered, delivered: count - rejected, rejected: rejected, rejections: rejections}
}

func retryAfter(raw string) time.Duration {
	seconds, err := strconv.ParseFloat(raw, 64)
	if err != nil || seconds < 0 {
		return 0 // absent, or an HTTP-date: the exponential backoff is good enough
	}
	return time.Duration(seconds * float64(time.Second))
}
