package natsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Subject roots of the streams this service owns.
const (
	// WebhookSubjectRoot prefixes every stored webhook:
	// maventa.webhooks.<company_id>.<EVENT tokens...>.
	WebhookSubjectRoot = "maventa.webhooks"
	// QuarantineSubjectRoot prefixes webhooks that authenticated but could not be
	// understood: maventa.quarantine.<reason>.
	QuarantineSubjectRoot = "maventa.quarantine"
)

// Defaults of StreamsConfig's zero fields (the service's options read them).
const (
	DefaultWebhookStream    = "MAVENTA_WEBHOOKS"
	DefaultWebhookMaxAge    = 7 * 24 * time.Hour
	DefaultQuarantineStream = "MAVENTA_QUARANTINE"
	DefaultQuarantineMaxAge = 30 * 24 * time.Hour
	DefaultReplicas         = 1
	DefaultDuplicateWindow  = 2 * time.Minute
)

// StreamsConfig configures the streams the service provisions at start-up.
type StreamsConfig struct {
	// WebhookStream is the raw-webhook stream's name. Default "MAVENTA_WEBHOOKS".
	WebhookStream string
	// WebhookMaxAge is how long raw webhooks are kept, so events can be
	// re-normalized later. Default 7 days.
	WebhookMaxAge time.Duration
	// QuarantineStream holds requests that authenticated but were malformed.
	// Default "MAVENTA_QUARANTINE".
	QuarantineStream string
	// QuarantineMaxAge is how long quarantined requests are kept. Default 30 days,
	// long enough for a person to look at them.
	QuarantineMaxAge time.Duration
	// Replicas per stream: 1 for a single (embedded) server, 3 in a cluster. Default 1.
	Replicas int
	// DuplicateWindow is JetStream's deduplication window for Nats-Msg-Id.
	// Default 2 minutes. Maventa retries an hour apart, far outside any sensible
	// window: the consumers deduplicate those; this window catches bursts and our
	// own senders' quick retries. Memory grows with rate x window.
	DuplicateWindow time.Duration
	// MaxMsgSize bounds one stored message in bytes. Default 2 MiB (the request
	// body limit plus headers must fit).
	MaxMsgSize int32
}

func (c StreamsConfig) withDefaults() StreamsConfig {
	if c.WebhookStream == "" {
		c.WebhookStream = DefaultWebhookStream
	}
	if c.WebhookMaxAge == 0 {
		c.WebhookMaxAge = DefaultWebhookMaxAge
	}
	if c.QuarantineStream == "" {
		c.QuarantineStream = DefaultQuarantineStream
	}
	if c.QuarantineMaxAge == 0 {
		c.QuarantineMaxAge = DefaultQuarantineMaxAge
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.MaxMsgSize == 0 {
		c.MaxMsgSize = 2 << 20
	}
	return c
}

// WebhookStreamConfig is the raw-webhook stream: file storage, original bytes and
// headers, limits retention so that any number of consumers can read it.
func (c StreamsConfig) WebhookStreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.WebhookStream,
		Description: "Maventa webhooks exactly as received (body bytes and request metadata)",
		Subjects:    []string{WebhookSubjectRoot + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      c.WebhookMaxAge,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		MaxMsgSize:  c.MaxMsgSize,
		Discard:     jetstream.DiscardOld,
	}
}

// QuarantineStreamConfig is the stream for authenticated but malformed requests.
func (c StreamsConfig) QuarantineStreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.QuarantineStream,
		Description: "Authenticated webhook requests that could not be understood, kept for inspection",
		Subjects:    []string{QuarantineSubjectRoot + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      c.QuarantineMaxAge,
		Replicas:    c.Replicas,
		Duplicates:  c.DuplicateWindow,
		MaxMsgSize:  c.MaxMsgSize,
		Discard:     jetstream.DiscardOld,
	}
}

// StreamConflictError says that an existing stream cannot be brought to the
// wanted configuration without deleting or recreating it, which this service
// never does on its own.
type StreamConflictError struct {
	Stream     string
	Field      string
	Have, Want string
	Messages   uint64
}

