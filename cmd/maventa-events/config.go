package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/commands"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/consumers/natsstore/commandstream"
	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/handlers"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// config is everything the service reads from flags and the environment.
type config struct {
	Listen          string
	AdminListen     string
	MaxConns        int
	TLSCertFile     string
	TLSKeyFile      string
	SecretFlags     []string // secret options given as flags (visible in the process list)
	Secrets         []string
	Dev             bool
	InsecureNoAuth  bool
	MaxBody         int64
	RequestTimeout  time.Duration
	RetryAfter      time.Duration
	ShutdownTimeout time.Duration
	PublishMode     natsstore.PublishMode
	MaxPending      int
	NATS            natsstore.BrokerConfig
	Streams         natsstore.StreamsConfig
	Pipeline        natsstore.PipelineConfig
	Consumer        natsstore.ConsumerConfig
	ConsumersOn     bool
	PollOn          bool
	Poller          consumers.PollerConfig
	Maventa         maventaConfig
	CommandsOn      bool
	Commands        commandstream.StreamConfig
	CommandLease    time.Duration
	LogLevel        string
	LogFormat       string
}

// maventaConfig says how to reach Maventa's APIs and with which credentials.
type maventaConfig struct {
	AXURL, ReceivablesURL string
	VendorAPIKey          string
	CredentialsFile       string
	RequestsPerSecond     float64
	PollShare             float64
	ThrottleCooldown      time.Duration
}

// option is one setting: a flag, the environment variable behind it, and its
// default. The table below is the single source of the README's option table
// (`maventa-events config` prints it), so the two cannot drift. A default that
// a package also applies to its config's zero value is read from that
// package's Default constant, so each number is written once.
type option struct {
	flag, env, def, usage string
	isBool                bool
	secret                bool // its value is never shown (config, logs, /debug/pprof/cmdline)
	set                   func(c *config, v string) error
}

