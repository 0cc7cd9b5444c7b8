package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// APIError is the JSON error body of every API failure:
// {"error":{"code","message","fields"}}.
type APIError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// errTooManyRequests wraps a throttling refusal with its message.
type errTooManyRequests struct{ msg string }

func (e errTooManyRequests) Error() string { return e.msg }

// classify is the one map from errors to HTTP statuses and stable codes.
func classify(err error) (int, APIError) {
	var he *echo.HTTPError
	var ve *store.ValidationError
	var ce *store.ConflictError
	var tm errTooManyRequests
	switch {
	case errors.As(err, &ve):
		return http.StatusUnprocessableEntity, APIError{Code: "invalid", Message: "Some fields are not valid.", Fields: ve.Fields}
	case errors.Is(err, store.ErrInvalid):
		return http.StatusUnprocessableEntity, APIError{Code: "invalid", Message: "The request is not valid."}
	case errors.As(err, &ce):
		return http.StatusConflict, APIError{Code: "conflict", Message: ce.Message}
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, APIError{Code: "conflict", Message: "The change conflicts with the current state."}
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, APIError{Code: "not_found", Message: "Not found."}
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, APIError{Code: "unauthenticated", Message: "Sign in, or send a valid API token."}
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, APIError{Code: "forbidden", Message: "Your role does not allow this."}
	case errors.Is(err, errCSRF):
		return http.StatusForbidden, APIError{Code: "csrf", Message: "Cross-site request refused. Reload the page and try again."}
	case errors.As(err, &tm):
		return http.StatusTooManyRequests, APIError{Code: "too_many_requests", Message: tm.msg}
	case store.IsUnavailable(err):
		return http.StatusServiceUnavailable, APIError{Code: "store_unavailable", Message: "The store is unavailable. Keel reconnects by itself; try again in a moment."}
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, APIError{Code: "not_found", Message: "Not found."}
		case http.StatusMethodNotAllowed:
			return he.Code, APIError{Code: "method_not_allowed", Message: "Method not allowed."}
		case http.StatusRequestEntityTooLarge:
			return he.Code, APIError{Code: "payload_too_large", Message: "The request body is too large."}
		case http.StatusBadRequest:
			msg := "The request is malformed."
			if m, ok := he.Message.(string); ok && m != "" {
				msg = m
			}
			return he.Code, APIError{Code: "bad_request", Message: msg}
		case http.StatusUnsupportedMediaType:
			return he.Code, APIError{Code: "unsupported_media_type", Message: "Send application/json."}
		}
		if he.Code < 500 {
			return he.Code, APIError{Code: strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_")), Message: http.StatusText(he.Code) + "."}
		}
	}
	return http.StatusInternalServerError, APIError{Code: "internal", Message: "Something went wrong on our side."}
}

// handleError renders every error: JSON for the API, a redirect to sign-in
// for a browser without a session, a toast for htmx requests, an error page
// otherwise. Internal details go to the log only, tied to the request id.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := classify(err)
	rid := requestID(c)
	if status >= 500 && status != http.StatusServiceUnavailable {
		s.log.Error("request failed", "rid", rid, "route", c.Path(), "err", err.Error())
		body.Message += " Request id: " + rid + "."
	}
	r := c.Request()
	if strings.HasPrefix(r.URL.Path, "/api/") {
		if status == http.StatusUnauthorized {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="keel"`)
		}
		_ = c.JSON(status, map[string]APIError{"error": body})
		return
	}
	if status == http.StatusUnauthorized {
		next := "/"
		if r.Method == http.MethodGet && !isHTMX(c) {
			next = r.URL.RequestURI()
		} else if cur := r.Header.Get("HX-Current-URL"); cur != "" {
			if u, perr := url.Parse(cur); perr == nil {
				next = u.RequestURI()
			}
		}
		loc := "/login?next=" + url.QueryEscape(next)
		if isHTMX(c) {
			c.Response().Header().Set("HX-Redirect", loc)
			_ = c.NoContent(http.StatusUnauthorized)
			return
		}
		_ = c.Redirect(http.StatusSeeOther, loc)
		return
	}
	if status == http.StatusServiceUnavailable {
		s.storeUp.Store(false)
	}
	if r.Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	msg := body.Message
	if len(body.Fields) > 0 {
		for f, m := range body.Fields {
			msg += " " + f + ": " + m
		}
	}
	if isHTMX(c) {
		h := c.Response().Header()
		h.Set("HX-Retarget", "#toasts")
		h.Set("HX-Reswap", "beforeend")
		_ = s.renderComponent(c, status, views.Toast("error", msg, rid))
		return
	}
	title := http.StatusText(status)
	_ = s.page(c, status, title, views.ErrorContent(views.ErrorProps{
		Status: status, Title: title, Message: msg, RequestID: rid,
	}))
}
