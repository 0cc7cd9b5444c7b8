package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keelhq/keel/internal/redistest"
	"github.com/keelhq/keel/store"
)

// stream opens the live-update stream of a signed-in client and returns the
// events it receives.
func stream(t *testing.T, c *client) <-chan store.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/events"), nil)
	resp, err := (&http.Client{Jar: c.hc.Jar}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan store.Event, 16)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev store.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					out <- ev
				}
			}
		}
	}()
	return out
}

func waitEvent(t *testing.T, ch <-chan store.Event, topic, target string) store.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Topic == topic && ev.Target == target {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", topic, target)
		}
	}
}

// TestLiveUpdatesAcrossProcesses: two Keel servers share one Redis; a change
// made through one reaches a browser stream on the other, and only the
// people allowed to see that topic hear of it.
func TestLiveUpdatesAcrossProcesses(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	a := newTestEnvOn(t, store.New(rdb, store.WithPrefix(prefix)))
	b := newTestEnvOn(t, store.New(rdb, store.WithPrefix(prefix)))
	a.createUser("root", "admin")
	a.createUser("vi", "viewer")
	adminOnB := b.login("root")
	viewerOnB := b.login("vi")
	adminEvents, viewerEvents := stream(t, adminOnB), stream(t, viewerOnB)
	time.Sleep(200 * time.Millisecond) // let both streams subscribe

	adminOnA := a.login("root")
	resp := adminOnA.postForm("/users", url.Values{"username": {"newbie"}, "password": {"a long password"}, "role": {"viewer"}})
	readBody(t, resp)
	ev := waitEvent(t, adminEvents, "users", "newbie")
	if ev.Action != "user.create" || ev.Actor != "root" {
		t.Fatalf("event %+v", ev)
	}
	resp = adminOnA.postForm("/environments", url.Values{"name": {"preview"}, "color": {"#123456"}})
	readBody(t, resp)
	waitEvent(t, viewerEvents, "environments", "preview")
	// The viewer never heard of the user change.
	for {
		select {
		case ev := <-viewerEvents:
			if ev.Topic == "users" {
				t.Fatalf("viewer received %+v", ev)
			}
			continue
		default:
		}
		break
	}
}
