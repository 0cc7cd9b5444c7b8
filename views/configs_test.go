package views

import (
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// secretClear is a secret's clear text. It is passed wherever a careless
// handler might pass it; only SecretValue may show it.
const secretClear = "s3cr3t-Cl3ar-Value"

var prodChip = EnvChip{Name: "production", Color: "#ef4444", Protected: true}

func sampleConfigRows() []ConfigRow {
	return []ConfigRow{
		{Key: "db.host", Type: "string", Value: "db.internal", Description: "Primary host", Tags: []string{"db"}, Version: 7, UpdatedAt: t0, UpdatedBy: "alice"},
		{Key: "db.password", Type: "secret", Value: secretMask, Secret: true, Version: 3, UpdatedAt: t0, UpdatedBy: "alice"},
		{Key: "db.pool", Type: "json", Value: `{"size":20,"hosts":["a","b"]}`, Version: 12, UpdatedAt: t0, UpdatedBy: "carol", Overrides: "staging"},
		{Key: "feature.search", Type: "boolean", Value: "false", Version: 1, UpdatedAt: t0, SourceEnv: "staging"},
		{Key: "banner", Type: "string", Value: "Maintenance", Version: 1, UpdatedAt: t0, ExpiresAt: t0.Add(3*time.Hour + 12*time.Minute)},
		{Key: "api/rate.limit", Type: "number", Value: "1200", Version: 2, UpdatedAt: t0},
		{Key: evilName, Type: "string", Value: evilName, Description: evilName, Tags: []string{"x"}, Version: 1, UpdatedAt: t0, UpdatedBy: evilName},
	}
}

func sampleConfigs() ConfigsProps {
	return ConfigsProps{Env: prodChip, Parent: "staging", Rows: sampleConfigRows(), Total: 42,
		Filter:  ConfigFilter{Prefix: "db.", Tag: "db", Type: "json", Inherited: true},
		NextURL: "/configs/table?env=production&cursor=x", Types: []string{"string", "number", "boolean", "json", "secret"},
		CSRF: testCSRF, CanWrite: true, Now: t0}
}

func jsonLines() []DiffLine {
	return []DiffLine{
		{Kind: "equal", Old: "{", New: "{"},
		{Kind: "change", Old: `  "size": 10,`, New: `  "size": 20,`,
			OldWords: []DiffWord{{"equal", `  "size": `}, {"delete", "10"}, {"equal", ","}},
			NewWords: []DiffWord{{"equal", `  "size": `}, {"insert", "20"}, {"equal", ","}}},
		{Kind: "delete", Old: `  "retries": 3,`},
		{Kind: "insert", New: `  "idle": 5,`},
		{Kind: "equal", Old: "}", New: "}"},
	}
}

func sampleHistory() []HistoryRow {
	return []HistoryRow{
		{Version: 12, Action: "set", Author: "carol", Comment: evilName, Time: t0, Type: "json", Value: `{"size":20}`, PrevVersion: 11, Current: true},
		{Version: 11, Action: "rollback", Author: "alice", Time: t0, Type: "json", Value: `{"size":10}`, PrevVersion: 10},
		{Version: 10, Action: "delete", Author: "dave", Time: t0, Deleted: true, PrevVersion: 9},
		{Version: 9, Action: "set", Author: "dave", Time: t0, Type: "secret", Value: secretClear, PrevVersion: 8},
	}
}

func sampleEdit() ConfigEditProps {
	cur := sampleConfigRows()[2]
	inh := ConfigRow{Key: "db.pool", Type: "json", Value: `{"size":5}`, SourceEnv: "staging"}
	return ConfigEditProps{Env: prodChip, Current: &cur, Inherited: &inh, SchemaPattern: "db.*", SchemaDoc: `{"type":"object"}`,
		History: sampleHistory(), Types: []string{"string", "number", "boolean", "json", "secret"}, CSRF: testCSRF, CanWrite: true, CanReveal: true, Now: t0,
		Form: ConfigForm{Env: "production", Key: "db.pool", Type: "json", Value: "{\n  \"size\": 20,\n}", Description: evilName, Tags: "db, core",
			TTL: "24h", Comment: "grow", Version: 12, Errors: map[string]string{"value": "Not valid JSON.", "form": "Something else."}, ValueLine: 3, ValueColumn: 1}}
}

func sampleSecretEdit() ConfigEditProps {
	cur := sampleConfigRows()[1]
	cur.Value = secretClear // a handler must mask it; the view masks it anyway
	inh := ConfigRow{Key: "db.password", Type: "secret", Value: secretClear, Secret: true, SourceEnv: "staging"}
	return ConfigEditProps{Env: prodChip, Current: &cur, Inherited: &inh, Types: []string{"string", "secret"}, CSRF: testCSRF, CanWrite: true, CanReveal: true, Now: t0,
		History: []HistoryRow{{Version: 3, Action: "set", Author: "alice", Time: t0, Type: "secret", Value: secretClear, Current: true}},
		Form:    ConfigForm{Env: "production", Key: "db.password", Type: "secret", Value: secretClear, Version: 3, KeepSecret: true}}
}

func sampleConflict(secret bool) ConflictProps {
	p := ConflictProps{Env: prodChip, Key: "db.pool", CSRF: testCSRF, Secret: secret,
		Base:          HistoryRow{Version: 11, Action: "set", Author: "alice", Time: t0, Type: "json", Value: `{"size":10}`},
		Theirs:        HistoryRow{Version: 12, Action: "set", Author: evilName, Time: t0, Type: "json", Value: `{"size":20}`},
		Yours:         HistoryRow{Author: "alice", Type: "json", Value: `{"size":15}`},
		TheirsVsYours: jsonLines(), BaseVsTheirs: jsonLines(),
		Form: ConfigForm{Env: "production", Key: "db.pool", Type: "json", Value: `{"size":15}`, Description: evilName, Version: 12, Comment: "mine"}}
	if secret {
		for _, r := range []*HistoryRow{&p.Base, &p.Theirs, &p.Yours} {
			r.Type, r.Value = "secret", secretClear
		}
		p.Form.Type, p.Form.Value = "secret", secretClear
		p.TheirsVsYours, p.BaseVsTheirs = nil, nil
	}
	return p
}

func sampleCompare() CompareProps {
	return CompareProps{Envs: sampleEnvs, A: "development", B: "production", Prefix: "db.", CSRF: testCSRF, CanPromote: true,
		Different: []CompareRow{
			{Key: "db.pool", Status: "different", A: &ConfigRow{Type: "json"}, B: &ConfigRow{Type: "json"}, Lines: jsonLines()},
			{Key: "db.password", Status: "different", Secret: true, A: &ConfigRow{Type: "secret", Value: secretClear}, B: &ConfigRow{Type: "secret", Value: secretClear},
				Lines: []DiffLine{{Kind: "change", Old: secretClear, New: secretClear + "2"}}},
			{Key: evilName, Status: "different", A: &ConfigRow{Type: "string", Value: evilName}, B: &ConfigRow{Type: "number", Value: "1"},
				Lines: []DiffLine{{Kind: "change", Old: evilName, New: "1"}}},
		},
		OnlyA: []CompareRow{{Key: "feature.dark", Status: "only_a", A: &ConfigRow{Type: "boolean", Value: "true", SourceEnv: "base"}}},
		OnlyB: []CompareRow{{Key: "banner", Status: "only_b", B: &ConfigRow{Type: "string", Value: "hello"}}},
		Equal: []CompareRow{
			{Key: "checkout", Status: "equal", A: &ConfigRow{Type: "boolean", Value: "true"}, B: &ConfigRow{Type: "boolean", Value: "true"}},
			{Key: "stripe.key", Status: "equal", A: &ConfigRow{Type: "secret", Value: secretClear}, B: &ConfigRow{Type: "secret", Value: secretClear}},
		}}
}

func samplePromoteItems() []PromoteItem {
	return []PromoteItem{
		{Key: "db.pool", Status: "changed", Lines: jsonLines()},
		{Key: "api/limit", Status: "changed", Lines: []DiffLine{{Kind: "change", Old: "1200", New: "600"}}, Violations: []string{"minimum: must be at least 1000", evilName}},
		{Key: "db.password", Status: "new", Secret: true},
	}
}

func samplePromote() PromoteProps {
	return PromoteProps{From: EnvChip{Name: "staging"}, To: prodChip, Items: samplePromoteItems(), Keys: []string{"db.pool", "api/limit", "db.password"},
		Comment: evilName, Errors: map[string]string{"comment": "Too long."}, NeedsApproval: true, CanApply: true, CSRF: testCSRF}
}

func sampleCR() ChangeRequestRow {
	return ChangeRequestRow{ID: "production-12", From: "staging", To: "production", Author: "bob", Comment: evilName, Status: "pending",
		Keys: []string{"db.pool", "db.password"}, Created: t0}
}

func samplePromotions() PromotionsProps {
	applied := sampleCR()
	applied.ID, applied.Status, applied.Reviewer = "production-9", "applied", "alice"
	mine := sampleCR()
	mine.ID, mine.Author = "staging-3", "alice"
	return PromotionsProps{Promotions: []ChangeRequestRow{applied}, Requests: []ChangeRequestRow{sampleCR(), mine}, Me: "alice", CanApprove: true, CSRF: testCSRF}
}

func sampleSchemas() SchemasProps {
	return SchemasProps{CSRF: testCSRF, CanWrite: true,
		Rows: []SchemaRow{
			{Pattern: "db.*", Doc: `{"type":"object"}`, Version: 5, UpdatedAt: t0, UpdatedBy: "alice"},
			{Pattern: evilName, Doc: evilName, Version: 1, UpdatedAt: t0},
		},
		Form: SchemaForm{Pattern: "db.*", Doc: `{"type":"object","required":["timeout"]}`, Version: 5, Editing: true, NeedsConfirm: true,
			Errors: map[string]string{"doc": "Bad schema.", "other": "Other problem."},
			Breaks: []SchemaBreakRow{{Env: "production", Key: "db.pool", Violations: []string{`required: missing property "timeout"`, evilName}}}}}
}

func sampleImport() ImportProps {
	return ImportProps{Env: prodChip, Format: "yaml", Data: "db.host: x\nstripe.key:\n  $secret: " + secretClear + "\n", CSRF: testCSRF, CanWrite: true,
		Previewed: true, CanExportSecrets: true, Applied: 2, Errors: map[string]string{"data": "Line 3: bad."},
		Rows: []ImportRow{
			{Key: "db.host", Status: "changed", Lines: []DiffLine{{Kind: "change", Old: "y", New: "x"}}},
			{Key: "new.key", Status: "new", Lines: []DiffLine{{Kind: "insert", New: "1"}}},
			{Key: "stripe.key", Status: "changed", Secret: true},
			{Key: "same.key", Status: "same"},
			{Key: evilName, Status: "invalid", Problem: evilName},
		}}
}

// configComponents lists every configuration component with sample props,
// the page bodies also inside the shell.
func configComponents() map[string]templ.Component {
	shell := sampleShell()
	ro := sampleConfigs()
	ro.CanWrite = false
	empty := sampleConfigs()
	empty.Rows, empty.NextURL = nil, ""
	newKey := sampleEdit()
	newKey.Current, newKey.History = nil, nil
	newKey.Form = ConfigForm{Env: "production", Type: "boolean", Value: "true", IsNew: true, Errors: map[string]string{"key": "Taken."}}
	readEdit := sampleEdit()
	readEdit.CanWrite, readEdit.CanReveal = false, false
	stale := ChangeRequestProps{CR: sampleCR(), Items: samplePromoteItems(), CanApprove: true, Stale: true, CSRF: testCSRF, Errors: map[string]string{"comment": "Say why.", "form": "Conflict."}}
	stale.CR.Status = "stale"
	return map[string]templ.Component{
		"Configs":            Page(shell, ConfigsContent(sampleConfigs())),
		"ConfigsReadOnly":    ConfigsContent(ro),
		"ConfigsEmpty":       ConfigsContent(empty),
		"ConfigsTable":       ConfigsTable(sampleConfigs()),
		"ConfigsMore":        ConfigsMore(sampleConfigs()),
		"ConfigEdit":         Page(shell, ConfigEditContent(sampleEdit())),
		"ConfigEditSecret":   Page(shell, ConfigEditContent(sampleSecretEdit())),
		"ConfigEditNew":      ConfigEditContent(newKey),
		"ConfigEditReadOnly": ConfigEditContent(readEdit),
		"ConfigEditForm":     ConfigEditForm(sampleEdit()),
		"SecretValue":        SecretValue("production", "db.password", "revealed-"+evilName),
		"ConfigNotice":       ConfigNotice(ConfigNoticeProps{Env: "production", Key: evilName, SeenVersion: 3, CurrentVersion: 4, By: evilName}),
		"ConfigNoticeGone":   ConfigNotice(ConfigNoticeProps{Env: "production", Key: "k", SeenVersion: 3, Deleted: true}),
		"Conflict":           Page(shell, ConflictContent(sampleConflict(false))),
		"ConflictSecret":     ConflictContent(sampleConflict(true)),
		"History":            Page(shell, HistoryContent(HistoryProps{Env: prodChip, Key: evilName, Rows: sampleHistory(), CSRF: testCSRF, CanWrite: true, CurrentVersion: 12})),
		"VersionDiff":        Page(shell, VersionDiffContent(VersionDiffProps{Env: prodChip, Key: evilName, From: sampleHistory()[1], To: sampleHistory()[0], Lines: jsonLines()})),
		"VersionDiffMasked":  VersionDiffContent(VersionDiffProps{Env: prodChip, Key: "db.password", From: sampleHistory()[3], To: sampleHistory()[3], Masked: true}),
		"Compare":            Page(shell, CompareContent(sampleCompare())),
		"CompareReadOnly":    CompareContent(CompareProps{Envs: sampleEnvs, A: "development", B: "production", Different: sampleCompare().Different, Equal: sampleCompare().Equal}),
		"CompareUnchosen":    CompareContent(CompareProps{Envs: sampleEnvs}),
		"PromotePreview":     Page(shell, PromotePreviewContent(samplePromote())),
		"Promotions":         Page(shell, PromotionsContent(samplePromotions())),
		"PromotionsEmpty":    PromotionsContent(PromotionsProps{CSRF: testCSRF}),
		"ChangeRequest":      Page(shell, ChangeRequestContent(ChangeRequestProps{CR: sampleCR(), Items: samplePromoteItems()[:1], CanApprove: true, CSRF: testCSRF})),
		"ChangeRequestStale": ChangeRequestContent(stale),
		"ChangeRequestOwn":   ChangeRequestContent(ChangeRequestProps{CR: sampleCR(), IsAuthor: true, CSRF: testCSRF}),
		"Schemas":            Page(shell, SchemasContent(sampleSchemas())),
		"SchemasReadOnly":    SchemasContent(SchemasProps{Rows: sampleSchemas().Rows, CSRF: testCSRF}),
		"SchemaFormView":     SchemaFormView(sampleSchemas()),
		"Import":             Page(shell, ImportContent(sampleImport())),
		"ImportReadOnly":     ImportContent(ImportProps{Env: prodChip, CSRF: testCSRF}),
	}
}

// checkPage applies what the CSP, CSRF protection and accessibility need
// of any rendered component (as TestCSPAndSafety does for the others).
func checkPage(t *testing.T, out string, doc *html.Node) {
	t.Helper()
	if strings.Contains(out, "<script>alert") {
		t.Errorf("unescaped user input in output")
	}
	ids := map[string]bool{}
	labelled := map[string]bool{}
	for _, l := range findAll(doc, func(n *html.Node) bool { return n.Data == "label" }) {
		if f, ok := attr(l, "for"); ok {
			labelled[f] = true
		}
	}
	walk(doc, func(n *html.Node) {
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			switch {
			case k == "style":
				t.Errorf("<%s> has a style attribute (blocked by the CSP)", n.Data)
			case strings.HasPrefix(k, "on"):
				t.Errorf("<%s> has inline handler %s", n.Data, k)
			case strings.HasPrefix(k, "hx-on"):
				t.Errorf("<%s> has %s (needs eval)", n.Data, k)
			case strings.HasPrefix(strings.TrimSpace(strings.ToLower(a.Val)), "javascript:"):
				t.Errorf("<%s %s> is a javascript: URL", n.Data, k)
			case k == "id":
				if ids[a.Val] {
					t.Errorf("duplicate id %q", a.Val)
				}
				ids[a.Val] = true
			}
		}
		switch n.Data {
		case "script", "style":
			if v, _ := attr(n, "nonce"); v != testNonce {
				t.Errorf("<%s> nonce = %q, want %q", n.Data, v, testNonce)
			}
		case "form":
			if m, _ := attr(n, "method"); strings.EqualFold(m, "post") {
				csrf := findAll(n, func(i *html.Node) bool {
					nm, _ := attr(i, "name")
					tp, _ := attr(i, "type")
					return i.Data == "input" && nm == "_csrf" && tp == "hidden"
				})
				if len(csrf) != 1 {
					t.Errorf("POST form %v has %d _csrf inputs", n.Attr, len(csrf))
				} else if v, _ := attr(csrf[0], "value"); v != testCSRF {
					t.Errorf("_csrf value %q, want %q", v, testCSRF)
				}
			}
		case "input", "select", "textarea":
			if tp, _ := attr(n, "type"); tp == "hidden" {
				return
			}
			id, _ := attr(n, "id")
			_, aria := attr(n, "aria-label")
			_, ariaBy := attr(n, "aria-labelledby")
			if !labelled[id] && !aria && !ariaBy {
				t.Errorf("<%s name=%v> has no label", n.Data, n.Attr)
			}
		case "button":
			if text(n) == "" {
				if _, ok := attr(n, "aria-label"); !ok {
					t.Errorf("button without text or aria-label: %v", n.Attr)
				}
			}
		}
	})
	// Every element pointed to by aria-describedby exists.
	walk(doc, func(n *html.Node) {
		if d, ok := attr(n, "aria-describedby"); ok {
			for _, id := range strings.Fields(d) {
				if !ids[id] {
					t.Errorf("<%s> aria-describedby names missing id %q", n.Data, id)
				}
			}
		}
	})
}

