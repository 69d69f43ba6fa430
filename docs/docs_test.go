// Package docs_test checks the README and the hand-written documents against the
// code: the commands they promise, the streams the service provisions, the links
// between them, and the wording a user should not meet. The generated documents
// (events.md, asyncapi.yaml, schemas/, the option table) are checked where they
// are generated.
package docs_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
	"github.com/maventa-bridge/maventa-events/events"
)

const (
	readme   = "../README.md"
	runCmd   = "go run ./cmd/maventa-events -dev"
	testCmd  = "go test -race ./..."
	ciScript = "../.ci/run"
)

// userDocs are the hand-written documents a user reads.
var userDocs = []string{
	readme, "design.md", "configuration.md", "cli.md", "telemetry.md", "operations.md",
	"../deploy/README.md",
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestREADMEIsShortAndStartsWithRunAndTest(t *testing.T) {
	s := read(t, readme)
	lines := strings.Split(s, "\n")
	if n := len(lines); n > 200 {
		t.Errorf("README.md has %d lines, want at most 200: move details to docs/", n)
	}
	// The two commands, exactly, near the top.
	for _, cmd := range []string{runCmd, testCmd} {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == cmd })
		if i < 0 || i > 60 {
			t.Errorf("README.md: %q not on a line of its own in the first 60 lines (line %d)", cmd, i+1)
		}
	}
	// CI runs exactly the test command the README gives.
	ci := read(t, ciScript)
	if !slices.Contains(strings.Split(ci, "\n"), testCmd) {
		t.Errorf(".ci/run does not run %q", testCmd)
	}
	for _, want := range []string{"LICENSE", "docs/design.md", "docs/architecture.md", "docs/configuration.md", "docs/cli.md",
		"docs/telemetry.md", "docs/operations.md", "docs/performance.md", "docs/reliability.md", "deploy/README.md"} {
		if !strings.Contains(s, "("+want+")") {
			t.Errorf("README.md does not link %s", want)
		}
	}
}

func TestREADMEStatesTheGoVersion(t *testing.T) {
	mod := read(t, "../go.mod")
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	if !strings.Contains(read(t, readme), "Go "+m[1]) {
		t.Errorf("README.md does not state go.mod's Go version %s", m[1])
	}
}

// TestSandboxWalkThroughSharesItsSettings checks the walk-through's shape: one
// export block that both programs and the tools read, the sandbox started
// before the service, and a way to run it again.
func TestSandboxWalkThroughSharesItsSettings(t *testing.T) {
	s := read(t, readme)
	start := strings.Index(s, "## Try it against the local Maventa sandbox")
	if start < 0 {
		t.Fatal("README.md has no sandbox walk-through")
	}
	walk := s[start:]
	if end := strings.Index(walk[3:], "\n## "); end > 0 {
		walk = walk[:end+3]
	}
	exports := regexp.MustCompile(`(?m)^export (\w+)=`).FindAllStringSubmatch(walk, -1)
	var names []string
	for _, e := range exports {
		names = append(names, e[1])
	}
	for _, want := range []string{"WEBHOOK_SECRETS", "DATA_DIR", "MAVENTA_AX_URL", "MAVENTA_VENDOR_API_KEY",
		"MAVENTA_COMPANY_CREDENTIALS", "MAVENTA_SANDBOX_WEBHOOK_URL"} {
		if !slices.Contains(names, want) {
			t.Errorf("the walk-through's export block does not set %s (sets %v)", want, names)
		}
	}
	sandbox, service := strings.Index(walk, "go run ./cmd/maventa-sandbox\n"), strings.Index(walk, "go run ./cmd/maventa-events\n")
	if sandbox < 0 || service < 0 || sandbox > service {
		t.Errorf("the sandbox must be started before the service (sandbox at %d, service at %d)", sandbox, service)
	}
	for _, want := range []string{"-seed", "DATA_DIR=./data/demo2", "tail -all", "8083"} {
		if !strings.Contains(walk, want) {
			t.Errorf("the walk-through does not mention %q", want)
		}
	}
}

// TestDesignListsEveryStream compares the design's streams table with the
// streams and buckets the service provisions by default.
func TestDesignListsEveryStream(t *testing.T) {
	s := read(t, "design.md")
	var sc natsstore.StreamsConfig
	var pc natsstore.PipelineConfig
	for _, c := range []struct{ name, subjects string }{
		{sc.WebhookStreamConfig().Name, sc.WebhookStreamConfig().Subjects[0]},
		{sc.QuarantineStreamConfig().Name, sc.QuarantineStreamConfig().Subjects[0]},
		{pc.EventStreamConfig().Name, pc.EventStreamConfig().Subjects[0]},
		{pc.DeadLetterStreamConfig().Name, pc.DeadLetterStreamConfig().Subjects[0]},
	} {
		row := fmt.Sprintf("| `%s` | `%s` |", c.name, c.subjects)
		if !strings.Contains(s, row) {
			t.Errorf("design.md's streams table has no row starting %s", row)
		}
	}
	if events.StreamName != pc.EventStreamConfig().Name {
		t.Errorf("events.StreamName %s, pipeline default %s", events.StreamName, pc.EventStreamConfig().Name)
	}
	for _, b := range []string{"MAVENTA_PROCESSED", natsstore.ReconcileBucket} {
		if !strings.Contains(s, "`"+b+"`") {
			t.Errorf("design.md does not name the KV bucket %s", b)
		}
	}
}

