package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// This file generates docs/commands.md, a JSON Schema per command
// (docs/schemas/commands.*.json, plus the command envelope) and the command part
// of docs/asyncapi.yaml from the command catalog, and checks every command's
// example against both ParseCommand and its schema.

const (
	commandEnvelopeFile = "commands.cloudevent.v1.json"
	exampleCommandID    = "5f0c1e9a-3b7d-4c2e-9a8f-1d2e3f4a5b6c"
)

var (
	amountType      = reflect.TypeFor[Amount]()
	commandDateType = reflect.TypeFor[CommandDate]()
)

// centsPattern is a decimal with at most two decimals: an amount in a command.
const centsPattern = `^-?[0-9]+(\.[0-9]{1,2})?$`

func commandFieldSchema(t reflect.Type) *schema {
	s := newSchema()
	if t == commandDateType {
		return s.set("type", "string").set("format", "date").set("pattern", datePattern)
	}
	// pattern constrains the string form, multipleOf the number form.
	return s.set("type", []string{"string", "number"}).set("pattern", centsPattern).set("multipleOf", json.Number("0.01")).
		set("description", "Exact amount with at most two decimals (cents): a string (\"200.50\", preferred) or a JSON number whose text has at most two decimals; more precision is rejected, never rounded.")
}

func commandSchemaURL(d CommandDef) string { return SchemaBaseURL + d.SchemaFile() }

func commandSchema(fd fieldDocs, d CommandDef) *schema {
	body := reflectSchema(fd, d.DataType)
	s := newSchema().
		set("$schema", "https://json-schema.org/draft/2020-12/schema").
		set("$id", commandSchemaURL(d)).
		set("title", d.Type()).
		set("description", d.Description)
	for _, k := range body.keys {
		s.set(k, body.vals[k])
	}
	s.set("additionalProperties", false)
	return s
}

func commandEnvelopeSchema(fd fieldDocs) *schema {
	body := reflectSchema(fd, reflect.TypeFor[Command]())
	props := body.get("properties").(*schema)
	props.get("specversion").(*schema).set("const", SpecVersion)
	props.get("datacontenttype").(*schema).set("const", DataContentType)
	for _, k := range []string{"id", "source", "type", "subject", "companyid"} {
		props.get(k).(*schema).set("minLength", 1)
	}
	props.get("id").(*schema).set("maxLength", maxIDLen)
	props.get("type").(*schema).set("pattern", "^"+strings.ReplaceAll(CommandTypePrefix, ".", `\.`))
	props.get("data").(*schema).set("description", "The command's data; see the schema of its type.")
	s := newSchema().
		set("$schema", "https://json-schema.org/draft/2020-12/schema").
		set("$id", SchemaBaseURL+commandEnvelopeFile).
		set("title", "Command envelope (CloudEvents 1.0, structured mode, "+ContentType+")").
		set("description", "Every message on "+CommandStreamSubjects+" is one command: a CloudEvents 1.0 event in structured JSON mode whose id is the idempotency key.")
	for _, k := range body.keys {
		s.set(k, body.vals[k])
	}
	return s
}

// addCommandSchemas adds the command schemas to the files TestSchemas checks.
func addCommandSchemas(t *testing.T, fd fieldDocs, files map[string][]byte) {
	t.Helper()
	files[commandEnvelopeFile] = schemaJSON(t, commandEnvelopeSchema(fd))
	for _, d := range Commands() {
		files[d.SchemaFile()] = schemaJSON(t, commandSchema(fd, d))
	}
}

