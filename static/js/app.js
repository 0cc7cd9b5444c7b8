// app.js — Keel's page behaviour: CSRF header for htmx, live updates over
// one EventSource per tab, toasts, theme toggle, mobile navigation and a few
// small conveniences. Plain ES2020, no build step, no inline handlers (the
// CSP forbids them); loaded with defer.
(() => {
  "use strict";

  const root = document.documentElement;
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? "";

  // ---------- toasts ----------
  const TOAST_MS = 6000;
  const MAX_TOASTS = 5;
  const toastArea = () => document.getElementById("toasts");

  const ICONS = {
    error: ["M10.29 3.86 1.82 18a2 2 0 0 0 1.71 3h16.94a2 2 0 0 0 1.71-3L13.71 3.86a2 2 0 0 0-3.42 0z", "M12 9v4", "M12 17h.01"],
    success: ["M22 11.08V12a10 10 0 1 1-5.93-9.14", "M22 4 12 14.01l-3-3"],
    info: ["M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M12 16v-4", "M12 8h.01"],
    close: ["M18 6 6 18", "M6 6l12 12"],
  };

  function svgIcon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    for (const d of ICONS[name] || ICONS.info) {
      const p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    }
    return svg;
  }

  // showToast builds the same markup as views.Toast.
  function showToast(kind, message) {
    const area = toastArea();
    if (!area) return null;
    kind = kind === "error" || kind === "success" ? kind : "info";
    const t = document.createElement("div");
    t.className = `toast toast-${kind}`;
    t.dataset.testid = "toast";
    t.dataset.kind = kind;
    t.setAttribute("role", kind === "error" ? "alert" : "status");
    const ic = document.createElement("span");
    ic.className = "toast-icon";
    ic.appendChild(svgIcon(kind));
    const body = document.createElement("div");
    body.className = "toast-body";
    const msg = document.createElement("p");
    msg.className = "toast-msg";
    msg.textContent = message;
    body.appendChild(msg);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", "Dismiss notification");
    close.appendChild(svgIcon("close"));
    t.append(ic, body, close);
    area.appendChild(t); // the observer below arms it
    return t;
  }

  function dismiss(t) {
    if (!t || t.dataset.leaving) return;
    t.dataset.leaving = "1";
    clearTimeout(t._keelTimer);
    t.classList.add("leaving");
    setTimeout(() => t.remove(), 200);
  }

  function startTimer(t) {
    clearTimeout(t._keelTimer);
    t._keelTimer = setTimeout(() => dismiss(t), TOAST_MS);
  }

  // armToast gives a toast (built here, rendered with the page, or swapped
  // in by htmx) its auto-dismiss; errors stay until closed. Hovering or
  // focusing a toast pauses its timer.
  function armToast(t) {
    if (t._keelArmed) return;
    t._keelArmed = true;
    if (t.dataset.kind !== "error") {
      startTimer(t);
      t.addEventListener("mouseenter", () => clearTimeout(t._keelTimer));
      t.addEventListener("mouseleave", () => startTimer(t));
      t.addEventListener("focusin", () => clearTimeout(t._keelTimer));
      t.addEventListener("focusout", () => startTimer(t));
    }
    const area = toastArea();
    if (area) {
      const all = area.querySelectorAll(".toast:not([data-leaving])");
      for (let i = 0; i < all.length - MAX_TOASTS; i++) dismiss(all[i]);
    }
  }

  // ---------- environment colours on swapped-in content ----------
  const HEX = /^#[0-9a-fA-F]{6}$/;
  function applyEnvColor(el) {
    const c = el.getAttribute("data-env-color");
    if (c && HEX.test(c)) el.style.setProperty("--env", c); // CSSOM: allowed by the CSP
  }

  // enhance runs over the page once and over every added subtree.
  function enhance(node) {
    if (node.nodeType !== 1) return;
    if (node.matches(".toast")) armToast(node);
    if (node.matches("[data-env-color]")) applyEnvColor(node);
    node.querySelectorAll(".toast").forEach(armToast);
    node.querySelectorAll("[data-env-color]").forEach(applyEnvColor);
  }

  new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach(enhance);
  }).observe(document.body, { childList: true, subtree: true });
  enhance(document.body);

  // ---------- clicks ----------
  document.addEventListener("click", (e) => {
    const el = e.target instanceof Element ? e.target : null;
    if (!el) return;

    const close = el.closest("[data-toast-close]");
    if (close) {
      dismiss(close.closest(".toast"));
      return;
    }

    const copy = el.closest("[data-copy]");
    if (copy) {
      copyText(copy);
      return;
    }

    if (el.closest(".theme-toggle")) {
      cycleTheme();
      return;
    }

    if (el.closest(".nav-toggle")) {
      setNav(!root.classList.contains("nav-open"));
      return;
    }
    if (el.closest("[data-nav-close]")) {
      setNav(false);
      return;
    }

    // Close open menus when clicking elsewhere.
    document.querySelectorAll("details.menu[open]").forEach((d) => {
      if (!d.contains(el)) d.open = false;
    });
  });

  document.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    const menu = document.querySelector("details.menu[open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary")?.focus();
      return;
    }
    const pop = document.querySelector("details.pop[open]");
    if (pop) {
      pop.open = false;
      pop.querySelector("summary")?.focus();
      return;
    }
    if (root.classList.contains("nav-open")) setNav(false);
  });

  // ---------- copy to clipboard ----------
  async function copyText(btn) {
    const src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    const label = btn.querySelector("[data-copy-label]") || btn;
    const before = label.textContent;
    try {
      await navigator.clipboard.writeText(src.textContent.trim());
      label.textContent = "Copied";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(src);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      label.textContent = "Press Ctrl+C";
    }
    setTimeout(() => {
      label.textContent = before;
    }, 2000);
  }

  // ---------- theme ----------
  const THEMES = ["system", "light", "dark"];
  const currentTheme = () => root.getAttribute("data-theme") || "system";

  function labelThemeToggles() {
    const t = currentTheme();
    document.querySelectorAll(".theme-toggle").forEach((b) => {
      b.setAttribute("aria-label", `Colour theme: ${t}`);
      b.title = `Theme: ${t} (click to change)`;
    });
  }

  function cycleTheme() {
    const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
    if (next === "system") root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", next);
    try {
      localStorage.setItem("keel-theme", next);
    } catch {
      // storage blocked: the choice lasts for this page only
    }
    labelThemeToggles();
  }
  labelThemeToggles();

  // ---------- mobile navigation ----------
  function setNav(open) {
    root.classList.toggle("nav-open", open);
    const toggle = document.querySelector(".nav-toggle");
    if (toggle) {
      toggle.setAttribute("aria-expanded", String(open));
      toggle.setAttribute("aria-label", open ? "Close navigation" : "Open navigation");
    }
    if (open) document.querySelector("#sidebar .nav-link")?.focus();
    else if (toggle && document.getElementById("sidebar")?.contains(document.activeElement)) toggle.focus();
  }

  // ---------- forms ----------
  // The environment switcher submits when its value changes.
  document.addEventListener("change", (e) => {
    const el = e.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-autosubmit") && el.form) {
      el.form.requestSubmit();
    }
  });

  // ---------- htmx ----------
  document.addEventListener("htmx:config:request", (e) => {
    const token = meta("csrf-token");
    const headers = e.detail?.ctx?.request?.headers;
    if (token && headers) headers["X-CSRF-Token"] = token;
  });

  document.addEventListener("htmx:error", (e) => {
    const err = e.detail?.error;
    const timedOut = e.detail?.ctx?.request?.signal?.reason === "timeout";
    if (timedOut || err instanceof TypeError || err?.name === "TypeError") {
      showToast("error", "Network error — is Keel running?");
    }
  });

  // A table that refreshes itself on live events waits while someone is
  // typing in it or has one of its pop-overs open, then catches up.
  const isBusy = (el) => {
    const a = document.activeElement;
    const typing = a && el.contains(a) && a.matches("input, select, textarea");
    return typing || el.querySelector("details.pop[open]") !== null;
  };

  document.addEventListener("htmx:before:request", (e) => {
    const ctx = e.detail?.ctx;
    const src = ctx?.sourceElement;
    if (!src || !src.hasAttribute("data-live-refresh") || ctx.request?.method !== "GET") return;
    if (isBusy(src)) {
      e.preventDefault();
      src.setAttribute("data-live-stale", "");
    }
  });

  function catchUp() {
    document.querySelectorAll("[data-live-stale]").forEach((el) => {
      if (isBusy(el)) return;
      el.removeAttribute("data-live-stale");
      el.dispatchEvent(new CustomEvent("keel:refresh"));
    });
  }
  document.addEventListener("focusout", () => setTimeout(catchUp, 0));
  document.addEventListener("toggle", () => setTimeout(catchUp, 0), true);

  // ---------- live updates ----------
  const user = meta("keel-user");
  const live = document.querySelector('[data-testid="live-status"]');

  const STATE_TEXT = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
  };

  function setLive(state) {
    if (!live) return;
    live.dataset.state = state;
    const text = STATE_TEXT[state] || state;
    const label = live.querySelector(".live-label");
    if (label) label.textContent = text;
    live.title = `Live updates: ${text.replace("…", "").toLowerCase()}`;
  }

  // Known actions, told the human way: "alice created user bob".
  const PHRASES = {
    "user.create": (t) => `created user ${t}`,
    "user.delete": (t) => `deleted user ${t}`,
    "user.disable": (t) => `disabled ${t}`,
    "user.enable": (t) => `enabled ${t}`,
    "user.set_role": (t) => `changed the role of ${t}`,
    "user.reset_password": (t) => `reset the password of ${t}`,
    "user.change_password": () => "changed their password",
    "session.revoke": (t) => `revoked a session${t ? ` of ${t}` : ""}`,
    "auth.login": () => "signed in",
    "auth.logout": () => "signed out",
    "token.create": (t) => `created API token ${t}`,
    "token.revoke": (t) => `revoked API token ${t}`,
    "environment.create": (t) => `created environment ${t}`,
    "environment.update": (t) => `changed environment ${t}`,
    "environment.delete": (t) => `deleted environment ${t}`,
    "settings.update": () => "changed the instance settings",
  };

  function describe(d) {
    const who = d.actor || "Someone";
    const target = d.target || "";
    const phrase = PHRASES[d.action];
    let text = phrase ? `${who} ${phrase(target)}` : `${who}: ${[d.action, target].filter(Boolean).join(" ")}`;
    if (d.env && !text.includes(d.env)) text += ` in ${d.env}`;
    return text;
  }

  function pageTopics() {
    const main = document.querySelector("main[data-live-topics]");
    return new Set((main?.getAttribute("data-live-topics") || "").split(/\s+/).filter(Boolean));
  }

  function onMessage(msg) {
    let d;
    try {
      d = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (!d || typeof d.topic !== "string" || !/^[a-z0-9_.-]+$/i.test(d.topic)) return;
    document.body.dispatchEvent(new CustomEvent(`keel:${d.topic}`, { detail: d, bubbles: true }));
    if (d.actor !== user && pageTopics().has(d.topic)) showToast("info", describe(d));
  }

  // After a gap, tables that refresh themselves catch up on what they missed.
  function resync() {
    document.querySelectorAll("[data-live-refresh]").forEach((el) => el.dispatchEvent(new CustomEvent("keel:refresh")));
  }

  // Is the session still valid? A redirect (to the sign-in page) or a 401
  // means it ended: go and sign in again.
  async function probeSession() {
    const ac = new AbortController();
    try {
      const r = await fetch("/events", { redirect: "manual", signal: ac.signal, credentials: "same-origin", cache: "no-store" });
      ac.abort();
      if (r.type === "opaqueredirect" || r.status === 401) {
        location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
        return false;
      }
    } catch {
      // the server is unreachable: keep retrying
    }
    return true;
  }

  let source = null;
  let retryMs = 2000;
  let hadGap = false;

  function connect() {
    source = new EventSource("/events");
    source.onopen = () => {
      setLive("live");
      retryMs = 2000;
      if (hadGap) resync();
      hadGap = false;
    };
    source.onmessage = onMessage;
    source.onerror = () => {
      hadGap = true;
      setLive("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an error status or a non-stream answer):
        // check the session, then try again with a growing delay.
        source = null;
        setTimeout(async () => {
          if (await probeSession()) connect();
        }, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      }
    };
  }

  if (user && live && "EventSource" in window) {
    connect();
    window.addEventListener("pagehide", () => {
      source?.close();
      source = null;
    });
    window.addEventListener("pageshow", (e) => {
      if (e.persisted && !source) connect();
    });
  }

  // ---------- store outage ----------
  // While the "store unavailable" banner shows, check readiness every few
  // seconds and reload the page once the store is back.
  if (document.querySelector('[data-testid="store-banner"]')) {
    const check = async () => {
      try {
        const r = await fetch("/readyz", { cache: "no-store" });
        if (r.ok) {
          location.reload();
          return;
        }
      } catch {
        // still down
      }
      setTimeout(check, 5000);
    };
    setTimeout(check, 5000);
  }

  window.keel = { toast: showToast };
})();

