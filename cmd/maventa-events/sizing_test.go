package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/maventa-bridge/maventa-events/consumers"
)

func TestSizingPrintsWhatPollingNeedsAndWhatFits(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"the defaults fit the product's vendor", nil, []string{"-companies", "50000"},
			[]string{"50 active, 4950 quiet, 45000 no_receivables", "ax           0.90", "6.75           96 %",
				"polling fits; the least MAVENTA_REQUESTS_PER_SECOND that would: 9.7"}},
		{"the options are read from the environment like serve's",
			map[string]string{"POLL_QUIET_MAX": "15m", "POLL_NO_RECEIVABLES_MAX": "1h"}, []string{"-companies", "50000"},
			[]string{"POLL_QUIET_MAX=15m0s", "35.65", "509 %", "raise MAVENTA_REQUESTS_PER_SECOND from 10 to 51",
				"or POLL_QUIET_MAX to 1h58m0s and POLL_NO_RECEIVABLES_MAX to 7h53m0s"}},
		{"flags give the mix", map[string]string{"MAVENTA_REQUESTS_PER_SECOND": "100"},
			[]string{"-companies", "1000", "-receivables", "1", "-active", "0.5"},
			[]string{"1000 companies: 500 active, 500 quiet, 0 no_receivables", "polling may use 70.0 requests/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := runCLI(t, tc.env, append([]string{"sizing"}, tc.args...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	out, _, err := runCLI(t, nil, "sizing", "-companies", "50000", "-json")
	var rep sizingReport
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !rep.Sizing.Fits || rep.Mix != (consumers.Mix{Active: 50, Quiet: 4950, NoReceivables: 45000}) || rep.Sizing.Hosts[0].Host != consumers.HostAX {
		t.Errorf("json report %+v", rep)
	}
}

func TestSizingRefusesBadInputNamingIt(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-companies must be a positive number of companies, got 0"},
		{[]string{"-companies", "-5"}, "-companies must be a positive number of companies, got -5"},
		{[]string{"-companies", "10", "-receivables", "1.5"}, "-receivables must be a share between 0 and 1, got 1.5"},
		{[]string{"-companies", "10", "-active", "-0.1"}, "-active must be a share between 0 and 1, got -0.1"},
		{[]string{"-companies", "10", "extra"}, "unexpected arguments: [extra]"},
		{[]string{"-companies", "ten"}, "invalid value \"ten\" for flag -companies"},
	} {
		_, _, err := runCLI(t, nil, append([]string{"sizing"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sizing %v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

// docs/reconciliation.md's and docs/cli.md's sizing examples are this command's output.
func TestTheSizingExampleInTheDocsIsTheModelsOutput(t *testing.T) {
	doc, err := os.ReadFile("../../docs/reconciliation.md")
	if err != nil {
		t.Fatal(err)
	}
	cliDoc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-companies", "50000"}} {
		out, _, err := runCLI(t, nil, append([]string{"sizing"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		block := "$ maventa-events sizing " + strings.Join(args, " ") + "\n" + out
		for name, d := range map[string][]byte{"docs/reconciliation.md": doc, "docs/cli.md": cliDoc} {
			if !strings.Contains(string(d), block) {
				t.Errorf("%s lacks the output of `maventa-events sizing %s`; paste:\n%s", name, strings.Join(args, " "), block)
			}
		}
	}
	out, _, err := runCLI(t, map[string]string{"POLL_QUIET_MAX": "15m", "POLL_NO_RECEIVABLES_MAX": "1h"}, "sizing", "-companies", "50000")
	if err != nil {
		t.Fatal(err)
	}
	block := "$ POLL_QUIET_MAX=15m POLL_NO_RECEIVABLES_MAX=1h maventa-events sizing -companies 50000\n" + out
	if !strings.Contains(string(doc), block) {
		t.Errorf("docs/reconciliation.md lacks the sizing of the old ceilings; paste:\n%s", block)
	}
}
