package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keelhq/keel/auth"
	"github.com/keelhq/keel/config"
	"github.com/keelhq/keel/store"
	"github.com/keelhq/keel/views"
)

// promotionTarget resolves the two environments of a promotion.
func (s *Server) promotionEnvs(c echo.Context, from, to string) ([]string, store.Environment, store.Environment, error) {
	envs, err := s.environments(c)
	if err != nil {
		return nil, store.Environment{}, store.Environment{}, err
	}
	fromChain, fromEnv, okF := envChain(envs, from)
	_, toEnv, okT := envChain(envs, to)
	ve := &store.ValidationError{}
	if !okF {
		ve.Add("from", "Choose the environment to promote from.")
	}
	if !okT {
		ve.Add("to", "Choose the environment to promote to.")
	}
	if okF && okT && from == to {
		ve.Add("to", "Promote to another environment.")
	}
	if err := ve.OrNil(); err != nil {
		return nil, store.Environment{}, store.Environment{}, err
	}
	p := principal(c)
	if !p.Can(auth.PermRead, auth.EnvironmentInfo{Name: fromEnv.Name}) || !p.Can(auth.PermWrite, auth.EnvironmentInfo{Name: toEnv.Name}) {
		return nil, store.Environment{}, store.Environment{}, auth.ErrForbidden
	}
	return fromChain, fromEnv, toEnv, nil
}

// canApplyDirectly: a promotion into an environment that needs no approval
// applies at once, for whoever may write there (publishers for protected
// environments). Into one that needs approval it becomes a change request.
func canApplyDirectly(p *auth.Principal, to store.Environment) bool {
	return !to.RequireApproval && p.Can(auth.PermWrite, auth.EnvironmentInfo{Name: to.Name, Protected: to.Protected})
}

// promoteItems renders plan items with their diff against the target and
// the target's schema verdict.
func (s *Server) promoteItems(c echo.Context, to string, items []store.PromotionItem, check bool) ([]views.PromoteItem, error) {
	ctx := c.Request().Context()
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	current, err := s.st.EffectiveConfigsFor(ctx, []string{to}, keys)
	if err != nil {
		return nil, err
	}
	violations := map[string][]string{}
	if check {
		var writes []store.ConfigWrite
		for _, it := range items {
			writes = append(writes, promotionWrite(it))
		}
		if err := s.st.CheckConfigs(ctx, to, writes); err != nil {
			var ve *store.ValidationError
			var cc *store.ConfigConflict
			switch {
			case errors.As(err, &ve):
				for f, m := range ve.Fields {
					key, field, ok := strings.Cut(f, ": ")
					if !ok {
						key, field = keys[0], f
					}
					violations[key] = append(violations[key], field+": "+m)
				}
			case errors.As(err, &cc):
				violations[cc.Key] = append(violations[cc.Key], "changed in "+to+" while you looked: reload the preview")
			default:
				return nil, err
			}
		}
	}
	out := make([]views.PromoteItem, 0, len(items))
	for _, it := range items {
		vi := views.PromoteItem{Key: it.Key, Status: "new", Secret: it.Type == config.TypeSecret, Violations: violations[it.Key]}
		cur, exists := current[it.Key]
		if exists {
			vi.Status = "changed"
		}
		if !vi.Secret && (!exists || cur.Type != config.TypeSecret) {
			vi.Lines = diffLines(it.Type, cur.Value, it.Value)
		}
		out = append(out, vi)
	}
	return out, nil
}

func promotionWrite(it store.PromotionItem) store.ConfigWrite {
	w := store.ConfigWrite{Key: it.Key, Type: it.Type, Value: it.Value, Description: it.Description, Tags: it.Tags,
		Version: it.BaseVersion}
	if it.Type == config.TypeSecret {
		w.SealedEnv = it.SourceEnv
	}
	return w
}

func promoteKeys(c echo.Context) ([]string, error) {
	if c.FormValue("all") == "1" {
		return nil, nil
	}
	form, err := c.FormParams()
	if err != nil {
		return nil, err
	}
	keys := form["keys"]
	if len(keys) == 0 {
		return nil, store.Invalid("keys", "Select at least one key.")
	}
	return keys, nil
}

