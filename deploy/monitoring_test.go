package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/template"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	promql "github.com/prometheus/prometheus/promql/parser"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"gopkg.in/yaml.v3"
)

// These tests check the Prometheus alert rules and the Grafana dashboard: both
// parse, every query is valid PromQL, and every metric they name is one the
// service exports under that Prometheus name.

const (
	alertsFile    = "prometheus/alerts.yaml"
	promConfig    = "prometheus/prometheus.yml"
	dashboardFile = "grafana/maventa-events.json"
	datasourceDir = "grafana/provisioning/datasources"
	operationsDoc = "../docs/operations.md"
)

// instrument is one OpenTelemetry instrument as the Go sources create it.
type instrument struct {
	name, unit, kind string // kind: the meter method, e.g. Int64Counter
	where            string
}

// pendingInstruments are being added in parallel by the commands (issue 13) and
// reconciliation-at-scale (issue 15) work, with these exact names, units and
// kinds; the dashboard and the alerts already use them. Once the code defines
// one, TestPendingInstrumentsStillPending asks for its removal here.
var pendingInstruments = []instrument{
	{name: "maventa.reconcile.poll.lag", unit: "s", kind: "Float64Histogram"},
	{name: "maventa.reconcile.companies", unit: "{company}", kind: "Int64Gauge"},
	{name: "maventa.reconcile.overdue", unit: "{company}", kind: "Int64Gauge"},
	{name: "maventa.commands.outcomes", unit: "{command}", kind: "Int64Counter"},
}

// externalMetrics are exported by other programs: the NATS Prometheus exporter
// (prometheus-nats-exporter, as run by the NATS Helm chart), with its default
// prefix gnatsd_ or nats_ when started with -prefix=nats.
var externalMetrics = []string{
	"gnatsd_varz_jetstream_stats_storage", "gnatsd_varz_jetstream_config_max_storage",
	"nats_varz_jetstream_stats_storage", "nats_varz_jetstream_config_max_storage",
}

var instrumentKinds = []string{
	"Int64Counter", "Float64Counter", "Int64UpDownCounter", "Float64UpDownCounter",
	"Int64Histogram", "Float64Histogram", "Int64Gauge", "Float64Gauge",
	"Int64ObservableCounter", "Float64ObservableCounter", "Int64ObservableUpDownCounter",
	"Float64ObservableUpDownCounter", "Int64ObservableGauge", "Float64ObservableGauge",
}

