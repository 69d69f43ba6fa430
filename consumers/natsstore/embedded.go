package natsstore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"
)

// EmbeddedCredentialsFile is the file in DataDir holding the user and password
// the embedded server requires of every client, the service's own in-process
// connection included. It is created (mode 0600) on the first start and kept,
// so the command-line tools, run as the same user, read it and connect.
const EmbeddedCredentialsFile = "nats-client.json"

const embeddedUser = "maventa-events"

// lockFile is held (flock) by the process whose embedded server uses DataDir:
// two servers on one store would corrupt it.
const lockFile = "maventa-events.lock"

// EmbeddedSetting names what to change when the embedded server cannot start.
type EmbeddedSetting int

const (
	// EmbeddedDataDir is BrokerConfig.DataDir.
	EmbeddedDataDir EmbeddedSetting = iota + 1
	// EmbeddedListen is BrokerConfig.Host and Port.
	EmbeddedListen
)

// EmbeddedError is a failure to start the embedded server with its cause, found
// at once, and the setting that fixes it.
type EmbeddedError struct {
	Setting EmbeddedSetting
	Err     error
}

func (e *EmbeddedError) Error() string { return "embedded nats: " + e.Err.Error() }
func (e *EmbeddedError) Unwrap() error { return e.Err }

// ErrDataDirInUse is the cause when another process's embedded server holds DataDir.
var ErrDataDirInUse = errors.New("in use by another process (another maventa-events on the same store)")

type embeddedCredentials struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// ReadEmbeddedCredentials reads the user and password that the embedded
// server in dataDir requires ("data" when empty). An error wrapping
// fs.ErrNotExist means no embedded server ever started there.
func ReadEmbeddedCredentials(dataDir string) (user, password string, err error) {
	c, err := readCredentials(filepath.Join(orDefault(dataDir), EmbeddedCredentialsFile))
	return c.User, c.Password, err
}

// EmbeddedClientURL is clientURL with the credentials of the embedded server
// in dataDir as its user information, for tools and tests that take a URL.
// The result holds a password: never log it.
func EmbeddedClientURL(clientURL, dataDir string) (string, error) {
	user, password, err := ReadEmbeddedCredentials(dataDir)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(clientURL)
	if err != nil {
		return "", fmt.Errorf("client URL: %w", err)
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

func orDefault(dir string) string {
	if dir == "" {
		return DefaultDataDir
	}
	return dir
}

func readCredentials(path string) (embeddedCredentials, error) {
	var c embeddedCredentials
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil || c.User == "" || c.Password == "" {
		return c, fmt.Errorf("%s: not a JSON object with user and password; delete it to have new credentials generated", path)
	}
	return c, nil
}

// ensureCredentials reads DataDir's credentials, or creates them: 32 random
// bytes, written with mode 0600 by O_EXCL so two processes never disagree.
func ensureCredentials(dir string, log *slog.Logger) (embeddedCredentials, error) {
	path := filepath.Join(dir, EmbeddedCredentialsFile)
	c, err := readCredentials(path)
	if err == nil {
		// A copied or restored file may have lost its mode; it is a password.
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return c, fmt.Errorf("%s is readable by others and cannot be restricted: %w", path, err)
			}
			log.Warn("embedded nats credentials were readable by others; restricted to mode 0600", "file", path)
		}
		return c, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return c, err
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return c, err
	}
	c = embeddedCredentials{User: embeddedUser, Password: base64.RawURLEncoding.EncodeToString(buf)}
	data, _ := json.Marshal(c)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return c, err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return c, err
	}
	if err := f.Close(); err != nil {
		return c, err
	}
	log.Info("embedded nats credentials generated", "file", path)
	return c, nil
}

// prepareDataDir creates dir when needed, proves that it can be written, and
// takes its lock; each failure is reported at once, with its real cause.
func prepareDataDir(dir string) (unlock func(), err error) {
	fail := func(err error) (func(), error) { return nil, &EmbeddedError{Setting: EmbeddedDataDir, Err: err} }
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fail(fmt.Errorf("data dir %s cannot be created: %w", dir, unwrapPath(err)))
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fail(fmt.Errorf("data dir %s is not writable: %w", dir, unwrapPath(err)))
	}
	probe.Close()
	os.Remove(probe.Name())
	unlock, err = lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return fail(fmt.Errorf("data dir %s: %w", dir, err))
	}
	return unlock, nil
}

