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
	"sync/atomic"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// bkFixture writes keys of every Redis type under prefix, some with a time to
// live, spread over several hash tags (so over every Cluster node), and
// returns their names relative to the prefix.
func bkFixture(t *testing.T, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	p := func(rel string) string { return prefix + rel }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, p("{settings}:settings"), `{"name":"Keel"}`, 0).Err())
	must(c.Set(ctx, p("lease:sweeper"), "node-1", time.Hour).Err())
	must(c.Set(ctx, p("binary"), "\x00\xff\x01 value", 0).Err())
	must(c.Set(ctx, p(""), "a key named exactly the prefix", 0).Err())
	must(c.Set(ctx, p("bin:\xff\xfe"), "key name that is not UTF-8", 0).Err())
	must(c.Set(ctx, p("odd key\nwith \"quotes\""), "odd name", 0).Err())
	must(c.HSet(ctx, p("{iam}:user:alice"), "role", "admin", "name", "alice").Err())
	must(c.HSet(ctx, p("{iam}:session-info:abc"), "user", "alice", "ip", "127.0.0.1").Err())
	must(c.PExpire(ctx, p("{iam}:session-info:abc"), 24*time.Hour).Err())
	must(c.SAdd(ctx, p("{iam}:users"), "alice", "bob", "carol").Err())
	must(c.SAdd(ctx, p("temp:set"), "x", "y").Err())
	must(c.PExpire(ctx, p("temp:set"), 90*time.Minute).Err())
	must(c.ZAdd(ctx, p("{envs}:envs"), redis.Z{Score: 1, Member: "development"}, redis.Z{Score: 2.5, Member: "production"}).Err())
	must(c.RPush(ctx, p("queue"), "first", "second", "third").Err())
	for i := 0; i < 3; i++ {
		must(c.XAdd(ctx, &redis.XAddArgs{Stream: p("{iam}:audit"), Values: []any{"action", "user.create", "n", strconv.Itoa(i)}}).Err())
	}
	must(c.XGroupCreate(ctx, p("{iam}:audit"), "exporters", "0").Err())
	must(c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "exporters", Consumer: "c1", Streams: []string{p("{iam}:audit"), ">"}, Count: 1}).Err())
	rels := []string{"{settings}:settings", "lease:sweeper", "binary", "", "bin:\xff\xfe", "odd key\nwith \"quotes\"",
		"{iam}:user:alice", "{iam}:session-info:abc", "{iam}:users", "temp:set", "{envs}:envs", "queue", "{iam}:audit"}
	// More keys than one restore pipeline holds.
	for i := 0; i < 300; i++ {
		rel := fmt.Sprintf("bulk:%03d", i)
		must(c.Set(ctx, p(rel), "v"+strconv.Itoa(i), 0).Err())
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	return rels
}

// bkValue describes one key's type, content and time to live, so keys can be
// compared across servers and prefixes.
type bkValue struct {
	content string
	ttl     time.Duration // -1: none
}

func bkRead(t *testing.T, c redis.UniversalClient, key string) bkValue {
	t.Helper()
	ctx := context.Background()
	typ, err := c.Type(ctx, key).Result()
	if err != nil {
		t.Fatalf("TYPE %q: %v", key, err)
	}
	var content any
	switch typ {
	case "string":
		content = c.Get(ctx, key).Val()
	case "hash":
		m := c.HGetAll(ctx, key).Val()
		content = fmt.Sprint(m) // fmt sorts map keys
	case "list":
		content = c.LRange(ctx, key, 0, -1).Val()
	case "set":
		m := c.SMembers(ctx, key).Val()
		sort.Strings(m)
		content = m
	case "zset":
		content = c.ZRangeWithScores(ctx, key, 0, -1).Val()
	case "stream":
		msgs := c.XRange(ctx, key, "-", "+").Val()
		groups := c.XInfoGroups(ctx, key).Val()
		var gs []string
		for _, g := range groups {
			gs = append(gs, fmt.Sprintf("%s/%s/pending=%d", g.Name, g.LastDeliveredID, g.Pending))
		}
		content = fmt.Sprint(msgs, gs)
	case "none":
		t.Fatalf("key %q does not exist", key)
	default:
		t.Fatalf("key %q has unexpected type %s", key, typ)
	}
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < 0 {
		ttl = -1
	}
	return bkValue{content: typ + " " + fmt.Sprint(content), ttl: ttl}
}

