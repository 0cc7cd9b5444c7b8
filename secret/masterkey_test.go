package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// envKey has bytes that make the standard and URL base64 alphabets differ.
func envKey() []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = 0xfb ^ byte(i*13)
	}
	return k
}

func TestLoadMasterKeyFromEnv(t *testing.T) {
	key := envKey()
	if base64.StdEncoding.EncodeToString(key) == base64.URLEncoding.EncodeToString(key) {
		t.Fatal("test key does not exercise both base64 alphabets")
	}
	dir := t.TempDir()
	good := map[string]string{
		"base64 std padded":   base64.StdEncoding.EncodeToString(key),
		"base64 std raw":      base64.RawStdEncoding.EncodeToString(key),
		"base64 url padded":   base64.URLEncoding.EncodeToString(key),
		"base64 url raw":      base64.RawURLEncoding.EncodeToString(key),
		"hex lower":           hex.EncodeToString(key),
		"hex upper":           strings.ToUpper(hex.EncodeToString(key)),
		"surrounding newline": "\n" + base64.StdEncoding.EncodeToString(key) + "\n",
	}
	for name, v := range good {
		t.Run(name, func(t *testing.T) {
			got, source, err := LoadMasterKey(v, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key) || source != "KEEL_MASTER_KEY" {
				t.Fatalf("got %x from %q", got, source)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !os.IsNotExist(err) {
		t.Fatalf("a key from the environment must not create a key file (stat: %v)", err)
	}

	const marker = "SuperSecretMarker"
	bad := map[string]string{
		"31 bytes":        base64.StdEncoding.EncodeToString(key[:31]),
		"33 bytes":        base64.StdEncoding.EncodeToString(append(key, 1)),
		"hex 31 bytes":    hex.EncodeToString(key[:31]),
		"hex with a typo": "zz" + hex.EncodeToString(key)[2:],
		"text":            marker + marker + marker,
		"inner space":     base64.StdEncoding.EncodeToString(key)[:20] + " " + base64.StdEncoding.EncodeToString(key)[20:] + marker,
	}
	for name, v := range bad {
		t.Run("refuses "+name, func(t *testing.T) {
			got, _, err := LoadMasterKey(v, dir)
			if err == nil {
				t.Fatalf("accepted %q as %x", v, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, "KEEL_MASTER_KEY") || !strings.Contains(msg, "base64 or hex") {
				t.Fatalf("unclear error: %s", msg)
			}
			if strings.Contains(msg, marker) || strings.Contains(msg, strings.TrimSpace(v)) {
				t.Fatalf("error repeats the value: %s", msg)
			}
		})
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	t.Run("created then reused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data", "nested")
		path := filepath.Join(dir, "master.key")
		key, source, err := LoadMasterKey("", dir)
		if err != nil {
			t.Fatal(err)
		}
		if source != "file:"+path+" (created)" || len(key) != KeySize {
			t.Fatalf("source %q, key length %d", source, len(key))
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("key file mode %04o, want 0600", st.Mode().Perm())
		}
		dst, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if dst.Mode().Perm()&0o077 != 0 {
			t.Fatalf("data dir mode %04o is open to group or others", dst.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != base64.StdEncoding.EncodeToString(key)+"\n" {
			t.Fatalf("file holds %q", data)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("data dir holds %d entries, want only master.key", len(entries))
		}

		again, source, err := LoadMasterKey("", dir)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, key) || source != "file:"+path {
			t.Fatalf("second load: source %q, same key %v", source, bytes.Equal(again, key))
		}
	})

	t.Run("environment wins over the file", func(t *testing.T) {
		dir := t.TempDir()
		if _, _, err := LoadMasterKey("", dir); err != nil {
			t.Fatal(err)
		}
		got, source, err := LoadMasterKey(hex.EncodeToString(envKey()), dir)
		if err != nil || source != "KEEL_MASTER_KEY" || !bytes.Equal(got, envKey()) {
			t.Fatalf("got source %q, err %v", source, err)
		}
	})

	t.Run("file forms", func(t *testing.T) {
		key := envKey()
		for name, content := range map[string]string{
			"no newline":  base64.StdEncoding.EncodeToString(key),
			"crlf":        base64.StdEncoding.EncodeToString(key) + "\r\n",
			"url raw":     base64.RawURLEncoding.EncodeToString(key) + "\n",
			"hex":         hex.EncodeToString(key) + "\n",
			"blank lines": "\n\n" + base64.StdEncoding.EncodeToString(key) + "\n\n",
		} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
				got, _, err := LoadMasterKey("", dir)
				if err != nil || !bytes.Equal(got, key) {
					t.Fatalf("got %x, %v", got, err)
				}
			})
		}
	})

	t.Run("refuses", func(t *testing.T) {
		valid := base64.StdEncoding.EncodeToString(envKey()) + "\n"
		tests := []struct {
			name    string
			content string
			mode    os.FileMode
			want    []string
		}{
			{"group readable", valid, 0o640, []string{"group or others", "chmod 600", "master.key"}},
			{"world readable", valid, 0o604, []string{"group or others", "chmod 600", "0604"}},
			{"group writable", valid, 0o620, []string{"chmod 600"}},
			{"garbage", "not a key\n", 0o600, []string{"malformed", "master.key", "base64"}},
			{"empty", "", 0o600, []string{"malformed"}},
			{"short", base64.StdEncoding.EncodeToString(envKey()[:16]), 0o600, []string{"malformed"}},
			{"two keys", valid + valid, 0o600, []string{"malformed"}},
			{"huge", strings.Repeat("A", 10000), 0o600, []string{"malformed"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "master.key")
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
				key, _, err := LoadMasterKey("", dir)
				if err == nil {
					t.Fatalf("accepted, key %x", key)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Fatalf("error %q does not mention %q", err, w)
					}
				}
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("error %q does not name the file", err)
				}
				if tt.content != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.content)) {
					t.Fatalf("error repeats the file content: %s", err)
				}
				if got, _ := os.ReadFile(path); string(got) != tt.content {
					t.Fatal("the existing file was changed")
				}
			})
		}
	})

	t.Run("refuses a directory in place of the file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "master.key"), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadMasterKey("", dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("no environment and no data dir", func(t *testing.T) {
		_, _, err := LoadMasterKey("  ", "")
		if err == nil || !strings.Contains(err.Error(), "KEEL_MASTER_KEY") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("data dir cannot be created", func(t *testing.T) {
		parent := t.TempDir()
		blocker := filepath.Join(parent, "file")
		if err := os.WriteFile(blocker, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := LoadMasterKey("", filepath.Join(blocker, "data")); err == nil {
			t.Fatal("created a key under a regular file")
		}
	})

	t.Run("concurrent first start agrees on one key", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		const n = 12
		keys := make([][]byte, n)
		sources := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				keys[i], sources[i], errs[i] = LoadMasterKey("", dir)
			}()
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("goroutine %d: %v", i, errs[i])
			}
			if !bytes.Equal(keys[i], keys[0]) {
				t.Fatalf("goroutine %d got a different key", i)
			}
			if strings.HasSuffix(sources[i], " (created)") {
				created++
			}
		}
		if created != 1 {
			t.Fatalf("%d goroutines report creating the key, want 1", created)
		}
	})
}
