package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/store"
)

// bindJSON decodes a JSON request body strictly: application/json only,
// unknown fields refused, one document only.
func bindJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType)
	}
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge)
		}
		msg := "The body is not valid JSON: " + err.Error()
		if strings.HasPrefix(err.Error(), "json: unknown field") {
			msg = "Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
		}
		return echo.NewHTTPError(http.StatusBadRequest, msg)
	}
	if _, err := dec.Token(); err != io.EOF {
		return echo.NewHTTPError(http.StatusBadRequest, "The body must hold one JSON document.")
	}
	return nil
}

// done finishes a browser mutation: htmx requests get the fragment and an
// HX-Trigger so this tab's live regions refresh at once (other tabs learn of
// it through the live stream); plain form posts are redirected.
func (s *Server) done(c echo.Context, redirect, topic string, fragment templ.Component) error {
	if isHTMX(c) {
		if topic != "" {
			c.Response().Header().Set("HX-Trigger", hxTrigger(topic))
		}
		if fragment == nil {
			return c.NoContent(http.StatusNoContent)
		}
		return s.renderComponent(c, http.StatusOK, fragment)
	}
	return c.Redirect(http.StatusSeeOther, redirect)
}

// fieldErrors returns the per-field messages of a validation error, or nil
// when err is something else.
func fieldErrors(err error) map[string]string {
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		return ve.Fields
	}
	return nil
}

// formError turns a conflict into a message shown above a form.
func formError(err error) map[string]string {
	if f := fieldErrors(err); f != nil {
		return f
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		return map[string]string{"form": ce.Message}
	}
	return nil
}

// hxTrigger names the event that refreshes this tab's live regions for a
// topic, fired on <body> (where the regions listen) rather than on the
// element that made the request, which the swap may have replaced.
func hxTrigger(topic string) string {
	return `{"keel:` + topic + `":{"target":"body"}}`
}