var options = []option{
	{flag: "listen", env: "LISTEN_ADDR", def: "127.0.0.1:8080", usage: "HTTP address for webhooks and health checks (use :8080 in a container)",
		set: func(c *config, v string) error { c.Listen = v; return nil }},
	{flag: "admin-listen", env: "ADMIN_LISTEN", def: "", usage: "separate HTTP address for operators (/metrics, /debug/pprof/); empty = off. Never expose it publicly",
		set: func(c *config, v string) error { c.AdminListen = v; return nil }},
	{flag: "max-connections", env: "MAX_CONNECTIONS", def: "1024", usage: "most open connections to LISTEN_ADDR at once (each may hold 20 KiB of headers); more wait in the kernel's accept queue",
		set: func(c *config, v string) (err error) { n, err := positiveInt(v); c.MaxConns = int(n); return err }},
	{flag: "tls-cert-file", env: "TLS_CERT_FILE", def: "", usage: "PEM certificate chain: LISTEN_ADDR and ADMIN_LISTEN serve https only (TLS 1.2+), reloaded when the file changes; set with TLS_KEY_FILE",
		set: func(c *config, v string) error { c.TLSCertFile = v; return nil }},
	{flag: "tls-key-file", env: "TLS_KEY_FILE", def: "", usage: "PEM private key of TLS_CERT_FILE, reloaded with it",
		set: func(c *config, v string) error { c.TLSKeyFile = v; return nil }},
	{flag: "webhook-secrets", env: "WEBHOOK_SECRETS", def: "", secret: true, usage: "comma-separated accepted secrets (Basic auth password or ?secret=); several allow rotation",
		set: func(c *config, v string) error { c.Secrets = splitList(v); return nil }},
	{flag: "dev", env: "DEV", def: "false", isBool: true, usage: "development mode: generate and print a webhook secret when none is set",
		set: func(c *config, v string) (err error) { c.Dev, err = strconv.ParseBool(v); return }},
	{flag: "insecure-no-auth", env: "INSECURE_NO_AUTH", def: "false", isBool: true, usage: "accept webhooks without any secret (never in production)",
		set: func(c *config, v string) (err error) { c.InsecureNoAuth, err = strconv.ParseBool(v); return }},
	{flag: "max-body", env: "WEBHOOK_MAX_BODY", def: strconv.Itoa(handlers.DefaultMaxBody), usage: "largest accepted webhook body in bytes (larger: 413)",
		set: func(c *config, v string) (err error) { c.MaxBody, err = positiveInt(v); return }},
	{flag: "request-timeout", env: "WEBHOOK_REQUEST_TIMEOUT", def: durationDef(handlers.DefaultTimeout), usage: "deadline for one webhook, body read to stored acknowledgement (Maventa waits 5s)",
		set: func(c *config, v string) (err error) { c.RequestTimeout, err = positiveDuration(v); return }},
	{flag: "retry-after", env: "WEBHOOK_RETRY_AFTER", def: durationDef(handlers.DefaultRetryAfter), usage: "Retry-After sent with 503 answers",
		set: func(c *config, v string) (err error) { c.RetryAfter, err = positiveDuration(v); return }},
	{flag: "shutdown-timeout", env: "SHUTDOWN_TIMEOUT", def: "25s", usage: "how long SIGTERM waits for in-flight requests before closing",
		set: func(c *config, v string) (err error) { c.ShutdownTimeout, err = positiveDuration(v); return }},
	{flag: "publish-mode", env: "PUBLISH_MODE", def: "async", usage: "async (pipelined acknowledgements) or sync (one round trip per webhook; for comparison only)",
		set: func(c *config, v string) error {
			switch v {
			case "async":
				c.PublishMode = natsstore.PublishAsync
			case "sync":
				c.PublishMode = natsstore.PublishSync
			default:
				return fmt.Errorf("want async or sync, got %q", v)
			}
			return nil
		}},
	{flag: "publish-max-pending", env: "PUBLISH_MAX_PENDING", def: "4096", usage: "most unacknowledged asynchronous publishes at once",
		set: func(c *config, v string) (err error) { n, err := positiveInt(v); c.MaxPending = int(n); return err }},
	{flag: "nats-url", env: "NATS_URL", def: "", usage: "external NATS server or cluster (comma-separated); empty starts an embedded server",
		set: func(c *config, v string) error { c.NATS.URL = v; return nil }},
	{flag: "nats-connect-timeout", env: "NATS_CONNECT_TIMEOUT", def: "1m", usage: "how long the service waits for an external NATS that never answered at start before it exits non-zero (later outages are waited out)",
		set: func(c *config, v string) (err error) { c.NATS.ConnectTimeout, err = positiveDuration(v); return }},
	{flag: "nats-creds", env: "NATS_CREDS", def: "", usage: "NATS credentials file (JWT + NKey)",
		set: func(c *config, v string) error { c.NATS.CredsFile = v; return nil }},
	{flag: "nats-nkey", env: "NATS_NKEY", def: "", usage: "file holding an NKey seed",
		set: func(c *config, v string) error { c.NATS.NKeyFile = v; return nil }},
	{flag: "nats-user", env: "NATS_USER", def: "", usage: "NATS user name",
		set: func(c *config, v string) error { c.NATS.User = v; return nil }},
	{flag: "nats-password", env: "NATS_PASSWORD", def: "", secret: true, usage: "NATS password (prefer the environment to the flag)",
		set: func(c *config, v string) error { c.NATS.Password = v; return nil }},
	{flag: "nats-tls-cert", env: "NATS_TLS_CERT", def: "", usage: "client certificate for NATS mutual TLS",
		set: func(c *config, v string) error { c.NATS.TLSCert = v; return nil }},
	{flag: "nats-tls-key", env: "NATS_TLS_KEY", def: "", usage: "client key for NATS mutual TLS",
		set: func(c *config, v string) error { c.NATS.TLSKey = v; return nil }},
	{flag: "nats-tls-ca", env: "NATS_TLS_CA", def: "", usage: "CA bundle that signs the NATS servers' certificates",
		set: func(c *config, v string) error { c.NATS.TLSCA = v; return nil }},
	{flag: "data-dir", env: "DATA_DIR", def: natsstore.DefaultDataDir, usage: "embedded NATS: JetStream store directory",
		set: func(c *config, v string) error { c.NATS.DataDir = v; return nil }},
	{flag: "nats-host", env: "NATS_EMBEDDED_HOST", def: natsstore.DefaultEmbeddedHost, usage: "embedded NATS: client listen host; a non-loopback host needs NATS_EMBEDDED_ALLOW_REMOTE",
		set: func(c *config, v string) error { c.NATS.Host = v; return nil }},
	{flag: "nats-allow-remote", env: "NATS_EMBEDDED_ALLOW_REMOTE", def: "false", isBool: true, usage: "embedded NATS: allow a non-loopback NATS_EMBEDDED_HOST (clients still need DATA_DIR/" + natsstore.EmbeddedCredentialsFile + "; traffic is not encrypted)",
		set: func(c *config, v string) (err error) { c.NATS.AllowRemote, err = strconv.ParseBool(v); return }},
	{flag: "nats-port", env: "NATS_EMBEDDED_PORT", def: "4222", usage: "embedded NATS: client port (0 = in-process only, -1 = any free port)",
		set: func(c *config, v string) (err error) { c.NATS.Port, err = strconv.Atoi(v); return }},
	{flag: "nats-sync", env: "NATS_SYNC", def: "default", usage: "embedded NATS fsync policy: default (every 2m), always (before each ack), or an interval like 1s",
		set: func(c *config, v string) error {
			switch v {
			case "default", "":
				c.NATS.SyncInterval, c.NATS.SyncAlways = 0, false
			case "always":
				c.NATS.SyncAlways = true
			default:
				d, err := positiveDuration(v)
				if err != nil {
					return fmt.Errorf("want default, always or an interval like 1s, got %q", v)
				}
				c.NATS.SyncInterval = d
			}
			return nil
		}},
	{flag: "nats-max-store", env: "NATS_MAX_STORE", def: "0", usage: "embedded NATS: most bytes the JetStream store may use (0 = no limit)",
		set: func(c *config, v string) (err error) { c.NATS.MaxStore, err = strconv.ParseInt(v, 10, 64); return }},
	{flag: "nats-embedded-memory-limit", env: "NATS_EMBEDDED_MEMORY_LIMIT", def: strconv.Itoa(natsstore.DefaultEmbeddedMemoryLimit), usage: "embedded NATS: the process's Go soft memory limit in bytes unless GOMEMLIMIT is set (0 = none); the server's caches and indexes live in this process",
		set: func(c *config, v string) (err error) { c.NATS.MemoryLimit, err = strconv.ParseInt(v, 10, 64); return }},
	{flag: "webhook-stream", env: "WEBHOOK_STREAM", def: natsstore.DefaultWebhookStream, usage: "raw-webhook stream name",
		set: func(c *config, v string) error { c.Streams.WebhookStream = v; return nil }},
	{flag: "webhook-max-age", env: "WEBHOOK_MAX_AGE", def: durationDef(natsstore.DefaultWebhookMaxAge), usage: "how long raw webhooks are kept (units s, m, h, d)",
		set: func(c *config, v string) (err error) { c.Streams.WebhookMaxAge, err = positiveDuration(v); return }},
	{flag: "quarantine-stream", env: "QUARANTINE_STREAM", def: natsstore.DefaultQuarantineStream, usage: "stream for authenticated but malformed webhooks",
		set: func(c *config, v string) error { c.Streams.QuarantineStream = v; return nil }},
	{flag: "quarantine-max-age", env: "QUARANTINE_MAX_AGE", def: durationDef(natsstore.DefaultQuarantineMaxAge), usage: "how long quarantined requests are kept",
		set: func(c *config, v string) (err error) { c.Streams.QuarantineMaxAge, err = positiveDuration(v); return }},
	{flag: "stream-replicas", env: "STREAM_REPLICAS", def: strconv.Itoa(natsstore.DefaultReplicas), usage: "replicas per stream: 1 for one server, 3 in a cluster",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Streams.Replicas, c.Pipeline.Replicas = int(n), int(n)
			return err
		}},
	{flag: "dedup-window", env: "DEDUP_WINDOW", def: durationDef(natsstore.DefaultDuplicateWindow), usage: "JetStream duplicate window for identical webhook bodies",
		set: func(c *config, v string) (err error) { c.Streams.DuplicateWindow, err = positiveDuration(v); return }},
	{flag: "commands", env: "COMMANDS_ENABLED", def: "true", isBool: true, usage: "apply commands from the RECEIVABLES_COMMANDS stream at Maventa in this process (needs -consumers); see docs/commands.md",
		set: func(c *config, v string) (err error) { c.CommandsOn, err = strconv.ParseBool(v); return }},
	{flag: "command-concurrency", env: "COMMAND_CONCURRENCY", def: strconv.Itoa(commands.DefaultConcurrency), usage: "commands applied at once per process (one assignment's commands always one after the other)",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Commands.Concurrency = int(n)
			return err
		}},
	{flag: "command-max-age", env: "COMMAND_MAX_AGE", def: durationDef(commandstream.DefaultMaxAge), usage: "how long commands are kept in their stream",
		set: func(c *config, v string) (err error) { c.Commands.MaxAge, err = positiveDuration(v); return }},
	{flag: "command-record-ttl", env: "COMMAND_RECORD_TTL", def: durationDef(commandstream.DefaultRecordTTL), usage: "how long a command id is remembered (never applied twice within it); keep it above COMMAND_MAX_AGE plus the dead-letter age",
		set: func(c *config, v string) (err error) { c.Commands.RecordTTL, err = positiveDuration(v); return }},
	{flag: "command-apply-lease", env: "COMMAND_APPLY_LEASE", def: durationDef(commands.DefaultApplyLease), usage: "how long a command another replica is applying is left alone before it is read back from Maventa",
		set: func(c *config, v string) (err error) { c.CommandLease, err = positiveDuration(v); return }},
	{flag: "consumers", env: "CONSUMERS_ENABLED", def: "true", isBool: true, usage: "process stored webhooks into domain events in this process (false: intake only)",
		set: func(c *config, v string) (err error) { c.ConsumersOn, err = strconv.ParseBool(v); return }},
	{flag: "consumer-concurrency", env: "CONSUMER_CONCURRENCY", def: strconv.Itoa(natsstore.DefaultConsumerConcurrency), usage: "stored webhooks processed at once by this process",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Consumer.Concurrency = int(n)
			return err
		}},
	{flag: "consumer-max-deliver", env: "CONSUMER_MAX_DELIVER", def: strconv.Itoa(natsstore.DefaultConsumerMaxDeliver), usage: "tries before a stored webhook goes to the dead-letter stream",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Consumer.MaxDeliver = int(n)
			return err
		}},
	{flag: "consumer-ack-wait", env: "CONSUMER_ACK_WAIT", def: durationDef(natsstore.DefaultConsumerAckWait), usage: "how long a message is held before JetStream redelivers it (slow work extends it)",
		set: func(c *config, v string) (err error) { c.Consumer.AckWait, err = positiveDuration(v); return }},
	{flag: "consumer-retry-initial", env: "CONSUMER_RETRY_INITIAL", def: durationDef(natsstore.DefaultConsumerRetryInitial), usage: "first delay before a failed message is tried again (doubles each time; Retry-After wins)",
		set: func(c *config, v string) (err error) { c.Consumer.RetryInitial, err = positiveDuration(v); return }},
	{flag: "consumer-retry-max", env: "CONSUMER_RETRY_MAX", def: durationDef(natsstore.DefaultConsumerRetryMax), usage: "longest delay between tries",
		set: func(c *config, v string) (err error) { c.Consumer.RetryMax, err = positiveDuration(v); return }},
	{flag: "event-max-age", env: "EVENT_MAX_AGE", def: durationDef(events.StreamMaxAge), usage: "how long domain events are kept in their stream",
		set: func(c *config, v string) (err error) { c.Pipeline.EventMaxAge, err = positiveDuration(v); return }},
	{flag: "event-dedup-window", env: "EVENT_DEDUP_WINDOW", def: durationDef(events.StreamDuplicateWindow), usage: "domain-event stream's duplicate window (must exceed AckWait comfortably)",
		set: func(c *config, v string) (err error) {
			c.Pipeline.EventDuplicateWindow, err = positiveDuration(v)
			return
		}},
	{flag: "processed-ttl", env: "PROCESSED_TTL", def: durationDef(natsstore.DefaultProcessedTTL), usage: "how long invoice and company records prevent re-emitting a fact after their last change (>= 25h; cover the reconciliation look-back)",
		set: func(c *config, v string) (err error) { c.Pipeline.ProcessedTTL, err = positiveDuration(v); return }},
	{flag: "deadletter-max-age", env: "DEADLETTER_MAX_AGE", def: durationDef(natsstore.DefaultDeadLetterMaxAge), usage: "how long dead letters are kept",
		set: func(c *config, v string) (err error) { c.Pipeline.DeadLetterMaxAge, err = positiveDuration(v); return }},
	{flag: "poll", env: "POLL_ENABLED", def: "true", isBool: true, usage: "reconcile by polling Maventa (assignment events, sent invoices, message threads) in this process",
		set: func(c *config, v string) (err error) { c.PollOn, err = strconv.ParseBool(v); return }},
	{flag: "poll-interval", env: "POLL_INTERVAL", def: secondsDef(consumers.DefaultPollInterval), usage: "time between two polls of an active company (the base interval; quiet ones back off from it)",
		set: func(c *config, v string) (err error) { c.Poller.Interval, err = positiveDuration(v); return }},
	{flag: "poll-overlap", env: "POLL_OVERLAP", def: durationDef(consumers.DefaultPollOverlap), usage: "re-read before the cursor on every poll, for late-written events",
		set: func(c *config, v string) (err error) { c.Poller.Overlap, err = positiveDuration(v); return }},
	{flag: "poll-lookback", env: "POLL_LOOKBACK", def: durationDef(consumers.DefaultPollLookBack), usage: "where a company never polled before starts (keep under PROCESSED_TTL)",
		set: func(c *config, v string) (err error) { c.Poller.LookBack, err = positiveDuration(v); return }},
	{flag: "poll-lease-ttl", env: "POLL_LEASE_TTL", def: durationDef(consumers.DefaultLeaseTTLIntervals * consumers.DefaultPollInterval), usage: "how long a replica holds a company's polling; the most another replica waits to take over",
		set: func(c *config, v string) (err error) { c.Poller.LeaseTTL, err = positiveDuration(v); return }},
	{flag: "poll-concurrency", env: "POLL_CONCURRENCY", def: strconv.Itoa(consumers.DefaultPollConcurrency), usage: "companies polled at once by this process",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Poller.Concurrency = int(n)
			return err
		}},
	{flag: "poll-invoices", env: "POLL_INVOICES", def: "true", isBool: true, usage: "also poll sent invoices for lost DOCUMENTS webhooks (seed 004's fallback)",
		set: func(c *config, v string) (err error) { c.Poller.Invoices, err = strconv.ParseBool(v); return }},
	{flag: "poll-messages", env: "POLL_MESSAGES", def: "true", isBool: true, usage: "also poll Amili message threads for new messages",
		set: func(c *config, v string) (err error) { c.Poller.Messages, err = strconv.ParseBool(v); return }},
	{flag: "poll-error-backoff-max", env: "POLL_ERROR_BACKOFF_MAX", def: durationDef(consumers.DefaultPollErrorBackoffMax), usage: "longest wait of a company whose polls fail (doubling from the interval; Retry-After wins)",
		set: func(c *config, v string) (err error) { c.Poller.ErrorBackoffMax, err = positiveDuration(v); return }},
	{flag: "poll-active-for", env: "POLL_ACTIVE_FOR", def: "", usage: "how long a company stays active (polled every POLL_INTERVAL) after news, a webhook or a command (default " + strconv.Itoa(consumers.DefaultActiveForIntervals) + " x POLL_INTERVAL)",
		set: func(c *config, v string) (err error) { c.Poller.ActiveFor, err = optionalDuration(v); return }},
	{flag: "poll-quiet-max", env: "POLL_QUIET_MAX", def: "", usage: "ceiling of a quiet receivables company's delay, doubling from the interval while nothing is new (default " + strconv.Itoa(consumers.DefaultQuietMaxIntervals) + " x POLL_INTERVAL: webhooks are the primary channel and Maventa retries them hourly for 24h, polling is the safety net; sized so 50 000 companies fit 10 req/s, see 'maventa-events sizing')",
		set: func(c *config, v string) (err error) { c.Poller.QuietMax, err = optionalDuration(v); return }},
	{flag: "poll-no-receivables-max", env: "POLL_NO_RECEIVABLES_MAX", def: "", usage: "invoice polling delay of a company without the receivables service once nothing is new (default " + strconv.Itoa(consumers.DefaultNoReceivablesIntervals) + " x POLL_INTERVAL, the poll that also does the daily re-check: DOCUMENTS webhooks are the primary channel, retried hourly for 24h; see 'maventa-events sizing')",
		set: func(c *config, v string) (err error) { c.Poller.NoReceivablesMax, err = optionalDuration(v); return }},
	{flag: "poll-no-receivables-recheck", env: "POLL_NO_RECEIVABLES_RECHECK", def: "", usage: "how often /v1/events is asked again of a company that refused it with 403/404 (default " + strconv.Itoa(consumers.DefaultRecheckIntervals) + " x POLL_INTERVAL)",
		set: func(c *config, v string) (err error) {
			c.Poller.NoReceivablesRecheck, err = optionalDuration(v)
			return
		}},
	{flag: "poll-jitter", env: "POLL_JITTER", def: floatDef(consumers.DefaultPollJitter), usage: "fraction of the interval the first pass after a start is spread over (0 to 1; active companies first)",
		set: func(c *config, v string) (err error) {
			c.Poller.Jitter, err = strconv.ParseFloat(v, 64)
			if err == nil && (c.Poller.Jitter < 0 || c.Poller.Jitter > 1) {
				err = fmt.Errorf("must be between 0 and 1, got %s", v)
			}
			if err == nil && c.Poller.Jitter == 0 {
				c.Poller.Jitter = -1 // no spread (the poller's zero value means the default)
			}
			return err
		}},
	{flag: "poll-holder", env: "POLL_HOLDER", def: "", usage: "this replica's name in poll leases (default: host name and process id)",
		set: func(c *config, v string) error { c.Poller.Holder = v; return nil }},
	{flag: "maventa-ax-url", env: "MAVENTA_AX_URL", def: maventa.DefaultAXBaseURL, usage: "Maventa AX API base URL (staging: https://ax-stage.maventa.com)",
		set: func(c *config, v string) error { c.Maventa.AXURL = v; return nil }},
	{flag: "maventa-receivables-url", env: "MAVENTA_RECEIVABLES_URL", def: maventa.DefaultReceivablesBaseURL, usage: "Receivables API base URL (production host assumed; staging: https://receivables-stage.maventa.com)",
		set: func(c *config, v string) error { c.Maventa.ReceivablesURL = v; return nil }},
	{flag: "maventa-vendor-api-key", env: "MAVENTA_VENDOR_API_KEY", def: "", secret: true, usage: "the vendor API key sent with every token request (prefer the environment)",
		set: func(c *config, v string) error { c.Maventa.VendorAPIKey = v; return nil }},
	{flag: "maventa-credentials-file", env: "MAVENTA_CREDENTIALS_FILE", def: "", usage: "JSON or YAML map of company UUID to user API key, reloaded when it changes; MAVENTA_COMPANY_CREDENTIALS (JSON or uuid=key,...) adds to it",
		set: func(c *config, v string) error { c.Maventa.CredentialsFile = v; return nil }},
	{flag: "maventa-rps", env: "MAVENTA_REQUESTS_PER_SECOND", def: floatDef(maventa.DefaultRequestsPerSecond), usage: "most requests per second to each Maventa host",
		set: func(c *config, v string) (err error) {
			c.Maventa.RequestsPerSecond, err = strconv.ParseFloat(v, 64)
			if err == nil && c.Maventa.RequestsPerSecond <= 0 {
				err = fmt.Errorf("must be positive, got %s", v)
			}
			return err
		}},
	{flag: "maventa-poll-share", env: "MAVENTA_POLL_SHARE", def: floatDef(maventa.DefaultBackgroundShare), usage: "most of each host's requests per second polling may use (enrichment and commands go first)",
		set: func(c *config, v string) (err error) {
			c.Maventa.PollShare, err = strconv.ParseFloat(v, 64)
			if err == nil && (c.Maventa.PollShare <= 0 || c.Maventa.PollShare > 1) {
				err = fmt.Errorf("must be in (0, 1], got %s", v)
			}
			return err
		}},
	{flag: "maventa-throttle-cooldown", env: "MAVENTA_THROTTLE_COOLDOWN", def: durationDef(maventa.DefaultThrottleCooldown), usage: "how long a 429 from Maventa halves a host's budget for every caller",
		set: func(c *config, v string) (err error) { c.Maventa.ThrottleCooldown, err = positiveDuration(v); return }},
	{flag: "log-level", env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error (debug logs every request)",
		set: func(c *config, v string) error { c.LogLevel = v; return oneOf(v, "debug", "info", "warn", "error") }},
	{flag: "log-format", env: "LOG_FORMAT", def: "text", usage: "text or json",
		set: func(c *config, v string) error { c.LogFormat = v; return oneOf(v, "text", "json") }},
}

