package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/store"
)

// configJSON is one config value as the API delivers it.
type configJSON struct {
	Key         string          `json:"key"`
	Type        string          `json:"type"`
	Value       json.RawMessage `json:"value"`
	Masked      bool            `json:"masked,omitempty"` // a secret this caller may not receive
	Version     int64           `json:"version"`
	SourceEnv   string          `json:"source_env"`
	ExpiresAt   string          `json:"expires_at,omitempty"`
	Description string          `json:"description,omitempty"`
	Tags        []string        `json:"tags,omitempty"`
	UpdatedAt   string          `json:"updated_at"`
	UpdatedBy   string          `json:"updated_by"`
}

var jsonNull = json.RawMessage("null")

// toConfigJSON renders an entry; secrets in clear only when clear is true.
func (s *Server) toConfigJSON(e store.ConfigEntry, source string, clear bool) (configJSON, error) {
	out := configJSON{Key: e.Key, Type: string(e.Type), Version: e.Version, SourceEnv: source,
		ExpiresAt: rfc3339(e.ExpiresAt), Description: e.Description, Tags: e.Tags,
		UpdatedAt: rfc3339(e.UpdatedAt), UpdatedBy: e.UpdatedBy}
	if e.Type != config.TypeSecret {
		out.Value = config.JSONValue(e.Type, e.Value)
		return out, nil
	}
	if !clear {
		out.Value, out.Masked = jsonNull, true
		return out, nil
	}
	v, err := s.st.OpenSecret(e.Env, e.Key, e.Value)
	if err != nil {
		return out, err
	}
	out.Value = config.JSONValue(config.TypeString, v)
	return out, nil
}

// consumerEnv resolves the {env} of an API route and checks the caller may
// use perm there.
func (s *Server) consumerEnv(c echo.Context, perm auth.Permission) ([]string, store.Environment, error) {
	return s.resolveEnv(c, c.Param("env"), perm)
}

func etagOf(rev store.Revision, clear bool) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s|%t", rev, clear)))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// cachedBody is a rendered snapshot and the watch position it was read at.
type cachedBody struct {
	body     []byte
	position string
}

// etagMatches implements If-None-Match (a list, or *).
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// ConsumerConfigs answers the effective configuration of an environment:
// its own values and those it inherits, nearest first. The ETag follows the
// revision of every environment of the chain; If-None-Match answers 304
// without touching Redis in the common case. Keel-Watch-Position is where a
// watch continues from after this snapshot.
func (s *Server) ConsumerConfigs(c echo.Context) error {
	chain, _, err := s.consumerEnv(c, auth.PermRead)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clear := principal(c).ReceivesSecrets()
	rev, err := s.consumer.revision(ctx, s.st, chain)
	if err != nil {
		return err
	}
	etag := etagOf(rev, clear)
	h := c.Response().Header()
	h.Set("Cache-Control", "no-cache")
	if cb, ok := s.consumer.body(etag); ok {
		if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
			return s.notModified(c, etag, cb.position)
		}
		return s.writeSnapshot(c, etag, cb)
	}
	pos, err := s.st.ConfigPositions(ctx, chain)
	if err != nil {
		return err
	}
	entries, rev, err := s.st.EffectiveConfigs(ctx, chain)
	if err != nil {
		return err
	}
	out := make([]configJSON, 0, len(entries))
	for _, e := range entries {
		j, err := s.toConfigJSON(e.ConfigEntry, e.SourceEnv, clear)
		if err != nil {
			return err
		}
		out = append(out, j)
	}
	body, err := json.Marshal(map[string]any{"configs": out})
	if err != nil {
		return err
	}
	etag = etagOf(rev, clear)
	cb := cachedBody{body: body, position: formatPositions(chain, pos)}
	s.consumer.putBody(etag, cb)
	if etagMatches(c.Request().Header.Get("If-None-Match"), etag) {
		return s.notModified(c, etag, cb.position)
	}
	return s.writeSnapshot(c, etag, cb)
}

// notModified answers 304 with the validator and the watch position.
func (s *Server) notModified(c echo.Context, etag, position string) error {
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Keel-Watch-Position", position)
	return c.NoContent(http.StatusNotModified)
}

func (s *Server) writeSnapshot(c echo.Context, etag string, cb cachedBody) error {
	h := c.Response().Header()
	h.Set("ETag", etag)
	h.Set("Keel-Watch-Position", cb.position)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, cb.body)
}

// configKeyParam reads the URL-escaped {key} of a route.
func configKeyParam(c echo.Context) (string, error) {
	k, err := url.PathUnescape(c.Param("key"))
	if err != nil || config.ValidKey(k) != nil {
		return "", store.ErrNotFound
	}
	return k, nil
}

