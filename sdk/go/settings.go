package autopilot

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// Settings is everything the client reads at start-up. The zero value is not useful: New starts
// from DefaultSettings, applies AUTOPILOT_* from the environment, then the options.
// Names, meanings and defaults are the contract's (sdk/spec/CONTRACT.md, section 2).
type Settings struct {
	Enabled  bool
	Endpoint string // base URL of the rca service, e.g. https://rca.internal
	Token    string // sent as Authorization: Bearer <token>
	Producer string // the producer URN (svc://name, job://name): the CloudEvents source
	Service  string
	Env      string
	Domain   string
	Version  string
	Commit   string

	QueueSize           int
	BatchSize           int
	FlushInterval       time.Duration
	ConnectTimeout      time.Duration
	Timeout             time.Duration // total, per request, connect to last byte
	MaxRetries          int
	BackoffBase         time.Duration
	BackoffMax          time.Duration
	MaxAge              time.Duration
	CircuitFailures     int
	CircuitReset        time.Duration
	ControlPollInterval time.Duration
	ShutdownTimeout     time.Duration
	StartupEvent        bool
	ExportDrops         bool
	HealthInterval      time.Duration // between SdkHealth events (CONTRACT.md section 15); 0, the default, sends none
}

// DefaultSettings are the contract's defaults: disabled, and the figures of section 2.
func DefaultSettings() Settings {
	return Settings{
		QueueSize:           2048,
		BatchSize:           512,
		FlushInterval:       time.Second,
		ConnectTimeout:      time.Second,
		Timeout:             3 * time.Second,
		MaxRetries:          3,
		BackoffBase:         500 * time.Millisecond,
		BackoffMax:          8 * time.Second,
		MaxAge:              300 * time.Second,
		CircuitFailures:     5,
		CircuitReset:        30 * time.Second,
		ControlPollInterval: 30 * time.Second,
		ShutdownTimeout:     2 * time.Second,
		StartupEvent:        true,
	}
}

// bound is one numeric setting: its variable, where it lives in Settings, and its bounds. Bounds keep
// a bad value from turning the SDK into the thing that hurts the host (a queue of 10^9 events, a
// flush interval of 0 that spins).
type bound struct {
	name     string
	duration func(*Settings) *time.Duration
	integer  func(*Settings) *int
	low      float64 // seconds for durations
	high     float64
}

var bounds = []bound{
	{name: "AUTOPILOT_QUEUE_SIZE", integer: func(s *Settings) *int { return &s.QueueSize }, low: 1, high: 1_000_000},
	{name: "AUTOPILOT_BATCH_SIZE", integer: func(s *Settings) *int { return &s.BatchSize }, low: 1, high: 10_000},
	{name: "AUTOPILOT_FLUSH_INTERVAL", duration: func(s *Settings) *time.Duration { return &s.FlushInterval }, low: 0.01, high: 3600},
	{name: "AUTOPILOT_CONNECT_TIMEOUT", duration: func(s *Settings) *time.Duration { return &s.ConnectTimeout }, low: 0.01, high: 60},
	{name: "AUTOPILOT_TIMEOUT", duration: func(s *Settings) *time.Duration { return &s.Timeout }, low: 0.01, high: 300},
	{name: "AUTOPILOT_MAX_RETRIES", integer: func(s *Settings) *int { return &s.MaxRetries }, low: 0, high: 100},
	{name: "AUTOPILOT_BACKOFF_BASE", duration: func(s *Settings) *time.Duration { return &s.BackoffBase }, low: 0, high: 60},
	{name: "AUTOPILOT_BACKOFF_MAX", duration: func(s *Settings) *time.Duration { return &s.BackoffMax }, low: 0, high: 3600},
	{name: "AUTOPILOT_MAX_AGE", duration: func(s *Settings) *time.Duration { return &s.MaxAge }, low: 0.1, high: 86_400},
	{name: "AUTOPILOT_CIRCUIT_FAILURES", integer: func(s *Settings) *int { return &s.CircuitFailures }, low: 1, high: 1000},
	{name: "AUTOPILOT_CIRCUIT_RESET", duration: func(s *Settings) *time.Duration { return &s.CircuitReset }, low: 0.01, high: 86_400},
	{name: "AUTOPILOT_CONTROL_POLL_INTERVAL", duration: func(s *Settings) *time.Duration { return &s.ControlPollInterval }, low: 0.01, high: 86_400},
	{name: "AUTOPILOT_SHUTDOWN_TIMEOUT", duration: func(s *Settings) *time.Duration { return &s.ShutdownTimeout }, low: 0, high: 300},
	{name: "AUTOPILOT_HEALTH_INTERVAL", duration: func(s *Settings) *time.Duration { return &s.HealthInterval }, low: 0, high: 86_400},
}

