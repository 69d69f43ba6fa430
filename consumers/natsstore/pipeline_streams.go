package natsstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/maventa-bridge/maventa-events/events"
)

// DeadLetterSubjectRoot prefixes dead letters: maventa.deadletter.<reason>.<company_id>.
const DeadLetterSubjectRoot = "maventa.deadletter"

// DeadLetterDuplicateWindow is the dead-letter stream's duplicate window; its
// max age may not be shorter (JetStream refuses such a stream).
const DeadLetterDuplicateWindow = 2 * time.Minute

// Defaults of PipelineConfig's zero fields (the service's options read them;
// the event stream's come from events).
const (
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
	DefaultProcessedTTL     = 8 * 24 * time.Hour
)

// PipelineConfig configures what the consumers need beyond the intake streams:
// the domain-event stream, the dead-letter stream and the bucket of invoice and
// company records.
type PipelineConfig struct {
	// EventStream is the domain-event stream. Default events.StreamName.
	EventStream string
	// EventMaxAge is how long domain events are kept. Default 30 days.
	EventMaxAge time.Duration
	// EventDuplicateWindow is the domain stream's Nats-Msg-Id window. Default 2h.
	// It must exceed the longest gap between publishing an event and writing the
	// record of its aggregate (a process dying in between); records cover the rest.
	EventDuplicateWindow time.Duration
	// DeadLetterStream holds messages that could not be processed. Default
	// "MAVENTA_DEADLETTER".
	DeadLetterStream string
	// DeadLetterMaxAge is how long dead letters are kept. Default 30 days.
	DeadLetterMaxAge time.Duration
	// ProcessedBucket is the KV bucket of invoice and company records (one key
	// per invoice or company; the name is kept from when it held one marker per
	// event). Default "MAVENTA_PROCESSED".
	ProcessedBucket string
	// ProcessedTTL is how long an invoice or company record lives after its
	// last change. Default 8 days: longer than Maventa's 24 h of webhook
	// retries and than the reconciliation look-back (7 days), so a fact seen
	// again by any path within that time is not emitted twice.
	ProcessedTTL time.Duration
	// Replicas per stream and bucket. Default 1.
	Replicas int
}

func (c PipelineConfig) withDefaults() PipelineConfig {
	if c.EventStream == "" {
		c.EventStream = events.StreamName
	}
	if c.EventMaxAge == 0 {
		c.EventMaxAge = events.StreamMaxAge
	}
	if c.EventDuplicateWindow == 0 {
		c.EventDuplicateWindow = events.StreamDuplicateWindow
	}
	if c.DeadLetterStream == "" {
		c.DeadLetterStream = "MAVENTA_DEADLETTER"
	}
	if c.DeadLetterMaxAge == 0 {
		c.DeadLetterMaxAge = DefaultDeadLetterMaxAge
	}
	if c.ProcessedBucket == "" {
		c.ProcessedBucket = "MAVENTA_PROCESSED"
	}
	if c.ProcessedTTL == 0 {
		c.ProcessedTTL = DefaultProcessedTTL
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	return c
}

// EventStreamConfig is the domain-event stream.
func (c PipelineConfig) EventStreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.EventStream,
		Description: "Normalized domain events (CloudEvents 1.0, structured JSON), one per Maventa fact",
		Subjects:    []string{events.StreamSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      c.EventMaxAge,
		Replicas:    c.Replicas,
		Duplicates:  c.EventDuplicateWindow,
		Discard:     jetstream.DiscardOld,
	}
}

// DeadLetterStreamConfig is the dead-letter stream.
func (c PipelineConfig) DeadLetterStreamConfig() jetstream.StreamConfig {
	c = c.withDefaults()
	return jetstream.StreamConfig{
		Name:        c.DeadLetterStream,
		Description: "Stored webhooks that could not be processed, with the original headers and the reason",
		Subjects:    []string{DeadLetterSubjectRoot + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		MaxAge:      c.DeadLetterMaxAge,
		Replicas:    c.Replicas,
		Duplicates:  DeadLetterDuplicateWindow,
		Discard:     jetstream.DiscardOld,
	}
}

// Stores returns the aggregate records of the pipeline: assignments and
// threads in rs (the reconcile bucket), invoices and companies in facts
// (NewKVRecords of the bucket EnsurePipeline returns), company facts
// remembered for ProcessedTTL.
func (c PipelineConfig) Stores(facts, rs *ReconcileStore) consumers.Stores {
	return consumers.Stores{Assignments: rs, Facts: facts, Keep: c.withDefaults().ProcessedTTL}
}

// EnsurePipeline provisions the domain-event and dead-letter streams and the
// bucket of invoice and company records, and returns the bucket.
func EnsurePipeline(ctx context.Context, js jetstream.JetStream, c PipelineConfig, log *slog.Logger) (jetstream.KeyValue, error) {
	c = c.withDefaults()
	for _, sc := range []jetstream.StreamConfig{c.EventStreamConfig(), c.DeadLetterStreamConfig()} {
		if _, err := EnsureStream(ctx, js, sc, log); err != nil {
			return nil, err
		}
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      c.ProcessedBucket,
		Description: "Invoice and company records: the facts seen and the events emitted per aggregate",
		TTL:         c.ProcessedTTL,
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("records bucket %s: %w", c.ProcessedBucket, err)
	}
	return kv, nil
}
