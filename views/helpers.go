package views

import (
	"context"
	"html"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/a-h/templ"
)

var (
	hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	envName  = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
)

// validColor reports whether c is a #rrggbb colour.
func validColor(c string) bool { return hexColor.MatchString(c) }

// envClass is the class that gives an element its environment's colour
// (--env), or "" when the name is not a safe class name.
func envClass(name string) string {
	if !envName.MatchString(name) {
		return ""
	}
	return "env-c-" + name
}

// envColor returns c when it is a #rrggbb colour, else "". app.js applies it
// to elements that arrive by htmx swap (where the <head> rules may lack a new
// environment) through the CSSOM, which the CSP allows.
func envColor(c string) string {
	if validColor(c) {
		return strings.ToLower(c)
	}
	return ""
}

// envCSS builds the per-environment colour rules. Names and colours that do
// not validate are skipped, so nothing outside [a-z0-9-#] reaches the CSS.
func envCSS(envs []EnvChip) string {
	var b strings.Builder
	for _, e := range envs {
		if envClass(e.Name) == "" || !validColor(e.Color) {
			continue
		}
		b.WriteString("." + envClass(e.Name) + "{--env:" + strings.ToLower(e.Color) + "}")
	}
	return b.String()
}

// envStyle renders the <style> element with the environment colours, carrying
// the request's CSP nonce. It renders nothing when no rule validates.
func envStyle(envs []EnvChip) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		css := envCSS(envs)
		if css == "" {
			return nil
		}
		_, err := io.WriteString(w, `<style nonce="`+html.EscapeString(templ.GetNonce(ctx))+`">`+css+`</style>`)
		return err
	})
}

// testID turns a label into a data-testid suffix: lower case, runs of
// anything but letters and digits become one "-".
func testID(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func navTestID(n NavItem) string {
	if n.TestID != "" {
		return n.TestID
	}
	return "nav-" + testID(n.Label)
}

// fmtTime is the short absolute form used in tables, in UTC.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// fmtTimeFull is the precise form used in tooltips and details.
func fmtTimeFull(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// isoTime is the machine-readable datetime attribute of <time>.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// initial is the avatar letter of a name.
func initial(name string) string {
	for _, r := range name {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// fieldError returns the error of a field, "" if none.
func fieldError(errs map[string]string, field string) string {
	if errs == nil {
		return ""
	}
	return errs[field]
}

// otherErrors lists the messages whose keys are not among fields, sorted by
// key, for a summary shown above a form.
func otherErrors(errs map[string]string, fields ...string) []string {
	var keys []string
	for k := range errs {
		known := false
		for _, f := range fields {
			if k == f {
				known = true
				break
			}
		}
		if !known && errs[k] != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, errs[k])
	}
	return out
}

// describedBy is the aria-describedby value of a field: its hint and, when
// the field has an error, the error's id.
func describedBy(errs map[string]string, field, errID, hintID string) string {
	var ids []string
	if hintID != "" {
		ids = append(ids, hintID)
	}
	if fieldError(errs, field) != "" {
		ids = append(ids, errID)
	}
	return strings.Join(ids, " ")
}

// kv is one line of a key/value list.
type kv struct{ K, V string }

// sortedKV returns m's entries sorted by key.
func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// itoa formats an int.
func itoa(n int) string { return strconv.Itoa(n) }

// plural returns "1 user" / "2 users".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// roleClass is the badge class of a role.
func roleClass(role string) string {
	switch role {
	case "viewer", "editor", "publisher", "admin":
		return "badge badge-role role-" + role
	}
	return "badge badge-role"
}

// toastKind normalises a toast kind to error, success or info.
func toastKind(kind string) string {
	switch kind {
	case "error", "success", "info":
		return kind
	}
	return "info"
}

// userAgentSummary turns a User-Agent header into "Firefox on Linux".
func userAgentSummary(ua string) string {
	if ua == "" {
		return "Unknown client"
	}
	browser := ""
	switch {
	case strings.Contains(ua, "Edg/"):
		browser = "Edge"
	case strings.Contains(ua, "Firefox/"):
		browser = "Firefox"
	case strings.Contains(ua, "Chrome/") || strings.Contains(ua, "Chromium/"):
		browser = "Chrome"
	case strings.Contains(ua, "Safari/"):
		browser = "Safari"
	case strings.HasPrefix(ua, "curl/"):
		return "curl"
	case strings.HasPrefix(ua, "Go-http-client"):
		return "Go client"
	case strings.HasPrefix(ua, "keel"):
		return "Keel CLI"
	}
	osName := ""
	switch {
	case strings.Contains(ua, "Android"):
		osName = "Android"
	case strings.Contains(ua, "iPhone") || strings.Contains(ua, "iPad"):
		osName = "iOS"
	case strings.Contains(ua, "Mac OS X") || strings.Contains(ua, "Macintosh"):
		osName = "macOS"
	case strings.Contains(ua, "Windows"):
		osName = "Windows"
	case strings.Contains(ua, "CrOS"):
		osName = "ChromeOS"
	case strings.Contains(ua, "Linux"):
		osName = "Linux"
	}
	switch {
	case browser != "" && osName != "":
		return browser + " on " + osName
	case browser != "":
		return browser
	case osName != "":
		return osName
	}
	if len(ua) > 40 {
		return ua[:40] + "…"
	}
	return ua
}

// liveTopics is the data-live-topics value.
func liveTopics(topics []string) string { return strings.Join(topics, " ") }
