package store

import "testing"

// FuzzParseAuditCursor: cursors come from the query string; any input either
// fails with a field error or round-trips exactly.
func FuzzParseAuditCursor(f *testing.F) {
	f.Add(auditPos{id: streamID{ms: 1700000000000, seq: 3}, shard: "iam"}.cursor())
	f.Add("")
	f.Add("aWFtLzEtMg")
	f.Fuzz(func(t *testing.T, c string) {
		p, err := parseAuditCursor(c)
		if err != nil {
			if fieldOf(err) != "cursor" {
				t.Fatalf("error without the cursor field: %v", err)
			}
			return
		}
		q, err := parseAuditCursor(p.cursor())
		if err != nil || q != p {
			t.Fatalf("cursor %q parsed to %+v, which does not round-trip (%+v, %v)", c, p, q, err)
		}
	})
}

func fieldOf(err error) string {
	if ve, ok := err.(*ValidationError); ok {
		for f := range ve.Fields {
			return f
		}
	}
	return ""
}
