// The citizen's proofing pages: focus on a form's mistakes; on the case page, camera check hints,
// queue polling, cues during the call.
// Everything it shows comes from data-* attributes the server rendered (Thai or English).
(function () {
  "use strict";
  // A form sent back with mistakes (notice, card form): move focus to the list of them, which
  // links to each field, so keyboard and screen-reader users start where the problems are.
  var problems = document.getElementById("error-summary");
  if (problems) problems.focus();

  var box = document.getElementById("case");
  if (!box) return;
  var state = box.dataset.state;

  function text(name, values) {
    var s = box.dataset[name] || "";
    Object.keys(values || {}).forEach(function (k) { s = s.replace("{" + k + "}", values[k]); });
    return s;
  }

  // Camera check: preview and a light hint computed here, in the browser; no image leaves it.
  var preview = document.getElementById("preview");
  if (preview && navigator.mediaDevices) {
    var hint = document.getElementById("camera-hint");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" }, audio: false }).then(function (stream) {
      preview.srcObject = stream;
      var canvas = document.createElement("canvas");
      canvas.width = 64; canvas.height = 48;
      var ctx = canvas.getContext("2d", { willReadFrequently: true });
      setInterval(function () {
        if (preview.readyState < 2) return;
        ctx.drawImage(preview, 0, 0, 64, 48);
        var px = ctx.getImageData(0, 0, 64, 48).data, sum = 0;
        for (var i = 0; i < px.length; i += 4) sum += 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
        var mean = sum / (px.length / 4);
        var level = mean < 50 ? "dark" : mean > 215 ? "bright" : "ok", msg = text(level);
        if (hint.textContent !== msg) hint.textContent = msg;
        hint.setAttribute("data-level", level);
      }, 700);
      window.addEventListener("pagehide", function () { stream.getTracks().forEach(function (t) { t.stop(); }); });
    }).catch(function () { hint.textContent = text("denied"); hint.setAttribute("data-level", "denied"); });
  }

  // Poll the case's state: the page reloads when it changes (queue -> call -> result), and an
  // approval while the sign-in waits continues it.
  var url = box.dataset.statusUrl;
  var live = ["ready", "queued", "claimed", "awaiting_second"];
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (s) {
      if (!s) return;
      if (s.state === "approved" && s.next) { window.location.assign(s.next); return; }
      if (s.state !== state) { window.location.reload(); return; }
      if (s.state === "queued") {
        var pos = document.getElementById("queue-position"), wait = document.getElementById("queue-wait");
        var p = text("position", { position: s.position }), w = text("wait", { wait: s.wait_text[box.dataset.lang] });
        if (pos && pos.textContent !== p) pos.textContent = p;
        if (wait && wait.textContent !== w) wait.textContent = w;
      }
    }).catch(function () { /* a dropped poll: the next one tries again */ });
  }
  if (live.indexOf(state) >= 0 || state === "approved") setInterval(poll, 3000);

  // Cues the server picked, pushed over the call's socket (call.js dispatches them).
  var call = document.getElementById("call");
  if (call) {
    var cueBox = document.getElementById("cue-box"), cue = document.getElementById("cue");
    var cueTime = document.getElementById("cue-time"), timer = null;
    call.addEventListener("call-event", function (e) {
      var d = e.detail || {};
      if (d.name === "cue") {
        cue.textContent = box.getAttribute("data-cue-" + d.cue) || d.cue;
        var left = Math.round(d.window || 5);
        cueTime.textContent = text("cueNow", { seconds: left });
        cueBox.hidden = false;
        if (cueBox.scrollIntoView) cueBox.scrollIntoView({ block: "nearest" });
        clearInterval(timer);
        timer = setInterval(function () {
          left -= 1;
          if (left <= 0) { clearInterval(timer); cueBox.hidden = true; return; }
          cueTime.textContent = text("cueNow", { seconds: left });
        }, 1000);
      } else if (d.name === "decided" || d.name === "released" || d.name === "cancelled" || d.name === "expired") {
        poll();
      }
    });
  }
})();
