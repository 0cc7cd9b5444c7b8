package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// wireEntry is one value as Keel's consumer API sends it, in the snapshot
// and (with an action) in a change event.
type wireEntry struct {
	Key       string          `json:"key"`
	Type      string          `json:"type,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
	Version   int64           `json:"version,omitempty"`
	SourceEnv string          `json:"source_env,omitempty"`
	ExpiresAt *time.Time      `json:"expires_at,omitempty"`
	Masked    bool            `json:"masked,omitempty"`
}

// wireEvent is the data of a change event.
type wireEvent struct {
	wireEntry
	Action string `json:"action"`
}

// Header names of the consumer API.
const (
	headerPosition    = "Keel-Watch-Position"
	headerLastEventID = "Last-Event-ID"
)

// APIError is an error answer from Keel: its HTTP status and the code and
// message of its {"error":{...}} body.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	switch {
	case e.Code != "" && e.Message != "":
		return fmt.Sprintf("keel: %d %s: %s", e.Status, e.Code, e.Message)
	case e.Message != "":
		return fmt.Sprintf("keel: %d: %s", e.Status, e.Message)
	default:
		return fmt.Sprintf("keel: %d %s", e.Status, http.StatusText(e.Status))
	}
}

// permanent reports whether err is an answer that retrying soon will not
// change (bad token, missing permission, unknown environment); the client
// then retries at the slowest pace.
func permanent(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden || ae.Status == http.StatusNotFound
}

// apiError reads an error answer, its body bounded.
func apiError(resp *http.Response) error {
	ae := &APIError{Status: resp.StatusCode}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &body) == nil {
		ae.Code, ae.Message = body.Error.Code, body.Error.Message
	}
	return ae
}

// fetched is the outcome of a snapshot request.
type fetched struct {
	notModified bool
	configs     []wireEntry
	etag        string
	position    string
	hasPosition bool
}

// fetch requests the environment's configuration, conditionally when etag
// is set.
func (c *Client) fetch(ctx context.Context, etag string) (fetched, error) {
	ctx, cancel := context.WithTimeout(ctx, c.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.configsURL, nil)
	if err != nil {
		return fetched{}, err
	}
	c.authorize(req)
	req.Header.Set("Accept", "application/json")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fetched{}, err
	}
	defer resp.Body.Close()
	var f fetched
	f.position, f.hasPosition = headerValue(resp.Header, headerPosition)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		if etag == "" {
			return fetched{}, errors.New("keel: 304 Not Modified to an unconditional request")
		}
		f.notModified, f.etag = true, etag
		return f, nil
	default:
		return fetched{}, apiError(resp)
	}
	f.etag = resp.Header.Get("ETag")
	var body struct {
		Configs []wireEntry `json:"configs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fetched{}, fmt.Errorf("keel: reading configs: %w", err)
	}
	f.configs = body.Configs
	return f, nil
}

func headerValue(h http.Header, name string) (string, bool) {
	v, ok := h[http.CanonicalHeaderKey(name)]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// openWatch connects the change stream from position (none: live changes
// only). The caller closes the body.
func (c *Client) openWatch(ctx context.Context, position string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.watchURL, nil)
	if err != nil {
		return nil, err
	}
	c.authorize(req)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if position != "" {
		req.Header.Set(headerLastEventID, position)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, apiError(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("keel: watch answered %q, not an event stream", resp.Header.Get("Content-Type"))
	}
	return resp, nil
}

func (c *Client) authorize(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", userAgent)
}

const userAgent = "keel-go-sdk/1"

// joinURL appends path to base, which may carry a path prefix of its own.
func joinURL(base, path string) string {
	return strings.TrimRight(base, "/") + path
}