// ConsumerConfig answers one key's effective value.
func (s *Server) ConsumerConfig(c echo.Context) error {
	chain, _, err := s.consumerEnv(c, auth.PermRead)
	if err != nil {
		return err
	}
	key, err := configKeyParam(c)
	if err != nil {
		return err
	}
	e, err := s.st.EffectiveConfig(c.Request().Context(), chain, key)
	if err != nil {
		return err
	}
	j, err := s.toConfigJSON(e.ConfigEntry, e.SourceEnv, principal(c).ReceivesSecrets())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, j)
}

// watchEvent is the data of a watch "change" event: the new effective state
// of one key ("set"), or its absence ("delete").
type watchEvent struct {
	Key       string          `json:"key"`
	Action    string          `json:"action"`
	Type      string          `json:"type,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
	Masked    bool            `json:"masked,omitempty"`
	Version   int64           `json:"version"`
	SourceEnv string          `json:"source_env,omitempty"`
}

// watchReplayMax bounds how many missed changes one reconnect replays;
// past it the client gets a reset and refetches.
const watchReplayMax = 10000

// WatchConfigs streams an environment's changes as server-sent events. A
// client that reconnects with Last-Event-ID receives every change it
// missed, from the durable change streams of the environment and its
// ancestors, or a "reset" event when that point is gone.
func (s *Server) WatchConfigs(c echo.Context) error {
	chain, _, err := s.consumerEnv(c, auth.PermRead)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clear := principal(c).ReceivesSecrets()

	// Follow live changes first, so none falls between replay and live.
	merged := make(chan store.ConfigChange, feedBuffer)
	lost := make(chan struct{}, 1)
	for _, env := range chain {
		ch, cancel := s.feeds.subscribe(env)
		defer cancel()
		go func() {
			for ch := range ch {
				select {
				case merged <- ch:
				case <-ctx.Done():
					return
				}
			}
			select { // the feed dropped us: end, the client replays
			case lost <- struct{}{}:
			default:
			}
		}()
	}

	last := c.Request().Header.Get("Last-Event-ID")
	if last == "" {
		last = c.QueryParam("last_event_id")
	}
	var replay []store.ConfigChange
	pos, known := parsePositions(chain, last)
	reset := last != "" && !known
	if known {
		for _, env := range chain {
			changes, r, err := s.st.ConfigChangesAfter(ctx, env, pos[env], watchReplayMax)
			if err != nil {
				return err
			}
			if r || len(changes) >= watchReplayMax {
				reset = true
				break
			}
			replay = append(replay, changes...)
		}
	}
	if !known || reset {
		replay = nil
		if pos, err = s.st.ConfigPositions(ctx, chain); err != nil {
			return err
		}
	}
	sort.SliceStable(replay, func(i, j int) bool { return streamIDLess(replay[i].ID, replay[j].ID) })

	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 1000\n: watching "+chain[0]+"\n\n"); err != nil {
		return nil
	}
	if reset {
		if _, err := fmt.Fprintf(w, "event: reset\nid: %s\ndata: {}\n\n", formatPositions(chain, pos)); err != nil {
			return nil
		}
	}
	send := func(ch store.ConfigChange) error {
		if !streamIDLess(pos[ch.Env], ch.ID) {
			return nil // already sent
		}
		ev, err := s.watchEventFor(c, chain, ch.Key, clear)
		if err != nil {
			return err
		}
		pos[ch.Env] = ch.ID
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "event: change\nid: %s\ndata: %s\n\n", formatPositions(chain, pos), b)
		return err
	}
	for _, ch := range replay {
		if err := send(ch); err != nil {
			return nil
		}
	}
	w.Flush()

	ping := time.NewTicker(ssePing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return nil
		case <-lost:
			return nil
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case ch := <-merged:
			if err := send(ch); err != nil {
				return nil
			}
			// Send what else is already waiting before flushing.
			for drained := false; !drained; {
				select {
				case more := <-merged:
					if err := send(more); err != nil {
						return nil
					}
				default:
					drained = true
				}
			}
			w.Flush()
		}
	}
}

// watchEventFor builds the event for a change of key: its effective state
// now.
func (s *Server) watchEventFor(c echo.Context, chain []string, key string, clear bool) (watchEvent, error) {
	e, err := s.st.EffectiveConfig(c.Request().Context(), chain, key)
	if errors.Is(err, store.ErrNotFound) {
		return watchEvent{Key: key, Action: "delete"}, nil
	}
	if err != nil {
		return watchEvent{}, err
	}
	j, err := s.toConfigJSON(e.ConfigEntry, e.SourceEnv, clear)
	if err != nil {
		return watchEvent{}, err
	}
	return watchEvent{Key: key, Action: "set", Type: j.Type, Value: j.Value, Masked: j.Masked,
		Version: j.Version, SourceEnv: j.SourceEnv}, nil
}
