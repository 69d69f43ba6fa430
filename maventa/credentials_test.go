package maventa

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCredentialStoreLoads(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		src  CredentialSource
		want map[string]string
	}{
		{"JSON file", CredentialSource{Path: write("c.json", `{"c1": "k1", "c2": "k2"}`)}, map[string]string{"c1": "k1", "c2": "k2"}},
		{"YAML file", CredentialSource{Path: write("c.yaml", "c1: k1\nc2: \"k2\"\n")}, map[string]string{"c1": "k1", "c2": "k2"}},
		{"env JSON object", CredentialSource{EnvVar: "E", Getenv: env(`{"c1":"k1"}`)}, map[string]string{"c1": "k1"}},
		{"env uuid=key pairs", CredentialSource{EnvVar: "E", Getenv: env(" c1=k1 , c2=k2,")}, map[string]string{"c1": "k1", "c2": "k2"}},
		{"env overrides file", CredentialSource{Path: write("d.json", `{"c1":"old","c3":"k3"}`), EnvVar: "E", Getenv: env("c1=new")},
			map[string]string{"c1": "new", "c3": "k3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewCredentialStore(tt.src, nil)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for id, key := range tt.want {
				ids = append(ids, id)
				got, err := s.Lookup(id)
				if err != nil || got.Reveal() != key {
					t.Errorf("Lookup(%s) = %q, %v; want %q", id, got.Reveal(), err, key)
				}
			}
			slices.Sort(ids)
			if got := s.Companies(); !slices.Equal(got, ids) {
				t.Errorf("Companies = %v, want %v", got, ids)
			}
			if _, err := s.Lookup("missing"); !errors.Is(err, ErrNoCredentials) {
				t.Errorf("missing company err = %v", err)
			}
		})
	}
}

func env(v string) func(string) string { return func(string) string { return v } }

func TestCredentialStoreErrorsDoNotLeakKeys(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, file, content string
	}{
		{"YAML with a list for a key", "c.yaml", "c1:\n  - leaked-SECRET\n"},
		{"JSON with a number key", "c.json", `{"c1": "leaked-SECRET", "c2": 5}`},
		{"broken JSON", "c.json", `{"c1": "leaked-SECRET",`},
		{"empty key", "c.json", `{"c1": ""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.file)
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewCredentialStore(CredentialSource{Path: p}, nil)
			if err == nil {
				t.Fatal("want error")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
	_, err := NewCredentialStore(CredentialSource{EnvVar: "E", Getenv: env("c1=leaked-SECRET,broken-SECRET")}, nil)
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("env error = %v, want an error without the key", err)
	}
}

func TestCredentialStoreReload(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(`{"c1":"k1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewCredentialStore(CredentialSource{Path: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := s.reloadIfChanged(); changed || err != nil {
		t.Fatalf("unchanged file reloaded: %v %v", changed, err)
	}
	if err := os.WriteFile(p, []byte(`{"c2":"k2"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	if changed, err := s.reloadIfChanged(); !changed || err != nil {
		t.Fatalf("changed file not reloaded: %v %v", changed, err)
	}
	if _, err := s.Lookup("c1"); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("removed company still has credentials")
	}
	if k, err := s.Lookup("c2"); err != nil || k.Reveal() != "k2" {
		t.Errorf("Lookup(c2) = %v", err)
	}

	// A broken file keeps the previous credentials.
	if err := os.WriteFile(p, []byte(`{broken`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("broken file reloaded without error")
	}
	if _, err := s.Lookup("c2"); err != nil {
		t.Errorf("credentials lost after failed reload: %v", err)
	}
}

func TestCredentialStoreConcurrentReloadAndLookup(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(`{"c1":"k1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewCredentialStore(CredentialSource{Path: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := s.Reload(); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if k, err := s.Lookup("c1"); err != nil || k.Reveal() != "k1" {
				t.Errorf("lookup %d: %v", i, err)
			}
			_ = s.Companies()
		}()
	}
	wg.Wait()
}

func TestWatchFileReturnsWhenContextEnds(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(p, []byte(`{"c1":"k1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewCredentialStore(CredentialSource{Path: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.WatchFile(ctx, time.Millisecond)
		close(done)
	}()
	cancel()
	<-done
}
