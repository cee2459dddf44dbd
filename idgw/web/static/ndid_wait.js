// The NDID waiting page (ndid_wait.html): ask the gateway how the request stands instead of
// reloading the page. No inline script (CSP script-src 'self'); fetch stays on the gateway
// (connect-src 'self'). Without script the page reloads itself slowly (<noscript> refresh).
//
// GET data-status-url answers {"state": "pending", "time_left", "message"} or
// {"state": "done", "next"}; "next" is a path on the gateway to go to (the sign-in continues,
// or the page that says what went wrong).
(function () {
  "use strict";
  var root = document.getElementById("ndid-wait");
  if (!root || !window.fetch) return;
  var url = root.getAttribute("data-status-url");
  var time = document.getElementById("ndid-time");
  var status = document.getElementById("ndid-status");
  var EVERY = 3000, MOST = 30000;
  var delay = EVERY, timer = null, busy = false;

  function local(path) {
    return typeof path === "string" && path.charAt(0) === "/" && path.charAt(1) !== "/" && path.indexOf("\\") < 0;
  }
  function show(element, text) {
    // Only real changes reach the live region, so a screen reader hears news, not every poll.
    if (element && typeof text === "string" && element.textContent !== text) element.textContent = text;
  }
  function later(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }
  function poll() {
    if (busy) return;
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404) { window.location.reload(); return null; } // the page says why
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (answer) {
        busy = false;
        if (!answer) return;
        if (answer.state === "done" && local(answer.next)) { window.location.assign(answer.next); return; }
        show(time, answer.time_left);
        show(status, answer.message);
        delay = EVERY;
        later(delay);
      })
      .catch(function () {
        // The gateway or the network is having trouble: ask less often (doubling, at most every 30 s).
        busy = false;
        delay = Math.min(delay * 2, MOST);
        later(delay);
      });
  }
  // Back from the bank app (the tab becomes visible again): look at once.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") later(0);
  });
  later(delay);
})();
