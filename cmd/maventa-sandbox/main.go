// Command maventa-sandbox runs the Maventa sandbox (package sandbox) as a
// standalone server: the AX API, the Receivables API and the admin API on three
// listeners, with a demo company whose credentials it prints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/maventa-bridge/maventa-events/maventa/sandbox"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "maventa-sandbox:", err)
		os.Exit(1)
	}
}

// options are the command's settings; each flag can also come from the
// environment variable MAVENTA_SANDBOX_<NAME> (dashes as underscores).
type options struct {
	axAddr, recAddr, adminAddr  string
	seed                        uint64
	tokenLifetime               time.Duration
	timeScale                   float64
	demo                        bool
	demoID, demoKey, demoVendor string
	webhookURL                  string
	webhookEvents               string
	activate                    bool
	scenarioInvoices            int
	scenarioRate                float64
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("maventa-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.axAddr, "ax-addr", "127.0.0.1:8081", "listen address of the AX API (token, notifications, services, invoices)")
	fs.StringVar(&o.recAddr, "receivables-addr", "127.0.0.1:8082", "listen address of the Receivables API")
	fs.StringVar(&o.adminAddr, "admin-addr", "127.0.0.1:8083", "listen address of the admin API")
	fs.Uint64Var(&o.seed, "seed", 1, "seed for ids, faults and scenarios")
	fs.DurationVar(&o.tokenLifetime, "token-lifetime", time.Hour, "access token lifetime")
	fs.Float64Var(&o.timeScale, "time-scale", 1, "divides webhook retry interval/duration/timeout (3600: an hour is a second)")
	fs.BoolVar(&o.demo, "demo-company", true, "create a demo company and print its credentials")
	fs.StringVar(&o.demoID, "demo-company-id", "0d5c2a77-6c1f-4a55-9b36-3f5f1e2d9a10", "demo company UUID (client_id)")
	fs.StringVar(&o.demoKey, "demo-api-key", "demo-api-key", "demo company API key (client_secret)")
	fs.StringVar(&o.demoVendor, "demo-vendor-key", "demo-vendor-key", "demo vendor_api_key")
	fs.StringVar(&o.webhookURL, "webhook-url", "", "register this URL as a WEBHOOK of the demo company")
	fs.StringVar(&o.webhookEvents, "webhook-events", "DOCUMENTS.*.*,NETWORKS.*,COMPANIES.AUTHORIZATION.*,SERVICES.*", "comma-separated event patterns for -webhook-url")
	fs.BoolVar(&o.activate, "activate-amili", true, "start with the demo company's Amili Kassavirta service active")
	fs.IntVar(&o.scenarioInvoices, "scenario-invoices", 0, "run a scenario of this many invoices for the demo company at start")
	fs.Float64Var(&o.scenarioRate, "scenario-rate", 0, "scenario pace in steps per second (0: all at once)")
	// Environment variables are defaults; flags win.
	fs.VisitAll(func(f *flag.Flag) {
		name := "MAVENTA_SANDBOX_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" {
			if err := f.Value.Set(v); err == nil {
				f.DefValue = v
			}
		}
	})
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("flags: %w", err)
	}
	return o, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	o, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	sb := sandbox.New(sandbox.Config{Seed: o.seed, TokenLifetime: o.tokenLifetime, TimeScale: o.timeScale, Logger: log})
	srv, err := sandbox.StartOn(sb, sandbox.Addrs{AX: o.axAddr, Receivables: o.recAddr, Admin: o.adminAddr})
	if err != nil {
		sb.Close()
		return fmt.Errorf("start: %w", err)
	}
	fmt.Fprintf(stdout, "AX API:          %s\n", srv.AXURL)
	fmt.Fprintf(stdout, "Receivables API: %s\n", srv.ReceivablesURL)
	fmt.Fprintf(stdout, "Admin API:       %s\n", srv.AdminURL)
	if o.demo {
		c := sb.AddCompany(sandbox.Company{ID: o.demoID, APIKey: o.demoKey, VendorAPIKey: o.demoVendor, Name: "Demo Oy", BID: "1234567-8"})
		fmt.Fprintf(stdout, "Demo company:    client_id=%s client_secret=%s vendor_api_key=%s\n", c.ID, c.APIKey, c.VendorAPIKey)
		if o.activate {
			if err := sb.ActivateService(c.ID, sandbox.ProviderAmili); err != nil {
				return fmt.Errorf("activate demo service: %w", err)
			}
		}
		if o.webhookURL != "" {
			n, err := sb.RegisterWebhook(c.ID, "WEBHOOK", o.webhookURL, strings.Split(o.webhookEvents, ","), "")
			if err != nil {
				srv.Close()
				return fmt.Errorf("register webhook: %w", err)
			}
			fmt.Fprintf(stdout, "Webhook:         %s -> %s\n", n.ID, strings.Join(n.Events, ","))
		}
		if o.scenarioInvoices > 0 {
			go func() {
				sum, err := sb.RunScenario(ctx, sandbox.ScenarioConfig{CompanyIDs: []string{c.ID},
					InvoicesPerCompany: o.scenarioInvoices, Rate: o.scenarioRate})
				if err != nil && !errors.Is(err, context.Canceled) {
					log.Error("scenario", "err", err)
					return
				}
				log.Info("scenario done", "invoices", sum.Invoices, "assignments", sum.Assignments, "events", sum.Events)
			}()
		}
	}
	fmt.Fprintln(stdout, "Ready.")
	select {
	case <-ctx.Done():
	case err := <-srv.Err():
		srv.Close()
		return err
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
