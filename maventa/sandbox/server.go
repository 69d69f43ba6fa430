package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Addrs are the listen addresses of the three listeners; "" means 127.0.0.1:0.
type Addrs struct {
	AX          string
	Receivables string
	Admin       string
}

// Server is a running sandbox: three HTTP listeners.
type Server struct {
	// AXURL, ReceivablesURL and AdminURL are base URLs ("http://127.0.0.1:port").
	AXURL          string
	ReceivablesURL string
	AdminURL       string

	sb      *Sandbox
	servers []*http.Server
	errc    chan error
}

// Start serves sb on three loopback listeners with ephemeral ports.
func Start(sb *Sandbox) (*Server, error) {
	return StartOn(sb, Addrs{})
}

// StartOn serves sb on the given addresses.
func StartOn(sb *Sandbox, addrs Addrs) (*Server, error) {
	srv := &Server{sb: sb, errc: make(chan error, 3)}
	specs := []struct {
		addr string
		h    http.Handler
		url  *string
	}{
		{addrs.AX, sb.AXHandler(), &srv.AXURL},
		{addrs.Receivables, sb.ReceivablesHandler(), &srv.ReceivablesURL},
		{addrs.Admin, sb.AdminHandler(), &srv.AdminURL},
	}
	for _, sp := range specs {
		addr := sp.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			srv.shutdown(context.Background())
			return nil, fmt.Errorf("sandbox listen %s: %w", addr, err)
		}
		hs := &http.Server{Handler: sp.h, ReadHeaderTimeout: 10 * time.Second}
		srv.servers = append(srv.servers, hs)
		*sp.url = "http://" + ln.Addr().String()
		go func() {
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				srv.errc <- fmt.Errorf("sandbox serve: %w", err)
			}
		}()
	}
	return srv, nil
}

// Err reports a listener failure (nil channel receive blocks until one happens).
func (srv *Server) Err() <-chan error { return srv.errc }

// Shutdown stops the listeners gracefully and then the sandbox's webhook retries.
func (srv *Server) Shutdown(ctx context.Context) error {
	err := srv.shutdown(ctx)
	srv.sb.Close()
	return err
}

func (srv *Server) shutdown(ctx context.Context) error {
	var errs []error
	for _, hs := range srv.servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the listeners immediately and the sandbox's webhook retries.
func (srv *Server) Close() {
	for _, hs := range srv.servers {
		_ = hs.Close()
	}
	srv.sb.Close()
}
