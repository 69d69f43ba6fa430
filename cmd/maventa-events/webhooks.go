package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/maventa-bridge/maventa-events/events"
	"github.com/maventa-bridge/maventa-events/maventa"
)

// webhooks manages the service's webhook registrations at Maventa (AX API
// /v1/company/notifications) with the service's own Maventa configuration.
// Destinations carry the webhook secret: every output redacts it.
func webhooks(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: maventa-events webhooks register|list|delete [flags]; 'maventa-events webhooks register -h' lists the flags"
	if len(args) == 0 {
		return errors.New(usage)
	}
	sub, rest := args[0], args[1:]
	cli, err := newCLIFlags("webhooks "+sub, getenv, stderr, "print one JSON document", false)
	if err != nil {
		return err
	}
	cfg, fs, asJSON := cli.cfg, cli.fs, cli.asJSON
	company := fs.String("company", "", "the company whose credentials authenticate (default: the only company in MAVENTA_CREDENTIALS_FILE / MAVENTA_COMPANY_CREDENTIALS)")
	var (
		dest, typ, evList, vendorKey, id *string
	)
	switch sub {
	case "register":
		dest = fs.String("url", "", "the webhook URL Maventa posts to, e.g. https://host/webhooks/maventa?secret=... (required)")
		typ = fs.String("type", maventa.DestinationVendorWebhook, "VENDOR_WEBHOOK (every company of the vendor key) or WEBHOOK (this company only)")
		evList = fs.String("events", strings.Join(events.WebhookEventPatterns, ","), "comma-separated Maventa event patterns")
		vendorKey = fs.String("vendor-key", "", "restrict a VENDOR_WEBHOOK to the companies of this vendor key (optional; never printed)")
	case "list":
	case "delete":
		id = fs.String("id", "", "the registration id to delete (see 'webhooks list') (required)")
	default:
		return fmt.Errorf("unknown webhooks command %q; %s", sub, usage)
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("webhooks %s: unexpected arguments: %v", sub, fs.Args())
	}

	// Validate the request before anything talks to Maventa.
	var req maventa.NewNotification
	switch sub {
	case "register":
		req, err = newNotification(*dest, *typ, *evList, *vendorKey)
		if err != nil {
			return err
		}
		for _, w := range destinationWarnings(req.Destination) {
			fmt.Fprintln(stderr, "warning:", w)
		}
	case "delete":
		if strings.TrimSpace(*id) == "" {
			return errors.New("webhooks delete: -id is required (see 'maventa-events webhooks list')")
		}
	}

	api, creds, err := newMaventaClient(cfg, getenv, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	companyID, err := pickCompany(*company, creds.Companies())
	if err != nil {
		return err
	}

	switch sub {
	case "register":
		n, err := api.CreateNotification(ctx, companyID, req)
		if err != nil {
			return fmt.Errorf("register webhook: %w", err)
		}
		v := viewNotification(n)
		if *asJSON {
			return writeJSON(stdout, v)
		}
		fmt.Fprintf(stdout, "registered webhook %s for company %s\n  type:        %s\n  destination: %s\n  events:      %s\n",
			v.ID, companyID, v.DestinationType, v.Destination, strings.Join(v.Events, ", "))
		return nil
	case "list":
		list, err := api.ListNotifications(ctx, companyID)
		if err != nil {
			return fmt.Errorf("list webhooks: %w", err)
		}
		views := make([]notificationView, 0, len(list))
		for _, n := range list {
			views = append(views, viewNotification(n))
		}
		if *asJSON {
			return writeJSON(stdout, views)
		}
		if len(views) == 0 {
			fmt.Fprintf(stdout, "no webhooks registered for company %s\n", companyID)
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tDESTINATION\tEVENTS")
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.ID, v.DestinationType, v.Destination, strings.Join(v.Events, ","))
		}
		return tw.Flush()
	default: // delete
		if err := api.DeleteNotification(ctx, companyID, *id); err != nil {
			return fmt.Errorf("delete webhook %s: %w", *id, err)
		}
		if *asJSON {
			return writeJSON(stdout, map[string]string{"deleted": *id, "company_id": companyID})
		}
		fmt.Fprintf(stdout, "deleted webhook %s of company %s\n", *id, companyID)
		return nil
	}
}

