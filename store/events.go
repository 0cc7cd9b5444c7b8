package store

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Publish sends ev as JSON on s.EventsChannel(). Mutating methods publish
// after their transaction commits: a PUBLISH inside a Cluster MULTI would be
// tied to the transaction's slot for nothing, and an event must never
// announce a change that did not happen. At defaults to the store clock.
func (s *Store) Publish(ctx context.Context, ev Event) error {
	if ev.At.IsZero() {
		ev.At = s.clock()
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return wrap(s.rdb.Publish(ctx, s.EventsChannel(), b).Err())
}

// hubBuffer is each subscriber's channel capacity.
const hubBuffer = 64

// Hub holds one Redis subscription per process and fans its events out to
// many local subscribers (the SSE streams of open pages).
type Hub struct {
	s      *Store
	logger *slog.Logger

	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

// NewHub returns a Hub over s's events channel; start it with Run. A nil
// logger discards the log.
func (s *Store) NewHub(logger *slog.Logger) *Hub {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Hub{s: s, logger: logger, subs: map[chan Event]struct{}{}}
}

// Subscribe registers a subscriber. Its channel is buffered; when it is full
// the subscriber misses events rather than slowing the others. cancel
// unregisters and closes the channel (calling it again is harmless). When
// Run returns, every channel is closed, so streams end on shutdown.
func (h *Hub) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, hubBuffer)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(ch)
		return ch, func() {}
	}
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := h.subs[ch]; ok {
				delete(h.subs, ch)
				close(ch)
			}
		})
	}
}

// Subscribers is the number of current subscribers.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *Hub) broadcast(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- ev:
		default: // slow subscriber: drop rather than block the others
		}
	}
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// Run receives events until ctx is done, then closes every subscriber's
// channel and returns nil. When Redis goes away it keeps trying to
// subscribe again (go-redis also reconnects an established subscription by
// itself), so live pages recover without a restart.
func (h *Hub) Run(ctx context.Context) error {
	defer h.closeAll()
	wait := 100 * time.Millisecond
	for {
		delivered, err := h.listen(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if delivered {
			wait = 100 * time.Millisecond
		}
		h.logger.Warn("events subscription lost; subscribing again", "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// listen holds one subscription until it breaks or ctx is done. delivered
// says whether it got as far as receiving.
func (h *Hub) listen(ctx context.Context) (bool, error) {
	ps := h.s.rdb.Subscribe(ctx, h.s.EventsChannel())
	defer ps.Close()
	// The first reply confirms the subscription (or reports Redis down).
	if _, err := ps.Receive(ctx); err != nil {
		return false, err
	}
	msgs := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case m, ok := <-msgs:
			if !ok {
				return true, errors.New("subscription closed")
			}
			var ev Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
				h.logger.Warn("dropping malformed event", "err", err)
				continue
			}
			h.broadcast(ev)
		}
	}
}

// Follow calls fn for every event until ctx ends or the hub stops: for
// background work that reacts to changes (cache invalidation, key reloads).
func (h *Hub) Follow(ctx context.Context, fn func(Event)) {
	events, cancel := h.Subscribe()
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			fn(ev)
		}
	}
}