// bkCount counts the keys under prefix on every node.
func bkCount(t *testing.T, c redis.UniversalClient, prefix string) int {
	t.Helper()
	s := New(c, WithPrefix(prefix))
	var n atomic.Int64
	err := s.forEachMasterNode(context.Background(), func(ctx context.Context, node redis.UniversalClient, _ bool) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, matchEscape(prefix)+"*", 100).Result()
			if err != nil {
				return err
			}
			n.Add(int64(len(keys)))
			if next == 0 {
				return nil
			}
			cursor = next
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

func bkBackup(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := s.Backup(context.Background(), &buf); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	return buf.Bytes()
}

func bkLines(t *testing.T, file []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(plain), "\n"), "\n")
}

func bkGzip(t testing.TB, lines ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, l := range lines {
		io.WriteString(zw, l+"\n")
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var bkBackends = []struct {
	name   string
	client func(testing.TB) (redis.UniversalClient, string)
}{
	{"single", redistest.Client},
	{"cluster", redistest.Cluster},
}

func TestBackupRestoreRoundTrip(t *testing.T) {
	for _, from := range bkBackends {
		for _, to := range bkBackends {
			t.Run(from.name+"-to-"+to.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				srcClient, srcPrefix := from.client(t)
				dstClient, dstPrefix := to.client(t)
				if srcPrefix == dstPrefix {
					t.Fatal("prefixes must differ")
				}
				rels := bkFixture(t, srcClient, srcPrefix)
				// A neighbour outside the prefix must not be included.
				if err := srcClient.Set(ctx, strings.TrimSuffix(srcPrefix, ":")+"-other:k", "x", 0).Err(); err != nil {
					t.Fatal(err)
				}
				want := map[string]bkValue{}
				for _, rel := range rels {
					want[rel] = bkRead(t, srcClient, srcPrefix+rel)
				}

				src := New(srcClient, WithPrefix(srcPrefix))
				var buf bytes.Buffer
				n, err := src.Backup(ctx, &buf)
				if err != nil {
					t.Fatalf("Backup: %v", err)
				}
				if n != len(rels) {
					t.Fatalf("Backup wrote %d keys, want %d", n, len(rels))
				}
				lines := bkLines(t, buf.Bytes())
				var hdr map[string]any
				if err := json.Unmarshal([]byte(lines[0]), &hdr); err != nil {
					t.Fatal(err)
				}
				if hdr["format"] != "keel-backup" || hdr["version"] != 1.0 || hdr["prefix"] != srcPrefix ||
					hdr["keys"] != float64(len(rels)) || hdr["created_at"] == nil {
					t.Fatalf("header = %s", lines[0])
				}
				if len(lines) != len(rels)+1 {
					t.Fatalf("file has %d lines, want %d", len(lines), len(rels)+1)
				}
				if strings.Contains(strings.Join(lines[1:], "\n"), srcPrefix) {
					t.Fatal("key names in the file are not relative to the prefix")
				}

				dst := New(dstClient, WithPrefix(dstPrefix))
				restored, err := dst.Restore(ctx, bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatalf("Restore: %v", err)
				}
				if restored != len(rels) {
					t.Fatalf("Restore restored %d keys, want %d", restored, len(rels))
				}
				if got := bkCount(t, dstClient, dstPrefix); got != len(rels) {
					t.Fatalf("destination holds %d keys, want %d", got, len(rels))
				}
				for _, rel := range rels {
					got := bkRead(t, dstClient, dstPrefix+rel)
					w := want[rel]
					if got.content != w.content {
						t.Errorf("key %q:\n got  %s\n want %s", rel, got.content, w.content)
					}
					switch {
					case w.ttl == -1 && got.ttl != -1:
						t.Errorf("key %q: ttl %s, want none", rel, got.ttl)
					case w.ttl > 0 && (got.ttl <= 0 || got.ttl > w.ttl):
						t.Errorf("key %q: ttl %s, want in (0, %s]", rel, got.ttl, w.ttl)
					}
				}
			})
		}
	}
}

func TestRestoreSkipsLapsedTTLs(t *testing.T) {
	for _, b := range bkBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c, prefix := b.client(t)
			base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			src := New(c, WithPrefix(prefix+"src:"), WithNow(func() time.Time { return base }))
			c.Set(ctx, prefix+"src:{a}:short", "1", time.Hour)
			c.Set(ctx, prefix+"src:{b}:long", "2", 24*time.Hour)
			c.Set(ctx, prefix+"src:{c}:forever", "3", 0)
			file := bkBackup(t, src)

			// Restored two hours after the backup was taken.
			dst := New(c, WithPrefix(prefix+"dst:"), WithNow(func() time.Time { return base.Add(2 * time.Hour) }))
			n, err := dst.Restore(ctx, bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Fatalf("restored %d keys, want 2 (the one-hour key has lapsed)", n)
			}
			if c.Exists(ctx, prefix+"dst:{a}:short").Val() != 0 {
				t.Fatal("lapsed key restored")
			}
			ttl := c.PTTL(ctx, prefix+"dst:{b}:long").Val()
			if ttl > 22*time.Hour || ttl < 22*time.Hour-time.Minute {
				t.Fatalf("long key ttl = %s, want about 22h", ttl)
			}
			if c.PTTL(ctx, prefix+"dst:{c}:forever").Val() >= 0 {
				t.Fatal("key without ttl restored with one")
			}
		})
	}
}

