package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// maxHeaderBytes bounds the request line and headers of one request. Maventa's
// webhook requests carry a handful of short headers; the default (1 MiB) let
// 1 000 connections with unfinished headers hold a gigabyte (issue 16, item 3).
// Larger headers are answered 431. (net/http reads up to 4 KiB past it before
// it refuses.)
const maxHeaderBytes = 16 << 10

// listen opens a TCP listener on addr that holds at most maxConns connections
// at once (0 = no limit). Further connections are not refused: they wait in the
// kernel's accept queue until one closes, so a burst is slowed, not failed, and
// a flood of idle or slow connections cannot grow memory without bound.
func listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		ln = netutil.LimitListener(ln, maxConns)
	}
	return ln, nil
}

// newWebhookServer is the server of LISTEN_ADDR, with the limits that keep one
// client from holding the process's memory or a handler forever.
func newWebhookServer(h http.Handler, cfg *config, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 2 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		// A sender that trickles its body (slow loris) is cut off; a whole request
		// must fit well inside Maventa's 5 s anyway.
		ReadTimeout:  cfg.RequestTimeout + time.Second,
		WriteTimeout: cfg.RequestTimeout + 2*time.Second,
		IdleTimeout:  90 * time.Second,
		TLSConfig:    tlsConfig.Clone(), // the server adds its protocols (h2) to its copy
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveOn serves srv on ln: https only when srv has a TLS configuration.
func serveOn(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		// The certificate comes from TLSConfig.GetCertificate.
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// scheme is the URL scheme a server built with tlsConfig answers on.
func scheme(tlsConfig *tls.Config) string {
	if tlsConfig != nil {
		return "https"
	}
	return "http"
}

// tlsFiles checks that TLS_CERT_FILE and TLS_KEY_FILE are set together, and
// returns the server TLS configuration (nil for plain http).
func tlsFiles(cfg *config, log *slog.Logger) (*tls.Config, error) {
	switch {
	case cfg.TLSCertFile == "" && cfg.TLSKeyFile == "":
		return nil, nil
	case cfg.TLSCertFile == "" || cfg.TLSKeyFile == "":
		missing := "-tls-cert-file / TLS_CERT_FILE"
		if cfg.TLSKeyFile == "" {
			missing = "-tls-key-file / TLS_KEY_FILE"
		}
		return nil, fmt.Errorf("-tls-cert-file / TLS_CERT_FILE and -tls-key-file / TLS_KEY_FILE must be set together (both for https, neither for http): %s is empty", missing)
	}
	r, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log)
	if err != nil {
		return nil, err
	}
	return serverTLSConfig(r), nil
}
