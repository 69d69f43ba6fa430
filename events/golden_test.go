package events

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// update rewrites the golden files and the generated docs:
//
//	go test ./events -run 'TestGolden|TestDocs' -update
var update = flag.Bool("update", false, "rewrite testdata/golden and docs/ from the code")

func goldenPath(d TypeDef) string { return filepath.Join("testdata", "golden", d.SchemaFile()) }

// checkFile compares got with the file at path, or writes it under -update.
func checkFile(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./events -update to generate it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with the code (run go test ./events -update and review the diff)\n got: %s\nwant: %s", path, got, want)
	}
}

// TestGolden: each type's example CloudEvent, byte for byte.
func TestGolden(t *testing.T) {
	ex := examples(t)
	for _, d := range Types() {
		t.Run(d.Name, func(t *testing.T) {
			checkFile(t, goldenPath(d), indent(t, ex[d.Name]))
		})
	}
	// No golden file without a registered type.
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	known := map[string]bool{}
	for _, d := range Types() {
		known[goldenPath(d)] = true
	}
	var stray []string
	for _, f := range files {
		if !known[f] {
			stray = append(stray, f)
		}
	}
	sort.Strings(stray)
	if len(stray) > 0 && !*update {
		t.Errorf("golden files of no registered type: %v", stray)
	}
}
