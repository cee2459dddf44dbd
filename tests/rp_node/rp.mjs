#!/usr/bin/env node
// Conformance-style relying party for idgw, built on panva's openid-client v6
// (an OpenID Certified RP library). It drives a full Authorization Code + PKCE
// flow against ISSUER with every signature/claim check on, then userinfo,
// refresh-token rotation, introspection, revocation and RP-initiated logout.
//
// Prints exactly one JSON object on stdout:
//   success: { ok: true, id_token_claims, userinfo, refreshed: true,
//              introspection_active, revoked_refresh_active, logout_redirect, ... }
//   failure: { ok: false, step, error, details?, trace? }   (exit code 1)
// Set RP_DEBUG=1 to log every browser hop on stderr.

import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as client from 'openid-client';

const MAX_REQUESTS = 30; // every HTTP request made by the fake browser, per flow
const MAX_FORMS = 10; // form submissions per flow (login page, consent page, ...)
const HTTP_TIMEOUT_MS = 10_000;
const AUTHZ_BUTTONS = ['allow', 'approve', 'accept', 'yes', 'confirm'];
const LOGOUT_BUTTONS = ['logout', 'yes', 'confirm', 'allow'];

const DEBUG = !!process.env.RP_DEBUG && process.env.RP_DEBUG !== '0';
const trace = [];
let step = 'init';
let finished = false;

class RPError extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'RPError';
    this.details = details;
  }
}

function log(line) {
  trace.push(line);
  if (trace.length > 40) trace.shift();
  if (DEBUG) process.stderr.write(`[rp] ${line}\n`);
}

function finish(obj, code) {
  if (finished) return;
  finished = true;
  process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(code));
}

// ---------------------------------------------------------------- errors

function plain(value, depth = 0) {
  if (value === null || value === undefined) return value;
  if (['string', 'number', 'boolean'].includes(typeof value)) {
    return typeof value === 'string' && value.length > 2000 ? `${value.slice(0, 2000)}...` : value;
  }
  if (depth > 3) return String(value);
  if (value instanceof URLSearchParams) return Object.fromEntries(value.entries());
  if (value instanceof URL) return value.href;
  if (typeof Response !== 'undefined' && value instanceof Response) {
    return { response_status: value.status, response_url: value.url };
  }
  if (value instanceof Headers) return Object.fromEntries(value.entries());
  if (value instanceof Error) return describeError(value, depth + 1);
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => plain(v, depth + 1));
  if (typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value).slice(0, 40)) out[k] = plain(v, depth + 1);
    return out;
  }
  return String(value);
}

function describeError(err, depth = 0) {
  if (!(err instanceof Error)) return { message: String(err) };
  const d = { name: err.name, message: err.message };
  for (const k of ['code', 'error', 'error_description', 'status', 'details']) {
    if (err[k] !== undefined) d[k] = plain(err[k], depth + 1);
  }
  if (err.cause !== undefined) d.cause = plain(err.cause, depth + 1);
  return d;
}

function errorMessage(err) {
  if (!(err instanceof Error)) return String(err);
  let msg = err.message;
  if (err.error) msg += ` [${err.error}${err.error_description ? `: ${err.error_description}` : ''}]`;
  if (err.code && !String(msg).includes(err.code)) msg += ` (${err.code})`;
  if (err.cause instanceof Error) msg += ` <- ${err.cause.message}`;
  return msg;
}

// ---------------------------------------------------------------- env

function requireEnv(name) {
  const v = process.env[name];
  if (v === undefined || v === '') throw new RPError(`missing required environment variable ${name}`);
  return v;
}

// ---------------------------------------------------------------- HTML

const NAMED_ENTITIES = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', '#x2F': '/',
};

function decodeEntities(s) {
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z][a-zA-Z0-9]*);?/g, (m, ent) => {
    if (ent[0] === '#') {
      const cp = ent[1] === 'x' || ent[1] === 'X' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      try {
        return Number.isFinite(cp) ? String.fromCodePoint(cp) : m;
      } catch {
        return m;
      }
    }
    const named = NAMED_ENTITIES[ent] ?? NAMED_ENTITIES[ent.toLowerCase()];
    return named ?? m;
  });
}

