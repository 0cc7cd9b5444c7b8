package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyEnv is the environment variable that carries the master key.
const MasterKeyEnv = "KEEL_MASTER_KEY"

// MasterKeyFile is the name of the key file inside the data directory.
const MasterKeyFile = "master.key"

// maxKeyFileSize bounds what LoadMasterKey reads from the key file.
const maxKeyFileSize = 4096

// LoadMasterKey returns the 32-byte master key and where it came from.
//
// A non-empty envValue (the value of KEEL_MASTER_KEY) wins: 32 bytes as
// base64 (standard or URL alphabet, padded or not) or as 64 hex digits;
// source is "KEEL_MASTER_KEY". Otherwise the key is read from
// <dataDir>/master.key (base64 text; source "file:<path>"). When that file
// does not exist, the directory is created (0700) if needed and the file is
// created with 32 random bytes, mode 0600 (source "file:<path> (created)").
// A key file that group or others may access is refused.
func LoadMasterKey(envValue, dataDir string) (key []byte, source string, err error) {
	if v := strings.TrimSpace(envValue); v != "" {
		key, ok := decodeKey(v)
		if !ok {
			return nil, "", fmt.Errorf("%s must be %d bytes encoded as base64 or hex (%d characters given); generate one with `openssl rand -base64 32`", MasterKeyEnv, KeySize, len(v))
		}
		return key, MasterKeyEnv, nil
	}
	if dataDir == "" {
		return nil, "", fmt.Errorf("no master key: set %s or configure a data directory to hold %s", MasterKeyEnv, MasterKeyFile)
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	key, err = readKeyFile(path)
	if err == nil {
		return key, "file:" + path, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	key, created, err := createKeyFile(dataDir, path)
	if err != nil {
		return nil, "", err
	}
	if !created { // another process created it first
		return key, "file:" + path, nil
	}
	return key, "file:" + path + " (created)", nil
}

// decodeKey accepts 32 bytes as hex or as any base64 variant.
func decodeKey(s string) ([]byte, bool) {
	if len(s) == hex.EncodedLen(KeySize) {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, true
		}
	}
	return nil, false
}

// readKeyFile reads an existing key file; a missing file is fs.ErrNotExist.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("reading the master key file %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading the master key file %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("the master key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("the master key file %s is accessible by group or others (mode %04o); restrict it with `chmod 600 %s`", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the master key file %s: %w", path, err)
	}
	key, ok := decodeKey(strings.TrimSpace(string(data)))
	if len(data) > maxKeyFileSize || !ok {
		return nil, fmt.Errorf("the master key file %s is malformed: it must hold %d bytes as base64 on one line", path, KeySize)
	}
	return key, nil
}

// createKeyFile writes a new random key to path. The key is written to a
// temporary file (O_EXCL, 0600), synced, then hard-linked into place, which
// fails if path exists: a concurrent reader never sees a half-written file,
// and of two processes starting together exactly one key wins. created is
// false when another process won; the key returned is then the file's.
func createKeyFile(dir, path string) (key []byte, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating the data directory %s: %w", dir, err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("generating a master key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+MasterKeyFile+".tmp-*") // O_EXCL, 0600
	if err != nil {
		return nil, false, fmt.Errorf("creating the master key file in %s: %w", dir, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("writing the master key file in %s: %w", dir, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			key, err := readKeyFile(path)
			return key, false, err
		}
		return nil, false, fmt.Errorf("creating the master key file %s: %w", path, err)
	}
	syncDir(dir)
	return key, true, nil
}

// syncDir makes the new directory entry durable; failure is not fatal
// (some file systems do not support syncing a directory).
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