func TestRestoreIntoNonEmptyStoreChangesNothing(t *testing.T) {
	for _, b := range bkBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c, prefix := b.client(t)
			bkFixture(t, c, prefix+"src:")
			file := bkBackup(t, New(c, WithPrefix(prefix+"src:")))

			dstPrefix := prefix + "dst:"
			if err := c.Set(ctx, dstPrefix+"{iam}:users", "already here", 0).Err(); err != nil {
				t.Fatal(err)
			}
			n, err := New(c, WithPrefix(dstPrefix)).Restore(ctx, bytes.NewReader(file))
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("Restore into a non-empty store = %d, %v; want ErrConflict", n, err)
			}
			var ce *ConflictError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Message, "store is not empty: ") || !strings.Contains(ce.Message, dstPrefix+"{iam}:users") {
				t.Fatalf("conflict message = %v", err)
			}
			if got := bkCount(t, c, dstPrefix); got != 1 {
				t.Fatalf("destination holds %d keys after the refused restore, want 1", got)
			}
			if got := c.Get(ctx, dstPrefix+"{iam}:users").Val(); got != "already here" {
				t.Fatalf("existing key changed to %q", got)
			}
		})
	}
}

func TestRestoreRejectsBadFiles(t *testing.T) {
	c, prefix := redistest.Client(t)
	ctx := context.Background()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	hdr := func(keys int) string {
		return fmt.Sprintf(`{"format":"keel-backup","version":1,"created_at":%q,"prefix":"keel:","keys":%d}`, now, keys)
	}
	good := `{"key":"k","ttl_ms":-1,"dump":"AAF2CgCRCM6yGTiKzg=="}`
	valid := bkGzip(t, hdr(1), good)
	truncatedGzip := valid[:len(valid)-6]

	tests := []struct {
		name  string
		file  []byte
		field string // ValidationError field
		msg   string
	}{
		{"empty file", nil, "file", "not gzip data"},
		{"not gzip", []byte("keel backup"), "file", "not gzip data"},
		{"gzip of nothing", bkGzip(t), "file", "the backup is empty"},
		{"not json", bkGzip(t, "hello"), "file", "first line is not its header"},
		{"wrong format", bkGzip(t, `{"format":"other","version":1,"created_at":"`+now+`","keys":0}`), "format", `is "other", want "keel-backup"`},
		{"wrong version", bkGzip(t, `{"format":"keel-backup","version":2,"created_at":"`+now+`","keys":0}`), "version", "is 2; this Keel reads version 1"},
		{"no created_at", bkGzip(t, `{"format":"keel-backup","version":1,"keys":0}`), "created_at", "missing"},
		{"negative keys", bkGzip(t, hdr(-1)), "keys", "negative"},
		{"fewer keys than announced", bkGzip(t, hdr(2), good), "file", "truncated: the header announces 2 keys, it holds 1"},
		{"more keys than announced", bkGzip(t, hdr(1), good, strings.Replace(good, `"k"`, `"k2"`, 1)), "file", "announces 1 keys, the file holds more"},
		{"truncated gzip", truncatedGzip, "file", "corrupt at line"},
		{"record not json", bkGzip(t, hdr(1), "{"), "file", "corrupt at line 2: not a key record"},
		{"blank line", bkGzip(t, hdr(1), "", good), "file", "corrupt at line 2"},
		{"unknown field", bkGzip(t, hdr(1), `{"key":"k","ttl_ms":-1,"dump":"AA==","x":1}`), "file", "not a key record"},
		{"bad base64", bkGzip(t, hdr(1), `{"key":"k","ttl_ms":-1,"dump":"%%%"}`), "file", "not a key record"},
		{"no key", bkGzip(t, hdr(1), `{"ttl_ms":-1,"dump":"AA=="}`), "file", `exactly one of "key" and "key_b64"`},
		{"both key forms", bkGzip(t, hdr(1), `{"key":"k","key_b64":"aw==","ttl_ms":-1,"dump":"AA=="}`), "file", "exactly one"},
		{"empty dump", bkGzip(t, hdr(1), `{"key":"k","ttl_ms":-1,"dump":""}`), "file", `"dump" is empty`},
		{"bad ttl", bkGzip(t, hdr(1), `{"key":"k","ttl_ms":-5,"dump":"AA=="}`), "file", `"ttl_ms" must be -1 or positive`},
		{"duplicate key", bkGzip(t, hdr(2), good, good), "file", `key "k" appears twice`},
		{"payload Redis rejects", bkGzip(t, hdr(1), `{"key":"k","ttl_ms":-1,"dump":"bm90IGEgZHVtcA=="}`), "file", "Redis rejected the data of key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prefix + strconv.Itoa(len(tt.name)) + tt.name + ":"
			s := New(c, WithPrefix(p))
			n, err := s.Restore(ctx, bytes.NewReader(tt.file))
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Restore = %d, %v; want a ValidationError", n, err)
			}
			if msg, ok := ve.Fields[tt.field]; !ok || !strings.Contains(msg, tt.msg) {
				t.Fatalf("fields = %v; want %s: ...%s...", ve.Fields, tt.field, tt.msg)
			}
			if got := bkCount(t, c, p); got != 0 {
				t.Fatalf("a refused restore left %d keys", got)
			}
		})
	}
	// The valid file the broken ones were made from restores fine.
	s := New(c, WithPrefix(prefix+"valid:"))
	if n, err := s.Restore(ctx, bytes.NewReader(valid)); err != nil || n != 1 {
		t.Fatalf("Restore(valid) = %d, %v", n, err)
	}
	if got := c.Get(ctx, prefix+"valid:k").Val(); got != "v" {
		t.Fatalf("restored value = %q", got)
	}
}