func TestConfigCSPAndSafety(t *testing.T) {
	for name, c := range configComponents() {
		t.Run(name, func(t *testing.T) {
			out, doc := render(t, c)
			checkPage(t, out, doc)
			if name != "SecretValue" && strings.Contains(out, secretClear) && name != "Import" {
				t.Errorf("a secret's clear value is in the output")
			}
		})
	}
}

// renderIn renders a fragment that lives inside a <context> element (a
// <tbody> inside a <table>) and parses it there.
func renderIn(t *testing.T, c templ.Component, context string) *html.Node {
	t.Helper()
	out, _ := render(t, c)
	ctx := &html.Node{Type: html.ElementNode, Data: context, DataAtom: atom.Lookup([]byte(context))}
	nodes, err := html.ParseFragment(strings.NewReader(out), ctx)
	if err != nil {
		t.Fatalf("parse fragment: %v", err)
	}
	root := &html.Node{Type: html.ElementNode, Data: context, DataAtom: ctx.DataAtom}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	return root
}

// inputsNamed returns the form controls of n with the given name.
func inputsNamed(n *html.Node, name string) []*html.Node {
	return findAll(n, func(i *html.Node) bool {
		nm, _ := attr(i, "name")
		return nm == name && (i.Data == "input" || i.Data == "select" || i.Data == "textarea" || i.Data == "button")
	})
}

