package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
)

// startHub runs a hub until the test ends.
func startHub(t *testing.T, s *Store) *Hub {
	t.Helper()
	h := s.NewHub(nil)
	hctx, stop := context.WithCancel(bg)
	done := make(chan struct{})
	go func() { h.Run(hctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	return h
}

// publishUntil publishes ev until ch delivers an event for target (the
// hub's subscription becomes live asynchronously) and returns it.
func publishUntil(t *testing.T, s *Store, ch <-chan Event, target string) Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.Publish(bg, Event{Topic: "test", Action: "ping", Target: target})
		select {
		case ev := <-ch:
			if ev.Target == target {
				return ev
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no event for %s", target)
	return Event{}
}

func TestHubFanOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		clk := useClock(s, baseTime)
		h := startHub(t, s)
		a, cancelA := h.Subscribe()
		b, cancelB := h.Subscribe()
		defer cancelB()
		if n := h.Subscribers(); n != 2 {
			t.Fatalf("Subscribers = %d", n)
		}
		publishUntil(t, s, a, "ready")

		mustCreateUser(t, s, "alice", "viewer")
		for name, ch := range map[string]<-chan Event{"a": a, "b": b} {
			for {
				select {
				case ev := <-ch:
					if ev.Topic != "users" {
						continue // a leftover readiness ping
					}
					want := Event{Topic: "users", Action: "user.create", Target: "alice", Actor: "root", RequestID: "req-1", At: clk.Now()}
					if ev != want {
						t.Fatalf("subscriber %s got %+v, want %+v", name, ev, want)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("subscriber %s got nothing", name)
				}
				break
			}
		}

		cancelA()
		cancelA() // harmless
		if _, ok := <-a; ok {
			t.Fatal("a cancelled subscriber's channel stays open")
		}
		if n := h.Subscribers(); n != 1 {
			t.Fatalf("Subscribers after cancel = %d", n)
		}
	})
}

func TestHubSlowSubscriberDoesNotBlockOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		h := startHub(t, s)
		slow, cancelSlow := h.Subscribe() // never read
		defer cancelSlow()
		fast, cancelFast := h.Subscribe()
		defer cancelFast()
		publishUntil(t, s, fast, "ready")

		// Each event is read by the fast subscriber before the next is sent;
		// the slow one fills its buffer and then misses events instead of
		// holding up the fan-out.
		const n = 3 * hubBuffer
		for i := range n {
			if err := s.Publish(bg, Event{Topic: "test", Action: "bulk", Target: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
			for received := false; !received; {
				select {
				case ev := <-fast:
					received = ev.Action == "bulk" && ev.Target == fmt.Sprint(i)
				case <-time.After(5 * time.Second):
					t.Fatalf("fast subscriber stuck at event %d", i)
				}
			}
		}
		if len(slow) != hubBuffer {
			t.Fatalf("slow subscriber holds %d events, want a full buffer of %d", len(slow), hubBuffer)
		}
	})
}

func TestHubClosesSubscribersWhenItStops(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		h := s.NewHub(nil)
		hctx, stop := context.WithCancel(bg)
		done := make(chan error)
		go func() { done <- h.Run(hctx) }()
		ch, cancel := h.Subscribe()
		defer cancel()
		stop()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if _, ok := <-ch; ok {
			t.Fatal("subscriber channel still open after Run returned")
		}
		late, _ := h.Subscribe()
		if _, ok := <-late; ok {
			t.Fatal("subscribing to a stopped hub gave an open channel")
		}
	})
}

// TestHubSurvivesRedisRestart needs a server it can kill, so it runs on a
// dedicated single node rather than through forEachBackend.
func TestHubSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redistest.NewClient(srv)
	defer rdb.Close()
	s := New(rdb, WithPrefix(redistest.Prefix(t)))
	h := startHub(t, s)
	ch, cancel := h.Subscribe()
	defer cancel()
	publishUntil(t, s, ch, "before")

	srv.Kill()
	time.Sleep(300 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	publishUntil(t, s, ch, "after")
}

func TestPublishDefaultsTime(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *Store) {
		useClock(s, baseTime)
		ps := s.rdb.Subscribe(bg, s.EventsChannel())
		defer ps.Close()
		if _, err := ps.Receive(bg); err != nil {
			t.Fatal(err)
		}
		if err := s.Publish(bg, Event{Topic: "x"}); err != nil {
			t.Fatal(err)
		}
		msg, err := ps.ReceiveMessage(bg)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"topic":"x","action":"","target":"","actor":"","at":"2030-01-02T03:04:05Z"}`; msg.Payload != want {
			t.Fatalf("payload = %s, want %s", msg.Payload, want)
		}
	})
}
