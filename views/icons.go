package views

import (
	"html"
	"strings"
)

// iconPaths are 24×24 stroke icons (drawn with currentColor), keyed by the
// names NavItem.Icon and the components use.
var iconPaths = map[string][]string{
	"home":          {"M3 10.5 12 3l9 7.5", "M5 9.5V21h5v-6h4v6h5V9.5"},
	"users":         {"M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2", "M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M22 21v-2a4 4 0 0 0-3-3.87", "M16 3.13a4 4 0 0 1 0 7.75"},
	"sessions":      {"M4 5h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V6a1 1 0 0 1 1-1z", "M8 21h8", "M12 17v4"},
	"tokens":        {"M15.5 7.5a3.5 3.5 0 1 1-7 0 3.5 3.5 0 0 1 7 0z", "M12 11v10", "M12 15h3", "M12 18h2"},
	"environments":  {"M12 2 2 7l10 5 10-5-10-5z", "M2 17l10 5 10-5", "M2 12l10 5 10-5"},
	"audit":         {"M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z", "M14 2v6h6", "M8 13h8", "M8 17h5"},
	"system":        {"M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M19.4 15a1.65 1.65 0 0 0 .33 1.82l.06.06a2 2 0 1 1-2.83 2.83l-.06-.06a1.65 1.65 0 0 0-1.82-.33 1.65 1.65 0 0 0-1 1.51V21a2 2 0 1 1-4 0v-.09A1.65 1.65 0 0 0 9 19.4a1.65 1.65 0 0 0-1.82.33l-.06.06a2 2 0 1 1-2.83-2.83l.06-.06A1.65 1.65 0 0 0 4.68 15a1.65 1.65 0 0 0-1.51-1H3a2 2 0 1 1 0-4h.09A1.65 1.65 0 0 0 4.6 9a1.65 1.65 0 0 0-.33-1.82l-.06-.06a2 2 0 1 1 2.83-2.83l.06.06A1.65 1.65 0 0 0 9 4.68a1.65 1.65 0 0 0 1-1.51V3a2 2 0 1 1 4 0v.09a1.65 1.65 0 0 0 1 1.51 1.65 1.65 0 0 0 1.82-.33l.06-.06a2 2 0 1 1 2.83 2.83l-.06.06A1.65 1.65 0 0 0 19.4 9a1.65 1.65 0 0 0 1.51 1H21a2 2 0 1 1 0 4h-.09a1.65 1.65 0 0 0-1.51 1z"},
	"account":       {"M20 21v-2a4 4 0 0 0-4-4H8a4 4 0 0 0-4 4v2", "M12 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z"},
	"config":        {"M4 21v-7", "M4 10V3", "M12 21v-9", "M12 8V3", "M20 21v-5", "M20 12V3", "M1 14h6", "M9 8h6", "M17 16h6"},
	"flags":         {"M4 15s1-1 4-1 5 2 8 2 4-1 4-1V3s-1 1-4 1-5-2-8-2-4 1-4 1z", "M4 22v-7"},
	"experiments":   {"M9 3h6", "M10 3v6L4.5 19a1.5 1.5 0 0 0 1.3 2h12.4a1.5 1.5 0 0 0 1.3-2L14 9V3", "M7 15h10"},
	"metrics":       {"M3 3v18h18", "M7 15l4-4 3 3 5-6"},
	"alerts":        {"M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9", "M13.73 21a2 2 0 0 1-3.46 0"},
	"menu":          {"M3 6h18", "M3 12h18", "M3 18h18"},
	"close":         {"M18 6 6 18", "M6 6l12 12"},
	"sun":           {"M12 17a5 5 0 1 0 0-10 5 5 0 0 0 0 10z", "M12 1v2", "M12 21v2", "M4.22 4.22l1.42 1.42", "M18.36 18.36l1.42 1.42", "M1 12h2", "M21 12h2", "M4.22 19.78l1.42-1.42", "M18.36 5.64l1.42-1.42"},
	"moon":          {"M21 12.79A9 9 0 1 1 11.21 3 7 7 0 0 0 21 12.79z"},
	"monitor":       {"M4 4h16a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z", "M8 20h8", "M12 16v4"},
	"chevron-down":  {"M6 9l6 6 6-6"},
	"chevron-right": {"M9 18l6-6-6-6"},
	"lock":          {"M5 11h14a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1z", "M8 11V7a4 4 0 1 1 8 0v4"},
	"check":         {"M20 6 9 17l-5-5"},
	"info":          {"M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M12 16v-4", "M12 8h.01"},
	"alert":         {"M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z", "M12 9v4", "M12 17h.01"},
	"success":       {"M22 11.08V12a10 10 0 1 1-5.93-9.14", "M22 4 12 14.01l-3-3"},
	"copy":          {"M9 9h11a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H9a1 1 0 0 1-1-1V10a1 1 0 0 1 1-1z", "M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1"},
	"download":      {"M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M7 10l5 5 5-5", "M12 15V3"},
	"logout":        {"M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4", "M16 17l5-5-5-5", "M21 12H9"},
	"plus":          {"M12 5v14", "M5 12h14"},
	"trash":         {"M3 6h18", "M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6", "M10 11v6", "M14 11v6", "M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2"},
	"key":           {"M21 2l-2 2m-7.61 7.61a5.5 5.5 0 1 1-7.78 7.78 5.5 5.5 0 0 1 7.78-7.78zm0 0L15.5 7.5m0 0 3 3L22 7l-3-3m-3.5 3.5L19 4"},
	"filter":        {"M22 3H2l8 9.46V19l4 2v-8.54z"},
	"database":      {"M12 8c4.97 0 9-1.34 9-3s-4.03-3-9-3-9 1.34-9 3 4.03 3 9 3z", "M21 12c0 1.66-4 3-9 3s-9-1.34-9-3", "M3 5v14c0 1.66 4 3 9 3s9-1.34 9-3V5"},
	"activity":      {"M22 12h-4l-3 9L9 3l-3 9H2"},
	"compare":       {"M16 3l4 4-4 4", "M20 7H4", "M8 21l-4-4 4-4", "M4 17h16"},
	"promote":       {"M6 3v12", "M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6z", "M18 9a9 9 0 0 1-9 9"},
	"schema":        {"M8 3H7a2 2 0 0 0-2 2v5a2 2 0 0 1-2 2 2 2 0 0 1 2 2v5a2 2 0 0 0 2 2h1", "M16 21h1a2 2 0 0 0 2-2v-5a2 2 0 0 1 2-2 2 2 0 0 1-2-2V5a2 2 0 0 0-2-2h-1"},
	"history":       {"M3 12a9 9 0 1 0 3-6.7L3 8", "M3 3v5h5", "M12 7v5l4 2"},
	"clock":         {"M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M12 6v6l4 2"},
	"upload":        {"M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M17 8l-5-5-5 5", "M12 3v12"},
	"eye":           {"M1 12s4-8 11-8 11 8 11 8-4 8-11 8-11-8-11-8z", "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z"},
	"eye-off":       {"M17.94 17.94A10.07 10.07 0 0 1 12 20c-7 0-11-8-11-8a18.45 18.45 0 0 1 5.06-5.94", "M9.9 4.24A9.12 9.12 0 0 1 12 4c7 0 11 8 11 8a18.5 18.5 0 0 1-2.16 3.19", "M14.12 14.12a3 3 0 1 1-4.24-4.24", "M1 1l22 22"},
	"arrow-right":   {"M5 12h14", "M12 5l7 7-7 7"},
	"rollback":      {"M1 4v6h6", "M3.51 15a9 9 0 1 0 2.13-9.36L1 10"},
	"edit":          {"M12 20h9", "M16.5 3.5a2.12 2.12 0 0 1 3 3L7 19l-4 1 1-4z"},
	"x-circle":      {"M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M15 9l-6 6", "M9 9l6 6"},
	"dot":           {"M12 13a1 1 0 1 0 0-2 1 1 0 0 0 0 2z"},
}

