// strokecell form helpers (no framework, no CDN): the running total of a form's items,
// the reason-for-change prompt on edits, and the user's UTC offset on the sign-in form.
"use strict";
(function () {
  function points(el) {
    if (!el || el.value === "") return null;
    if (el.tagName === "SELECT") {
      var opt = el.options[el.selectedIndex];
      var p = opt ? opt.getAttribute("data-points") : null;
      return p === null ? null : parseFloat(p);
    }
    if (el.getAttribute("data-number")) {
      var v = parseFloat(el.value);
      return isNaN(v) ? null : v;
    }
    return null;
  }
  function updateTotals(form) {
    form.querySelectorAll("output.live-total").forEach(function (out) {
      var items = (out.getAttribute("data-items") || "").split(" ");
      var sum = 0, n = 0;
      items.forEach(function (code) {
        var el = form.querySelector('[data-item="' + code + '"]');
        var p = points(el);
        if (p !== null) { sum += p; n += 1; }
      });
      out.textContent = n === 0 ? "–" : String(Math.round(sum * 1000) / 1000) +
        " (" + n + " of " + items.length + " items)";
    });
  }
  function changedSaved(form) {
    var changed = false;
    form.querySelectorAll("[data-item]").forEach(function (el) {
      var saved = el.getAttribute("data-saved");
      if (saved !== null && saved !== "" && el.value !== saved) changed = true;
    });
    return changed;
  }
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("entry-form");
    if (form) {
      form.addEventListener("change", function () { updateTotals(form); });
      form.addEventListener("input", function () { updateTotals(form); });
      updateTotals(form);
      form.addEventListener("submit", function (ev) {
        var reason = document.getElementById("reason");
        var prompt = document.getElementById("reason-prompt");
        if (reason && changedSaved(form) && reason.value.trim() === "") {
          ev.preventDefault();
          if (prompt) prompt.hidden = false;
          reason.focus();
        }
      });
    }
    var offset = document.getElementById("offset_minutes");
    if (offset) offset.value = String(-new Date().getTimezoneOffset());
  });
})();
