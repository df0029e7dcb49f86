// Package autopilot is rca's producer SDK for Go. It is off unless AUTOPILOT_ENABLED=true, and then it
// never blocks, never panics and never returns an error its caller must handle:
//
//	ap := autopilot.New()          // reads AUTOPILOT_*; while disabled: no goroutine, Emit is a no-op
//	defer ap.Shutdown(context.Background())
//	http.Handle("/orders", autopilot.Middleware(orders))  // continue or start a W3C trace at the edge
//	ap.Emit(ctx, autopilot.Event{Type: autopilot.JobRunStarted, Data: map[string]any{"run_id": id}})
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b), kautopilot.WithIdentity(ap))  // identity headers on records
//
// The contract every language follows is sdk/spec/CONTRACT.md in the rca repository.
package autopilot
