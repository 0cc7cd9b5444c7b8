package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/rbcervilla/redisstore/v9"

	"github.com/keelhq/keel/store"
)

// SessionConfig configures browser sessions.
type SessionConfig struct {
	CookieName string        // default "keel_session"
	Idle       time.Duration // default 30m: a session unused this long ends
	Absolute   time.Duration // default 12h: a session ends this long after sign-in
	Secure     bool          // Secure cookies (TLS or KEEL_SECURE_COOKIES=1)
	// TouchEvery limits how often activity is written back (default 1m).
	TouchEvery time.Duration
}

func (c *SessionConfig) defaults() {
	if c.CookieName == "" {
		c.CookieName = "keel_session"
	}
	if c.Idle <= 0 {
		c.Idle = 30 * time.Minute
	}
	if c.Absolute <= 0 {
		c.Absolute = 12 * time.Hour
	}
	if c.TouchEvery <= 0 {
		c.TouchEvery = time.Minute
	}
	if c.TouchEvery > c.Idle/2 {
		c.TouchEvery = c.Idle / 2
	}
}

// Session values kept in the gorilla session.
const (
	valHandle = "handle"
	valUser   = "user"
	valCSRF   = "csrf"
	valSeen   = "seen" // unix seconds of the last write-back
)

// Sessions manages browser sessions: gorilla/sessions data kept in Redis by
// redisstore, plus Keel's session registry (store.Session), which is what
// makes a session valid. Revoking a session deletes both in one step.
type Sessions struct {
	rs  *redisstore.RedisStore
	st  *store.Store
	cfg SessionConfig
	now func() time.Time
}

// NewSessions builds the session manager over st's Redis.
func NewSessions(ctx context.Context, st *store.Store, cfg SessionConfig) (*Sessions, error) {
	cfg.defaults()
	rs, err := redisstore.NewRedisStore(ctx, st.Client())
	if err != nil && !store.IsUnavailable(err) {
		return nil, fmt.Errorf("session store: %w", err)
	}
	rs.KeyPrefix(st.SessionDataPrefix())
	rs.Serializer(sessionSerializer{})
	rs.Options(sessions.Options{
		Path:     "/",
		MaxAge:   int(cfg.Idle / time.Second),
		HttpOnly: true,
		Secure:   cfg.Secure,
		SameSite: http.SameSiteLaxMode,
	})
	return &Sessions{rs: rs, st: st, cfg: cfg, now: time.Now}, nil
}

// Config returns the effective configuration.
func (m *Sessions) Config() SessionConfig { return m.cfg }

// HandleOf derives the public handle of a session id.
func HandleOf(id string) string {
	sum := sha256.Sum256([]byte("keel-session-handle:" + id))
	return hex.EncodeToString(sum[:8])
}

// SessionState is the loaded session of one request.
type SessionState struct {
	Principal *Principal
	CSRF      string
	User      store.User
	Session   store.Session
}

// Start signs a user in: it ends any session the request carried, creates a
// session with a fresh id (a planted id is never kept), registers it with the
// audit entry "auth.login", and sets the cookie.
func (m *Sessions) Start(w http.ResponseWriter, r *http.Request, u store.User, actor store.Actor) (*SessionState, error) {
	if old, err := m.rs.New(r, m.cfg.CookieName); err == nil && old.ID != "" {
		if h, ok := old.Values[valHandle].(string); ok && h != "" {
			_ = m.st.EndSession(r.Context(), actor, h)
		}
	}
	now := m.now()
	sess := sessions.NewSession(m.rs, m.cfg.CookieName)
	opts := m.baseOptions()
	sess.Options = &opts
	sess.IsNew = true
	sess.ID = randomString(48)
	handle := HandleOf(sess.ID)
	csrf := randomString(32)
	sess.Values[valHandle] = handle
	sess.Values[valUser] = u.Name
	sess.Values[valCSRF] = csrf
	sess.Values[valSeen] = now.Unix()
	rec := store.Session{
		ID: sess.ID, Handle: handle, User: u.Name, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(m.cfg.Absolute), IP: actor.IP, UserAgent: actor.UserAgent,
	}
	if err := m.st.CreateSession(r.Context(), actor, rec, m.cfg.Idle); err != nil {
		return nil, err
	}
	if err := m.rs.Save(r, w, sess); err != nil {
		return nil, err
	}
	role, _ := ParseRole(u.Role)
	return &SessionState{
		Principal: &Principal{Kind: KindUser, Name: u.Name, Role: role, SessionHandle: handle},
		CSRF:      csrf, User: u, Session: rec,
	}, nil
}

