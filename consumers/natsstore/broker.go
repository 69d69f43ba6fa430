// Package consumers is the NATS edge of the service: the connection to NATS (or
// an embedded nats-server), the JetStream streams it provisions, the store that
// the webhook receiver writes into, and the consumers that process what is stored.
package natsstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the embedded server's BrokerConfig fields (the service's options read them).
const (
	DefaultDataDir      = "data"
	DefaultEmbeddedHost = "127.0.0.1"
	// DefaultEmbeddedMemoryLimit is BrokerConfig.MemoryLimit's default for
	// the service: 256 MiB, above the ~145 MB the process holds live after a
	// minute at 1 000 enriched webhooks/s (docs/performance.md), so the limit
	// trims the collector's headroom rather than making it run continuously.
	DefaultEmbeddedMemoryLimit = 256 << 20
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
	// ConnectTimeout bounds WaitConnected: how long a server that never
	// answered is waited for. Zero: as long as WaitConnected's context.
	ConnectTimeout time.Duration

	// DataDir holds the embedded server's JetStream store (DataDir/jetstream).
	// Default DefaultDataDir.
	DataDir string
	// Host is the embedded server's client listen host. Default 127.0.0.1, so only
	// this machine can connect; any other host is refused unless AllowRemote.
	Host string
	// AllowRemote allows a Host that is not a loopback address. Clients still
	// need the credentials file, but the connection is not encrypted.
	AllowRemote bool
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
	// MemoryLimit is the Go soft memory limit (runtime/debug.SetMemoryLimit)
	// set for the whole process while the embedded server runs in it, unless
	// the operator set GOMEMLIMIT. The embedded server keeps its write caches
	// and duplicate-window indexes in this process's heap, and without a limit
	// the collector lets the heap double over them. Zero: no limit.
	MemoryLimit int64
}

// Broker is a live NATS connection with JetStream, and the embedded server when
// one was started.
type Broker struct {
	NC        *nats.Conn
	JS        jetstream.JetStream
	server    *server.Server
	unlock    func() // releases the embedded server's DataDir
	log       *slog.Logger
	connected atomic.Bool

	target         string        // redacted URL, for messages
	connectTimeout time.Duration // WaitConnected's bound
	firstConnect   chan struct{} // closed once the first connection is up
	firstOnce      sync.Once
	lastDialErr    atomic.Pointer[error] // the latest failed attempt before the first connection
	lost           chan struct{}         // closed when NATS is gone for good while open
	lostOnce       sync.Once
	closing        atomic.Bool // Close was called: what follows is not a loss
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
	b := &Broker{log: log, target: redactURL(cfg.URL), connectTimeout: cfg.ConnectTimeout, firstConnect: make(chan struct{}), lost: make(chan struct{})}
	if cfg.URL == "" {
		b.target = "embedded"
	}
	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		// A publish while disconnected must fail, not sit in a buffer that may be
		// flushed after we answered 503: that would store a message we said we had not.
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(cfg.WaitForServer && cfg.URL != ""),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.connected.Store(true)
			b.markConnected(nc)
		}),
		// Before the first connection, every failed attempt is reported here
		// (RetryOnFailedConnect), with the real dial error.
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			select {
			case <-b.firstConnect:
				return // a later outage: DisconnectErrHandler has said so
			default:
			}
			if errors.Is(err, nats.ErrNoServers) {
				return // the summary of the first try; the next one reports its dial error
			}
			if b.lastDialErr.Swap(&err) == nil {
				log.Warn("nats not reachable; waiting for it", "server", b.target, "err", err, "gives_up_after", b.connectTimeout)
			} else {
				log.Debug("nats still not reachable", "server", b.target, "err", err)
			}
		}),
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
		nats.ClosedHandler(func(*nats.Conn) { b.connected.Store(false); b.markLost("nats connection closed") }),
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
		ns, creds, unlock, err := startEmbedded(cfg, log)
		if err != nil {
			return nil, err
		}
		b.server, b.unlock = ns, unlock
		go func() { ns.WaitForShutdown(); b.markLost("embedded nats server stopped") }()
		// The service itself always uses the in-process connection: no loopback
		// TCP, no syscalls on either side. The port (when open) is for others.
		opts = append(opts, nats.InProcessServer(ns), nats.UserInfo(creds.User, creds.Password))
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
	if nc.IsConnected() {
		b.markConnected(nc)
	}
	js, err := jetstream.New(nc, jsOpts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	b.JS = js
	return b, nil
}

// AsyncPublishLimits bounds the asynchronous publishes awaiting an
// acknowledgement (maxPending) and how long each waits for it (timeout), as
// options of OpenBroker.
func AsyncPublishLimits(maxPending int, timeout time.Duration) []jetstream.JetStreamOpt {
	return []jetstream.JetStreamOpt{jetstream.WithPublishAsyncMaxPending(maxPending), jetstream.WithPublishAsyncTimeout(timeout)}
}

// markConnected records (once) that the first connection is up.
func (b *Broker) markConnected(nc *nats.Conn) {
	b.firstOnce.Do(func() {
		close(b.firstConnect)
		server := nc.ConnectedUrlRedacted()
		if b.server != nil {
			server = "in-process" // nats.go reports its default URL, never dialled
		}
		b.log.Info("nats connected", "server", server, "embedded", b.server != nil)
	})
}

// ConnectTimeoutError says that NATS never answered at start.
type ConnectTimeoutError struct {
	Server  string        // redacted URL list
	Timeout time.Duration // how long it was waited for
	Err     error         // the last dial error; nil when no attempt failed yet
}

func (e *ConnectTimeoutError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("nats %s did not answer within %v", e.Server, e.Timeout)
	}
	return fmt.Sprintf("nats %s did not answer within %v: %v", e.Server, e.Timeout, e.Err)
}

func (e *ConnectTimeoutError) Unwrap() error { return e.Err }

// WaitConnected returns once the first connection is up. With a server that
// never answered it returns a *ConnectTimeoutError after the configured
// ConnectTimeout, naming the last dial error; ctx ending returns ctx's error.
// Later outages are not its business: the connection reconnects forever.
func (b *Broker) WaitConnected(ctx context.Context) error {
	if b.connectTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, b.connectTimeout, errConnectTimeout)
		defer cancel()
	}
	select {
	case <-b.firstConnect:
		return nil
	case <-ctx.Done():
		if !errors.Is(context.Cause(ctx), errConnectTimeout) {
			return ctx.Err()
		}
		e := &ConnectTimeoutError{Server: b.target, Timeout: b.connectTimeout}
		if p := b.lastDialErr.Load(); p != nil {
			e.Err = *p
		}
		return e
	}
}

var errConnectTimeout = errors.New("nats connect timeout")

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

// Lost is closed when NATS is gone for good while the broker is open: the
// connection was closed (nats.go reconnects forever, so only an error it does
// not retry, such as credentials refused again, or a Close by other code) or
// the embedded server stopped (nothing restarts it). Close does not close it.
func (b *Broker) Lost() <-chan struct{} { return b.lost }

func (b *Broker) markLost(what string) {
	if b.closing.Load() {
		return
	}
	b.lostOnce.Do(func() {
		b.log.Error("nats gone for good", "what", what, "server", b.target)
		close(b.lost)
	})
}

// Connected reports whether the connection is up right now. Once NATS is
// gone for good it is false, even in the moment before the client notices
// that the embedded server stopped under it.
func (b *Broker) Connected() bool {
	select {
	case <-b.lost:
		return false
	default:
	}
	return b.connected.Load() && b.NC.IsConnected()
}

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
	b.closing.Store(true)
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
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
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
