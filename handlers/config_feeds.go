package handlers

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keelhq/keel/store"
)

// configFeeds follows each watched environment's durable change stream once
// per process (one blocking XREAD loop per environment) and fans the changes
// out to every watch stream of this process that needs them.
type configFeeds struct {
	st  *store.Store
	log *slog.Logger

	mu    sync.Mutex
	feeds map[string]*envFeed
}

type envFeed struct {
	subs   map[chan store.ConfigChange]struct{}
	cancel context.CancelFunc
}

// feedBuffer is how many changes a slow watcher may fall behind before it is
// disconnected (it then reconnects and replays from its last event id).
const feedBuffer = 1024

func newConfigFeeds(st *store.Store, log *slog.Logger) *configFeeds {
	return &configFeeds{st: st, log: log, feeds: map[string]*envFeed{}}
}

// subscribe delivers env's changes from now on; the channel closes when the
// subscriber falls too far behind. cancel ends the subscription.
func (f *configFeeds) subscribe(env string) (<-chan store.ConfigChange, func()) {
	ch := make(chan store.ConfigChange, feedBuffer)
	f.mu.Lock()
	feed, ok := f.feeds[env]
	if !ok {
		ctx, cancel := context.WithCancel(context.Background())
		feed = &envFeed{subs: map[chan store.ConfigChange]struct{}{}, cancel: cancel}
		f.feeds[env] = feed
		go f.follow(ctx, env, feed)
	}
	feed.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := feed.subs[ch]; ok {
			delete(feed.subs, ch)
			close(ch)
		}
		if len(feed.subs) == 0 && f.feeds[env] == feed {
			feed.cancel()
			delete(f.feeds, env)
		}
	}
}

// follow reads env's stream until ctx ends, from the position it had when
// the feed started.
func (f *configFeeds) follow(ctx context.Context, env string, feed *envFeed) {
	last := ""
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if last == "" {
			id, err := f.st.LastConfigChangeID(ctx, env)
			if err != nil {
				f.wait(ctx, &backoff, env, err)
				continue
			}
			last = id
		}
		changes, err := f.st.ReadConfigChanges(ctx, env, last, time.Second)
		if err != nil {
			f.wait(ctx, &backoff, env, err)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, c := range changes {
			f.broadcast(feed, c)
			last = c.ID
		}
	}
}

func (f *configFeeds) wait(ctx context.Context, backoff *time.Duration, env string, err error) {
	if ctx.Err() != nil {
		return
	}
	f.log.Warn("following config changes", "env", env, "err", err.Error())
	select {
	case <-ctx.Done():
	case <-time.After(*backoff):
	}
	*backoff = min(*backoff*2, 5*time.Second)
}

func (f *configFeeds) broadcast(feed *envFeed, c store.ConfigChange) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range feed.subs {
		select {
		case ch <- c:
		default:
			// Too far behind: drop the subscriber; it replays on reconnect.
			delete(feed.subs, ch)
			close(ch)
		}
	}
}

// streamIDLess compares two stream ids ("<ms>-<seq>").
func streamIDLess(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}

// formatPositions writes a watch event id: "env:id,env:id" in chain order.
func formatPositions(chain []string, pos map[string]string) string {
	parts := make([]string, 0, len(chain))
	for _, env := range chain {
		id := pos[env]
		if id == "" {
			id = "0-0"
		}
		parts = append(parts, env+":"+id)
	}
	return strings.Join(parts, ",")
}

// parsePositions reads a watch event id; ok is false when it is malformed
// or names another chain (the environment's parent changed).
func parsePositions(chain []string, s string) (map[string]string, bool) {
	pos := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		env, id, ok := strings.Cut(part, ":")
		if !ok {
			return nil, false
		}
		m, sq, ok := strings.Cut(id, "-")
		if !ok {
			return nil, false
		}
		if _, err := strconv.ParseUint(m, 10, 64); err != nil {
			return nil, false
		}
		if _, err := strconv.ParseUint(sq, 10, 64); err != nil {
			return nil, false
		}
		pos[env] = id
	}
	if len(pos) != len(chain) {
		return nil, false
	}
	for _, env := range chain {
		if _, ok := pos[env]; !ok {
			return nil, false
		}
	}
	return pos, true
}