// PromotePreview shows what a promotion would write, with the diff and the
// target's schema results for each key.
func (s *Server) PromotePreview(c echo.Context) error {
	fromChain, fromEnv, toEnv, err := s.promotionEnvs(c, c.FormValue("from"), c.FormValue("to"))
	if err != nil {
		return err
	}
	keys, err := promoteKeys(c)
	if err != nil {
		return err
	}
	items, err := s.st.PlanPromotion(c.Request().Context(), fromChain, toEnv.Name, keys)
	if err != nil {
		return err
	}
	vitems, err := s.promoteItems(c, toEnv.Name, items, true)
	if err != nil {
		return err
	}
	p := views.PromoteProps{From: envChip(fromEnv), To: envChip(toEnv), Items: vitems, CSRF: sessionState(c).CSRF,
		NeedsApproval: toEnv.RequireApproval, CanApply: toEnv.RequireApproval || canApplyDirectly(principal(c), toEnv)}
	for _, it := range items {
		p.Keys = append(p.Keys, it.Key)
	}
	return s.render(c, http.StatusOK, "Promote "+fromEnv.Name+" → "+toEnv.Name, views.PromotePreviewContent(p), nil)
}

// Promote applies a promotion, or opens a change request where the target
// requires approval.
func (s *Server) Promote(c echo.Context) error {
	fromChain, fromEnv, toEnv, err := s.promotionEnvs(c, c.FormValue("from"), c.FormValue("to"))
	if err != nil {
		return err
	}
	keys, err := promoteKeys(c)
	if err != nil {
		return err
	}
	p, err := s.promote(c, fromChain, fromEnv, toEnv, keys, strings.TrimSpace(c.FormValue("comment")))
	if err != nil {
		return err
	}
	dest := "/promotions"
	if p.Status == "pending" {
		dest = "/change-requests/" + url.PathEscape(p.ID)
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", dest)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, dest)
}

// promote is the one path of UI and API promotions.
func (s *Server) promote(c echo.Context, fromChain []string, fromEnv, toEnv store.Environment, keys []string, comment string) (store.Promotion, error) {
	ctx := c.Request().Context()
	items, err := s.st.PlanPromotion(ctx, fromChain, toEnv.Name, keys)
	if err != nil {
		return store.Promotion{}, err
	}
	if len(items) == 0 {
		return store.Promotion{}, store.Invalid("keys", "Nothing differs: there is nothing to promote.")
	}
	if toEnv.RequireApproval {
		return s.st.RequestPromotion(ctx, actor(c), fromEnv.Name, toEnv.Name, items, comment)
	}
	if !canApplyDirectly(principal(c), toEnv) {
		return store.Promotion{}, auth.ErrForbidden
	}
	return s.st.Promote(ctx, actor(c), fromEnv.Name, toEnv.Name, items, comment)
}

func promotionRow(p store.Promotion, stale bool) views.ChangeRequestRow {
	r := views.ChangeRequestRow{ID: p.ID, From: p.From, To: p.To, Author: p.Author, Comment: p.Comment, Status: p.Status,
		Keys: p.Keys(), Created: p.Created, Reviewer: p.Reviewer, ReviewComment: p.ReviewComment, Reviewed: p.Reviewed}
	if stale && p.Status == "pending" {
		r.Status = "stale"
	}
	return r
}

func (s *Server) envNames(c echo.Context) ([]string, error) {
	envs, err := s.environments(c)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(envs))
	for i, e := range envs {
		names[i] = e.Name
	}
	return names, nil
}

// PromotionsPage lists applied promotions and change requests.
func (s *Server) PromotionsPage(c echo.Context) error {
	ctx := c.Request().Context()
	names, err := s.envNames(c)
	if err != nil {
		return err
	}
	proms, err := s.st.ListPromotions(ctx, names, 100)
	if err != nil {
		return err
	}
	reqs, err := s.st.ListChangeRequests(ctx, names, 100)
	if err != nil {
		return err
	}
	me := principal(c)
	p := views.PromotionsProps{Me: me.Name, CanApprove: me.Has(auth.PermApprove), CSRF: sessionState(c).CSRF}
	for _, pr := range proms {
		p.Promotions = append(p.Promotions, promotionRow(pr, false))
	}
	for _, r := range reqs {
		stale := false
		if r.Status == "pending" {
			if stale, err = s.st.PromotionStale(ctx, r); err != nil {
				return err
			}
		}
		p.Requests = append(p.Requests, promotionRow(r, stale))
	}
	return s.render(c, http.StatusOK, "Promotions", views.PromotionsContent(p), nil)
}

