package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/static"
)

// Access says who may call a route.
type Access int

const (
	// Public routes need no identity.
	Public Access = iota
	// Browser routes need a signed-in session (cookie).
	Browser
	// API routes need an API token (Authorization: Bearer).
	API
)

// Route is one entry of the URL surface. The permission test walks this
// table against every kind of caller, and the OpenAPI document is built
// from its API entries.
type Route struct {
	Method string
	Path   string
	Access Access
	Perm   auth.Permission // required permission; "" for Public
	Doc    *APIDoc         // API routes only
	h      echo.HandlerFunc
}

// routeTable is the whole URL surface of Keel.
func (s *Server) routeTable() []Route {
	page := func(method, path string, perm auth.Permission, h echo.HandlerFunc) Route {
		return Route{Method: method, Path: path, Access: Browser, Perm: perm, h: h}
	}
	api := func(method, path string, perm auth.Permission, doc APIDoc, h echo.HandlerFunc) Route {
		return Route{Method: method, Path: "/api/v1" + path, Access: API, Perm: perm, Doc: &doc, h: h}
	}
	public := func(method, path string, h echo.HandlerFunc) Route {
		return Route{Method: method, Path: path, Access: Public, h: h}
	}
	const (
		read     = auth.PermRead
		users    = auth.PermManageUsers
		tokens   = auth.PermManageTokens
		envs     = auth.PermManageEnvironments
		settings = auth.PermManageSettings
		write    = auth.PermWrite
		schemas  = auth.PermManageSchemas
		reveal   = auth.PermRevealSecrets
		approve  = auth.PermApprove
	)
	return []Route{
		// Operations and assets.
		public(http.MethodGet, "/healthz", s.Healthz),
		public(http.MethodGet, "/readyz", s.Readyz),
		public(http.MethodGet, "/metrics", echo.WrapHandler(s.metrics.Handler())),
		public(http.MethodGet, "/static/*", echo.WrapHandler(http.StripPrefix("/static/", static.Handler()))),

		// Sign-in.
		public(http.MethodGet, "/login", s.LoginForm),
		public(http.MethodPost, "/login", s.Login),
		page(http.MethodPost, "/logout", read, s.Logout),

		// Pages.
		page(http.MethodGet, "/", read, s.Home),
		page(http.MethodGet, "/events", read, s.Events),
		page(http.MethodGet, "/account", read, s.Account),
		page(http.MethodPost, "/account/password", read, s.ChangeOwnPassword),
		page(http.MethodGet, "/account/sessions", read, s.OwnSessionsTable),
		page(http.MethodPost, "/account/sessions/:handle/revoke", read, s.RevokeOwnSession),

		page(http.MethodGet, "/users", users, s.ListUsers),
		page(http.MethodGet, "/users/table", users, s.UsersTable),
		page(http.MethodPost, "/users", users, s.CreateUser),
		page(http.MethodPost, "/users/:name/role", users, s.SetUserRole),
		page(http.MethodPost, "/users/:name/disable", users, s.DisableUser),
		page(http.MethodPost, "/users/:name/enable", users, s.EnableUser),
		page(http.MethodPost, "/users/:name/password", users, s.ResetUserPassword),
		page(http.MethodPost, "/users/:name/delete", users, s.DeleteUser),

		page(http.MethodGet, "/sessions", users, s.ListSessions),
		page(http.MethodGet, "/sessions/table", users, s.SessionsTable),
		page(http.MethodPost, "/sessions/:handle/revoke", users, s.RevokeSession),

		page(http.MethodGet, "/tokens", tokens, s.ListTokens),
		page(http.MethodGet, "/tokens/table", tokens, s.TokensTable),
		page(http.MethodPost, "/tokens", tokens, s.CreateToken),
		page(http.MethodPost, "/tokens/:id/revoke", tokens, s.RevokeToken),

		page(http.MethodGet, "/environments", read, s.ListEnvironments),
		page(http.MethodGet, "/environments/table", read, s.EnvironmentsTable),
		page(http.MethodPost, "/environments", envs, s.CreateEnvironment),
		page(http.MethodGet, "/environments/:name/edit", envs, s.EditEnvironment),
		page(http.MethodPost, "/environments/:name", envs, s.UpdateEnvironment),
		page(http.MethodPost, "/environments/:name/delete", envs, s.DeleteEnvironment),

		page(http.MethodGet, "/configs", read, s.ListConfigs),
		page(http.MethodGet, "/configs/table", read, s.ConfigsTable),
		page(http.MethodGet, "/configs/more", read, s.ConfigsMore),
		page(http.MethodGet, "/configs/new", read, s.NewConfig),
		page(http.MethodGet, "/configs/edit", read, s.EditConfig),
		page(http.MethodPost, "/configs/save", write, s.SaveConfig),
		page(http.MethodPost, "/configs/delete", write, s.DeleteConfigForm),
		page(http.MethodPost, "/configs/reveal", reveal, s.RevealConfig),
		page(http.MethodPost, "/configs/override", write, s.OverrideConfig),
		page(http.MethodPost, "/configs/remove-override", write, s.RemoveOverride),
		page(http.MethodGet, "/configs/history", read, s.ConfigHistoryPage),
		page(http.MethodGet, "/configs/diff", read, s.ConfigDiffPage),
		page(http.MethodPost, "/configs/rollback", write, s.RollbackConfigForm),
		page(http.MethodGet, "/compare", read, s.ComparePage),
		page(http.MethodGet, "/schemas", read, s.SchemasPage),
		page(http.MethodPost, "/schemas", schemas, s.SaveSchema),
		page(http.MethodPost, "/schemas/delete", schemas, s.DeleteSchemaForm),
		page(http.MethodGet, "/import", read, s.ImportPage),
		page(http.MethodPost, "/import/preview", read, s.ImportPreview),
		page(http.MethodPost, "/import/apply", write, s.ImportApply),
		page(http.MethodGet, "/export", read, s.ExportPage),

		page(http.MethodPost, "/promote/preview", write, s.PromotePreview),
		page(http.MethodPost, "/promote", write, s.Promote),
		page(http.MethodGet, "/promotions", read, s.PromotionsPage),
		page(http.MethodGet, "/change-requests/:id", read, s.ChangeRequestPage),
		page(http.MethodPost, "/change-requests/:id/approve", approve, s.ApproveChangeRequest),
		page(http.MethodPost, "/change-requests/:id/reject", approve, s.RejectChangeRequest),
		page(http.MethodPost, "/change-requests/:id/refresh", write, s.RefreshChangeRequest),

		page(http.MethodGet, "/audit", read, s.AuditLog),
		page(http.MethodGet, "/audit/rows", read, s.AuditRows),
		page(http.MethodGet, "/audit/export", read, s.ExportAudit),

		page(http.MethodGet, "/system", settings, s.System),
		page(http.MethodPost, "/system/settings", settings, s.UpdateSettings),

		// JSON API.
		public(http.MethodGet, "/api/v1/openapi.json", s.OpenAPI),
		api(http.MethodGet, "/me", read, docMe, s.APIMe),
		api(http.MethodGet, "/users", users, docListUsers, s.APIListUsers),
		api(http.MethodPost, "/users", users, docCreateUser, s.APICreateUser),
		api(http.MethodGet, "/users/:name", users, docGetUser, s.APIGetUser),
		api(http.MethodPatch, "/users/:name", users, docPatchUser, s.APIPatchUser),
		api(http.MethodDelete, "/users/:name", users, docDeleteUser, s.APIDeleteUser),
		api(http.MethodGet, "/sessions", users, docListSessions, s.APIListSessions),
		api(http.MethodDelete, "/sessions/:handle", users, docRevokeSession, s.APIRevokeSession),
		api(http.MethodGet, "/tokens", tokens, docListTokens, s.APIListTokens),
		api(http.MethodPost, "/tokens", tokens, docCreateToken, s.APICreateToken),
		api(http.MethodDelete, "/tokens/:id", tokens, docRevokeToken, s.APIRevokeToken),
		api(http.MethodGet, "/environments", read, docListEnvironments, s.APIListEnvironments),
		api(http.MethodPost, "/environments", envs, docCreateEnvironment, s.APICreateEnvironment),
		api(http.MethodGet, "/environments/:name", read, docGetEnvironment, s.APIGetEnvironment),
		api(http.MethodPatch, "/environments/:name", envs, docPatchEnvironment, s.APIPatchEnvironment),
		api(http.MethodDelete, "/environments/:name", envs, docDeleteEnvironment, s.APIDeleteEnvironment),
		api(http.MethodGet, "/audit", read, docAudit, s.APIAudit),
		api(http.MethodGet, "/settings", settings, docGetSettings, s.APIGetSettings),
		api(http.MethodGet, "/envs/:env/configs", read, docConsumerConfigs, s.ConsumerConfigs),
		api(http.MethodGet, "/envs/:env/configs/:key", read, docConsumerConfig, s.ConsumerConfig),
		api(http.MethodPut, "/envs/:env/configs/:key", write, docPutConfig, s.APIPutConfig),
		api(http.MethodDelete, "/envs/:env/configs/:key", write, docDeleteConfig, s.APIDeleteConfig),
		api(http.MethodGet, "/envs/:env/configs/:key/history", read, docConfigHistory, s.APIConfigHistory),
		api(http.MethodPost, "/envs/:env/configs/:key/rollback", write, docRollbackConfig, s.APIRollbackConfig),
		api(http.MethodPost, "/envs/:env/configs/:key/reveal", reveal, docRevealConfig, s.APIRevealConfig),
		api(http.MethodGet, "/envs/:env/watch", read, docWatch, s.WatchConfigs),
		api(http.MethodPost, "/envs/:env/import", write, docImport, s.APIImport),
		api(http.MethodGet, "/envs/:env/export", read, docExport, s.APIExport),
		api(http.MethodGet, "/compare", read, docCompare, s.APICompare),
		api(http.MethodPost, "/promotions", write, docPromote, s.APIPromote),
		api(http.MethodGet, "/promotions", read, docListPromotions, s.APIListPromotions),
		api(http.MethodGet, "/change-requests/:id", read, docGetChangeRequest, s.APIGetChangeRequest),
		api(http.MethodPost, "/change-requests/:id/approve", approve, docApprove, s.APIApproveChangeRequest),
		api(http.MethodPost, "/change-requests/:id/reject", approve, docReject, s.APIRejectChangeRequest),
		api(http.MethodGet, "/schemas", read, docListSchemas, s.APIListSchemas),
		api(http.MethodGet, "/schemas/:pattern", read, docGetSchema, s.APIGetSchema),
		api(http.MethodPut, "/schemas/:pattern", schemas, docPutSchema, s.APIPutSchema),
		api(http.MethodDelete, "/schemas/:pattern", schemas, docDeleteSchema, s.APIDeleteSchema),
		api(http.MethodPatch, "/settings", settings, docPatchSettings, s.APIPatchSettings),
	}
}

// router builds the echo router: global middleware, then each route with
// the middleware its access level needs.
func (s *Server) router() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.RouteNotFound("/*", func(c echo.Context) error { return echo.ErrNotFound })
	e.IPExtractor = echo.ExtractIPDirect() // never trust client-supplied X-Forwarded-For
	e.Use(s.recoverer, s.requestID, s.accessLog, s.securityHeaders, s.bodyLimit(), s.identify)
	s.routes = s.routeTable()
	for _, r := range s.routes {
		var mw []echo.MiddlewareFunc
		switch r.Access {
		case Browser:
			// Who first, then the forgery check: a signed-out form post
			// goes to the sign-in page rather than failing as forged.
			mw = append(mw, s.requireSession(r.Perm), s.csrf)
		case Public:
			mw = append(mw, s.csrf)
		case API:
			mw = append(mw, s.requireToken(r.Perm))
		}
		e.Add(r.Method, r.Path, r.h, mw...)
	}
	return e
}
