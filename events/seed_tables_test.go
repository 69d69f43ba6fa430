package events

import (
	"bufio"
	"bytes"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSeedTables checks the one copy of seed 003's tables (who creates each
// assignment event type, the collection status each sets and whether only
// "if it is not already set") against the text of Maventa's guide itself
// (testdata/seeds/receivables_guide_003.txt, a verbatim copy of
// /work/shared/seeds/003_*.txt). The client and the sandbox read the same
// table, so this is the test that they agree with Maventa.
func TestSeedTables(t *testing.T) {
	text := readSeed(t, "receivables_guide_003.txt")
	var (
		typeLine  = regexp.MustCompile(`^([a-z_]+) [–-] `)
		setsTo    = regexp.MustCompile(`will set the “collection_status” of an assignment to ([a-z_]+)`)
		whoLine   = regexp.MustCompile(`^(Both the company and Visma Amili|Only Visma Amili|Only company|Only Maventa) can create this event type`)
		whoParty  = map[string][]Party{"Both the company and Visma Amili": {PartyCompany, PartyAgency}, "Only Visma Amili": {PartyAgency}, "Only company": {PartyCompany}, "Only Maventa": {PartyMaventa}}
		seedWho   = map[string][]Party{}
		seedSets  = map[string]string{}
		ifNotSet  = map[string]bool{}
		tableSets = map[string]string{}
	)
	cur, inTable := "", false
	sc := bufio.NewScanner(bytes.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "collection_status Events that sets the collection status":
			inTable = true
			continue
		case inTable && line == "":
			inTable = false
		case inTable:
			// "debt_collection collection_started (first payment demand is sent) / second_demand_sent / tratta"
			status, rest, _ := strings.Cut(line, " ")
			rest = regexp.MustCompile(`\([^)]*\)`).ReplaceAllString(rest, "")
			for _, typ := range strings.Split(rest, "/") {
				if f := strings.Fields(typ); len(f) == 1 {
					tableSets[f[0]] = status
				}
			}
		}
		if m := typeLine.FindStringSubmatch(line); m != nil {
			cur = m[1]
			if s := setsTo.FindStringSubmatch(line); s != nil {
				seedSets[cur] = s[1]
				ifNotSet[cur] = strings.Contains(line, "if it is not already set")
			}
		}
		if m := whoLine.FindStringSubmatch(line); m != nil && cur != "" {
			seedWho[cur] = whoParty[m[1]]
			cur = ""
		}
	}
	if len(seedWho) < 20 || len(tableSets) < 10 {
		t.Fatalf("seed not parsed: %d creators, %d table rows", len(seedWho), len(tableSets))
	}

	t.Run("creators", func(t *testing.T) {
		for typ, want := range seedWho {
			if got := CreatorsOf(typ); !slices.Equal(got, want) {
				t.Errorf("%s: creators %v, seed says %v", typ, got, want)
			}
		}
		for _, typ := range AssignmentEventTypes() {
			if _, ok := seedWho[typ]; !ok {
				t.Errorf("%s has creators the seed does not give", typ)
			}
		}
	})
	t.Run("collection status table", func(t *testing.T) {
		for typ, want := range tableSets {
			if got, ok := CollectionStatusOf(typ); !ok || got != want {
				t.Errorf("%s sets %q (%v), the table says %q", typ, got, ok, want)
			}
		}
		for typ := range creators {
			if _, inSeed := tableSets[typ]; !inSeed && typ != "tratta_sent" {
				if s, ok := CollectionStatusOf(typ); ok {
					t.Errorf("%s sets %q, the table sets nothing", typ, s)
				}
			}
		}
	})
	t.Run("event descriptions", func(t *testing.T) {
		for typ, want := range seedSets {
			if got, ok := CollectionStatusOf(typ); !ok || got != want {
				t.Errorf("%s sets %q, its description says %q", typ, got, want)
			}
			// "if it is not already set": a later step is never undone;
			// the other types set their status whatever the current one.
			later := CollectionLegalCollection
			if want == later {
				later = CollectionPaymentPlan
			}
			if _, changed := CollectionStatusAfter(typ, later); changed == ifNotSet[typ] {
				t.Errorf("%s over %s: changed %v, but the seed's 'if it is not already set' is %v", typ, later, changed, ifNotSet[typ])
			}
		}
	})
}
