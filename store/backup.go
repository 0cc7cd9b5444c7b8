package store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
)

// Backup file format (`keel backup FILE` / `keel restore FILE`): gzip'd JSON
// lines. The first line is the header:
//
//	{"format":"keel-backup","version":1,"created_at":"...","prefix":"keel:","keys":N}
//
// then one line per key, its name relative to the prefix (so a backup can be
// restored under another prefix), its remaining time to live in milliseconds
// (-1: none) and its DUMP payload in base64:
//
//	{"key":"{iam}:user:alice","ttl_ms":-1,"dump":"..."}
//
// A key name that is not valid UTF-8 is written as "key_b64" (base64) instead
// of "key", since JSON strings cannot carry arbitrary bytes.
const (
	backupFormat  = "keel-backup"
	backupVersion = 1

	// maxBackupLine bounds one line of a backup file: a 512 MB value (Redis's
	// default proto-max-bulk-len) in base64, plus room for the rest.
	maxBackupLine = 700 << 20
	// restoreBatch is how many RESTOREs go in one pipeline.
	restoreBatch = 256
	// backupScanCount is the COUNT hint for SCAN.
	backupScanCount = 1000
)

type backupHeader struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Prefix    string    `json:"prefix"`
	Keys      int       `json:"keys"`
}

type backupRecord struct {
	Key    *string `json:"key,omitempty"`
	KeyB64 []byte  `json:"key_b64,omitempty"`
	TTLMS  int64   `json:"ttl_ms"`
	Dump   []byte  `json:"dump"`
}

// name is the record's key relative to the prefix.
func (r *backupRecord) name() string {
	if r.Key != nil {
		return *r.Key
	}
	return string(r.KeyB64)
}

func newBackupRecord(rel string, ttlMS int64, dump []byte) backupRecord {
	r := backupRecord{TTLMS: ttlMS, Dump: dump}
	if utf8.ValidString(rel) {
		r.Key = &rel
	} else {
		r.KeyB64 = []byte(rel)
	}
	return r
}

// Backup writes a snapshot of every key under the store's prefix to w, in the
// format above, and returns how many keys it wrote.
//
// The keys are found with SCAN, then read with DUMP and PTTL in one atomic
// step, so the snapshot is point-in-time for the keys found (a key created
// while the SCAN runs may be missing; a key deleted meanwhile is left out):
//   - single node and Sentinel: one MULTI/EXEC for all keys;
//   - Cluster: one step per master node, so the snapshot is consistent per
//     node, not across nodes. On Redis 7 and later that step is a read-only
//     Lua script allowed to cross slots; older Redis Cluster cannot run one
//     transaction over several slots, so there it is one MULTI/EXEC per slot
//     (per hash-tag group, which is the unit every Keel change stays in).
func (s *Store) Backup(ctx context.Context, w io.Writer) (keys int, err error) {
	created := s.now().UTC()
	var (
		mu      sync.Mutex
		records []backupRecord
		seen    = map[string]bool{}
	)
	err = s.forEachMasterNode(ctx, func(ctx context.Context, node redis.UniversalClient, cluster bool) error {
		names, err := scanKeys(ctx, node, s.prefix, 0)
		if err != nil {
			return err
		}
		var recs []backupRecord
		switch {
		case len(names) == 0:
		case !cluster:
			recs, err = snapshotTx(ctx, node, names)
		default:
			recs, err = snapshotNode(ctx, node, names)
		}
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			// A key moving between nodes during the scan may be seen twice.
			if !seen[r.name()] {
				seen[r.name()] = true
				records = append(records, r)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("backup: %w", wrap(err))
	}
	for i := range records {
		rel := strings.TrimPrefix(records[i].name(), s.prefix)
		records[i] = newBackupRecord(rel, records[i].TTLMS, records[i].Dump)
	}
	sort.Slice(records, func(i, j int) bool { return records[i].name() < records[j].name() })

	gz := gzip.NewWriter(w)
	bw := bufio.NewWriter(gz)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	hdr := backupHeader{Format: backupFormat, Version: backupVersion, CreatedAt: created, Prefix: s.prefix, Keys: len(records)}
	if err := enc.Encode(hdr); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	for i := range records {
		if err := enc.Encode(&records[i]); err != nil {
			return 0, fmt.Errorf("backup: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := gz.Close(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	return len(records), nil
}

// forEachMasterNode calls fn once per master node of a Cluster (concurrently), or
// once with the client itself otherwise.
func (s *Store) forEachMasterNode(ctx context.Context, fn func(ctx context.Context, node redis.UniversalClient, cluster bool) error) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return fn(ctx, c, true)
		})
	}
	return fn(ctx, s.rdb, false)
}

// scanKeys returns the keys under prefix on one node, at most limit of them
// (0: all).
func scanKeys(ctx context.Context, c redis.UniversalClient, prefix string, limit int) ([]string, error) {
	pattern := matchEscape(prefix) + "*"
	seen := map[string]bool{}
	var keys []string
	var cursor uint64
	for {
		batch, next, err := c.Scan(ctx, cursor, pattern, backupScanCount).Result()
		if err != nil {
			return nil, err
		}
		for _, k := range batch {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
				if limit > 0 && len(keys) >= limit {
					return keys, nil
				}
			}
		}
		if next == 0 {
			return keys, nil
		}
		cursor = next
	}
}

