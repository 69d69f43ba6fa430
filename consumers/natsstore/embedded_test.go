package natsstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
