package sdk

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// parseAll reads every event of input; it returns them and the error that
// ended the stream.
func parseAll(r io.Reader, lastID string) ([]sseEvent, *sseParser, error) {
	p := newSSEParser(r, lastID)
	var out []sseEvent
	for {
		ev, err := p.Next()
		if err != nil {
			return out, p, err
		}
		out = append(out, ev)
	}
}

func TestSSEParser(t *testing.T) {
	tests := []struct {
		name  string
		input string
		start string
		want  []sseEvent
		retry time.Duration
	}{
		{
			name:  "one change",
			input: "event: change\nid: 7-0\ndata: {\"key\":\"a\"}\n\n",
			want:  []sseEvent{{Type: "change", ID: "7-0", Data: `{"key":"a"}`}},
		},
		{
			name:  "multi-line data",
			input: "event: change\nid: 1\ndata: {\ndata:   \"key\": \"a\"\ndata: }\n\n",
			want:  []sseEvent{{Type: "change", ID: "1", Data: "{\n  \"key\": \"a\"\n}"}},
		},
		{
			name:  "CRLF",
			input: "event: change\r\nid: 1\r\ndata: x\r\n\r\nevent: reset\r\ndata: {}\r\n\r\n",
			want:  []sseEvent{{Type: "change", ID: "1", Data: "x"}, {Type: "reset", ID: "1", Data: "{}"}},
		},
		{
			name:  "CR alone",
			input: "data: a\rid: 2\r\rdata: b\r\r",
			want:  []sseEvent{{Type: "message", ID: "2", Data: "a"}, {Type: "message", ID: "2", Data: "b"}},
		},
		{
			name:  "comments and pings",
			input: ": connected\n\n: ping\n\ndata: x\n: in the middle\n\n",
			want:  []sseEvent{{Type: "message", Data: "x"}},
		},
		{
			name:  "id carries over, starts from the given one",
			input: "data: a\n\nid: 9\ndata: b\n\ndata: c\n\n",
			start: "5",
			want:  []sseEvent{{Type: "message", ID: "5", Data: "a"}, {Type: "message", ID: "9", Data: "b"}, {Type: "message", ID: "9", Data: "c"}},
		},
		{
			name:  "id with NUL is ignored",
			input: "id: a\x00b\ndata: x\n\n",
			start: "1",
			want:  []sseEvent{{Type: "message", ID: "1", Data: "x"}},
		},
		{
			name:  "empty id resets it",
			input: "id\ndata: x\n\n",
			start: "1",
			want:  []sseEvent{{Type: "message", ID: "", Data: "x"}},
		},
		{
			name:  "no space after colon, and only one space dropped",
			input: "data:x\ndata:  y\n\n",
			want:  []sseEvent{{Type: "message", Data: "x\n y"}},
		},
		{
			name:  "field without colon",
			input: "data\ndata\n\n",
			want:  []sseEvent{{Type: "message", Data: "\n"}},
		},
		{
			name:  "event type without data is not dispatched and does not leak",
			input: "event: reset\n\ndata: x\n\n",
			want:  []sseEvent{{Type: "message", Data: "x"}},
		},
		{
			name:  "retry",
			input: "retry: 2000\nretry: x12\nretry: -5\ndata: x\n\n",
			want:  []sseEvent{{Type: "message", Data: "x"}},
			retry: 2 * time.Second,
		},
		{
			name:  "unknown fields ignored",
			input: "foo: bar\ndata: x\n\n",
			want:  []sseEvent{{Type: "message", Data: "x"}},
		},
		{
			name:  "unfinished event dropped at the end",
			input: "data: a\n\ndata: b\n",
			want:  []sseEvent{{Type: "message", Data: "a"}},
		},
		{
			name:  "non-ASCII data",
			input: "data: é\n\n",
			want:  []sseEvent{{Type: "message", Data: "é"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "byte by byte"} {
				var r io.Reader = strings.NewReader(tt.input)
				if mode != "whole" {
					r = iotest.OneByteReader(r)
				}
				got, p, err := parseAll(r, tt.start)
				if err != io.EOF {
					t.Errorf("%s: ended with %v, want io.EOF", mode, err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s: events\n%+v\nwant\n%+v", mode, got, tt.want)
				}
				if p.Retry != tt.retry {
					t.Errorf("%s: retry %v, want %v", mode, p.Retry, tt.retry)
				}
			}
		})
	}
}

func TestSSEParserPartialLineAtEnd(t *testing.T) {
	_, _, err := parseAll(strings.NewReader("data: a\n\ndata: b"), "")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestSSEParserLineTooLong(t *testing.T) {
	long := "data: " + strings.Repeat("x", maxLine) + "\n\n"
	_, _, err := parseAll(strings.NewReader(long), "")
	if !errors.Is(err, errLineTooLong) {
		t.Errorf("err = %v, want errLineTooLong", err)
	}
	// Just under the limit is fine.
	ok := "data:" + strings.Repeat("x", maxLine-5) + "\n\n"
	got, _, err := parseAll(strings.NewReader(ok), "")
	if err != io.EOF || len(got) != 1 || len(got[0].Data) != maxLine-5 {
		t.Errorf("line of exactly the limit: %d events, %v", len(got), err)
	}
}

func TestSSEParserCountsLines(t *testing.T) {
	p := newSSEParser(strings.NewReader(": ping\n\n: ping\n\n"), "")
	n := 0
	p.OnLine = func() { n++ }
	if _, err := p.Next(); err != io.EOF {
		t.Fatalf("err = %v", err)
	}
	if n != 4 {
		t.Errorf("OnLine called %d times, want 4", n)
	}
}

// FuzzSSEParser checks that the parser never panics and that how the
// input is split into reads makes no difference.
func FuzzSSEParser(f *testing.F) {
	for _, s := range []string{
		"event: change\nid: 1\ndata: {}\n\n",
		"data: a\r\ndata: b\r\n\r\n",
		"data: a\rid: 2\r\r",
		": ping\n\nretry: 10\n\n",
		"id: \x00\ndata\n\n\r\n\r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		whole, pw, errWhole := parseAll(strings.NewReader(input), "s")
		bytewise, pb, errBytes := parseAll(iotest.OneByteReader(strings.NewReader(input)), "s")
		if !reflect.DeepEqual(whole, bytewise) || pw.Retry != pb.Retry {
			t.Fatalf("split reads differ:\n%+v\n%+v", whole, bytewise)
		}
		if errWhole != errBytes {
			t.Fatalf("errors differ: %v vs %v", errWhole, errBytes)
		}
		for _, ev := range whole {
			if strings.ContainsAny(ev.Type, "\r\n") || strings.ContainsAny(ev.ID, "\r\n\x00") {
				t.Fatalf("line break in a field: %+v", ev)
			}
		}
	})
}
