// Package deploy holds the container and deployment files; its tests validate
// docker-compose.yml with the compose-spec loader and the Kubernetes and Helm
// files by parsing them, since no Docker engine, cluster, kustomize or Helm runs
// here.
package deploy_test

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
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
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRETS") || !strings.Contains(err.Error(), ".env") {
		t.Fatalf("compose without WEBHOOK_SECRETS: %v", err)
	}
}

// TestComposeReadsTheSecretFromDotEnv follows the documented first step (write
// WEBHOOK_SECRETS into .env next to docker-compose.yml) and checks that compose
// picks the secret up from there, so the generated secret is kept where the user
// can read it, for the sandbox and for their own curl.
func TestComposeReadsTheSecretFromDotEnv(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range []string{"docker-compose.yml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("WEBHOOK_SECRETS=from-dot-env\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		cli.WithWorkingDirectory(dir), cli.WithEnv(nil), cli.WithEnvFiles(), cli.WithDotEnv) // as docker compose does
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose with .env: %v", err)
	}
	svc, _ := p.GetService("maventa-events")
	sb, _ := p.GetService("maventa-sandbox")
	if serviceEnv(svc, "WEBHOOK_SECRETS") != "from-dot-env" || !strings.Contains(serviceEnv(sb, "MAVENTA_SANDBOX_WEBHOOK_URL"), ":from-dot-env@") {
		t.Errorf("secret from .env not used: service %q, sandbox %q", serviceEnv(svc, "WEBHOOK_SECRETS"), serviceEnv(sb, "MAVENTA_SANDBOX_WEBHOOK_URL"))
	}
	// .env holds the secret: git must not track it.
	gi, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil || !slices.Contains(strings.Fields(string(gi)), ".env") {
		t.Errorf(".gitignore does not ignore .env (%v)", err)
	}
}

// loadCompose loads docker-compose.yml with exactly env as its environment (never
// the OS environment) and the given profiles active.
func loadCompose(t *testing.T, env []string, profiles ...string) *types.Project {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithEnv(env), cli.WithProfiles(profiles), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load (profiles %v): %v", profiles, err)
	}
	return p
}

func serviceEnv(svc types.ServiceConfig, k string) string {
	if v := svc.Environment[k]; v != nil {
		return *v
	}
	return ""
}

// hostPort returns the port of a URL's host or of a host:port listen address.
func hostPort(t *testing.T, s string) string {
	t.Helper()
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = u.Host
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return port
}

