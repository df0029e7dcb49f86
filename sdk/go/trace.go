package autopilot

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
)

// TraceContext is a W3C Trace Context (https://www.w3.org/TR/trace-context/#traceparent-header).
type TraceContext struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
}

const sampledFlag = 0x01

// Sampled reports the sampled flag.
func (t TraceContext) Sampled() bool { return t.Flags&sampledFlag != 0 }

// IsValid reports whether both ids are non-zero, as the spec requires.
func (t TraceContext) IsValid() bool { return t.TraceID != [16]byte{} && t.SpanID != [8]byte{} }

// String is the traceparent header value, version 00: "00-<trace id>-<span id>-<flags>".
func (t TraceContext) String() string {
	var out [55]byte
	t.put(out[:])
	return string(out[:])
}

func (t TraceContext) put(out []byte) {
	const digits = "0123456789abcdef"
	out[0], out[1], out[2] = '0', '0', '-'
	hex.Encode(out[3:35], t.TraceID[:])
	out[35] = '-'
	hex.Encode(out[36:52], t.SpanID[:])
	out[52] = '-'
	out[53], out[54] = digits[t.Flags>>4], digits[t.Flags&0x0f]
}

// ParseTraceparent reads a traceparent value. ok is false when the spec says to ignore it: not lower-case
// hex, version ff, an all-zero id, version 00 not exactly 55 characters. A later version may carry
// more fields after a '-'; its first four are read.
func ParseTraceparent(value string) (t TraceContext, ok bool) {
	value = strings.TrimSpace(value)
	if len(value) < 55 || value[2] != '-' || value[35] != '-' || value[52] != '-' {
		return t, false
	}
	version := value[0:2]
	if !lowerHex(version) || version == "ff" {
		return t, false
	}
	if len(value) != 55 && (version == "00" || value[55] != '-') {
		return t, false
	}
	if !lowerHex(value[3:35]) || !lowerHex(value[36:52]) || !lowerHex(value[53:55]) {
		return t, false
	}
	_, _ = hex.Decode(t.TraceID[:], []byte(value[3:35]))
	_, _ = hex.Decode(t.SpanID[:], []byte(value[36:52]))
	var flags [1]byte
	_, _ = hex.Decode(flags[:], []byte(value[53:55]))
	t.Flags = flags[0]
	return t, t.IsValid()
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// StartTrace begins a new trace at the edge: random 16-byte trace id, random 8-byte span id, sampled.
func StartTrace() TraceContext {
	var t TraceContext
	for t.TraceID == [16]byte{} {
		putRandom(t.TraceID[:])
	}
	t.SpanID = newSpanID()
	t.Flags = sampledFlag
	return t
}

// ContinueTrace joins the incoming traceparent with a new span id, keeping the trace id and the sampled
// flag; when incoming is missing or invalid it starts a new trace.
func ContinueTrace(incoming string) TraceContext {
	parent, ok := ParseTraceparent(incoming)
	if !ok {
		return StartTrace()
	}
	return TraceContext{TraceID: parent.TraceID, SpanID: newSpanID(), Flags: parent.Flags & sampledFlag}
}

func newSpanID() [8]byte {
	var id [8]byte
	for id == [8]byte{} {
		putRandom(id[:])
	}
	return id
}

type traceKey struct{}

// ContextWithTrace returns ctx carrying t as the trace in use: events emitted and Kafka records produced
// with that context carry its traceparent.
func ContextWithTrace(ctx context.Context, t TraceContext) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFromContext is the trace in use in ctx, if any.
func TraceFromContext(ctx context.Context) (TraceContext, bool) {
	if ctx == nil {
		return TraceContext{}, false
	}
	t, ok := ctx.Value(traceKey{}).(TraceContext)
	return t, ok
}

// Middleware continues the caller's trace (the request's traceparent header) or starts one at the
// edge, and serves next with it in the request's context. Tracing belongs to the host, so it works the
// same whether a Client is enabled or not.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := ContinueTrace(r.Header.Get("traceparent"))
		next.ServeHTTP(w, r.WithContext(ContextWithTrace(r.Context(), t)))
	})
}

// Inject sets the traceparent header of an outgoing request from the trace in use in ctx.
func Inject(ctx context.Context, header http.Header) {
	if t, ok := TraceFromContext(ctx); ok {
		header.Set("traceparent", t.String())
	}
}
