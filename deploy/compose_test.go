// Package deploy holds the container and deployment files; its test validates
// docker-compose.yml with the compose-spec loader, since no Docker engine runs here.
package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

func TestComposeFileIsValidAndWired(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv([]string{"WEBHOOK_SECRETS=compose-test-secret"}),
		cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	svc, err := p.GetService("maventa-events")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetService("nats"); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if v := svc.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	if env("NATS_URL") != "nats://nats:4222" || env("WEBHOOK_SECRETS") != "compose-test-secret" || env("LISTEN_ADDR") != ":8080" {
		t.Fatalf("service environment not wired: %v", svc.Environment)
	}
	if svc.Build == nil {
		t.Fatal("service is not built from the repository")
	}
	dockerfile := svc.Build.Dockerfile
	if !filepath.IsAbs(dockerfile) {
		dockerfile = filepath.Join(svc.Build.Context, dockerfile)
	}
	df, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, want := range []string{"USER nonroot", "CGO_ENABLED=0", "./cmd/maventa-events", "AS build"} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, ok := svc.DependsOn["nats"]; !ok {
		t.Error("service does not wait for nats")
	}

	// Without the secret the file refuses to load, instead of running unauthenticated.
	opts, _ = cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")}, cli.WithWorkingDirectory(root), cli.WithEnv([]string{"WEBHOOK_SECRETS="}))
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRETS") {
		t.Fatalf("compose without WEBHOOK_SECRETS: %v", err)
	}
}
