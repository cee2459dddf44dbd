// The officer console's script (officer_queue.html, officer_case.html). No inline script (CSP
// script-src 'self'); every request stays on the gateway (connect-src 'self').
//
// Queue page (#officer-queue): GET data-url (/officer/queue.json) every few seconds and rebuild
// the lists in place (no page reload; the focused Claim button keeps its focus).
//
// Call page (#officer-case): GET data-state-url every 2 s and refresh the face result, the cues,
// the problems and the form's version; notice when the applicant left. "Compare now" and "Give a
// random cue" POST to the call endpoints with the X-CSRF-Token header. The checklist, flag and
// decision forms are sent with fetch (Accept: application/json) so the call is not interrupted by
// a page load; without script they are ordinary forms. A 401 from any of these means the sign-in
// must be renewed: the page reloads and the server sends the officer to sign in again.
(function () {
  "use strict";
  if (!window.fetch) return;

  function text(el, value) {
    if (el && typeof value === "string" && el.textContent !== value) el.textContent = value;
  }
  function show(el, visible) {
    if (el) el.hidden = !visible;
  }
  function element(tag, props, children) {
    var el = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") el.textContent = props[k];
      else el.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { el.appendChild(c); });
    return el;
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) { window.location.reload(); return null; }
        return response.json().then(function (body) { return { status: response.status, body: body }; });
      });
  }
  function post(url, body, headers) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store", body: body,
      headers: Object.assign({ Accept: "application/json" }, headers || {})
    }).then(function (response) {
      if (response.status === 401) { window.location.reload(); return null; }
      return response.json().catch(function () { return {}; })
        .then(function (answer) { return { status: response.status, body: answer }; });
    });
  }
  function poller(fn, every) {
    var timer = null, busy = false, delay = every, MOST = 30000;
    function run() {
      if (busy) return;
      busy = true;
      fn().then(function (again) {
        busy = false;
        delay = every;
        if (again !== false) later(delay);
      }, function () {
        busy = false;
        delay = Math.min(delay * 2, MOST); // trouble: ask less often
        later(delay);
      });
    }
    function later(ms) { clearTimeout(timer); timer = setTimeout(run, ms); }
    later(every);
    return function () { later(0); };
  }

  // -- the queue -----------------------------------------------------------------------------
  var queueRoot = document.getElementById("officer-queue");
  if (queueRoot) {
    var last = "";
    var claimWord = queueRoot.getAttribute("data-claim");
    var reviewWord = queueRoot.getAttribute("data-review");
    var openWord = queueRoot.getAttribute("data-open");
    var renderQueue = function (data) {
      var snapshot = JSON.stringify([data.queue, data.second, data.mine]);
      if (snapshot === last) return;
      last = snapshot;
      var focused = document.activeElement && document.activeElement.closest &&
        document.activeElement.closest("tr[data-id]");
      var focusedId = focused ? focused.getAttribute("data-id") : null;

      var rows = document.getElementById("queue-rows");
      rows.textContent = "";
      data.queue.forEach(function (row) {
        var form = element("form", { method: "post", action: row.action, "class": "inline" }, [
          element("input", { type: "hidden", name: "csrf_token", value: row.csrf_token }),
          element("button", { type: "submit", "aria-label": row.label, text: claimWord })
        ]);
        rows.appendChild(element("tr", { "data-id": row.id }, [
          element("td", { text: row.service }), element("td", { text: "IAL " + row.need_ial }),
          element("td", { text: row.waiting }), element("td", {}, [form])
        ]));
      });
      show(document.getElementById("queue-table"), data.queue.length > 0);
      show(document.getElementById("queue-empty"), data.queue.length === 0);

      var second = document.getElementById("second-rows");
      second.textContent = "";
      data.second.forEach(function (row) {
        second.appendChild(element("tr", { "data-id": row.id }, [
          element("td", { text: row.service }), element("td", { text: "IAL " + row.need_ial }),
          element("td", { text: row.problems.join(", ") }),
          element("td", {}, [element("a", { "class": "button secondary", href: row.href, text: reviewWord })])
        ]));
      });
      show(document.getElementById("second-table"), data.second.length > 0);
      show(document.getElementById("second-empty"), data.second.length === 0);

      var mine = document.getElementById("mine");
      mine.textContent = "";
      if (data.mine) mine.appendChild(element("a", { href: data.mine.href, text: openWord + " (" + data.mine.service + ")" }));
      show(document.getElementById("mine-section"), !!data.mine);

      if (focusedId) {
        var again = document.querySelector('tr[data-id="' + focusedId + '"] button, tr[data-id="' + focusedId + '"] a');
        if (again) again.focus();
      }
    };
    poller(function () {
      return getJSON(queueRoot.getAttribute("data-url")).then(function (answer) {
        if (answer && answer.status === 200) renderQueue(answer.body);
      });
    }, 5000);
  }

  // -- the call page -------------------------------------------------------------------------
  var caseRoot = document.getElementById("officer-case");
  if (caseRoot) {
    var csrf = caseRoot.getAttribute("data-csrf");
    var frameWord = caseRoot.getAttribute("data-frame-word");
    var errorWords = {};
    try { errorWords = JSON.parse(caseRoot.getAttribute("data-errors") || "{}"); } catch (e) { errorWords = {}; }
    var refusal = function (body) {
      // this console's answers carry "message"; the call endpoints' only "error" (a code)
      if (!body) return "";
      return body.message || errorWords[body.error || body.code] || String(body.error || body.code || "");
    };
    var live = document.getElementById("officer-live");
    var left = document.getElementById("citizen-left");
    var finished = false;
    var checklistDirty = false;

    Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) { el.hidden = false; });

    var fillList = function (list, items) {
      var snapshot = JSON.stringify(items);
      if (list.getAttribute("data-shown") === snapshot) return;
      list.setAttribute("data-shown", snapshot);
      list.textContent = "";
      items.forEach(function (item) { list.appendChild(element("li", { text: item })); });
    };
    var renderState = function (s) {
      var faceRows = document.getElementById("face-rows");
      var faceSnap = JSON.stringify(s.face_rows);
      if (faceRows.getAttribute("data-shown") !== faceSnap) {
        faceRows.setAttribute("data-shown", faceSnap);
        faceRows.textContent = "";
        s.face_rows.forEach(function (row) {
          faceRows.appendChild(element("tr", {}, [element("th", { scope: "row", text: row.label }),
            element("td", { text: row.value })]));
        });
      }
      show(document.getElementById("face-table"), s.face_rows.length > 0);
      show(document.getElementById("face-none"), s.face_rows.length === 0);
      var cueList = document.getElementById("cue-list");
      var cueSnap = JSON.stringify(s.cue_rows);
      if (cueList.getAttribute("data-shown") !== cueSnap) {
        cueList.setAttribute("data-shown", cueSnap);
        cueList.textContent = "";
        s.cue_rows.forEach(function (c) {
          var item = element("li", { text: c.text });
          if (c.frame) {
            item.appendChild(document.createTextNode(" ("));
            item.appendChild(element("a", { href: c.frame, text: frameWord }));
            item.appendChild(document.createTextNode(")"));
          }
          cueList.appendChild(item);
        });
      }
      var faceFrame = document.getElementById("face-frame");
      if (faceFrame) {
        if (s.face_frame && faceFrame.getAttribute("src") !== s.face_frame) faceFrame.setAttribute("src", s.face_frame);
        show(faceFrame, !!s.face_frame);
      }
      show(document.getElementById("cues-none"), s.cue_rows.length === 0);
      fillList(document.getElementById("problems"), s.problem_texts);
      show(document.getElementById("problems-none"), s.problem_texts.length === 0);
      show(document.getElementById("flagged"), !!s.flagged);
      Array.prototype.forEach.call(document.querySelectorAll("input.case-version"), function (input) {
        input.value = String(s.version);
      });
      if (!checklistDirty) {
        Object.keys(s.checklist || {}).forEach(function (item) {
          var radio = document.querySelector('#checklist-form input[name="' + item + '"][value="' + s.checklist[item] + '"]');
          if (radio) radio.checked = true;
        });
      }
      if (s.state !== "claimed") {
        finished = true;
        if (s.left) show(left, true);
        else text(live, s.message || "");
        Array.prototype.forEach.call(caseRoot.querySelectorAll("button, input, select, textarea"), function (el) {
          el.disabled = true;
        });
        return false; // nothing more to follow
      }
      return true;
    };
    var refresh = poller(function () {
      return getJSON(caseRoot.getAttribute("data-state-url")).then(function (answer) {
        if (!answer) return false;
        if (answer.status !== 200) {
          text(live, refusal(answer.body));
          return false;
        }
        return renderState(answer.body);
      });
    }, 2000);

    var callAction = function (button, url) {
      if (!button) return;
      button.addEventListener("click", function () {
        if (finished) return;
        button.disabled = true;
        post(url, null, { "X-CSRF-Token": csrf }).then(function (answer) {
          button.disabled = false;
          if (answer && answer.status >= 400) text(live, refusal(answer.body));
          refresh();
        }, function () { button.disabled = false; });
      });
    };
    callAction(document.getElementById("compare"), caseRoot.getAttribute("data-compare-url"));
    callAction(document.getElementById("give-cue"), caseRoot.getAttribute("data-cue-url"));

    var checklistForm = document.getElementById("checklist-form");
    if (checklistForm) checklistForm.addEventListener("change", function () { checklistDirty = true; });

    Array.prototype.forEach.call(document.querySelectorAll("form.js-json"), function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (finished) return;
        var submit = form.querySelector("button[type=submit]");
        if (submit) submit.disabled = true;
        var body = new URLSearchParams(new FormData(form));
        post(form.getAttribute("action"), body).then(function (answer) {
          if (submit) submit.disabled = false;
          if (!answer) return;
          var data = answer.body || {};
          if (data.ok && data.next && form.getAttribute("data-leaves")) {
            window.location.assign(data.next);
            return;
          }
          text(live, data.ok ? (data.message || "") : refusal(data));
          if (data.ok) {
            if (form === checklistForm) checklistDirty = false;
            if (form.id === "flag-form") form.reset();
          }
          refresh();
        }, function () { if (submit) submit.disabled = false; });
      });
    });

    var call = document.getElementById("call");
    if (call) call.addEventListener("call-event", function () { refresh(); });
  }
})();
