package autopilot

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"
)

// EventType is one of the envelope v1 types (DESIGN.md, "Envelope v1"): exact names, no aliases.
type EventType string

const (
	DeploymentEvent       EventType = "DeploymentEvent"
	JobRunStarted         EventType = "JobRunStarted"
	JobRunCompleted       EventType = "JobRunCompleted"
	JobRunFailed          EventType = "JobRunFailed"
	DatasetWriteCommitted EventType = "DatasetWriteCommitted"
	// SdkHealth is the SDK's own periodic self-telemetry (CONTRACT.md section 15), sent by the worker when
	// HealthInterval is above 0.
	SdkHealth EventType = "SdkHealth"
)

// requiredData are the data fields the service requires per type; the SDK checks them before sending
// so a producer's own mistake is logged once at home rather than refused by the service.
var requiredData = map[EventType][]string{
	DeploymentEvent:       {"service", "version"},
	JobRunStarted:         {"run_id"},
	JobRunCompleted:       {"run_id"},
	JobRunFailed:          {"run_id"},
	DatasetWriteCommitted: {"dataset_urn"},
	SdkHealth:             {"language", "sdk_version"},
}

// Valid reports whether t is one of the envelope v1 types.
func (t EventType) Valid() bool { _, ok := requiredData[t]; return ok }

// BatchContentType is the media type of a POST /v1/events batch.
const BatchContentType = "application/cloudevents-batch+json"

// Event is what a producer hands to Emit: the type, its data (snake_case fields), and the optional
// CloudEvents attributes. Zero values mean "the default": a generated ID, the time of Emit, the
// producer URN as source, the trace of the context as traceparent.
type Event struct {
	Type        EventType
	Data        map[string]any
	Subject     string // the dataset URN, when the event is about one
	ID          string // the idempotency key; generated once (and kept across retries) when empty
	Time        time.Time
	Traceparent string
	Source      string
	Extensions  map[string]any // CloudEvents extension attributes; never replace core ones
}

// Envelope is one built envelope v1 event: a CloudEvents 1.0 event in structured JSON mode.
type Envelope struct {
	ID          string
	Type        EventType
	Source      string
	Time        time.Time
	Data        map[string]any
	Subject     string
	Traceparent string
	Extensions  map[string]any
}

var coreAttributes = map[string]bool{
	"specversion": true, "datacontenttype": true, "id": true, "type": true, "source": true,
	"time": true, "data": true, "subject": true, "traceparent": true,
}

// Build makes the envelope of e as the SDK would send it, filling the defaults from source and now.
func Build(e Event, source string, now time.Time) Envelope {
	if e.Source != "" {
		source = e.Source
	}
	when := e.Time
	if when.IsZero() {
		when = now
	}
	id := e.ID
	if id == "" {
		id = NewEventID()
	}
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	return Envelope{ID: id, Type: e.Type, Source: source, Time: when, Data: data, Subject: e.Subject,
		Traceparent: e.Traceparent, Extensions: e.Extensions}
}

// NewEventID is 128 random bits as 32 hex digits, like a UUIDv4 without dashes.
func NewEventID() string {
	var raw [16]byte
	putRandom(raw[:])
	return hex.EncodeToString(raw[:])
}

func putRandom(dst []byte) {
	// math/rand/v2's global source is ChaCha8, seeded from the OS and safe for concurrent use: random
	// enough for ids, and no system call per event.
	for i := 0; i < len(dst); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < len(dst); j++ {
			dst[i+j] = byte(v >> (8 * j))
		}
	}
}

// FormatTime writes t in RFC 3339 with its offset, as CloudEvents requires: "Z" for a time in UTC,
// the numeric offset (+00:00, -05:00) for any other zone, so a time parsed from an RFC 3339 string is
// written back as it was. Fractions go to the microsecond, as the Python SDK writes them.
func FormatTime(t time.Time) string { return string(appendTime(nil, t)) }

// Problem says why the service would reject this envelope, in a sentence; "" when it looks acceptable.
// Only the checks that catch a producer's own mistakes early are repeated here (sdk/spec/vectors/invalid.json).
func (e Envelope) Problem() string {
	return problem(e.Type, e.Source, func(key string) any { return e.Data[key] })
}

func problem(eventType EventType, source string, lookup func(string) any) string {
	required, known := requiredData[eventType]
	if !known {
		return fmt.Sprintf("type %q is not one of DatasetWriteCommitted, DeploymentEvent, JobRunCompleted, JobRunFailed, JobRunStarted", string(eventType))
	}
	if source == "" {
		return "it has no source; set AUTOPILOT_SERVICE or AUTOPILOT_PRODUCER, or Event.Source"
	}
	for _, name := range required {
		if empty(lookup(name)) {
			return fmt.Sprintf("data.%s is required for %s", name, eventType)
		}
	}
	return ""
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	}
	return false
}