// parseConfig reads flags, with each flag's default taken from its environment
// variable when that is set, so the precedence is flag > environment > default.
// It then checks every value and every rule between values, and returns all the
// problems at once, one line each, naming the flag, the variable and what is
// accepted: nothing has been started yet when configuration is wrong.
func parseConfig(name string, args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c, _, err := readConfig(name, args, getenv, out)
	return c, err
}

// readConfig is parseConfig that also returns each option's raw value and source.
func readConfig(name string, args []string, getenv func(string) string, out io.Writer) (*config, []*optionValue, error) {
	fs := newFlagSet(name, out)
	vals := make([]*optionValue, len(options))
	for i, o := range options {
		v := &optionValue{s: o.def, isBool: o.isBool, source: "default"}
		if e := getenv(o.env); e != "" {
			v.s, v.source = e, "environment"
		}
		vals[i] = v
		fs.Var(v, o.flag, fmt.Sprintf("%s (env %s)", o.usage, o.env))
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments: %v ('%s -h' lists the flags)", fs.Args(), name)
	}
	c := &config{}
	var errs []error
	for i, o := range options {
		if err := setOption(c, o, vals[i].s); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.names(), err))
		}
	}
	for i, o := range options {
		if o.secret && vals[i].source == "flag" {
			c.SecretFlags = append(c.SecretFlags, "-"+o.flag)
		}
	}
	if len(errs) == 0 { // the rules between settings need every value parsed
		errs = c.validate()
	}
	if len(errs) > 0 {
		return nil, nil, &ConfigError{Problems: errs}
	}
	if c.Poller.Holder == "" {
		host, _ := os.Hostname()
		c.Poller.Holder = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return c, vals, nil
}

