package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startAdmin serves operator endpoints on their own address, apart from the
// webhook port that faces Maventa: profiles and metrics are for operators only.
// It returns the server and its base URL (the port chosen when addr ends in :0).
//
//	GET /metrics         Prometheus exposition of every OTel metric
//	GET /debug/pprof/    Go profiles
func startAdmin(addr string, metrics http.Handler, log *slog.Logger) (*http.Server, string, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("admin listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("admin endpoints", "metrics", base+"/metrics", "pprof", base+"/debug/pprof/")
	return srv, base, nil
}
