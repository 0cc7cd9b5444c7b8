package handlers

import (
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/store"
)

// APIDoc describes one API route for the OpenAPI document.
type APIDoc struct {
	Summary  string
	Tag      string
	Request  any      // zero value of the request body type, or nil
	Response any      // zero value of the response body type, or nil for 204
	Status   int      // success status (default 200)
	Query    []string // query parameter names
}

// The API request bodies: the handlers decode these, and the OpenAPI
// document describes them, so the two cannot disagree.
type userCreateBody struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}
type userPatchBody struct {
	Role     *string `json:"role,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	Password *string `json:"password,omitempty"`
}
type envCreateBody struct {
	Name            string `json:"name"`
	Protected       bool   `json:"protected"`
	RequireApproval bool   `json:"require_approval"`
	Parent          string `json:"parent"`
	Color           string `json:"color"`
	Order           int    `json:"order"`
}
type envPatchBody struct {
	Protected       *bool   `json:"protected,omitempty"`
	RequireApproval *bool   `json:"require_approval,omitempty"`
	Parent          *string `json:"parent,omitempty"`
	Color           *string `json:"color,omitempty"`
	Order           *int    `json:"order,omitempty"`
	Version         int64   `json:"version,omitempty"`
}
type tokenCreateBody struct {
	Name          string `json:"name"`
	Role          string `json:"role"`
	Env           string `json:"env,omitempty"`
	ExpiresInDays int    `json:"expires_in_days,omitempty"`
	ReadSecrets   bool   `json:"read_secrets,omitempty"`
}
type settingsPatchBody struct {
	AuditMaxEntries *int64 `json:"audit_max_entries,omitempty"`
	AuditMaxAgeDays *int   `json:"audit_max_age_days,omitempty"`
	Version         int64  `json:"version,omitempty"`
}
type meBody struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Role        string   `json:"role"`
	Env         string   `json:"env"`
	Permissions []string `json:"permissions"`
}
type usersBody struct {
	Users []userJSON `json:"users"`
}
type sessionsBody struct {
	Sessions []sessionJSON `json:"sessions"`
}
type tokensBody struct {
	Tokens []tokenJSON `json:"tokens"`
}
type envsBody struct {
	Environments []envJSON `json:"environments"`
}
type auditBody struct {
	Entries    []store.AuditEntry `json:"entries"`
	NextCursor string             `json:"next_cursor"`
}

type configsBody struct {
	Configs []configJSON `json:"configs"`
}
type historyBody struct {
	Key      string        `json:"key"`
	Env      string        `json:"env"`
	Versions []versionJSON `json:"versions"`
}
type compareBody struct {
	From string        `json:"from"`
	To   string        `json:"to"`
	Keys []compareJSON `json:"keys"`
}
type schemasBody struct {
	Schemas []schemaJSON `json:"schemas"`
}
type importBody struct {
	Env     string      `json:"env"`
	DryRun  bool        `json:"dry_run"`
	Applied bool        `json:"applied"`
	Changes int         `json:"changes"`
	Keys    []importRow `json:"keys"`
}
type revealBody struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type promotionsBody struct {
	Promotions     []promotionJSON `json:"promotions"`
	ChangeRequests []promotionJSON `json:"change_requests"`
}

var auditQuery = []string{"actor", "action", "target", "env", "since", "until", "cursor", "limit", "format"}

var (
	docMe                = APIDoc{Summary: "Describe the calling token", Tag: "tokens", Response: meBody{}}
	docListUsers         = APIDoc{Summary: "List users", Tag: "users", Response: usersBody{}}
	docCreateUser        = APIDoc{Summary: "Create a user", Tag: "users", Request: userCreateBody{}, Response: userJSON{}, Status: http.StatusCreated}
	docGetUser           = APIDoc{Summary: "Get a user", Tag: "users", Response: userJSON{}}
	docPatchUser         = APIDoc{Summary: "Change a user's role, disabled state or password", Tag: "users", Request: userPatchBody{}, Response: userJSON{}}
	docDeleteUser        = APIDoc{Summary: "Delete a user and end their sessions", Tag: "users", Status: http.StatusNoContent}
	docListSessions      = APIDoc{Summary: "List active sessions", Tag: "sessions", Response: sessionsBody{}, Query: []string{"user"}}
	docRevokeSession     = APIDoc{Summary: "Revoke a session", Tag: "sessions", Status: http.StatusNoContent}
	docListTokens        = APIDoc{Summary: "List API tokens", Tag: "tokens", Response: tokensBody{}}
	docCreateToken       = APIDoc{Summary: "Create an API token (the answer carries it once)", Tag: "tokens", Request: tokenCreateBody{}, Response: tokenJSON{}, Status: http.StatusCreated}
	docRevokeToken       = APIDoc{Summary: "Revoke an API token", Tag: "tokens", Status: http.StatusNoContent}
	docListEnvironments  = APIDoc{Summary: "List environments", Tag: "environments", Response: envsBody{}}
	docCreateEnvironment = APIDoc{Summary: "Create an environment", Tag: "environments", Request: envCreateBody{}, Response: envJSON{}, Status: http.StatusCreated}
	docGetEnvironment    = APIDoc{Summary: "Get an environment", Tag: "environments", Response: envJSON{}}
	docPatchEnvironment  = APIDoc{Summary: "Change an environment", Tag: "environments", Request: envPatchBody{}, Response: envJSON{}}
	docDeleteEnvironment = APIDoc{Summary: "Delete an environment", Tag: "environments", Status: http.StatusNoContent}
	docAudit             = APIDoc{Summary: "Page the audit log (format=csv exports the filtered set)", Tag: "audit", Response: auditBody{}, Query: auditQuery}
	docGetSettings       = APIDoc{Summary: "Get instance settings", Tag: "settings", Response: settingsJSON{}}
	docPatchSettings     = APIDoc{Summary: "Change instance settings", Tag: "settings", Request: settingsPatchBody{}, Response: settingsJSON{}}
	docConsumerConfigs   = APIDoc{Summary: "Effective configuration of an environment (ETag; 304 on If-None-Match; Keel-Watch-Position)", Tag: "configs", Response: configsBody{}}
	docConsumerConfig    = APIDoc{Summary: "Effective value of one key (key URL-escaped)", Tag: "configs", Response: configJSON{}}
	docPutConfig         = APIDoc{Summary: "Create or change a key; version is the version replaced (0 for new), a stale one answers 409 with the current entry", Tag: "configs", Request: configPutBody{}, Response: configJSON{}}
	docDeleteConfig      = APIDoc{Summary: "Delete a key (?version= the version deleted)", Tag: "configs", Status: http.StatusNoContent, Query: []string{"version", "comment"}}
	docConfigHistory     = APIDoc{Summary: "A key's versions, newest first (secrets masked)", Tag: "configs", Response: historyBody{}}
	docRollbackConfig    = APIDoc{Summary: "Restore an earlier version as a new version", Tag: "configs", Request: configRollbackBody{}, Response: configJSON{}}
	docRevealConfig      = APIDoc{Summary: "Reveal a secret's value (admins; audited)", Tag: "configs", Response: revealBody{}}
	docWatch             = APIDoc{Summary: "Server-sent events of changes; reconnect with Last-Event-ID to replay missed ones, or get a reset event", Tag: "configs", Query: []string{"last_event_id"}}
	docImport            = APIDoc{Summary: "Import a JSON, YAML or .env document (body) all-or-nothing; dry_run=1 previews", Tag: "configs", Response: importBody{}, Query: []string{"format", "dry_run"}}
	docExport            = APIDoc{Summary: "Export an environment's own values (reveal=1 includes secrets: admins, audited)", Tag: "configs", Query: []string{"format", "reveal"}}
	docCompare           = APIDoc{Summary: "Compare what two environments deliver", Tag: "configs", Response: compareBody{}, Query: []string{"from", "to", "prefix", "tag"}}
	docPromote           = APIDoc{Summary: "Promote keys (empty: every difference) from one environment to another; 201 with the applied promotion, or 202 with the change request opened where the target requires approval", Tag: "promotions", Request: promotionBody{}, Response: promotionJSON{}, Status: http.StatusCreated}
	docListPromotions    = APIDoc{Summary: "Applied promotions and change requests", Tag: "promotions", Response: promotionsBody{}}
	docGetChangeRequest  = APIDoc{Summary: "One promotion or change request", Tag: "promotions", Response: promotionJSON{}}
	docApprove           = APIDoc{Summary: "Approve and apply a change request (a publisher other than its author; a stale request answers 409)", Tag: "promotions", Request: reviewBody{}, Response: promotionJSON{}}
	docReject            = APIDoc{Summary: "Reject a change request with a comment", Tag: "promotions", Request: reviewBody{}, Response: promotionJSON{}}
	docListSchemas       = APIDoc{Summary: "List configuration schemas", Tag: "schemas", Response: schemasBody{}}
	docGetSchema         = APIDoc{Summary: "Get the schema of a key or pattern (URL-escaped)", Tag: "schemas", Response: schemaJSON{}}
	docPutSchema         = APIDoc{Summary: "Attach a JSON Schema (2020-12) to a key or pattern; 409 lists values that would break unless confirm is true", Tag: "schemas", Request: schemaPutBody{}, Response: schemaJSON{}}
	docDeleteSchema      = APIDoc{Summary: "Remove a schema", Tag: "schemas", Status: http.StatusNoContent, Query: []string{"version"}}
)

var echoParam = regexp.MustCompile(`:([a-zA-Z_]+)`)

// OpenAPIPath turns an echo path (/users/:name) into an OpenAPI one (/users/{name}).
func OpenAPIPath(p string) string { return echoParam.ReplaceAllString(p, "{$1}") }

// openAPIDocument builds the OpenAPI 3.1 document from the route table, so
// it cannot drift from the router.
func (s *Server) openAPIDocument() map[string]any {
	paths := map[string]map[string]any{}
	for _, r := range s.routes {
		if r.Access != API || r.Doc == nil {
			continue
		}
		p := OpenAPIPath(r.Path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		d := r.Doc
		status := d.Status
		if status == 0 {
			status = http.StatusOK
		}
		op := map[string]any{
			"summary":           d.Summary,
			"tags":              []string{d.Tag},
			"operationId":       operationID(r.Method, p),
			"security":          []map[string][]string{{"bearer": {}}},
			"x-keel-permission": string(r.Perm),
		}
		var params []map[string]any
		for _, m := range echoParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]string{"type": "string"}})
		}
		for _, q := range d.Query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]string{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if d.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(d.Request))}}}
		}
		responses := map[string]any{
			"401": map[string]any{"$ref": "#/components/responses/Error"},
			"403": map[string]any{"$ref": "#/components/responses/Error"},
		}
		ok := map[string]any{"description": http.StatusText(status)}
		if d.Response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": schemaOf(reflect.TypeOf(d.Response))}}
		}
		responses[strconv.Itoa(status)] = ok
		if r.Method != http.MethodGet {
			responses["409"] = map[string]any{"$ref": "#/components/responses/Error"}
			responses["422"] = map[string]any{"$ref": "#/components/responses/Error"}
		}
		if strings.Contains(r.Path, ":") {
			responses["404"] = map[string]any{"$ref": "#/components/responses/Error"}
		}
		op["responses"] = responses
		paths[p][strings.ToLower(r.Method)] = op
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "Keel API", "version": s.cfg.Version,
			"description": "Keel's management API. Authenticate with `Authorization: Bearer <token>`; errors are `{\"error\":{\"code\",\"message\",\"fields\"}}`."},
		"servers": []map[string]string{{"url": "/"}},
		"paths":   paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{"bearer": map[string]string{"type": "http", "scheme": "bearer"}},
			"schemas": map[string]any{"Error": map[string]any{"type": "object", "properties": map[string]any{
				"error": schemaOf(reflect.TypeOf(APIError{}))}}},
			"responses": map[string]any{"Error": map[string]any{"description": "Error",
				"content": map[string]any{"application/json": map[string]any{"schema": map[string]string{"$ref": "#/components/schemas/Error"}}}}},
		},
	}
}

// operationID names an operation after its method and path:
// GET /api/v1/users/{name} -> getApiV1UsersName.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, seg := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '-' || r == '.' }) {
		b.WriteString(strings.ToUpper(seg[:1]) + seg[1:])
	}
	return b.String()
}

// schemaOf derives a JSON Schema from a Go type through its json tags.
func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Float64, reflect.Float32:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // json.RawMessage
			return map[string]any{}
		}
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		if t.PkgPath() == "time" && t.Name() == "Time" {
			return map[string]any{"type": "string", "format": "date-time"}
		}
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type)
		}
		return map[string]any{"type": "object", "properties": props}
	}
	return map[string]any{}
}

// OpenAPI serves the OpenAPI 3.1 document of the API.
func (s *Server) OpenAPI(c echo.Context) error {
	s.openapiOnce.Do(func() { s.openapi = s.openAPIDocument() })
	return c.JSON(http.StatusOK, s.openapi)
}
