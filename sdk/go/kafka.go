package autopilot

import "context"

// Kafka identity headers (CONTRACT.md, section 8): the producer attaches them to its own records so the
// contract gate can tell who wrote a record, where, which build, and in which trace.
const (
	HeaderProducer    = "autopilot-producer"
	HeaderEnv         = "autopilot-env"
	HeaderVersion     = "autopilot-version"
	HeaderTraceparent = "traceparent"
)

// KafkaHeader is one record header, as every Go Kafka client spells it.
type KafkaHeader struct {
	Key   string
	Value []byte
}

type identityHeaders []KafkaHeader // the fixed headers, built once; their values are shared and never written

func newIdentity(s Settings) identityHeaders {
	var fixed identityHeaders
	if s.Producer == "" {
		return nil
	}
	fixed = append(fixed, KafkaHeader{HeaderProducer, []byte(s.Producer)})
	if s.Env != "" {
		fixed = append(fixed, KafkaHeader{HeaderEnv, []byte(s.Env)})
	}
	if s.Version != "" {
		fixed = append(fixed, KafkaHeader{HeaderVersion, []byte(s.Version)})
	}
	return fixed
}

// KafkaHeaders are the identity headers for a record produced with ctx: autopilot-producer,
// autopilot-env and autopilot-version (when set), and traceparent (the trace in use in ctx). Empty
// while disabled, killed or shut down. The values are shared between records: never write into them.
func (c *Client) KafkaHeaders(ctx context.Context) []KafkaHeader {
	if c == nil || !c.accepting.Load() || len(c.identity) == 0 {
		return nil
	}
	t, traced := TraceFromContext(ctx)
	headers := make([]KafkaHeader, len(c.identity), len(c.identity)+1)
	copy(headers, c.identity)
	if traced {
		value := make([]byte, 55)
		t.put(value)
		headers = append(headers, KafkaHeader{HeaderTraceparent, value})
	}
	return headers
}
