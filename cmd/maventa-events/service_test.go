package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natstest"
)

// startServiceValue builds and starts a Service directly (not through run), so
// that a test can reach into what it started.
func startServiceValue(t *testing.T, env map[string]string) *Service {
	t.Helper()
	base := serviceEnv(t, env)
	cfg, err := parseConfig("maventa-events serve", nil, envFunc(base), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewService(cfg, envFunc(base), io.Discard, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func readyz(t *testing.T, baseURL string) int {
	t.Helper()
	resp, err := http.Get(baseURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestNATSGoneForGoodEndsTheService: when the service's NATS connection is
// closed for good (nats.go reconnects forever, so it closes only on errors it
// does not retry), /readyz says not ready and the service fails with
// errNATSLost, so that serve exits non-zero and an orchestrator restarts it.
func TestNATSGoneForGoodEndsTheService(t *testing.T) {
	s := startServiceValue(t, nil)
	natstest.WaitFor(t, 10*time.Second, "/readyz 200", func() bool { return readyz(t, s.baseURL) == http.StatusOK })

	s.broker.NC.Close()
	select {
	case err := <-s.Failed():
		if !errors.Is(err, errNATSLost) {
			t.Fatalf("failure %v, want errNATSLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the service did not fail within 10s of its NATS connection closing for good")
	}
	if code := readyz(t, s.baseURL); code == http.StatusOK {
		t.Errorf("/readyz %d with NATS gone, want not ready", code)
	}
}

// TestShutdownIsNotAFailure: the service's own Shutdown closes NATS; that is
// no failure, and the consumers' clean stop returns no error.
func TestShutdownIsNotAFailure(t *testing.T) {
	s := startServiceValue(t, nil)
	natstest.WaitFor(t, 10*time.Second, "/readyz 200", func() bool { return readyz(t, s.baseURL) == http.StatusOK })
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-s.Failed():
		t.Fatalf("shutdown reported as a failure: %v", err)
	default:
	}
}
