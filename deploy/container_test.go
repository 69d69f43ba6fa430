package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerfile is deploy/Dockerfile as instructions (continuation lines joined,
// comments dropped): the keyword in upper case, then its arguments.
func dockerfile(t *testing.T) [][2]string {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		kw, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, [2]string{strings.ToUpper(kw), strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfileDataDir checks that the image can start with its embedded NATS
// server: DATA_DIR exists, belongs to the non-root user the image runs as, and
// is a volume.
func TestDockerfileDataDir(t *testing.T) {
	ins := dockerfile(t)
	var dataDir, user string
	var volumes []string
	chowned := map[string]string{} // destination -> owner
	final := 0                     // index of the last FROM
	for i, in := range ins {
		if in[0] == "FROM" {
			final = i
		}
	}
	for _, in := range ins[final:] {
		switch in[0] {
		case "ENV":
			for _, kv := range strings.Fields(in[1]) {
				if v, ok := strings.CutPrefix(kv, "DATA_DIR="); ok {
					dataDir = v
				}
			}
		case "USER":
			user = in[1]
		case "VOLUME":
			for _, v := range regexp.MustCompile(`"([^"]+)"|(\S+)`).FindAllStringSubmatch(strings.Trim(in[1], "[]"), -1) {
				volumes = append(volumes, v[1]+v[2])
			}
		case "COPY":
			f := strings.Fields(in[1])
			for _, a := range f {
				if o, ok := strings.CutPrefix(a, "--chown="); ok {
					chowned[f[len(f)-1]] = o
				}
			}
		}
	}
	if dataDir == "" {
		t.Fatal("the final stage sets no DATA_DIR")
	}
	// distroless :nonroot runs as 65532:65532.
	if user != "nonroot:nonroot" && user != "65532:65532" && user != "nonroot" && user != "65532" {
		t.Errorf("USER %q, want the distroless nonroot user", user)
	}
	if o := chowned[dataDir]; o != "65532:65532" && o != "nonroot:nonroot" {
		t.Errorf("DATA_DIR %s is not created owned by the non-root user (COPY --chown targets %v)", dataDir, chowned)
	}
	if !slices.Contains(volumes, dataDir) {
		t.Errorf("DATA_DIR %s is not a VOLUME (volumes %v)", dataDir, volumes)
	}
}

// TestDockerfileBaseImages checks that every base image names an exact version:
// a digest, or a tag with a patch version (never latest or a bare major.minor).
// distroless publishes no version tags, so :nonroot is accepted until a digest
// can be looked up (the Dockerfile's header says how).
func TestDockerfileBaseImages(t *testing.T) {
	exact := regexp.MustCompile(`^[^:@\s]+(:[^@\s]*\d+\.\d+\.\d+[^@\s]*|:nonroot|:[^@\s]+@sha256:[0-9a-f]{64}|@sha256:[0-9a-f]{64})$`)
	n := 0
	for _, in := range dockerfile(t) {
		if in[0] != "FROM" {
			continue
		}
		n++
		image := strings.Fields(in[1])[0]
		if !exact.MatchString(image) {
			t.Errorf("FROM %s: not pinned to an exact version", image)
		}
	}
	if n < 2 {
		t.Errorf("%d FROM lines, want a build stage and a runtime stage", n)
	}
}

// TestDockerfileGoVersion keeps the build image's Go release equal to go.mod's
// go line, so the build neither downloads a toolchain nor uses an older one.
func TestDockerfileGoVersion(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	for _, in := range dockerfile(t) {
		if in[0] == "FROM" && strings.HasPrefix(in[1], "golang:") {
			if !strings.HasPrefix(in[1], "golang:"+string(m[1])+"-") && !strings.HasPrefix(in[1], "golang:"+string(m[1])+"@") {
				t.Errorf("FROM %s, but go.mod says go %s", in[1], m[1])
			}
			return
		}
	}
	t.Error("no golang build stage")
}

// TestDockerIgnore checks that the build context leaves out the repository
// history, local state with stored webhook bodies, and secrets.
func TestDockerIgnore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	ignored := func(path string) bool {
		out := false
		for _, p := range patterns {
			neg := strings.HasPrefix(p, "!")
			p = strings.TrimPrefix(strings.TrimPrefix(p, "!"), "/")
			p = strings.TrimSuffix(p, "/")
			ok, _ := filepath.Match(p, path)
			if !ok {
				// A directory pattern also covers what is inside it.
				ok, _ = filepath.Match(p, strings.Split(path, "/")[0])
			}
			if !ok && strings.HasPrefix(p, "**/") {
				ok, _ = filepath.Match(strings.TrimPrefix(p, "**/"), filepath.Base(filepath.Dir(path)))
			}
			if ok {
				out = !neg
			}
		}
		return out
	}
	for _, p := range []string{".git/HEAD", "data/jetstream/x", ".env"} {
		if !ignored(p) {
			t.Errorf(".dockerignore does not exclude %s", p)
		}
	}
	// What the build needs stays in.
	for _, p := range []string{"go.mod", "go.sum", "cmd/maventa-events/main.go", "deploy/Dockerfile"} {
		if ignored(p) {
			t.Errorf(".dockerignore excludes %s, which the build needs", p)
		}
	}
}