func (s *Server) changeRequestProps(c echo.Context, id string, errs map[string]string) (views.ChangeRequestProps, store.Promotion, error) {
	ctx := c.Request().Context()
	pr, err := s.st.GetPromotion(ctx, id)
	if err != nil {
		return views.ChangeRequestProps{}, pr, err
	}
	me := principal(c)
	if !me.Can(auth.PermRead, auth.EnvironmentInfo{Name: pr.To}) {
		return views.ChangeRequestProps{}, pr, auth.ErrForbidden
	}
	stale := false
	if pr.Status == "pending" {
		if stale, err = s.st.PromotionStale(ctx, pr); err != nil {
			return views.ChangeRequestProps{}, pr, err
		}
	}
	items, err := s.promoteItems(c, pr.To, pr.Items, false)
	if err != nil {
		return views.ChangeRequestProps{}, pr, err
	}
	isAuthor := pr.Author == me.ActorName()
	return views.ChangeRequestProps{CR: promotionRow(pr, stale), Items: items, Stale: stale, IsAuthor: isAuthor,
		CanApprove: me.Has(auth.PermApprove) && !isAuthor && pr.Status == "pending", Errors: errs,
		CSRF: sessionState(c).CSRF}, pr, nil
}

// ChangeRequestPage shows one change request.
func (s *Server) ChangeRequestPage(c echo.Context) error {
	p, _, err := s.changeRequestProps(c, c.Param("id"), nil)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "Change request "+p.CR.ID, views.ChangeRequestContent(p), nil)
}

// reviewDone answers a review action: on success, back to the request page
// (a redirect, so a reload does not repeat the action); on failure, the
// page with the reason.
func (s *Server) reviewDone(c echo.Context, id string, errs map[string]string, status int) error {
	if status == http.StatusOK {
		dest := "/change-requests/" + url.PathEscape(id)
		if isHTMX(c) {
			c.Response().Header().Set("HX-Redirect", dest)
			return c.NoContent(http.StatusNoContent)
		}
		return c.Redirect(http.StatusSeeOther, dest)
	}
	p, _, err := s.changeRequestProps(c, id, errs)
	if err != nil {
		return err
	}
	return s.render(c, status, "Change request "+id, views.ChangeRequestContent(p), nil)
}

// ApproveChangeRequest applies a pending request (a publisher other than
// its author); a stale one must be refreshed first.
func (s *Server) ApproveChangeRequest(c echo.Context) error {
	id := c.Param("id")
	_, err := s.st.ApprovePromotion(c.Request().Context(), actor(c), id, strings.TrimSpace(c.FormValue("comment")))
	if errs := formError(err); errs != nil {
		return s.reviewDone(c, id, errs, http.StatusConflict)
	}
	if err != nil {
		return err
	}
	return s.reviewDone(c, id, nil, http.StatusOK)
}

