package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/views"
)

func (s *Server) accountProps(c echo.Context, errs map[string]string, saved bool) (views.AccountProps, error) {
	st := sessionState(c)
	sp, err := s.ownSessionsProps(c)
	if err != nil {
		return views.AccountProps{}, err
	}
	return views.AccountProps{User: st.Principal.Name, Role: st.Principal.Role.String(), CSRF: st.CSRF,
		Errors: errs, Saved: saved, Sessions: sp}, nil
}

// Account shows the signed-in user's own page.
func (s *Server) Account(c echo.Context) error {
	p, err := s.accountProps(c, nil, false)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Your account", views.AccountContent(p), nil)
}

// ChangeOwnPassword changes the caller's password after checking the
// current one; their other sessions end, this one stays.
func (s *Server) ChangeOwnPassword(c echo.Context) error {
	st := sessionState(c)
	cur, next, confirm := c.FormValue("current_password"), c.FormValue("new_password"), c.FormValue("confirm_password")
	errs := map[string]string{}
	u, err := s.st.GetUser(c.Request().Context(), st.Principal.Name)
	if err != nil {
		return err
	}
	if verr := auth.VerifyPassword(u.PasswordHash, cur); verr != nil {
		if !errors.Is(verr, auth.ErrPasswordMismatch) {
			return verr
		}
		errs["current_password"] = "This is not your current password."
	}
	if msg := auth.CheckPasswordPolicy(next); msg != "" {
		errs["new_password"] = msg
	} else if next != confirm {
		errs["confirm_password"] = "The two new passwords differ."
	} else if next == cur {
		errs["new_password"] = "Choose a password different from the current one."
	}
	if len(errs) == 0 {
		err := s.setPassword(c, u.Name, next, "user.change_password", st.Principal.SessionHandle)
		if fe := fieldErrors(err); fe != nil {
			errs = fe
		} else if err != nil {
			return err
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	p, err := s.accountProps(c, errs, len(errs) == 0)
	if err != nil {
		return err
	}
	return s.render(c, status, "Your account", views.AccountContent(p), nil)
}