// TestNoInternalWording keeps project-internal references out of what users
// read: seed document numbers, issue references, measurement targets, and
// "upcoming" for what exists.
func TestNoInternalWording(t *testing.T) {
	bad := regexp.MustCompile(`(?i)seed 0\d\d|see issue|\bissue \d+|target missed|\(target [^)]*\)|upcoming`)
	for _, f := range userDocs {
		s := read(t, f)
		// The option table is generated from cmd/maventa-events/config.go and
		// checked there; its wording is fixed at the source.
		if f == "configuration.md" {
			if i := strings.Index(s, "| flag | environment |"); i >= 0 {
				if j := strings.Index(s[i:], "\n\n"); j >= 0 {
					s = s[:i] + s[i+j:]
				}
			}
		}
		for i, l := range strings.Split(s, "\n") {
			if m := bad.FindString(l); m != "" {
				t.Errorf("%s:%d: %q is internal wording", f, i+1, m)
			}
		}
	}
}

// TestLocalLinksResolve checks every relative link of the user documents: the
// file exists and, for #anchors into Markdown, the heading does.
func TestLocalLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, f := range userDocs {
		s := read(t, f)
		for _, m := range link.FindAllStringSubmatch(s, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			full := f
			if path != "" {
				full = filepath.Join(filepath.Dir(f), path)
				if _, err := os.Stat(full); err != nil {
					t.Errorf("%s: link %s: %v", f, target, err)
					continue
				}
			}
			if anchor != "" && strings.HasSuffix(full, ".md") && !slices.Contains(anchors(read(t, full)), anchor) {
				t.Errorf("%s: link %s: no such heading in %s", f, target, full)
			}
		}
	}
}

// anchors are GitHub's heading ids: lower case, punctuation dropped, spaces to
// dashes.
func anchors(md string) []string {
	var out []string
	inCode := false
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		var b strings.Builder
		for _, r := range h {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestArchitecture keeps docs/architecture.md and the code in step: every
// package has its paragraph, and the import rules it states hold.
func TestArchitecture(t *testing.T) {
	const module = "github.com/maventa-bridge/maventa-events/"
	doc := read(t, "architecture.md")
	imports := map[string][]string{} // package dir -> imports of its non-test files
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && path != ".." || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, "../")))
		for _, im := range f.Imports {
			imports[dir] = append(imports[dir], strings.Trim(im.Path.Value, `"`))
		}
		if _, ok := imports[dir]; !ok {
			imports[dir] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range imports {
		if !strings.Contains(doc, "**`"+dir+"`**") {
			t.Errorf("package %s has no paragraph in docs/architecture.md", dir)
		}
	}
	// rules: which project packages a package may import, and what else it must not.
	rules := []struct {
		dir       string
		mayImport []string // project packages; nil: none
		never     []string // prefixes of other imports it must not have
	}{
		{"events", nil, nil},
		{"maventa", []string{"events"}, nil},
		{"maventa/sandbox", []string{"events"}, nil},
		{"handlers", []string{"maventa", "events"}, []string{"github.com/nats-io/"}},
		{"consumers", []string{"maventa", "events"}, []string{"github.com/nats-io/"}},
		{"consumers/commands", []string{"consumers", "maventa", "events"}, []string{"github.com/nats-io/"}},
		{"cmd/maventa-events", []string{"handlers", "consumers", "consumers/commands", "consumers/natsstore", "consumers/natsstore/commandstream", "maventa", "events"},
			[]string{"github.com/nats-io/nats.go/jetstream"}},
	}
	for _, r := range rules {
		for _, im := range imports[r.dir] {
			if p, ok := strings.CutPrefix(im, module); ok {
				if !slices.Contains(r.mayImport, p) {
					t.Errorf("%s imports %s; docs/architecture.md says it may import only %v", r.dir, p, r.mayImport)
				}
				continue
			}
			for _, n := range r.never {
				if strings.HasPrefix(im, n) {
					t.Errorf("%s imports %s, which docs/architecture.md rules out", r.dir, im)
				}
			}
		}
	}
	for dir, ims := range imports {
		for _, im := range ims {
			if strings.HasPrefix(im, module+"cmd/") {
				t.Errorf("%s imports %s: nothing imports a command", dir, im)
			}
		}
	}
}

// TestPerformanceListsEveryAllocationGuard: issue 14 asks for a guard of the
// allocations per webhook at every hot stage, and performance.md's table of
// them is what a reader checks that against. A guard added without its row,
// or a row left after its guard was removed, fails here.
func TestPerformanceListsEveryAllocationGuard(t *testing.T) {
	guard := regexp.MustCompile(`(?m)^func (Test\w*AllocationsStayBounded)\(`)
	var found []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		pkg := filepath.Base(filepath.Dir(path))
		for _, m := range guard.FindAllStringSubmatch(string(b), -1) {
			found = append(found, pkg+"."+m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Fatal("no allocation guard found: the walk looked in the wrong place")
	}
	doc := read(t, "performance.md")
	for _, g := range found {
		if !strings.Contains(doc, "`"+g+"`") {
			t.Errorf("performance.md does not list the allocation guard %s (as `%s`)", g, g)
		}
	}
	listed := regexp.MustCompile("`(\\w+\\.Test\\w*AllocationsStayBounded)`")
	for _, m := range listed.FindAllStringSubmatch(doc, -1) {
		if !slices.Contains(found, m[1]) {
			t.Errorf("performance.md lists %s, which no test defines", m[1])
		}
	}
}
