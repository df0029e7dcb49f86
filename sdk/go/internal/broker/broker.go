// Package broker gives this repository's Go tests the real Kafka broker of scripts/with-kafka.
package broker

import (
	"os"
	"testing"
)

// Bootstrap is RCA_TEST_KAFKA_BOOTSTRAP. Without it the test is skipped, or fails when
// RCA_REQUIRE_KAFKA=1 (.ci/run sets it: under CI the Kafka tests must run).
func Bootstrap(tb testing.TB) string {
	tb.Helper()
	bootstrap := os.Getenv("RCA_TEST_KAFKA_BOOTSTRAP")
	if bootstrap == "" {
		if os.Getenv("RCA_REQUIRE_KAFKA") == "1" {
			tb.Fatal("RCA_REQUIRE_KAFKA=1 but RCA_TEST_KAFKA_BOOTSTRAP is not set: run under scripts/with-kafka")
		}
		tb.Skip("no Kafka broker: run under scripts/with-kafka (RCA_TEST_KAFKA_BOOTSTRAP)")
	}
	return bootstrap
}
