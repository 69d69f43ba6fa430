// Package natstest starts throwaway nats-servers with JetStream for tests: on a
// free loopback port, storing in a test's temporary directory.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
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
	s.launch()
	s.waitReady()
}

// launch starts the server without waiting for it to accept clients (a
// clustered JetStream server accepts them only once the cluster has a quorum).
func (s *Server) launch() {
	s.t.Helper()
	opts := s.opts
	ns, err := server.NewServer(&opts)
	if err != nil {
		s.t.Fatalf("nats server: %v", err)
	}
	go ns.Start()
	s.Server = ns
}

func (s *Server) waitReady() {
	s.t.Helper()
	if !s.ReadyForConnections(30 * time.Second) {
		s.t.Fatal("nats server not ready")
	}
	// Restarts must come back on the same port so clients reconnect to it.
	s.opts.Port = s.Addr().(*net.TCPAddr).Port
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

// Cluster is a JetStream cluster of embedded servers on loopback, for tests of
// replicated streams and of losing a node.
type Cluster struct {
	Servers []*Server
}

// StartCluster starts n clustered JetStream servers on random loopback ports,
// each storing in its own temporary directory, and waits until JetStream has a
// meta leader that counts all n servers as placement peers. They are shut
// down when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	// JetStream clustering needs every node's route list from the start, so the
	// cluster ports are chosen first: bound on 127.0.0.1:0 and released just
	// before the servers take them.
	var listeners []net.Listener
	var routes []*url.URL
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, ln)
		routes = append(routes, &url.URL{Scheme: "nats", Host: ln.Addr().String()})
	}
	c := &Cluster{}
	for i := range n {
		port := listeners[i].Addr().(*net.TCPAddr).Port
		s := &Server{t: t, opts: server.Options{
			ServerName: fmt.Sprintf("node-%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "test-cluster", Host: "127.0.0.1", Port: port},
			Routes:  routes,
		}}
		c.Servers = append(c.Servers, s)
	}
	for i, s := range c.Servers {
		listeners[i].Close()
		s.launch()
		t.Cleanup(s.Stop)
	}
	for _, s := range c.Servers {
		s.waitReady()
	}
	// A leader alone is not enough: until it has heard from every peer, it
	// refuses to place a replicated stream ("no suitable peers for placement,
	// peer offline"), which made tests that create one at once flaky.
	// JetStreamClusterPeers lists exactly the peers placement may use.
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, s := range c.Servers {
			if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == n {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster had no JetStream meta leader seeing all %d peers online within 30s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ClientURLs is every server's client URL, comma-separated, as NATS_URL takes it.
func (c *Cluster) ClientURLs() string {
	var urls []string
	for _, s := range c.Servers {
		urls = append(urls, s.ClientURL())
	}
	return strings.Join(urls, ",")
}
