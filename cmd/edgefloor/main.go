// Command edgefloor measures what the webhook intake could cost at most: it
// serves POST /webhooks/maventa with the service's own webhook store (group
// commit into an embedded JetStream, as `maventa-events` runs by default) and
// as little else as the chosen level allows, so that an interleaved load run
// (compare.sh beside this file) shows how much of the service's CPU per
// webhook is the store and the HTTP edge, and how much is the rest.
//
//	-level store     read the body, store it, answer 200: no auth, no checks,
//	                 no telemetry (the floor of any design with this store)
//	-level checked   store plus what no receiver may skip: the secret
//	                 (?secret=) and the envelope parse that routes the webhook
//	-level service   the service's own router (handlers.NewRouter): auth,
//	                 limits, envelope, request metadata, metrics, tracing,
//	                 access log, answers
//
// It is a measuring tool, not a server to deploy: no TLS, no readiness beyond
// GET /readyz, no shutdown grace.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/handlers"
	"github.com/maventa-bridge/maventa-events/maventa"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edgefloor:", err)
		os.Exit(2)
	}
}

const secret = "bench-secret"

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("edgefloor", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	dir := fs.String("data-dir", "", "the embedded JetStream's directory (required, fresh per run)")
	level := fs.String("level", "store", "store, checked or service (see the package doc)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-data-dir is required: a fresh directory for the embedded JetStream store")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	newHandler, err := handlerFor(*level, log)
	if err != nil {
		return err
	}
	// The service's defaults: PUBLISH_MAX_PENDING 4096, REQUEST_TIMEOUT 2 s + 5 s.
	broker, err := natsstore.OpenBroker(ctx, natsstore.BrokerConfig{DataDir: *dir}, log,
		natsstore.AsyncPublishLimits(4096, handlers.DefaultTimeout+5*time.Second)...)
	if err != nil {
		return err
	}
	defer broker.Close()
	var streams natsstore.StreamsConfig
	if err := natsstore.EnsureIntakeStreams(ctx, broker.JS, streams, log); err != nil {
		return err
	}
	h := newHandler(natsstore.NewWebhookStore(broker.JS, streams, natsstore.PublishAsync))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "edgefloor -level %s on http://%s%s?secret=%s\n", *level, ln.Addr(), handlers.WebhookPath, secret)
	srv := &http.Server{Handler: h}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handlerFor checks level and returns what builds its handler once the
// store exists, so that a wrong level is refused before a server starts.
func handlerFor(level string, log *slog.Logger) (func(handlers.Store) http.Handler, error) {
	secrets, err := handlers.NewSecrets([]string{secret})
	if err != nil {
		return nil, err
	}
	switch level {
	case "service":
		ready := func(context.Context) error { return nil }
		return func(store handlers.Store) http.Handler {
			return handlers.NewRouter(handlers.WebhookConfig{Secrets: secrets}, store, ready, log)
		}, nil
	case "store", "checked":
	default:
		return nil, fmt.Errorf("-level %q: want store, checked or service", level)
	}
	checked := level == "checked"
	return func(store handlers.Store) http.Handler {
		r := chi.NewRouter()
		r.Post(handlers.WebhookPath, func(w http.ResponseWriter, r *http.Request) {
			if checked && !secrets.Match(r.URL.Query().Get("secret")) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			company, event := "floor", "DOCUMENTS.INVOICE.DELIVERED"
			if checked {
				env, err := maventa.ParseWebhookEnvelope(body)
				if err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				company, event = env.CompanyID, env.Event
			}
			if _, err := store.Store(r.Context(), company, event, body, http.Header{}); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		})
		r.Get("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
		return r
	}, nil
}
