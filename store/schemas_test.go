package store

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/keelhq/keel/config"
)

func mustPutSchema(t *testing.T, s *Store, pattern, doc string, version int64) ConfigSchema {
	t.Helper()
	cs, err := s.PutSchema(bg, testAdmin, pattern, []byte(doc), version)
	if err != nil {
		t.Fatalf("PutSchema(%s): %v", pattern, err)
	}
	return cs
}

func valueError(t *testing.T, err error, field string) string {
	t.Helper()
	wantField(t, err, field)
	var v *ValidationError
	errors.As(err, &v)
	return v.Fields[field]
}

func TestPutSchema(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		for _, tc := range []struct {
			name, pattern, doc, field string
		}{
			{"bad pattern", "db host", `{"type":"string"}`, "pattern"},
			{"empty pattern", "", `{"type":"string"}`, "pattern"},
			{"not json", "db.*", `{"type":`, "schema"},
			{"bad keyword value", "db.*", `{"type":"strin"}`, "schema"},
			{"remote ref", "db.*", `{"$ref":"https://example.com/s.json"}`, "schema"},
			{"no document", "db.*", ``, "schema"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.PutSchema(bg, testAdmin, tc.pattern, []byte(tc.doc), 0)
				wantField(t, err, tc.field)
			})
		}
		cs := mustPutSchema(t, s, "db.*", `{"type":"object"}`, 0)
		if cs.Version != 1 || cs.UpdatedBy != "root" || !cs.UpdatedAt.Equal(baseTime) || string(cs.Doc) != `{"type":"object"}` {
			t.Fatalf("PutSchema = %+v", cs)
		}
		_, err := s.PutSchema(bg, testAdmin, "db.*", []byte(`{}`), 0)
		wantErr(t, err, ErrConflict)
		cs = mustPutSchema(t, s, "db.*", `{"type":["object","array"]}`, 1)
		if cs.Version != 2 {
			t.Fatalf("version = %d", cs.Version)
		}
		_, err = s.PutSchema(bg, testAdmin, "db.*", []byte(`{}`), 1)
		wantErr(t, err, ErrConflict)
		_, err = s.PutSchema(bg, testAdmin, "cache.*", []byte(`{}`), 3)
		wantErr(t, err, ErrConflict)
		mustPutSchema(t, s, "api.url", `{"type":"string","format":"uri"}`, 0)

		list, err := s.ListSchemas(bg)
		if err != nil || len(list) != 2 || list[0].Pattern != "api.url" || list[1].Pattern != "db.*" || list[1].Version != 2 {
			t.Fatalf("ListSchemas = %+v, %v", list, err)
		}
		if got, err := s.GetSchema(bg, "db.*"); err != nil || got.Version != 2 {
			t.Fatalf("GetSchema = %+v, %v", got, err)
		}

		wantErr(t, s.DeleteSchema(bg, testAdmin, "db.*", 1), ErrConflict)
		if err := s.DeleteSchema(bg, testAdmin, "db.*", 2); err != nil {
			t.Fatal(err)
		}
		wantErr(t, s.DeleteSchema(bg, testAdmin, "db.*", 0), ErrNotFound)
		_, err = s.GetSchema(bg, "db.*")
		wantErr(t, err, ErrNotFound)

		var acts []string
		for _, e := range auditEntries(t, s, AuditQuery{ActionPrefix: "schema."}) {
			acts = append(acts, e.Action+" "+e.Target)
		}
		if !slices.Equal(acts, []string{"schema.delete db.*", "schema.put api.url", "schema.put db.*", "schema.put db.*"}) {
			t.Fatalf("audit = %v", acts)
		}
	})
}