// attributes inside a start tag; order-independent, "double", 'single', bare or valueless
function parseAttrs(attrText) {
  const attrs = {};
  const re = /([^\s"'<>\/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  let m;
  while ((m = re.exec(attrText)) !== null) {
    const name = m[1].toLowerCase();
    if (name in attrs) continue; // first occurrence wins, as in browsers
    const raw = m[2] ?? m[3] ?? m[4];
    attrs[name] = raw === undefined ? '' : decodeEntities(raw);
  }
  return attrs;
}

// a start tag whose attribute values may contain '>' inside quotes
const ATTRS = `((?:[^>"']|"[^"]*"|'[^']*')*)`;
const tagRe = (tag) => new RegExp(`<${tag}\\b${ATTRS}>`, 'gi');

function stripNoise(html) {
  return html
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<script\b[\s\S]*?<\/script\s*>/gi, '')
    .replace(/<style\b[\s\S]*?<\/style\s*>/gi, '');
}

function textSnippet(html, n = 300) {
  return decodeEntities(stripNoise(html).replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim().slice(0, n);
}

function collectControls(fragment) {
  const fields = [];
  const buttons = [];
  for (const m of fragment.matchAll(tagRe('input'))) {
    const a = parseAttrs(m[1]);
    const type = (a.type || 'text').toLowerCase();
    if (type === 'submit' || type === 'image') {
      buttons.push({ name: a.name, value: a.value ?? '', attrs: a });
      continue;
    }
    if (type === 'button' || type === 'reset' || type === 'file') continue;
    fields.push({ name: a.name, value: a.value ?? (type === 'checkbox' || type === 'radio' ? 'on' : ''), type, attrs: a });
  }
  for (const m of fragment.matchAll(new RegExp(`<button\\b${ATTRS}>([\\s\\S]*?)</button\\s*>`, 'gi'))) {
    const a = parseAttrs(m[1]);
    const type = (a.type || 'submit').toLowerCase();
    if (type !== 'submit') continue;
    buttons.push({ name: a.name, value: a.value ?? '', attrs: a, label: textSnippet(m[2], 60) });
  }
  for (const m of fragment.matchAll(new RegExp(`<textarea\\b${ATTRS}>([\\s\\S]*?)</textarea\\s*>`, 'gi'))) {
    const a = parseAttrs(m[1]);
    fields.push({ name: a.name, value: decodeEntities(m[2]), type: 'textarea', attrs: a });
  }
  for (const m of fragment.matchAll(new RegExp(`<select\\b${ATTRS}>([\\s\\S]*?)</select\\s*>`, 'gi'))) {
    const a = parseAttrs(m[1]);
    const options = [...m[2].matchAll(new RegExp(`<option\\b${ATTRS}>([^<]*)`, 'gi'))].map((o) => {
      const oa = parseAttrs(o[1]);
      return { value: oa.value ?? decodeEntities(o[2]).trim(), selected: 'selected' in oa };
    });
    const chosen = options.find((o) => o.selected) ?? options[0];
    if (chosen) fields.push({ name: a.name, value: chosen.value, type: 'select', attrs: a });
  }
  return { fields, buttons };
}

function parseForms(html) {
  const clean = stripNoise(html);
  const forms = [];
  for (const m of clean.matchAll(new RegExp(`<form\\b${ATTRS}>([\\s\\S]*?)</form\\s*>`, 'gi'))) {
    const attrs = parseAttrs(m[1]);
    const { fields, buttons } = collectControls(m[2]);
    forms.push({ attrs, fields, buttons });
  }
  // controls outside the <form> element that point at it with form="id"
  if (forms.some((f) => f.attrs.id)) {
    const outside = clean.replace(/<form\b(?:[^>"']|"[^"]*"|'[^']*')*>[\s\S]*?<\/form\s*>/gi, '');
    const { fields, buttons } = collectControls(outside);
    for (const f of forms) {
      if (!f.attrs.id) continue;
      f.fields.push(...fields.filter((c) => c.attrs.form === f.attrs.id));
      f.buttons.push(...buttons.filter((c) => c.attrs.form === f.attrs.id));
    }
  }
  return forms;
}

function chooseButton(buttons, preferred) {
  if (buttons.length === 0) return undefined;
  const lower = (s) => (s ?? '').toLowerCase();
  for (const want of preferred) {
    const b = buttons.find((x) => x.name && lower(x.value) === want);
    if (b) return b;
  }
  for (const want of preferred) {
    const b = buttons.find((x) => lower(x.name) === want);
    if (b) return b;
  }
  return buttons[0];
}

// ---------------------------------------------------------------- browser

class CookieJar {
  constructor() {
    this.cookies = new Map(); // host -> Map("name;path" -> {name, value, path})
  }

  store(url, setCookieHeaders) {
    const host = url.host;
    if (!this.cookies.has(host)) this.cookies.set(host, new Map());
    const jar = this.cookies.get(host);
    for (const header of setCookieHeaders) {
      const [pair, ...attrParts] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path;
      let expired = false;
      for (const part of attrParts) {
        const [k, ...rest] = part.split('=');
        const key = k.trim().toLowerCase();
        const val = rest.join('=').trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        if (key === 'max-age' && Number(val) <= 0) expired = true;
        if (key === 'expires') {
          const t = Date.parse(val);
          if (!Number.isNaN(t) && t <= Date.now()) expired = true;
        }
      }
      if (!path) {
        // RFC 6265 default-path
        const p = url.pathname;
        path = p.lastIndexOf('/') > 0 ? p.slice(0, p.lastIndexOf('/')) : '/';
      }
      const key = `${name};${path}`;
      if (expired) jar.delete(key);
      else jar.set(key, { name, value, path });
    }
  }

  header(url) {
    const jar = this.cookies.get(url.host);
    if (!jar) return undefined;
    const p = url.pathname;
    const matching = [...jar.values()]
      .filter((c) => p === c.path || (p.startsWith(c.path) && (c.path.endsWith('/') || p[c.path.length] === '/')))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }
}

// Acts as a user agent from `startUrl` until a redirect Location starts with
// `stopPrefix`; returns that Location as a URL.
async function browse(jar, startUrl, { stopPrefix, preferredButtons, username, password, label }) {
  let req = { method: 'GET', url: new URL(startUrl), body: undefined, referer: undefined };
  let requests = 0;
  let forms = 0;
  let credentialsSubmitted = false;

  for (;;) {
    if (++requests > MAX_REQUESTS) {
      throw new RPError(`${label}: gave up after ${MAX_REQUESTS} HTTP requests without reaching ${stopPrefix}`);
    }
    const headers = {
      accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
      'user-agent': 'idgw-rp-node/1 (openid-client conformance RP)',
    };
    const cookie = jar.header(req.url);
    if (cookie) headers.cookie = cookie;
    if (req.referer) headers.referer = req.referer.href;
    if (req.method === 'POST') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin = req.referer ? req.referer.origin : req.url.origin;
    }

    let res;
    try {
      res = await fetch(req.url, {
        method: req.method,
        headers,
        body: req.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
    } catch (err) {
      throw new RPError(`${label}: ${req.method} ${req.url.href} failed: ${errorMessage(err)}`);
    }
    jar.store(req.url, res.headers.getSetCookie());
    const location = res.headers.get('location');
    log(`${label}: ${req.method} ${req.url.origin}${req.url.pathname} -> ${res.status}${location ? ` Location: ${location}` : ''}`);

    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.body?.cancel();
      const next = new URL(location, req.url);
      if (next.href.startsWith(stopPrefix)) return next;
      if (res.status === 307 || res.status === 308) {
        req = { ...req, url: next };
      } else {
        req = { method: 'GET', url: next, body: undefined, referer: req.referer };
      }
      continue;
    }

    const body = await res.text();
    if (res.status !== 200) {
      throw new RPError(`${label}: ${req.method} ${req.url.href} answered HTTP ${res.status}: ${textSnippet(body)}`, {
        status: res.status,
      });
    }
    const all = parseForms(body);
    if (all.length === 0) {
      throw new RPError(`${label}: page ${req.url.href} has no <form> and did not redirect to ${stopPrefix}: ${textSnippet(body)}`);
    }
    // the first form, unless a later one is the one asking for a password
    const form = all.find((f) => f.fields.some((x) => x.type === 'password')) ?? all[0];
    const hasPassword = form.fields.some((x) => x.type === 'password' || x.name === 'password');
    if (hasPassword && credentialsSubmitted) {
      throw new RPError(`${label}: login form shown again after submitting credentials (rejected username/password?): ${textSnippet(body)}`);
    }
    if (++forms > MAX_FORMS) {
      throw new RPError(`${label}: more than ${MAX_FORMS} forms without reaching ${stopPrefix}`);
    }

    const params = new URLSearchParams();
    for (const f of form.fields) {
      if (!f.name || 'disabled' in f.attrs) continue;
      if ((f.type === 'checkbox' || f.type === 'radio') && !('checked' in f.attrs)) continue;
      let value = f.value;
      if (username !== undefined && (f.name === 'username' || f.name === 'login')) value = username;
      if (password !== undefined && f.name === 'password') value = password;
      params.append(f.name, value);
    }
    const button = chooseButton(form.buttons, preferredButtons);
    if (button?.name) params.append(button.name, button.value);
    if (hasPassword) credentialsSubmitted = true;

    const method = (button?.attrs.formmethod || form.attrs.method || 'get').toLowerCase() === 'post' ? 'POST' : 'GET';
    const actionAttr = button?.attrs.formaction || form.attrs.action;
    const action = actionAttr ? new URL(actionAttr, req.url) : new URL(req.url);
    log(`${label}: form ${method} ${action.pathname} fields=[${[...params.keys()].join(',')}]${button?.name ? ` button=${button.name}=${button.value}` : ''}`);
    if (method === 'GET') {
      action.search = params.toString();
      req = { method: 'GET', url: action, body: undefined, referer: req.url };
    } else {
      req = { method: 'POST', url: action, body: params.toString(), referer: req.url };
    }
  }
}

function openidClientVersion() {
  try {
    const pkg = new URL('./node_modules/openid-client/package.json', import.meta.url);
    return JSON.parse(readFileSync(pkg, 'utf8')).version;
  } catch {
    return null;
  }
}

function decodeJwtHeader(jwt) {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- flow

async function main() {
  step = 'config';
  const ISSUER = requireEnv('ISSUER');
  const CLIENT_ID = requireEnv('CLIENT_ID');
  const CLIENT_SECRET = requireEnv('CLIENT_SECRET');
  const REDIRECT_URI = requireEnv('REDIRECT_URI');
  const POST_LOGOUT_REDIRECT_URI = requireEnv('POST_LOGOUT_REDIRECT_URI');
  const USERNAME = requireEnv('USERNAME');
  const PASSWORD = requireEnv('PASSWORD');
  const SCOPE = process.env.SCOPE || 'openid profile email offline_access';
  // OIDC Core 11: offline_access requires prompt=consent unless other conditions
  // permit offline access. Default to that; PROMPT overrides (PROMPT= to omit).
  const PROMPT = process.env.PROMPT !== undefined
    ? process.env.PROMPT || undefined
    : (SCOPE.split(' ').includes('offline_access') ? 'consent' : undefined);
  const ID_TOKEN_ALG = process.env.ID_TOKEN_SIGNED_RESPONSE_ALG || undefined;
  // Space-separated acr values requested as an essential acr claim (OIDC Core §5.5.1.1): the ID
  // token's acr must then be one of them.
  const ESSENTIAL_ACR = (process.env.ESSENTIAL_ACR || '').split(' ').filter(Boolean);

  // 1. discovery, client_secret_basic, plain http allowed (loopback tests only)
  step = 'discovery';
  const metadata = { client_secret: CLIENT_SECRET };
  if (ID_TOKEN_ALG) metadata.id_token_signed_response_alg = ID_TOKEN_ALG;
  const config = await client.discovery(
    new URL(ISSUER),
    CLIENT_ID,
    metadata,
    client.ClientSecretBasic(CLIENT_SECRET),
    { execute: [client.allowInsecureRequests] },
  );
  // openid-client v6 only verifies the JWS signature of ID tokens received from
  // the token endpoint (and of JWT userinfo/introspection) when this is on.
  client.enableNonRepudiationChecks(config);
  const as = config.serverMetadata();
  if (!as.jwks_uri) throw new RPError('discovery document has no jwks_uri (needed for signature checks)');
  if (as.authorization_response_iss_parameter_supported !== true) {
    throw new RPError('discovery document must advertise authorization_response_iss_parameter_supported: true (RFC 9207)');
  }
  for (const ep of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'end_session_endpoint']) {
    if (!as[ep]) throw new RPError(`discovery document has no ${ep}`);
  }
  if (Array.isArray(as.code_challenge_methods_supported) && !as.code_challenge_methods_supported.includes('S256')) {
    throw new RPError('code_challenge_methods_supported does not include S256');
  }

  // 2. authorization request with PKCE S256, state and nonce
  step = 'authorize';
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authParams = {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    response_type: 'code',
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  if (PROMPT) authParams.prompt = PROMPT;
  if (ESSENTIAL_ACR.length) {
    authParams.claims = JSON.stringify({ id_token: { acr: { essential: true, values: ESSENTIAL_ACR } } });
  }
  const authorizationUrl = client.buildAuthorizationUrl(config, authParams);

  // 3. be the browser: login form, consent form, until redirected to REDIRECT_URI
  step = 'browser_login';
  const jar = new CookieJar();
  const callbackURL = await browse(jar, authorizationUrl, {
    stopPrefix: REDIRECT_URI,
    preferredButtons: AUTHZ_BUTTONS,
    username: USERNAME,
    password: PASSWORD,
    label: 'authorize',
  });

  step = 'callback';
  const cbErr = callbackURL.searchParams.get('error');
  if (cbErr) {
    throw new RPError(`authorization error response: ${cbErr}${callbackURL.searchParams.get('error_description') ? `: ${callbackURL.searchParams.get('error_description')}` : ''}`, {
      callback: Object.fromEntries(callbackURL.searchParams),
    });
  }
  // RFC 9207: openid-client rejects a missing iss (the AS advertises support) or a
  // wrong one; check presence here too so the path is known to be exercised.
  if (!callbackURL.searchParams.get('iss')) {
    throw new RPError('authorization response has no "iss" parameter (RFC 9207)', {
      callback: Object.fromEntries(callbackURL.searchParams),
    });
  }

  // 4. code exchange: state, iss, PKCE, nonce, ID token claims and JWS signature
  step = 'code_exchange';
  const tokens = await client.authorizationCodeGrant(config, callbackURL, {
    pkceCodeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims?.sub) throw new RPError('ID token has no sub claim');
  if (ESSENTIAL_ACR.length && !ESSENTIAL_ACR.includes(claims.acr)) {
    throw new RPError(`ID token acr ${claims.acr} is not one of the essential values ${ESSENTIAL_ACR.join(' ')}`);
  }
  const idTokenHeader = decodeJwtHeader(tokens.id_token);
  if (!idTokenHeader?.alg || idTokenHeader.alg === 'none' || idTokenHeader.alg.startsWith('HS')) {
    throw new RPError(`ID token must be signed with an asymmetric algorithm, got alg=${idTokenHeader?.alg}`);
  }
  if (!tokens.access_token) throw new RPError('token response has no access_token');
  if (!tokens.refresh_token) {
    throw new RPError(`token response has no refresh_token (scope requested: "${SCOPE}", granted: "${tokens.scope ?? ''}")`);
  }

  // 5. userinfo (sub must match the ID token's)
  step = 'userinfo';
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  // 6. refresh with rotation
  step = 'refresh';
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  if (!refreshed.access_token) throw new RPError('refresh response has no access_token');
  if (!refreshed.refresh_token) throw new RPError('refresh response has no refresh_token (rotation expected)');
  if (refreshed.refresh_token === tokens.refresh_token) {
    throw new RPError('refresh token was not rotated (new refresh_token equals the old one)');
  }
  if (refreshed.id_token) {
    const rc = refreshed.claims();
    if (rc.sub !== claims.sub) throw new RPError('refreshed ID token has a different sub');
  }

  // 7. introspection / revocation
  step = 'introspection';
  const intro = await client.tokenIntrospection(config, refreshed.access_token, { token_type_hint: 'access_token' });
  if (intro.active !== true) {
    throw new RPError('introspection of the fresh access token is not active', { introspection: intro });
  }

  step = 'revocation';
  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });

  step = 'introspection_revoked';
  const introRevoked = await client.tokenIntrospection(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' });
  if (introRevoked.active !== false) {
    throw new RPError('revoked refresh token still introspects as active', { introspection: introRevoked });
  }

  // 8. RP-initiated logout through the same browser session
  step = 'logout';
  const logoutState = client.randomState();
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token ?? tokens.id_token,
    post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
    state: logoutState,
  });
  const logoutURL = await browse(jar, endSessionUrl, {
    stopPrefix: POST_LOGOUT_REDIRECT_URI,
    preferredButtons: LOGOUT_BUTTONS,
    label: 'logout',
  });
  if (logoutURL.searchParams.get('state') !== logoutState) {
    throw new RPError(`post-logout redirect carries state=${logoutURL.searchParams.get('state')}, expected ${logoutState}`, {
      logout_redirect: logoutURL.href,
    });
  }

  return {
    ok: true,
    id_token_claims: claims,
    userinfo,
    refreshed: true,
    introspection_active: intro.active,
    revoked_refresh_active: introRevoked.active,
    logout_redirect: logoutURL.href,
    id_token_alg: idTokenHeader.alg,
    granted_scope: tokens.scope ?? null,
    openid_client_version: openidClientVersion(),
  };
}

export { parseAttrs, parseForms, chooseButton, decodeEntities, CookieJar };

// run only when executed as a script (importing it exposes the helpers above)
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const timeoutMs = Number(process.env.RP_TIMEOUT_MS || 60_000);
  setTimeout(() => {
    finish({ ok: false, step, error: `timed out after ${timeoutMs} ms`, trace }, 1);
  }, timeoutMs).unref();

  main().then(
    (result) => finish(result, 0),
    (err) => finish({ ok: false, step, error: errorMessage(err), details: describeError(err), trace }, 1),
  );
}
