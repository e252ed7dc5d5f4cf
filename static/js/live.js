// Live pages (a rollout, the rollouts, a train). The htmx SSE extension holds the stream ([data-live][sse-connect]) and each
// part re-fetches itself on a `changed` event; this file handles what happens around that:
//  - `signed-out`: close the stream for good: no reconnecting, no polling;
//  - repeated errors: the parts poll every 5 s ("every 5s [runwayLive.polling(this)]") and the
//    extension reconnects with exponential back-off; once the stream is back, polling stops;
//  - no EventSource in this browser: poll from the start;
//  - abort and roll back ([data-ask-reason]) ask for a reason and send it as `reason`;
//  - a running pause ([data-countdown]) counts down to its end every second.
(function () {
  "use strict";

  var ERRORS_BEFORE_POLLING = 3;
  var LABELS = {
    connecting: "Connecting…",
    live: "Live",
    reconnecting: "Reconnecting…",
    polling: "Live updates interrupted: refreshing every 5 s",
    stopped: "Signed out: live updates stopped"
  };
  var errors = new WeakMap();
  var stopped = new WeakSet();
  var watched = new WeakSet();

  function liveRoot(elt) {
    return elt && elt.closest ? elt.closest("[data-live]") : null;
  }

  function show(root, mode) {
    root.setAttribute("data-live-state", mode);
    var text = root.querySelector("[data-live-text]");
    if (text) text.textContent = LABELS[mode];
  }

  function stop(root, source) {
    stopped.add(root);
    source.close();
    show(root, "stopped");
  }

  window.runwayLive = {
    // Asked by each part's polling trigger every 5 s: true only while the stream is failing.
    polling: function (elt) {
      var root = liveRoot(elt);
      return !!root && root.getAttribute("data-live-state") === "polling";
    }
  };

  document.addEventListener("htmx:sseOpen", function (event) {
    var root = liveRoot(event.target);
    var source = event.detail.source;
    if (!root) return;
    if (stopped.has(root)) {
      source.close();
      return;
    }
    if (!watched.has(source)) {
      watched.add(source);
      source.addEventListener("signed-out", function () { stop(root, source); });
    }
    errors.set(root, 0);
    show(root, "live");
  });

  document.addEventListener("htmx:sseError", function (event) {
    var root = liveRoot(event.target);
    var source = event.detail.source;
    if (!root) return;
    if (stopped.has(root)) {
      source.close();
      return;
    }
    var count = (errors.get(root) || 0) + 1;
    errors.set(root, count);
    if (count < ERRORS_BEFORE_POLLING) {
      show(root, "reconnecting");
      return;
    }
    show(root, "polling");
    // Left open, the browser retries a dropped stream every few seconds for ever. Closed here,
    // before the extension looks, it is the extension that reconnects: after 0.5 s, 1 s, 2 s…
    // up to a minute.
    if (source.readyState !== EventSource.CLOSED) source.close();
  });

  if (!("EventSource" in window)) {
    // Deferred scripts run before htmx starts: it never tries to connect.
    document.querySelectorAll("[data-live][sse-connect]").forEach(function (root) {
      root.removeAttribute("sse-connect");
      show(root, "polling");
    });
  }

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var form = elt && elt.closest ? elt.closest("[data-ask-reason]") : null;
    if (!form) return;
    var reason = window.prompt(form.getAttribute("data-ask-reason"), "");
    if (reason === null) {
      event.preventDefault(); // Cancel: nothing is sent
      return;
    }
    event.detail.parameters.reason = reason;
  });

  function countdown() {
    document.querySelectorAll("time[data-countdown]").forEach(function (elt) {
      var left = Math.max(0, Math.round((Date.parse(elt.getAttribute("data-countdown")) - Date.now()) / 1000));
      var hours = Math.floor(left / 3600);
      var minutes = Math.floor((left % 3600) / 60);
      var seconds = left % 60;
      elt.textContent = (hours ? hours + " h " : "") + (hours || minutes ? minutes + " min " : "") + seconds + " s";
    });
  }
  countdown();
  window.setInterval(countdown, 1000);
})();
