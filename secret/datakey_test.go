package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
)

// leaks reports whether s contains the key material in any common rendering.
func leaks(s string, key []byte) string {
	forms := map[string]string{
		"hex":        hex.EncodeToString(key),
		"HEX":        strings.ToUpper(hex.EncodeToString(key)),
		"base64":     base64.StdEncoding.EncodeToString(key),
		"base64url":  base64.RawURLEncoding.EncodeToString(key),
		"decimal":    strings.Trim(fmt.Sprint(key), "[]"),
		"go literal": strings.Trim(fmt.Sprintf("%#v", key), "[]byte{}"),
		"raw":        string(key),
	}
	for name, f := range forms {
		if strings.Contains(s, f) {
			return name
		}
	}
	return ""
}

func TestDataKeyIsRedacted(t *testing.T) {
	dk := testKey("kredact", 100)
	type holder struct {
		Name string
		Key  DataKey
		Ptr  *DataKey
		All  []DataKey
		ByID map[string]DataKey
	}
	h := holder{Name: "h", Key: dk, Ptr: &dk, All: []DataKey{dk}, ByID: map[string]DataKey{dk.ID: dk}}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
		outputs["value "+verb] = fmt.Sprintf(verb, dk)
		outputs["pointer "+verb] = fmt.Sprintf(verb, &dk)
		outputs["holder "+verb] = fmt.Sprintf(verb, h)
	}
	outputs["Sprint"] = fmt.Sprint(dk, &dk)
	outputs["Sprintln"] = fmt.Sprintln(dk)
	outputs["error wrap"] = fmt.Errorf("loading %v: %w", dk, errors.New("x")).Error()
	j, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(j)
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("key", "dk", dk, "holder", h)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("key", "dk", dk, "ptr", &dk)
	outputs["slog text"] = text.String()
	outputs["slog json"] = js.String()

	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if form := leaks(out, dk.Key); form != "" {
				t.Fatalf("output leaks the key as %s: %s", form, out)
			}
			if !strings.Contains(out, "kredact") {
				t.Fatalf("output lost the key id: %s", out)
			}
		})
	}
	if got := dk.String(); !regexp.MustCompile(`^DataKey\{ID: "kredact", Created: 2025-01-02T03:04:05Z, Key: \[redacted\]\}$`).MatchString(got) {
		t.Fatalf("String = %s", got)
	}
	if got := fmt.Sprintf("%#v", dk); !strings.HasPrefix(got, "secret.DataKey{") {
		t.Fatalf("GoString = %s", got)
	}
}

func TestWrapUnwrap(t *testing.T) {
	kek := testKey("kek", 200).Key
	otherKEK := testKey("kek", 201).Key
	dk := testKey("kdata1", 50)
	wrapped, err := Wrap(kek, dk)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^v1:[A-Za-z0-9+/]+=*$`).MatchString(wrapped) {
		t.Fatalf("wrapped %q has the wrong format", wrapped)
	}
	if form := leaks(wrapped, dk.Key); form != "" {
		t.Fatalf("wrapped text leaks the key as %s", form)
	}
	again, err := Wrap(kek, dk)
	if err != nil || again == wrapped {
		t.Fatalf("second Wrap = %q, %v; want a different text (fresh nonce)", again, err)
	}
	got, err := Unwrap(kek, "kdata1", wrapped)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "kdata1" || !bytes.Equal(got.Key, dk.Key) || !got.Created.IsZero() {
		t.Fatalf("Unwrap = %v (key equal: %v)", got, bytes.Equal(got.Key, dk.Key))
	}

	payload, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(wrapped, "v1:"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("every byte flipped", func(t *testing.T) {
		for i := range payload {
			p := bytes.Clone(payload)
			p[i] ^= 0x80
			if _, err := Unwrap(kek, "kdata1", "v1:"+base64.StdEncoding.EncodeToString(p)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d flipped: err = %v", i, err)
			}
		}
	})

	tests := []struct {
		name    string
		kek     []byte
		id      string
		wrapped string
		corrupt bool
	}{
		{"wrong master key", otherKEK, "kdata1", wrapped, true},
		{"wrong id", kek, "kdata2", wrapped, true},
		{"other format", kek, "kdata1", "v2" + wrapped[2:], true},
		{"no prefix", kek, "kdata1", wrapped[3:], true},
		{"not base64", kek, "kdata1", "v1:!!!!", true},
		{"non-canonical base64", kek, "kdata1", wrapped[:3] + "\n" + wrapped[3:], true},
		{"too short", kek, "kdata1", "v1:" + base64.StdEncoding.EncodeToString(payload[:20]), true},
		{"empty", kek, "kdata1", "", true},
		{"short master key", kek[:16], "kdata1", wrapped, false},
		{"invalid id", kek, "k:1", wrapped, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Unwrap(tt.kek, tt.id, tt.wrapped)
			if err == nil {
				t.Fatalf("Unwrap succeeded: %v", got)
			}
			if errors.Is(err, ErrCorrupt) != tt.corrupt {
				t.Fatalf("err = %v; want ErrCorrupt: %v", err, tt.corrupt)
			}
			if form := leaks(err.Error(), dk.Key); form != "" {
				t.Fatalf("error leaks the data key as %s", form)
			}
			if form := leaks(err.Error(), kek); form != "" {
				t.Fatalf("error leaks the master key as %s", form)
			}
		})
	}

	t.Run("Wrap refuses bad input", func(t *testing.T) {
		if _, err := Wrap(kek[:31], dk); err == nil {
			t.Fatal("short master key accepted")
		}
		if _, err := Wrap(kek, DataKey{ID: "k1", Key: make([]byte, 31)}); err == nil {
			t.Fatal("short data key accepted")
		}
		if _, err := Wrap(kek, DataKey{ID: "k:1", Key: dk.Key}); err == nil {
			t.Fatal("invalid id accepted")
		}
	})
}