func TestComposeSandboxWired(t *testing.T) {
	p := loadCompose(t, []string{"WEBHOOK_SECRETS=compose-test-secret"})
	sb, err := p.GetService("maventa-sandbox")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := p.GetService("maventa-events")
	if err != nil {
		t.Fatal(err)
	}

	// The same image as the service, started as the sandbox binary.
	if sb.Build == nil || svc.Build == nil || sb.Build.Context != svc.Build.Context || sb.Build.Dockerfile != svc.Build.Dockerfile {
		t.Fatalf("sandbox is not built like the service: %+v vs %+v", sb.Build, svc.Build)
	}
	if !slices.Equal([]string(sb.Entrypoint), []string{"/usr/local/bin/maventa-sandbox"}) {
		t.Fatalf("sandbox entrypoint %q", sb.Entrypoint)
	}
	df, err := os.ReadFile(filepath.Join(sb.Build.Context, sb.Build.Dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(df), "./cmd/maventa-sandbox") || !strings.Contains(string(df), "/usr/local/bin/") {
		t.Error("Dockerfile does not build maventa-sandbox into /usr/local/bin")
	}
	// The image's HEALTHCHECK probes the service's /readyz, which the sandbox does
	// not serve: the sandbox must bring its own.
	if sb.HealthCheck == nil || len(sb.HealthCheck.Test) == 0 || strings.Contains(strings.Join(sb.HealthCheck.Test, " "), "8080/readyz") {
		t.Fatalf("sandbox health check %+v", sb.HealthCheck)
	}
	if dep, ok := svc.DependsOn["maventa-sandbox"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("service does not wait for a healthy sandbox: %+v", svc.DependsOn)
	}

	// Listeners on all interfaces inside the container (its defaults are loopback),
	// and the service's Maventa URLs point at them.
	for _, c := range []struct{ listen, url string }{
		{"MAVENTA_SANDBOX_AX_ADDR", "MAVENTA_AX_URL"},
		{"MAVENTA_SANDBOX_RECEIVABLES_ADDR", "MAVENTA_RECEIVABLES_URL"},
		{"MAVENTA_SANDBOX_ADMIN_ADDR", ""},
	} {
		addr := serviceEnv(sb, c.listen)
		if !strings.HasPrefix(addr, "0.0.0.0:") {
			t.Errorf("%s = %q, want 0.0.0.0:<port>", c.listen, addr)
			continue
		}
		port := hostPort(t, addr)
		published := false
		for _, pc := range sb.Ports {
			if pc.Target == uint32(atoi(t, port)) {
				published = true
				if pc.HostIP != "127.0.0.1" {
					t.Errorf("sandbox port %s published on %q, want loopback only", port, pc.HostIP)
				}
			}
		}
		if !published {
			t.Errorf("sandbox port %s not published", port)
		}
		if c.url == "" {
			continue
		}
		u, err := url.Parse(serviceEnv(svc, c.url))
		if err != nil || u.Scheme != "http" || u.Hostname() != "maventa-sandbox" || u.Port() != port {
			t.Errorf("%s = %q, want http://maventa-sandbox:%s", c.url, serviceEnv(svc, c.url), port)
		}
	}

	// The credentials file mounted into the service holds the sandbox's demo company.
	credPath := serviceEnv(svc, "MAVENTA_CREDENTIALS_FILE")
	var src string
	for _, v := range svc.Volumes {
		if v.Target == credPath {
			src = v.Source
			if !v.ReadOnly {
				t.Error("credentials file mounted writable")
			}
		}
	}
	if credPath == "" || src == "" {
		t.Fatalf("MAVENTA_CREDENTIALS_FILE %q is not a mounted file", credPath)
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var creds map[string]string
	if err := json.Unmarshal(raw, &creds); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	if creds[serviceEnv(sb, "MAVENTA_SANDBOX_DEMO_COMPANY_ID")] != serviceEnv(sb, "MAVENTA_SANDBOX_DEMO_API_KEY") || len(creds) == 0 {
		t.Errorf("%s does not hold the sandbox demo company's key: %v", src, creds)
	}
	if serviceEnv(svc, "MAVENTA_VENDOR_API_KEY") != serviceEnv(sb, "MAVENTA_SANDBOX_DEMO_VENDOR_KEY") {
		t.Error("MAVENTA_VENDOR_API_KEY differs from the sandbox's demo vendor key")
	}
	// The sandbox posts the demo company's webhooks to the service by default,
	// authenticated with the secret the service accepts.
	hook, err := url.Parse(serviceEnv(sb, "MAVENTA_SANDBOX_WEBHOOK_URL"))
	if err != nil || hook.Scheme != "http" || hook.Hostname() != svc.Name || hook.Port() != hostPort(t, serviceEnv(svc, "LISTEN_ADDR")) || hook.Path != "/webhooks/maventa" {
		t.Errorf("sandbox webhook URL %q does not point at the service's webhook endpoint (%v)", serviceEnv(sb, "MAVENTA_SANDBOX_WEBHOOK_URL"), err)
	} else if pw, _ := hook.User.Password(); pw == "" || !slices.Contains(strings.Split(serviceEnv(svc, "WEBHOOK_SECRETS"), ","), pw) {
		t.Errorf("sandbox webhook URL's password %q is not one of WEBHOOK_SECRETS %q", pw, serviceEnv(svc, "WEBHOOK_SECRETS"))
	}
	// ...and SANDBOX_WEBHOOK_URL still overrides it.
	p2 := loadCompose(t, []string{"WEBHOOK_SECRETS=a,b", "SANDBOX_WEBHOOK_URL=http://maventa:b@maventa-events:8080/webhooks/maventa"})
	if sb2, _ := p2.GetService("maventa-sandbox"); serviceEnv(sb2, "MAVENTA_SANDBOX_WEBHOOK_URL") != "http://maventa:b@maventa-events:8080/webhooks/maventa" {
		t.Errorf("SANDBOX_WEBHOOK_URL ignored: %q", serviceEnv(sb2, "MAVENTA_SANDBOX_WEBHOOK_URL"))
	}

	// The nats config file the compose file mounts exists.
	nats, _ := p.GetService("nats")
	for _, v := range nats.Volumes {
		if v.Type == types.VolumeTypeBind {
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("nats bind mount: %v", err)
			}
		}
	}
}

func TestComposeObservabilityProfile(t *testing.T) {
	env := []string{"WEBHOOK_SECRETS=compose-test-secret"}

	// Off by default: a plain `docker compose up` starts neither.
	p := loadCompose(t, env)
	for _, name := range []string{"otel-collector", "jaeger", "prometheus", "grafana"} {
		if _, err := p.GetService(name); err == nil {
			t.Errorf("%s runs without the observability profile", name)
		}
		if _, ok := p.DisabledServices[name]; !ok {
			t.Errorf("%s is not defined as a disabled service", name)
		}
	}

	p = loadCompose(t, env, "observability")
	col, err := p.GetService("otel-collector")
	if err != nil {
		t.Fatal(err)
	}
	jaeger, err := p.GetService("jaeger")
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := p.GetService("maventa-events")
	if !strings.HasPrefix(col.Image, "otel/opentelemetry-collector-contrib:") || !strings.HasPrefix(jaeger.Image, "jaegertracing/all-in-one:") {
		t.Errorf("images %q, %q", col.Image, jaeger.Image)
	}
	for _, s := range []types.ServiceConfig{col, jaeger} {
		if !slices.Equal(s.Profiles, []string{"observability"}) {
			t.Errorf("%s profiles %v", s.Name, s.Profiles)
		}
	}
	// The service must start without the profile, so it cannot depend on it.
	for dep := range svc.DependsOn {
		if slices.Contains([]string{"otel-collector", "jaeger", "prometheus", "grafana"}, dep) {
			t.Errorf("maventa-events depends on %s, which only exists with the profile", dep)
		}
	}

	// The collector's config is the mounted deploy/otel/collector.yaml.
	var cfgPath string
	for _, v := range col.Volumes {
		if strings.HasSuffix(v.Source, filepath.Join("deploy", "otel", "collector.yaml")) {
			cfgPath = v.Source
			if !slices.Contains([]string(col.Command), "--config="+v.Target) {
				t.Errorf("collector command %q does not load %s", col.Command, v.Target)
			}
		}
	}
	if cfgPath == "" {
		t.Fatalf("collector does not mount deploy/otel/collector.yaml: %+v", col.Volumes)
	}
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Receivers map[string]struct {
			Protocols map[string]struct {
				Endpoint string `yaml:"endpoint"`
			} `yaml:"protocols"`
		} `yaml:"receivers"`
		Exporters map[string]struct {
			Endpoint string `yaml:"endpoint"`
		} `yaml:"exporters"`
		Service struct {
			Pipelines map[string]struct {
				Receivers []string `yaml:"receivers"`
				Exporters []string `yaml:"exporters"`
			} `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", cfgPath, err)
	}

	// Service -> collector: the OTLP endpoint names the collector and a port its
	// otlp receiver listens on, on all interfaces.
	ep := serviceEnv(svc, "OTEL_EXPORTER_OTLP_ENDPOINT")
	u, err := url.Parse(ep)
	if err != nil || u.Hostname() != "otel-collector" {
		t.Fatalf("OTEL_EXPORTER_OTLP_ENDPOINT = %q, want the otel-collector service", ep)
	}
	if serviceEnv(svc, "OTEL_SERVICE_NAME") == "" {
		t.Error("OTEL_SERVICE_NAME not set")
	}
	listening := false
	for _, pr := range cfg.Receivers["otlp"].Protocols {
		if strings.HasPrefix(pr.Endpoint, "0.0.0.0:") && hostPort(t, pr.Endpoint) == u.Port() {
			listening = true
		}
	}
	if !listening {
		t.Errorf("no otlp receiver on 0.0.0.0:%s: %+v", u.Port(), cfg.Receivers)
	}

	// Collector -> Jaeger: the traces pipeline exports to the jaeger service.
	tr, ok := cfg.Service.Pipelines["traces"]
	if !ok || !slices.Contains(tr.Receivers, "otlp") {
		t.Fatalf("traces pipeline %+v", cfg.Service.Pipelines)
	}
	toJaeger := false
	for _, name := range tr.Exporters {
		ex, ok := cfg.Exporters[name]
		if !ok {
			t.Errorf("pipeline exporter %q is not defined", name)
		}
		if strings.HasPrefix(ex.Endpoint, jaeger.Name+":") {
			toJaeger = true
		}
	}
	if !toJaeger {
		t.Errorf("traces are not exported to %s: %+v", jaeger.Name, cfg.Exporters)
	}
	for name, pl := range cfg.Service.Pipelines {
		for _, r := range pl.Receivers {
			if _, ok := cfg.Receivers[r]; !ok {
				t.Errorf("pipeline %s: receiver %q is not defined", name, r)
			}
		}
	}
}