func (e *StreamConflictError) Error() string {
	return fmt.Sprintf("stream %s exists with %s=%s but this service needs %s=%s; it holds %d messages and is never deleted or recreated automatically: migrate it by hand (back it up with `nats stream backup`, then recreate it) or change the configuration to match",
		e.Stream, e.Field, e.Have, e.Field, e.Want, e.Messages)
}

// EnsureStream creates the stream, or updates the settings that can change in
// place (age, replicas, duplicate window, size limits, added subjects). Settings
// that would need the stream to be recreated (storage, retention, dropped
// subjects) fail with a *StreamConflictError and leave the stream untouched.
func EnsureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig, log *slog.Logger) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, want)
		if err == nil {
			log.Info("stream created", "stream", want.Name, "subjects", want.Subjects, "max_age", want.MaxAge, "replicas", want.Replicas)
			return st, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return nil, fmt.Errorf("create stream %s: %w", want.Name, err)
		}
		// Another replica created it a moment ago: compare with what it made.
		st, err = js.Stream(ctx, want.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", want.Name, err)
	}
	info := st.CachedInfo()
	have := info.Config
	conflict := func(field, h, w string) error {
		return &StreamConflictError{Stream: want.Name, Field: field, Have: h, Want: w, Messages: info.State.Msgs}
	}
	if have.Storage != want.Storage {
		return nil, conflict("storage", have.Storage.String(), want.Storage.String())
	}
	if have.Retention != want.Retention {
		return nil, conflict("retention", have.Retention.String(), want.Retention.String())
	}
	for _, s := range have.Subjects {
		if !slices.Contains(want.Subjects, s) {
			return nil, conflict("subjects", fmt.Sprint(have.Subjects), fmt.Sprint(want.Subjects))
		}
	}
	upd := have
	upd.Subjects = want.Subjects
	upd.Description = want.Description
	upd.MaxAge = want.MaxAge
	upd.Replicas = want.Replicas
	upd.Duplicates = want.Duplicates
	upd.MaxMsgSize = want.MaxMsgSize
	upd.Discard = want.Discard
	if sameUpdatable(have, upd) {
		return st, nil
	}
	if upd.MaxAge != 0 && (have.MaxAge == 0 || upd.MaxAge < have.MaxAge) {
		log.Warn("stream max age shortened: messages older than the new age will be removed by JetStream",
			"stream", want.Name, "from", have.MaxAge, "to", upd.MaxAge)
	}
	st, err = js.UpdateStream(ctx, upd)
	if err != nil {
		return nil, fmt.Errorf("update stream %s: %w", want.Name, err)
	}
	log.Info("stream updated", "stream", want.Name, "max_age", upd.MaxAge, "replicas", upd.Replicas, "duplicates", upd.Duplicates)
	return st, nil
}

// sameUpdatable compares the settings EnsureStream manages. The server stores
// "no limit" as -1 where a config may say 0, so limits are compared normalized;
// otherwise every replica starting would "update" an unchanged stream, and two
// replicas doing that while one creates it make JetStream time out.
func sameUpdatable(a, b jetstream.StreamConfig) bool {
	limit := func(v int32) int32 {
		if v <= 0 {
			return -1
		}
		return v
	}
	return slices.Equal(a.Subjects, b.Subjects) && a.Description == b.Description && a.MaxAge == b.MaxAge &&
		a.Replicas == b.Replicas && a.Duplicates == b.Duplicates && limit(a.MaxMsgSize) == limit(b.MaxMsgSize) && a.Discard == b.Discard
}

// EnsureIntakeStreams provisions the raw-webhook and quarantine streams.
func EnsureIntakeStreams(ctx context.Context, js jetstream.JetStream, c StreamsConfig, log *slog.Logger) error {
	for _, sc := range []jetstream.StreamConfig{c.WebhookStreamConfig(), c.QuarantineStreamConfig()} {
		if _, err := EnsureStream(ctx, js, sc, log); err != nil {
			return err
		}
	}
	return nil
}
