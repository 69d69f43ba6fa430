package events

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// This file derives a JSON Schema (2020-12) from each registered Go data type by
// reflection, with descriptions from the Go doc comments, writes them to
// docs/schemas/ (under -update), and validates every golden example against its
// schema.

const docsDir = "../docs"

// EnvelopeSchemaFile is the schema of the CloudEvent envelope (Event).
const envelopeSchemaFile = "cloudevent.v1.json"

// Schema is a JSON Schema as an ordered document: keys are written in insertion
// order so the generated files are stable and readable.
type schema struct {
	keys []string
	vals map[string]any
}

func newSchema() *schema { return &schema{vals: map[string]any{}} }

func (s *schema) set(k string, v any) *schema {
	if _, ok := s.vals[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.vals[k] = v
	return s
}

func (s *schema) get(k string) any { return s.vals[k] }

func (s *schema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s.vals[k]); err != nil {
			return nil, err
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fieldDocs maps "Type.Field" to the field's doc comment, from the package source;
// typeBase maps a defined type ("type InvoiceDeliveryConfirmed InvoiceDelivered")
// to the struct type whose fields it has.
type fieldDocs struct {
	field    map[string]string
	typeBase map[string]string
	typeDoc  map[string]string
}

func loadDocs(t testing.TB) fieldDocs {
	t.Helper()
	fd := fieldDocs{field: map[string]string{}, typeBase: map[string]string{}, typeDoc: map[string]string{}}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range af.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil {
					doc = gd.Doc
				}
				if doc != nil {
					fd.typeDoc[ts.Name.Name] = oneLine(doc.Text())
				}
				switch x := ts.Type.(type) {
				case *ast.Ident:
					fd.typeBase[ts.Name.Name] = x.Name
				case *ast.StructType:
					prev := ""
					for _, fl := range x.Fields.List {
						for _, n := range fl.Names {
							switch {
							case fl.Doc != nil:
								prev = oneLine(fl.Doc.Text())
								fd.field[ts.Name.Name+"."+n.Name] = prev
							case strings.Contains(prev, " and "+n.Name+" "):
								// "// A and B are ..." documents the next field too.
								fd.field[ts.Name.Name+"."+n.Name] = prev
							}
						}
					}
				}
			}
		}
	}
	return fd
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (fd fieldDocs) doc(typeName, field string) string {
	for i := 0; i < 5 && typeName != ""; i++ {
		if d, ok := fd.field[typeName+"."+field]; ok {
			return d
		}
		typeName = fd.typeBase[typeName]
	}
	return ""
}

var (
	decimalType   = reflect.TypeFor[Decimal]()
	dateType      = reflect.TypeFor[Date]()
	timestampType = reflect.TypeFor[Timestamp]()
	timeType      = reflect.TypeFor[time.Time]()
	rawType       = reflect.TypeFor[json.RawMessage]()
)