func hiddenValue(t *testing.T, form *html.Node, name string) string {
	t.Helper()
	in := inputsNamed(form, name)
	if len(in) != 1 {
		t.Fatalf("%d inputs named %q", len(in), name)
	}
	v, _ := attr(in[0], "value")
	return v
}

func TestConfigsPage(t *testing.T) {
	out, doc := render(t, ConfigsContent(sampleConfigs()))
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("unsafe key not shown escaped")
	}
	if h, _ := attr(mustTestID(t, doc, "config-new"), "href"); h != "/configs/new?env=production" {
		t.Errorf("new key href = %q", h)
	}
	if h, _ := attr(mustTestID(t, doc, "configs-import"), "href"); h != "/import?env=production" {
		t.Errorf("import href = %q", h)
	}
	if h, _ := attr(mustTestID(t, doc, "configs-export-yaml"), "href"); h != "/export?env=production&format=yaml" {
		t.Errorf("export href = %q", h)
	}
	if h, _ := attr(mustTestID(t, doc, "configs-compare"), "href"); h != "/compare?a=staging&b=production" {
		t.Errorf("compare href = %q", h)
	}

	f := mustTestID(t, doc, "configs-filter")
	for k, want := range map[string]string{"method": "get", "action": "/configs", "hx-get": "/configs", "hx-target": "#configs-table", "hx-swap": "outerHTML", "hx-push-url": "true"} {
		if v, _ := attr(f, k); v != want {
			t.Errorf("filter %s = %q, want %q", k, v, want)
		}
	}
	if v, _ := attr(f, "hx-trigger"); !strings.Contains(v, "input") || !strings.Contains(v, "delay:250ms") {
		t.Errorf("filter hx-trigger = %q", v)
	}
	if hiddenValue(t, f, "env") != "production" || hiddenValue(t, f, "prefix") != "db." || hiddenValue(t, f, "tag") != "db" {
		t.Errorf("filter does not keep its values")
	}
	if _, ok := attr(mustTestID(t, doc, "filter-own"), "checked"); ok {
		t.Errorf("own-keys filter checked while inherited keys show")
	}

	wrap := findAll(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "configs-table" })
	if len(wrap) != 1 {
		t.Fatalf("%d #configs-table", len(wrap))
	}
	if v, _ := attr(wrap[0], "hx-get"); v != "/configs/table?env=production&prefix=db.&tag=db&type=json" {
		t.Errorf("table hx-get = %q", v)
	}
	if v, _ := attr(wrap[0], "hx-trigger"); !strings.Contains(v, "keel:configs from:body") {
		t.Errorf("table hx-trigger = %q", v)
	}
	mustTestID(t, doc, "configs-table")

	row := mustTestID(t, doc, "config-row-api/rate.limit")
	link := findAll(row, func(n *html.Node) bool { return n.Data == "a" })[0]
	if h, _ := attr(link, "href"); h != "/configs/edit?env=production&key=api%2Frate.limit" {
		t.Errorf("key link = %q", h)
	}
	if h, _ := attr(findAll(mustTestID(t, doc, "config-row-feature.search"), func(n *html.Node) bool { return n.Data == "a" })[0], "href"); h != "/configs/edit?env=staging&key=feature.search" {
		t.Errorf("inherited key link = %q", h)
	}
	if got := text(mustTestID(t, doc, "inherited-feature.search")); got != "inherited from staging" {
		t.Errorf("inherited badge = %q", got)
	}
	if byTestID(doc, "inherited-db.host") != nil {
		t.Errorf("own key marked inherited")
	}
	if got := text(mustTestID(t, doc, "overrides-db.pool")); got != "overrides staging" {
		t.Errorf("overrides badge = %q", got)
	}
	if got := text(mustTestID(t, doc, "expires-banner")); got != "expires in 3h 12m" {
		t.Errorf("expiry = %q", got)
	}
	if got := text(mustTestID(t, doc, "config-row-db.password")); !strings.Contains(got, secretMask) {
		t.Errorf("secret row = %q", got)
	}

	ov := mustTestID(t, doc, "override-feature.search")
	const filterQuery = "?prefix=db.&tag=db&type=json"
	if a, _ := attr(ov.Parent, "action"); a != "/configs/override"+filterQuery || hiddenValue(t, ov.Parent, "key") != "feature.search" || hiddenValue(t, ov.Parent, "env") != "production" {
		t.Errorf("override form action=%q", a)
	}
	if a, _ := attr(ov.Parent, "hx-target"); a != "#configs-table" {
		t.Errorf("override hx-target = %q", a)
	}
	rm := mustTestID(t, doc, "remove-override-db.pool")
	if a, _ := attr(rm.Parent, "hx-post"); a != "/configs/remove-override"+filterQuery {
		t.Errorf("remove override hx-post = %q", a)
	}
	if c, _ := attr(rm.Parent, "hx-confirm"); c == "" {
		t.Errorf("remove override without hx-confirm")
	}
	if hiddenValue(t, rm.Parent, "version") != "12" {
		t.Errorf("remove override version")
	}
	for _, id := range []string{"override-db.host", "remove-override-db.host", "remove-override-feature.search"} {
		if byTestID(doc, id) != nil {
			t.Errorf("%s shown", id)
		}
	}
	more := mustTestID(t, doc, "configs-more")
	if v, _ := attr(more, "hx-get"); v != "/configs/table?env=production&cursor=x" {
		t.Errorf("more hx-get = %q", v)
	}
	if v, _ := attr(more, "hx-target"); v != "closest tbody" {
		t.Errorf("more hx-target = %q", v)
	}

	t.Run("own keys only", func(t *testing.T) {
		p := sampleConfigs()
		p.Filter.Inherited = false
		_, doc := render(t, ConfigsContent(p))
		if _, ok := attr(mustTestID(t, doc, "filter-own"), "checked"); !ok {
			t.Errorf("own-keys filter not checked")
		}
		wrap := findAll(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "configs-table" })[0]
		if v, _ := attr(wrap, "hx-get"); !strings.HasSuffix(v, "&own=1") {
			t.Errorf("table hx-get = %q", v)
		}
	})
	t.Run("read-only", func(t *testing.T) {
		p := sampleConfigs()
		p.CanWrite = false
		_, doc := render(t, ConfigsContent(p))
		for _, id := range []string{"config-new", "configs-import", "override-feature.search", "remove-override-db.pool"} {
			if byTestID(doc, id) != nil {
				t.Errorf("%s shown read-only", id)
			}
		}
		mustTestID(t, doc, "configs-export")
	})
	t.Run("more", func(t *testing.T) {
		p := sampleConfigs()
		p.NextURL = ""
		doc := renderIn(t, ConfigsMore(p), "table")
		if byTestID(doc, "configs-more") != nil {
			t.Errorf("load more without a next page")
		}
		mustTestID(t, doc, "config-row-db.host")
	})
	t.Run("empty", func(t *testing.T) {
		p := sampleConfigs()
		p.Rows = nil
		_, doc := render(t, ConfigsTable(p))
		if e := mustTestID(t, doc, "empty"); !strings.Contains(text(e), "No matching keys") {
			t.Errorf("filtered empty state = %q", text(e))
		}
		p.Filter = ConfigFilter{}
		_, doc = render(t, ConfigsTable(p))
		if e := mustTestID(t, doc, "empty"); !strings.Contains(text(e), "No keys yet") {
			t.Errorf("empty state = %q", text(e))
		}
	})
	t.Run("no parent", func(t *testing.T) {
		p := sampleConfigs()
		p.Parent = ""
		_, doc := render(t, ConfigsContent(p))
		if byTestID(doc, "filter-own") != nil {
			t.Errorf("own-keys filter without a parent")
		}
	})
}

