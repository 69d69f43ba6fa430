package events

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// TestSDKGoDecodesGolden proves that the CloudEvents sdk-go reads what we publish:
// every golden file (a structured-mode payload) unmarshals into event.Event,
// validates, and keeps its attributes, extensions and data.
func TestSDKGoDecodesGolden(t *testing.T) {
	for _, d := range Types() {
		t.Run(d.Name, func(t *testing.T) {
			b, err := os.ReadFile(goldenPath(d))
			if err != nil {
				t.Fatal(err)
			}
			ours, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			var ce event.Event
			if err := json.Unmarshal(b, &ce); err != nil {
				t.Fatalf("sdk-go cannot decode: %v", err)
			}
			if err := ce.Validate(); err != nil {
				t.Fatalf("sdk-go validation: %v", err)
			}
			checks := []struct{ name, got, want string }{
				{"specversion", ce.SpecVersion(), SpecVersion},
				{"id", ce.ID(), ours.ID},
				{"type", ce.Type(), d.Type()},
				{"source", ce.Source(), ours.Source},
				{"subject", ce.Subject(), ours.Subject},
				{"datacontenttype", ce.DataContentType(), DataContentType},
				{"dataschema", ce.DataSchema(), d.SchemaURL()},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: sdk-go %q, ours %q", c.name, c.got, c.want)
				}
			}
			if !ce.Time().Equal(ours.Time) || ce.Time().Location() != time.UTC {
				t.Errorf("time: sdk-go %v, ours %v", ce.Time(), ours.Time)
			}
			ext := ce.Extensions()
			wantExt := map[string]string{"companyid": ours.CompanyID, "maventaeventid": ours.MaventaEventID,
				"webhookid": ours.WebhookID, "traceparent": ours.TraceParent, "tracestate": ours.TraceState,
				"sequence": ours.Sequence, "correlationid": ours.CorrelationID}
			for k, want := range wantExt {
				got, ok := ext[k]
				if want == "" {
					if ok {
						t.Errorf("extension %s present, want absent", k)
					}
					continue
				}
				if s, _ := got.(string); s != want {
					t.Errorf("extension %s: sdk-go %v, ours %q", k, got, want)
				}
			}
			for k := range ext {
				if _, ok := wantExt[k]; !ok {
					t.Errorf("unexpected extension %s", k)
				}
			}
			var a, b2 any
			if err := json.Unmarshal(ce.Data(), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(ours.Data, &b2); err != nil {
				t.Fatal(err)
			}
			if ja, _ := json.Marshal(a); string(ja) != string(mustJSON(t, b2)) {
				t.Errorf("data differs:\nsdk-go %s\nours   %s", ja, mustJSON(t, b2))
			}
			// And back: what sdk-go writes, we decode to the same event.
			out, err := json.Marshal(ce)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(out)
			if err != nil {
				t.Fatalf("decode sdk-go output: %v", err)
			}
			if again.ID != ours.ID || again.Type != ours.Type || !again.Time.Equal(ours.Time) || again.Sequence != ours.Sequence {
				t.Errorf("sdk-go round trip changed the event: %+v", again)
			}
		})
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