const (
	decimalPattern   = `^-?[0-9]+(\.[0-9]+)?$`
	datePattern      = `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`
	timestampPattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$`
)

// reflectSchema returns the schema of values of type t.
func reflectSchema(fd fieldDocs, t reflect.Type) *schema {
	s := newSchema()
	switch t {
	case decimalType:
		return s.set("type", "string").set("pattern", decimalPattern).
			set("description", "Exact decimal amount as a string (never a binary float), e.g. \"12.30\".")
	case dateType:
		return s.set("type", "string").set("format", "date").set("pattern", datePattern)
	case timestampType, timeType:
		return s.set("type", "string").set("format", "date-time").set("pattern", timestampPattern)
	case rawType:
		return s.set("description", "JSON exactly as Maventa sent it.")
	case amountType, commandDateType:
		return commandFieldSchema(t)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return reflectSchema(fd, t.Elem())
	case reflect.String:
		return s.set("type", "string")
	case reflect.Bool:
		return s.set("type", "boolean")
	case reflect.Int, reflect.Int64, reflect.Int32:
		return s.set("type", "integer")
	case reflect.Slice:
		return s.set("type", "array").set("items", reflectSchema(fd, t.Elem()))
	case reflect.Struct:
		props := newSchema()
		var required []string
		addStructFields(fd, t, props, &required)
		s.set("type", "object").set("properties", props)
		if len(required) > 0 {
			s.set("required", required)
		}
		return s
	}
	panic("schema: unsupported type " + t.String())
}

func addStructFields(fd fieldDocs, t reflect.Type, props *schema, required *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			addStructFields(fd, f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		ps := reflectSchema(fd, f.Type)
		if enum := f.Tag.Get("enum"); enum != "" {
			ps.set("enum", strings.Split(enum, ","))
		}
		if d := fd.doc(t.Name(), f.Name); d != "" && ps.get("description") == nil {
			ps.set("description", d)
		}
		props.set(name, ps)
		optional := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		if !optional {
			*required = append(*required, name)
		}
	}
}

// dataSchema is the published schema of a type's data.
func dataSchema(fd fieldDocs, d TypeDef) *schema {
	body := reflectSchema(fd, d.DataType)
	s := newSchema().
		set("$schema", "https://json-schema.org/draft/2020-12/schema").
		set("$id", d.SchemaURL()).
		set("title", d.Type()).
		set("description", d.Description)
	for _, k := range body.keys {
		s.set(k, body.vals[k])
	}
	return s
}

// envelopeSchema is the published schema of the CloudEvent envelope.
func envelopeSchema(fd fieldDocs) *schema {
	body := reflectSchema(fd, reflect.TypeFor[Event]())
	props := body.get("properties").(*schema)
	props.get("specversion").(*schema).set("const", SpecVersion)
	props.get("datacontenttype").(*schema).set("const", DataContentType)
	for _, k := range []string{"id", "source", "type", "companyid"} {
		props.get(k).(*schema).set("minLength", 1)
	}
	props.get("type").(*schema).set("pattern", "^"+strings.ReplaceAll(TypePrefix, ".", `\.`))
	props.get("time").(*schema).set("description", "When the fact happened at Maventa (UTC).")
	props.get("data").(*schema).set("description", "The type's data; see the schema named by dataschema.")
	s := newSchema().
		set("$schema", "https://json-schema.org/draft/2020-12/schema").
		set("$id", SchemaBaseURL+envelopeSchemaFile).
		set("title", "CloudEvent envelope (structured mode, "+ContentType+")").
		set("description", "Every message published on "+StreamSubjects+" is one CloudEvents 1.0 event in structured JSON mode.")
	for _, k := range body.keys {
		s.set(k, body.vals[k])
	}
	return s
}

func schemaJSON(t testing.TB, s *schema) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// TestSchemas: docs/schemas/ is what the Go types say, and every golden example
// (envelope and data) is valid against its schema.
func TestSchemas(t *testing.T) {
	fd := loadDocs(t)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files := map[string][]byte{envelopeSchemaFile: schemaJSON(t, envelopeSchema(fd))}
	for _, d := range Types() {
		files[d.SchemaFile()] = schemaJSON(t, dataSchema(fd, d))
	}
	addCommandSchemas(t, fd, files)
	for name, b := range files {
		checkFile(t, filepath.Join(docsDir, "schemas", name), b)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(SchemaBaseURL+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	// No schema file without a type.
	on, _ := filepath.Glob(filepath.Join(docsDir, "schemas", "*.json"))
	for _, f := range on {
		if _, ok := files[filepath.Base(f)]; !ok && !*update {
			t.Errorf("%s belongs to no registered type", f)
		}
	}
	env, err := c.Compile(SchemaBaseURL + envelopeSchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Types() {
		t.Run(d.Name, func(t *testing.T) {
			sch, err := c.Compile(d.SchemaURL())
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(goldenPath(d))
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(golden))
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Validate(inst); err != nil {
				t.Errorf("golden envelope invalid: %v", err)
			}
			var e Event
			if err := json.Unmarshal(golden, &e); err != nil {
				t.Fatal(err)
			}
			if e.DataSchema != d.SchemaURL() {
				t.Errorf("dataschema %q, want %q", e.DataSchema, d.SchemaURL())
			}
			data, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.Data))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(data); err != nil {
				t.Errorf("golden data invalid against %s: %v", d.SchemaFile(), err)
			}
			// Strictness: the example has no field its schema does not describe.
			props := dataSchema(fd, d).get("properties").(*schema)
			var m map[string]json.RawMessage
			if err := json.Unmarshal(e.Data, &m); err != nil {
				t.Fatal(err)
			}
			var extra []string
			for k := range m {
				if props.get(k) == nil {
					extra = append(extra, k)
				}
			}
			sort.Strings(extra)
			if len(extra) > 0 {
				t.Errorf("data fields not in the schema: %v", extra)
			}
		})
	}
}

// TestSchemaRejectsFloatMoney: the schemas hold money to exact decimal strings.
func TestSchemaRejectsFloatMoney(t *testing.T) {
	fd := loadDocs(t)
	b := schemaJSON(t, dataSchema(fd, TypeAssignmentPaid))
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(TypeAssignmentPaid.SchemaURL(), doc); err != nil {
		t.Fatal(err)
	}
	sch := c.MustCompile(TypeAssignmentPaid.SchemaURL())
	for name, amount := range map[string]any{"JSON number": 200.5, "exponent": "1e2", "comma": "200,5"} {
		t.Run(name, func(t *testing.T) {
			v := map[string]any{"amount": amount, "currency": "EUR", "credit_note_used": false,
				"assignment_id": "a", "maventa_event_id": "e", "event_type": "paid", "party": "agency",
				"created_at": "2020-04-15T21:01:18Z", "raw": map[string]any{}}
			if err := sch.Validate(v); err == nil {
				t.Errorf("amount %v accepted", amount)
			}
		})
	}
}