// enabledValues returns the enabled controls named "value" of a form.
func enabledValues(form *html.Node) []*html.Node {
	var out []*html.Node
	for _, n := range inputsNamed(form, "value") {
		if _, dis := attr(n, "disabled"); !dis {
			out = append(out, n)
		}
	}
	return out
}

func TestConfigEdit(t *testing.T) {
	_, doc := render(t, ConfigEditContent(sampleEdit()))
	form := mustTestID(t, doc, "config-form")
	for k, want := range map[string]string{"id": "config-form", "method": "post", "action": "/configs/save", "hx-post": "/configs/save", "hx-target": "#config-form", "hx-swap": "outerHTML"} {
		if v, _ := attr(form, k); v != want {
			t.Errorf("form %s = %q, want %q", k, v, want)
		}
	}
	if hiddenValue(t, form, "version") != "12" || hiddenValue(t, form, "env") != "production" || hiddenValue(t, form, "is_new") != "false" {
		t.Errorf("hidden fields wrong")
	}
	key := inputsNamed(form, "key")
	if len(key) != 1 {
		t.Fatalf("%d key inputs", len(key))
	}
	if _, ro := attr(key[0], "readonly"); !ro {
		t.Errorf("key editable when editing")
	}
	sel := mustTestID(t, form, "config-type")
	if sel.Data != "select" {
		t.Errorf("config-type is a <%s>", sel.Data)
	}
	vals := enabledValues(form)
	if len(vals) != 1 || vals[0].Data != "textarea" {
		t.Fatalf("enabled value controls: %d", len(vals))
	}
	if _, ok := attr(vals[0], "data-code"); !ok {
		t.Errorf("json textarea without data-code")
	}
	if v, _ := attr(vals[0], "data-error-line"); v != "3" {
		t.Errorf("data-error-line = %q", v)
	}
	if !strings.Contains(text(vals[0]), `"size": 20,`) {
		t.Errorf("json value not prefilled: %q", text(vals[0]))
	}
	if e := text(mustTestID(t, form, "error-value")); !strings.Contains(e, "Not valid JSON.") || !strings.Contains(e, "line 3, column 1") {
		t.Errorf("value error = %q", e)
	}
	if v, _ := attr(vals[0], "aria-invalid"); v != "true" {
		t.Errorf("value not aria-invalid")
	}
	if fe := text(mustTestID(t, form, "form-error")); fe != "Something else." {
		t.Errorf("form error = %q", fe)
	}
	del := mustTestID(t, form, "config-delete")
	if v, _ := attr(del, "formaction"); v != "/configs/delete" {
		t.Errorf("delete formaction = %q", v)
	}
	if v, _ := attr(del, "hx-post"); v != "/configs/delete" {
		t.Errorf("delete hx-post = %q", v)
	}
	if c, _ := attr(del, "hx-confirm"); c == "" {
		t.Errorf("delete without hx-confirm")
	}
	mustTestID(t, form, "config-save")
	live := findAll(form, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "config-live" })
	if len(live) != 1 {
		t.Fatalf("live notice not in the form")
	}
	if v, _ := attr(live[0], "hx-get"); v != "/configs/edit?env=production&key=db.pool&fragment=notice&seen=12" {
		t.Errorf("notice hx-get = %q", v)
	}
	if v, _ := attr(live[0], "hx-trigger"); !strings.Contains(v, "keel:configs from:body") {
		t.Errorf("notice hx-trigger = %q", v)
	}
	mustTestID(t, doc, "config-current")
	mustTestID(t, doc, "config-inherited")
	mustTestID(t, doc, "config-schema")
	mustTestID(t, doc, "config-recent-versions")
	if h, _ := attr(mustTestID(t, doc, "config-history"), "href"); h != "/configs/history?env=production&key=db.pool" {
		t.Errorf("history href = %q", h)
	}

	t.Run("each type has one value control", func(t *testing.T) {
		for typ, want := range map[string]string{"string": "input", "number": "input", "boolean": "select", "json": "textarea", "secret": "input"} {
			p := sampleEdit()
			p.Form.Type, p.Form.Value, p.Form.Errors = typ, "true", nil
			_, doc := render(t, ConfigEditForm(p))
			vals := enabledValues(mustTestID(t, doc, "config-form"))
			if len(vals) != 1 || vals[0].Data != want {
				t.Errorf("%s: %d enabled value controls", typ, len(vals))
				continue
			}
			if tp, _ := attr(vals[0], "type"); (typ == "secret") != (tp == "password") {
				t.Errorf("%s: value input type %q", typ, tp)
			}
		}
	})
	t.Run("multi-line string", func(t *testing.T) {
		p := sampleEdit()
		p.Form.Type, p.Form.Value = "string", "line 1\nline 2"
		_, doc := render(t, ConfigEditForm(p))
		if vals := enabledValues(doc); len(vals) != 1 || vals[0].Data != "textarea" {
			t.Errorf("multi-line string not in a textarea")
		}
	})
	t.Run("secret", func(t *testing.T) {
		out, doc := render(t, ConfigEditContent(sampleSecretEdit()))
		if strings.Contains(out, secretClear) {
			t.Fatalf("secret in clear")
		}
		v := enabledValues(mustTestID(t, doc, "config-form"))[0]
		if _, ok := attr(v, "value"); ok {
			t.Errorf("secret input prefilled")
		}
		if !strings.Contains(text(mustTestID(t, doc, "config-form")), "Leave empty to keep the current secret.") {
			t.Errorf("keep-secret hint missing")
		}
		if hiddenValue(t, mustTestID(t, doc, "config-form"), "keep_secret") != "1" {
			t.Errorf("keep_secret not sent")
		}
		r := mustTestID(t, doc, "reveal-db.password")
		f := r.Parent
		if a, _ := attr(f, "hx-post"); a != "/configs/reveal" {
			t.Errorf("reveal hx-post = %q", a)
		}
		if a, _ := attr(f, "hx-target"); a != "#secret-value" {
			t.Errorf("reveal hx-target = %q", a)
		}
		if hiddenValue(t, f, "key") != "db.password" {
			t.Errorf("reveal key")
		}
		if len(findAll(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "secret-value" })) != 1 {
			t.Errorf("no #secret-value")
		}
		p := sampleSecretEdit()
		p.CanReveal = false
		_, doc = render(t, ConfigEditContent(p))
		if byTestID(doc, "reveal-db.password") != nil {
			t.Errorf("reveal without permission")
		}
	})
	t.Run("new", func(t *testing.T) {
		p := sampleEdit()
		p.Current = nil
		p.Form = ConfigForm{Env: "production", Type: "string", IsNew: true}
		_, doc := render(t, ConfigEditContent(p))
		form := mustTestID(t, doc, "config-form")
		if hiddenValue(t, form, "is_new") != "true" || hiddenValue(t, form, "version") != "0" {
			t.Errorf("new form hidden fields")
		}
		if _, ro := attr(inputsNamed(form, "key")[0], "readonly"); ro {
			t.Errorf("new key readonly")
		}
		for _, id := range []string{"config-delete", "config-live", "config-history", "config-current"} {
			if byTestID(doc, id) != nil {
				t.Errorf("%s on a new key", id)
			}
		}
	})
	t.Run("read-only", func(t *testing.T) {
		p := sampleEdit()
		p.CanWrite = false
		_, doc := render(t, ConfigEditContent(p))
		for _, id := range []string{"config-save", "config-delete"} {
			if byTestID(doc, id) != nil {
				t.Errorf("%s shown read-only", id)
			}
		}
		mustTestID(t, doc, "config-readonly")
		fs := findAll(doc, func(n *html.Node) bool { return n.Data == "fieldset" })
		if _, dis := attr(fs[0], "disabled"); !dis {
			t.Errorf("fields not disabled")
		}
	})
}