// matchEscape escapes the characters SCAN MATCH treats specially.
func matchEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// snapshotTx reads DUMP and PTTL of keys in one MULTI/EXEC.
func snapshotTx(ctx context.Context, c redis.Cmdable, keys []string) ([]backupRecord, error) {
	dumps := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.Cmd, len(keys))
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			dumps[i] = p.Dump(ctx, k)
			ttls[i] = p.Do(ctx, "PTTL", k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) { // nil: a key vanished since the SCAN
		return nil, err
	}
	recs := make([]backupRecord, 0, len(keys))
	for i, k := range keys {
		dump, err := dumps[i].Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("DUMP %q: %w", k, err)
		}
		ttl, err := ttls[i].Int64()
		if err != nil {
			return nil, fmt.Errorf("PTTL %q: %w", k, err)
		}
		if r, ok := dumpRecord(k, dump, ttl); ok {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// record builds a backup record from DUMP and PTTL results; false when the
// key is gone or about to expire.
func dumpRecord(key, dump string, pttl int64) (backupRecord, bool) {
	if pttl == -2 || pttl == 0 || dump == "" {
		return backupRecord{}, false
	}
	if pttl < 0 {
		pttl = -1
	}
	return newBackupRecord(key, pttl, []byte(dump)), true
}

// snapshotScript reads DUMP and PTTL of every key in ARGV in one atomic step.
// The flags let it touch keys of several slots of this node (Redis 7+).
const snapshotScript = `#!lua flags=no-writes,allow-cross-slot-keys
local out = {}
for _, k in ipairs(ARGV) do
  out[#out + 1] = redis.call('DUMP', k)
  out[#out + 1] = redis.call('PTTL', k)
end
return out
`

// snapshotNode takes the snapshot of one Cluster master.
func snapshotNode(ctx context.Context, c redis.UniversalClient, keys []string) ([]backupRecord, error) {
	major, err := redisMajorVersion(ctx, c)
	if err != nil {
		return nil, err
	}
	if major < 7 {
		return snapshotBySlot(ctx, c, keys)
	}
	return snapshotLua(ctx, c, keys)
}

func snapshotLua(ctx context.Context, c redis.UniversalClient, keys []string) ([]backupRecord, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	res, err := c.Eval(ctx, snapshotScript, nil, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != 2*len(keys) {
		return nil, fmt.Errorf("snapshot script returned %d values for %d keys", len(res), len(keys))
	}
	recs := make([]backupRecord, 0, len(keys))
	for i, k := range keys {
		dump, _ := res[2*i].(string) // nil: the key vanished since the SCAN
		ttl, ok := res[2*i+1].(int64)
		if !ok {
			return nil, fmt.Errorf("snapshot script: PTTL %q returned %T", k, res[2*i+1])
		}
		if r, ok := dumpRecord(k, dump, ttl); ok {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// snapshotBySlot is the Cluster snapshot for Redis before 7: one MULTI/EXEC
// per hash slot.
func snapshotBySlot(ctx context.Context, c redis.UniversalClient, keys []string) ([]backupRecord, error) {
	bySlot := map[int][]string{}
	for _, k := range keys {
		slot := clusterSlot(k)
		bySlot[slot] = append(bySlot[slot], k)
	}
	var recs []backupRecord
	for _, ks := range bySlot {
		r, err := snapshotTx(ctx, c, ks)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r...)
	}
	return recs, nil
}

func redisMajorVersion(ctx context.Context, c redis.UniversalClient) (int, error) {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			major, _, _ := strings.Cut(v, ".")
			return strconv.Atoi(major)
		}
	}
	return 0, errors.New("INFO server has no redis_version")
}

// clusterSlot is the Redis Cluster hash slot of a key (CRC16 of the key, or of
// its hash tag, modulo 16384).
func clusterSlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for b := 0; b < 8; b++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// Restore loads a backup written by Backup into this store, under this
// store's prefix, and returns how many keys it restored. The store must be
// empty (no key under the prefix), otherwise it fails with a ConflictError
// and changes nothing. Keys keep the time to live they had left when the
// backup was made, less the time since; keys whose time has run out are
// skipped. The whole file is read and checked before anything is written: a
// corrupt or foreign file fails with a ValidationError and changes nothing.
// If Redis refuses a key midway, the keys restored so far are deleted again.
func (s *Store) Restore(ctx context.Context, r io.Reader) (keys int, err error) {
	hdr, records, err := readBackup(r)
	if err != nil {
		return 0, err
	}
	if err := s.requireEmptyForRestore(ctx); err != nil {
		return 0, err
	}
	elapsed := s.now().Sub(hdr.CreatedAt).Milliseconds()
	if elapsed < 0 {
		elapsed = 0
	}
	var restored []string
	fail := func(err error) (int, error) {
		if cerr := s.deleteRestored(context.WithoutCancel(ctx), restored); cerr != nil {
			err = fmt.Errorf("%w (and removing the %d keys restored before that failed: %v)", err, len(restored), cerr)
		}
		return 0, err
	}
	for start := 0; start < len(records); start += restoreBatch {
		batch := records[start:min(start+restoreBatch, len(records))]
		var names []string
		var cmds []*redis.StatusCmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range batch {
				ttl := int64(0)
				if batch[i].TTLMS > 0 {
					ttl = batch[i].TTLMS - elapsed
					if ttl <= 0 {
						continue // expired since the backup
					}
				}
				name := s.prefix + batch[i].name()
				names = append(names, name)
				cmds = append(cmds, p.Restore(ctx, name, time.Duration(ttl)*time.Millisecond, string(batch[i].Dump)))
			}
			return nil
		})
		var firstErr error
		for i, c := range cmds {
			if c.Err() == nil {
				restored = append(restored, names[i])
			} else if firstErr == nil {
				firstErr = restoreError(names[i], c.Err())
			}
		}
		if firstErr != nil {
			return fail(firstErr)
		}
		if err != nil {
			return fail(fmt.Errorf("restore: %w", wrap(err)))
		}
	}
	return len(restored), nil
}

