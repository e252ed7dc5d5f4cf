// Small behaviours shared by every page: toasts, htmx error reporting, scrolling tables.
(function () {
  "use strict";

  // Loaded in the head, before the page is drawn: the stylesheet folds the menu only when a
  // script is there to unfold it.
  document.documentElement.classList.add("js");

  function dismissLater(toast) {
    if (toast.dataset.timer) return;
    toast.dataset.timer = "1";
    setTimeout(function () { toast.remove(); }, toast.classList.contains("toast-error") ? 12000 : 6000);
  }

  function toastText(toast) {
    return toast.firstChild ? toast.firstChild.textContent.trim() : "";
  }

  // A toast just shown replaces the same message shown before (no duplicates), and one that
  // is not an error clears the errors before it: the later action succeeded.
  function settleToast(toast) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var isError = toast.classList.contains("toast-error");
    box.querySelectorAll("[data-toast]").forEach(function (other) {
      if (other === toast || !other.dataset.timer) return;
      var same = other.className === toast.className && toastText(other) === toastText(toast);
      if (same || (!isError && other.classList.contains("toast-error"))) other.remove();
    });
  }

  function armToasts(root) {
    (root || document).querySelectorAll("[data-toast]").forEach(function (toast) {
      if (toast.dataset.timer) return;
      settleToast(toast);
      dismissLater(toast);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-dismiss]");
    if (button) button.closest("[data-toast]").remove();
    if (event.target.closest("[data-print]")) window.print();
    var copy = event.target.closest("[data-copy]");
    if (copy) copyText(copy.getAttribute("data-copy"));
    var toggle = event.target.closest("[data-menu-toggle]");
    if (toggle) setMenu(toggle, toggle.getAttribute("aria-expanded") !== "true");
  });

  // The Menu button (base.html) shows and hides the navigation on a narrow screen; Escape
  // folds it again and, from inside it, goes back to the button.
  function setMenu(toggle, open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("is-open", open);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var toggle = document.querySelector('[data-menu-toggle][aria-expanded="true"]');
    if (!toggle) return;
    var menu = document.getElementById(toggle.getAttribute("aria-controls"));
    var inside = menu.contains(document.activeElement) || document.activeElement === toggle;
    setMenu(toggle, false);
    if (inside) toggle.focus();
  });

  // The clipboard API needs a secure context (https or localhost); elsewhere, a selected field.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { toast("Copied " + text, "info"); },
        function () { toast("Could not copy; select the text instead.", "error"); });
      return;
    }
    var field = document.createElement("textarea");
    field.value = text;
    field.setAttribute("readonly", "");
    field.className = "visually-hidden";
    document.body.appendChild(field);
    field.select();
    var copied = document.execCommand && document.execCommand("copy");
    field.remove();
    toast(copied ? "Copied " + text : "Could not copy; select the text instead.", copied ? "info" : "error");
  }

  // <form data-confirm="Sure?">: ask first (no inline handlers: the CSP allows no inline script).
  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });

  function toast(text, level) {
    var box = document.getElementById("toasts");
    var item = document.createElement("div");
    item.className = "toast toast-" + (level || "info");
    item.setAttribute("role", "status");
    item.setAttribute("data-toast", "");
    item.textContent = text;
    box.appendChild(item);
    armToasts(box);
  }
  window.runwayToast = toast;

  // A table or a drawing wider than its card scrolls sideways inside its box (.table-wrap, a
  // chart's figure, the dependency picture). While it does, the box is a named region in the
  // tab order, so a keyboard can scroll it too; a template that makes one so itself (tabindex
  // in the markup) is left as it is.
  var SCROLL_BOXES = ".table-wrap, figure.chart, .depgraph-picture";
  function regionName(wrap) {
    var words = function (element) { return element.textContent.trim().replace(/\s+/g, " "); };
    if (!wrap.matches(".table-wrap")) {
      var title = wrap.querySelector("svg > title");
      return title ? words(title) : "Chart";
    }
    // A table is named after its caption or its section's heading, told apart from the section.
    var holder = wrap.closest("section, .card, form");
    var heading = wrap.querySelector("caption") || (holder && holder.querySelector("h1, h2, h3, legend"));
    return heading ? words(heading) + " table" : "Table";
  }

  function markScrollRegions(root) {
    (root || document).querySelectorAll(SCROLL_BOXES).forEach(function (wrap) {
      var ours = wrap.hasAttribute("data-scrolls");
      if (wrap.hasAttribute("tabindex") && !ours) return;
      if (wrap.scrollWidth > wrap.clientWidth) {
        if (ours) return;
        wrap.setAttribute("data-scrolls", "");
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        wrap.setAttribute("aria-label", regionName(wrap));
      } else if (ours) {
        ["data-scrolls", "tabindex", "role", "aria-label"].forEach(function (name) {
          wrap.removeAttribute(name);
        });
      }
    });
  }

  var resizing = false;
  window.addEventListener("resize", function () {
    if (resizing) return;
    resizing = true;
    window.requestAnimationFrame(function () { resizing = false; markScrollRegions(); });
  });

  document.addEventListener("DOMContentLoaded", function () { armToasts(); markScrollRegions(); });
  document.addEventListener("htmx:afterSettle", function () { armToasts(); markScrollRegions(); });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    var text = status === 403 ? "You are not allowed to do that."
      : status === 404 ? "That no longer exists, or you cannot see it."
      : "Something went wrong (" + status + "). Please try again.";
    toast(text, "error");
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Runway could not be reached. Check your connection.", "error");
  });
})();
