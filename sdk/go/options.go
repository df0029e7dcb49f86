package autopilot

import (
	"log/slog"
	"net/http"
	"time"
)

// Opt configures a Client. Options override what AUTOPILOT_* in the environment says.
type Opt func(*config)

type config struct {
	settings   Settings
	lookup     func(string) (string, bool)
	logger     *slog.Logger
	httpClient *http.Client
	now        func() time.Time
	edits      []func(*Settings)
}

// Enabled switches the client on or off (AUTOPILOT_ENABLED). Enabled without an endpoint stays off.
func Enabled(on bool) Opt { return setting(func(s *Settings) { s.Enabled = on }) }

// Endpoint is the rca service's base URL (AUTOPILOT_ENDPOINT).
func Endpoint(url string) Opt { return setting(func(s *Settings) { s.Endpoint = url }) }

// Token is the producer token sent as a bearer token (AUTOPILOT_TOKEN).
func Token(token string) Opt { return setting(func(s *Settings) { s.Token = token }) }

// Service names the service; the producer becomes svc://<service> (AUTOPILOT_SERVICE).
func Service(name string) Opt { return setting(func(s *Settings) { s.Service = name }) }

// Producer sets the producer URN, e.g. job://nightly_rollup (AUTOPILOT_PRODUCER).
func Producer(urn string) Opt { return setting(func(s *Settings) { s.Producer = urn }) }

// Env is the deployment environment: prod, staging, ... (AUTOPILOT_ENV).
func Env(env string) Opt { return setting(func(s *Settings) { s.Env = env }) }

// Domain is the data domain carried on deploy events (AUTOPILOT_DOMAIN).
func Domain(domain string) Opt { return setting(func(s *Settings) { s.Domain = domain }) }

// Version and Commit name what is running, for the startup deploy event and the autopilot-version
// header (AUTOPILOT_VERSION, AUTOPILOT_COMMIT).
func Version(version, commit string) Opt {
	return setting(func(s *Settings) { s.Version, s.Commit = version, commit })
}

// QueueSize bounds the events held while waiting; beyond it emits are dropped as queue_full.
func QueueSize(n int) Opt { return setting(func(s *Settings) { s.QueueSize = n }) }

// BatchSize is the most events per POST.
func BatchSize(n int) Opt { return setting(func(s *Settings) { s.BatchSize = n }) }

// FlushInterval is the longest a partial batch waits.
func FlushInterval(d time.Duration) Opt { return setting(func(s *Settings) { s.FlushInterval = d }) }

// Timeouts bounds the connect (TCP and TLS) and the whole request, connect to last byte.
func Timeouts(connect, total time.Duration) Opt {
	return setting(func(s *Settings) { s.ConnectTimeout, s.Timeout = connect, total })
}

// Retries sets the retries after the first attempt and the full-jitter backoff's base and cap.
func Retries(max int, base, capped time.Duration) Opt {
	return setting(func(s *Settings) { s.MaxRetries, s.BackoffBase, s.BackoffMax = max, base, capped })
}

// MaxAge drops an event not delivered this long after Emit (reason timeout).
func MaxAge(d time.Duration) Opt { return setting(func(s *Settings) { s.MaxAge = d }) }

// Circuit opens the circuit after failures consecutive failed attempts, for reset before the first probe.
func Circuit(failures int, reset time.Duration) Opt {
	return setting(func(s *Settings) { s.CircuitFailures, s.CircuitReset = failures, reset })
}

// ControlPollInterval is the kill-switch poll period.
func ControlPollInterval(d time.Duration) Opt {
	return setting(func(s *Settings) { s.ControlPollInterval = d })
}

// ShutdownTimeout bounds Shutdown when its context has no deadline.
func ShutdownTimeout(d time.Duration) Opt {
	return setting(func(s *Settings) { s.ShutdownTimeout = d })
}

// StartupEvent sends (or not) the once-per-process DeploymentEvent with source "startup".
func StartupEvent(on bool) Opt { return setting(func(s *Settings) { s.StartupEvent = on }) }

// ExportDrops sends the drop counters on every POST in the Autopilot-Signals-Dropped header.
func ExportDrops(on bool) Opt { return setting(func(s *Settings) { s.ExportDrops = on }) }

// HealthInterval sends an SdkHealth event (this client's counters by reason, queue depth and circuit state) every d,
// from the worker goroutine (AUTOPILOT_HEALTH_INTERVAL). 0, the default, sends none.
func HealthInterval(d time.Duration) Opt { return setting(func(s *Settings) { s.HealthInterval = d }) }

// WithSettings replaces everything read so far (defaults and environment) with s; later options still apply.
func WithSettings(s Settings) Opt { return setting(func(dst *Settings) { *dst = s }) }

// Environment reads AUTOPILOT_* through lookup instead of os.LookupEnv (tests, or settings from a file).
func Environment(lookup func(string) (string, bool)) Opt {
	return func(c *config) { c.lookup = lookup }
}

// Logger receives the SDK's few log lines (one per problem, not per event). Default: slog.Default().
func Logger(logger *slog.Logger) Opt { return func(c *config) { c.logger = logger } }

// HTTPClient sends the SDK's requests (proxies, TLS, a test server). Its Timeout is left as it is:
// the SDK bounds every request with its own connect and total timeouts.
func HTTPClient(client *http.Client) Opt { return func(c *config) { c.httpClient = client } }

// Clock replaces time.Now for event times (tests).
func Clock(now func() time.Time) Opt { return func(c *config) { c.now = now } }

func setting(edit func(*Settings)) Opt {
	return func(c *config) { c.edits = append(c.edits, edit) }
}