// printConfig prints the settings this process would run with, given the same
// environment and flags as serve: one VARIABLE=value line per option with where
// the value came from, secrets redacted. With -table it prints the options
// table of the documentation instead.
func printConfig(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-table" || args[0] == "--table") {
		_, err := io.WriteString(stdout, optionsMarkdown())
		return err
	}
	if len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help"}, args[0]) {
		fmt.Fprintln(stderr, "maventa-events config -table: print the table of options (markdown, for the docs)")
	}
	c, vals, err := readConfig("maventa-events config", args, getenv, stderr)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "# the settings 'maventa-events serve' would run with (flag > environment > default); secrets redacted")
	for i, o := range options {
		v, source := vals[i].s, vals[i].source
		switch {
		case o.secret && v != "":
			v = "<redacted>"
		case o.env == "POLL_HOLDER" && v == "":
			v, source = c.Poller.Holder, "default: host name and process id"
		}
		fmt.Fprintf(tw, "%s=%s\t# %s\n", o.env, shellQuote(v), source)
	}
	// Read by the credential store, not through the table: show that it is set.
	if getenv(maventa.CredentialsEnvVar) != "" {
		fmt.Fprintf(tw, "%s=<redacted>\t# environment\n", maventa.CredentialsEnvVar)
	}
	return tw.Flush()
}

