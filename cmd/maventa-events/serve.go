package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/google/uuid"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore/commandstream"
	"github.com/maventa-bridge/maventa-events/handlers"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// serve runs the service until ctx is cancelled (SIGINT/SIGTERM) or it fails
// for good, then shuts it down in order (Service.Shutdown).
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("maventa-events serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	s, err := NewService(cfg, getenv, stdout, log)
	if err != nil {
		return err
	}
	runErr := s.Start(ctx)
	if runErr == nil {
		select {
		case <-ctx.Done():
			log.Info("shutting down", "reason", context.Cause(ctx))
		case runErr = <-s.Failed():
		}
	}
	if err := s.Shutdown(context.WithoutCancel(ctx)); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// Service is one maventa-events service, as WTF Dial's Main is: NewService
// checks the configuration and starts nothing; Start starts everything and
// returns once the webhook listener is open; Shutdown stops it in order. The
// service is ready (/readyz) only once its streams exist, answers 200 to a
// webhook only after JetStream's acknowledgement, and on Shutdown stops being
// ready, finishes every in-flight request with its real answer, stops the
// consumers, drains NATS and stops the embedded server, then its telemetry.
type Service struct {
	cfg       *config
	getenv    func(string) string
	stdout    io.Writer
	log       *slog.Logger
	secrets   *handlers.Secrets
	devSecret string
	tlsConfig *tls.Config
	creds     *maventa.CredentialStore

	cancel        context.CancelFunc // ends Start's background work (provisioning, credential watch, banner)
	background    sync.WaitGroup     // that work but the credential watch: it uses the broker
	broker        *natsstore.Broker
	http          *http.Server
	baseURL       string // where http listens, once started
	stopConsumers context.CancelFunc
	consumersDone chan struct{} // closed when the consumers have returned
	consumersErr  error         // what they returned, once consumersDone is closed
	consumersOwn  atomic.Bool   // they stopped on their own (and said so in failed)
	streamsReady  atomic.Bool
	draining      atomic.Bool
	failed        chan error // failures that end the service, first one wins
	closers       []func()   // what Start set up, released by Shutdown last to first
}

// NewService checks what the configuration names (webhook secrets, TLS files,
// company credentials) before anything is started: a typo stops the service
// here, before NATS or anything else has started.
func NewService(cfg *config, getenv func(string) string, stdout io.Writer, log *slog.Logger) (*Service, error) {
	s := &Service{cfg: cfg, getenv: getenv, stdout: stdout, log: log, failed: make(chan error, 8)}
	var err error
	if s.secrets, s.devSecret, err = webhookSecrets(cfg); err != nil {
		return nil, err
	}
	if s.tlsConfig, err = tlsFiles(cfg, log); err != nil {
		return nil, err
	}
	for _, f := range cfg.SecretFlags {
		// Flags are readable by every local user (ps, /proc/PID/cmdline).
		log.Warn("a secret was given as a flag, readable in the process list; set it in the environment instead",
			"flag", f, "env", optionEnv(strings.TrimPrefix(f, "-")))
	}
	if s.creds, err = loadCredentials(cfg, getenv, log); err != nil {
		return nil, err
	}
	return s, nil
}

// Failed delivers a failure that ends the service: the HTTP server failing, a
// stream that conflicts with our configuration, NATS that never answered or
// is gone for good, or the consumers stopping on their own.
func (s *Service) Failed() <-chan error { return s.failed }

func (s *Service) fail(err error) {
	select {
	case s.failed <- err:
	default: // an earlier failure is already ending the service
	}
}

// errNATSLost is the failure when the NATS connection is gone for good.
var errNATSLost = errors.New("nats connection closed for good (the embedded server stopped, or the client gave up reconnecting); exiting so that the service is restarted")

// Start starts telemetry, NATS, stream provisioning (in the background), the
// Maventa client, the consumers (once the streams exist) and the listeners. It
// returns once the webhook listener is open; whatever it started is stopped
// by Shutdown, also when Start fails.
func (s *Service) Start(ctx context.Context) error {
	cfg, log := s.cfg, s.log
	ctx, s.cancel = context.WithCancel(ctx)
	tel, err := setupTelemetry(ctx, s.getenv, s.stdout, log)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, func() {
		// Last: every span of the shutdown (in-flight requests, messages in hand) is in.
		if err := tel.Shutdown(5 * time.Second); err != nil {
			log.Warn("telemetry flush incomplete", "err", err)
		}
	})

	cfg.NATS.WaitForServer = true
	broker, err := natsstore.OpenBroker(ctx, cfg.NATS, log,
		natsstore.AsyncPublishLimits(cfg.MaxPending, cfg.RequestTimeout+5*time.Second)...)
	if err != nil {
		return embeddedHint(err)
	}
	s.broker = broker
	s.closers = append(s.closers, broker.Close) // drains NATS, then stops the embedded server
	s.background.Go(func() {
		select {
		case <-broker.Lost():
			s.fail(errNATSLost)
		case <-ctx.Done():
		}
	})

	// Streams are provisioned in the background so that an external NATS that is
	// still starting makes us not-ready rather than crash-looping, for a bounded
	// time; a stream that conflicts with our configuration is fatal.
	provisioned := make(chan pipelineState, 1)
	s.background.Go(func() {
		if err := broker.WaitConnected(ctx); err != nil {
			var te *natsstore.ConnectTimeoutError
			if errors.As(err, &te) {
				s.fail(fmt.Errorf("%w; check -nats-url / NATS_URL (-nats-connect-timeout / NATS_CONNECT_TIMEOUT bounds this wait)", err))
			}
			return
		}
		provisionStreams(ctx, broker, cfg, log, &s.streamsReady, provisioned, s.failed)
	})

	api, err := newClient(cfg, s.creds, log)
	if err != nil {
		return err
	}
	if cfg.Maventa.CredentialsFile != "" {
		go s.creds.WatchFile(ctx, 10*time.Second)
	}
	if reg, err := api.ObserveBudgets(); err == nil {
		s.closers = append(s.closers, func() { _ = reg.Unregister() })
	}
	// Consumers run on their own context so that they stop after the HTTP server
	// has answered its last request, and before NATS is closed.
	consumerCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	s.stopConsumers, s.consumersDone = stopConsumers, make(chan struct{})
	banner := make(chan struct{})
	go func() {
		defer close(s.consumersDone)
		select {
		case ps := <-provisioned:
			close(banner)
			if !cfg.ConsumersOn { // intake only: nothing to run until shutdown
				<-consumerCtx.Done()
				return
			}
			s.consumersErr = runConsumers(consumerCtx, broker, cfg, ps, api, s.creds, log)
			if consumerCtx.Err() == nil { // they stop on their own only when they cannot run at all
				s.consumersOwn.Store(true)
				s.fail(fmt.Errorf("consumers: %w", s.consumersErr))
			}
		case <-consumerCtx.Done(): // stopped before the streams were ever ready
		}
	}()

	ready := func(context.Context) error {
		switch {
		case s.draining.Load():
			return errors.New("shutting down")
		case !broker.Connected():
			return errors.New("nats disconnected")
		case !s.streamsReady.Load():
			return errors.New("streams not provisioned yet")
		}
		return nil
	}
	store := natsstore.NewWebhookStore(broker.JS, cfg.Streams, cfg.PublishMode)
	router := handlers.NewRouter(handlers.WebhookConfig{
		Secrets: s.secrets, MaxBody: cfg.MaxBody, Timeout: cfg.RequestTimeout, RetryAfter: cfg.RetryAfter,
	}, store, ready, log)

	ln, err := listen(cfg.Listen, cfg.MaxConns)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	s.http = newWebhookServer(router, cfg, s.tlsConfig, log)
	go func() {
		if err := serveOn(s.http, ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("http server: %w", err))
		}
	}()
	adminURL := ""
	if cfg.AdminListen != "" {
		admin, url, err := startAdmin(cfg.AdminListen, tel.Metrics, s.tlsConfig, log)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, func() { _ = admin.Close() })
		adminURL = url
	}

	baseURL := scheme(s.tlsConfig) + "://" + ln.Addr().String()
	s.baseURL = baseURL
	log.Info("listening", "webhook_url", baseURL+handlers.WebhookPath, "auth", s.secrets != nil)
	s.background.Go(func() {
		select {
		case <-banner: // the printed curl must work the moment a person reads it
			printBanner(s.stdout, baseURL, broker.ClientURL(), adminURL, cfg, s.devSecret)
		case <-ctx.Done():
		}
	})
	return nil
}