// newNotification checks the register flags and builds the request.
func newNotification(dest, typ, evList, vendorKey string) (maventa.NewNotification, error) {
	if dest == "" {
		return maventa.NewNotification{}, errors.New("webhooks register: -url is required, e.g. -url 'https://your-host/webhooks/maventa?secret=...'")
	}
	u, err := url.Parse(dest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold the secret: never echo it.
		return maventa.NewNotification{}, errors.New("webhooks register: -url must be an absolute http(s) URL")
	}
	typ = strings.ToUpper(strings.TrimSpace(typ))
	if typ != maventa.DestinationVendorWebhook && typ != maventa.DestinationWebhook {
		return maventa.NewNotification{}, fmt.Errorf("webhooks register: -type %q: want %s or %s", typ, maventa.DestinationVendorWebhook, maventa.DestinationWebhook)
	}
	evs := splitList(evList)
	if len(evs) == 0 {
		return maventa.NewNotification{}, errors.New("webhooks register: -events is empty")
	}
	if vendorKey != "" && typ != maventa.DestinationVendorWebhook {
		return maventa.NewNotification{}, errors.New("webhooks register: -vendor-key needs -type VENDOR_WEBHOOK")
	}
	return maventa.NewNotification{DestinationType: typ, Destination: dest, Events: evs, VendorKey: vendorKey}, nil
}

// destinationWarnings says what is risky about a webhook URL: the secret in
// clear text over http, or no secret at all (the service answers 401 unless it
// runs with -insecure-no-auth).
func destinationWarnings(dest string) []string {
	u, err := url.Parse(dest)
	if err != nil {
		return nil
	}
	var out []string
	if u.Scheme != "https" {
		out = append(out, "the URL is not https: Maventa would send webhooks and the secret in clear text")
	}
	pw, hasPW := u.User.Password()
	if (!hasPW || pw == "") && u.Query().Get("secret") == "" {
		out = append(out, "the URL carries no secret (neither a Basic-auth password nor ?secret=): the service answers 401 unless it runs with -insecure-no-auth")
	}
	return out
}

// pickCompany returns the company whose credentials authenticate: the one asked
// for, or the only one configured.
func pickCompany(asked string, configured []string) (string, error) {
	if asked != "" {
		return asked, nil
	}
	switch len(configured) {
	case 0:
		return "", fmt.Errorf("no Maventa company credentials: set %s (uuid=api-key) or MAVENTA_CREDENTIALS_FILE", maventa.CredentialsEnvVar)
	case 1:
		return configured[0], nil
	}
	return "", fmt.Errorf("credentials hold %d companies (%s): choose one with -company", len(configured), strings.Join(configured, ", "))
}

// notificationView is a registration as printed: the destination redacted, the
// vendor key hidden, unknown fields kept unless their name suggests a secret.
type notificationView struct {
	ID              string                     `json:"id"`
	DestinationType string                     `json:"destination_type"`
	Destination     string                     `json:"destination"`
	Events          []string                   `json:"events"`
	Extra           map[string]json.RawMessage `json:"extra,omitempty"`
}

func viewNotification(n maventa.Notification) notificationView {
	v := notificationView{ID: n.ID, DestinationType: n.DestinationType, Destination: redactURL(n.Destination), Events: n.Events}
	for k, raw := range n.Extra {
		if v.Extra == nil {
			v.Extra = map[string]json.RawMessage{}
		}
		if secretName(k) {
			raw, _ = json.Marshal(redacted)
		} else {
			var s string
			if json.Unmarshal(raw, &s) == nil && s != redactText(s) {
				raw, _ = json.Marshal(redactText(s))
			}
		}
		v.Extra[k] = raw
	}
	return v
}

// redacted replaces every secret in output, as maventa.Secret prints.
const redacted = "REDACTED"

// secretName reports whether a field, header or query parameter name suggests
// it holds a credential.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "password", "passwd", "token", "key", "authorization", "cookie", "signature"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// redactURL hides the webhook secret in a URL: the Basic-auth password and the
// value of every query parameter whose name suggests a credential ("secret"
// above all), keeping the parameter order. A URL that cannot be parsed is
// hidden whole, since it cannot be checked.
func redactURL(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL hidden)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, p := range parts {
			k, _, hasValue := strings.Cut(p, "=")
			name, err := url.QueryUnescape(k)
			if err != nil {
				name = k
			}
			if hasValue && secretName(name) {
				parts[i] = k + "=" + redacted
			}
		}
		u.RawQuery = strings.Join(parts, "&")
	}
	return u.String()
}

var urlInText = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// redactText redacts every URL inside free text (error messages, headers).
func redactText(s string) string {
	return urlInText.ReplaceAllStringFunc(s, redactURL)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
