package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Audit entries live in one stream per hash-tag group, so a change and its
// entry are written by the same MULTI/EXEC even on Cluster. Stream ids carry
// the store clock's milliseconds, which makes Since/Until and age trimming
// plain id ranges. Reading merges the streams newest first.

// auditAppendLua adds an entry with id "<now ms>-*". If the stream already
// holds a later id (the clock stepped back), it uses the last id's
// millisecond instead, so the XADD never fails inside the caller's
// transaction (Redis does not roll back the other commands of a MULTI).
//
// KEYS[1] stream; ARGV[1] now in ms; ARGV[2..] field/value pairs.
const auditAppendLua = `
local ok = redis.pcall('XADD', KEYS[1], ARGV[1] .. '-*', unpack(ARGV, 2))
if type(ok) == 'table' and ok.err then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local last = string.match(info[i + 1], '^(%d+)-')
      return redis.call('XADD', KEYS[1], last .. '-*', unpack(ARGV, 2))
    end
  end
end
return ok
`

// knownAuditShards are the groups this package writes to; QueryAudit reads
// them even if the shard set was lost.
var knownAuditShards = []string{tagIAM, tagEnvs, tagSettings, tagAudit}

const (
	auditDefaultLimit = 50
	auditMaxLimit     = 500
)

// appendAudit queues the audit entry of a change onto pipe, inside the
// caller's MULTI, on the stream of group tag. The caller registers tag in the
// shard set before the transaction (s.change does). before and after are
// marshalled to JSON (nil omits them); they must never hold password hashes
// or token secrets.
func (s *Store) appendAudit(pipe redis.Pipeliner, tag string, a Actor, action, target, env string, before, after any) {
	now := strconv.FormatInt(s.now().UnixMilli(), 10)
	args := []any{now, "time", now, "actor", a.Name, "action", action}
	add := func(field, value string) {
		if value != "" {
			args = append(args, field, value)
		}
	}
	add("role", a.Role)
	add("target", target)
	add("env", env)
	add("before", auditJSON(before))
	add("after", auditJSON(after))
	add("ip", a.IP)
	add("ua", a.UserAgent)
	add("rid", a.RequestID)
	// A pipeline only queues the command; the context that counts is the
	// one the caller passes to TxPipelined/Exec.
	pipe.Eval(context.Background(), auditAppendLua, []string{s.auditKey(tag)}, args...)
}

func auditJSON(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "unencodable: " + err.Error()})
	}
	return string(b)
}

// RecordEvent writes a standalone audit entry (one that goes with no stored
// change, such as revealing a secret) to the "audit" group and announces it
// on the "audit" topic. details becomes the entry's After document.
func (s *Store) RecordEvent(ctx context.Context, a Actor, action, target, env string, details any) error {
	if action == "" {
		return Invalid("action", "is required")
	}
	if err := s.rdb.SAdd(ctx, s.auditShardsKey(), tagAudit).Err(); err != nil {
		return wrap(err)
	}
	pipe := s.rdb.Pipeline()
	s.appendAudit(pipe, tagAudit, a, action, target, env, nil, details)
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap(err)
	}
	s.changed(ctx, "audit", action, target, env, a)
	return nil
}

// QueryAudit returns one page of the audit log, newest first across every
// group's stream, and the cursor of the next page ("" on the last page).
// Entries are ordered by stream id descending, then by group name, so equal
// ids in different groups still page without duplicates or gaps.
func (s *Store) QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = auditDefaultLimit
	}
	limit = min(limit, auditMaxLimit)
	var after *auditPos
	if q.Cursor != "" {
		p, err := parseAuditCursor(q.Cursor)
		if err != nil {
			return nil, "", err
		}
		after = &p
	}
	batch := s.auditBatch
	if batch <= 0 {
		// Unfiltered pages need limit+1 entries at most from any one
		// stream; filters skip entries, so read more per round trip.
		batch = int64(limit + 1)
		if q.Actor != "" || q.ActionPrefix != "" || q.Target != "" || q.Env != "" {
			batch = int64(max(limit+1, 200))
		}
	}
	it, err := s.newAuditIter(ctx, q, after, batch)
	if err != nil {
		return nil, "", err
	}
	entries := make([]AuditEntry, 0, limit)
	var last auditPos
	for {
		e, pos, ok, err := it.next(ctx)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return entries, "", nil
		}
		if !q.matches(e) {
			continue
		}
		if len(entries) == limit {
			// One more match exists: the page is full and there is a next.
			return entries, last.cursor(), nil
		}
		entries = append(entries, e)
		last = pos
	}
}

