package handlers

import "testing"

// FuzzParsePositions: Last-Event-ID comes from clients; any input is either
// refused or names exactly the chain's environments with valid stream ids,
// and then formats back to itself.
func FuzzParsePositions(f *testing.F) {
	chain := []string{"qa", "staging"}
	f.Add("qa:1700000000000-0,staging:1699999999999-3")
	f.Add("qa:0-0")
	f.Add("")
	f.Add("qa:1-1,staging:x-1")
	f.Fuzz(func(t *testing.T, s string) {
		pos, ok := parsePositions(chain, s)
		if !ok {
			return
		}
		if len(pos) != len(chain) {
			t.Fatalf("%q accepted with %d positions", s, len(pos))
		}
		again, ok := parsePositions(chain, formatPositions(chain, pos))
		if !ok {
			t.Fatalf("%q: its own format is refused", s)
		}
		for _, env := range chain {
			if again[env] != pos[env] || streamIDLess(pos[env], pos[env]) {
				t.Fatalf("%q: %s does not round-trip", s, env)
			}
		}
	})
}
