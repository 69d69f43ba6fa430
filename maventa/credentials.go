package maventa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"
)

// redacted is what every printing path shows instead of a secret.
const redacted = "REDACTED"

// Secret holds a credential (API key, vendor key, operator secret). Printing it in
// any way (%v, %+v, %#v, %s, slog, JSON, a panic) shows "REDACTED"; only Reveal
// returns the value. The value sits behind a pointer so that even reflection-based
// printing of a struct holding a Secret in an unexported field shows an address,
// not the text.
type Secret struct {
	v *string
}

// NewSecret wraps s.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// Reveal returns the secret text, for the one place that must send it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// String returns "REDACTED".
func (s Secret) String() string { return redacted }

// GoString returns "REDACTED", for %#v.
func (s Secret) GoString() string { return redacted }

// Format prints "REDACTED" for every verb, so %x or %q cannot reveal the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue makes slog print "REDACTED".
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON writes "REDACTED", so a Secret cannot leak through a JSON dump.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted) }

// MarshalText writes "REDACTED".
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// CredentialsEnvVar is the default environment variable holding company credentials,
// either a JSON object {"<company uuid>": "<api key>"} or "uuid=key,uuid=key".
const CredentialsEnvVar = "MAVENTA_COMPANY_CREDENTIALS"

// CredentialSource says where a CredentialStore reads company credentials.
type CredentialSource struct {
	// Path is a JSON or YAML file (by extension .json, .yaml, .yml; otherwise
	// sniffed) holding a map of company UUID to user API key. Zero: no file.
	Path string
	// EnvVar names an environment variable read on every load; its entries override
	// the file's. Zero: no environment variable (use CredentialsEnvVar to opt in).
	EnvVar string
	// Getenv reads environment variables. Zero: os.Getenv. Tests pass a map lookup.
	Getenv func(string) string
}

// CredentialStore maps company UUIDs to their user API keys. It is safe for
// concurrent use; Reload swaps the whole map atomically, so readers never see a
// half-loaded set.
type CredentialStore struct {
	src    CredentialSource
	logger *slog.Logger
	creds  atomic.Pointer[map[string]Secret]

	mu      sync.Mutex // serialises loads and guards fileMod
	fileMod fileStamp
}

// fileStamp identifies one version of the credentials file.
type fileStamp struct {
	mod  time.Time
	size int64
}

// NewCredentialStore loads the credentials once from src. A nil logger discards logs.
func NewCredentialStore(src CredentialSource, logger *slog.Logger) (*CredentialStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if src.Getenv == nil {
		src.Getenv = os.Getenv
	}
	s := &CredentialStore{src: src, logger: logger}
	empty := map[string]Secret{}
	s.creds.Store(&empty)
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// StaticCredentials returns a store holding exactly m (company UUID to API key);
// Reload keeps it unchanged. Useful for tests and for callers with their own source.
func StaticCredentials(m map[string]string) *CredentialStore {
	s := &CredentialStore{logger: slog.New(slog.DiscardHandler), src: CredentialSource{Getenv: func(string) string { return "" }}}
	cm := make(map[string]Secret, len(m))
	for k, v := range m {
		cm[k] = NewSecret(v)
	}
	s.creds.Store(&cm)
	return s
}

// Reload re-reads the file and the environment variable and replaces the whole set.
// On error the previous credentials stay in use. Hook it to SIGHUP or use WatchFile.
func (s *CredentialStore) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.src.Path == "" && s.src.EnvVar == "" {
		return nil
	}
	m := map[string]Secret{}
	if s.src.Path != "" {
		fi, err := os.Stat(s.src.Path)
		if err != nil {
			return fmt.Errorf("maventa: credentials file: %w", err)
		}
		data, err := os.ReadFile(s.src.Path)
		if err != nil {
			return fmt.Errorf("maventa: credentials file: %w", err)
		}
		fileCreds, err := parseCredentialsFile(s.src.Path, data)
		if err != nil {
			return err
		}
		maps := fileCreds
		for k, v := range maps {
			m[k] = v
		}
		s.fileMod = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	if s.src.EnvVar != "" {
		if v := s.src.Getenv(s.src.EnvVar); strings.TrimSpace(v) != "" {
			envCreds, err := parseCredentialsEnv(v)
			if err != nil {
				return fmt.Errorf("maventa: environment variable %s: %w", s.src.EnvVar, err)
			}
			for k, v := range envCreds {
				m[k] = v
			}
		}
	}
	s.creds.Store(&m)
	s.logger.Info("maventa credentials loaded", "companies", len(m))
	return nil
}

// Lookup returns the API key of companyID, or a *NoCredentialsError
// (errors.Is(err, ErrNoCredentials)) when there is none.
func (s *CredentialStore) Lookup(companyID string) (Secret, error) {
	if s != nil {
		if v, ok := (*s.creds.Load())[companyID]; ok && !v.IsZero() {
			return v, nil
		}
	}
	return Secret{}, &NoCredentialsError{CompanyID: companyID}
}

// Companies returns the company UUIDs with credentials, sorted.
func (s *CredentialStore) Companies() []string {
	if s == nil {
		return nil
	}
	m := *s.creds.Load()
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WatchFile reloads the credentials whenever the file's modification time or size
// changes, checking every interval (zero: 10s), until ctx is done. Reload errors are
// logged and the previous credentials kept.
func (s *CredentialStore) WatchFile(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.reloadIfChanged(); err != nil {
				s.logger.Error("maventa credentials reload failed", "error", err)
			}
		}
	}
}