// unwrapPath drops the *fs.PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func startEmbedded(cfg BrokerConfig, log *slog.Logger) (*server.Server, embeddedCredentials, func(), error) {
	var creds embeddedCredentials
	host := cfg.Host
	if host == "" {
		host = DefaultEmbeddedHost
	}
	if cfg.Port != 0 && !cfg.AllowRemote && !isLoopbackHost(host) {
		return nil, creds, nil, &EmbeddedError{Setting: EmbeddedListen, Err: fmt.Errorf("refusing to listen on %s, not a loopback address, unless remote clients are explicitly allowed", host)}
	}
	abs, err := filepath.Abs(orDefault(cfg.DataDir))
	if err != nil {
		return nil, creds, nil, &EmbeddedError{Setting: EmbeddedDataDir, Err: err}
	}
	unlock, err := prepareDataDir(abs)
	if err != nil {
		return nil, creds, nil, err
	}
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	creds, err = ensureCredentials(abs, log)
	if err != nil {
		return nil, creds, nil, &EmbeddedError{Setting: EmbeddedDataDir, Err: fmt.Errorf("credentials: %w", err)}
	}
	// The hash, not the password, is what the server holds; the cost is the
	// lowest because the password is 32 random bytes, not a person's choice.
	hash, err := bcrypt.GenerateFromPassword([]byte(creds.Password), bcrypt.MinCost)
	if err != nil {
		return nil, creds, nil, err
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
		Users:             []*server.User{{Username: creds.User, Password: string(hash)}},
	}
	if opts.SyncAlways && opts.SyncInterval == 0 {
		opts.SyncInterval = 2 * time.Minute // nats-server requires a value alongside "always"
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, creds, nil, fmt.Errorf("embedded nats: %w", err)
	}
	sl := &serverLog{log: log.With("component", "nats-server"), fatal: make(chan string, 1)}
	ns.SetLoggerV2(sl, false, false, false)
	go ns.Start()
	ready := make(chan bool, 1)
	go func() { ready <- ns.ReadyForConnections(30 * time.Second) }()
	var failure error
	select {
	case up := <-ready:
		if !up {
			failure = errors.New("embedded nats did not become ready in 30s")
		}
	case msg := <-sl.fatal:
		failure = classifyFatal(msg, host, cfg.Port)
	}
	if failure != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, creds, nil, failure
	}
	restore := applyMemoryLimit(cfg.MemoryLimit, log)
	log.Info("embedded nats started", "store_dir", abs, "client_url", clientURLOrInProcess(ns, cfg.Port),
		"credentials", filepath.Join(abs, EmbeddedCredentialsFile), "sync_always", cfg.SyncAlways, "sync_interval", opts.SyncInterval)
	ok = true
	return ns, creds, func() { unlock(); restore() }, nil
}

// applyMemoryLimit sets the process's Go soft memory limit to limit unless
// GOMEMLIMIT (which the runtime read at start) says otherwise. It never
// raises a lower limit already in force. restore puts back the previous
// limit when the server stops (unless someone changed it since).
func applyMemoryLimit(limit int64, log *slog.Logger) (restore func()) {
	restore = func() {}
	if limit <= 0 {
		return restore
	}
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		return restore
	}
	prev := debug.SetMemoryLimit(-1)
	if prev <= limit {
		return restore
	}
	debug.SetMemoryLimit(limit)
	log.Info("Go soft memory limit set for the embedded nats server", "bytes", limit)
	return func() {
		if debug.SetMemoryLimit(-1) == limit {
			debug.SetMemoryLimit(prev)
		}
	}
}

// classifyFatal turns the server's fatal log line into an error naming the
// setting to change.
func classifyFatal(msg, host string, port int) error {
	switch {
	case strings.Contains(msg, "listening on port"):
		cause := msg
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			cause = strings.Trim(msg[i+2:], `"`)
		}
		return &EmbeddedError{Setting: EmbeddedListen, Err: fmt.Errorf("cannot listen on %s: %s", net.JoinHostPort(host, strconv.Itoa(port)), cause)}
	case strings.Contains(msg, "JetStream"):
		return &EmbeddedError{Setting: EmbeddedDataDir, Err: errors.New(msg)}
	}
	return fmt.Errorf("embedded nats: %s", msg)
}

// serverLog is nats-server's logger: warnings and errors go to the service's
// log; a fatal error (which nats-server reports and then gives up on) is
// also handed to startEmbedded, which reports it at once.
type serverLog struct {
	log   *slog.Logger
	fatal chan string
}

func (l *serverLog) Noticef(string, ...any) {}
func (l *serverLog) Debugf(string, ...any)  {}
func (l *serverLog) Tracef(string, ...any)  {}
func (l *serverLog) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...))
}
func (l *serverLog) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...))
}
func (l *serverLog) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(msg)
	select {
	case l.fatal <- msg:
	default:
	}
}

func clientURLOrInProcess(ns *server.Server, port int) string {
	if port == 0 {
		return "in-process"
	}
	return ns.ClientURL()
}