func TestSecretValueAndNotice(t *testing.T) {
	_, doc := render(t, SecretValue("production", "db.password", "hunter2"))
	sv := mustTestID(t, doc, "secret-value")
	if id, _ := attr(sv, "id"); id != "secret-value" || !strings.Contains(text(sv), "hunter2") {
		t.Errorf("secret value id=%q text=%q", id, text(sv))
	}
	mustTestID(t, doc, "secret-hide")

	for _, tc := range []struct {
		name string
		p    ConfigNoticeProps
		want string
	}{
		{"same", ConfigNoticeProps{Env: "e", Key: "k", SeenVersion: 3, CurrentVersion: 3}, ""},
		{"newer", ConfigNoticeProps{Env: "e", Key: "k", SeenVersion: 3, CurrentVersion: 4, By: "alice"}, "alice saved v4"},
		{"deleted", ConfigNoticeProps{Env: "e", Key: "k", SeenVersion: 3, CurrentVersion: 3, By: "bob", Deleted: true}, "bob deleted this key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, doc := render(t, ConfigNotice(tc.p))
			live := mustTestID(t, doc, "config-live")
			if id, _ := attr(live, "id"); id != "config-live" {
				t.Errorf("id = %q", id)
			}
			n := byTestID(doc, "config-notice")
			if tc.want == "" {
				if n != nil {
					t.Errorf("notice shown: %q", text(n))
				}
				return
			}
			if n == nil || !strings.Contains(text(n), tc.want) {
				t.Errorf("notice = %v, want %q", n, tc.want)
			}
		})
	}
}

func TestConflict(t *testing.T) {
	_, doc := render(t, ConflictContent(sampleConflict(false)))
	c := mustTestID(t, doc, "conflict")
	for _, id := range []string{"conflict-base", "conflict-theirs", "conflict-yours", "conflict-diff", "conflict-base-diff"} {
		mustTestID(t, c, id)
	}
	if h, _ := attr(mustTestID(t, c, "conflict-keep"), "href"); h != "/configs/edit?env=production&key=db.pool" {
		t.Errorf("keep theirs href = %q", h)
	}
	form := mustTestID(t, c, "conflict-overwrite").Parent
	if form.Data != "form" {
		t.Fatalf("overwrite button not in a form")
	}
	if a, _ := attr(form, "action"); a != "/configs/save" {
		t.Errorf("overwrite action = %q", a)
	}
	if hiddenValue(t, form, "version") != "12" || hiddenValue(t, form, "value") != `{"size":15}` || hiddenValue(t, form, "description") != evilName {
		t.Errorf("overwrite fields wrong")
	}

	out, doc := render(t, ConflictContent(sampleConflict(true)))
	if strings.Contains(out, secretClear) {
		t.Fatalf("secret in clear on the conflict page")
	}
	form = mustTestID(t, doc, "conflict-overwrite").Parent
	v := inputsNamed(form, "value")
	if len(v) != 1 {
		t.Fatalf("%d value inputs", len(v))
	}
	if tp, _ := attr(v[0], "type"); tp != "password" {
		t.Errorf("secret overwrite value type = %q", tp)
	}
	if byTestID(doc, "conflict-diff") != nil {
		t.Errorf("diff of secrets shown")
	}
}