// RejectChangeRequest rejects a pending request with a comment.
func (s *Server) RejectChangeRequest(c echo.Context) error {
	id := c.Param("id")
	_, err := s.st.RejectPromotion(c.Request().Context(), actor(c), id, strings.TrimSpace(c.FormValue("comment")))
	if errs := formError(err); errs != nil {
		return s.reviewDone(c, id, errs, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return s.reviewDone(c, id, nil, http.StatusOK)
}

// RefreshChangeRequest re-reads a stale request's values and the target's
// versions.
func (s *Server) RefreshChangeRequest(c echo.Context) error {
	id := c.Param("id")
	ctx := c.Request().Context()
	pr, err := s.st.GetPromotion(ctx, id)
	if err != nil {
		return err
	}
	fromChain, _, _, err := s.promotionEnvs(c, pr.From, pr.To)
	if err != nil {
		return err
	}
	if _, err := s.st.RefreshPromotion(ctx, actor(c), id, fromChain); err != nil {
		if errs := formError(err); errs != nil {
			return s.reviewDone(c, id, errs, http.StatusConflict)
		}
		return err
	}
	return s.reviewDone(c, id, nil, http.StatusOK)
}

// --- JSON API ---

type promotionItemJSON struct {
	Key           string `json:"key"`
	Type          string `json:"type"`
	SourceEnv     string `json:"source_env"`
	SourceVersion int64  `json:"source_version"`
	BaseVersion   int64  `json:"base_version"`
}

type promotionJSON struct {
	ID            string              `json:"id"`
	Kind          string              `json:"kind"` // promotion | change_request
	From          string              `json:"from"`
	To            string              `json:"to"`
	Author        string              `json:"author"`
	Comment       string              `json:"comment,omitempty"`
	Status        string              `json:"status"`
	Items         []promotionItemJSON `json:"items"`
	Created       string              `json:"created"`
	Reviewer      string              `json:"reviewer,omitempty"`
	ReviewComment string              `json:"review_comment,omitempty"`
	Reviewed      string              `json:"reviewed,omitempty"`
}

func toPromotionJSON(p store.Promotion) promotionJSON {
	kind := "promotion"
	if p.IsRequest() {
		kind = "change_request"
	}
	out := promotionJSON{ID: p.ID, Kind: kind, From: p.From, To: p.To, Author: p.Author, Comment: p.Comment, Status: p.Status,
		Created: rfc3339(p.Created), Reviewer: p.Reviewer, ReviewComment: p.ReviewComment, Reviewed: rfc3339(p.Reviewed)}
	for _, it := range p.Items {
		out.Items = append(out.Items, promotionItemJSON{Key: it.Key, Type: string(it.Type), SourceEnv: it.SourceEnv,
			SourceVersion: it.SourceVersion, BaseVersion: it.BaseVersion})
	}
	return out
}

// promotionBody is the body of POST /api/v1/promotions.
type promotionBody struct {
	From    string   `json:"from"`
	To      string   `json:"to"`
	Keys    []string `json:"keys"` // empty: every difference
	Comment string   `json:"comment,omitempty"`
}

// APIPromote promotes keys; the answer is the applied promotion (201) or
// the change request it opened (202).
func (s *Server) APIPromote(c echo.Context) error {
	var in promotionBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	fromChain, fromEnv, toEnv, err := s.promotionEnvs(c, in.From, in.To)
	if err != nil {
		return err
	}
	keys := in.Keys
	if len(keys) == 0 {
		keys = nil
	}
	p, err := s.promote(c, fromChain, fromEnv, toEnv, keys, in.Comment)
	if handled, herr := s.configConflict(c, err); handled {
		return herr
	}
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if p.Status == "pending" {
		status = http.StatusAccepted
	}
	return c.JSON(status, toPromotionJSON(p))
}

// reviewBody is the body of approve and reject.
type reviewBody struct {
	Comment string `json:"comment,omitempty"`
}

// APIApproveChangeRequest approves (and applies) a change request.
func (s *Server) APIApproveChangeRequest(c echo.Context) error {
	var in reviewBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := s.st.ApprovePromotion(c.Request().Context(), actor(c), c.Param("id"), in.Comment)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPromotionJSON(p))
}

// APIRejectChangeRequest rejects a change request.
func (s *Server) APIRejectChangeRequest(c echo.Context) error {
	var in reviewBody
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := s.st.RejectPromotion(c.Request().Context(), actor(c), c.Param("id"), in.Comment)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPromotionJSON(p))
}

// APIGetChangeRequest returns one promotion or change request.
func (s *Server) APIGetChangeRequest(c echo.Context) error {
	p, err := s.st.GetPromotion(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if !principal(c).Can(auth.PermRead, auth.EnvironmentInfo{Name: p.To}) {
		return auth.ErrForbidden
	}
	return c.JSON(http.StatusOK, toPromotionJSON(p))
}

// APIListPromotions lists applied promotions and change requests.
func (s *Server) APIListPromotions(c echo.Context) error {
	ctx := c.Request().Context()
	names, err := s.envNames(c)
	if err != nil {
		return err
	}
	if scope := principal(c).EnvScope; scope != "" {
		names = []string{scope}
	}
	proms, err := s.st.ListPromotions(ctx, names, 200)
	if err != nil {
		return err
	}
	reqs, err := s.st.ListChangeRequests(ctx, names, 200)
	if err != nil {
		return err
	}
	out := map[string][]promotionJSON{"promotions": {}, "change_requests": {}}
	for _, p := range proms {
		out["promotions"] = append(out["promotions"], toPromotionJSON(p))
	}
	for _, p := range reqs {
		out["change_requests"] = append(out["change_requests"], toPromotionJSON(p))
	}
	return c.JSON(http.StatusOK, out)
}
