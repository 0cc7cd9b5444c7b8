package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the example's two writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun runs the example against a minimal Keel that serves two values
// and then one change, and checks what it prints.
func TestRun(t *testing.T) {
	change := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/envs/staging/configs", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("ETag", `"1"`)
		w.Header().Set("Keel-Watch-Position", "1-0")
		fmt.Fprint(w, `{"configs":[
			{"key":"db.host","type":"string","value":"db1","version":3,"source_env":"staging"},
			{"key":"api.key","type":"secret","value":"hunter2","version":1,"source_env":"base"}]}`)
	})
	mux.HandleFunc("GET /api/v1/envs/staging/watch", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		select {
		case <-change:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "event: change\nid: 2-0\ndata: {\"key\":\"db.host\",\"action\":\"set\",\"type\":\"string\",\"value\":\"db2\",\"version\":4,\"source_env\":\"staging\"}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	env := map[string]string{"KEEL_URL": srv.URL, "KEEL_TOKEN": "tok"}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-env", "staging"}, func(k string) string { return env[k] }, &out, &errOut)
	}()
	waitFor := func(s string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), s) {
			if time.Now().After(deadline) {
				t.Fatalf("output lacks %q:\n%s\nstderr:\n%s", s, out.String(), errOut.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("watching for changes")
	close(change)
	waitFor("changed  db.host = db2  [string v4 from staging]")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"environment staging, from keel",
		"api.key = ••••  [secret v1 from base]",
		"db.host = db1  [string v3 from staging]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hunter2") {
		t.Error("the secret was printed")
	}
}

func TestRunNeedsToken(t *testing.T) {
	var out, errOut syncBuffer
	err := run(context.Background(), nil, func(string) string { return "" }, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("run without a token = %v", err)
	}
}
