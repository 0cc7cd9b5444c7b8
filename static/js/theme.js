// theme.js runs in <head>, before the first paint: it applies the theme
// chosen with the toggle ("light" or "dark"; "system" leaves data-theme
// unset so prefers-color-scheme decides) and marks the page as scripted.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  try {
    var t = localStorage.getItem("keel-theme");
    if (t === "light" || t === "dark") {
      root.setAttribute("data-theme", t);
    }
  } catch (e) {
    // storage blocked: follow the system
  }
})();