func (m *Sessions) baseOptions() sessions.Options {
	return sessions.Options{
		Path: "/", MaxAge: int(m.cfg.Idle / time.Second), HttpOnly: true,
		Secure: m.cfg.Secure, SameSite: http.SameSiteLaxMode,
	}
}

// Load returns the request's valid session, or ErrUnauthenticated. A session
// is valid while its registry entry exists (not revoked, not idle-expired),
// before its absolute end, and while its user exists and is enabled. The role
// always comes from the user record. Activity is written back at most once
// per TouchEvery, refreshing the cookie too.
func (m *Sessions) Load(w http.ResponseWriter, r *http.Request) (*SessionState, error) {
	c, err := r.Cookie(m.cfg.CookieName)
	if err != nil || c.Value == "" {
		return nil, ErrUnauthenticated
	}
	sess, err := m.rs.New(r, m.cfg.CookieName)
	if err != nil {
		if store.IsUnavailable(err) {
			return nil, fmt.Errorf("load session: %w", store.ErrUnavailable)
		}
		return nil, ErrUnauthenticated
	}
	if sess.IsNew {
		return nil, ErrUnauthenticated
	}
	handle, _ := sess.Values[valHandle].(string)
	name, _ := sess.Values[valUser].(string)
	csrf, _ := sess.Values[valCSRF].(string)
	if handle == "" || name == "" || csrf == "" || HandleOf(sess.ID) != handle {
		return nil, ErrUnauthenticated
	}
	rec, u, err := m.st.SessionWithUser(r.Context(), handle, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrUnauthenticated
		}
		return nil, err
	}
	now := m.now()
	role, err := ParseRole(u.Role)
	if err != nil || u.Disabled {
		return nil, ErrUnauthenticated
	}
	if seen, _ := sess.Values[valSeen].(int64); now.Sub(time.Unix(seen, 0)) >= m.cfg.TouchEvery {
		sess.Values[valSeen] = now.Unix()
		if err := m.st.TouchSession(r.Context(), handle, m.cfg.Idle, now); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil, ErrUnauthenticated
			}
			return nil, err
		}
		opts := m.baseOptions()
		sess.Options = &opts
		if err := m.rs.Save(r, w, sess); err != nil {
			return nil, err
		}
	}
	return &SessionState{
		Principal: &Principal{Kind: KindUser, Name: u.Name, Role: role, SessionHandle: handle},
		CSRF:      csrf, User: u, Session: rec,
	}, nil
}

// End signs the request's session out ("auth.logout") and clears the cookie.
func (m *Sessions) End(w http.ResponseWriter, r *http.Request, s *SessionState, actor store.Actor) error {
	err := m.st.EndSession(r.Context(), actor, s.Principal.SessionHandle)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	m.ClearCookie(w)
	return nil
}

// ClearCookie expires the session cookie in the browser.
func (m *Sessions) ClearCookie(w http.ResponseWriter) {
	opts := m.baseOptions()
	opts.MaxAge = -1
	http.SetCookie(w, sessions.NewCookie(m.cfg.CookieName, "", &opts))
}

// sessionData is what a Keel session keeps; sessionSerializer stores it as
// compact JSON (gob would build a decoder, with its type information, on
// every request).
type sessionData struct {
	Handle string `json:"h"`
	User   string `json:"u"`
	CSRF   string `json:"c"`
	Seen   int64  `json:"s"`
}

type sessionSerializer struct{}

func (sessionSerializer) Serialize(s *sessions.Session) ([]byte, error) {
	d := sessionData{}
	d.Handle, _ = s.Values[valHandle].(string)
	d.User, _ = s.Values[valUser].(string)
	d.CSRF, _ = s.Values[valCSRF].(string)
	d.Seen, _ = s.Values[valSeen].(int64)
	return json.Marshal(d)
}

func (sessionSerializer) Deserialize(b []byte, s *sessions.Session) error {
	var d sessionData
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	s.Values[valHandle], s.Values[valUser], s.Values[valCSRF], s.Values[valSeen] = d.Handle, d.User, d.CSRF, d.Seen
	return nil
}
