package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// newUser validates and creates a user; the browser form and the API share it.
func (s *Server) newUser(c echo.Context, username, password, role string) (store.User, error) {
	ve := &store.ValidationError{}
	username = strings.TrimSpace(username)
	if err := store.ValidUsername(username); err != nil {
		ve.Add("username", err.Error())
	}
	if msg := auth.CheckPasswordPolicy(password); msg != "" {
		ve.Add("password", msg)
	}
	r, err := auth.ParseRole(role)
	if err != nil {
		ve.Add("role", "Choose viewer, editor, publisher or admin.")
	}
	if err := ve.OrNil(); err != nil {
		return store.User{}, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return store.User{}, err
	}
	return s.st.CreateUser(c.Request().Context(), actor(c), store.User{Name: username, Role: r.String(), PasswordHash: hash})
}

func roleNames() []string {
	out := make([]string, len(auth.Roles))
	for i, r := range auth.Roles {
		out[i] = r.String()
	}
	return out
}

func (s *Server) usersProps(c echo.Context, form views.UserForm) (views.UsersProps, error) {
	ctx := c.Request().Context()
	users, err := s.st.ListUsers(ctx)
	if err != nil {
		return views.UsersProps{}, err
	}
	sessions, err := s.st.ListSessions(ctx, "")
	if err != nil {
		return views.UsersProps{}, err
	}
	count := map[string]int{}
	for _, se := range sessions {
		count[se.User]++
	}
	st := sessionState(c)
	p := views.UsersProps{Roles: roleNames(), CSRF: st.CSRF, Form: form, CanManage: st.Principal.Has(auth.PermManageUsers)}
	for _, u := range users {
		p.Users = append(p.Users, views.UserRow{Name: u.Name, Role: u.Role, Disabled: u.Disabled,
			CreatedAt: u.CreatedAt, Sessions: count[u.Name], IsSelf: u.Name == st.Principal.Name})
	}
	return p, nil
}

// ListUsers shows the users page.
func (s *Server) ListUsers(c echo.Context) error {
	p, err := s.usersProps(c, views.UserForm{Role: auth.Viewer.String()})
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Users", views.UsersContent(p), nil)
}

// UsersTable is the users table fragment, refreshed live.
func (s *Server) UsersTable(c echo.Context) error {
	p, err := s.usersProps(c, views.UserForm{})
	if err != nil {
		return err
	}
	return s.renderComponent(c, http.StatusOK, views.UsersTable(p))
}

// CreateUser handles the create-user form.
func (s *Server) CreateUser(c echo.Context) error {
	form := views.UserForm{Username: c.FormValue("username"), Role: c.FormValue("role")}
	_, err := s.newUser(c, form.Username, c.FormValue("password"), form.Role)
	if errs := formError(err); errs != nil {
		form.Errors = errs
		p, perr := s.usersProps(c, form)
		if perr != nil {
			return perr
		}
		return s.render(c, http.StatusUnprocessableEntity, "Users", views.UsersContent(p), views.UserCreateForm(p))
	}
	if err != nil {
		return err
	}
	p, err := s.usersProps(c, views.UserForm{Role: form.Role})
	if err != nil {
		return err
	}
	return s.done(c, "/users", "users", views.UserCreateForm(p))
}

// userAction runs one change to a user from a table row and answers with the
// refreshed table.
func (s *Server) userAction(c echo.Context, change func() error) error {
	if err := change(); err != nil {
		return err
	}
	p, err := s.usersProps(c, views.UserForm{})
	if err != nil {
		return err
	}
	return s.done(c, "/users", "users", views.UsersTable(p))
}

// SetUserRole changes a user's role.
func (s *Server) SetUserRole(c echo.Context) error {
	return s.userAction(c, func() error {
		r, err := auth.ParseRole(c.FormValue("role"))
		if err != nil {
			return store.Invalid("role", "Choose viewer, editor, publisher or admin.")
		}
		_, err = s.st.SetUserRole(c.Request().Context(), actor(c), c.Param("name"), r.String())
		return err
	})
}

