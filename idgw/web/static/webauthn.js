// Passkey ceremonies for idgw pages. No inline script (CSP script-src 'self').
// A button with data-webauthn="register|login|stepup" fetches options from data-options-url,
// runs navigator.credentials.create/get, puts the JSON response in the form's hidden
// "credential" field and submits the form; the server verifies everything.
(function () {
  "use strict";
  function b64urlToBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    const bin = atob(s), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function bufToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function creationOptions(o) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON)
      return PublicKeyCredential.parseCreationOptionsFromJSON(o);
    o.challenge = b64urlToBuf(o.challenge);
    o.user.id = b64urlToBuf(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }
  function requestOptions(o) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON)
      return PublicKeyCredential.parseRequestOptionsFromJSON(o);
    o.challenge = b64urlToBuf(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBuf(c.id); });
    return o;
  }
  function toJSON(cred) {
    if (typeof cred.toJSON === "function") return cred.toJSON();
    const r = cred.response, out = { id: cred.id, rawId: bufToB64url(cred.rawId), type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults(), response: { clientDataJSON: bufToB64url(r.clientDataJSON) } };
    if (r.attestationObject) { out.response.attestationObject = bufToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports(); }
    if (r.authenticatorData) { out.response.authenticatorData = bufToB64url(r.authenticatorData);
      out.response.signature = bufToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bufToB64url(r.userHandle); }
    return out;
  }
  async function run(button) {
    const form = button.closest("form");
    const status = form.querySelector("[data-webauthn-status]");
    const say = function (text) { if (status) status.textContent = text; };
    say("");
    try {
      const resp = await fetch(button.dataset.optionsUrl, { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": button.dataset.csrf },
        body: JSON.stringify({ purpose: button.dataset.purpose || button.dataset.webauthn,
                               context: button.dataset.context || "" }) });
      if (!resp.ok) { say(button.dataset.failed); return; }
      const options = await resp.json();
      const cred = button.dataset.webauthn === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
      form.querySelector("input[name=credential]").value = JSON.stringify(toJSON(cred));
      form.submit();
    } catch (e) {
      say(button.dataset.failed + " (" + e.name + ")");
    }
  }
  document.addEventListener("click", function (ev) {
    const button = ev.target.closest("[data-webauthn]");
    if (!button) return;
    ev.preventDefault();
    if (!window.PublicKeyCredential) { button.disabled = true; return; }
    run(button);
  });
})();
