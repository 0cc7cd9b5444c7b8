package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keelhq/keel/config"
	"github.com/redis/go-redis/v9"
)

// A promotion copies configuration values from one environment (the
// source, as its applications see it through inheritance) into another (the
// target). Everything of a promotion lives in the TARGET's group
// {cfg:<to>}, next to the entries it writes:
//
//	promotion-seq     STRING  numbers the promotions and change requests: ids are "<to>-<n>"
//	promotion:<id>    STRING  the JSON record (storedPromotion)
//	promotions        ZSET    applied promotions (direct ones and approved requests) by time applied, ms
//	requests          ZSET    every change request by creation time, ms
//	requests-pending  ZSET    the pending change requests by creation time, ms
//
// so a direct promotion (its writes, their history, the record, its list
// entry and every audit entry) is ONE MULTI/EXEC, and so is the approval of
// a change request. The sequence is WATCHed and advanced inside that same
// transaction, so a refused promotion uses no number.
//
// Items carry a secret's value SEALED for its source environment; the store
// opens it there and seals it again for the target when it applies, so no
// record, audit entry or event ever holds a clear secret.

// Promotion and change request statuses.
const (
	// PromotionApplied is a direct promotion, applied when it was made.
	PromotionApplied = "applied"
	// RequestPending is a change request waiting for review.
	RequestPending = "pending"
	// RequestApproved is a change request approved and applied.
	RequestApproved = "approved"
	// RequestRejected is a change request rejected with a comment.
	RequestRejected = "rejected"
)

const (
	promotionListDefault = 50
	promotionListMax     = 500
	// maxPromotionKeys bounds one promotion (its record is one value).
	maxPromotionKeys = 10000
	// maxChainDepth bounds the walk up an environment's parents.
	maxChainDepth = 64

	staleRequestMessage = "The target changed since this request was made; refresh it first."
)

