package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"autopilot-go/autopilottest"
)

var args = []string{"deploy-event", "--service", "checkout-service", "--version", "v2.8.1", "--commit", "3f9c2ab", "--env", "prod"}

func noEnv(string) (string, bool) { return "", false }

func cli(t *testing.T, extra ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = run(append(append([]string(nil), args...), extra...), &out, &errs, noEnv)
	return code, out.String(), errs.String()
}

func rca(t *testing.T, mode autopilottest.Mode) *autopilottest.Server {
	srv := autopilottest.NewServer()
	srv.SetMode(mode, 0)
	t.Cleanup(srv.Close)
	return srv
}

func TestTheDeployEventIsDelivered(t *testing.T) {
	srv := rca(t, autopilottest.OK)
	code, out, _ := cli(t, "--endpoint", srv.URL, "--token", "t", "--domain", "orders")
	if code != 0 || !strings.Contains(out, "delivered") {
		t.Fatalf("exit %d: %s", code, out)
	}
	events := srv.Events()
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	e, data := events[0], events[0]["data"].(map[string]any)
	want := map[string]any{"service": "checkout-service", "env": "prod", "version": "v2.8.1", "commit": "3f9c2ab",
		"deploy_ref": "checkout-service@v2.8.1+3f9c2ab", "status": "succeeded", "source": "ci", "domain": "orders"}
	if e["id"] != "deploy-checkout-service-prod-v2.8.1-3f9c2ab" || e["source"] != "svc://checkout-service" || len(data) != len(want) {
		t.Fatalf("event %v", e)
	}
	for k, v := range want {
		if data[k] != v {
			t.Fatalf("data.%s = %v, want %v", k, data[k], v)
		}
	}
	if got := srv.Headers()[0].Get("Authorization"); got != "Bearer t" {
		t.Fatalf("authorization %q", got)
	}
}

func TestRerunningTheStepSendsTheSameID(t *testing.T) {
	srv := rca(t, autopilottest.OK)
	cli(t, "--endpoint", srv.URL)
	cli(t, "--endpoint", srv.URL)
	events := srv.Events()
	if len(events) != 2 || events[0]["id"] != events[1]["id"] {
		t.Fatalf("events %v", events)
	}
}

func TestExitCodes(t *testing.T) {
	down := autopilottest.ClosedURL()
	failing := rca(t, autopilottest.Fail).URL
	denied := rca(t, autopilottest.Deny).URL
	tests := []struct {
		name   string
		extra  []string
		code   int
		stderr string
	}{
		{"a down backend is not the deploy's problem", []string{"--endpoint", down, "--timeout", "0.5"}, 0, "continuing"},
		{"unless strict", []string{"--endpoint", down, "--timeout", "0.5", "--strict"}, 1, "could not deliver"},
		{"a 500 is retried within the timeout, then given up", []string{"--endpoint", failing, "--timeout", "1"}, 0, "HTTP 500"},
		{"a 500, strict", []string{"--endpoint", failing, "--timeout", "1", "--strict"}, 1, "HTTP 500"},
		{"a rejection is reported", []string{"--endpoint", denied}, 0, "rejected"},
		{"a rejection, strict", []string{"--endpoint", denied, "--strict"}, 1, "rejected"},
		{"no endpoint is not an error", nil, 0, "no endpoint"},
		{"no endpoint, strict", []string{"--strict"}, 1, "no endpoint"},
		{"a bad status is a usage error", []string{"--status", "done"}, 2, "--status"},
		{"an unknown flag is a usage error", []string{"--colour", "red"}, 2, "colour"},
		{"a bad timeout is a usage error", []string{"--timeout", "soon"}, 2, "--timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			began := time.Now()
			code, _, stderr := cli(t, tt.extra...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tt.code, stderr, tt.stderr)
			}
			if time.Since(began) > 3*time.Second {
				t.Fatalf("took %s", time.Since(began))
			}
		})
	}
	var out, errs bytes.Buffer
	if code := run([]string{"deploy-event", "--version", "1"}, &out, &errs, noEnv); code != 2 || !strings.Contains(errs.String(), "--service") {
		t.Fatalf("no service: exit %d, %s", code, errs.String())
	}
	if code := run([]string{"deploy-event", "--service", "s"}, &out, &errs, noEnv); code != 2 {
		t.Fatalf("no version: exit %d", code)
	}
	if code := run(nil, &out, &errs, noEnv); code != 2 {
		t.Fatalf("no command: exit %d", code)
	}
}

func TestDryRunPrintsTheEventAndSettingsHideTheToken(t *testing.T) {
	code, out, _ := cli(t, "--dry-run")
	if code != 0 || !strings.Contains(out, `"deploy_ref": "checkout-service@v2.8.1+3f9c2ab"`) {
		t.Fatalf("exit %d: %s", code, out)
	}
	var stdout, stderr bytes.Buffer
	lookup := func(name string) (string, bool) {
		v, ok := map[string]string{"AUTOPILOT_TOKEN": "secret", "AUTOPILOT_SERVICE": "svc"}[name]
		return v, ok
	}
	if run([]string{"settings"}, &stdout, &stderr, lookup); strings.Contains(stdout.String(), "secret") ||
		!strings.Contains(stdout.String(), `"producer": "svc://svc"`) {
		t.Fatalf("settings: %s", stdout.String())
	}
}

// The real binary, through main(): the exit code reaches the shell, and the environment fills the flags.
func TestTheCommandAsCIRunsIt(t *testing.T) {
	if os.Getenv("AUTOPILOT_GO_CLI_MAIN") == "1" {
		for i, arg := range os.Args {
			if arg == "--" {
				os.Args = append([]string{"autopilot-go"}, os.Args[i+1:]...)
				break
			}
		}
		main()
		return
	}
	srv := rca(t, autopilottest.OK)
	for _, tt := range []struct {
		endpoint string
		extra    []string
		code     int
	}{{srv.URL, nil, 0}, {autopilottest.ClosedURL(), []string{"--timeout", "0.3"}, 0}, {autopilottest.ClosedURL(), []string{"--timeout", "0.3", "--strict"}, 1}} {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=TestTheCommandAsCIRunsIt", "--", "deploy-event", "--version", "v9"}, tt.extra...)...)
		cmd.Env = []string{"AUTOPILOT_GO_CLI_MAIN=1", "AUTOPILOT_SERVICE=orders-api", "GITHUB_SHA=abc123", "AUTOPILOT_ENDPOINT=" + tt.endpoint}
		err := cmd.Run()
		code := 0
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		}
		if code != tt.code {
			t.Fatalf("%s %v: exit %d, want %d", tt.endpoint, tt.extra, code, tt.code)
		}
	}
	if events := srv.Events(); len(events) != 1 || events[0]["id"] != "deploy-orders-api---v9-abc123" {
		t.Fatalf("events %v", events)
	}
}