// shellQuote quotes v for a POSIX shell when it needs it, so the output can be
// sourced as an environment file once the redacted lines are filled in.
func shellQuote(v string) string {
	if v != "" && (v == "<redacted>" || !strings.ContainsAny(v, " \t\n'\"\\$`|&;<>()*?[]#~{}!")) {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// ConfigError is every problem found in the configuration, one line each.
type ConfigError struct{ Problems []error }

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return "configuration: " + strings.Join(lines, "\nconfiguration: ")
}

func (e *ConfigError) Unwrap() []error { return e.Problems }

// setOption parses v into c, turning the parsers' messages (strconv's
// "invalid syntax") into what the option accepts.
func setOption(c *config, o option, v string) error {
	if o.isBool {
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
	}
	err := o.set(c, v)
	if ne := (*strconv.NumError)(nil); errors.As(err, &ne) {
		if ne.Func == "ParseFloat" {
			return fmt.Errorf("want a number, got %q", v)
		}
		return fmt.Errorf("want a whole number, got %q", v)
	}
	return err
}

// names is how an error names an option: "-flag / ENV".
func (o option) names() string { return "-" + o.flag + " / " + o.env }

// optionDefault is the default of the option behind env var env.
func optionDefault(env string) string {
	for _, o := range options {
		if o.env == env {
			return o.def
		}
	}
	panic("no option for " + env)
}

// optionNames is names() of the option behind env var env.
func optionNames(env string) string {
	for _, o := range options {
		if o.env == env {
			return o.names()
		}
	}
	panic("no option for " + env) // a typo in this file; the tests run every rule
}

// validate checks what one option's parser cannot: addresses, URLs, and the
// rules between settings that would otherwise surface later as a stream that
// JetStream refuses to create (and a service retrying forever) or as events
// emitted twice.
func (c *config) validate() []error {
	var errs []error
	bad := func(env, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", optionNames(env), fmt.Sprintf(format, a...)))
	}
	both := func(envA, envB, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s and %s: %s", optionNames(envA), optionNames(envB), fmt.Sprintf(format, a...)))
	}
	if err := checkListenAddr(c.Listen); err != nil {
		bad("LISTEN_ADDR", "%v", err)
	}
	if c.AdminListen != "" {
		if err := checkListenAddr(c.AdminListen); err != nil {
			bad("ADMIN_LISTEN", "%v", err)
		}
	}
	if err := checkNATSURLs(c.NATS.URL); err != nil {
		bad("NATS_URL", "%v", err)
	}
	if c.NATS.URL == "" {
		if c.NATS.Port < -1 || c.NATS.Port > 65535 {
			bad("NATS_EMBEDDED_PORT", "want a port 1-65535, 0 (in-process only) or -1 (any free port), got %d", c.NATS.Port)
		}
		if !c.NATS.AllowRemote && !isLoopback(c.NATS.Host) {
			both("NATS_EMBEDDED_HOST", "NATS_EMBEDDED_ALLOW_REMOTE", "%q is not a loopback address: the embedded server would be reachable from other machines without encryption; use 127.0.0.1, or set NATS_EMBEDDED_ALLOW_REMOTE=true to mean it", c.NATS.Host)
		}
	}
	if c.NATS.MemoryLimit < 0 {
		bad("NATS_EMBEDDED_MEMORY_LIMIT", "want 0 (no limit) or a number of bytes, got %d", c.NATS.MemoryLimit)
	}
	if c.NATS.MaxStore < 0 {
		bad("NATS_MAX_STORE", "want 0 (no limit) or a number of bytes, got %d", c.NATS.MaxStore)
	}
	if (c.NATS.TLSCert == "") != (c.NATS.TLSKey == "") {
		both("NATS_TLS_CERT", "NATS_TLS_KEY", "give both the client certificate and its key, or neither")
	}
	for env, u := range map[string]string{"MAVENTA_AX_URL": c.Maventa.AXURL, "MAVENTA_RECEIVABLES_URL": c.Maventa.ReceivablesURL} {
		if err := checkHTTPURL(u); err != nil {
			bad(env, "%v", err)
		}
	}

	// JetStream refuses a duplicate window longer than the stream's max age.
	if c.Streams.WebhookMaxAge < c.Streams.DuplicateWindow {
		both("WEBHOOK_MAX_AGE", "DEDUP_WINDOW", "the webhook stream's max age (%v) must be at least its duplicate window (%v)", c.Streams.WebhookMaxAge, c.Streams.DuplicateWindow)
	}
	if c.Streams.QuarantineMaxAge < c.Streams.DuplicateWindow {
		both("QUARANTINE_MAX_AGE", "DEDUP_WINDOW", "the quarantine stream's max age (%v) must be at least its duplicate window (%v)", c.Streams.QuarantineMaxAge, c.Streams.DuplicateWindow)
	}
	if c.Pipeline.EventMaxAge < c.Pipeline.EventDuplicateWindow {
		both("EVENT_MAX_AGE", "EVENT_DEDUP_WINDOW", "the domain-event stream's max age (%v) must be at least its duplicate window (%v)", c.Pipeline.EventMaxAge, c.Pipeline.EventDuplicateWindow)
	}
	if c.Pipeline.DeadLetterMaxAge < natsstore.DeadLetterDuplicateWindow {
		bad("DEADLETTER_MAX_AGE", "must be at least %v, the dead-letter stream's duplicate window, got %v", natsstore.DeadLetterDuplicateWindow, c.Pipeline.DeadLetterMaxAge)
	}
	// Maventa retries a webhook for 24 hours: a marker must outlive every retry.
	if c.Pipeline.ProcessedTTL < minProcessedTTL {
		bad("PROCESSED_TTL", "must be at least %v (Maventa retries webhooks for 24h), got %v", minProcessedTTL, c.Pipeline.ProcessedTTL)
	}
	if c.Poller.LookBack > c.Pipeline.ProcessedTTL {
		both("POLL_LOOKBACK", "PROCESSED_TTL", "the look-back (%v) must not exceed the processed-marker TTL (%v), or a first poll re-emits events whose markers expired", c.Poller.LookBack, c.Pipeline.ProcessedTTL)
	}
	return errs
}

// minProcessedTTL covers Maventa's 24 hours of webhook retries with an hour to spare.
const minProcessedTTL = 25 * time.Hour

func checkListenAddr(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 0 || n > 65535) {
			err = errors.New("port out of range")
		}
	}
	if err != nil {
		return fmt.Errorf("want host:port such as :8080 or 127.0.0.1:8080, got %q", v)
	}
	return nil
}

