package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Healthz answers 200 while the process is up.
func (s *Server) Healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// Readyz answers 200 when Redis answers, 503 otherwise, within a second.
func (s *Server) Readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), time.Second)
	defer cancel()
	if !s.checkStore(ctx) {
		return c.String(http.StatusServiceUnavailable, "store unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
