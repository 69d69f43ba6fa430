package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// probe checks a health URL, for container health checks on an image that has
// no curl or wget (distroless). It follows the service's own TLS setting, read
// from the same environment: with TLS_CERT_FILE set, an http:// URL is probed
// over https (the listener serves nothing else), and the server must present
// exactly that certificate. The image's HEALTHCHECK
// (http://127.0.0.1:8080/readyz) thus works with and without TLS, although the
// certificate is not issued for 127.0.0.1.
func probe(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) != 1 {
		return errors.New("usage: maventa-events probe URL")
	}
	url, client := args[0], http.DefaultClient
	if certFile := getenv("TLS_CERT_FILE"); certFile != "" {
		c, err := pinnedClient(certFile)
		if err != nil {
			return err
		}
		url, client = strings.Replace(url, "http://", "https://", 1), c
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

// pinnedClient accepts only a server presenting the first certificate of
// certFile, whatever name it is reached by.
func pinnedClient(certFile string) (*http.Client, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("TLS_CERT_FILE: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("TLS_CERT_FILE %s: no PEM certificate", certFile)
	}
	want := block.Bytes
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The usual verification (chain and name) is replaced by pinning: the
		// leaf must be byte for byte the configured certificate.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, want) {
				return errors.New("the server's certificate is not the one in TLS_CERT_FILE")
			}
			return nil
		},
	}}}, nil
}