func checkNATSURLs(list string) error {
	for _, u := range splitList(list) {
		if !strings.Contains(u, "://") {
			continue // host:port; nats.go adds nats://
		}
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return fmt.Errorf("want nats://host:4222 (comma-separated for a cluster), got %q", redactURL(u))
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("scheme %q is not NATS; want nats://host:4222 (or tls://, ws://, wss://), got %q", p.Scheme, redactURL(u))
		}
	}
	return nil
}

func checkHTTPURL(v string) error {
	p, err := url.Parse(v)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return fmt.Errorf("want an http(s) base URL such as https://ax.maventa.com, got %q", v)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// oneOf accepts v when it is one of want.
func oneOf(v string, want ...string) error {
	if slices.Contains(want, v) {
		return nil
	}
	return fmt.Errorf("want %s or %s, got %q", strings.Join(want[:len(want)-1], ", "), want[len(want)-1], v)
}

type optionValue struct {
	s      string
	isBool bool
	source string // default, environment or flag
}

func (v *optionValue) String() string     { return v.s }
func (v *optionValue) Set(s string) error { v.s, v.source = s, "flag"; return nil }
func (v *optionValue) IsBoolFlag() bool   { return v.isBool }

// optionsMarkdown is the README's table of options.
func optionsMarkdown() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, o := range options {
		def := o.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(&b, "| `-%s` | `%s` | `%s` | %s |\n", o.flag, o.env, def, o.usage)
	}
	return b.String()
}

