package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

func (s *Server) environmentsProps(c echo.Context, form views.EnvForm) (views.EnvironmentsProps, error) {
	envs, err := s.environments(c)
	if err != nil {
		return views.EnvironmentsProps{}, err
	}
	p := views.EnvironmentsProps{Form: form, CSRF: sessionState(c).CSRF, CanManage: principal(c).Has(auth.PermManageEnvironments)}
	for _, e := range envs {
		p.Envs = append(p.Envs, views.EnvRow{Name: e.Name, Color: e.Color, Parent: e.Parent, Order: e.Order,
			Protected: e.Protected, RequireApproval: e.RequireApproval, Version: e.Version})
	}
	return p, nil
}

func envFormFrom(e store.Environment) views.EnvForm {
	return views.EnvForm{Name: e.Name, Color: e.Color, Parent: e.Parent, Order: strconv.Itoa(e.Order),
		Protected: e.Protected, RequireApproval: e.RequireApproval, Version: e.Version, Editing: true}
}

// parseEnvForm reads the environment form into a form state and an
// environment, collecting field errors.
func parseEnvForm(c echo.Context) (views.EnvForm, store.Environment, *store.ValidationError) {
	checked := func(name string) bool {
		v := c.FormValue(name)
		return v == "on" || v == "true" || v == "1"
	}
	f := views.EnvForm{Name: strings.TrimSpace(c.FormValue("name")), Color: c.FormValue("color"),
		Parent: c.FormValue("parent"), Order: strings.TrimSpace(c.FormValue("order")),
		Protected: checked("protected"), RequireApproval: checked("require_approval")}
	f.Version, _ = strconv.ParseInt(c.FormValue("version"), 10, 64)
	ve := &store.ValidationError{}
	order := 0
	if f.Order != "" {
		n, err := strconv.Atoi(f.Order)
		if err != nil || n < 0 || n > 10000 {
			ve.Add("order", "Use a whole number from 0 to 10000.")
		}
		order = n
	}
	e := store.Environment{Name: f.Name, Color: f.Color, Parent: f.Parent, Order: order,
		Protected: f.Protected, RequireApproval: f.RequireApproval}
	return f, e, ve
}

// ListEnvironments shows the environments page.
func (s *Server) ListEnvironments(c echo.Context) error {
	p, err := s.environmentsProps(c, views.EnvForm{Color: "#6366f1"})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Environments", views.EnvironmentsContent(p), nil)
}

// EnvironmentsTable is the environments table fragment, refreshed live.
func (s *Server) EnvironmentsTable(c echo.Context) error {
	p, err := s.environmentsProps(c, views.EnvForm{})
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.EnvironmentsTable(p))
}

func (s *Server) envFormFailed(c echo.Context, f views.EnvForm, errs map[string]string) error {
	f.Errors = errs
	p, err := s.environmentsProps(c, f)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusUnprocessableEntity, "Environments", views.EnvironmentsContent(p), views.EnvironmentForm(p))
}

// CreateEnvironment handles the create form.
func (s *Server) CreateEnvironment(c echo.Context) error {
	f, e, ve := parseEnvForm(c)
	if err := ve.OrNil(); err != nil {
		return s.envFormFailed(c, f, ve.Fields)
	}
	_, err := s.st.CreateEnvironment(c.Request().Context(), actor(c), e)
	s.consumer.environmentsChanged() // this process sees its own change at once
	if errs := formError(err); errs != nil {
		return s.envFormFailed(c, f, errs)
	}
	if err != nil {
		return err
	}
	p, err := s.environmentsProps(c, views.EnvForm{Color: "#6366f1"})
	if err != nil {
		return err
	}
	return s.done(c, "/environments", "environments", views.EnvironmentForm(p))
}

