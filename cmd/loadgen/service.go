package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers/natsstore"
)

const secret = "loadgen-secret"

// buildService compiles the service once, without the race detector, as it runs
// in production.
func buildService(ctx context.Context, dir string, stderr io.Writer) (string, error) {
	bin := filepath.Join(dir, "maventa-events")
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/maventa-events")
	cmd.Dir = root
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build service: %w", err)
	}
	return bin, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run loadgen inside the module, or pass -bin")
	}
	return filepath.Dir(mod), nil
}

// service is one started service process.
type service struct {
	cmd     *exec.Cmd
	url     string
	natsURL string
	dataDir string
	exited  chan error
}

func startService(ctx context.Context, bin, mode, syncPolicy string, extraEnv []string, stderr io.Writer) (*service, error) {
	dataDir, err := os.MkdirTemp("", "loadgen-data-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"LISTEN_ADDR=127.0.0.1:0", "NATS_EMBEDDED_PORT=-1", "DATA_DIR="+dataDir,
		"WEBHOOK_SECRETS="+secret, "PUBLISH_MODE="+mode, "NATS_SYNC="+syncPolicy, "LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &service{cmd: cmd, dataDir: dataDir, exited: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if u, ok := strings.CutPrefix(line, "maventa-events listening on "); ok {
				s.url = u
			}
			if rest, ok := strings.CutPrefix(line, "  NATS:        "); ok {
				s.natsURL, _, _ = strings.Cut(rest, " ")
			}
			if strings.HasPrefix(line, "  webhook URL:") {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { s.exited <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-s.exited:
		return nil, fmt.Errorf("service exited before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, errors.New("service not ready within 30s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	resp, err := http.Get(s.url + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		s.stop()
		return nil, fmt.Errorf("service printed its banner but /readyz fails: %v", err)
	}
	resp.Body.Close()
	if s.natsURL != "" {
		// The embedded server requires the credentials it wrote into DATA_DIR.
		if s.natsURL, err = natsstore.EmbeddedClientURL(s.natsURL, dataDir); err != nil {
			s.stop()
			return nil, fmt.Errorf("embedded NATS credentials: %w", err)
		}
	}
	if s.natsURL == "" {
		// No embedded server: the service uses the NATS_URL it inherited from
		// us (the production topology, where JetStream's memory is not the
		// service's), so the stored messages are counted there.
		s.natsURL = os.Getenv("NATS_URL")
	}
	return s, nil
}

// rssNow reads the process's resident memory now (VmRSS).
func (s *service) rssNow() int64 {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(s.cmd.Process.Pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// usage reads the process's CPU time and peak resident memory from /proc.
func (s *service) usage() (cpu time.Duration, peakRSS int64) {
	pid := strconv.Itoa(s.cmd.Process.Pid)
	if stat, err := os.ReadFile("/proc/" + pid + "/stat"); err == nil {
		// Fields after the command name (which is in parentheses): utime is the 14th
		// field, stime the 15th, in clock ticks (100 per second on Linux).
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 {
			f := strings.Fields(string(stat)[i+2:])
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+st) * 10 * time.Millisecond
			}
		}
	}
	if status, err := os.ReadFile("/proc/" + pid + "/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				peakRSS = kb * 1024
			}
		}
	}
	return cpu, peakRSS
}

// stop sends SIGTERM (a graceful shutdown) and waits.
func (s *service) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.RemoveAll(s.dataDir)
}