// Configuration screens: the value control that follows the chosen type,
// code textareas that indent, JSON formatting, hiding a revealed secret,
// and selecting keys to promote. Same rules as above: no inline handlers,
// everything delegated from the document.
(() => {
  "use strict";

  // ---------- the value control follows the type ----------
  const kindOf = (type) => (type === "json" || type === "secret" || type === "boolean" ? type : "text");

  function valueControl(box) {
    return box.querySelector("input, select, textarea");
  }

  function switchValueKind(select, transfer) {
    const field = select.form?.querySelector("[data-value-field]");
    if (!field) return;
    const want = kindOf(select.value);
    let from = null;
    field.querySelectorAll("[data-value-kind]").forEach((box) => {
      if (!box.hidden) from = box;
    });
    field.querySelectorAll("[data-value-kind]").forEach((box) => {
      const on = box.dataset.valueKind === want;
      box.hidden = !on;
      const c = valueControl(box);
      if (c) c.disabled = !on;
    });
    if (!transfer || !from || from.dataset.valueKind === want) return;
    const src = valueControl(from);
    const dst = valueControl(field.querySelector(`[data-value-kind="${want}"]`));
    if (!src || !dst || from.dataset.valueKind === "secret" || want === "secret") return;
    const v = src.value;
    const parsed = (() => {
      try {
        return JSON.parse(v);
      } catch {
        return undefined;
      }
    })();
    if (want === "boolean") {
      if (v === "true" || v === "false") dst.value = v;
    } else if (want === "json") {
      // Only an object or array is a json value; keep anything else out.
      if (parsed !== null && typeof parsed === "object") dst.value = JSON.stringify(parsed, null, 2);
      else if (from.dataset.valueKind === "text" && v.trim().startsWith("{")) dst.value = v;
    } else if (from.dataset.valueKind === "json" && parsed !== undefined && dst instanceof HTMLInputElement) {
      dst.value = JSON.stringify(parsed); // one line for a one-line input
    } else if (from.dataset.valueKind !== "boolean" || dst.value === "") {
      dst.value = v;
    }
  }

  document.addEventListener("change", (e) => {
    const el = e.target;
    if (el instanceof HTMLSelectElement && el.hasAttribute("data-value-type")) switchValueKind(el, true);
    if (el instanceof HTMLInputElement && el.type === "checkbox") updateSelection(el);
  });

  // ---------- code textareas ----------
  const INDENT = "  ";

  function insertText(el, text) {
    el.focus();
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      el.setRangeText(text, el.selectionStart, el.selectionEnd, "end");
      el.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  function lineStart(value, pos) {
    return value.lastIndexOf("\n", pos - 1) + 1;
  }

  function indentLines(el, outdent) {
    const v = el.value;
    const start = lineStart(v, el.selectionStart);
    let end = el.selectionEnd;
    if (end > start && v[end - 1] === "\n") end--;
    const block = v.slice(start, end);
    const lines = block.split("\n");
    const changed = lines
      .map((l) => (outdent ? l.replace(/^ {1,2}|^\t/, "") : INDENT + l))
      .join("\n");
    el.setSelectionRange(start, end);
    insertText(el, changed);
    el.setSelectionRange(start, start + changed.length);
  }

  document.addEventListener("keydown", (e) => {
    const el = e.target;
    if (!(el instanceof HTMLTextAreaElement) || !el.hasAttribute("data-code") || el.readOnly || el.disabled) return;
    if (e.key === "Escape") {
      el._keelTabOut = true; // the next Tab leaves the field
      return;
    }
    if (e.key === "Tab" && !e.ctrlKey && !e.altKey && !e.metaKey) {
      if (el._keelTabOut) {
        el._keelTabOut = false;
        return;
      }
      e.preventDefault();
      const multi = el.value.slice(el.selectionStart, el.selectionEnd).includes("\n");
      if (e.shiftKey || multi) indentLines(el, e.shiftKey);
      else insertText(el, INDENT);
      return;
    }
    el._keelTabOut = false;
    if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey && !e.isComposing) {
      const v = el.value;
      const pos = el.selectionStart;
      const indent = /^[ \t]*/.exec(v.slice(lineStart(v, pos), pos))[0];
      const before = v.slice(0, pos).trimEnd().slice(-1);
      const after = v.slice(el.selectionEnd).trimStart()[0];
      e.preventDefault();
      if ((before === "{" || before === "[") && (after === "}" || after === "]")) {
        insertText(el, `\n${indent}${INDENT}\n${indent}`);
        const caret = pos + 1 + indent.length + INDENT.length;
        el.setSelectionRange(caret, caret);
      } else if (before === "{" || before === "[") {
        insertText(el, `\n${indent}${INDENT}`);
      } else {
        insertText(el, `\n${indent}`);
      }
    }
  });

  document.addEventListener("focusout", (e) => {
    if (e.target instanceof HTMLTextAreaElement) e.target._keelTabOut = false;
  });

  // Put the caret where the server found a JSON syntax error.
  function placeErrorCaret(el) {
    if (el._keelCaret) return;
    el._keelCaret = true;
    const line = parseInt(el.getAttribute("data-error-line"), 10);
    const col = parseInt(el.getAttribute("data-error-column"), 10) || 1;
    if (!(line > 0)) return;
    const lines = el.value.split("\n");
    let pos = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i++) pos += lines[i].length + 1;
    pos = Math.min(pos + col - 1, el.value.length);
    el.focus({ preventScroll: false });
    el.setSelectionRange(pos, pos);
  }

  // ---------- clicks ----------
  const LOCK = ["M5 11h14a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1v-8a1 1 0 0 1 1-1z", "M8 11V7a4 4 0 1 1 8 0v4"];

  function maskedSecret() {
    const ns = "http://www.w3.org/2000/svg";
    const span = document.createElement("span");
    span.id = "secret-value";
    span.className = "secret-value";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "icon");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    for (const d of LOCK) {
      const p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    }
    const code = document.createElement("code");
    code.className = "secret-text";
    code.textContent = "••••";
    const sr = document.createElement("span");
    sr.className = "sr-only";
    sr.textContent = "(hidden)";
    span.append(svg, code, sr);
    return span;
  }

  document.addEventListener("click", (e) => {
    const el = e.target instanceof Element ? e.target : null;
    if (!el) return;

    const fmt = el.closest("[data-json-format]");
    if (fmt) {
      const ta = document.querySelector(fmt.getAttribute("data-json-format"));
      if (!ta || ta.disabled || ta.value.trim() === "") return;
      try {
        const pretty = JSON.stringify(JSON.parse(ta.value), null, 2);
        ta.select();
        insertText(ta, pretty);
      } catch (err) {
        window.keel?.toast("error", `Not valid JSON: ${err.message}`);
      }
      return;
    }

    const hide = el.closest("[data-secret-hide]");
    if (hide) {
      const revealed = hide.closest("#secret-value");
      if (revealed) {
        const form = revealed.closest("form");
        revealed.replaceWith(maskedSecret());
        form?.querySelector(".reveal-btn")?.focus();
      }
    }
  });

  // ---------- selecting keys to promote ----------
  function updateSelection(changed) {
    const form = changed?.closest("form[data-selection]");
    if (!form) return;
    if (changed.hasAttribute("data-select-all")) {
      const scope = changed.closest("section") || form;
      scope.querySelectorAll('input[type="checkbox"][name="keys"]').forEach((c) => {
        c.checked = changed.checked;
      });
    }
    refreshSelection(form);
  }

  function refreshSelection(form) {
    const boxes = [...form.querySelectorAll('input[type="checkbox"][name="keys"]')];
    const n = boxes.filter((c) => c.checked).length;
    form.querySelectorAll("[data-selected-count]").forEach((s) => {
      s.textContent = n === 0 ? "Select keys" : n === 1 ? "1 key selected" : `${n} keys selected`;
    });
    form.querySelectorAll("[data-needs-selection]").forEach((b) => {
      b.disabled = n === 0;
    });
    form.querySelectorAll("[data-select-all]").forEach((all) => {
      const scope = all.closest("section") || form;
      const mine = [...scope.querySelectorAll('input[type="checkbox"][name="keys"]')];
      const on = mine.filter((c) => c.checked).length;
      all.checked = mine.length > 0 && on === mine.length;
      all.indeterminate = on > 0 && on < mine.length;
    });
  }

  // ---------- new content ----------
  function enhance(node) {
    if (node.nodeType !== 1) return;
    const each = (sel, f) => {
      if (node.matches(sel)) f(node);
      node.querySelectorAll(sel).forEach(f);
    };
    each("select[data-value-type]", (s) => switchValueKind(s, false));
    each("textarea[data-error-line]", placeErrorCaret);
    each("form[data-selection]", refreshSelection);
  }

  new MutationObserver((records) => {
    for (const r of records) r.addedNodes.forEach(enhance);
  }).observe(document.body, { childList: true, subtree: true });
  enhance(document.body);
})();