func TestHistoryAndDiff(t *testing.T) {
	p := HistoryProps{Env: prodChip, Key: "db/pool", Rows: sampleHistory(), CSRF: testCSRF, CanWrite: true, CurrentVersion: 12}
	out, doc := render(t, HistoryContent(p))
	if strings.Contains(out, secretClear) {
		t.Errorf("secret version shown in clear")
	}
	mustTestID(t, doc, "history")
	for _, v := range []string{"12", "11", "10", "9"} {
		mustTestID(t, doc, "version-"+v)
	}
	for _, id := range []string{"rollback-12", "rollback-10"} {
		if byTestID(doc, id) != nil {
			t.Errorf("%s shown (current or deleted)", id)
		}
	}
	rb := mustTestID(t, doc, "rollback-11")
	f := rb.Parent
	if a, _ := attr(f, "hx-post"); a != "/configs/rollback" {
		t.Errorf("rollback hx-post = %q", a)
	}
	if c, _ := attr(f, "hx-confirm"); c == "" {
		t.Errorf("rollback without hx-confirm")
	}
	if hiddenValue(t, f, "to") != "11" || hiddenValue(t, f, "version") != "12" || hiddenValue(t, f, "key") != "db/pool" {
		t.Errorf("rollback fields")
	}
	ds := mustTestID(t, doc, "diff-submit")
	diff := ds.Parent
	if a, _ := attr(diff, "action"); a != "/configs/diff" {
		t.Errorf("diff form action = %q", a)
	}
	if m, _ := attr(diff, "method"); m != "get" {
		t.Errorf("diff form method = %q", m)
	}
	for _, name := range []string{"from", "to"} {
		var checked []string
		for _, r := range findAll(doc, func(n *html.Node) bool {
			nm, _ := attr(n, "name")
			tp, _ := attr(n, "type")
			return n.Data == "input" && tp == "radio" && nm == name
		}) {
			if fm, _ := attr(r, "form"); fm != "history-diff" {
				t.Errorf("%s radio not tied to the diff form", name)
			}
			if _, ok := attr(r, "checked"); ok {
				v, _ := attr(r, "value")
				checked = append(checked, v)
			}
		}
		want := map[string]string{"from": "11", "to": "12"}[name]
		if len(checked) != 1 || checked[0] != want {
			t.Errorf("%s checked = %v, want %s", name, checked, want)
		}
	}
	p.CanWrite = false
	_, doc = render(t, HistoryContent(p))
	if byTestID(doc, "rollback-11") != nil {
		t.Errorf("rollback shown read-only")
	}

	out, doc = render(t, VersionDiffContent(VersionDiffProps{Env: prodChip, Key: "db.pool", From: sampleHistory()[1], To: sampleHistory()[0], Lines: jsonLines()}))
	d := mustTestID(t, doc, "diff")
	dels := findAll(d, func(n *html.Node) bool { return n.Data == "del" })
	ins := findAll(d, func(n *html.Node) bool { return n.Data == "ins" })
	if len(dels) != 1 || text(dels[0]) != "10" || len(ins) != 1 || text(ins[0]) != "20" {
		t.Errorf("word highlights: del=%d ins=%d", len(dels), len(ins))
	}
	// Whitespace inside code is kept exactly.
	if !strings.Contains(out, `<span class="sr-only">Before: </span>  &#34;size&#34;: <del class="dw">10</del>,</code>`) {
		t.Errorf("changed line not rendered exactly")
	}
	if h, _ := attr(mustTestID(t, doc, "diff-swap"), "href"); h != "/configs/diff?env=production&key=db.pool&from=12&to=11" {
		t.Errorf("swap href = %q", h)
	}
	_, doc = render(t, VersionDiffContent(VersionDiffProps{Env: prodChip, Key: "k", Masked: true, Lines: jsonLines()}))
	if d := mustTestID(t, doc, "diff"); !strings.Contains(text(d), "secret") {
		t.Errorf("masked diff = %q", text(d))
	}
	if len(findAll(doc, func(n *html.Node) bool { return n.Data == "del" })) != 0 {
		t.Errorf("masked diff shows values")
	}
}

func TestDiffHunks(t *testing.T) {
	eq := func(n int) []DiffLine {
		var l []DiffLine
		for i := 0; i < n; i++ {
			l = append(l, DiffLine{Kind: "equal", Old: "x", New: "x"})
		}
		return l
	}
	lines := append(append(eq(10), DiffLine{Kind: "change", Old: "a", New: "b"}, DiffLine{Kind: "insert", New: "c"}, DiffLine{Kind: "delete", Old: "d"}), eq(10)...)
	hunks := diffHunks(lines)
	var shape []string
	for _, h := range hunks {
		s := itoa(len(h.Rows))
		if h.Folded {
			s = "fold" + s
		}
		shape = append(shape, s)
	}
	if got := strings.Join(shape, ","); got != "fold7,9,fold7" {
		t.Errorf("hunks = %s, want fold7,9,fold7", got)
	}
	rows := numberDiff(lines)
	for i, want := range []struct{ o, n int }{{11, 11}, {0, 12}, {12, 0}, {13, 13}} {
		r := rows[10+i]
		if r.OldNo != want.o || r.NewNo != want.n {
			t.Errorf("row %d numbers = %d/%d, want %d/%d", 10+i, r.OldNo, r.NewNo, want.o, want.n)
		}
	}
	if len(diffHunks(eq(5))) != 1 || diffHunks(eq(5))[0].Folded {
		t.Errorf("a short unchanged diff is folded")
	}
	if del, ins := diffStat(lines); del != 2 || ins != 2 {
		t.Errorf("diffStat = %d, %d", del, ins)
	}
}

func TestCompare(t *testing.T) {
	out, doc := render(t, CompareContent(sampleCompare()))
	if strings.Contains(out, secretClear) {
		t.Fatalf("secret in clear")
	}
	f := mustTestID(t, doc, "compare-form")
	if m, _ := attr(f, "method"); m != "get" {
		t.Errorf("compare form method = %q", m)
	}
	for _, name := range []string{"a", "b"} {
		s := inputsNamed(f, name)
		if len(s) != 1 || s[0].Data != "select" {
			t.Fatalf("no %s select", name)
		}
	}
	for _, id := range []string{"only-a", "only-b", "different", "equal"} {
		mustTestID(t, doc, id)
	}
	if eq := mustTestID(t, doc, "equal"); eq.Data != "details" {
		t.Errorf("equal section is a <%s>", eq.Data)
	}
	mustTestID(t, mustTestID(t, doc, "equal"), "compare-row-checkout")
	mustTestID(t, mustTestID(t, doc, "only-b"), "compare-row-banner")
	mustTestID(t, mustTestID(t, doc, "different"), "compare-row-db.pool")
	if got := text(mustTestID(t, doc, "secret-differs-db.password")); got != "differs" {
		t.Errorf("secret differs = %q", got)
	}
	if got := text(mustTestID(t, doc, "secret-same-stripe.key")); got != "same" {
		t.Errorf("secret same = %q", got)
	}
	if byTestID(doc, "compare-diff-db.password") != nil {
		t.Errorf("secret diff shown")
	}
	mustTestID(t, doc, "compare-diff-db.pool")

	form := mustTestID(t, doc, "promote-form")
	if a, _ := attr(form, "action"); a != "/promote/preview" {
		t.Errorf("promote action = %q", a)
	}
	if hiddenValue(t, form, "from") != "development" || hiddenValue(t, form, "to") != "production" {
		t.Errorf("promote from/to")
	}
	for _, k := range []string{"db.pool", "db.password", "feature.dark"} {
		cb := mustTestID(t, form, "select-"+k)
		if nm, _ := attr(cb, "name"); nm != "keys" {
			t.Errorf("select-%s name = %q", k, nm)
		}
		if v, _ := attr(cb, "value"); v != k {
			t.Errorf("select-%s value = %q", k, v)
		}
	}
	for _, k := range []string{"banner", "checkout"} {
		if byTestID(doc, "select-"+k) != nil {
			t.Errorf("select-%s offered", k)
		}
	}
	mustTestID(t, form, "promote-selected")
	all := mustTestID(t, form, "promote-all")
	if n, _ := attr(all, "name"); n != "all" {
		t.Errorf("promote all name = %q", n)
	}
	if v, _ := attr(all, "value"); v != "1" {
		t.Errorf("promote all value = %q", v)
	}

	_, doc = render(t, CompareContent(CompareProps{Envs: sampleEnvs, A: "development", B: "production", Different: sampleCompare().Different}))
	if byTestID(doc, "promote-form") != nil || byTestID(doc, "select-db.pool") != nil {
		t.Errorf("promotion offered without permission")
	}
	_, doc = render(t, CompareContent(CompareProps{Envs: sampleEnvs, A: "production", B: "production"}))
	if byTestID(doc, "different") != nil {
		t.Errorf("sections shown for one environment")
	}
	mustTestID(t, doc, "empty")
}