// sourceInstruments finds every meter.<Kind>("name", ..., metric.WithUnit("u"))
// call in the service's non-test Go files.
func sourceInstruments(t *testing.T) []instrument {
	t.Helper()
	var found []instrument
	fset := token.NewFileSet()
	for _, dir := range []string{"../handlers", "../consumers", "../maventa", "../events", "../cmd"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || !slices.Contains(instrumentKinds, sel.Sel.Name) {
					return true
				}
				name, ok := stringLit(call.Args[0])
				if !ok {
					return true
				}
				in := instrument{name: name, kind: sel.Sel.Name, where: fset.Position(call.Pos()).String()}
				for _, a := range call.Args[1:] {
					if c, ok := a.(*ast.CallExpr); ok && len(c.Args) == 1 {
						if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "WithUnit" {
							in.unit, _ = stringLit(c.Args[0])
						}
					}
				}
				found = append(found, in)
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return found
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// prometheusNames creates each instrument on a meter provider with the
// Prometheus exporter configured as cmd/maventa-events does
// (otelprom.New(otelprom.WithRegisterer(reg))), records one value, and returns
// the names of the series a query can select, with the OTel name each comes from.
func prometheusNames(t *testing.T, instruments []instrument) map[string]string {
	t.Helper()
	reg := promclient.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	ctx := context.Background()
	for _, in := range instruments {
		// One meter per instrument: the same name may exist in two scopes.
		m := mp.Meter(in.where + in.name)
		u := metric.WithUnit(in.unit)
		var err error
		switch in.kind {
		case "Int64Counter":
			var i metric.Int64Counter
			if i, err = m.Int64Counter(in.name, u); err == nil {
				i.Add(ctx, 1)
			}
		case "Float64Counter":
			var i metric.Float64Counter
			if i, err = m.Float64Counter(in.name, u); err == nil {
				i.Add(ctx, 1)
			}
		case "Int64UpDownCounter":
			var i metric.Int64UpDownCounter
			if i, err = m.Int64UpDownCounter(in.name, u); err == nil {
				i.Add(ctx, 1)
			}
		case "Float64UpDownCounter":
			var i metric.Float64UpDownCounter
			if i, err = m.Float64UpDownCounter(in.name, u); err == nil {
				i.Add(ctx, 1)
			}
		case "Int64Histogram":
			var i metric.Int64Histogram
			if i, err = m.Int64Histogram(in.name, u); err == nil {
				i.Record(ctx, 1)
			}
		case "Float64Histogram":
			var i metric.Float64Histogram
			if i, err = m.Float64Histogram(in.name, u); err == nil {
				i.Record(ctx, 1)
			}
		case "Int64Gauge":
			var i metric.Int64Gauge
			if i, err = m.Int64Gauge(in.name, u); err == nil {
				i.Record(ctx, 1)
			}
		case "Float64Gauge":
			var i metric.Float64Gauge
			if i, err = m.Float64Gauge(in.name, u); err == nil {
				i.Record(ctx, 1)
			}
		case "Int64ObservableGauge", "Int64ObservableCounter", "Int64ObservableUpDownCounter":
			cb := func(_ context.Context, o metric.Int64Observer) error { o.Observe(1); return nil }
			switch in.kind {
			case "Int64ObservableGauge":
				_, err = m.Int64ObservableGauge(in.name, u, metric.WithInt64Callback(cb))
			case "Int64ObservableCounter":
				_, err = m.Int64ObservableCounter(in.name, u, metric.WithInt64Callback(cb))
			default:
				_, err = m.Int64ObservableUpDownCounter(in.name, u, metric.WithInt64Callback(cb))
			}
		case "Float64ObservableGauge", "Float64ObservableCounter", "Float64ObservableUpDownCounter":
			cb := func(_ context.Context, o metric.Float64Observer) error { o.Observe(1); return nil }
			switch in.kind {
			case "Float64ObservableGauge":
				_, err = m.Float64ObservableGauge(in.name, u, metric.WithFloat64Callback(cb))
			case "Float64ObservableCounter":
				_, err = m.Float64ObservableCounter(in.name, u, metric.WithFloat64Callback(cb))
			default:
				_, err = m.Float64ObservableUpDownCounter(in.name, u, metric.WithFloat64Callback(cb))
			}
		default:
			t.Fatalf("%s: instrument kind %s not handled", in.where, in.kind)
		}
		if err != nil {
			t.Fatalf("%s: %s: %v", in.where, in.name, err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, f := range families {
		n := f.GetName()
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[n+s] = n
			}
			continue
		}
		names[n] = n
	}
	return names
}

// exportedNames is the set of Prometheus series names a query may use: the
// service's instruments as the exporter names them, the pending ones, and the
// external ones.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	src := sourceInstruments(t)
	names := map[string]bool{}
	for n := range prometheusNames(t, append(src, pendingInstruments...)) {
		names[n] = true
	}
	for _, n := range externalMetrics {
		names[n] = true
	}
	return names
}

// queriedMetrics returns the metric names an expression selects; a regular
// expression on __name__ must match at least one of known.
func queriedMetrics(expr string, known map[string]bool) ([]string, error) {
	e, err := promql.NewParser(promql.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", expr, err)
	}
	var out []string
	var errs []error
	promql.Inspect(e, func(n promql.Node, _ []promql.Node) error {
		vs, ok := n.(*promql.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			out = append(out, vs.Name)
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel {
				continue
			}
			matched := false
			for _, k := range slices.Sorted(maps.Keys(known)) {
				if m.Matches(k) {
					matched = true
					out = append(out, k)
				}
			}
			if !matched {
				errs = append(errs, fmt.Errorf("%s matches no exported metric", m))
			}
		}
		return nil
	})
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%q selects no metric", expr))
	}
	return out, errors.Join(errs...)
}

// checkQuery reports a query that does not parse or names a metric not in known.
func checkQuery(t *testing.T, where, expr string, known map[string]bool) {
	t.Helper()
	names, err := queriedMetrics(expr, known)
	if err != nil {
		t.Errorf("%s: %v", where, err)
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s: metric %s is not exported by the service (nor listed as pending or external)", where, n)
		}
	}
}

