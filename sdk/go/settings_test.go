package autopilot_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	autopilot "autopilot-go"
)

func env(values map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) { v, ok := values[name]; return v, ok }
}

func TestSettingsFromTheEnvironment(t *testing.T) {
	defaults := autopilot.DefaultSettings()
	tests := []struct {
		name     string
		env      map[string]string
		check    func(autopilot.Settings) bool
		warnings int
	}{
		{"nothing set is the contract's defaults", nil, func(s autopilot.Settings) bool {
			return !s.Enabled && s.QueueSize == 2048 && s.BatchSize == 512 && s.FlushInterval == time.Second &&
				s.Timeout == 3*time.Second && s.MaxRetries == 3 && s.BackoffBase == 500*time.Millisecond &&
				s.BackoffMax == 8*time.Second && s.MaxAge == 300*time.Second && s.CircuitFailures == 5 &&
				s.CircuitReset == 30*time.Second && s.ControlPollInterval == 30*time.Second &&
				s.ShutdownTimeout == 2*time.Second && s.StartupEvent && !s.ExportDrops && s.HealthInterval == 0
		}, 0},
		{"the SdkHealth interval in seconds, 0 to 86400", map[string]string{"AUTOPILOT_HEALTH_INTERVAL": "60"},
			func(s autopilot.Settings) bool { return s.HealthInterval == time.Minute }, 0},
		{"an SdkHealth interval outside its bounds is its default", map[string]string{"AUTOPILOT_HEALTH_INTERVAL": "-1"},
			func(s autopilot.Settings) bool { return s.HealthInterval == 0 }, 1},
		{"booleans in every spelling", map[string]string{"AUTOPILOT_ENABLED": "Yes", "AUTOPILOT_STARTUP_EVENT": "off",
			"AUTOPILOT_EXPORT_DROPS": "1", "AUTOPILOT_ENDPOINT": "http://127.0.0.1:9"}, func(s autopilot.Settings) bool {
			return s.Enabled && !s.StartupEvent && s.ExportDrops
		}, 0},
		{"decimal seconds", map[string]string{"AUTOPILOT_FLUSH_INTERVAL": "0.25", "AUTOPILOT_TIMEOUT": " 1.5 "},
			func(s autopilot.Settings) bool {
				return s.FlushInterval == 250*time.Millisecond && s.Timeout == 1500*time.Millisecond
			}, 0},
		{"a value that will not parse is its default", map[string]string{"AUTOPILOT_QUEUE_SIZE": "lots",
			"AUTOPILOT_ENABLED": "maybe", "AUTOPILOT_TIMEOUT": "3s", "AUTOPILOT_BATCH_SIZE": "1.5"},
			func(s autopilot.Settings) bool {
				return s.QueueSize == defaults.QueueSize && !s.Enabled && s.Timeout == defaults.Timeout &&
					s.BatchSize == defaults.BatchSize
			}, 4},
		{"a value outside its bounds is its default", map[string]string{"AUTOPILOT_QUEUE_SIZE": "0",
			"AUTOPILOT_FLUSH_INTERVAL": "0", "AUTOPILOT_MAX_RETRIES": "1000", "AUTOPILOT_CIRCUIT_RESET": "NaN"},
			func(s autopilot.Settings) bool {
				return s.QueueSize == 2048 && s.FlushInterval == time.Second && s.MaxRetries == 3 &&
					s.CircuitReset == 30*time.Second
			}, 4},
		{"the service names the producer", map[string]string{"AUTOPILOT_SERVICE": "checkout"},
			func(s autopilot.Settings) bool { return s.Producer == "svc://checkout" && s.Service == "checkout" }, 0},
		{"a svc:// producer names the service", map[string]string{"AUTOPILOT_PRODUCER": "svc://payments"},
			func(s autopilot.Settings) bool { return s.Service == "payments" }, 0},
		{"a producer without a scheme is a service", map[string]string{"AUTOPILOT_PRODUCER": "payments"},
			func(s autopilot.Settings) bool { return s.Producer == "svc://payments" }, 1},
		{"a job keeps its URN and has no service", map[string]string{"AUTOPILOT_PRODUCER": "job://nightly"},
			func(s autopilot.Settings) bool { return s.Producer == "job://nightly" && s.Service == "" }, 0},
		{"the endpoint loses its trailing slash", map[string]string{"AUTOPILOT_ENDPOINT": "https://rca.internal/"},
			func(s autopilot.Settings) bool { return s.Endpoint == "https://rca.internal" }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecorder{}
			c := autopilot.New(autopilot.Environment(env(tt.env)), autopilot.Logger(slog.New(logs)))
			t.Cleanup(func() { _ = c.Shutdown(expired()) })
			if s := c.Settings(); !tt.check(s) {
				t.Fatalf("settings %+v", s)
			}
			warnings := logs.at(slog.LevelWarn)
			if len(warnings) != tt.warnings {
				t.Fatalf("%d warnings, want %d: %q", len(warnings), tt.warnings, warnings)
			}
			for _, w := range warnings {
				if !strings.Contains(w, "AUTOPILOT_") || !(strings.Contains(w, "default") || strings.Contains(w, "using")) {
					t.Errorf("a warning should name the variable and the value used: %q", w)
				}
			}
		})
	}
}

func TestOptionsOverrideTheEnvironmentAndAreBounded(t *testing.T) {
	logs := &logRecorder{}
	c := autopilot.New(autopilot.Environment(env(map[string]string{"AUTOPILOT_SERVICE": "from-env", "AUTOPILOT_BATCH_SIZE": "10"})),
		autopilot.Service("from-option"), autopilot.BatchSize(0), autopilot.Logger(slog.New(logs)))
	s := c.Settings()
	if s.Service != "from-option" || s.Producer != "svc://from-option" || s.BatchSize != 512 {
		t.Fatalf("settings %+v", s)
	}
	if w := logs.at(slog.LevelWarn); len(w) != 1 || !strings.Contains(w[0], "AUTOPILOT_BATCH_SIZE") {
		t.Fatalf("warnings %q", w)
	}
}

func TestEnabledWithoutAnEndpointStaysOffAndSaysSoOnce(t *testing.T) {
	logs := &logRecorder{}
	c := autopilot.New(autopilot.Environment(env(map[string]string{"AUTOPILOT_ENABLED": "true"})), autopilot.Logger(slog.New(logs)))
	//lint:ignore SA1012 a nil context must be harmless too
	if c.Active() || c.Emit(nil, run("r")) {
		t.Fatal("a client without an endpoint must stay off")
	}
	if w := logs.at(slog.LevelWarn); len(w) != 1 || !strings.Contains(w[0], "AUTOPILOT_ENDPOINT") {
		t.Fatalf("warnings %q", w)
	}
}

func TestRedactedHidesTheToken(t *testing.T) {
	s := autopilot.New(autopilot.Environment(noEnv), autopilot.Token("secret")).Settings().Redacted()
	if s["token"] != "***" {
		t.Fatalf("token shown: %v", s["token"])
	}
}
