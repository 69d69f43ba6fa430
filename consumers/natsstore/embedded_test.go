package natsstore

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestEmbeddedServerCredentials: the first start writes the credentials
// (mode 0600), later starts keep them, a loosened file mode is restricted
// again, and a client without them is refused.
func TestEmbeddedServerCredentials(t *testing.T) {
	dir := t.TempDir()
	start := func() *Broker {
		t.Helper()
		b, err := OpenBroker(context.Background(), BrokerConfig{DataDir: dir, Port: -1}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := start()
	path := filepath.Join(dir, EmbeddedCredentialsFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v, want mode 0600", st, err)
	}
	user, password, err := ReadEmbeddedCredentials(dir)
	if err != nil || user == "" || len(password) < 40 {
		t.Fatalf("credentials %q (%d chars): %v", user, len(password), err)
	}
	if _, err := nats.Connect(b.ClientURL(), nats.MaxReconnects(0)); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("anonymous client: %v, want an authorization error", err)
	}
	withCreds, err := EmbeddedClientURL(b.ClientURL(), dir)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(withCreds)
	if err != nil {
		t.Fatalf("client with the credentials: %v", err)
	}
	nc.Close()
	b.Close()

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	b = start()
	defer b.Close()
	if _, again, _ := ReadEmbeddedCredentials(dir); again != password {
		t.Error("a restart generated new credentials: running CLIs and tools would lose access")
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v after restart, want 0600", st.Mode().Perm())
	}
}

func TestEmbeddedServerRefusesWhatWouldExposeOrCorruptIt(t *testing.T) {
	dir := t.TempDir()
	b, err := OpenBroker(context.Background(), BrokerConfig{DataDir: dir}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var ee *EmbeddedError
	_, err = OpenBroker(context.Background(), BrokerConfig{DataDir: dir}, quiet)
	if !errors.As(err, &ee) || ee.Setting != EmbeddedDataDir || !errors.Is(err, ErrDataDirInUse) {
		t.Errorf("a second server on the same store: %v", err)
	}
	_, err = OpenBroker(context.Background(), BrokerConfig{DataDir: t.TempDir(), Host: "0.0.0.0", Port: -1}, quiet)
	if !errors.As(err, &ee) || ee.Setting != EmbeddedListen {
		t.Errorf("a non-loopback host without AllowRemote: %v", err)
	}
}

// TestEmbeddedMemoryLimit: the embedded server's default soft limit applies
// only when the operator set no GOMEMLIMIT, and never raises a lower limit.
func TestEmbeddedMemoryLimit(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })
	const limit = 300 << 20
	tests := []struct {
		name       string
		gomemlimit string // "-" = unset
		current    int64
		limit      int64
		want       int64
	}{
		{"unset: the default applies", "-", math.MaxInt64, limit, limit},
		{"empty GOMEMLIMIT counts as unset", "", math.MaxInt64, limit, limit},
		{"GOMEMLIMIT set: the operator's limit stays", "1GiB", math.MaxInt64, limit, math.MaxInt64},
		{"a lower limit in force is kept", "-", 100 << 20, limit, 100 << 20},
		{"zero: no limit set", "-", math.MaxInt64, 0, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GOMEMLIMIT", tt.gomemlimit)
			if tt.gomemlimit == "-" {
				os.Unsetenv("GOMEMLIMIT")
			}
			debug.SetMemoryLimit(tt.current)
			restore := applyMemoryLimit(tt.limit, quiet)
			if got := debug.SetMemoryLimit(-1); got != tt.want {
				t.Errorf("memory limit %d, want %d", got, tt.want)
			}
			restore()
			if got := debug.SetMemoryLimit(-1); got != tt.current {
				t.Errorf("after the server stopped: memory limit %d, want the previous %d", got, tt.current)
			}
		})
	}
	// Through the broker: set while the embedded server runs, restored by Close.
	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	b, err := OpenBroker(context.Background(), BrokerConfig{DataDir: t.TempDir(), MemoryLimit: limit}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("while the embedded server runs: memory limit %d, want %d", got, limit)
	}
	b.Close()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("after Close: memory limit %d, want none", got)
	}
}