// A payload Redis refuses midway, after whole pipelines went through: the
// keys restored before it are removed again.
func TestRestoreRollsBackWhenRedisRefusesAKey(t *testing.T) {
	for _, b := range bkBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			c, prefix := b.client(t)
			bkFixture(t, c, prefix+"src:")
			lines := bkLines(t, bkBackup(t, New(c, WithPrefix(prefix+"src:"))))
			var last map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
				t.Fatal(err)
			}
			last["dump"] = "bm90IGEgZHVtcA==" // "not a dump"
			b, _ := json.Marshal(last)
			lines[len(lines)-1] = string(b)

			dst := prefix + "dst:"
			_, err := New(c, WithPrefix(dst)).Restore(ctx, bytes.NewReader(bkGzip(t, lines...)))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "Redis rejected the data") {
				t.Fatalf("Restore = %v, want Redis's refusal as invalid input", err)
			}
			if got := bkCount(t, c, dst); got != 0 {
				t.Fatalf("%d restored keys left behind after the failure", got)
			}
		})
	}
}

func TestBackupEmptyStore(t *testing.T) {
	for _, b := range bkBackends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			c, prefix := b.client(t)
			file := bkBackup(t, New(c, WithPrefix(prefix+"src:")))
			if lines := bkLines(t, file); len(lines) != 1 {
				t.Fatalf("backup of an empty store has %d lines", len(lines))
			}
			n, err := New(c, WithPrefix(prefix+"dst:")).Restore(context.Background(), bytes.NewReader(file))
			if err != nil || n != 0 {
				t.Fatalf("Restore = %d, %v", n, err)
			}
		})
	}
}

// A prefix holding glob characters matches only itself.
func TestBackupPrefixWithGlobCharacters(t *testing.T) {
	c, prefix := redistest.Client(t)
	ctx := context.Background()
	p := prefix + `a[b]*?\:`
	c.Set(ctx, p+"mine", "1", 0)
	c.Set(ctx, prefix+"ab-x:decoy", "2", 0) // matched by the unescaped pattern
	c.Set(ctx, prefix+`a[b]*?\-other`, "3", 0)
	lines := bkLines(t, bkBackup(t, New(c, WithPrefix(p))))
	if len(lines) != 2 || !strings.Contains(lines[1], `"key":"mine"`) {
		t.Fatalf("backup lines = %q", lines)
	}
}

