package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"
)

// startAdmin serves operator endpoints on their own address, apart from the
// webhook port that faces Maventa: profiles and metrics are for operators only.
// With tlsConfig (TLS_CERT_FILE) it serves https only, with the same
// certificate as the webhook listener. It returns the server and its base URL
// (the port chosen when addr ends in :0).
//
//	GET /metrics         Prometheus exposition of every OTel metric
//	GET /debug/pprof/    Go profiles; cmdline shows secret flags' values as REDACTED
func startAdmin(addr string, metrics http.Handler, tlsConfig *tls.Config, log *slog.Logger) (*http.Server, string, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", redactedCmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// Operators only: a few connections are plenty.
	ln, err := listen(addr, 64)
	if err != nil {
		return nil, "", fmt.Errorf("admin listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxHeaderBytes,
		TLSConfig: tlsConfig.Clone(), // each server adds its own protocols (h2) to it
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { _ = serveOn(srv, ln) }()
	base := scheme(tlsConfig) + "://" + ln.Addr().String()
	log.Info("admin endpoints", "metrics", base+"/metrics", "pprof", base+"/debug/pprof/")
	return srv, base, nil
}

// redactedCmdline is pprof.Cmdline (the arguments, NUL-separated) with the
// value of every secret option replaced (issue 16, item 5): a secret given as
// a flag must not be readable by whoever reaches the admin port.
func redactedCmdline(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = fmt.Fprint(w, strings.Join(redactArgs(os.Args), "\x00"))
}

// redactArgs returns args with the values of secret options (-flag=v, -flag v,
// and the -- forms) replaced by REDACTED.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i := 0; i < len(out); i++ {
		if out[i] == "--" { // the end of the flags
			break
		}
		name, ok := strings.CutPrefix(out[i], "-")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "-")
		name, _, inline := strings.Cut(name, "=")
		if !isSecretFlag(name) {
			continue
		}
		if inline {
			out[i] = out[i][:strings.Index(out[i], "=")+1] + "REDACTED"
		} else if i+1 < len(out) {
			out[i+1] = "REDACTED"
			i++
		}
	}
	return out
}

func isSecretFlag(name string) bool {
	for _, o := range options {
		if o.flag == name {
			return o.secret
		}
	}
	return false
}

// optionEnv is the environment variable of the option with flag name.
func optionEnv(name string) string {
	for _, o := range options {
		if o.flag == name {
			return o.env
		}
	}
	return ""
}
