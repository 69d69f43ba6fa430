// Package natstest starts throwaway nats-servers with JetStream for tests: on a
// free loopback port, storing in a test's temporary directory.
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a test nats-server that can be stopped and started again on the same
// port and store, to simulate an outage.
type Server struct {
	t    testing.TB
	opts server.Options
	*server.Server
}

// Start runs a JetStream server on 127.0.0.1 with a random port, storing in dir
// (t.TempDir() when empty). It is shut down when the test ends.
func Start(t testing.TB, dir string) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &Server{t: t, opts: server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
	}}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	opts := s.opts
	ns, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("nats server not ready")
	}
	s.Server = ns
	// Restarts must come back on the same port so clients reconnect to it.
	s.opts.Port = ns.Addr().(*net.TCPAddr).Port
}

// Stop shuts the server down and waits until its store is closed.
func (s *Server) Stop() {
	if s.Server != nil {
		s.Server.Shutdown()
		s.Server.WaitForShutdown()
	}
}

// Restart starts a new server on the same port and store directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}
