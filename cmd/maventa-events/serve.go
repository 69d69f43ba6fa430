package main

import (
	"context"
	"crypto/rand"
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
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/maventa-bridge/maventa-events/handlers"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// serve runs the service until ctx is cancelled (SIGINT/SIGTERM), then shuts down
// in order: stop being ready, finish every in-flight request with its real
// answer, drain NATS, stop the embedded server.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig("maventa-events serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return err
	}
	secrets, devSecret, err := webhookSecrets(cfg)
	if err != nil {
		return err
	}
	tlsConfig, err := tlsFiles(cfg, log)
	if err != nil {
		return err
	}
	for _, f := range cfg.SecretFlags {
		// Flags are readable by every local user (ps, /proc/PID/cmdline).
		log.Warn("a secret was given as a flag, readable in the process list; set it in the environment instead",
			"flag", f, "env", optionEnv(strings.TrimPrefix(f, "-")))
	}
	// Company credentials are configuration too: a typo must stop the service
	// here, before NATS or anything else has started.
	creds, err := loadCredentials(cfg, getenv, log)
	if err != nil {
		return err
	}
	tel, err := setupTelemetry(ctx, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer func() {
		// Last: every span of the shutdown (in-flight requests, messages in hand) is in.
		if err := tel.Shutdown(5 * time.Second); err != nil {
			log.Warn("telemetry flush incomplete", "err", err)
		}
	}()

	cfg.NATS.WaitForServer = true
	broker, err := consumers.OpenBroker(ctx, cfg.NATS, log,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxPending),
		jetstream.WithPublishAsyncTimeout(cfg.RequestTimeout+5*time.Second))
	if err != nil {
		return embeddedHint(err)
	}
	defer broker.Close()

	// Streams are provisioned in the background so that an external NATS that is
	// still starting makes us not-ready rather than crash-looping, for a bounded
	// time; a stream that conflicts with our configuration is fatal.
	var streamsReady, draining atomic.Bool
	fatal := make(chan error, 1)
	provisioned := make(chan pipelineState, 1)
	go func() {
		if err := broker.WaitConnected(ctx); err != nil {
			var te *consumers.ConnectTimeoutError
			if errors.As(err, &te) {
				fatal <- fmt.Errorf("%w; check -nats-url / NATS_URL (-nats-connect-timeout / NATS_CONNECT_TIMEOUT bounds this wait)", err)
			}
			return
		}
		provisionStreams(ctx, broker, cfg, log, &streamsReady, provisioned, fatal)
	}()

	api, err := newClient(cfg, creds, log)
	if err != nil {
		return err
	}
	if cfg.Maventa.CredentialsFile != "" {
		go creds.WatchFile(ctx, 10*time.Second)
	}
	if reg, err := api.ObserveBudgets(); err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	// Consumers run on their own context so that they stop after the HTTP server
	// has answered its last request, and before NATS is closed.
	consumerCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	consumersDone := make(chan error, 1)
	banner := make(chan struct{})
	go func() {
		select {
		case ps := <-provisioned:
			close(banner)
			if !cfg.ConsumersOn { // intake only: nothing to run until shutdown
				<-consumerCtx.Done()
				consumersDone <- nil
				return
			}
			consumersDone <- runConsumers(consumerCtx, broker, cfg, ps, api, creds, log)
		case <-consumerCtx.Done(): // stopped before the streams were ever ready
			consumersDone <- nil
		}
	}()

	ready := func(context.Context) error {
		switch {
		case draining.Load():
			return errors.New("shutting down")
		case !broker.Connected():
			return errors.New("nats disconnected")
		case !streamsReady.Load():
			return errors.New("streams not provisioned yet")
		}
		return nil
	}
	store := consumers.NewWebhookStore(broker.JS, cfg.Streams, cfg.PublishMode)
	router := handlers.NewRouter(handlers.WebhookConfig{
		Secrets: secrets, MaxBody: cfg.MaxBody, Timeout: cfg.RequestTimeout, RetryAfter: cfg.RetryAfter,
	}, store, ready, log)

	ln, err := listen(cfg.Listen, cfg.MaxConns)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	srv := newWebhookServer(router, cfg, tlsConfig, log)
	served := make(chan error, 1)
	go func() { served <- serveOn(srv, ln) }()
	adminURL := ""
	if cfg.AdminListen != "" {
		admin, url, err := startAdmin(cfg.AdminListen, tel.Metrics, tlsConfig, log)
		if err != nil {
			shutdownHTTP(srv, cfg.ShutdownTimeout, log)
			return err
		}
		defer admin.Close()
		adminURL = url
	}

	baseURL := scheme(tlsConfig) + "://" + ln.Addr().String()
	log.Info("listening", "webhook_url", baseURL+handlers.WebhookPath, "auth", secrets != nil)
	go func() {
		select {
		case <-banner: // the printed curl must work the moment a person reads it
			printBanner(stdout, baseURL, broker.ClientURL(), adminURL, cfg, devSecret)
		case <-ctx.Done():
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down", "reason", context.Cause(ctx))
	case err := <-served:
		runErr = fmt.Errorf("http server: %w", err)
	case err := <-fatal:
		runErr = err
	case err := <-consumersDone:
		// Consumers stop on their own only when they cannot run at all.
		runErr = fmt.Errorf("consumers: %w", err)
		consumersDone <- nil
	}
	draining.Store(true)
	shutdownHTTP(srv, cfg.ShutdownTimeout, log)
	stopConsumers()
	if err := <-consumersDone; err != nil && runErr == nil {
		runErr = fmt.Errorf("consumers: %w", err)
	}
	return runErr // deferred broker.Close drains NATS, then stops the embedded server
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
	var ee *consumers.EmbeddedError
	switch {
	case !errors.As(err, &ee):
		return err
	case errors.Is(err, consumers.ErrDataDirInUse):
		return fmt.Errorf("%w: stop the other process, or choose another %s", err, optionNames("DATA_DIR"))
	case ee.Setting == consumers.EmbeddedDataDir:
		return fmt.Errorf("%w: choose another %s (a directory this user can write)", err, optionNames("DATA_DIR"))
	case ee.Setting == consumers.EmbeddedListen:
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
func runConsumers(ctx context.Context, b *consumers.Broker, cfg *config, ps pipelineState, api *maventa.Client, creds *maventa.CredentialStore, log *slog.Logger) error {
	kv, state := ps.processed, ps.reconcile
	emitter := consumers.NewEmitter(b.JS, cfg.Pipeline)
	stores := cfg.Pipeline.Stores(kv, state)
	proc := consumers.NewProcessor(api, emitter, stores, log)
	handle := func(ctx context.Context, msg jetstream.Msg) error {
		return proc.Process(ctx, msg.Data(), msg.Headers())
	}
	var wc *consumers.WebhookConsumer
	err := retryUntilDone(ctx, log, "webhook consumer", func(ctx context.Context) (err error) {
		wc, err = consumers.NewWebhookConsumer(ctx, b.JS, cfg.Streams, cfg.Consumer, handle, consumers.NewDeadLetters(b.JS, cfg.Pipeline), log)
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

func shutdownHTTP(srv *http.Server, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// Shutdown stops accepting, then waits for every in-flight handler, each of
	// which answers only after its write was acknowledged or failed.
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("http shutdown incomplete", "err", err)
		_ = srv.Close()
	}
}

// pipelineState is what provisioning hands to the consumers.
type pipelineState struct {
	processed jetstream.KeyValue        // invoice and company records
	reconcile *consumers.ReconcileStore // cursors, leases, assignment and thread records
	commands  *commands.KVStore         // command records
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

func provisionStreams(ctx context.Context, b *consumers.Broker, cfg *config, log *slog.Logger, ready *atomic.Bool, done chan<- pipelineState, fatal chan<- error) {
	var ps pipelineState
	var conflict error
	err := retryUntilDone(ctx, log, "stream provisioning", func(ctx context.Context) error {
		err := consumers.EnsureIntakeStreams(ctx, b.JS, cfg.Streams, log)
		if err == nil {
			ps.processed, err = consumers.EnsurePipeline(ctx, b.JS, cfg.Pipeline, log)
		}
		if err == nil {
			ps.reconcile, err = consumers.EnsureReconcileStore(ctx, b.JS, cfg.Pipeline.Replicas, 0)
		}
		if err == nil && cfg.ConsumersOn && cfg.CommandsOn { // before readiness, like every stream
			ps.commands, err = commands.Ensure(ctx, b.JS, commandConfig(cfg), log)
			if err == nil {
				_, err = commands.EnsureConsumer(ctx, b.JS, commandConfig(cfg))
			}
		}
		var sc *consumers.StreamConflictError
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