// ExportAudit streams every entry that matches q (Limit and Cursor are
// ignored), newest first, reading the streams in batches.
func (s *Store) ExportAudit(ctx context.Context, q AuditQuery, fn func(AuditEntry) error) error {
	batch := s.auditBatch
	if batch <= 0 {
		batch = 500
	}
	it, err := s.newAuditIter(ctx, q, nil, batch)
	if err != nil {
		return err
	}
	for {
		e, _, ok, err := it.next(ctx)
		if err != nil || !ok {
			return err
		}
		if !q.matches(e) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

// TrimAudit drops, in every group's stream, the entries older than maxAge
// and those beyond the newest maxEntries; 0 disables either rule. Trimming
// is exact so the log holds what the settings say.
func (s *Store) TrimAudit(ctx context.Context, maxEntries int64, maxAge time.Duration) (int64, error) {
	if maxEntries < 0 || maxAge < 0 {
		return 0, Invalid("audit", "limits cannot be negative")
	}
	shards, err := s.auditShards(ctx)
	if err != nil {
		return 0, err
	}
	var removed int64
	for _, shard := range shards {
		key := s.auditKey(shard)
		if maxAge > 0 {
			minID := s.now().Add(-maxAge).UnixMilli()
			if minID > 0 {
				n, err := s.rdb.XTrimMinID(ctx, key, strconv.FormatInt(minID, 10)).Result()
				if err != nil {
					return removed, wrap(err)
				}
				removed += n
			}
		}
		if maxEntries > 0 {
			n, err := s.rdb.XTrimMaxLen(ctx, key, maxEntries).Result()
			if err != nil {
				return removed, wrap(err)
			}
			removed += n
		}
	}
	return removed, nil
}

// auditShards lists the groups with an audit stream, sorted.
func (s *Store) auditShards(ctx context.Context) ([]string, error) {
	members, err := s.rdb.SMembers(ctx, s.auditShardsKey()).Result()
	if err != nil {
		return nil, wrap(err)
	}
	shards := append(members, knownAuditShards...)
	slices.Sort(shards)
	return slices.Compact(shards), nil
}

func (q AuditQuery) matches(e AuditEntry) bool {
	return (q.Actor == "" || e.Actor == q.Actor) &&
		strings.HasPrefix(e.Action, q.ActionPrefix) &&
		(q.Target == "" || strings.Contains(e.Target, q.Target)) &&
		(q.Env == "" || e.Env == q.Env)
}

// streamID is a Redis stream id, <ms>-<seq>.
type streamID struct{ ms, seq uint64 }

var maxStreamID = streamID{math.MaxUint64, math.MaxUint64}

func parseStreamID(v string) (streamID, bool) {
	msPart, seqPart, ok := strings.Cut(v, "-")
	if !ok {
		return streamID{}, false
	}
	m, err1 := strconv.ParseUint(msPart, 10, 64)
	q, err2 := strconv.ParseUint(seqPart, 10, 64)
	if err1 != nil || err2 != nil {
		return streamID{}, false
	}
	return streamID{m, q}, true
}

func (id streamID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || (id.ms == o.ms && id.seq < o.seq)
}

// prev is the id just before id; false for 0-0.
func (id streamID) prev() (streamID, bool) {
	switch {
	case id.seq > 0:
		return streamID{id.ms, id.seq - 1}, true
	case id.ms > 0:
		return streamID{id.ms - 1, math.MaxUint64}, true
	}
	return streamID{}, false
}

// auditPos is an entry's place in the merged order.
type auditPos struct {
	id    streamID
	shard string
}

// before reports whether p comes before o in the merged, newest-first order:
// a higher id first, and for equal ids the lower group name first.
func (p auditPos) before(o auditPos) bool {
	if p.id != o.id {
		return o.id.less(p.id)
	}
	return p.shard < o.shard
}

func (p auditPos) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(p.shard + "/" + p.id.String()))
}

func parseAuditCursor(c string) (auditPos, error) {
	bad := Invalid("cursor", "is not a cursor from a previous page")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return auditPos{}, bad
	}
	i := strings.LastIndexByte(string(raw), '/')
	if i <= 0 {
		return auditPos{}, bad
	}
	id, ok := parseStreamID(string(raw[i+1:]))
	if !ok {
		return auditPos{}, bad
	}
	return auditPos{id: id, shard: string(raw[:i])}, nil
}

// shardReader reads one stream newest first in batches, between lower and
// upper (both inclusive).
type shardReader struct {
	shard, key   string
	upper, lower streamID
	buf          []redis.XMessage
	ids          []streamID
	done         bool // nothing left in Redis (buf may still hold entries)
}