var texts = []struct {
	name  string
	field func(*Settings) *string
}{
	{"AUTOPILOT_ENDPOINT", func(s *Settings) *string { return &s.Endpoint }},
	{"AUTOPILOT_TOKEN", func(s *Settings) *string { return &s.Token }},
	{"AUTOPILOT_PRODUCER", func(s *Settings) *string { return &s.Producer }},
	{"AUTOPILOT_SERVICE", func(s *Settings) *string { return &s.Service }},
	{"AUTOPILOT_ENV", func(s *Settings) *string { return &s.Env }},
	{"AUTOPILOT_DOMAIN", func(s *Settings) *string { return &s.Domain }},
	{"AUTOPILOT_VERSION", func(s *Settings) *string { return &s.Version }},
	{"AUTOPILOT_COMMIT", func(s *Settings) *string { return &s.Commit }},
}

var booleans = []struct {
	name  string
	field func(*Settings) *bool
}{
	{"AUTOPILOT_ENABLED", func(s *Settings) *bool { return &s.Enabled }},
	{"AUTOPILOT_STARTUP_EVENT", func(s *Settings) *bool { return &s.StartupEvent }},
	{"AUTOPILOT_EXPORT_DROPS", func(s *Settings) *bool { return &s.ExportDrops }},
}

// LoadSettings reads AUTOPILOT_* through lookup (os.LookupEnv when nil) over the defaults. A value that
// will not parse, or lies outside its bounds, is logged (naming the variable and the default used) and
// replaced by its default: a typo in a deployment manifest must not stop the host from starting.
func LoadSettings(lookup func(string) (string, bool), logger *slog.Logger) Settings {
	if logger == nil {
		logger = defaultLogger()
	}
	s := loadSettings(lookup, logger)
	s.check(logger)
	return s
}

// loadSettings reads the environment without deriving the producer from the service: options applied
// after it may still change either.
func loadSettings(lookup func(string) (string, bool), logger *slog.Logger) Settings {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	s := DefaultSettings()
	for _, b := range booleans {
		if raw, ok := lookup(b.name); ok {
			field := b.field(&s)
			value, valid := parseBool(raw)
			if !valid {
				logger.Warn(fmt.Sprintf("autopilot: %s=%q is not a boolean (true/false); using %t.", b.name, raw, *field))
				continue
			}
			*field = value
		}
	}
	for _, t := range texts {
		if raw, ok := lookup(t.name); ok {
			*t.field(&s) = strings.TrimSpace(raw)
		}
	}
	defaults := s
	for _, b := range bounds {
		raw, ok := lookup(b.name)
		if !ok || strings.TrimSpace(raw) == "" {
			continue
		}
		number, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		what := "a number (seconds)"
		if b.integer != nil {
			what = "an integer"
			if err == nil && number != math.Trunc(number) {
				err = fmt.Errorf("not an integer")
			}
		}
		def := b.describe(&defaults)
		if err != nil || math.IsNaN(number) {
			logger.Warn(fmt.Sprintf("autopilot: %s=%q is not %s; using the default %s.", b.name, raw, what, def))
			continue
		}
		if number < b.low || number > b.high {
			logger.Warn(fmt.Sprintf("autopilot: %s=%q is outside [%g, %g]; using the default %s.", b.name, raw, b.low, b.high, def))
			continue
		}
		if b.integer != nil {
			*b.integer(&s) = int(number)
		} else {
			*b.duration(&s) = time.Duration(number * float64(time.Second))
		}
	}
	return s
}