// Shutdown stops the service in order: stop being ready, finish every
// in-flight request with its real answer (bounded by SHUTDOWN_TIMEOUT and
// ctx), stop the consumers, then release what Start set up, last first (the
// admin listener, NATS drained and the embedded server stopped, telemetry
// flushed). It returns the consumers' error unless they already reported it
// through Failed.
func (s *Service) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
	if s.http != nil {
		hctx, cancel := context.WithTimeout(ctx, s.cfg.ShutdownTimeout)
		shutdownHTTP(hctx, s.http, s.log)
		cancel()
	}
	var err error
	if s.stopConsumers != nil {
		s.stopConsumers()
		<-s.consumersDone
		if s.consumersErr != nil && !s.consumersOwn.Load() {
			err = fmt.Errorf("consumers: %w", s.consumersErr)
		}
	}
	s.background.Wait() // ended by s.cancel above; they use the broker closed below
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
	return err
}

// loadCredentials reads the company credentials (MAVENTA_CREDENTIALS_FILE and
// MAVENTA_COMPANY_CREDENTIALS) and checks that every company id is a UUID, as
// Maventa's are: an id that is not would be polled, and refused, forever.
// Without credentials every enrichment is skipped (the webhook-derived events
// are still emitted), so none at all is not fatal but worth a warning.
func loadCredentials(cfg *config, getenv func(string) string, log *slog.Logger) (*maventa.CredentialStore, error) {
	creds, err := maventa.NewCredentialStore(maventa.CredentialSource{
		Path: cfg.Maventa.CredentialsFile, EnvVar: maventa.CredentialsEnvVar, Getenv: getenv,
	}, log)
	if err != nil { // the store's errors name the variable or file, never a key
		return nil, &ConfigError{Problems: []error{err}}
	}
	var errs []error
	for _, id := range creds.Companies() {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			errs = append(errs, fmt.Errorf("%s or %s: company id %q is not a UUID; Maventa's look like %s",
				maventa.CredentialsEnvVar, optionNames("MAVENTA_CREDENTIALS_FILE"), id, "53a4e05d-42f0-4e76-acd6-968ab4558c6f"))
		}
	}
	if len(errs) > 0 {
		return nil, &ConfigError{Problems: errs}
	}
	if len(creds.Companies()) == 0 {
		log.Warn("no Maventa company credentials configured: domain events will come from webhooks alone, without assignments")
	}
	return creds, nil
}