func TestInstrumentsFoundInSources(t *testing.T) {
	src := sourceInstruments(t)
	names := map[string]bool{}
	for _, in := range src {
		names[in.name] = true
	}
	// Guard against a parser that silently finds nothing.
	for _, want := range []string{"maventa.webhooks.received", "maventa.consumer.pending", "maventa.api.calls", "maventa.reconcile.lag", "http.server.request.duration"} {
		if !names[want] {
			t.Errorf("instrument %s not found in the sources (found %d: %v)", want, len(src), names)
		}
	}
}

// TestPrometheusNaming checks the exporter's naming against the names the
// documentation gives (docs/telemetry.md), so a change of exporter defaults shows.
func TestPrometheusNaming(t *testing.T) {
	names := prometheusNames(t, []instrument{
		{name: "maventa.webhooks.received", unit: "{webhook}", kind: "Int64Counter", where: "a"},
		{name: "maventa.webhooks.ack.duration", unit: "s", kind: "Float64Histogram", where: "b"},
		{name: "maventa.consumer.pending", unit: "{message}", kind: "Int64ObservableGauge", where: "c"},
		{name: "maventa.reconcile.lag", unit: "s", kind: "Float64Gauge", where: "d"},
	})
	for _, want := range []string{
		"maventa_webhooks_received_total",
		"maventa_webhooks_ack_duration_seconds_bucket",
		"maventa_consumer_pending",
		"maventa_reconcile_lag_seconds",
	} {
		if _, ok := names[want]; !ok {
			t.Errorf("exporter does not produce %s; it produces %v", want, names)
		}
	}
}

func TestPendingInstrumentsStillPending(t *testing.T) {
	for _, in := range sourceInstruments(t) {
		for _, p := range pendingInstruments {
			if in.name != p.name {
				continue
			}
			// Only the Prometheus name matters to the dashboard and the alerts:
			// a gauge may become an observable gauge, a unit must stay.
			p.where = "pending"
			code, pending := prometheusNames(t, []instrument{in}), prometheusNames(t, []instrument{p})
			if !maps.Equal(code, pending) {
				t.Errorf("%s: %s is exported as %v, but the dashboard and alerts use %v: fix pendingInstruments and the queries",
					in.where, in.name, slices.Sorted(maps.Keys(code)), slices.Sorted(maps.Keys(pending)))
			} else {
				t.Logf("%s: %s now exists in the code; remove it from pendingInstruments", in.where, in.name)
			}
		}
	}
}

// ruleFile is Prometheus' rule file format; decoding is strict, so a misspelt
// field fails instead of being ignored.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	return rf
}

// checkTemplate parses an annotation as Prometheus does: $labels, $value and
// $externalLabels are defined, with Prometheus' template functions.
func checkTemplate(text string) error {
	funcs := template.FuncMap{}
	for _, f := range []string{"humanize", "humanize1024", "humanizeDuration", "humanizePercentage", "humanizeTimestamp",
		"toUpper", "toLower", "title", "match", "reReplaceAll", "query", "first", "label", "value", "sortByLabel",
		"strvalue", "args", "tableLink", "graphLink", "safeHtml", "externalURL", "pathPrefix", "parseDuration", "stripPort", "stripDomain", "toTime", "now"} {
		funcs[f] = func(...any) any { return nil }
	}
	defs := "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$value := .Value}}"
	_, err := template.New("annotation").Funcs(funcs).Parse(defs + text)
	return err
}

