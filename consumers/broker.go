// Package consumers is the NATS edge of the service: the connection to NATS (or
// an embedded nats-server), the JetStream streams it provisions, the store that
// the webhook receiver writes into, and the consumers that process what is stored.
package consumers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BrokerConfig says how to reach NATS. With URL empty an embedded nats-server with
// JetStream is started; otherwise the service connects to URL (a server or a
// comma-separated list of cluster members).
type BrokerConfig struct {
	// URL of an external NATS server or cluster ("nats://a:4222,nats://b:4222").
	// Empty: start an embedded server.
	URL string
	// CredsFile is a NATS .creds file (JWT + NKey seed). Optional.
	CredsFile string
	// NKeyFile is a file holding an NKey seed. Optional.
	NKeyFile string
	// User and Password for user/password authentication. Optional.
	User, Password string
	// TLSCert and TLSKey are a client certificate and key for mutual TLS. Optional.
	TLSCert, TLSKey string
	// TLSCA is a CA bundle to verify the server with. Optional; system roots otherwise.
	TLSCA string
	// Name is the client connection name shown in NATS monitoring. Default "maventa-events".
	Name string
	// WaitForServer keeps trying when the first connection to an external server
	// fails, instead of returning an error: the service then starts not-ready and
	// becomes ready when NATS appears. Command-line tools leave it false.
	WaitForServer bool

	// DataDir holds the embedded server's JetStream store (DataDir/jetstream).
	// Default "./data".
	DataDir string
	// Host is the embedded server's client listen host. Default 127.0.0.1, so only
	// this machine can connect unless configured otherwise.
	Host string
	// Port is the embedded server's client port: 0 serves in-process clients only
	// (nothing listens), -1 picks a free port. The zero value therefore means
	// in-process; the service's own flag default is 4222.
	Port int
	// SyncInterval is how often the embedded JetStream store fsyncs. Zero keeps
	// nats-server's default (2 minutes: an acknowledged write may be lost if the
	// machine, not just the process, dies within that time). SyncAlways makes
	// every write reach the disk before it is acknowledged.
	SyncInterval time.Duration
	SyncAlways   bool
	// MaxStore bounds the embedded JetStream file store in bytes. Zero: no bound
	// beyond the disk.
	MaxStore int64
}

// Broker is a live NATS connection with JetStream, and the embedded server when
// one was started.
type Broker struct {
	NC        *nats.Conn
	JS        jetstream.JetStream
	server    *server.Server
	log       *slog.Logger
	connected atomic.Bool
}