func (b bound) describe(s *Settings) string {
	if b.integer != nil {
		return strconv.Itoa(*b.integer(s))
	}
	return strconv.FormatFloat(b.duration(s).Seconds(), 'g', -1, 64)
}

// check puts every numeric setting back inside its bounds (an Opt may set anything), logging each fix.
func (s *Settings) check(logger *slog.Logger) {
	defaults := DefaultSettings()
	for _, b := range bounds {
		var value float64
		if b.integer != nil {
			value = float64(*b.integer(s))
		} else {
			value = b.duration(s).Seconds()
		}
		if value >= b.low && value <= b.high {
			continue
		}
		logger.Warn(fmt.Sprintf("autopilot: %s %g is outside [%g, %g]; using the default %s.",
			b.name, value, b.low, b.high, b.describe(&defaults)))
		if b.integer != nil {
			*b.integer(s) = *b.integer(&defaults)
		} else {
			*b.duration(s) = *b.duration(&defaults)
		}
	}
	s.Endpoint = strings.TrimRight(strings.TrimSpace(s.Endpoint), "/")
	s.Producer, s.Service = identity(s.Producer, s.Service, logger)
}

func parseBool(raw string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off", "":
		return false, true
	}
	return false, false
}

// identity derives the producer URN from the service name, or the service name from a svc:// URN, so
// that AUTOPILOT_SERVICE=x and AUTOPILOT_PRODUCER=svc://x mean the same thing.
func identity(producer, service string, logger *slog.Logger) (string, string) {
	producer, service = strings.TrimSpace(producer), strings.TrimSpace(service)
	if producer != "" && !strings.Contains(producer, "://") {
		logger.Warn(fmt.Sprintf("autopilot: AUTOPILOT_PRODUCER=%q has no scheme; using svc://%s.", producer, producer))
		producer = "svc://" + producer
	}
	if producer == "" && service != "" {
		producer = "svc://" + service
	}
	if service == "" && strings.HasPrefix(producer, "svc://") {
		service = strings.TrimPrefix(producer, "svc://")
	}
	return producer, service
}

// Redacted is the settings as name/value pairs with the token hidden, for logs and `autopilot-go settings`.
func (s Settings) Redacted() map[string]any {
	token := ""
	if s.Token != "" {
		token = "***"
	}
	return map[string]any{
		"enabled": s.Enabled, "endpoint": s.Endpoint, "token": token, "producer": s.Producer,
		"service": s.Service, "env": s.Env, "domain": s.Domain, "version": s.Version, "commit": s.Commit,
		"queue_size": s.QueueSize, "batch_size": s.BatchSize, "flush_interval": s.FlushInterval.Seconds(),
		"connect_timeout": s.ConnectTimeout.Seconds(), "timeout": s.Timeout.Seconds(),
		"max_retries": s.MaxRetries, "backoff_base": s.BackoffBase.Seconds(), "backoff_max": s.BackoffMax.Seconds(),
		"max_age": s.MaxAge.Seconds(), "circuit_failures": s.CircuitFailures, "circuit_reset": s.CircuitReset.Seconds(),
		"control_poll_interval": s.ControlPollInterval.Seconds(), "shutdown_timeout": s.ShutdownTimeout.Seconds(),
		"startup_event": s.StartupEvent, "export_drops": s.ExportDrops, "health_interval": s.HealthInterval.Seconds(),
	}
}