func TestAlertRules(t *testing.T) {
	rf := loadRules(t)
	known := exportedNames(t)
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	headings := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#{2,4} +(\S+)\s*$`).FindAllStringSubmatch(string(doc), -1) {
		headings[m[1]] = true
	}

	alerts := map[string]bool{}
	groups := map[string]bool{}
	for _, g := range rf.Groups {
		if g.Name == "" || groups[g.Name] {
			t.Errorf("group name %q empty or repeated", g.Name)
		}
		groups[g.Name] = true
		if len(g.Rules) == 0 {
			t.Errorf("group %s has no rules", g.Name)
		}
		if g.Interval != "" {
			if _, err := model.ParseDuration(g.Interval); err != nil {
				t.Errorf("group %s interval: %v", g.Name, err)
			}
		}
		for _, r := range g.Rules {
			where := fmt.Sprintf("%s/%s", g.Name, r.Alert)
			if r.Alert == "" || r.Record != "" {
				t.Errorf("%s: want alerting rules only (alert %q, record %q)", where, r.Alert, r.Record)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			checkQuery(t, where, r.Expr, known)
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", where, err)
				}
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", where, s)
			}
			for k, v := range r.Labels {
				if !model.LabelName(k).IsValid() || strings.Contains(v, "{{") {
					t.Errorf("%s: label %s=%q", where, k, v)
				}
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", where)
			}
			for k, v := range r.Annotations {
				if err := checkTemplate(v); err != nil {
					t.Errorf("%s: annotation %s: %v", where, k, err)
				}
			}
			// A runbook per alert: a heading in docs/operations.md with the
			// alert's name, linked from the annotation by its anchor.
			if !headings[r.Alert] {
				t.Errorf("%s: docs/operations.md has no runbook heading %q", where, r.Alert)
			}
			if want := "docs/operations.md#" + strings.ToLower(r.Alert); !strings.HasSuffix(r.Annotations["runbook_url"], want) {
				t.Errorf("%s: runbook_url %q, want it to end in %s", where, r.Annotations["runbook_url"], want)
			}
		}
	}
	// What an operator must be woken for (issue: the operator's first week).
	for _, want := range []string{
		"MaventaWebhooksAnswered503", "MaventaDeadLettersGrowing", "MaventaConsumerLag", "MaventaPollOverdue",
		"MaventaAPIUnauthorized", "JetStreamStoreFilling", "MaventaCommandOutcomeUnknown",
	} {
		if !alerts[want] {
			t.Errorf("alert %s missing", want)
		}
	}
}

// TestQueryChecksRejectBadInput makes sure the checks above can fail.
func TestQueryChecksRejectBadInput(t *testing.T) {
	known := map[string]bool{"maventa_webhooks_received_total": true, "gnatsd_varz_jetstream_stats_storage": true}
	for _, tc := range []struct {
		name, expr string
		wantErr    bool
		wantNames  []string
	}{
		{"a valid query names its metric", `sum(rate(maventa_webhooks_received_total[5m])) > 0`, false, []string{"maventa_webhooks_received_total"}},
		{"a syntax error fails", `sum(rate(maventa_webhooks_received_total[5m]) > 0`, true, nil},
		{"a regular expression on the name selects what it matches", `{__name__=~"(gnatsd|nats)_varz_jetstream_stats_storage"}`, false, []string{"gnatsd_varz_jetstream_stats_storage"}},
		{"a regular expression matching nothing fails", `{__name__=~"nope_.*"}`, true, nil},
		{"a query without a metric fails", `vector(1)`, true, nil},
		{"an unknown metric is returned for the caller to reject", `maventa_nope_total`, false, []string{"maventa_nope_total"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := queriedMetrics(tc.expr, known)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !slices.Equal(got, tc.wantNames) {
				t.Errorf("names %v, want %v", got, tc.wantNames)
			}
		})
	}
	if err := checkTemplate("{{ $labels.reason }} {{ $value | humanize }}"); err != nil {
		t.Errorf("valid template: %v", err)
	}
	if err := checkTemplate("{{ $labels.reason "); err == nil {
		t.Error("broken template accepted")
	}
}

func TestPrometheusConfigLoadsTheRules(t *testing.T) {
	raw, err := os.ReadFile(promConfig)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v", promConfig, err)
	}
	p := loadCompose(t, []string{"WEBHOOK_SECRETS=x"}, "observability")
	prom, err := p.GetService("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	mounted := map[string]string{} // target -> source
	for _, v := range prom.Volumes {
		mounted[v.Target] = v.Source
	}
	for _, rf := range cfg.RuleFiles {
		if src := mounted[rf]; !strings.HasSuffix(src, filepath.Join("deploy", alertsFile)) {
			t.Errorf("rule file %s is mounted from %q, want deploy/%s", rf, src, alertsFile)
		}
	}
	if len(cfg.RuleFiles) != 1 {
		t.Errorf("rule_files %v", cfg.RuleFiles)
	}
	if src := mounted["/etc/prometheus/prometheus.yml"]; !strings.HasSuffix(src, filepath.Join("deploy", promConfig)) ||
		!slices.Contains([]string(prom.Command), "--config.file=/etc/prometheus/prometheus.yml") {
		t.Errorf("prometheus does not load deploy/%s: command %q, mounts %v", promConfig, prom.Command, mounted)
	}
	// It scrapes the service's admin address.
	svc, _ := p.GetService(appName)
	adminPort := hostPort(t, serviceEnv(svc, "ADMIN_LISTEN"))
	want := appName + ":" + adminPort
	scraped := false
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			scraped = scraped || (slices.Contains(st.Targets, want) && (sc.MetricsPath == "" || sc.MetricsPath == "/metrics"))
		}
	}
	if !scraped {
		t.Errorf("no scrape of %s/metrics: %+v", want, cfg.ScrapeConfigs)
	}
}