// EditEnvironment shows the form for one environment.
func (s *Server) EditEnvironment(c echo.Context) error {
	e, err := s.st.GetEnvironment(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	p, err := s.environmentsProps(c, envFormFrom(e))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Environments", views.EnvironmentsContent(p), views.EnvironmentForm(p))
}

// UpdateEnvironment saves the edit form; a stale version is a conflict.
func (s *Server) UpdateEnvironment(c echo.Context) error {
	f, next, ve := parseEnvForm(c)
	f.Name, f.Editing = c.Param("name"), true
	if err := ve.OrNil(); err != nil {
		return s.envFormFailed(c, f, ve.Fields)
	}
	_, err := s.st.UpdateEnvironment(c.Request().Context(), actor(c), f.Name, f.Version, func(e *store.Environment) error {
		e.Color, e.Parent, e.Order, e.Protected, e.RequireApproval = next.Color, next.Parent, next.Order, next.Protected, next.RequireApproval
		return nil
	})
	s.consumer.environmentsChanged() // this process sees its own change at once
	if errs := formError(err); errs != nil {
		return s.envFormFailed(c, f, errs)
	}
	if err != nil {
		return err
	}
	p, err := s.environmentsProps(c, views.EnvForm{Color: "#6366f1"})
	if err != nil {
		return err
	}
	return s.done(c, "/environments", "environments", views.EnvironmentForm(p))
}

// DeleteEnvironment deletes an environment.
func (s *Server) DeleteEnvironment(c echo.Context) error {
	if err := s.deleteEnvironment(c, c.Param("name")); err != nil {
		return err
	}
	p, err := s.environmentsProps(c, views.EnvForm{Color: "#6366f1"})
	if err != nil {
		return err
	}
	return s.done(c, "/environments", "environments", views.EnvironmentsTable(p))
}

// --- JSON API ---

type envJSON struct {
	Name            string `json:"name"`
	Order           int    `json:"order"`
	Color           string `json:"color"`
	Protected       bool   `json:"protected"`
	RequireApproval bool   `json:"require_approval"`
	Parent          string `json:"parent,omitempty"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
	Version         int64  `json:"version"`
}

func toEnvJSON(e store.Environment) envJSON {
	return envJSON{Name: e.Name, Order: e.Order, Color: e.Color, Protected: e.Protected, RequireApproval: e.RequireApproval,
		Parent: e.Parent, CreatedAt: rfc3339(e.CreatedAt), UpdatedAt: rfc3339(e.UpdatedAt), Version: e.Version}
}

// APIListEnvironments lists environments in order.
func (s *Server) APIListEnvironments(c echo.Context) error {
	envs, err := s.environments(c)
	if err != nil {
		return err
	}
	out := make([]envJSON, 0, len(envs))
	for _, e := range envs {
		if p := principal(c); p.EnvScope != "" && p.EnvScope != e.Name {
			continue
		}
		out = append(out, toEnvJSON(e))
	}
	return c.JSON(http.StatusOK, map[string]any{"environments": out})
}

// APIGetEnvironment returns one environment.
func (s *Server) APIGetEnvironment(c echo.Context) error {
	name := c.Param("name")
	if p := principal(c); p.EnvScope != "" && p.EnvScope != name {
		return auth.ErrForbidden
	}
	e, err := s.st.GetEnvironment(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toEnvJSON(e))
}

// APICreateEnvironment creates an environment.
func (s *Server) APICreateEnvironment(c echo.Context) error {
	var in envCreateBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	e, err := s.st.CreateEnvironment(c.Request().Context(), actor(c), store.Environment{Name: in.Name, Protected: in.Protected,
		RequireApproval: in.RequireApproval, Parent: in.Parent, Color: in.Color, Order: in.Order})
	s.consumer.environmentsChanged() // this process sees its own change at once
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toEnvJSON(e))
}

// APIPatchEnvironment changes an environment; "version" (optional) guards
// against overwriting someone else's change.
func (s *Server) APIPatchEnvironment(c echo.Context) error {
	var in envPatchBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	e, err := s.st.UpdateEnvironment(c.Request().Context(), actor(c), c.Param("name"), in.Version, func(e *store.Environment) error {
		if in.Protected != nil {
			e.Protected = *in.Protected
		}
		if in.RequireApproval != nil {
			e.RequireApproval = *in.RequireApproval
		}
		if in.Parent != nil {
			e.Parent = *in.Parent
		}
		if in.Color != nil {
			e.Color = *in.Color
		}
		if in.Order != nil {
			e.Order = *in.Order
		}
		return nil
	})
	s.consumer.environmentsChanged() // this process sees its own change at once
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toEnvJSON(e))
}

// APIDeleteEnvironment deletes an environment.
func (s *Server) APIDeleteEnvironment(c echo.Context) error {
	if err := s.deleteEnvironment(c, c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// deleteEnvironment deletes an environment that holds no configuration: its
// values live in their own Cluster slot, so they are not removed in the same
// step, and deleting them by surprise would lose data.
func (s *Server) deleteEnvironment(c echo.Context, name string) error {
	ctx := c.Request().Context()
	if _, err := s.st.GetEnvironment(ctx, name); err != nil {
		return err
	}
	_, _, total, err := s.st.ListConfigs(ctx, name, store.ConfigQuery{Limit: 1})
	if err != nil {
		return err
	}
	if total > 0 {
		return store.Conflictf("%s still holds %d configuration keys: delete them (or export them) first.", name, total)
	}
	err = s.st.DeleteEnvironment(ctx, actor(c), name)
	s.consumer.environmentsChanged() // this process sees its own change at once
	return err
}