func TestPromotePreview(t *testing.T) {
	_, doc := render(t, PromotePreviewContent(samplePromote()))
	mustTestID(t, doc, "promote-preview")
	mustTestID(t, doc, "promote-needs-approval")
	v := mustTestID(t, doc, "violation-api/limit")
	if !strings.Contains(text(v), "minimum: must be at least 1000") {
		t.Errorf("violation = %q", text(v))
	}
	if byTestID(doc, "violation-db.pool") != nil {
		t.Errorf("violation shown for a valid item")
	}
	apply := mustTestID(t, doc, "promote-apply")
	if !strings.Contains(text(apply), "Request approval") {
		t.Errorf("apply label = %q", text(apply))
	}
	if _, dis := attr(apply, "disabled"); !dis {
		t.Errorf("apply enabled despite violations")
	}
	mustTestID(t, doc, "promote-blocked")
	form := findAll(doc, func(n *html.Node) bool { a, _ := attr(n, "action"); return n.Data == "form" && a == "/promote" })
	if len(form) != 1 {
		t.Fatalf("no POST /promote form")
	}
	if keys := inputsNamed(form[0], "keys"); len(keys) != 3 {
		t.Errorf("%d hidden keys", len(keys))
	}
	mustTestID(t, doc, "error-comment")
	if !strings.Contains(text(mustTestID(t, doc, "promote-item-db.password")), "not shown") {
		t.Errorf("secret item does not say its value is hidden")
	}

	p := samplePromote()
	p.Items, p.NeedsApproval, p.Errors = samplePromoteItems()[:1], false, nil
	_, doc = render(t, PromotePreviewContent(p))
	apply = mustTestID(t, doc, "promote-apply")
	if _, dis := attr(apply, "disabled"); dis || !strings.Contains(text(apply), "Promote") {
		t.Errorf("apply disabled=%v label=%q", dis, text(apply))
	}
	p.CanApply = false
	_, doc = render(t, PromotePreviewContent(p))
	if _, dis := attr(mustTestID(t, doc, "promote-apply"), "disabled"); !dis {
		t.Errorf("apply enabled without permission")
	}
	if !strings.Contains(text(mustTestID(t, doc, "promote-blocked")), "role") {
		t.Errorf("no reason given")
	}
}

func TestPromotionsAndChangeRequests(t *testing.T) {
	_, doc := render(t, PromotionsContent(samplePromotions()))
	mustTestID(t, mustTestID(t, doc, "promotions-table"), "promotion-production-9")
	crs := mustTestID(t, doc, "change-requests-table")
	row := mustTestID(t, crs, "cr-production-12")
	if h, _ := attr(findAll(row, func(n *html.Node) bool { return n.Data == "a" })[0], "href"); h != "/change-requests/production-12" {
		t.Errorf("cr link = %q", h)
	}
	mustTestID(t, doc, "cr-needs-review-production-12")
	if byTestID(doc, "cr-needs-review-staging-3") != nil {
		t.Errorf("own request needs own review")
	}
	body := findAll(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "promotions-body" })[0]
	if v, _ := attr(body, "hx-trigger"); !strings.Contains(v, "keel:promotions from:body") {
		t.Errorf("promotions hx-trigger = %q", v)
	}

	_, doc = render(t, ChangeRequestContent(ChangeRequestProps{CR: sampleCR(), Items: samplePromoteItems()[:1], CanApprove: true, CSRF: testCSRF}))
	mustTestID(t, doc, "change-request")
	if s := text(mustTestID(t, doc, "cr-status")); s != "pending" {
		t.Errorf("status = %q", s)
	}
	ap := mustTestID(t, doc, "cr-approve")
	if _, dis := attr(ap, "disabled"); dis {
		t.Errorf("approve disabled")
	}
	if a, _ := attr(ap.Parent.Parent.Parent, "action"); a != "/change-requests/production-12/approve" {
		t.Errorf("approve action = %q", a)
	}
	if fa, _ := attr(mustTestID(t, doc, "cr-reject"), "formaction"); fa != "/change-requests/production-12/reject" {
		t.Errorf("reject formaction = %q", fa)
	}
	if len(inputsNamed(doc, "comment")) != 1 {
		t.Errorf("no review comment")
	}
	if byTestID(doc, "cr-stale") != nil {
		t.Errorf("stale callout on a current request")
	}

	stale := ChangeRequestProps{CR: sampleCR(), Items: samplePromoteItems()[:1], CanApprove: true, Stale: true, CSRF: testCSRF}
	_, doc = render(t, ChangeRequestContent(stale))
	if !strings.Contains(text(mustTestID(t, doc, "cr-stale")), "The target changed since this request was made") {
		t.Errorf("stale text")
	}
	ref := mustTestID(t, doc, "cr-refresh")
	if a, _ := attr(ref.Parent, "action"); a != "/change-requests/production-12/refresh" {
		t.Errorf("refresh action = %q", a)
	}
	if _, dis := attr(mustTestID(t, doc, "cr-approve"), "disabled"); !dis {
		t.Errorf("stale request can be approved")
	}

	_, doc = render(t, ChangeRequestContent(ChangeRequestProps{CR: sampleCR(), IsAuthor: true, CSRF: testCSRF}))
	for _, id := range []string{"cr-approve", "cr-reject"} {
		if byTestID(doc, id) != nil {
			t.Errorf("%s shown to the author", id)
		}
	}
	mustTestID(t, doc, "cr-waiting")
	done := sampleCR()
	done.Status, done.Reviewer, done.ReviewComment = "rejected", "carol", "No."
	_, doc = render(t, ChangeRequestContent(ChangeRequestProps{CR: done, CanApprove: true, CSRF: testCSRF}))
	if byTestID(doc, "cr-approve") != nil {
		t.Errorf("a decided request can be approved")
	}
	if text(mustTestID(t, doc, "cr-review-comment")) != "No." {
		t.Errorf("review comment missing")
	}
}