func TestClusterSlotMatchesRedis(t *testing.T) {
	c, prefix := redistest.Cluster(t)
	ctx := context.Background()
	for _, k := range []string{"", "a", "foo", prefix + "{iam}:user:alice", "{}x", "x{}y{z}", "{user1000}.following", "no{close", "\xff\x00{\x01}"} {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := clusterSlot(k); int64(got) != want {
			t.Errorf("clusterSlot(%q) = %d, Redis says %d", k, got, want)
		}
	}
}

// The per-slot snapshot used on Redis Cluster before version 7 reads the same
// as the per-node script.
func TestSnapshotBySlotMatchesScript(t *testing.T) {
	c, prefix := redistest.Cluster(t)
	bkFixture(t, c, prefix)
	ctx := context.Background()
	var nodes atomic.Int64
	err := c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		keys, err := scanKeys(ctx, node, prefix, 0)
		if err != nil || len(keys) == 0 {
			return err
		}
		byScript, err := snapshotLua(ctx, node, keys)
		if err != nil {
			return err
		}
		bySlot, err := snapshotBySlot(ctx, node, keys)
		if err != nil {
			return err
		}
		canon := func(rs []backupRecord) string {
			var out []string
			for _, r := range rs {
				out = append(out, fmt.Sprintf("%q %t %x", r.name(), r.TTLMS > 0, r.Dump))
			}
			sort.Strings(out)
			return strings.Join(out, "\n")
		}
		if len(byScript) != len(keys) || canon(byScript) != canon(bySlot) {
			return fmt.Errorf("node %s: script read %d keys, per-slot read %d, for %d keys", node.Options().Addr, len(byScript), len(bySlot), len(keys))
		}
		nodes.Add(1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if nodes.Load() != 3 {
		t.Fatalf("fixture reached %d nodes, want 3", nodes.Load())
	}
}

func TestBackupOfUnreachableRedis(t *testing.T) {
	srv := redistest.Start(t)
	c := redistest.NewClient(srv)
	defer c.Close()
	srv.Kill()
	_, err := New(c).Backup(context.Background(), io.Discard)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Backup = %v, want ErrUnavailable", err)
	}
	_, err = New(c).Restore(context.Background(), bytes.NewReader(bkGzip(t,
		`{"format":"keel-backup","version":1,"created_at":"2026-01-01T00:00:00Z","keys":0}`)))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Restore = %v, want ErrUnavailable", err)
	}
}

func FuzzRestoreDecode(f *testing.F) {
	key := "{iam}:user:alice"
	recs := []backupRecord{
		{Key: &key, TTLMS: -1, Dump: []byte("\x00\x05alice\x0a\x00")},
		{KeyB64: []byte("\xff\xfe"), TTLMS: 3600000, Dump: []byte{1, 2, 3}},
	}
	var seed bytes.Buffer
	enc := json.NewEncoder(&seed)
	enc.Encode(backupHeader{Format: backupFormat, Version: backupVersion, CreatedAt: time.Unix(1700000000, 0).UTC(), Prefix: "keel:", Keys: len(recs)})
	for i := range recs {
		enc.Encode(&recs[i])
	}
	f.Add(seed.Bytes())
	f.Add([]byte(`{"format":"keel-backup","version":1,"created_at":"2026-01-01T00:00:00Z","keys":0}`))
	f.Add([]byte(`{"format":"keel-backup","version":1,"created_at":"2026-01-01T00:00:00Z","keys":1}` + "\n" + `{"key":"","ttl_ms":5,"dump":"AA=="}`))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hdr, got, err := decodeBackup(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("decode error %v is not a ValidationError", err)
			}
		} else {
			if hdr.Format != backupFormat || hdr.Version != backupVersion || len(got) != hdr.Keys {
				t.Fatalf("accepted header %+v with %d records", hdr, len(got))
			}
			seen := map[string]bool{}
			for _, r := range got {
				if len(r.Dump) == 0 || (r.TTLMS != -1 && r.TTLMS <= 0) || seen[r.name()] {
					t.Fatalf("accepted bad record %+v", r)
				}
				seen[r.name()] = true
			}
		}
		// The same bytes gzip'd decode the same way; raw they are refused
		// cleanly.
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		zw.Write(data)
		zw.Close()
		hdr2, got2, err2 := readBackup(bytes.NewReader(zb.Bytes()))
		if (err == nil) != (err2 == nil) || len(got2) != len(got) || hdr2.Keys != hdr.Keys {
			t.Fatalf("gzip'd decode differs: %v vs %v", err, err2)
		}
		if _, _, err := readBackup(bufio.NewReader(bytes.NewReader(data))); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("readBackup of raw bytes: %v is not a ValidationError", err)
		}
	})
}