// DisableUser disables a user and ends their sessions at once.
func (s *Server) DisableUser(c echo.Context) error {
	return s.userAction(c, func() error {
		_, err := s.st.SetUserDisabled(c.Request().Context(), actor(c), c.Param("name"), true)
		return err
	})
}

// EnableUser re-enables a user.
func (s *Server) EnableUser(c echo.Context) error {
	return s.userAction(c, func() error {
		_, err := s.st.SetUserDisabled(c.Request().Context(), actor(c), c.Param("name"), false)
		return err
	})
}

// ResetUserPassword sets a new password chosen by an admin and ends the
// user's sessions.
func (s *Server) ResetUserPassword(c echo.Context) error {
	return s.userAction(c, func() error {
		return s.setPassword(c, c.Param("name"), c.FormValue("password"), "user.reset_password", "")
	})
}

func (s *Server) setPassword(c echo.Context, name, password, action, keep string) error {
	if msg := auth.CheckPasswordPolicy(password); msg != "" {
		return store.Invalid("password", msg)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	return s.st.SetPassword(c.Request().Context(), actor(c), name, hash, action, keep)
}

// DeleteUser removes a user and their sessions.
func (s *Server) DeleteUser(c echo.Context) error {
	return s.userAction(c, func() error {
		if c.Param("name") == principal(c).Name {
			return store.Conflictf("You cannot delete yourself.")
		}
		return s.st.DeleteUser(c.Request().Context(), actor(c), c.Param("name"))
	})
}

// --- JSON API ---

type userJSON struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Disabled  bool   `json:"disabled"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
	Version   int64  `json:"version"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: rfc3339(u.CreatedAt),
		UpdatedAt: rfc3339(u.UpdatedAt), Version: u.Version}
}

// APIListUsers lists users.
func (s *Server) APIListUsers(c echo.Context) error {
	users, err := s.st.ListUsers(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, toUserJSON(u))
	}
	return c.JSON(http.StatusOK, map[string]any{"users": out})
}

// APICreateUser creates a user.
func (s *Server) APICreateUser(c echo.Context) error {
	var in userCreateBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	u, err := s.newUser(c, in.Username, in.Password, in.Role)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toUserJSON(u))
}

// APIGetUser returns one user.
func (s *Server) APIGetUser(c echo.Context) error {
	u, err := s.st.GetUser(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserJSON(u))
}

// APIPatchUser changes a user's role, disabled state or password.
func (s *Server) APIPatchUser(c echo.Context) error {
	var in userPatchBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx, name := c.Request().Context(), c.Param("name")
	if in.Role == nil && in.Disabled == nil && in.Password == nil {
		return store.Invalid("body", "Send at least one of role, disabled, password.")
	}
	// Validate every field before changing anything.
	ve := &store.ValidationError{}
	var role auth.Role
	if in.Role != nil {
		r, err := auth.ParseRole(*in.Role)
		if err != nil {
			ve.Add("role", "Choose viewer, editor, publisher or admin.")
		}
		role = r
	}
	if in.Password != nil {
		if msg := auth.CheckPasswordPolicy(*in.Password); msg != "" {
			ve.Add("password", msg)
		}
	}
	if err := ve.OrNil(); err != nil {
		return err
	}
	if _, err := s.st.GetUser(ctx, name); err != nil {
		return err
	}
	if in.Role != nil {
		if _, err := s.st.SetUserRole(ctx, actor(c), name, role.String()); err != nil {
			return err
		}
	}
	if in.Password != nil {
		if err := s.setPassword(c, name, *in.Password, "user.reset_password", ""); err != nil {
			return err
		}
	}
	if in.Disabled != nil {
		if _, err := s.st.SetUserDisabled(ctx, actor(c), name, *in.Disabled); err != nil {
			return err
		}
	}
	u, err := s.st.GetUser(ctx, name)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toUserJSON(u))
}

// APIDeleteUser deletes a user.
func (s *Server) APIDeleteUser(c echo.Context) error {
	if err := s.st.DeleteUser(c.Request().Context(), actor(c), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