// reloadIfChanged reloads when the file differs from the last loaded version and
// reports whether it did.
func (s *CredentialStore) reloadIfChanged() (bool, error) {
	if s.src.Path == "" {
		return false, nil
	}
	fi, err := os.Stat(s.src.Path)
	if err != nil {
		return false, fmt.Errorf("maventa: credentials file: %w", err)
	}
	s.mu.Lock()
	same := s.fileMod == fileStamp{mod: fi.ModTime(), size: fi.Size()}
	s.mu.Unlock()
	if same {
		return false, nil
	}
	return true, s.Reload()
}

// parseCredentialsFile decodes a JSON or YAML map. Decoder messages can quote the
// offending value (which may be a key), so they are replaced by a position-only message.
func parseCredentialsFile(path string, data []byte) (map[string]Secret, error) {
	raw := map[string]string{}
	ext := strings.ToLower(filepath.Ext(path))
	isJSON := ext == ".json" || (ext != ".yaml" && ext != ".yml" && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")))
	if isJSON {
		if err := json.Unmarshal(data, &raw); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("maventa: credentials file %s: invalid JSON at byte %d", path, se.Offset)
			}
			return nil, fmt.Errorf("maventa: credentials file %s: must be a JSON object of company UUID to API key strings", path)
		}
	} else if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("maventa: credentials file %s: must be a YAML mapping of company UUID to API key strings (parser details withheld: they may quote secrets)", path)
	}
	return toSecrets(raw)
}

// parseCredentialsEnv decodes a JSON object or "uuid=key,uuid=key".
func parseCredentialsEnv(v string) (map[string]Secret, error) {
	v = strings.TrimSpace(v)
	raw := map[string]string{}
	if strings.HasPrefix(v, "{") {
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			return nil, errors.New("not a JSON object of company UUID to API key strings")
		}
		return toSecrets(raw)
	}
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, key, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("entry %d is not uuid=key", i+1)
		}
		raw[strings.TrimSpace(id)] = strings.TrimSpace(key)
	}
	return toSecrets(raw)
}

// toSecrets validates and wraps a parsed map; errors name companies, never keys.
func toSecrets(raw map[string]string) (map[string]Secret, error) {
	out := make(map[string]Secret, len(raw))
	for id, key := range raw {
		id, key = strings.TrimSpace(id), strings.TrimSpace(key)
		if id == "" {
			return nil, errors.New("maventa: credentials: empty company id")
		}
		if key == "" {
			return nil, fmt.Errorf("maventa: credentials: empty API key for company %q", id)
		}
		out[id] = NewSecret(key)
	}
	return out, nil
}