func TestSchemaValidatesWrites(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustPutSchema(t, s, "db.*", `{"type":"object","properties":{"port":{"type":"integer","minimum":1,"maximum":65535}},"required":["port"],"additionalProperties":false}`, 0)
		mustPutSchema(t, s, "db.port", `{"type":"number","minimum":1024}`, 0)
		mustPutSchema(t, s, "api.*", `{"type":"string","minLength":12}`, 0)

		// The exact key beats the glob.
		if sch, _, err := s.SchemaFor(bg, "db.port"); err != nil || sch.Pattern != "db.port" {
			t.Fatalf("SchemaFor(db.port) = %+v, %v", sch, err)
		}
		if sch, compiled, err := s.SchemaFor(bg, "db.pool.conf"); err != nil || sch.Pattern != "db.*" || compiled == nil {
			t.Fatalf("SchemaFor(db.pool.conf) = %+v, %v", sch, err)
		}
		if sch, compiled, err := s.SchemaFor(bg, "web.port"); sch != nil || compiled != nil || err != nil {
			t.Fatalf("SchemaFor(web.port) = %+v, %v, %v", sch, compiled, err)
		}

		_, err := s.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "db.port", Type: config.TypeNumber, Value: "80"})
		if msg := valueError(t, err, "value"); !strings.HasPrefix(msg, "minimum: ") {
			t.Fatalf("db.port=80: %q", msg)
		}
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.port", Type: config.TypeNumber, Value: "5432"})

		_, err = s.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "db.main", Type: config.TypeJSON, Value: `{"port":0,"extra":true}`})
		// Several violations are joined, by pointer.
		if msg := valueError(t, err, "value"); !strings.HasPrefix(msg, "/extra: additionalProperties: ") || !strings.Contains(msg, "; /port: minimum: ") {
			t.Fatalf("db.main: %q", msg)
		}
		_, err = s.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "db.main", Type: config.TypeJSON, Value: `{"port":1.5}`})
		if msg := valueError(t, err, "value"); !strings.HasPrefix(msg, "/port: type: ") {
			t.Fatalf("db.main: %q", msg)
		}
		_, err = s.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "db.main", Type: config.TypeJSON, Value: `{}`})
		if msg := valueError(t, err, "value"); !strings.Contains(msg, "/port: required: ") {
			t.Fatalf("db.main: %q", msg)
		}
		// A violation of the value itself has no pointer.
		_, err = s.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "db.main", Type: config.TypeString, Value: "x"})
		if msg := valueError(t, err, "value"); !strings.HasPrefix(msg, "type: ") {
			t.Fatalf("db.main string: %q", msg)
		}
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.main", Type: config.TypeJSON, Value: `{"port":5432}`})

		// In a batch the field names the key.
		_, err = s.ApplyConfigs(bg, testAdmin, "dev", "import", []ConfigWrite{
			{Key: "db.replica", Type: config.TypeJSON, Value: `{"port":70000}`},
			{Key: "web.port", Type: config.TypeNumber, Value: "8080"},
		})
		if msg := valueError(t, err, "db.replica: value"); !strings.HasPrefix(msg, "/port: maximum: ") {
			t.Fatalf("batch: %q", msg)
		}

		// Secrets are checked before sealing; the message never quotes them.
		_, err = s.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "api.key", Type: config.TypeSecret, Value: "zq9xw"})
		if msg := valueError(t, err, "value"); !strings.HasPrefix(msg, "minLength: ") || strings.Contains(msg, "zq9xw") {
			t.Fatalf("secret: %q", msg)
		}
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "api.key", Type: config.TypeSecret, Value: "zq9xw-long-enough"})

		// A schema changed by another process is seen at once.
		other := New(s.rdb, WithPrefix(s.prefix), WithSealer(s.sealer))
		if _, err := other.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "api.name", Type: config.TypeString, Value: "short"}); err == nil {
			t.Fatal("the other store ignored the schema")
		}
		mustPutSchema(t, s, "api.*", `{"type":"string"}`, 1)
		if _, err := other.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "api.name", Type: config.TypeString, Value: "short"}); err != nil {
			t.Fatalf("the other store kept the old schema: %v", err)
		}
		if err := s.DeleteSchema(bg, testAdmin, "db.port", 0); err != nil {
			t.Fatal(err)
		}
		// db.port now falls under db.* and its number breaks it.
		_, err = other.SetConfig(bg, testAdmin, "dev", ConfigWrite{Key: "db.port", Type: config.TypeNumber, Value: "5433", Version: 1})
		wantField(t, err, "value")
	})
}

func TestSchemaImpact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		configStore(t, s)
		mustSetConfig(t, s, "dev", ConfigWrite{Key: "db.main", Type: config.TypeJSON, Value: `{"port":5432}`})
		mustSetConfig(t, s, "prod", ConfigWrite{Key: "db.main", Type: config.TypeJSON, Value: `{"port":70000}`})
		mustSetConfig(t, s, "prod", ConfigWrite{Key: "db.port", Type: config.TypeNumber, Value: "1"})
		mustSetConfig(t, s, "prod", ConfigWrite{Key: "db.password", Type: config.TypeSecret, Value: "qz7"})
		mustSetConfig(t, s, "prod", ConfigWrite{Key: "web.port", Type: config.TypeString, Value: "x"})
		// db.port is governed by its own, more specific schema.
		mustPutSchema(t, s, "db.port", `{"type":"number"}`, 0)

		doc := []byte(`{"if":{"type":"object"},"then":{"properties":{"port":{"maximum":65535}}},"else":{"type":"string","minLength":8}}`)
		breaks, err := s.SchemaImpact(bg, "db.*", doc, []string{"dev", "prod"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range breaks {
			for _, v := range b.Violations {
				got = append(got, b.Env+" "+b.Key+" "+v.String())
				if strings.Contains(v.Message, "qz7") {
					t.Fatalf("a violation quotes the secret: %q", v.Message)
				}
			}
		}
		if len(got) != 2 || !strings.HasPrefix(got[0], "prod db.main /port: maximum: ") || !strings.HasPrefix(got[1], "prod db.password minLength: ") {
			t.Fatalf("impact = %q", got)
		}
		// Replacing the exact schema itself considers only its key.
		breaks, err = s.SchemaImpact(bg, "db.port", []byte(`{"minimum":1024}`), []string{"dev", "prod"})
		if err != nil || len(breaks) != 1 || breaks[0].Key != "db.port" {
			t.Fatalf("impact of db.port = %+v, %v", breaks, err)
		}
		_, err = s.SchemaImpact(bg, "db.*", []byte(`{"type":1}`), []string{"dev"})
		wantField(t, err, "schema")
	})
}