// embeddedHint adds to an embedded server's failure the option that fixes it.
func embeddedHint(err error) error {
	var ee *natsstore.EmbeddedError
	switch {
	case !errors.As(err, &ee):
		return err
	case errors.Is(err, natsstore.ErrDataDirInUse):
		return fmt.Errorf("%w: stop the other process, or choose another %s", err, optionNames("DATA_DIR"))
	case ee.Setting == natsstore.EmbeddedDataDir:
		return fmt.Errorf("%w: choose another %s (a directory this user can write)", err, optionNames("DATA_DIR"))
	case ee.Setting == natsstore.EmbeddedListen:
		return fmt.Errorf("%w: choose another %s (-1: any free port, 0: none) or %s", err, optionNames("NATS_EMBEDDED_PORT"), optionNames("NATS_EMBEDDED_HOST"))
	}
	return err
}

// newMaventaClient builds the Maventa API client and its credential store.
func newMaventaClient(cfg *config, getenv func(string) string, log *slog.Logger) (*maventa.Client, *maventa.CredentialStore, error) {
	creds, err := loadCredentials(cfg, getenv, log)
	if err != nil {
		return nil, nil, err
	}
	api, err := newClient(cfg, creds, log)
	return api, creds, err
}

// newClient builds the Maventa API client over creds.
func newClient(cfg *config, creds *maventa.CredentialStore, log *slog.Logger) (*maventa.Client, error) {
	client, err := maventa.New(maventa.Config{
		AXBaseURL: cfg.Maventa.AXURL, ReceivablesBaseURL: cfg.Maventa.ReceivablesURL,
		VendorAPIKey:      maventa.NewSecret(cfg.Maventa.VendorAPIKey),
		RequestsPerSecond: cfg.Maventa.RequestsPerSecond,
		BackgroundShare:   cfg.Maventa.PollShare, ThrottleCooldown: cfg.Maventa.ThrottleCooldown,
		// One client span per HTTP request, children of the processing span, named
		// after the route template (never a raw path with ids).
		Transport: otelhttp.NewTransport(maventaTransport(cfg.Consumer.Concurrency+cfg.Poller.Concurrency),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
				return r.Method + " " + maventa.RouteTemplate(r.URL.Path)
			})),
		// Each try of a stored webhook is short; the consumer retries later.
		MaxElapsed: 10 * time.Second,
	}, creds, log)
	if err != nil {
		return nil, fmt.Errorf("maventa client: %w", err)
	}
	return client, nil
}

// maventaTransport is http.DefaultTransport with room to keep a connection
// per concurrent caller: its default of 2 idle connections per host made all
// but two of the consumers' concurrent Maventa calls open (and close) a new
// connection, a TCP (and TLS) handshake per call (docs/performance.md).
func maventaTransport(callers int) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(callers, 2)
	tr.MaxIdleConns = max(tr.MaxIdleConns, 2*tr.MaxIdleConnsPerHost)
	return tr
}