// needsFill reports whether the reader's buffer is empty while its stream
// may still hold entries in range.
func (r *shardReader) needsFill() bool {
	if r.done || len(r.buf) > 0 {
		return false
	}
	if r.upper.less(r.lower) {
		r.done = true
		return false
	}
	return true
}

// take installs one XREVRANGE answer into the buffer.
func (r *shardReader) take(msgs []redis.XMessage, batch int64) error {
	r.buf = msgs
	r.ids = make([]streamID, len(msgs))
	for i, m := range msgs {
		id, ok := parseStreamID(m.ID)
		if !ok {
			return fmt.Errorf("audit stream %s: bad id %q", r.key, m.ID)
		}
		r.ids[i] = id
	}
	if int64(len(msgs)) < batch {
		r.done = true
		return nil
	}
	prev, ok := r.ids[len(r.ids)-1].prev()
	if !ok {
		r.done = true
		return nil
	}
	r.upper = prev
	return nil
}

// auditIter merges the shard readers newest first.
type auditIter struct {
	rdb     redis.UniversalClient
	readers []*shardReader
	batch   int64
}

func (s *Store) newAuditIter(ctx context.Context, q AuditQuery, after *auditPos, batch int64) (*auditIter, error) {
	shards, err := s.auditShards(ctx)
	if err != nil {
		return nil, err
	}
	upper, lower := maxStreamID, streamID{}
	if !q.Until.IsZero() {
		if u := q.Until.UnixMilli(); u >= 0 {
			upper = streamID{uint64(u), math.MaxUint64}
		} else {
			upper, lower = streamID{}, streamID{1, 0} // empty range
		}
	}
	if !q.Since.IsZero() && q.Since.UnixMilli() > 0 {
		lower = streamID{uint64(q.Since.UnixMilli()), 0}
	}
	it := &auditIter{rdb: s.rdb, batch: batch}
	for _, shard := range shards {
		r := &shardReader{shard: shard, key: s.auditKey(shard), upper: upper, lower: lower}
		if after != nil {
			// Resume strictly after the cursor in the merged order.
			bound := after.id
			if shard <= after.shard {
				var ok bool
				if bound, ok = after.id.prev(); !ok {
					r.done = true
				}
			}
			if bound.less(r.upper) {
				r.upper = bound
			}
		}
		it.readers = append(it.readers, r)
	}
	return it, nil
}

// fill refills every reader whose buffer ran dry, in one pipelined round
// trip for all of them.
func (it *auditIter) fill(ctx context.Context) error {
	var empty []*shardReader
	for _, r := range it.readers {
		if r.needsFill() {
			empty = append(empty, r)
		}
	}
	if len(empty) == 0 {
		return nil
	}
	pipe := it.rdb.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, len(empty))
	for i, r := range empty {
		cmds[i] = pipe.XRevRangeN(ctx, r.key, r.upper.String(), r.lower.String(), it.batch)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return wrap(err)
	}
	for i, r := range empty {
		msgs, err := cmds[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return wrap(err)
		}
		if err := r.take(msgs, it.batch); err != nil {
			return err
		}
	}
	return nil
}

// next returns the next entry in merged order; ok is false at the end.
func (it *auditIter) next(ctx context.Context) (AuditEntry, auditPos, bool, error) {
	if err := it.fill(ctx); err != nil {
		return AuditEntry{}, auditPos{}, false, err
	}
	var best *shardReader
	var bestPos auditPos
	for _, r := range it.readers {
		if len(r.buf) == 0 {
			continue
		}
		pos := auditPos{id: r.ids[0], shard: r.shard}
		if best == nil || pos.before(bestPos) {
			best, bestPos = r, pos
		}
	}
	if best == nil {
		return AuditEntry{}, auditPos{}, false, nil
	}
	msg := best.buf[0]
	best.buf, best.ids = best.buf[1:], best.ids[1:]
	return auditEntry(best.shard, msg, bestPos.id), bestPos, true, nil
}

func auditEntry(shard string, m redis.XMessage, id streamID) AuditEntry {
	str := func(k string) string {
		v, _ := m.Values[k].(string)
		return v
	}
	raw := func(k string) json.RawMessage {
		if v := str(k); v != "" {
			return json.RawMessage(v)
		}
		return nil
	}
	at := fromMS(str("time"))
	if at.IsZero() {
		at = time.UnixMilli(int64(id.ms)).UTC()
	}
	return AuditEntry{
		ID:        shard + "/" + m.ID,
		Time:      at,
		Actor:     str("actor"),
		Role:      str("role"),
		Action:    str("action"),
		Target:    str("target"),
		Env:       str("env"),
		Before:    raw("before"),
		After:     raw("after"),
		IP:        str("ip"),
		UserAgent: str("ua"),
		RequestID: str("rid"),
	}
}