// PromotionItem is one key a promotion writes into its target.
type PromotionItem struct {
	Key  string      `json:"key"`
	Type config.Type `json:"type"`
	// Value is the canonical text; for a secret, the value SEALED for
	// SourceEnv (never the clear text).
	Value string `json:"value"`
	// SourceEnv is the environment the value comes from: the source
	// environment itself or the ancestor it inherits the key from.
	SourceEnv string `json:"source_env"`
	// SourceVersion is the key's version in SourceEnv when it was read.
	SourceVersion int64 `json:"source_version"`
	// BaseVersion is the target's own version of the key when it was read
	// (0: the target had no entry of its own). Applying requires the
	// target to be still at this version.
	BaseVersion int64    `json:"base_version"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
}

// Promotion is a promotion applied directly, or a change request (a
// promotion into an environment that requires approval).
type Promotion struct {
	ID      string // "<to>-<n>"
	From    string
	To      string
	Author  string
	Comment string
	Items   []PromotionItem
	Created time.Time
	// Status is PromotionApplied for a direct promotion; RequestPending,
	// RequestApproved (and applied) or RequestRejected for a change
	// request.
	Status        string
	Reviewer      string
	ReviewComment string
	Reviewed      time.Time
	// RequestID is "" for a direct promotion and the request's own ID for
	// a change request (whatever its status), so an applied promotion that
	// came from a request links to it.
	RequestID string
}

// Keys returns the promoted keys, in item order.
func (p Promotion) Keys() []string {
	out := make([]string, len(p.Items))
	for i, it := range p.Items {
		out[i] = it.Key
	}
	return out
}

// IsRequest reports whether p is a change request.
func (p Promotion) IsRequest() bool { return p.RequestID != "" }

// AppliedAt is when p's values were written: Created for a direct
// promotion, Reviewed for an approved request, zero otherwise.
func (p Promotion) AppliedAt() time.Time {
	switch p.Status {
	case PromotionApplied:
		return p.Created
	case RequestApproved:
		return p.Reviewed
	}
	return time.Time{}
}

// Writes turns p's items into the writes that apply them to p.To: each
// replaces BaseVersion; a secret's sealed value is opened in its SourceEnv
// and sealed again for the target; the source's description and tags come
// along; no TTL; the history comment is the promotion's comment. Previews
// check them with CheckConfigs(ctx, p.To, p.Writes()).
func (p Promotion) Writes() []ConfigWrite {
	out := make([]ConfigWrite, len(p.Items))
	for i, it := range p.Items {
		w := ConfigWrite{Key: it.Key, Type: it.Type, Value: it.Value, Description: it.Description,
			Tags: slices.Clone(it.Tags), Comment: p.Comment, Version: it.BaseVersion}
		if it.Type == config.TypeSecret {
			w.SealedEnv = cmp.Or(it.SourceEnv, p.From)
		}
		out[i] = w
	}
	return out
}

// StaleRequestError refuses to approve a change request whose target
// changed since it was made (or last refreshed): the request must be
// refreshed and reviewed again. It matches ErrConflict and unwraps to a
// *ConflictError carrying the message.
type StaleRequestError struct {
	ID  string // the change request
	Key string // a key whose target version is no longer the request's base
	err *ConflictError
}

func (e *StaleRequestError) Error() string { return e.err.Message }

// Unwrap returns the *ConflictError carrying the message.
func (e *StaleRequestError) Unwrap() error { return e.err }

// storedPromotion is the JSON record of a promotion or change request; its
// id is in the key.
type storedPromotion struct {
	From          string          `json:"from"`
	To            string          `json:"to"`
	Author        string          `json:"author"`
	Comment       string          `json:"comment,omitempty"`
	Items         []PromotionItem `json:"items"`
	Created       int64           `json:"created"`
	Status        string          `json:"status"`
	Reviewer      string          `json:"reviewer,omitempty"`
	ReviewComment string          `json:"review_comment,omitempty"`
	Reviewed      int64           `json:"reviewed,omitempty"`
	Request       bool            `json:"request,omitempty"`
}

func marshalPromotion(p Promotion) (string, error) {
	b, err := json.Marshal(storedPromotion{From: p.From, To: p.To, Author: p.Author, Comment: p.Comment,
		Items: p.Items, Created: p.Created.UnixMilli(), Status: p.Status, Reviewer: p.Reviewer,
		ReviewComment: p.ReviewComment, Reviewed: millisOf(p.Reviewed), Request: p.RequestID != ""})
	if err != nil {
		return "", fmt.Errorf("promotion %s: %w", p.ID, err)
	}
	return string(b), nil
}

func parsePromotion(id, raw string) (Promotion, error) {
	var sp storedPromotion
	if err := json.Unmarshal([]byte(raw), &sp); err != nil {
		return Promotion{}, fmt.Errorf("promotion %s: stored record is corrupt: %w", id, err)
	}
	p := Promotion{ID: id, From: sp.From, To: sp.To, Author: sp.Author, Comment: sp.Comment, Items: sp.Items,
		Created: fromMillis(sp.Created), Status: sp.Status, Reviewer: sp.Reviewer,
		ReviewComment: sp.ReviewComment, Reviewed: fromMillis(sp.Reviewed)}
	if sp.Request {
		p.RequestID = id
	}
	return p, nil
}

func millisOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// promotionEnv returns the target environment named by a promotion id
// "<env>-<n>"; false when id is not one.
func promotionEnv(id string) (string, bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", false
	}
	n, err := strconv.ParseInt(id[i+1:], 10, 64)
	if err != nil || n <= 0 || strconv.FormatInt(n, 10) != id[i+1:] {
		return "", false
	}
	env := id[:i]
	if checkEnv(env) != nil {
		return "", false
	}
	return env, true
}

// promotionSeq returns the number of the next promotion into env, read
// through tx (whose WATCH covers the sequence key).
func (s *Store) promotionSeq(ctx context.Context, tx *redis.Tx, env string) (int64, error) {
	v, err := tx.Get(ctx, s.cfgPromotionSeqKey(env)).Result()
	if errors.Is(err, redis.Nil) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("promotion sequence of %s is corrupt: %w", env, err)
	}
	return n + 1, nil
}

func promotionID(env string, n int64) string { return env + "-" + strconv.FormatInt(n, 10) }

// promotionAudit is the audit document of a promotion: what, from, to and
// why; never a value.
func promotionAudit(p Promotion) map[string]any {
	m := map[string]any{"id": p.ID, "from": p.From, "to": p.To, "keys": p.Keys()}
	if p.Comment != "" {
		m["comment"] = p.Comment
	}
	if p.ReviewComment != "" {
		m["review_comment"] = p.ReviewComment
	}
	return m
}

// commentProblem checks a comment, required or not, and returns the
// message for its field ("" when fine).
func commentProblem(comment string, required bool) string {
	if required && strings.TrimSpace(comment) == "" {
		return "Say why."
	}
	if len(comment) > maxCommentLen || !utf8.ValidString(comment) {
		return fmt.Sprintf("must be valid text of at most %d bytes", maxCommentLen)
	}
	return ""
}

// checkComment is commentProblem as a ValidationError on "comment".
func checkComment(comment string, required bool) error {
	if msg := commentProblem(comment, required); msg != "" {
		return Invalid("comment", msg)
	}
	return nil
}

// checkPromotion checks what Promote and RequestPromotion are given and
// returns the items with canonical types and their source environment
// filled in. Keys, values and schemas are ApplyConfigs' to check.
func checkPromotion(from, to string, items []PromotionItem, comment string) ([]PromotionItem, error) {
	v := &ValidationError{}
	if checkEnv(from) != nil {
		v.Add("from", envNameRule)
	}
	if checkEnv(to) != nil {
		v.Add("to", envNameRule)
	} else if to == from {
		v.Add("to", "Choose an environment other than the source.")
	}
	switch {
	case len(items) == 0:
		v.Add("keys", "Choose at least one key to promote.")
	case len(items) > maxPromotionKeys:
		v.Add("keys", fmt.Sprintf("One promotion copies at most %d keys.", maxPromotionKeys))
	}
	if msg := commentProblem(comment, false); msg != "" {
		v.Add("comment", msg)
	}
	out := make([]PromotionItem, len(items))
	for i, it := range items {
		it.Tags = slices.Clone(it.Tags)
		if t, err := config.ParseType(string(it.Type)); err != nil {
			v.Add("keys", fmt.Sprintf("%s: %v", it.Key, err))
		} else {
			it.Type = t
		}
		if it.SourceEnv == "" {
			it.SourceEnv = from
		} else if checkEnv(it.SourceEnv) != nil {
			v.Add("keys", fmt.Sprintf("%s: comes from an invalid environment", it.Key))
		}
		if it.BaseVersion < 0 || it.SourceVersion < 0 {
			v.Add("keys", fmt.Sprintf("%s: versions cannot be negative", it.Key))
		}
		out[i] = it
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	return out, nil
}

// parentChain returns env and its ancestors, nearest first, following the
// parent links of the registered environments (an environment that is not
// registered has no parent). One round trip per level.
func (s *Store) parentChain(ctx context.Context, env string) ([]string, error) {
	chain := []string{env}
	for cur := env; len(chain) < maxChainDepth; {
		parent, err := s.rdb.HGet(ctx, s.envKey(cur), "parent").Result()
		if errors.Is(err, redis.Nil) {
			break
		}
		if err != nil {
			return nil, wrap(err)
		}
		if parent == "" || slices.Contains(chain, parent) {
			break
		}
		chain = append(chain, parent)
		cur = parent
	}
	return chain, nil
}

// sameEffective reports whether two entries give applications the same
// value; secrets are compared by their clear values, in memory only.
func (s *Store) sameEffective(a, b EffectiveEntry) (bool, error) {
	if a.Type != b.Type {
		return false, nil
	}
	if a.Type != config.TypeSecret {
		return a.Value == b.Value, nil
	}
	ca, err := s.openSecret(a.SourceEnv, a.Key, a.Value)
	if err != nil {
		return false, err
	}
	cb, err := s.openSecret(b.SourceEnv, b.Key, b.Value)
	if err != nil {
		return false, err
	}
	return ca == cb, nil
}

func itemOf(e EffectiveEntry, base int64) PromotionItem {
	return PromotionItem{Key: e.Key, Type: e.Type, Value: e.Value, SourceEnv: e.SourceEnv,
		SourceVersion: e.Version, BaseVersion: base, Description: e.Description, Tags: slices.Clone(e.Tags)}
}

// PlanPromotion reads what promoting from fromChain[0] to `to` would write:
// for each key, the value applications in the source receive (fromChain is
// the source and its ancestors, nearest first) and the target's own
// version of the key. Items come sorted by key.
//
// keys nil selects every key whose value differs between what applications
// in the source and in the target receive (the target's ancestors are
// followed too, so a key the target inherits with the same value is not a
// difference; secrets are compared by opening them, in memory). Keys only
// the target has are never selected: a promotion does not delete. A
// non-nil keys selects exactly those keys: an invalid key name, or a key
// the source does not have, gives a ValidationError on "keys".
func (s *Store) PlanPromotion(ctx context.Context, fromChain []string, to string, keys []string) ([]PromotionItem, error) {
	if len(fromChain) == 0 {
		return nil, Invalid("from", "is required")
	}
	for _, env := range fromChain {
		if checkEnv(env) != nil {
			return nil, Invalid("from", envNameRule)
		}
	}
	from := fromChain[0]
	switch {
	case checkEnv(to) != nil:
		return nil, Invalid("to", envNameRule)
	case to == from:
		return nil, Invalid("to", "Choose an environment other than the source.")
	}
	if keys == nil {
		return s.planDifferences(ctx, fromChain, to)
	}
	sel := slices.Clone(keys)
	slices.Sort(sel)
	sel = slices.Compact(sel)
	v := &ValidationError{}
	for _, k := range sel {
		if err := config.ValidKey(k); err != nil {
			v.Add("keys", fmt.Sprintf("%q: %v", k, err))
		}
	}
	if len(sel) == 0 {
		v.Add("keys", "Choose at least one key to promote.")
	}
	if len(sel) > maxPromotionKeys {
		v.Add("keys", fmt.Sprintf("One promotion copies at most %d keys.", maxPromotionKeys))
	}
	if err := v.OrNil(); err != nil {
		return nil, err
	}
	src, err := s.EffectiveConfigsFor(ctx, fromChain, sel)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range sel {
		if _, ok := src[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, Invalid("keys", fmt.Sprintf("not set in %s: %s", from, strings.Join(missing, ", ")))
	}
	own, err := s.EffectiveConfigsFor(ctx, []string{to}, sel)
	if err != nil {
		return nil, err
	}
	out := make([]PromotionItem, len(sel))
	for i, k := range sel {
		out[i] = itemOf(src[k], own[k].Version)
	}
	return out, nil
}

// planDifferences is PlanPromotion of every key that differs.
func (s *Store) planDifferences(ctx context.Context, fromChain []string, to string) ([]PromotionItem, error) {
	toChain, err := s.parentChain(ctx, to)
	if err != nil {
		return nil, err
	}
	src, _, err := s.EffectiveConfigs(ctx, fromChain)
	if err != nil {
		return nil, err
	}
	dst, _, err := s.EffectiveConfigs(ctx, toChain)
	if err != nil {
		return nil, err
	}
	byKey := make(map[string]EffectiveEntry, len(dst))
	for _, e := range dst {
		byKey[e.Key] = e
	}
	out := []PromotionItem{}
	for _, e := range src {
		base := int64(0)
		if t, ok := byKey[e.Key]; ok {
			same, err := s.sameEffective(e, t)
			if err != nil {
				return nil, err
			}
			if same {
				continue
			}
			if t.SourceEnv == to {
				base = t.Version
			}
		}
		out = append(out, itemOf(e, base))
	}
	return out, nil
}

// Promote writes items into `to` and records the promotion, all in one
// MULTI/EXEC: the values (history action "promote", audit config.promote per
// key), the record (status applied), its place in the promotions list, and
// the audit entry promotion.apply {id, from, to, keys, comment}. Every item
// is validated first (value, tags, the target's schemas): one invalid item
// gives a *ValidationError and nothing is written. A target key no longer
// at the item's BaseVersion gives a *ConfigConflict and nothing is written
// either. The caller checks that the actor may promote into `to` without
// approval. Events: configs (per key) and promotions.
func (s *Store) Promote(ctx context.Context, a Actor, from, to string, items []PromotionItem, comment string) (Promotion, error) {
	items, err := checkPromotion(from, to, items, comment)
	if err != nil {
		return Promotion{}, err
	}
	p := Promotion{From: from, To: to, Author: a.Name, Comment: comment, Items: items, Status: PromotionApplied}
	seqKey := s.cfgPromotionSeqKey(to)
	var (
		n   int64
		raw string
	)
	hook := &applyHook{
		watch: []string{seqKey},
		before: func(tx *redis.Tx) error {
			var err error
			if n, err = s.promotionSeq(ctx, tx, to); err != nil {
				return err
			}
			p.ID, p.Created = promotionID(to, n), s.clock()
			raw, err = marshalPromotion(p)
			return err
		},
		queue: func(pipe redis.Pipeliner, _ []ConfigEntry) {
			pipe.Set(ctx, seqKey, n, 0)
			pipe.Set(ctx, s.cfgPromotionKey(to, p.ID), raw, 0)
			pipe.ZAdd(ctx, s.cfgPromotionsKey(to), redis.Z{Score: float64(p.Created.UnixMilli()), Member: p.ID})
			s.appendAudit(pipe, cfgTag(to), a, "promotion.apply", p.ID, to, nil, promotionAudit(p))
		},
	}
	if _, err := s.applyConfigsWith(ctx, a, to, actionPromote, p.Writes(), hook); err != nil {
		return Promotion{}, err
	}
	s.changed(ctx, "promotions", "promotion.apply", p.ID, to, a)
	return p, nil
}

// RequestPromotion records a change request to promote items from `from`
// into `to`: status pending, audit change_request.create. Nothing else is
// written. The items are checked against the target now (CheckConfigs): a
// request that could not apply is refused with the same *ValidationError or
// *ConfigConflict Promote would give.
func (s *Store) RequestPromotion(ctx context.Context, a Actor, from, to string, items []PromotionItem, comment string) (Promotion, error) {
	items, err := checkPromotion(from, to, items, comment)
	if err != nil {
		return Promotion{}, err
	}
	p := Promotion{From: from, To: to, Author: a.Name, Comment: comment, Items: items, Status: RequestPending}
	if err := s.CheckConfigs(ctx, to, p.Writes()); err != nil {
		return Promotion{}, err
	}
	seqKey := s.cfgPromotionSeqKey(to)
	err = s.change(ctx, cfgTag(to), []string{seqKey}, func(tx *redis.Tx) error {
		n, err := s.promotionSeq(ctx, tx, to)
		if err != nil {
			return err
		}
		p.ID, p.Created = promotionID(to, n), s.clock()
		p.RequestID = p.ID
		raw, err := marshalPromotion(p)
		if err != nil {
			return err
		}
		created := redis.Z{Score: float64(p.Created.UnixMilli()), Member: p.ID}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, seqKey, n, 0)
			pipe.Set(ctx, s.cfgPromotionKey(to, p.ID), raw, 0)
			pipe.ZAdd(ctx, s.cfgRequestsKey(to), created)
			pipe.ZAdd(ctx, s.cfgPendingRequestsKey(to), created)
			s.appendAudit(pipe, cfgTag(to), a, "change_request.create", p.ID, to, nil, promotionAudit(p))
			return nil
		})
		return err
	})
	if err != nil {
		return Promotion{}, err
	}
	s.changed(ctx, "promotions", "change_request.create", p.ID, to, a)
	return p, nil
}

// GetPromotion returns a promotion or change request by id, or ErrNotFound.
func (s *Store) GetPromotion(ctx context.Context, id string) (Promotion, error) {
	p, _, err := s.readPromotion(ctx, s.rdb, id)
	return p, err
}

// readPromotion reads a record and returns it with its raw text.
func (s *Store) readPromotion(ctx context.Context, c redis.Cmdable, id string) (Promotion, string, error) {
	env, ok := promotionEnv(id)
	if !ok {
		return Promotion{}, "", ErrNotFound
	}
	raw, err := c.Get(ctx, s.cfgPromotionKey(env, id)).Result()
	if err != nil {
		return Promotion{}, "", wrap(err)
	}
	p, err := parsePromotion(id, raw)
	return p, raw, err
}

// notPending refuses to review p, which is not a pending change request.
func notPending(p Promotion) error {
	switch {
	case !p.IsRequest():
		return Conflictf("%s was promoted directly; there is nothing to review.", p.ID)
	case p.Status == RequestApproved:
		return Conflictf("This change request was already approved by %s.", p.Reviewer)
	case p.Status == RequestRejected:
		return Conflictf("This change request was already rejected by %s.", p.Reviewer)
	}
	return Conflictf("This change request is not pending.")
}

// ApprovePromotion approves a pending change request and applies it, in one
// MULTI/EXEC: the values (history "promote", audit config.promote per key,
// by the approver, with the request's comment), the request's status
// approved with reviewer, comment and time, its place in the promotions
// list, and the audit entry change_request.approve. The approver must not
// be the author, and the request must still be pending (its record is
// WATCHed: of two concurrent approvals one applies, the other gets a
// ConflictError). When a target key is no longer at the request's base
// version, it gives a *StaleRequestError and writes nothing; a value the
// target's schemas now reject gives a *ValidationError.
func (s *Store) ApprovePromotion(ctx context.Context, a Actor, id, comment string) (Promotion, error) {
	if err := checkComment(comment, false); err != nil {
		return Promotion{}, err
	}
	p, raw, err := s.readPromotion(ctx, s.rdb, id)
	if err != nil {
		return Promotion{}, err
	}
	if p.Status != RequestPending {
		return Promotion{}, notPending(p)
	}
	if a.Name == p.Author {
		return Promotion{}, Conflictf("You cannot approve your own change request.")
	}
	key := s.cfgPromotionKey(p.To, id)
	next := p
	next.Status, next.Reviewer, next.ReviewComment = RequestApproved, a.Name, comment
	var nextRaw string
	hook := &applyHook{
		watch: []string{key},
		before: func(tx *redis.Tx) error {
			cur, err := tx.Get(ctx, key).Result()
			if err != nil {
				return err
			}
			if cur != raw {
				q, err := parsePromotion(id, cur)
				if err != nil {
					return err
				}
				if q.Status != RequestPending {
					return notPending(q)
				}
				return Conflictf("This change request was refreshed meanwhile; review it again.")
			}
			next.Reviewed = s.clock()
			nextRaw, err = marshalPromotion(next)
			return err
		},
		queue: func(pipe redis.Pipeliner, _ []ConfigEntry) {
			pipe.Set(ctx, key, nextRaw, 0)
			pipe.ZRem(ctx, s.cfgPendingRequestsKey(p.To), id)
			pipe.ZAdd(ctx, s.cfgPromotionsKey(p.To), redis.Z{Score: float64(next.Reviewed.UnixMilli()), Member: id})
			s.appendAudit(pipe, cfgTag(p.To), a, "change_request.approve", id, p.To, nil, promotionAudit(next))
		},
	}
	if _, err := s.applyConfigsWith(ctx, a, p.To, actionPromote, p.Writes(), hook); err != nil {
		var cc *ConfigConflict
		if errors.As(err, &cc) {
			return Promotion{}, &StaleRequestError{ID: id, Key: cc.Key, err: Conflictf(staleRequestMessage)}
		}
		return Promotion{}, err
	}
	s.changed(ctx, "promotions", "change_request.approve", id, p.To, a)
	return next, nil
}

// RejectPromotion rejects a pending change request with a comment (required,
// field "comment"); audit change_request.reject. Nothing else changes.
func (s *Store) RejectPromotion(ctx context.Context, a Actor, id, comment string) (Promotion, error) {
	if err := checkComment(comment, true); err != nil {
		return Promotion{}, err
	}
	env, ok := promotionEnv(id)
	if !ok {
		return Promotion{}, ErrNotFound
	}
	key := s.cfgPromotionKey(env, id)
	var next Promotion
	err := s.change(ctx, cfgTag(env), []string{key}, func(tx *redis.Tx) error {
		p, _, err := s.readPromotion(ctx, tx, id)
		if err != nil {
			return err
		}
		if p.Status != RequestPending {
			return notPending(p)
		}
		next = p
		next.Status, next.Reviewer, next.ReviewComment, next.Reviewed = RequestRejected, a.Name, comment, s.clock()
		raw, err := marshalPromotion(next)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, key, raw, 0)
			pipe.ZRem(ctx, s.cfgPendingRequestsKey(env), id)
			s.appendAudit(pipe, cfgTag(env), a, "change_request.reject", id, env, nil, promotionAudit(next))
			return nil
		})
		return err
	})
	if err != nil {
		return Promotion{}, err
	}
	s.changed(ctx, "promotions", "change_request.reject", id, env, a)
	return next, nil
}

// RefreshPromotion brings a pending change request up to date: it reads the
// same keys again from the source (fromChain: the request's source
// environment and its ancestors, nearest first) and the target's current
// versions, checks them as RequestPromotion does, and stores them; the
// request stays pending (audit change_request.refresh). The caller checks
// that the actor may refresh it.
func (s *Store) RefreshPromotion(ctx context.Context, a Actor, id string, fromChain []string) (Promotion, error) {
	p, raw, err := s.readPromotion(ctx, s.rdb, id)
	if err != nil {
		return Promotion{}, err
	}
	if p.Status != RequestPending {
		return Promotion{}, notPending(p)
	}
	if len(fromChain) == 0 || fromChain[0] != p.From {
		return Promotion{}, Invalid("from", "must start with the request's source environment, "+p.From)
	}
	items, err := s.PlanPromotion(ctx, fromChain, p.To, p.Keys())
	if err != nil {
		return Promotion{}, err
	}
	next := p
	next.Items = items
	if err := s.CheckConfigs(ctx, p.To, next.Writes()); err != nil {
		return Promotion{}, err
	}
	nextRaw, err := marshalPromotion(next)
	if err != nil {
		return Promotion{}, err
	}
	key := s.cfgPromotionKey(p.To, id)
	err = s.change(ctx, cfgTag(p.To), []string{key}, func(tx *redis.Tx) error {
		cur, err := tx.Get(ctx, key).Result()
		if err != nil {
			return err
		}
		if cur != raw {
			q, err := parsePromotion(id, cur)
			if err != nil {
				return err
			}
			if q.Status != RequestPending {
				return notPending(q)
			}
			return Conflictf("This change request was changed meanwhile; reload it and try again.")
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, key, nextRaw, 0)
			s.appendAudit(pipe, cfgTag(p.To), a, "change_request.refresh", id, p.To, nil, promotionAudit(next))
			return nil
		})
		return err
	})
	if err != nil {
		return Promotion{}, err
	}
	s.changed(ctx, "promotions", "change_request.refresh", id, p.To, a)
	return next, nil
}

// PromotionStale reports whether a pending change request's target moved
// on: some key is no longer at the item's BaseVersion. One round trip.
// Anything but a pending request is never stale.
func (s *Store) PromotionStale(ctx context.Context, p Promotion) (bool, error) {
	if p.Status != RequestPending || len(p.Items) == 0 {
		return false, nil
	}
	if err := checkEnv(p.To); err != nil {
		return false, err
	}
	vals, err := s.rdb.HMGet(ctx, s.cfgEntriesKey(p.To), p.Keys()...).Result()
	if err != nil {
		return false, wrap(err)
	}
	for i, it := range p.Items {
		version := int64(0)
		if raw, ok := vals[i].(string); ok {
			e, err := parseEntry(it.Key, raw)
			if err != nil {
				return false, err
			}
			version = e.N
		}
		if version != it.BaseVersion {
			return true, nil
		}
	}
	return false, nil
}

func listLimit(limit int) int {
	if limit <= 0 {
		return promotionListDefault
	}
	return min(limit, promotionListMax)
}

// readPromotions reads the records of ids (each in the group its id names)
// in one pipelined round trip, skipping any that is gone.
func (s *Store) readPromotions(ctx context.Context, ids []string) ([]Promotion, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, id := range ids {
			env, _ := promotionEnv(id)
			cmds[i] = pipe.Get(ctx, s.cfgPromotionKey(env, id))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, wrap(err)
	}
	out := make([]Promotion, 0, len(ids))
	for i, c := range cmds {
		raw, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, wrap(err)
		}
		p, err := parsePromotion(ids[i], raw)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// readIndexes reads the newest limit ids of one zset per environment
// (index(env)) in one pipelined round trip, keeping only well-formed ids.
func (s *Store) readIndexes(ctx context.Context, envs []string, limit int, index ...func(string) string) ([]string, error) {
	for _, env := range envs {
		if err := checkEnv(env); err != nil {
			return nil, err
		}
	}
	var cmds []*redis.StringSliceCmd
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, env := range envs {
			for _, idx := range index {
				cmds = append(cmds, pipe.ZRevRange(ctx, idx(env), 0, int64(limit-1)))
			}
		}
		return nil
	}); err != nil {
		return nil, wrap(err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, c := range cmds {
		for _, id := range c.Val() {
			if _, ok := promotionEnv(id); ok && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// newestFirst orders promotions by at, newest first; ties by target and
// number, the later first.
func newestFirst(at func(Promotion) time.Time) func(a, b Promotion) int {
	return func(a, b Promotion) int {
		if c := at(b).Compare(at(a)); c != 0 {
			return c
		}
		if c := cmp.Compare(a.To, b.To); c != 0 {
			return c
		}
		na, _ := strconv.ParseInt(a.ID[strings.LastIndexByte(a.ID, '-')+1:], 10, 64)
		nb, _ := strconv.ParseInt(b.ID[strings.LastIndexByte(b.ID, '-')+1:], 10, 64)
		return cmp.Compare(nb, na)
	}
}

// ListPromotions returns the applied promotions into envs, newest applied
// first, at most limit (default 50, at most 500): direct promotions and
// approved change requests. Two round trips.
func (s *Store) ListPromotions(ctx context.Context, envs []string, limit int) ([]Promotion, error) {
	limit = listLimit(limit)
	ids, err := s.readIndexes(ctx, envs, limit, s.cfgPromotionsKey)
	if err != nil {
		return nil, err
	}
	out, err := s.readPromotions(ctx, ids)
	if err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(p Promotion) bool { return p.AppliedAt().IsZero() })
	slices.SortFunc(out, newestFirst(Promotion.AppliedAt))
	return out[:min(len(out), limit)], nil
}

// ListChangeRequests returns the change requests into envs, at most limit
// (default 50, at most 500): the pending ones first, then the others
// (approved, rejected), each newest first. Two round trips.
func (s *Store) ListChangeRequests(ctx context.Context, envs []string, limit int) ([]Promotion, error) {
	limit = listLimit(limit)
	ids, err := s.readIndexes(ctx, envs, limit, s.cfgPendingRequestsKey, s.cfgRequestsKey)
	if err != nil {
		return nil, err
	}
	all, err := s.readPromotions(ctx, ids)
	if err != nil {
		return nil, err
	}
	created := func(p Promotion) time.Time { return p.Created }
	var pending, rest []Promotion
	for _, p := range all {
		if p.Status == RequestPending {
			pending = append(pending, p)
		} else {
			rest = append(rest, p)
		}
	}
	slices.SortFunc(pending, newestFirst(created))
	slices.SortFunc(rest, newestFirst(created))
	out := append(pending, rest...)
	return out[:min(len(out), limit)], nil
}
