package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
)

// topicPerm is the permission needed to hear of changes to a topic; topics
// not listed need only PermRead.
var topicPerm = map[string]auth.Permission{
	"users":    auth.PermManageUsers,
	"sessions": auth.PermManageUsers,
	"tokens":   auth.PermManageTokens,
	"settings": auth.PermManageSettings,
}

// ssePing is how often an idle stream sends a comment, so proxies keep it
// open and a dead client is noticed.
const ssePing = 20 * time.Second

// Events is the one live-update stream of a browser tab: server-sent events
// relaying the change events (from every Keel process, through Redis
// pub/sub) that the user may see. The browser's EventSource reconnects by
// itself; a user whose session ends is disconnected at the next event.
func (s *Server) Events(c echo.Context) error {
	me := principal(c)
	events, cancel := s.hub.Subscribe()
	defer cancel()
	s.metrics.SSEClients.Inc()
	defer s.metrics.SSEClients.Dec()

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil {
		return nil
	}
	w.Flush()

	ping := time.NewTicker(ssePing)
	defer ping.Stop()
	ctx := c.Request().Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.stopping:
			return nil
		case <-ping.C:
			if _, err := s.st.GetSession(ctx, me.SessionHandle); errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			w.Flush()
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if !visible(me, ev) {
				continue
			}
			if ev.Topic == "sessions" || ev.Topic == "users" {
				// A revoked or disabled user must not keep listening.
				if _, err := s.st.GetSession(ctx, me.SessionHandle); err != nil {
					return nil
				}
			}
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return nil
			}
			w.Flush()
		}
	}
}

func visible(p *auth.Principal, ev store.Event) bool {
	if perm, ok := topicPerm[ev.Topic]; ok {
		return p.Has(perm)
	}
	return p.Has(auth.PermRead)
}
