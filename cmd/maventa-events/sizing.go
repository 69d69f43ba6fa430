package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/maventa-bridge/maventa-events/consumers"
)

// sizingReport is what 'sizing -json' prints.
type sizingReport struct {
	Companies   int              `json:"companies"`
	Receivables float64          `json:"receivables_share"`
	Active      float64          `json:"active_share"`
	Mix         consumers.Mix    `json:"mix"`
	Sizing      consumers.Sizing `json:"sizing"`
	// FirstPass is how long a cold start takes to poll every company once.
	FirstPass time.Duration `json:"first_pass"`
}

// sizing prints what polling needs of each Maventa host for a number of
// companies, with the configured ceilings and budget (the same options and
// environment as serve), and what would fit. It reads nothing but its
// configuration.
func sizing(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cli, err := newCLIFlags("sizing", getenv, stderr, "print one JSON document", false)
	if err != nil {
		return err
	}
	fs := cli.fs
	companies := fs.Int("companies", 0, "companies linked to the vendor key (required)")
	receivables := fs.Float64("receivables", 0.1, "share of the companies with the receivables service (0 to 1)")
	active := fs.Float64("active", 0.01, "share of those active (news in the last POLL_ACTIVE_FOR) at a time (0 to 1)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("sizing: unexpected arguments: %v", fs.Args())
	case *companies <= 0:
		return fmt.Errorf("sizing: -companies must be a positive number of companies, got %d", *companies)
	case *receivables < 0 || *receivables > 1:
		return fmt.Errorf("sizing: -receivables must be a share between 0 and 1, got %g", *receivables)
	case *active < 0 || *active > 1:
		return fmt.Errorf("sizing: -active must be a share between 0 and 1, got %g", *active)
	}
	rep := sizingReport{Companies: *companies, Receivables: *receivables, Active: *active,
		Mix: consumers.MixOf(*companies, *receivables, *active)}
	rep.Sizing = consumers.Size(cli.cfg.Poller, consumers.SizingBudget{RequestsPerSecond: cli.cfg.Maventa.RequestsPerSecond,
		PollShare: cli.cfg.Maventa.PollShare}, rep.Mix)
	rep.FirstPass = consumers.FirstPass(cli.cfg.Poller, consumers.SizingBudget{RequestsPerSecond: rep.Sizing.RequestsPerSecond,
		PollShare: rep.Sizing.PollShare}, *companies)
	if *cli.asJSON {
		return writeJSON(stdout, rep)
	}
	return printSizing(stdout, rep)
}

// printSizing writes the report as docs/reconciliation.md shows it.
func printSizing(w io.Writer, r sizingReport) error {
	s, m := r.Sizing, r.Mix
	fmt.Fprintf(w, "%d companies: %d active, %d quiet, %d no_receivables\n", r.Companies, m.Active, m.Quiet, m.NoReceivables)
	fmt.Fprintf(w, "POLL_INTERVAL=%v POLL_QUIET_MAX=%v POLL_NO_RECEIVABLES_MAX=%v POLL_NO_RECEIVABLES_RECHECK=%v\n",
		s.Interval, s.QuietMax, s.NoReceivablesMax, s.NoReceivablesRecheck)
	fmt.Fprintf(w, "MAVENTA_REQUESTS_PER_SECOND=%g MAVENTA_POLL_SHARE=%g: polling may use %.1f requests/s per host\n\n",
		s.RequestsPerSecond, s.PollShare, s.RequestsPerSecond*s.PollShare)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tACTIVE REQ/S\tQUIET REQ/S\tNO_RECEIVABLES REQ/S\tPOLLING REQ/S\tSHARE OF POLLING BUDGET")
	for _, h := range s.Hosts {
		fmt.Fprintf(tw, "%s\t", h.Host)
		for _, t := range h.Tiers {
			fmt.Fprintf(tw, "%.2f\t", t.PerSecond)
		}
		fmt.Fprintf(tw, "%.2f\t%.0f %%\n", h.PerSecond, 100*h.Share)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.Fits {
		fmt.Fprintf(w, "\npolling fits; the least MAVENTA_REQUESTS_PER_SECOND that would: %g\n", s.FitRequestsPerSecond)
	} else {
		fmt.Fprintf(w, "\ndoes not fit: %s\n", s.Advice())
	}
	_, err := fmt.Fprintf(w, "a cold start polls every company once in about %v (its first pass, spread over that time)\n",
		r.FirstPass.Round(time.Minute))
	return err
}
