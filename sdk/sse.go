package sdk

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds one line of the event stream.
const maxLine = 1 << 20

// errLineTooLong ends a stream whose line exceeds maxLine.
var errLineTooLong = errors.New("keel: event stream line longer than 1 MiB")

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	Type string // "message" when the stream named none
	ID   string // the last event id in effect (the stream's, or the one given at start)
	Data string
}

// sseParser reads server-sent events as the HTML standard defines them:
// lines end in CRLF, LF or CR; a blank line dispatches the event; a line
// starting with a colon is a comment; "data" lines accumulate; "id" sets
// the last event id (ignored when it holds NUL); "retry" sets the
// reconnection time; other fields are ignored. An event still open when the
// stream ends is dropped.
type sseParser struct {
	r       *bufio.Reader
	max     int
	line    []byte
	skipLF  bool // the last line ended with CR: a following LF belongs to it
	lastID  string
	evType  string
	data    strings.Builder
	hasData bool

	// Retry is the latest reconnection time the stream asked for (0: none).
	Retry time.Duration
	// OnLine, when set, is called for every line read, comments included.
	OnLine func()
}

func newSSEParser(r io.Reader, lastID string) *sseParser {
	return &sseParser{r: bufio.NewReaderSize(r, 32<<10), max: maxLine, lastID: lastID}
}

// Next returns the next event, or the error that ended the stream (io.EOF
// for a clean end).
func (p *sseParser) Next() (sseEvent, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			return sseEvent{}, err
		}
		if p.OnLine != nil {
			p.OnLine()
		}
		if len(line) == 0 {
			if !p.hasData {
				p.evType = ""
				continue
			}
			ev := sseEvent{Type: p.evType, ID: p.lastID, Data: strings.TrimSuffix(p.data.String(), "\n")}
			if ev.Type == "" {
				ev.Type = "message"
			}
			p.evType, p.hasData = "", false
			p.data.Reset()
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			p.evType = string(value)
		case "data":
			p.data.Write(value)
			p.data.WriteByte('\n')
			p.hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.lastID = string(value)
			}
		case "retry":
			if ms, err := strconv.ParseUint(string(value), 10, 31); err == nil && allDigits(value) {
				p.Retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// readLine returns the next line without its ending. The slice is valid
// until the next call.
func (p *sseParser) readLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		if p.r.Buffered() == 0 {
			if _, err := p.r.Peek(1); err != nil {
				if err == io.EOF && len(p.line) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		buf, _ := p.r.Peek(p.r.Buffered())
		if p.skipLF {
			p.skipLF = false
			if buf[0] == '\n' {
				p.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		if i < 0 {
			if len(p.line)+len(buf) > p.max {
				return nil, errLineTooLong
			}
			p.line = append(p.line, buf...)
			p.r.Discard(len(buf))
			continue
		}
		if len(p.line)+i > p.max {
			return nil, errLineTooLong
		}
		p.line = append(p.line, buf[:i]...)
		p.skipLF = buf[i] == '\r'
		p.r.Discard(i + 1)
		return p.line, nil
	}
}