// exampleCommand is the whole example command of d, as published.
func exampleCommand(d CommandDef) []byte {
	subject := map[string]string{
		"assignment id":     "fa9781ba-20d1-4677-a125-f04bff7bbac0",
		"message thread id": "4af72829-0615-4d7e-89ba-5f6071829304",
		"message id":        "5b083930-1726-4e8f-9acb-60718293a415",
	}[d.SubjectIs]
	if subject == "" {
		subject = "1234567-1"
	}
	b, err := Command{ID: exampleCommandID, Source: "erp://payments", Type: d.Type(), Subject: subject,
		CompanyID: exampleCompany, CorrelationID: "erp-run-42", Data: json.RawMessage(d.Example)}.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

// TestCommandExamples: every documented example is a valid command, by
// ParseCommand and by the published schemas.
func TestCommandExamples(t *testing.T) {
	fd := loadDocs(t)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files := map[string][]byte{}
	addCommandSchemas(t, fd, files)
	for name, b := range files {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(SchemaBaseURL+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	env, err := c.Compile(SchemaBaseURL + commandEnvelopeFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Commands() {
		t.Run(d.Name, func(t *testing.T) {
			body := exampleCommand(d)
			if _, _, _, p, err := ParseCommand(body, d.Subject(exampleCompany)); err != nil || len(p) > 0 {
				t.Fatalf("example: %v %v", err, p)
			}
			sch, err := c.Compile(commandSchemaURL(d))
			if err != nil {
				t.Fatal(err)
			}
			inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
			if err := env.Validate(inst); err != nil {
				t.Errorf("envelope: %v", err)
			}
			data, _ := jsonschema.UnmarshalJSON(strings.NewReader(d.Example))
			if err := sch.Validate(data); err != nil {
				t.Errorf("data: %v", err)
			}
			if d.DataType.Kind() != reflect.Struct || d.Example == "" {
				t.Error("no example")
			}
		})
	}
	// The schema refuses what ParseCommand refuses: more than cents, a non-date.
	paid, _ := c.Compile(commandSchemaURL(CommandPaid))
	for _, bad := range []string{`{"amount":200.505,"booked_at":"2019-01-04"}`, `{"amount":"1","booked_at":"4.1.2019"}`, `{"amount":"1","booked_at":"2019-01-04","ammount":1}`} {
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if paid.Validate(inst) == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
}

func commandMessageName(d CommandDef) string {
	return "command" + messageName(TypeDef{Name: d.Name})
}

func asyncAPICommandChannels(w func(string, ...any)) {
	for _, d := range Commands() {
		w("  %s:\n", commandMessageName(d))
		w("    address: %s\n", yq(CommandSubjectRoot+".{companyId}."+d.Aggregate+"."+d.Action))
		w("    description: %s\n", yq("Command (stream "+CommandStreamName+"): "+d.Description))
		w("    parameters:\n      companyId:\n        $ref: '#/components/parameters/companyId'\n")
		w("    messages:\n      %s:\n        $ref: '#/components/messages/%s'\n", commandMessageName(d), commandMessageName(d))
	}
}

func asyncAPICommandOperations(w func(string, ...any)) {
	for _, d := range Commands() {
		w("  apply%s:\n    action: receive\n    channel:\n      $ref: '#/channels/%s'\n", commandMessageName(d), commandMessageName(d))
		w("    messages:\n      - $ref: '#/channels/%s/messages/%s'\n", commandMessageName(d), commandMessageName(d))
	}
}

func asyncAPICommandMessages(w func(string, ...any)) {
	for _, d := range Commands() {
		w("    %s:\n", commandMessageName(d))
		w("      name: %s\n", d.Type())
		w("      title: %s\n", yq(d.Name))
		w("      summary: %s\n", yq(d.Description))
		w("      contentType: %s\n", ContentType)
		w("      headers:\n        type: object\n        properties:\n          Nats-Msg-Id:\n            type: string\n            description: The command id (idempotency key).\n")
		w("      payload:\n        allOf:\n          - $ref: './schemas/%s'\n", commandEnvelopeFile)
		w("          - type: object\n            properties:\n              type:\n                const: %s\n", d.Type())
		w("              data:\n                $ref: './schemas/%s'\n", d.SchemaFile())
		w("      examples:\n        - payload: %s\n", exampleCommand(d))
	}
}

func commandsMarkdown(t testing.TB, fd fieldDocs) []byte {
	t.Helper()
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("<!-- Generated by `go test ./events -update` from events/commands*.go. Do not edit. -->\n\n")
	w("# Commands\n\n")
	w("Internal services act on Maventa through this service: they publish a command on NATS JetStream, the service applies it at Maventa **at most once** and publishes **exactly one outcome event**. No service needs its own Maventa client, token handling, rate limiting or retry rules.\n\n")
	w("**On by default** in every replica that runs the consumers (`COMMANDS_ENABLED=false` turns it off in one). `maventa-events command send` provisions the stream and record bucket itself, so commands sent while no replica applies them are kept.\n\n")
	w("## Contract\n\n")
	w("- A command is a CloudEvents 1.0 event in structured JSON mode (`%s`), published on stream `%s`, subject `%s.<company_id>.<aggregate>.<name>` (the company token passed through `SanitizeToken`, as for events). The stream keeps commands while this service is down (`COMMAND_MAX_AGE`, 7 days).\n", ContentType, CommandStreamName, CommandSubjectRoot)
	w("- The CloudEvents `id` is the **idempotency key**: publish with `Nats-Msg-Id` = `id`. The same id is applied at most once however often it is published, redelivered, handled by several replicas or replayed from the dead-letter stream (`COMMAND_RECORD_TTL`, 90 days). The same id with other content is never applied and goes to the dead-letter stream (`command_id_reused`).\n")
	w("- Extension `companyid` (required) must match the subject's company; `subject` is the command's target; extension `correlationid` (optional) is copied to the outcome event.\n")
	w("- Request/reply, for a caller that wants an immediate answer: send the same command as a NATS request to `receivables.command-requests.<company_id>.<aggregate>.<name>`; the service stores it in the stream as above and replies `{\"accepted\":true,\"id\":...,\"stream_seq\":...}`, or `accepted: false` with the `problems` found without Maventa's state. The outcome event follows either way (a stored command with problems ends in `command.rejected`).\n")
	w("- Commands of one target (company and `subject`) are applied in stream order, across replicas too; other targets run concurrently (`COMMAND_CONCURRENCY` per replica). Every replica pulls from the one consumer, so JetStream may hand a target's next command to another replica than the one applying its previous command; before a command runs, its replica finds the target's previous command in the stream and waits until that one is finished: at or below the consumer's ack floor, or at or below the target's cursor in the record bucket (`o.<hash>`, moved up before the message is acknowledged or dead-lettered). A redelivered earlier command goes before later ones in hand. Every Maventa call shares the per-host rate limit with the poller.\n\n")
	w("Envelope schema: [`schemas/%s`](schemas/%s).\n\n", commandEnvelopeFile, commandEnvelopeFile)
	w("## Outcomes\n\nExactly one of these per command id on the domain event stream (`%s.<company_id>.command.<outcome>`), with `command_id`, `command` and `command_subject` in its data, and the command's `correlationid`:\n\n", SubjectRoot)
	w("| event | meaning |\n|---|---|\n")
	for _, d := range []TypeDef{TypeCommandSucceeded, TypeCommandRejected, TypeCommandFailed, TypeCommandOutcomeUnknown} {
		w("| [`%s`](events.md#%s) | %s |\n", d.Type(), anchor(d.Type()), mdEscape(d.Description))
	}
	w("\nThe metric `maventa.commands.outcomes` counts them (attributes `outcome`, `command`).\n\n")
	w("## Never twice at Maventa\n\n")
	w("1. The command's record (KV bucket `RECEIVABLES_COMMAND_RECORDS`, key = the id) is created by compare-and-set when the command is first seen.\n")
	w("2. The target is read (the assignment, thread or service level) and the command is validated locally against the seeds' rules; any problem answers `command.rejected` with every problem, and nothing is sent.\n")
	w("3. Before the write, the record moves to `applying` (compare-and-set) with what the target held. Only the holder of that transition sends the write.\n")
	w("4. A clear answer decides `command.succeeded` or `command.failed`. An answer that may follow an applied write (timeout, connection reset after sending, 500, 502, 504) is **never resent**: the target is read back, and the write's effect (e.g. a new event of the company with this command's data) means `command.succeeded` (`read_back: true`); otherwise `command.outcome_unknown` with what was seen. Refusals that certainly did not apply (429 with Retry-After, 503, connection refused) are retried.\n")
	w("5. A record found `applying` (the service died after sending) is read back the same way once its holder's lease (`COMMAND_APPLY_LEASE`) has passed; it is never sent again.\n")
	w("6. The outcome is stored in the record before its event is published; a crash in between publishes the same event again (same id, deduplicated).\n\n")
	w("Transfers and service activations are followed after `command.succeeded` (every minute at most) until Maventa reports their end; meanwhile the command's message stays in hand (kept with `InProgress`, resumed after a restart) and later commands of the same target wait behind it.\n\n")
	w("`command.outcome_unknown` is settled by an operator who checked Maventa: `maventa-events command resolve -id ID -applied|-not-applied -by NAME`, which publishes the final `command.succeeded` or `command.failed` with `resolved_by`.\n\n")
	w("Commands that Maventa or NATS cannot take after 8 tries in place (so later commands of the same target wait behind them) go to the dead-letter stream with their reason; `maventa-events dlq replay` republishes them, and the record still prevents a second application.\n\n")
	w("## CLI\n\n```sh\nmaventa-events command send -type assignment.paid -company <company_id> -subject <assignment_id> \\\n  -data '{\"amount\":\"200.50\",\"booked_at\":\"2026-03-01\"}' -correlation-id erp-run-42   # prints the outcome\nmaventa-events command send -file paid.json      # a whole CloudEvent\nmaventa-events command status -id <id>\nmaventa-events command resolve -id <id> -not-applied -by ops@example.com -note \"not in Maventa's UI\"\n```\n\n")
	w("## Catalog\n\n| command | CloudEvents type | subject (after `<company_id>`) | `subject` attribute | Maventa call |\n|---|---|---|---|---|\n")
	for _, d := range Commands() {
		w("| [`%s`](#%s) | `%s` | `%s.%s` | %s | %s |\n", d.Name, anchor(d.Name), d.Type(), d.Aggregate, d.Action, d.SubjectIs, mdEscape(strings.SplitN(d.Maventa, " `", 2)[0]))
	}
	w("\n")
	for _, d := range Commands() {
		w("### `%s`\n\n%s\n\n", d.Name, d.Description)
		w("- CloudEvents type: `%s`\n", d.Type())
		w("- NATS subject: `%s.<company_id>.%s.%s`\n", CommandSubjectRoot, d.Aggregate, d.Action)
		w("- `subject`: %s\n", d.SubjectIs)
		w("- Maventa: %s\n", d.Maventa)
		w("- After an ambiguous answer, read back: %s\n", d.ReadBack)
		w("- Go data type: `events.%s`; schema: [`schemas/%s`](schemas/%s)\n\n", d.DataType.Name(), d.SchemaFile(), d.SchemaFile())
		if s := commandSchema(fd, d); s.get("properties") != nil && len(s.get("properties").(*schema).keys) > 0 {
			w("| field | type | required | description |\n|---|---|---|---|\n")
			fieldTable(&b, s, "")
			w("\n")
		} else {
			w("No data (send `{}`).\n\n")
		}
		ex := exampleCommand(d)
		w("Example (every command needs its own `id`):\n\n```sh\nnats pub %s '%s' -H 'Nats-Msg-Id:%s'\n```\n\n", d.Subject(exampleCompany), ex, exampleCommandID)
	}
	w("## Assumptions\n\n")
	w("Maventa shows request bodies only for `paid` and `freeze` (seed 003) and lists the fields of the Perintä v2 transfer (seed 002). The other field names (`credit_note_number`/`sum` of `credit_note`, `comment` of `comment`, `due_date` of `due_date_change_request`, `message` of messages, `flagged` of a thread, `service_level` of a service level) are assumptions kept in one place (`maventa/eventtypes.go`, `maventa/receivables.go`), the same the sandbox accepts.\n")
	return b.Bytes()
}