func restoreError(key string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "BUSYKEY"):
		return Conflictf("store is not empty: key %q was created while the restore ran", key)
	case strings.Contains(msg, "payload version or checksum"):
		return Invalid("file", fmt.Sprintf("Redis rejected the data of key %q (%s): the file is corrupt, or was made by a newer Redis version", key, msg))
	}
	return fmt.Errorf("restore %q: %w", key, wrap(err))
}

// requireEmptyForRestore fails with a ConflictError when any key exists under the
// prefix, on any node.
func (s *Store) requireEmptyForRestore(ctx context.Context) error {
	var mu sync.Mutex
	var found string
	err := s.forEachMasterNode(ctx, func(ctx context.Context, node redis.UniversalClient, _ bool) error {
		keys, err := scanKeys(ctx, node, s.prefix, 1)
		if err != nil || len(keys) == 0 {
			return err
		}
		mu.Lock()
		found = keys[0]
		mu.Unlock()
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore: %w", wrap(err))
	}
	if found != "" {
		return Conflictf("store is not empty: keys exist under prefix %q (such as %q); restore only into an empty store", s.prefix, found)
	}
	return nil
}

// deleteRestored deletes keys one DEL each (they may live in different slots).
func (s *Store) deleteRestored(ctx context.Context, keys []string) error {
	for start := 0; start < len(keys); start += restoreBatch {
		batch := keys[start:min(start+restoreBatch, len(keys))]
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.Del(ctx, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// readBackup decompresses and decodes a whole backup file.
func readBackup(r io.Reader) (backupHeader, []backupRecord, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return backupHeader{}, nil, Invalid("file", "not a Keel backup: it is not gzip data ("+err.Error()+")")
	}
	defer zr.Close()
	return decodeBackup(zr)
}

// decodeBackup decodes the JSON lines of a backup and checks them all.
func decodeBackup(r io.Reader) (backupHeader, []backupRecord, error) {
	var hdr backupHeader
	br := bufio.NewReaderSize(r, 64<<10)
	line, err := readBackupLine(br)
	if err != nil {
		return hdr, nil, backupCorrupt(1, err)
	}
	if len(line) == 0 {
		return hdr, nil, Invalid("file", "the backup is empty")
	}
	if err := json.Unmarshal(line, &hdr); err != nil {
		return hdr, nil, Invalid("file", "not a Keel backup: the first line is not its header")
	}
	if hdr.Format != backupFormat {
		return hdr, nil, Invalid("format", fmt.Sprintf("is %s, want %q: not a Keel backup", backupQuote(hdr.Format), backupFormat))
	}
	if hdr.Version != backupVersion {
		return hdr, nil, Invalid("version", fmt.Sprintf("is %d; this Keel reads version %d backups", hdr.Version, backupVersion))
	}
	if hdr.Keys < 0 {
		return hdr, nil, Invalid("keys", "must not be negative")
	}
	if hdr.CreatedAt.IsZero() {
		return hdr, nil, Invalid("created_at", "is missing")
	}
	records := make([]backupRecord, 0, min(hdr.Keys, 1024))
	seen := map[string]bool{}
	for n := 2; ; n++ {
		line, err := readBackupLine(br)
		if err != nil {
			return hdr, nil, backupCorrupt(n, err)
		}
		if line == nil {
			break
		}
		var rec backupRecord
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return hdr, nil, backupCorrupt(n, errors.New("not a key record"))
		}
		if dec.More() {
			return hdr, nil, backupCorrupt(n, errors.New("more than one record on the line"))
		}
		switch {
		case (rec.Key == nil) == (rec.KeyB64 == nil):
			return hdr, nil, backupCorrupt(n, errors.New(`needs exactly one of "key" and "key_b64"`))
		case len(rec.Dump) == 0:
			return hdr, nil, backupCorrupt(n, errors.New(`"dump" is empty`))
		case rec.TTLMS < -1 || rec.TTLMS == 0:
			return hdr, nil, backupCorrupt(n, errors.New(`"ttl_ms" must be -1 or positive`))
		case seen[rec.name()]:
			return hdr, nil, backupCorrupt(n, fmt.Errorf("key %s appears twice", backupQuote(rec.name())))
		}
		if len(records) >= hdr.Keys {
			return hdr, nil, Invalid("file", fmt.Sprintf("the header announces %d keys, the file holds more", hdr.Keys))
		}
		seen[rec.name()] = true
		records = append(records, rec)
	}
	if len(records) != hdr.Keys {
		return hdr, nil, Invalid("file", fmt.Sprintf("the file is truncated: the header announces %d keys, it holds %d", hdr.Keys, len(records)))
	}
	return hdr, records, nil
}

// readBackupLine returns the next line without its newline; nil at the end.
func readBackupLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > maxBackupLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxBackupLine)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, nil
			}
			return line, nil
		default:
			return nil, err
		}
	}
}

func backupCorrupt(line int, err error) error {
	return Invalid("file", fmt.Sprintf("the backup is corrupt at line %d: %v", line, err))
}

// backupQuote quotes a string from a file for a message, cut to 60 bytes.
func backupQuote(s string) string {
	if len(s) > 60 {
		s = s[:60] + "…"
	}
	return strconv.Quote(s)
}
