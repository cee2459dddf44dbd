// The proofing video call, citizen's and officer's side alike. No inline script (CSP script-src
// 'self'); the WebSocket is same-origin (connect-src 'self'). The browser's peer connection is
// with the gateway, which relays the other side (idgw.proofing.media); the protocol is described
// in idgw/proofing/signalling.py.
//
// Markup it expects:
//   <div id="call" data-case="<case id>" data-role="citizen|officer" data-lang="th|en">
//     <video id="local" muted playsinline></video> <video id="remote" playsinline></video>
//     <p id="call-status" role="status" aria-live="polite"></p>
//   </div>
// Page scripts listen to "call-event" on #call (detail: the server's {"type": "event", ...}
// message) and "call-error" (detail: {"code", "message": {"th", "en"}}), and use window.idgwCall.
(function () {
  "use strict";
  var root = document.getElementById("call");
  if (!root || !window.WebSocket || !window.RTCPeerConnection) return;
  var caseId = root.getAttribute("data-case") || "";
  var role = root.getAttribute("data-role") === "officer" ? "officer" : "citizen";
  var lang = root.getAttribute("data-lang") === "en" ? "en" : "th";
  var statusEl = document.getElementById("call-status");
  var localVideo = document.getElementById("local");
  var remoteVideo = document.getElementById("remote");
  var other = role === "citizen" ? "officer" : "citizen";

  var TEXT = {
    th: {
      starting: "กำลังเปิดกล้อง…",
      connecting: "กำลังเชื่อมต่อ…",
      waiting_officer: "เชื่อมต่อแล้ว กำลังรอเจ้าหน้าที่…",
      waiting_citizen: "เชื่อมต่อแล้ว กำลังรอผู้ขอยืนยันตัวตน…",
      connected: "เชื่อมต่อแล้ว",
      reconnecting: "การเชื่อมต่อขาดหาย กำลังเชื่อมต่อใหม่…",
      no_camera: "เปิดกล้องไม่ได้ โปรดอนุญาตให้เว็บไซต์นี้ใช้กล้อง แล้วโหลดหน้านี้ใหม่",
      ended: "การสนทนาสิ้นสุดแล้ว",
      error: "การเชื่อมต่อถูกปฏิเสธ",
    },
    en: {
      starting: "Starting the camera…",
      connecting: "Connecting…",
      waiting_officer: "Connected. Waiting for the officer…",
      waiting_citizen: "Connected. Waiting for the applicant…",
      connected: "Connected",
      reconnecting: "Connection lost. Reconnecting…",
      no_camera: "The camera could not be started. Allow this site to use the camera, then reload the page.",
      ended: "The call has ended.",
      error: "The connection was refused.",
    },
  };
  // Closes after which reconnecting would not help: refused (1008), too large (1009), ended (1000).
  var FINAL = { 1000: "ended", 1008: null, 1009: null };
  var ALREADY_CONNECTED = 4409;

  var ws = null, pc = null, stream = null, iceServers = [];
  var attempt = 0, retryTimer = null, renegotiateTimer = null, pingTimer = null;
  var stopped = false, present = {}, lastError = null, state = "starting";

  if (statusEl) {
    if (!statusEl.hasAttribute("aria-live")) statusEl.setAttribute("aria-live", "polite");
    if (!statusEl.hasAttribute("role")) statusEl.setAttribute("role", "status");
  }

  function setState(name, text) {
    state = name;
    root.setAttribute("data-state", name);
    var words = text || TEXT[lang][name] || "";
    // Only real changes reach the live region, so a screen reader hears news, not every tick.
    if (statusEl && statusEl.textContent !== words) statusEl.textContent = words;
  }
  function updateStatus() {
    if (stopped) return;
    if (!ws || ws.readyState !== WebSocket.OPEN) return setState(attempt ? "reconnecting" : "connecting");
    if (!pc || pc.connectionState !== "connected") return setState("connecting");
    if (!present[other]) return setState("waiting_" + other);
    setState("connected");
  }
  function fail(code, message) {
    lastError = { code: code, message: message };
    setState("error", (message && (message[lang] || message.en)) || TEXT[lang].error);
    root.dispatchEvent(new CustomEvent("call-error", { detail: lastError }));
  }

  function send(obj) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  async function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return null;
    var video = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 15, max: 15 } };
    var tries = [{ video: video, audio: true }, { video: video, audio: false }];
    if (role === "officer") tries.push({ video: false, audio: true });
    for (var i = 0; i < tries.length; i++) {
      try {
        return await navigator.mediaDevices.getUserMedia(tries[i]);
      } catch (e) { /* next: without the microphone, or (officer) without the camera */ }
    }
    return null;
  }

  function connect() {
    clearTimeout(retryTimer);
    if (stopped) return;
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/proofing/ws/" + encodeURIComponent(caseId));
    ws = socket;
    updateStatus();
    socket.onopen = function () {
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { if (ws === socket) send({ type: "ping" }); }, 25000);
    };
    socket.onmessage = function (ev) { if (ws === socket) onMessage(ev.data); };
    socket.onclose = function (ev) {
      if (ws !== socket) return;
      ws = null;
      clearInterval(pingTimer);
      closePeer();
      onClosed(ev.code);
    };
  }

  function onClosed(code) {
    if (stopped) return;
    if (Object.prototype.hasOwnProperty.call(FINAL, code)) {
      stopped = true;
      if (FINAL[code]) setState(FINAL[code]);
      else if (!lastError) fail("refused", null);
      return;
    }
    attempt += 1;
    // 1 s, 2 s, 4 s ... 30 s, with jitter; another window holding the call (4409): 10 s at least.
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt - 1));
    if (code === ALREADY_CONNECTED) delay = Math.max(delay, 10000);
    else updateStatus();
    retryTimer = setTimeout(connect, delay * (0.5 + Math.random() / 2));
  }

  function onMessage(data) {
    var msg;
    try { msg = JSON.parse(data); } catch (e) { return; }
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "config") {
      iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
      lastError = null;
      startPeer();
    } else if (msg.type === "answer") {
      if (pc && pc.signalingState === "have-local-offer") {
        pc.setRemoteDescription({ type: "answer", sdp: msg.sdp }).catch(function () { renegotiateLater(); });
      }
    } else if (msg.type === "event") {
      if (msg.name === "presence" && msg.role === other) {
        present[other] = !!msg.present;
        updateStatus();
      }
      root.dispatchEvent(new CustomEvent("call-event", { detail: msg }));
    } else if (msg.type === "error") {
      fail(msg.code, msg.message);
    }
  }

  function closePeer() {
    clearTimeout(renegotiateTimer);
    if (pc) {
      var old = pc;
      pc = null;
      old.close();
    }
  }

  function renegotiateLater() {
    clearTimeout(renegotiateTimer);
    attempt += 1;
    renegotiateTimer = setTimeout(function () {
      if (ws && ws.readyState === WebSocket.OPEN) startPeer();
    }, Math.min(30000, 1000 * Math.pow(2, attempt - 1)));
  }

  function gathered(peer) {
    // aiortc does no trickle ICE: the offer carries every candidate (or those found within 5 s).
    return new Promise(function (resolve) {
      if (peer.iceGatheringState === "complete") return resolve();
      var timer = setTimeout(done, 5000);
      function check() { if (peer.iceGatheringState === "complete") done(); }
      function done() {
        clearTimeout(timer);
        peer.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
      peer.addEventListener("icegatheringstatechange", check);
    });
  }

  function playRemote() {
    var p = remoteVideo && remoteVideo.play();
    if (p && p.catch) {
      p.catch(function () {
        // Autoplay with sound refused before any user gesture: play muted; idgwCall.unmute() later.
        remoteVideo.muted = true;
        remoteVideo.play().catch(function () {});
        root.dispatchEvent(new CustomEvent("call-event", { detail: { type: "event", name: "remote_muted" } }));
      });
    }
  }

  async function startPeer() {
    closePeer();
    var peer = new RTCPeerConnection({ iceServers: iceServers });
    pc = peer;
    var remote = new MediaStream();
    if (remoteVideo) remoteVideo.srcObject = remote;
    peer.ontrack = function (ev) {
      remote.addTrack(ev.track);
      playRemote();
    };
    var kinds = {};
    if (stream) {
      stream.getTracks().forEach(function (track) {
        peer.addTrack(track, stream);
        kinds[track.kind] = true;
      });
    }
    ["audio", "video"].forEach(function (kind) {
      if (!kinds[kind]) peer.addTransceiver(kind, { direction: "recvonly" });
    });
    peer.onconnectionstatechange = function () {
      if (pc !== peer) return;
      if (peer.connectionState === "connected") attempt = 0;
      if (peer.connectionState === "failed") renegotiateLater();
      updateStatus();
    };
    try {
      await peer.setLocalDescription(await peer.createOffer());
      await gathered(peer);
    } catch (e) {
      if (pc === peer) renegotiateLater();
      return;
    }
    if (pc === peer) send({ type: "offer", sdp: peer.localDescription.sdp });
  }

  function hangup() {
    if (stopped) return;
    stopped = true;
    clearTimeout(retryTimer);
    send({ type: "bye" });
    closePeer();
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    setState("ended");
  }

  window.idgwCall = {
    role: role,
    caseId: caseId,
    send: send,  // a JSON message to the gateway (types it knows; see signalling.py)
    hangup: hangup,
    unmute: function () { if (remoteVideo) { remoteVideo.muted = false; return remoteVideo.play(); } },
    get state() { return state; },
    get connected() { return !!pc && pc.connectionState === "connected"; },
    get lastError() { return lastError; },
  };

  window.addEventListener("pagehide", hangup);

  (async function start() {
    setState("starting");
    stream = await openCamera();
    if (stream && localVideo) {
      localVideo.muted = true;
      localVideo.srcObject = stream;
      localVideo.play().catch(function () {});
    }
    if (role === "citizen" && (!stream || stream.getVideoTracks().length === 0)) {
      return setState("no_camera");  // the gateway would refuse the offer (no_video)
    }
    connect();
  })();
})();