// grafanaPanel is the part of a dashboard panel the tests read; rows nest panels.
type grafanaPanel struct {
	Title      string         `json:"title"`
	Type       string         `json:"type"`
	Datasource map[string]any `json:"datasource"`
	Targets    []struct {
		Expr       string         `json:"expr"`
		Datasource map[string]any `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// grafanaVars replaces Grafana's built-in interval variables with durations so
// that the query parses as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string         `json:"uid"`
		Title  string         `json:"title"`
		Panels []grafanaPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q", d.UID, d.Title)
	}

	// The provisioned data sources, by uid.
	provisioned := map[string]string{} // uid -> type
	entries, err := os.ReadDir(datasourceDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		var ds struct {
			Datasources []struct {
				UID  string `yaml:"uid"`
				Type string `yaml:"type"`
				URL  string `yaml:"url"`
			} `yaml:"datasources"`
		}
		b, err := os.ReadFile(filepath.Join(datasourceDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &ds); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		for _, s := range ds.Datasources {
			provisioned[s.UID] = s.Type
		}
	}

	known := exportedNames(t)
	var walk func([]grafanaPanel)
	titles := []string{}
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			titles = append(titles, p.Title)
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for i, tg := range p.Targets {
				ds := tg.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				uid, _ := ds["uid"].(string)
				if typ, ok := provisioned[uid]; !ok || typ != "prometheus" {
					t.Errorf("panel %q query %d: data source %v is not a provisioned Prometheus (%v)", p.Title, i, ds, provisioned)
				}
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q query %d is empty", p.Title, i)
					continue
				}
				checkQuery(t, "panel "+p.Title, grafanaVars.Replace(tg.Expr), known)
			}
		}
	}
	walk(d.Panels)
	// What the operator asked to see at a glance.
	for _, want := range []string{"webhooks in", "store latency", "consumer lag", "dead letters", "poll lag", "api calls", "token", "commands"} {
		if !slices.ContainsFunc(titles, func(s string) bool { return strings.Contains(strings.ToLower(s), want) }) {
			t.Errorf("no panel about %q (panels: %v)", want, titles)
		}
	}

	// Provisioned in the compose observability profile: the dashboard file and
	// the provisioning directory are mounted into Grafana.
	p := loadCompose(t, []string{"WEBHOOK_SECRETS=x"}, "observability")
	g, err := p.GetService("grafana")
	if err != nil {
		t.Fatal(err)
	}
	var dashTarget, provSource string
	for _, v := range g.Volumes {
		if strings.HasSuffix(v.Source, filepath.Join("deploy", dashboardFile)) {
			dashTarget = v.Target
		}
		if v.Target == "/etc/grafana/provisioning" {
			provSource = v.Source
		}
	}
	if dashTarget == "" || !strings.HasSuffix(provSource, filepath.Join("deploy", "grafana", "provisioning")) {
		t.Fatalf("grafana mounts %+v: want the dashboard and deploy/grafana/provisioning", g.Volumes)
	}
	// A dashboards provider reads the directory the dashboard is mounted in.
	provFiles, _ := filepath.Glob("grafana/provisioning/dashboards/*.yaml")
	found := false
	for _, f := range provFiles {
		var prov struct {
			Providers []struct {
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		b, _ := os.ReadFile(f)
		if err := yaml.Unmarshal(b, &prov); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, pr := range prov.Providers {
			found = found || filepath.Dir(dashTarget) == filepath.Clean(pr.Options.Path)
		}
	}
	if !found {
		t.Errorf("no dashboard provider reads %s", filepath.Dir(dashTarget))
	}
	if !slices.Equal(g.Profiles, []string{"observability"}) {
		t.Errorf("grafana profiles %v", g.Profiles)
	}
	if _, ok := g.DependsOn["prometheus"]; !ok {
		t.Error("grafana does not depend on prometheus")
	}
}