// MarshalJSON writes the attributes in the order of sdk/spec/vectors, extensions last and sorted.
func (e Envelope) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := e.appendJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (e Envelope) appendJSON(buf *bytes.Buffer) error {
	fields := make([]field, 0, len(e.Data))
	for key, value := range e.Data {
		fields = append(fields, field{key, value})
	}
	return appendEvent(buf, e.ID, e.Type, e.Source, e.Time, fields, e.Subject, e.Traceparent, nil, e.Extensions)
}

// appendEvent writes one envelope v1 event: what Envelope.MarshalJSON and the worker both use, so the
// conformance vectors test the bytes the worker sends. The data fields are written sorted by name. A
// traceparent is given as text, or as a TraceContext (the worker's, to skip a string per event).
func appendEvent(buf *bytes.Buffer, id string, eventType EventType, source string, when time.Time, fields []field,
	subject, traceparent string, trace *TraceContext, extensions map[string]any) error {
	mark := buf.Len()
	fail := func(err error) error { buf.Truncate(mark); return err }
	buf.WriteString(`{"specversion":"1.0","datacontenttype":"application/json","id":`)
	writeString(buf, id)
	buf.WriteString(`,"type":`)
	writeString(buf, string(eventType))
	buf.WriteString(`,"source":`)
	writeString(buf, source)
	buf.WriteString(`,"time":"`)
	buf.Write(appendTime(buf.AvailableBuffer(), when))
	buf.WriteString(`","data":{`)
	sort.Slice(fields, func(i, j int) bool { return fields[i].key < fields[j].key })
	for i, f := range fields {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, f.key)
		buf.WriteByte(':')
		if err := writeValue(buf, f.value); err != nil {
			return fail(fmt.Errorf("data.%s: %w", f.key, err))
		}
	}
	buf.WriteByte('}')
	if subject != "" {
		buf.WriteString(`,"subject":`)
		writeString(buf, subject)
	}
	if trace != nil {
		buf.WriteString(`,"traceparent":"`)
		var text [55]byte
		trace.put(text[:])
		buf.Write(text[:])
		buf.WriteByte('"')
	} else if traceparent != "" {
		buf.WriteString(`,"traceparent":`)
		writeString(buf, traceparent)
	}
	if len(extensions) > 0 {
		names := make([]string, 0, len(extensions))
		for name := range extensions {
			if !coreAttributes[name] {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		for _, name := range names {
			buf.WriteByte(',')
			writeString(buf, name)
			buf.WriteByte(':')
			if err := writeValue(buf, extensions[name]); err != nil {
				return fail(fmt.Errorf("extension %s: %w", name, err))
			}
		}
	}
	buf.WriteByte('}')
	return nil
}

// writeValue writes the common scalar types directly and leaves the rest to encoding/json.
func writeValue(buf *bytes.Buffer, value any) error {
	switch v := value.(type) {
	case string:
		writeString(buf, v)
	case bool:
		buf.Write(strconv.AppendBool(buf.AvailableBuffer(), v))
	case int:
		buf.Write(strconv.AppendInt(buf.AvailableBuffer(), int64(v), 10))
	case int64:
		buf.Write(strconv.AppendInt(buf.AvailableBuffer(), v, 10))
	case nil:
		buf.WriteString("null")
	default:
		encoded, err := json.Marshal(v)
		if err != nil {
			return err
		}
		buf.Write(encoded)
	}
	return nil
}

// appendTime is FormatTime without the string.
func appendTime(dst []byte, t time.Time) []byte {
	if t.Location() == time.UTC {
		return t.AppendFormat(dst, "2006-01-02T15:04:05.999999Z")
	}
	return t.AppendFormat(dst, "2006-01-02T15:04:05.999999-07:00")
}

func writeString(buf *bytes.Buffer, s string) {
	if !needsEscape(s) {
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	quoted, _ := json.Marshal(s) // a string always encodes
	buf.Write(quoted)
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return true
		}
	}
	return false
}

// EncodeBatch writes envelopes as one JSON array. Envelopes that cannot be encoded (a channel or a
// function in Data) are left out and returned, so one bad event never costs the rest of its batch.
func EncodeBatch(events []Envelope) (body []byte, bad []int) {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, e := range events {
		if buf.Len() > 1 {
			buf.WriteByte(',')
		}
		if err := e.appendJSON(&buf); err != nil {
			if buf.Len() > 1 && buf.Bytes()[buf.Len()-1] == ',' {
				buf.Truncate(buf.Len() - 1)
			}
			bad = append(bad, i)
		}
	}
	buf.WriteByte(']')
	return buf.Bytes(), bad
}

// unsafeID is what may not appear in a deterministic id; runs of it become "_".
func sanitizeID(s string) string {
	var b strings.Builder
	under := false
	for _, r := range s {
		ok := r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:@+-", r))
		if ok {
			b.WriteRune(r)
			under = false
		} else if !under {
			b.WriteByte('_')
			under = true
		}
	}
	return b.String()
}
