package autopilot_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	autopilot "autopilot-go"
)

var spec = filepath.Join("..", "spec")

type vector struct {
	Name  string         `json:"name"`
	Event map[string]any `json:"event"`
	Error struct {
		Field           string `json:"field"`
		MessageContains string `json:"message_contains"`
	} `json:"error"`
}

func vectors(t *testing.T, file string) []vector {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(spec, "vectors", file))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Vectors []vector }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Vectors) == 0 {
		t.Fatalf("%s has no vectors", file)
	}
	return doc.Vectors
}

func schema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	compiler := jsonschema.NewCompiler()
	compiler.AssertFormat()
	compiled, err := compiler.Compile(filepath.Join(spec, "envelope.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return compiled
}

var core = map[string]bool{"specversion": true, "datacontenttype": true, "id": true, "type": true, "source": true,
	"time": true, "data": true, "subject": true, "traceparent": true}

func str(m map[string]any, key string) string { s, _ := m[key].(string); return s }

// rebuild makes the vector's event with the SDK, from the same inputs, and reads it back as JSON.
func rebuild(t *testing.T, event map[string]any) map[string]any {
	t.Helper()
	when, err := time.Parse(time.RFC3339Nano, str(event, "time"))
	if err != nil {
		t.Fatal(err)
	}
	extensions := map[string]any{}
	for key, value := range event {
		if !core[key] {
			extensions[key] = value
		}
	}
	data, _ := event["data"].(map[string]any)
	built := autopilot.Build(autopilot.Event{Type: autopilot.EventType(str(event, "type")), Data: data,
		Subject: str(event, "subject"), ID: str(event, "id"), Time: when, Traceparent: str(event, "traceparent"),
		Extensions: extensions}, str(event, "source"), time.Now())
	return roundTrip(t, built)
}

func roundTrip(t *testing.T, e autopilot.Envelope) map[string]any {
	t.Helper()
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return out
}

func TestEveryValidVectorIsRebuiltExactlyAndFitsTheSchema(t *testing.T) {
	compiled := schema(t)
	for _, v := range vectors(t, "valid.json") {
		t.Run(v.Name, func(t *testing.T) {
			built := rebuild(t, v.Event)
			if !reflect.DeepEqual(built, v.Event) {
				t.Fatalf("built\n%v\nwant\n%v", built, v.Event)
			}
			if err := compiled.Validate(built); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTheLocalCheckCatchesWhatTheServiceWouldReject(t *testing.T) {
	checked := 0
	for _, v := range vectors(t, "invalid.json") {
		field := v.Error.Field
		mustCatch := field == "type" || field == "source" ||
			(strings.HasPrefix(field, "data.") && strings.Contains(v.Error.MessageContains, "required"))
		if !mustCatch {
			continue
		}
		checked++
		data, _ := v.Event["data"].(map[string]any)
		e := autopilot.Envelope{ID: str(v.Event, "id"), Type: autopilot.EventType(str(v.Event, "type")),
			Source: str(v.Event, "source"), Data: data}
		if e.Problem() == "" {
			t.Errorf("%s: the local check let it through (the service names %s)", v.Name, field)
		}
	}
	if checked < 4 {
		t.Fatalf("only %d invalid vectors exercised the local check", checked)
	}
	ok := autopilot.Envelope{Type: autopilot.DeploymentEvent, Source: "svc://s",
		Data: map[string]any{"service": "s", "version": "1"}}
	if why := ok.Problem(); why != "" {
		t.Fatal(why)
	}
}

func TestTheCIDeployHelperBuildsTheCIVector(t *testing.T) {
	var want map[string]any
	for _, v := range vectors(t, "valid.json") {
		if v.Name == "deployment-from-ci" {
			want = v.Event
		}
	}
	when, _ := time.Parse(time.RFC3339, str(want, "time"))
	built := autopilot.CIDeployment(autopilot.Deploy{Service: "checkout-service", Version: "v2.8.1", Commit: "3f9c2ab",
		Env: "prod", Domain: "orders", ID: str(want, "id"), Time: when}, time.Now())
	if got := roundTrip(t, built); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

func TestTheStartupFallbackHasTheVectorsFields(t *testing.T) {
	var want map[string]any
	for _, v := range vectors(t, "valid.json") {
		if v.Name == "deployment-startup-fallback" {
			want = v.Event["data"].(map[string]any)
		}
	}
	data := autopilot.StartupDeployment(autopilot.Settings{Service: "payments-service", Version: "v1.4.0"})
	for key, value := range want {
		if data[key] != value {
			t.Errorf("data.%s = %v, want %v", key, data[key], value)
		}
	}
	built := autopilot.Build(autopilot.Event{Type: autopilot.DeploymentEvent, Data: data}, "svc://payments-service", time.Now())
	if err := schema(t).Validate(roundTrip(t, built)); err != nil {
		t.Fatal(err)
	}
}

func TestACIDeployIDIsDeterministicAndNamesTheEnv(t *testing.T) {
	tests := []struct {
		service, env, version, commit, want string
	}{
		{"s", "staging", "1.0", "abc", "deploy-s-staging-1.0-abc"},
		{"s", "prod", "1.0", "abc", "deploy-s-prod-1.0-abc"},
		{"s", "", "1.0", "", "deploy-s---1.0--"},
		{"my svc", "prod", "v1/2", "abc", "deploy-my_svc-prod-v1_2-abc"},
	}
	for _, tt := range tests {
		if got := autopilot.CIEventID(tt.service, tt.env, tt.version, tt.commit); got != tt.want {
			t.Errorf("CIEventID(%q, %q, %q, %q) = %q, want %q", tt.service, tt.env, tt.version, tt.commit, got, tt.want)
		}
	}
}

func TestTimesAreRFC3339WithAnOffsetAndRoundTrip(t *testing.T) {
	eastern := time.FixedZone("", -5*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 3, 10, 10, 20, 0, 0, time.UTC), "2026-03-10T10:20:00Z"},
		{time.Date(2026, 1, 19, 1, 0, 0, 0, eastern), "2026-01-19T01:00:00-05:00"},
		{time.Date(2026, 3, 10, 10, 20, 0, 123456000, time.FixedZone("", 0)), "2026-03-10T10:20:00.123456+00:00"},
	}
	for _, tt := range tests {
		if got := autopilot.FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, text := range []string{"2026-03-10T10:20:00+00:00", "2026-03-10T10:05:00Z", "2026-01-19T01:40:00-05:00"} {
		parsed, err := time.Parse(time.RFC3339, text)
		if err != nil {
			t.Fatal(err)
		}
		if got := autopilot.FormatTime(parsed); got != text {
			t.Errorf("%s came back as %s", text, got)
		}
	}
}

func TestGeneratedIDsAreUniqueAndExtensionsNeverReplaceCoreAttributes(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10_000; i++ {
		id := autopilot.NewEventID()
		if len(id) != 32 || seen[id] {
			t.Fatalf("id %q repeated or not 32 hex digits", id)
		}
		seen[id] = true
	}
	built := roundTrip(t, autopilot.Build(autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": "r"},
		Extensions: map[string]any{"source": "x", "ext": 1.0}}, "job://j", time.Now()))
	if built["source"] != "job://j" || built["ext"] != 1.0 {
		t.Fatalf("extensions replaced a core attribute: %v", built)
	}
}
