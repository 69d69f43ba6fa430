package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
	"github.com/maventa-bridge/maventa-events/consumers/commands"
)

// config is everything the service reads from flags and the environment.
type config struct {
	Listen          string
	AdminListen     string
	Secrets         []string
	Dev             bool
	InsecureNoAuth  bool
	MaxBody         int64
	RequestTimeout  time.Duration
	RetryAfter      time.Duration
	ShutdownTimeout time.Duration
	PublishMode     consumers.PublishMode
	MaxPending      int
	NATS            consumers.BrokerConfig
	Streams         consumers.StreamsConfig
	Pipeline        consumers.PipelineConfig
	Consumer        consumers.ConsumerConfig
	ConsumersOn     bool
	PollOn          bool
	Poller          consumers.PollerConfig
	Maventa         maventaConfig
	CommandsOn      bool
	Commands        commands.StreamConfig
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
}

// option is one setting: a flag, the environment variable behind it, and its
// default. The table below is the single source of the README's option table
// (`maventa-events config` prints it), so the two cannot drift.
type option struct {
	flag, env, def, usage string
	isBool                bool
	set                   func(c *config, v string) error
}

var options = []option{
	{flag: "listen", env: "LISTEN_ADDR", def: "127.0.0.1:8080", usage: "HTTP address for webhooks and health checks (use :8080 in a container)",
		set: func(c *config, v string) error { c.Listen = v; return nil }},
	{flag: "admin-listen", env: "ADMIN_LISTEN", def: "", usage: "separate HTTP address for operators (/metrics, /debug/pprof/); empty = off. Never expose it publicly",
		set: func(c *config, v string) error { c.AdminListen = v; return nil }},
	{flag: "webhook-secrets", env: "WEBHOOK_SECRETS", def: "", usage: "comma-separated accepted secrets (Basic auth password or ?secret=); several allow rotation",
		set: func(c *config, v string) error { c.Secrets = splitList(v); return nil }},
	{flag: "dev", env: "DEV", def: "false", isBool: true, usage: "development mode: generate and print a webhook secret when none is set",
		set: func(c *config, v string) (err error) { c.Dev, err = strconv.ParseBool(v); return }},
	{flag: "insecure-no-auth", env: "INSECURE_NO_AUTH", def: "false", isBool: true, usage: "accept webhooks without any secret (never in production)",
		set: func(c *config, v string) (err error) { c.InsecureNoAuth, err = strconv.ParseBool(v); return }},
	{flag: "max-body", env: "WEBHOOK_MAX_BODY", def: "1048576", usage: "largest accepted webhook body in bytes (larger: 413)",
		set: func(c *config, v string) (err error) { c.MaxBody, err = positiveInt(v); return }},
	{flag: "request-timeout", env: "WEBHOOK_REQUEST_TIMEOUT", def: "2s", usage: "deadline for one webhook, body read to stored acknowledgement (Maventa waits 5s)",
		set: func(c *config, v string) (err error) { c.RequestTimeout, err = positiveDuration(v); return }},
	{flag: "retry-after", env: "WEBHOOK_RETRY_AFTER", def: "5s", usage: "Retry-After sent with 503 answers",
		set: func(c *config, v string) (err error) { c.RetryAfter, err = positiveDuration(v); return }},
	{flag: "shutdown-timeout", env: "SHUTDOWN_TIMEOUT", def: "25s", usage: "how long SIGTERM waits for in-flight requests before closing",
		set: func(c *config, v string) (err error) { c.ShutdownTimeout, err = positiveDuration(v); return }},
	{flag: "publish-mode", env: "PUBLISH_MODE", def: "async", usage: "async (pipelined acknowledgements) or sync (one round trip per webhook; for comparison only)",
		set: func(c *config, v string) error {
			switch v {
			case "async":
				c.PublishMode = consumers.PublishAsync
			case "sync":
				c.PublishMode = consumers.PublishSync
			default:
				return fmt.Errorf("want async or sync, got %q", v)
			}
			return nil
		}},
	{flag: "publish-max-pending", env: "PUBLISH_MAX_PENDING", def: "4096", usage: "most unacknowledged asynchronous publishes at once",
		set: func(c *config, v string) (err error) { n, err := positiveInt(v); c.MaxPending = int(n); return err }},
	{flag: "nats-url", env: "NATS_URL", def: "", usage: "external NATS server or cluster (comma-separated); empty starts an embedded server",
		set: func(c *config, v string) error { c.NATS.URL = v; return nil }},
	{flag: "nats-creds", env: "NATS_CREDS", def: "", usage: "NATS credentials file (JWT + NKey)",
		set: func(c *config, v string) error { c.NATS.CredsFile = v; return nil }},
	{flag: "nats-nkey", env: "NATS_NKEY", def: "", usage: "file holding an NKey seed",
		set: func(c *config, v string) error { c.NATS.NKeyFile = v; return nil }},
	{flag: "nats-user", env: "NATS_USER", def: "", usage: "NATS user name",
		set: func(c *config, v string) error { c.NATS.User = v; return nil }},
	{flag: "nats-password", env: "NATS_PASSWORD", def: "", usage: "NATS password (prefer the environment to the flag)",
		set: func(c *config, v string) error { c.NATS.Password = v; return nil }},
	{flag: "nats-tls-cert", env: "NATS_TLS_CERT", def: "", usage: "client certificate for NATS mutual TLS",
		set: func(c *config, v string) error { c.NATS.TLSCert = v; return nil }},
	{flag: "nats-tls-key", env: "NATS_TLS_KEY", def: "", usage: "client key for NATS mutual TLS",
		set: func(c *config, v string) error { c.NATS.TLSKey = v; return nil }},
	{flag: "nats-tls-ca", env: "NATS_TLS_CA", def: "", usage: "CA bundle that signs the NATS servers' certificates",
		set: func(c *config, v string) error { c.NATS.TLSCA = v; return nil }},
	{flag: "data-dir", env: "DATA_DIR", def: "data", usage: "embedded NATS: JetStream store directory",
		set: func(c *config, v string) error { c.NATS.DataDir = v; return nil }},
	{flag: "nats-host", env: "NATS_EMBEDDED_HOST", def: "127.0.0.1", usage: "embedded NATS: client listen host",
		set: func(c *config, v string) error { c.NATS.Host = v; return nil }},
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
					return err
				}
				c.NATS.SyncInterval = d
			}
			return nil
		}},
	{flag: "nats-max-store", env: "NATS_MAX_STORE", def: "0", usage: "embedded NATS: most bytes the JetStream store may use (0 = no limit)",
		set: func(c *config, v string) (err error) { c.NATS.MaxStore, err = strconv.ParseInt(v, 10, 64); return }},
	{flag: "webhook-stream", env: "WEBHOOK_STREAM", def: "MAVENTA_WEBHOOKS", usage: "raw-webhook stream name",
		set: func(c *config, v string) error { c.Streams.WebhookStream = v; return nil }},
	{flag: "webhook-max-age", env: "WEBHOOK_MAX_AGE", def: "7d", usage: "how long raw webhooks are kept (units s, m, h, d)",
		set: func(c *config, v string) (err error) { c.Streams.WebhookMaxAge, err = positiveDuration(v); return }},
	{flag: "quarantine-stream", env: "QUARANTINE_STREAM", def: "MAVENTA_QUARANTINE", usage: "stream for authenticated but malformed webhooks",
		set: func(c *config, v string) error { c.Streams.QuarantineStream = v; return nil }},
	{flag: "quarantine-max-age", env: "QUARANTINE_MAX_AGE", def: "30d", usage: "how long quarantined requests are kept",
		set: func(c *config, v string) (err error) { c.Streams.QuarantineMaxAge, err = positiveDuration(v); return }},
	{flag: "stream-replicas", env: "STREAM_REPLICAS", def: "1", usage: "replicas per stream: 1 for one server, 3 in a cluster",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Streams.Replicas, c.Pipeline.Replicas = int(n), int(n)
			return err
		}},
	{flag: "dedup-window", env: "DEDUP_WINDOW", def: "2m", usage: "JetStream duplicate window for identical webhook bodies",
		set: func(c *config, v string) (err error) { c.Streams.DuplicateWindow, err = positiveDuration(v); return }},
	{flag: "commands", env: "COMMANDS_ENABLED", def: "false", isBool: true, usage: "apply commands from the RECEIVABLES_COMMANDS stream at Maventa in this process (needs -consumers); off by default for now, see docs/commands.md",
		set: func(c *config, v string) (err error) { c.CommandsOn, err = strconv.ParseBool(v); return }},
	{flag: "command-concurrency", env: "COMMAND_CONCURRENCY", def: "4", usage: "commands applied at once per process (one assignment's commands always one after the other)",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Commands.Concurrency = int(n)
			return err
		}},
	{flag: "command-max-age", env: "COMMAND_MAX_AGE", def: "7d", usage: "how long commands are kept in their stream",
		set: func(c *config, v string) (err error) { c.Commands.MaxAge, err = positiveDuration(v); return }},
	{flag: "command-record-ttl", env: "COMMAND_RECORD_TTL", def: "90d", usage: "how long a command id is remembered (never applied twice within it); keep it above COMMAND_MAX_AGE plus the dead-letter age",
		set: func(c *config, v string) (err error) { c.Commands.RecordTTL, err = positiveDuration(v); return }},
	{flag: "command-apply-lease", env: "COMMAND_APPLY_LEASE", def: "2m", usage: "how long a command another replica is applying is left alone before it is read back from Maventa",
		set: func(c *config, v string) (err error) { c.CommandLease, err = positiveDuration(v); return }},
	{flag: "consumers", env: "CONSUMERS_ENABLED", def: "true", isBool: true, usage: "process stored webhooks into domain events in this process (false: intake only)",
		set: func(c *config, v string) (err error) { c.ConsumersOn, err = strconv.ParseBool(v); return }},
	{flag: "consumer-concurrency", env: "CONSUMER_CONCURRENCY", def: "16", usage: "stored webhooks processed at once by this process",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Consumer.Concurrency = int(n)
			return err
		}},
	{flag: "consumer-max-deliver", env: "CONSUMER_MAX_DELIVER", def: "10", usage: "tries before a stored webhook goes to the dead-letter stream",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Consumer.MaxDeliver = int(n)
			return err
		}},
	{flag: "consumer-ack-wait", env: "CONSUMER_ACK_WAIT", def: "30s", usage: "how long a message is held before JetStream redelivers it (slow work extends it)",
		set: func(c *config, v string) (err error) { c.Consumer.AckWait, err = positiveDuration(v); return }},
	{flag: "consumer-retry-initial", env: "CONSUMER_RETRY_INITIAL", def: "1s", usage: "first delay before a failed message is tried again (doubles each time; Retry-After wins)",
		set: func(c *config, v string) (err error) { c.Consumer.RetryInitial, err = positiveDuration(v); return }},
	{flag: "consumer-retry-max", env: "CONSUMER_RETRY_MAX", def: "5m", usage: "longest delay between tries",
		set: func(c *config, v string) (err error) { c.Consumer.RetryMax, err = positiveDuration(v); return }},
	{flag: "event-max-age", env: "EVENT_MAX_AGE", def: "30d", usage: "how long domain events are kept in their stream",
		set: func(c *config, v string) (err error) { c.Pipeline.EventMaxAge, err = positiveDuration(v); return }},
	{flag: "event-dedup-window", env: "EVENT_DEDUP_WINDOW", def: "2h", usage: "domain-event stream's duplicate window (must exceed AckWait comfortably)",
		set: func(c *config, v string) (err error) {
			c.Pipeline.EventDuplicateWindow, err = positiveDuration(v)
			return
		}},
	{flag: "processed-ttl", env: "PROCESSED_TTL", def: "8d", usage: "how long processed markers prevent re-emitting an event (>= 25h; cover the reconciliation look-back)",
		set: func(c *config, v string) (err error) { c.Pipeline.ProcessedTTL, err = positiveDuration(v); return }},
	{flag: "deadletter-max-age", env: "DEADLETTER_MAX_AGE", def: "30d", usage: "how long dead letters are kept",
		set: func(c *config, v string) (err error) { c.Pipeline.DeadLetterMaxAge, err = positiveDuration(v); return }},
	{flag: "poll", env: "POLL_ENABLED", def: "true", isBool: true, usage: "reconcile by polling Maventa (assignment events, sent invoices, message threads) in this process",
		set: func(c *config, v string) (err error) { c.PollOn, err = strconv.ParseBool(v); return }},
	{flag: "poll-interval", env: "POLL_INTERVAL", def: "60s", usage: "time between two polls of one company (companies are spread over it)",
		set: func(c *config, v string) (err error) { c.Poller.Interval, err = positiveDuration(v); return }},
	{flag: "poll-overlap", env: "POLL_OVERLAP", def: "10m", usage: "re-read before the cursor on every poll, for late-written events",
		set: func(c *config, v string) (err error) { c.Poller.Overlap, err = positiveDuration(v); return }},
	{flag: "poll-lookback", env: "POLL_LOOKBACK", def: "7d", usage: "where a company never polled before starts (keep under PROCESSED_TTL)",
		set: func(c *config, v string) (err error) { c.Poller.LookBack, err = positiveDuration(v); return }},
	{flag: "poll-lease-ttl", env: "POLL_LEASE_TTL", def: "3m", usage: "how long a replica holds a company's polling; the most another replica waits to take over",
		set: func(c *config, v string) (err error) { c.Poller.LeaseTTL, err = positiveDuration(v); return }},
	{flag: "poll-concurrency", env: "POLL_CONCURRENCY", def: "4", usage: "companies polled at once by this process",
		set: func(c *config, v string) (err error) {
			n, err := positiveInt(v)
			c.Poller.Concurrency = int(n)
			return err
		}},
	{flag: "poll-invoices", env: "POLL_INVOICES", def: "true", isBool: true, usage: "also poll sent invoices for lost DOCUMENTS webhooks (seed 004's fallback)",
		set: func(c *config, v string) (err error) { c.Poller.Invoices, err = strconv.ParseBool(v); return }},
	{flag: "poll-messages", env: "POLL_MESSAGES", def: "true", isBool: true, usage: "also poll Amili message threads for new messages",
		set: func(c *config, v string) (err error) { c.Poller.Messages, err = strconv.ParseBool(v); return }},
	{flag: "poll-error-backoff-max", env: "POLL_ERROR_BACKOFF_MAX", def: "15m", usage: "longest wait of a company whose polls fail (doubling from the interval; Retry-After wins)",
		set: func(c *config, v string) (err error) { c.Poller.ErrorBackoffMax, err = positiveDuration(v); return }},
	{flag: "poll-holder", env: "POLL_HOLDER", def: "", usage: "this replica's name in poll leases (default: host name and process id)",
		set: func(c *config, v string) error { c.Poller.Holder = v; return nil }},
	{flag: "maventa-ax-url", env: "MAVENTA_AX_URL", def: "https://ax.maventa.com", usage: "Maventa AX API base URL (staging: https://ax-stage.maventa.com)",
		set: func(c *config, v string) error { c.Maventa.AXURL = v; return nil }},
	{flag: "maventa-receivables-url", env: "MAVENTA_RECEIVABLES_URL", def: "https://receivables.maventa.com", usage: "Receivables API base URL (production host assumed; staging: https://receivables-stage.maventa.com)",
		set: func(c *config, v string) error { c.Maventa.ReceivablesURL = v; return nil }},
	{flag: "maventa-vendor-api-key", env: "MAVENTA_VENDOR_API_KEY", def: "", usage: "the vendor API key sent with every token request (prefer the environment)",
		set: func(c *config, v string) error { c.Maventa.VendorAPIKey = v; return nil }},
	{flag: "maventa-credentials-file", env: "MAVENTA_CREDENTIALS_FILE", def: "", usage: "JSON or YAML map of company UUID to user API key, reloaded when it changes; MAVENTA_COMPANY_CREDENTIALS (JSON or uuid=key,...) adds to it",
		set: func(c *config, v string) error { c.Maventa.CredentialsFile = v; return nil }},
	{flag: "maventa-rps", env: "MAVENTA_REQUESTS_PER_SECOND", def: "10", usage: "most requests per second to each Maventa host",
		set: func(c *config, v string) (err error) {
			c.Maventa.RequestsPerSecond, err = strconv.ParseFloat(v, 64)
			if err == nil && c.Maventa.RequestsPerSecond <= 0 {
				err = fmt.Errorf("must be positive, got %s", v)
			}
			return err
		}},
	{flag: "log-level", env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error (debug logs every request)",
		set: func(c *config, v string) error { c.LogLevel = v; return nil }},
	{flag: "log-format", env: "LOG_FORMAT", def: "text", usage: "text or json",
		set: func(c *config, v string) error { c.LogFormat = v; return nil }},
}

