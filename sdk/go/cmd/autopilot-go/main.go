// Command autopilot-go sends deploy evidence from CI, as the Python SDK's `autopilot` command does (same
// flags, same exit codes):
//
//	autopilot-go deploy-event --service checkout-service --version v2.8.1 --commit 3f9c2ab --env prod
//	autopilot-go settings    # the settings AUTOPILOT_* resolve to, token hidden
//
// A deploy never fails because the evidence backend is down: without --strict the command reports the
// problem and exits 0; with --strict it exits 1 when the event was not accepted. Usage errors exit 2.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	autopilot "autopilot-go"
)

const (
	exitOK           = 0
	exitNotDelivered = 1
	exitUsage        = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

func run(args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	env := func(name string) string { v, _ := lookup(name); return v }
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: autopilot-go {deploy-event,settings} ...")
		return exitUsage
	}
	switch args[0] {
	case "settings":
		quiet := slog.New(slog.NewTextHandler(stderr, nil))
		out, _ := json.MarshalIndent(autopilot.LoadSettings(lookup, quiet).Redacted(), "", "  ")
		fmt.Fprintln(stdout, string(out))
		return exitOK
	case "deploy-event":
		return deployEvent(args[1:], stdout, stderr, env)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, "usage: autopilot-go {deploy-event,settings} ...\n\n"+
			"  deploy-event  send a DeploymentEvent (source: ci) for the deploy this CI job just made\n"+
			"  settings      print the settings AUTOPILOT_* resolve to (token hidden)")
		return exitOK
	}
	fmt.Fprintf(stderr, "autopilot-go: unknown command %q; use deploy-event or settings\n", args[0])
	return exitUsage
}

func deployEvent(args []string, stdout, stderr io.Writer, env func(string) string) int {
	flags := flag.NewFlagSet("autopilot-go deploy-event", flag.ContinueOnError)
	flags.SetOutput(stderr)
	commit := env("AUTOPILOT_COMMIT")
	if commit == "" {
		commit = env("GITHUB_SHA")
	}
	var (
		service  = flags.String("service", env("AUTOPILOT_SERVICE"), "the service deployed (default $AUTOPILOT_SERVICE)")
		version  = flags.String("version", "", "the version deployed, e.g. v2.8.1 (required)")
		rev      = flags.String("commit", commit, "the commit (default $AUTOPILOT_COMMIT or $GITHUB_SHA)")
		target   = flags.String("env", env("AUTOPILOT_ENV"), "prod, staging, ...")
		domain   = flags.String("domain", env("AUTOPILOT_DOMAIN"), "the data domain")
		status   = flags.String("status", "succeeded", "succeeded, failed or rolled_back")
		ref      = flags.String("deploy-ref", "", "default: service@version+commit")
		id       = flags.String("id", "", "event id; default deploy-<service>-<env>-<version>-<commit> (idempotent)")
		endpoint = flags.String("endpoint", env("AUTOPILOT_ENDPOINT"), "rca base URL (default $AUTOPILOT_ENDPOINT)")
		token    = flags.String("token", env("AUTOPILOT_TOKEN"), "producer token (default $AUTOPILOT_TOKEN)")
		timeout  = flags.String("timeout", "15", "total seconds to try for")
		strict   = flags.Bool("strict", false, "exit 1 when the event is not accepted")
		dryRun   = flags.Bool("dry-run", false, "print the event and send nothing")
	)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(message string) int {
		fmt.Fprintf(stderr, "autopilot-go deploy-event: error: %s\n", message)
		return exitUsage
	}
	seconds, err := strconv.ParseFloat(*timeout, 64)
	switch {
	case flags.NArg() > 0:
		return usage(fmt.Sprintf("unexpected arguments %q", flags.Args()))
	case *service == "":
		return usage("--service is required (or set AUTOPILOT_SERVICE)")
	case *version == "":
		return usage("--version is required")
	case *status != "succeeded" && *status != "failed" && *status != "rolled_back":
		return usage(fmt.Sprintf("--status %q: choose succeeded, failed or rolled_back", *status))
	case err != nil || seconds <= 0:
		return usage(fmt.Sprintf("--timeout %q: a number of seconds above 0", *timeout))
	}
	event := autopilot.CIDeployment(autopilot.Deploy{Service: *service, Version: *version, Commit: *rev, Env: *target,
		Domain: *domain, Status: *status, Ref: *ref, ID: *id}, time.Now().UTC())
	if *dryRun {
		out, _ := json.MarshalIndent(event, "", "  ")
		fmt.Fprintln(stdout, string(out))
		return exitOK
	}
	giveUp := func(message string) int {
		if *strict {
			fmt.Fprintf(stderr, "autopilot: error: %s\n", message)
			return exitNotDelivered
		}
		fmt.Fprintf(stderr, "autopilot: warning: %s; continuing (pass --strict to fail the step)\n", message)
		return exitOK
	}
	if *endpoint == "" {
		return giveUp("no endpoint (set AUTOPILOT_ENDPOINT or pass --endpoint); nothing sent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds*float64(time.Second)))
	defer cancel()
	switch err := autopilot.Send(ctx, nil, *endpoint, *token, event); {
	case err == nil:
		fmt.Fprintf(stdout, "autopilot: DeploymentEvent %s delivered to %s\n", event.ID, *endpoint)
		return exitOK
	case errors.Is(err, autopilot.ErrRejected):
		return giveUp(fmt.Sprintf("the service rejected DeploymentEvent %s: %v", event.ID, err))
	default:
		return giveUp(fmt.Sprintf("could not deliver DeploymentEvent %s within %gs: %v", event.ID, seconds, err))
	}
}
