// Small behaviours shared by every page: toasts and htmx error reporting.
(function () {
  "use strict";

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

  document.addEventListener("DOMContentLoaded", function () { armToasts(); });
  document.addEventListener("htmx:afterSettle", function () { armToasts(); });
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
