package sdk

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// lkgFormat is the version of the last-known-good file layout.
const lkgFormat = 1

// lkgFile is the last-known-good file: the snapshot in its wire form, with
// the ETag and watch position it was current at.
type lkgFile struct {
	Format   int         `json:"format"`
	Env      string      `json:"env"`
	SavedAt  time.Time   `json:"saved_at"`
	ETag     string      `json:"etag,omitempty"`
	Position string      `json:"position,omitempty"`
	Configs  []wireEntry `json:"configs"`
}

// loadFile installs the configuration of the last-known-good file, unless
// one is loaded already.
func (c *Client) loadFile() error {
	if c.loaded {
		return nil
	}
	b, err := os.ReadFile(c.lkgPath)
	if err != nil {
		return err
	}
	var f lkgFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: %w", c.lkgPath, err)
	}
	if f.Format != lkgFormat {
		return fmt.Errorf("%s: format %d, want %d", c.lkgPath, f.Format, lkgFormat)
	}
	if f.Env != c.env {
		return fmt.Errorf("%s: holds environment %q, not %q", c.lkgPath, f.Env, c.env)
	}
	s, err := newSnapshot(f.Configs, f.ETag, f.Position, SourceFile)
	if err != nil {
		return fmt.Errorf("%s: %w", c.lkgPath, err)
	}
	c.install(s)
	return nil
}

// markDirty tells the writer that a newer snapshot is there to save.
func (c *Client) markDirty() {
	if c.lkgPath == "" {
		return
	}
	select {
	case c.dirty <- struct{}{}:
	default:
	}
}

// writeLoop saves the snapshot to the last-known-good file a moment after
// it changes (so a burst of changes is one write), and once more on Close
// when a change is pending.
func (c *Client) writeLoop() {
	defer close(c.writerDone)
	if c.lkgPath == "" {
		<-c.stopWriter
		return
	}
	var saved *snapshot
	save := func() {
		s := c.snap.Load()
		if s.source != SourceKeel || s == saved {
			return
		}
		if err := writeLKG(c.lkgPath, c.env, s); err != nil {
			c.log.Warn("keel: cannot save the last-known-good file", "path", c.lkgPath, "err", err)
			return
		}
		saved = s
	}
	for {
		select {
		case <-c.dirty:
		case <-c.stopWriter:
			select {
			case <-c.dirty:
				save()
			default:
			}
			return
		}
		t := time.NewTimer(lkgDebounce)
		select {
		case <-t.C:
			save()
		case <-c.stopWriter:
			t.Stop()
			save()
			return
		}
	}
}

// writeLKG writes s to path atomically: a temporary file in the same
// directory, synced, then renamed over path. The file is mode 0600.
func writeLKG(path, env string, s *snapshot) (err error) {
	f := lkgFile{
		Format:   lkgFormat,
		Env:      env,
		SavedAt:  time.Now().UTC(),
		ETag:     s.etag,
		Position: s.position,
		Configs:  make([]wireEntry, 0, len(s.entries)),
	}
	for _, e := range s.entries {
		f.Configs = append(f.Configs, e.wire())
	}
	slices.SortFunc(f.Configs, func(a, b wireEntry) int { return strings.Compare(a.Key, b.Key) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
