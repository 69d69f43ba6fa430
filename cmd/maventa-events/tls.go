package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// serverTLSConfig is the TLS of both listeners: TLS 1.2 or newer (seed 004
// requires it at the webhook endpoint), and for TLS 1.2 only AEAD suites with
// forward secrecy (TLS 1.3's suites are all of that kind and not configurable).
func serverTLSConfig(r *certReloader) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: r.GetCertificate,
	}
}

// errNoTLS is returned by a reloader that never loaded a certificate.
var errNoTLS = errors.New("no TLS certificate loaded")

// certReloader serves the certificate of a PEM certificate file and key file,
// and reads them again when either changes (cert-manager and similar tools
// rotate them in place), checked on every TLS handshake. Handshakes are rare
// next to requests (connections are kept alive), and the check is two stat
// calls; the files are read and parsed only when one of them changed.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	stamps [2]fileStamp // of certFile and keyFile when last read
	pems   [2][]byte    // their contents when last loaded successfully
	// lastErr is the last reload failure logged ("" after a success).
	lastErr string
}

// fileStamp is what tells that a file changed without reading it.
type fileStamp struct {
	mod  time.Time
	size int64
}

// newCertReloader loads the pair once; an error names both files.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate, after
// reloading it if its files changed. A pair that does not load (a rotation
// half-written: new certificate, old key) keeps the previous certificate in use
// and is logged; the next change of either file is tried again.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	err := r.reload()
	r.mu.Lock()
	defer r.mu.Unlock()
	// Logged once per distinct failure, not on every handshake (a file that
	// stays missing would otherwise fill the log).
	if msg := errString(err); msg != r.lastErr {
		r.lastErr = msg
		if err != nil {
			r.log.Warn("TLS certificate files changed but do not load; serving the previous certificate", "err", err)
		}
	}
	if r.cert == nil {
		return nil, errNoTLS
	}
	return r.cert, nil
}

// reload reads the files if their stamps changed since the last read.
func (r *certReloader) reload() error {
	var stamps [2]fileStamp
	for i, f := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("TLS_CERT_FILE %s / TLS_KEY_FILE %s: %w", r.certFile, r.keyFile, err)
		}
		stamps[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil && stamps == r.stamps {
		return nil
	}
	r.stamps = stamps // a broken pair is reported once, not on every handshake
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return fmt.Errorf("TLS_CERT_FILE %s: %w", r.certFile, err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return fmt.Errorf("TLS_KEY_FILE %s: %w", r.keyFile, err)
	}
	if r.cert != nil && bytes.Equal(certPEM, r.pems[0]) && bytes.Equal(keyPEM, r.pems[1]) {
		return nil // touched, not changed
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("TLS_CERT_FILE %s / TLS_KEY_FILE %s: %w", r.certFile, r.keyFile, err)
	}
	first := r.cert == nil
	r.cert, r.pems = &cert, [2][]byte{certPEM, keyPEM}
	if !first {
		r.log.Info("TLS certificate reloaded", "cert_file", r.certFile, "not_after", cert.Leaf.NotAfter)
	}
	return nil
}