// OpenBroker starts the embedded server when cfg.URL is empty, then connects.
// External connections reconnect forever with backoff; while disconnected,
// Connected reports false (the service reports not-ready) and publishes fail fast
// instead of being buffered, so no caller is ever told a message is stored when
// it is not.
func OpenBroker(ctx context.Context, cfg BrokerConfig, log *slog.Logger, jsOpts ...jetstream.JetStreamOpt) (*Broker, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Name == "" {
		cfg.Name = "maventa-events"
	}
	b := &Broker{log: log}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		// A publish while disconnected must fail, not sit in a buffer that may be
		// flushed after we answered 503: that would store a message we said we had not.
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(cfg.WaitForServer && cfg.URL != ""),
		nats.ConnectHandler(func(*nats.Conn) { b.connected.Store(true) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.connected.Store(false)
			if err != nil { // nil: our own Drain/Close, nothing to warn about
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.connected.Store(true)
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ClosedHandler(func(*nats.Conn) { b.connected.Store(false) }),
		// Asynchronous errors (a slow consumer dropping messages, a permission
		// denied) go to our structured log; without a handler nats.go prints
		// them to stderr, outside the JSON logs an operator collects. Dropped
		// messages of a pull consumer are redelivered after their ack wait.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats asynchronous error", "subject", subject, "err", err)
		}),
	}
	target := cfg.URL
	if target == "" {
		ns, err := startEmbedded(cfg, log)
		if err != nil {
			return nil, err
		}
		b.server = ns
		// The service itself always uses the in-process connection: no loopback
		// TCP, no syscalls on either side. The port (when open) is for others.
		opts = append(opts, nats.InProcessServer(ns))
		target = "in-process"
	} else {
		auth, err := authOptions(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, auth...)
	}
	connectURL := target
	if b.server != nil {
		connectURL = "" // the in-process provider is used; no URL is dialled
	}
	nc, err := nats.Connect(connectURL, opts...)
	if err != nil {
		b.stopServer()
		return nil, fmt.Errorf("connect to nats %s: %w", redactURL(target), err)
	}
	b.NC = nc
	b.connected.Store(nc.IsConnected())
	js, err := jetstream.New(nc, jsOpts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.JS = js
	log.Info("nats connected", "server", redactURL(target), "embedded", b.server != nil)
	return b, nil
}

func startEmbedded(cfg BrokerConfig, log *slog.Logger) (*server.Server, error) {
	dir := cfg.DataDir
	if dir == "" {
		dir = "data"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	host := cfg.Host
	if host == "" {
		host = "127.0.0.1"
	}
	opts := &server.Options{
		ServerName:        "maventa-events-embedded",
		Host:              host,
		Port:              cfg.Port,
		DontListen:        cfg.Port == 0,
		JetStream:         true,
		StoreDir:          abs,
		JetStreamMaxStore: cfg.MaxStore,
		SyncInterval:      cfg.SyncInterval,
		SyncAlways:        cfg.SyncAlways,
		NoSigs:            true, // the service owns signal handling
		NoLog:             true,
		MaxPayload:        8 << 20,
	}
	if opts.SyncAlways && opts.SyncInterval == 0 {
		opts.SyncInterval = 2 * time.Minute // nats-server requires a value alongside "always"
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, errors.New("embedded nats did not become ready in 10s (is the port in use? is the data dir locked by another process?)")
	}
	log.Info("embedded nats started", "store_dir", abs, "client_url", clientURLOrInProcess(ns, cfg.Port),
		"sync_always", cfg.SyncAlways, "sync_interval", opts.SyncInterval)
	return ns, nil
}

func clientURLOrInProcess(ns *server.Server, port int) string {
	if port == 0 {
		return "in-process"
	}
	return ns.ClientURL()
}

func authOptions(cfg BrokerConfig) ([]nats.Option, error) {
	var opts []nats.Option
	if cfg.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(cfg.CredsFile))
	}
	if cfg.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey file: %w", err)
		}
		opts = append(opts, o)
	}
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	if cfg.TLSCert != "" || cfg.TLSKey != "" || cfg.TLSCA != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLSCert != "" || cfg.TLSKey != "" {
			cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("nats tls client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		if cfg.TLSCA != "" {
			pem, err := os.ReadFile(cfg.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("nats tls ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("nats tls ca %s: no certificates found", cfg.TLSCA)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, nats.Secure(tc))
	}
	return opts, nil
}

// Connected reports whether the connection is up right now.
func (b *Broker) Connected() bool { return b.connected.Load() && b.NC.IsConnected() }

// ClientURL is the URL other processes (the CLI) can use to reach the embedded
// server, or "" when it serves in-process clients only or NATS is external.
func (b *Broker) ClientURL() string {
	if b.server == nil || b.server.Addr() == nil {
		return ""
	}
	return b.server.ClientURL()
}

// Close drains the connection (in-flight publishes and acks complete) and then
// shuts the embedded server down and waits for it, so the store is closed cleanly.
func (b *Broker) Close() {
	if b.NC != nil && !b.NC.IsClosed() {
		done := make(chan struct{})
		b.NC.SetClosedHandler(func(*nats.Conn) { close(done) })
		if err := b.NC.Drain(); err != nil {
			b.NC.Close()
		} else {
			select {
			case <-done:
			case <-time.After(10 * time.Second): // drain bounded: never hang shutdown
				b.NC.Close()
			}
		}
	}
	b.stopServer()
}

func (b *Broker) stopServer() {
	if b.server != nil {
		b.server.Shutdown()
		b.server.WaitForShutdown()
		b.log.Info("embedded nats stopped")
		b.server = nil
	}
}

// redactURL hides passwords in a (comma-separated) NATS URL list before it
// reaches a log or error.
func redactURL(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
