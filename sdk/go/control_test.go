package autopilot_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	autopilot "autopilot-go"
)

func TestTheControlURLCarriesTheEnvironmentPercentEncoded(t *testing.T) {
	for env, want := range map[string]string{
		"":          "https://rca/v1/control/svc:%2F%2Fa",
		"staging":   "https://rca/v1/control/svc:%2F%2Fa?env=staging",
		"eu west/1": "https://rca/v1/control/svc:%2F%2Fa?env=eu%20west%2F1",
		"a&b=c+d":   "https://rca/v1/control/svc:%2F%2Fa?env=a%26b%3Dc%2Bd",
	} {
		if got := autopilot.ControlURL("https://rca", "svc://a", env); got != want {
			t.Errorf("env %q: %s, want %s", env, got, want)
		}
	}
}

func TestTheControlRequestNamesTheEnvironmentOnlyWhenSet(t *testing.T) {
	named, unnamed := server(t), server(t)
	fast(t, named.URL, autopilot.Env("eu west"))
	fast(t, unnamed.URL, autopilot.Env(""))
	eventually(t, 2*time.Second, "both asked", func() bool {
		return named.ControlRequests() >= 1 && unnamed.ControlRequests() >= 1
	})
	if got := named.ControlEnvs()[:1]; !reflect.DeepEqual(got, []string{"eu west"}) {
		t.Errorf("with Env: env %q", got)
	}
	if got := unnamed.ControlEnvs()[:1]; !reflect.DeepEqual(got, []string{""}) {
		t.Errorf("without Env: env %q", got)
	}
}

func TestAFlagOffInThisEnvironmentStopsEmissionAndOnInAnotherDoesNot(t *testing.T) {
	srv := server(t) // a ring promoted to staging, not yet to prod
	srv.SetControl("svc://checkout-service", true, false)
	srv.SetEnvironmentFlag("svc://checkout-service", "staging", true)
	srv.SetEnvironmentFlag("svc://checkout-service", "prod", false)
	staging := fast(t, srv.URL, autopilot.Env("staging"))
	prod := fast(t, srv.URL, autopilot.Env("prod"))
	ctx := context.Background()
	for _, c := range []*autopilot.Client{staging, prod} {
		eventually(t, 2*time.Second, "asked", func() bool { return c.Stats().Control.Source == "control-plane" })
	}
	if prod.Stats().Control.Enabled || prod.Emit(ctx, run("prod")) {
		t.Fatalf("prod, off in prod: control %+v, and it took an event", prod.Stats().Control)
	}
	if d := prod.Dropped(); d.Killed != 1 {
		t.Fatalf("prod dropped %+v", d)
	}
	if !staging.Emit(ctx, run("staging")) {
		t.Fatal("staging, on in staging, refused an event")
	}
	flush(t, staging, 2*time.Second)
	flush(t, prod, 2*time.Second)
	if events := srv.Events(); len(events) != 1 || events[0]["data"].(map[string]any)["run_id"] != "staging" {
		t.Fatalf("events %v", events)
	}
}