// runConsumers processes stored webhooks into domain events, and polls Maventa
// for what webhooks do not bring, until ctx ends.
func runConsumers(ctx context.Context, b *natsstore.Broker, cfg *config, ps pipelineState, api *maventa.Client, creds *maventa.CredentialStore, log *slog.Logger) error {
	kv, state := ps.processed, ps.reconcile
	emitter := natsstore.NewEmitter(b.JS, cfg.Pipeline)
	stores := cfg.Pipeline.Stores(kv, state)
	proc := consumers.NewProcessor(api, emitter, stores, log)
	handle := natsstore.ProcessWith(proc)
	var wc *natsstore.WebhookConsumer
	err := retryUntilDone(ctx, log, "webhook consumer", func(ctx context.Context) (err error) {
		wc, err = natsstore.NewWebhookConsumer(ctx, b.JS, cfg.Streams, cfg.Consumer, handle, natsstore.NewDeadLetters(b.JS, cfg.Pipeline), log)
		return err
	})
	if err != nil {
		return nil // stopped before the consumer could be created
	}
	log.Info("webhook consumer running", "concurrency", cfg.Consumer.Concurrency)
	var wg sync.WaitGroup
	pollErr := make(chan error, 1)
	var nudger commands.Nudger // nil without polling
	if cfg.PollOn {
		pc := cfg.Poller
		pc.Budgets = api.Budgets // budget use per host, for `status`
		pc.Budget = consumers.SizingBudget{RequestsPerSecond: cfg.Maventa.RequestsPerSecond, PollShare: cfg.Maventa.PollShare}
		poller := consumers.NewPoller(pc, api, creds, state, stores.Facts, emitter, log)
		proc.Nudge = poller.Nudge // a webhook for a company pulls its next poll forward
		nudger = poller           // and so does a command
		wg.Add(1)
		go func() {
			defer wg.Done()
			log.Info("reconciliation poller running", "interval", cfg.Poller.Interval, "holder", cfg.Poller.Holder)
			pollErr <- poller.Run(ctx)
		}()
	}
	cmdErr := make(chan error, 1)
	if cfg.CommandsOn {
		wg.Add(1)
		go func() { defer wg.Done(); cmdErr <- runCommands(ctx, b, cfg, ps.commands, api, emitter, nudger, log) }()
	}
	err = wc.Run(ctx)
	wg.Wait()
	if err == nil && cfg.PollOn {
		err = <-pollErr
	}
	if err == nil && cfg.CommandsOn {
		err = <-cmdErr
	}
	return err
}

func shutdownHTTP(ctx context.Context, srv *http.Server, log *slog.Logger) {
	// Shutdown stops accepting, then waits for every in-flight handler, each of
	// which answers only after its write was acknowledged or failed.
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("http shutdown incomplete", "err", err)
		_ = srv.Close()
	}
}

// pipelineState is what provisioning hands to the consumers.
type pipelineState struct {
	processed *natsstore.ReconcileStore // invoice and company records
	reconcile *natsstore.ReconcileStore // cursors, leases, assignment and thread records
	commands  *commandstream.KVStore    // command records
}

// retryUntilDone calls f with backoff until it succeeds or ctx ends (then it
// returns ctx's error). NATS may be starting, or another replica provisioning
// the same things at the same moment.
func retryUntilDone(ctx context.Context, log *slog.Logger, what string, f func(context.Context) error) error {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = 100 * time.Millisecond
	bo.MaxInterval = 5 * time.Second
	bo.MaxElapsedTime = 0
	return backoff.Retry(func() error {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := f(cctx)
		if err != nil && ctx.Err() == nil {
			log.Warn(what+" failed; retrying", "err", err)
		}
		return err
	}, backoff.WithContext(bo, ctx))
}

