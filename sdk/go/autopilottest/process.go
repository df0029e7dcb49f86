package autopilottest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

const backendProcessEnv = "AUTOPILOT_TEST_ACCEPT_ALL_BACKEND"

// AcceptAll answers POST /v1/events with 200 after reading the batch, without parsing it, and the
// control plane with 404 (no entry): the cheapest healthy backend, for benchmarks.
func AcceptAll() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodGet {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = w.Write([]byte(`{"rejected":0}`))
	})
}

// ServeAcceptAllIfAsked serves AcceptAll for ever when this process was started by StartAcceptAll.
// Call it first thing in TestMain.
func ServeAcceptAllIfAsked() {
	if os.Getenv(backendProcessEnv) != "1" {
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	fmt.Println(l.Addr().String())
	_ = http.Serve(l, AcceptAll())
	os.Exit(0)
}

// StartAcceptAll runs AcceptAll in another process (this test binary again, whose TestMain calls
// ServeAcceptAllIfAsked) and returns its URL: a benchmark must not charge the backend's CPU to the host.
func StartAcceptAll(tb testing.TB) string {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), backendProcessEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		tb.Fatal(err)
	}
	return "http://" + strings.TrimSpace(line)
}