// durationDef writes a default duration in the largest unit that divides it
// (7d, 2h, 5m, 30s), the way the options are documented and parsed.
func durationDef(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.unit
		}
	}
	return d.String()
}

// secondsDef writes a default duration in seconds (POLL_INTERVAL's 60s reads
// as the base of the multiples other options are documented in).
func secondsDef(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }

// floatDef writes a default number without trailing zeros.
func floatDef(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func positiveInt(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a positive whole number, got %q", v)
	}
	if n <= 0 {
		return 0, fmt.Errorf("want a positive whole number, got %d", n)
	}
	return n, nil
}

// positiveDuration parses Go durations plus a day unit ("7d", "1d12h").
// optionalDuration is positiveDuration where empty means "the default"
// (zero, which the package turns into its documented default).
func optionalDuration(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	return positiveDuration(v)
}

func positiveDuration(v string) (time.Duration, error) {
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return 0, fmt.Errorf("%q has no unit; want a duration such as %ss, %sm or %sh (units s, m, h, d)", v, v, v, v)
	}
	invalid := fmt.Errorf("want a duration such as 90s, 5m, 2h or 7d, got %q", v)
	var total time.Duration
	rest := v
	if i := strings.Index(rest, "d"); i > 0 {
		days, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, invalid
		}
		total = time.Duration(days) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, invalid
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("want a positive duration, got %q", v)
	}
	return total, nil
}