func provisionStreams(ctx context.Context, b *natsstore.Broker, cfg *config, log *slog.Logger, ready *atomic.Bool, done chan<- pipelineState, fatal chan<- error) {
	var ps pipelineState
	var conflict error
	err := retryUntilDone(ctx, log, "stream provisioning", func(ctx context.Context) error {
		err := natsstore.EnsureIntakeStreams(ctx, b.JS, cfg.Streams, log)
		if err == nil {
			kv, perr := natsstore.EnsurePipeline(ctx, b.JS, cfg.Pipeline, log)
			ps.processed, err = natsstore.NewKVRecords(kv), perr
		}
		if err == nil {
			ps.reconcile, err = natsstore.EnsureReconcileStore(ctx, b.JS, cfg.Pipeline.Replicas, 0)
		}
		if err == nil && cfg.ConsumersOn && cfg.CommandsOn { // before readiness, like every stream
			ps.commands, err = commandstream.Ensure(ctx, b.JS, commandConfig(cfg), log)
			if err == nil {
				_, err = commandstream.EnsureConsumer(ctx, b.JS, commandConfig(cfg))
			}
		}
		var sc *natsstore.StreamConflictError
		if errors.As(err, &sc) {
			conflict = err
			return backoff.Permanent(err)
		}
		return err
	})
	if err != nil {
		if conflict != nil {
			fatal <- conflict
		}
		return
	}
	ready.Store(true)
	done <- ps
}

// webhookSecrets decides how webhooks are authenticated. The service refuses to
// start without a secret unless told explicitly; in development mode it makes
// one up and returns it so that it can be printed.
func webhookSecrets(cfg *config) (s *handlers.Secrets, generated string, err error) {
	switch {
	case len(cfg.Secrets) > 0:
		s, err = handlers.NewSecrets(cfg.Secrets)
		return s, "", err
	case cfg.Dev:
		buf := make([]byte, 18)
		if _, err := rand.Read(buf); err != nil {
			return nil, "", err
		}
		generated = "dev-" + base64.RawURLEncoding.EncodeToString(buf)
		s, err = handlers.NewSecrets([]string{generated})
		return s, generated, err
	case cfg.InsecureNoAuth:
		return nil, "", nil
	}
	return nil, "", errors.New("refusing to start without a webhook secret: set WEBHOOK_SECRETS (or -webhook-secrets), use -dev to generate one for local use, or -insecure-no-auth to accept unauthenticated webhooks")
}

func newLogger(cfg *config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch cfg.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format: want text or json, got %q", cfg.LogFormat)
}

// sampleWebhook is seed 004's example of a delivered invoice.
const sampleWebhook = `{"event":"DOCUMENTS.INVOICE.DELIVERED","company_id":"53a4e05d-42f0-4e76-acd6-968ab4558c6f","event_timestamp":"2019-11-23T12:03:48+02:00","event_data":{"invoice_id":"12f88354-5998-495b-8675-67bf05de60e5","invoice_number":"1003","destination":"PEPPOL","recipient_name":"Recipient","recipient_bid":"933646920"}}`

// cliCommand is the command line that runs the CLI command cmd against this
// service: the settings the CLI cannot guess (where the embedded server listens
// and keeps its credentials) are spelled out when they are not the defaults.
func cliCommand(cfg *config, natsURL, cmd string) string {
	var b strings.Builder
	if cfg.NATS.URL == "" && cfg.NATS.DataDir != optionDefault("DATA_DIR") {
		fmt.Fprintf(&b, "DATA_DIR=%s ", shellQuote(cfg.NATS.DataDir))
	}
	b.WriteString("go run ./cmd/maventa-events " + cmd)
	if natsURL != "" && natsURL != "nats://127.0.0.1:"+optionDefault("NATS_EMBEDDED_PORT") {
		b.WriteString(" -nats-url " + shellQuote(natsURL))
	}
	return b.String()
}

// printBanner tells a person where things are. The secret is printed only when it
// was generated for this development run; a configured secret is never printed.
func printBanner(w io.Writer, baseURL, natsURL, adminURL string, cfg *config, devSecret string) {
	var b strings.Builder
	fmt.Fprintf(&b, "maventa-events listening on %s\n", baseURL)
	if natsURL != "" {
		fmt.Fprintf(&b, "  NATS:        %s (embedded; JetStream data and client credentials in %s)\n", natsURL, cfg.NATS.DataDir)
	}
	if adminURL != "" {
		fmt.Fprintf(&b, "  admin:       %s (/metrics, /debug/pprof/)\n", adminURL)
	}
	fmt.Fprintf(&b, "  webhook URL: %s%s\n", baseURL, handlers.WebhookPath)
	if devSecret != "" {
		fmt.Fprintf(&b, "  dev secret:  %s (generated for this run; set WEBHOOK_SECRETS to choose your own)\n", devSecret)
		fmt.Fprintf(&b, "\nSend a sample webhook:\n  curl -sS -X POST '%s%s?secret=%s' -H 'Content-Type: application/json' -d '%s'\n",
			baseURL, handlers.WebhookPath, devSecret, sampleWebhook)
		fmt.Fprintf(&b, "\nSee it stored:\n  %s\n", cliCommand(cfg, natsURL, "received"))
	}
	_, _ = io.WriteString(w, b.String())
}
