package handlers_test

import (
	"net/http"
	"testing"

	"github.com/keelhq/keel/auth"
)

func TestPromotionsAndChangeRequests(t *testing.T) {
	e := newTestEnv(t)
	admin := e.apiClient(e.token("ops", auth.Admin, ""))
	editor := e.apiClient(e.token("ed", auth.Editor, ""))
	pub1 := e.apiClient(e.token("pub1", auth.Publisher, ""))
	pub2 := e.apiClient(e.token("pub2", auth.Publisher, ""))
	mustPut(t, admin, "development", "cache.ttl", `{"type":"number","value":60}`)
	mustPut(t, admin, "development", "log.level", `{"type":"string","value":"debug"}`)
	mustPut(t, admin, "development", "payment.key", `{"type":"secret","value":"sk_dev"}`)

	// Into staging (no approval needed): applied at once.
	resp := editor.json(http.MethodPost, "/api/v1/promotions", `{"from":"development","to":"staging","keys":["cache.ttl","payment.key"],"comment":"ship it"}`)
	p := decode[map[string]any](t, resp)
	if resp.StatusCode != http.StatusCreated || p["status"] != "applied" || p["kind"] != "promotion" {
		t.Fatalf("promote: %d %v", resp.StatusCode, p)
	}
	resp = admin.json(http.MethodGet, "/api/v1/envs/staging/configs/payment.key", "")
	if got := decode[map[string]any](t, resp); got["value"] != "sk_dev" {
		t.Fatalf("promoted secret: %v", got)
	}
	// Into production (approval required): a change request.
	resp = editor.json(http.MethodPost, "/api/v1/promotions", `{"from":"development","to":"production","keys":["cache.ttl","log.level"],"comment":"please"}`)
	cr := decode[map[string]any](t, resp)
	if resp.StatusCode != http.StatusAccepted || cr["status"] != "pending" || cr["kind"] != "change_request" {
		t.Fatalf("request: %d %v", resp.StatusCode, cr)
	}
	id := cr["id"].(string)
	// Editors cannot approve; the author cannot either.
	resp = editor.json(http.MethodPost, "/api/v1/change-requests/"+id+"/approve", `{}`)
	readBody(t, resp)
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("editor approve: %d", resp.StatusCode)
	}
	resp = pub1.json(http.MethodPost, "/api/v1/promotions", `{"from":"development","to":"production","keys":["log.level"]}`)
	own := decode[map[string]any](t, resp)
	resp = pub1.json(http.MethodPost, "/api/v1/change-requests/"+own["id"].(string)+"/approve", `{}`)
	readBody(t, resp)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("self-approval: %d", resp.StatusCode)
	}
	// The target changes: the request is stale until refreshed.
	mustPut(t, pub2, "production", "log.level", `{"type":"string","value":"warn"}`)
	resp = pub2.json(http.MethodPost, "/api/v1/change-requests/"+id+"/approve", `{"comment":"ok"}`)
	readBody(t, resp)
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("stale approve: %d", resp.StatusCode)
	}
	resp = admin.json(http.MethodGet, "/api/v1/envs/production/configs/cache.ttl", "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a refused approval wrote: %d", resp.StatusCode)
	}
	// Reject the stale one with a comment.
	resp = pub2.json(http.MethodPost, "/api/v1/change-requests/"+id+"/reject", `{"comment":"stale, redo it"}`)
	if rej := decode[map[string]any](t, resp); rej["status"] != "rejected" || rej["review_comment"] != "stale, redo it" {
		t.Fatalf("reject: %v", rej)
	}
	// A fresh request approved by another publisher applies.
	resp = editor.json(http.MethodPost, "/api/v1/promotions", `{"from":"development","to":"production","keys":["cache.ttl","log.level"]}`)
	id = decode[map[string]any](t, resp)["id"].(string)
	resp = pub2.json(http.MethodPost, "/api/v1/change-requests/"+id+"/approve", `{"comment":"lgtm"}`)
	if ok := decode[map[string]any](t, resp); resp.StatusCode != http.StatusOK || ok["status"] != "approved" || ok["reviewer"] != "token:pub2" {
		t.Fatalf("approve: %d %v", resp.StatusCode, ok)
	}
	resp = admin.json(http.MethodGet, "/api/v1/envs/production/configs/log.level", "")
	if got := decode[map[string]any](t, resp); got["value"] != "debug" {
		t.Fatalf("after approval: %v", got)
	}
	// A promotion that breaks the target's schema changes nothing.
	// (Schemas apply everywhere: the development value predates it.)
	mustPut(t, admin, "development", "log.level", `{"type":"string","value":"trace","version":1}`)
	resp = admin.json(http.MethodPut, "/api/v1/schemas/log.level", `{"schema":{"enum":["info","warn","error"]}}`)
	breaks := decode[map[string]any](t, resp)
	if resp.StatusCode != http.StatusConflict || breaks["breaks"] == nil {
		t.Fatalf("a breaking schema saved without confirmation: %d %v", resp.StatusCode, breaks)
	}
	resp = admin.json(http.MethodPut, "/api/v1/schemas/log.level", `{"schema":{"enum":["info","warn","error"]},"confirm":true}`)
	readBody(t, resp)
	resp = editor.json(http.MethodPost, "/api/v1/promotions", `{"from":"development","to":"staging","keys":["cache.ttl","log.level"]}`)
	bad := decode[apiErr](t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || bad.Error.Code != "invalid" {
		t.Fatalf("invalid promotion: %d %+v", resp.StatusCode, bad)
	}
	resp = admin.json(http.MethodGet, "/api/v1/envs/staging/configs/log.level", "")
	readBody(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a refused promotion wrote log.level: %d", resp.StatusCode)
	}
	resp = admin.json(http.MethodGet, "/api/v1/promotions", "")
	list := decode[struct {
		Promotions     []map[string]any `json:"promotions"`
		ChangeRequests []map[string]any `json:"change_requests"`
	}](t, resp)
	if len(list.Promotions) != 2 || len(list.ChangeRequests) != 3 {
		t.Fatalf("lists: %d promotions, %d requests", len(list.Promotions), len(list.ChangeRequests))
	}
}