// iconAliases map other common icon names onto the set.
var iconAliases = map[string]string{
	"layers":     "environments",
	"list":       "audit",
	"settings":   "system",
	"shield":     "lock",
	"user":       "account",
	"bell":       "alerts",
	"flag":       "flags",
	"sliders":    "config",
	"chart":      "metrics",
	"flask":      "experiments",
	"configs":    "config",
	"promotions": "promote",
	"schemas":    "schema",
	"swap":       "compare",
	"import":     "upload",
	"export":     "download",
}

// iconFor returns the paths of an icon, a dot for unknown names.
func iconFor(name string) []string {
	if p, ok := iconPaths[name]; ok {
		return p
	}
	if p, ok := iconPaths[iconAliases[name]]; ok {
		return p
	}
	return iconPaths["dot"]
}

// iconSVG holds every icon's markup, built once: icons are drawn in every
// table row, and they never change.
var iconSVG = func() map[string]string {
	out := make(map[string]string, len(iconPaths)+len(iconAliases))
	build := func(paths []string) string {
		var b strings.Builder
		b.WriteString(`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">`)
		for _, d := range paths {
			b.WriteString(`<path d="`)
			b.WriteString(html.EscapeString(d))
			b.WriteString(`"></path>`)
		}
		b.WriteString(`</svg>`)
		return b.String()
	}
	for name := range iconPaths {
		out[name] = build(iconFor(name))
	}
	for name := range iconAliases {
		out[name] = build(iconFor(name))
	}
	return out
}()

// iconMarkup returns an icon's SVG (a dot for unknown names).
func iconMarkup(name string) string {
	if m, ok := iconSVG[name]; ok {
		return m
	}
	return iconSVG["dot"]
}