// parseConfig reads flags, with each flag's default taken from its environment
// variable when that is set, so the precedence is flag > environment > default.
func parseConfig(name string, args []string, getenv func(string) string, out io.Writer) (*config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	vals := make([]*optionValue, len(options))
	for i, o := range options {
		v := &optionValue{s: o.def, isBool: o.isBool}
		if e := getenv(o.env); e != "" {
			v.s = e
		}
		vals[i] = v
		fs.Var(v, o.flag, fmt.Sprintf("%s (env %s)", o.usage, o.env))
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := &config{}
	for i, o := range options {
		if err := o.set(c, vals[i].s); err != nil {
			return nil, fmt.Errorf("-%s / %s: %w", o.flag, o.env, err)
		}
	}
	if c.Poller.Holder == "" {
		host, _ := os.Hostname()
		c.Poller.Holder = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	return c, nil
}

type optionValue struct {
	s      string
	isBool bool
}

func (v *optionValue) String() string     { return v.s }
func (v *optionValue) Set(s string) error { v.s = s; return nil }
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
		return 0, err
	}
	if n <= 0 {
		return 0, fmt.Errorf("must be positive, got %d", n)
	}
	return n, nil
}

// positiveDuration parses Go durations plus a day unit ("7d", "1d12h").
func positiveDuration(v string) (time.Duration, error) {
	var total time.Duration
	rest := v
	if i := strings.Index(rest, "d"); i > 0 {
		days, err := strconv.Atoi(rest[:i])
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", v)
		}
		total = time.Duration(days) * 24 * time.Hour
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", v)
		}
		total += d
	}
	if total <= 0 {
		return 0, fmt.Errorf("must be a positive duration, got %q", v)
	}
	return total, nil
}