func TestSchemas(t *testing.T) {
	_, doc := render(t, SchemasContent(sampleSchemas()))
	row := mustTestID(t, doc, "schema-row-db.*")
	if h, _ := attr(mustTestID(t, row, "schema-edit-db.*"), "href"); h != "/schemas?pattern=db.%2A" {
		t.Errorf("edit href = %q", h)
	}
	del := mustTestID(t, row, "schema-delete-db.*").Parent
	if a, _ := attr(del, "action"); a != "/schemas/delete" || hiddenValue(t, del, "pattern") != "db.*" {
		t.Errorf("delete form action = %q", a)
	}
	form := mustTestID(t, doc, "schema-form")
	for k, want := range map[string]string{"id": "schema-form", "action": "/schemas", "hx-post": "/schemas"} {
		if v, _ := attr(form, k); v != want {
			t.Errorf("schema form %s = %q", k, v)
		}
	}
	if hiddenValue(t, form, "version") != "5" || hiddenValue(t, form, "pattern") != "db.*" {
		t.Errorf("schema form hidden fields")
	}
	doc2 := inputsNamed(form, "doc")
	if len(doc2) != 1 || doc2[0].Data != "textarea" {
		t.Fatalf("no doc textarea")
	}
	b := mustTestID(t, form, "schema-breaks")
	mustTestID(t, b, "schema-break-production-db.pool")
	if !strings.Contains(text(b), `required: missing property "timeout"`) {
		t.Errorf("breaks = %q", text(b))
	}
	c := mustTestID(t, form, "schema-confirm")
	if n, _ := attr(c, "name"); n != "confirm" {
		t.Errorf("confirm name = %q", n)
	}
	if v, _ := attr(c, "value"); v != "1" {
		t.Errorf("confirm value = %q", v)
	}
	if n := len(inputsNamed(form, "confirm")); n != 1 {
		t.Errorf("%d controls named confirm, want only the button", n)
	}
	mustTestID(t, form, "schema-save")
	mustTestID(t, form, "error-doc")
	mustTestID(t, form, "form-error")

	_, doc = render(t, SchemaFormView(SchemasProps{CSRF: testCSRF, CanWrite: true}))
	form = mustTestID(t, doc, "schema-form")
	if byTestID(form, "schema-breaks") != nil || byTestID(form, "schema-confirm") != nil {
		t.Errorf("breaks shown without breaks")
	}
	if p := inputsNamed(form, "pattern"); len(p) != 1 || p[0].Data != "input" {
		t.Errorf("new schema without a pattern field")
	} else if tp, _ := attr(p[0], "type"); tp == "hidden" {
		t.Errorf("new schema pattern hidden")
	}

	_, doc = render(t, SchemasContent(SchemasProps{Rows: sampleSchemas().Rows, CSRF: testCSRF}))
	if byTestID(doc, "schema-form") != nil || byTestID(doc, "schema-delete-db.*") != nil {
		t.Errorf("schemas editable read-only")
	}
}

func TestImport(t *testing.T) {
	out, doc := render(t, ImportContent(sampleImport()))
	form := mustTestID(t, doc, "import-form")
	if a, _ := attr(form, "action"); a != "/import/preview" {
		t.Errorf("preview action = %q", a)
	}
	if e, _ := attr(form, "enctype"); e != "multipart/form-data" {
		t.Errorf("enctype = %q", e)
	}
	if f := inputsNamed(form, "file"); len(f) != 1 {
		t.Errorf("no file input")
	}
	mustTestID(t, form, "import-preview")
	mustTestID(t, form, "error-data")
	if f := mustTestID(t, form, "import-format"); f.Data != "select" {
		t.Errorf("format is a <%s>", f.Data)
	}
	mustTestID(t, doc, "import-applied")
	for _, k := range []string{"db.host", "new.key", "stripe.key", "same.key", evilName} {
		mustTestID(t, doc, "import-row-"+k)
	}
	if !strings.Contains(text(mustTestID(t, doc, "import-problem-"+evilName)), "<script>") {
		t.Errorf("problem not shown")
	}
	if strings.Contains(text(mustTestID(t, doc, "import-row-stripe.key")), secretClear) {
		t.Errorf("secret import row shows the value")
	}
	apply := mustTestID(t, doc, "import-apply")
	af := mustTestID(t, doc, "import-apply-form")
	if a, _ := attr(af, "action"); a != "/import/apply" {
		t.Errorf("apply action = %q", a)
	}
	if hiddenValue(t, af, "data") != sampleImport().Data || hiddenValue(t, af, "format") != "yaml" || hiddenValue(t, af, "env") != "production" {
		t.Errorf("apply does not carry the document")
	}
	if _, dis := attr(apply, "disabled"); !dis {
		t.Errorf("apply enabled with invalid rows")
	}
	// The document is the user's own and travels back only in the form
	// fields, never as text on the page.
	if strings.Count(out, secretClear) != 2 {
		t.Errorf("document shown %d times, want 2 (textarea and hidden field)", strings.Count(out, secretClear))
	}
	ef := mustTestID(t, doc, "export-form")
	if m, _ := attr(ef, "method"); m != "get" {
		t.Errorf("export method = %q", m)
	}
	for _, f := range []string{"json", "yaml", "env"} {
		b := mustTestID(t, ef, "export-"+f)
		if v, _ := attr(b, "value"); v != f {
			t.Errorf("export-%s value = %q", f, v)
		}
	}
	if len(inputsNamed(ef, "reveal")) != 1 {
		t.Errorf("no reveal checkbox for an admin")
	}

	p := sampleImport()
	p.Rows = p.Rows[:2]
	p.Applied = 0
	_, doc = render(t, ImportContent(p))
	if _, dis := attr(mustTestID(t, doc, "import-apply"), "disabled"); dis {
		t.Errorf("apply disabled for a valid preview")
	}
	if byTestID(doc, "import-applied") != nil {
		t.Errorf("applied callout without an import")
	}

	_, doc = render(t, ImportContent(ImportProps{Env: prodChip, CSRF: testCSRF}))
	for _, id := range []string{"import-form", "import-apply"} {
		if byTestID(doc, id) != nil {
			t.Errorf("%s shown read-only", id)
		}
	}
	mustTestID(t, doc, "export-json")
	if len(inputsNamed(doc, "reveal")) != 0 {
		t.Errorf("reveal offered to a non-admin")
	}
}

func TestConfigHelpers(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{3*time.Hour + 12*time.Minute + 30*time.Second, "expires in 3h 12m"},
		{50 * time.Hour, "expires in 2d 2h"},
		{48 * time.Hour, "expires in 2d"},
		{2 * time.Hour, "expires in 2h"},
		{90 * time.Second, "expires in 1m"},
		{20 * time.Second, "expires in under a minute"},
		{-time.Minute, "expired"},
	} {
		if got := expiryText(t0.Add(tc.d), t0); got != tc.want {
			t.Errorf("expiryText(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := qurl("/configs/edit", "env", "a b", "key", "x/y.z&q=1"); got != "/configs/edit?env=a+b&key=x%2Fy.z%26q%3D1" {
		t.Errorf("qurl = %q", got)
	}
	if got := qurlSet("/compare", "a", "x", "b", "", "tag", "t"); got != "/compare?a=x&tag=t" {
		t.Errorf("qurlSet = %q", got)
	}
	if s, cut := shortValue("a\n  b", 10); s != "a b" || !cut {
		t.Errorf("shortValue = %q, %v", s, cut)
	}
	if s, cut := shortValue(strings.Repeat("x", 20), 5); s != "xxxxx…" || !cut {
		t.Errorf("shortValue long = %q, %v", s, cut)
	}
	if s, cut := shortValue("plain", 10); s != "plain" || cut {
		t.Errorf("shortValue plain = %q, %v", s, cut)
	}
	for typ, want := range map[string]string{"json": "badge badge-type type-json", "weird": "badge badge-type"} {
		if got := typeClass(typ); got != want {
			t.Errorf("typeClass(%q) = %q", typ, got)
		}
	}
	if got := valueError(ConfigForm{Errors: map[string]string{"value": "Bad JSON at line 2, column 4."}, ValueLine: 2, ValueColumn: 4}); got != "Bad JSON at line 2, column 4." {
		t.Errorf("valueError repeats the position: %q", got)
	}
	if got := valueError(ConfigForm{Errors: map[string]string{"value": "Bad JSON."}, ValueLine: 2}); got != "Bad JSON. (line 2)" {
		t.Errorf("valueError = %q", got)
	}
	if keysSummary([]string{"a", "b", "c", "d", "e"}, 3) != "a, b, c and 2 more" {
		t.Errorf("keysSummary")
	}
}
