// The reference OpenID provider of `make bench`: panva/oidc-provider (OpenID Certified), configured
// like idgw for the benchmark: one confidential client (client_secret_basic), PKCE S256 required,
// ES256 ID tokens and JWT access tokens (RFC 9068, like idgw's), pairwise subjects, refresh tokens
// that rotate on every use, and a real password login form (argon2id at OWASP's m=19 MiB, t=2, p=1,
// the same parameters as idgw) followed by a consent form, written on oidc-provider's interaction
// API. Everything is kept in memory (Maps, below), or, with DATABASE_URL, in PostgreSQL (PgAdapter:
// one row per code, session, grant, interaction and token, as a durable oidc-provider deployment
// keeps them), so idgw on PostgreSQL can also be compared with a peer that writes to a database.
// Loopback only. Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USERS (count),
// PASSWORD (of user0..userN-1), DATABASE_URL (postgresql://...; optional).
import { createServer } from 'node:http';
import { createHmac, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';
import Provider from 'oidc-provider';
import pg from 'pg';

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT || 8790);
const ISSUER = `http://${HOST}:${PORT}`;
const CLIENT_ID = process.env.CLIENT_ID || 'bench-rp';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'bench-rp-secret-0123456789abcdef';
const REDIRECT_URI = process.env.REDIRECT_URI || 'https://rp.example.test/cb';
const RESOURCE = 'urn:idgw-bench:api';

// argon2id with the parameters idgw sets (idgw/security.py), run on libuv's thread pool.
const HASH_OPTIONS = { type: argon2.argon2id, memoryCost: 19 * 1024, timeCost: 2, parallelism: 1, hashLength: 32 };
const users = new Map(); // username -> { id, hash, claims }
const nUsers = Number(process.env.USERS || 16);
const password = process.env.PASSWORD || 'correct horse battery staple';
const sharedHash = await argon2.hash(password, HASH_OPTIONS);
for (let i = 0; i < nUsers; i += 1) {
  const id = randomBytes(16).toString('hex');
  // Each account gets its own salted hash, as in idgw.
  const hash = i === 0 ? sharedHash : await argon2.hash(password, HASH_OPTIONS);
  users.set(`user${i}`, {
    id, hash, claims: {
      sub: id, email: `user${i}@example.test`, email_verified: false, name: 'Somsri Rakthai',
      given_name: 'Somsri', family_name: 'Rakthai', locale: 'th',
    },
  });
}
const byId = new Map([...users.values()].map((u) => [u.id, u]));
const DUMMY_HASH = await argon2.hash(randomBytes(16).toString('hex'), HASH_OPTIONS);

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'es256-1', use: 'sig', alg: 'ES256' };
const CSRF_KEY = randomBytes(32);
const PAIRWISE_SALT = randomBytes(32);


// oidc-provider's bundled development adapter is an LRU of 1000 entries, which would evict codes,
// sessions and grants in the middle of a benchmark round; this one keeps everything in Maps
// until it expires (oidc-provider's adapter interface).
const stores = new Map();
const grants = new Map(); // grantId -> Set of "Model:id"
class MapAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.set(id, { payload, expiresAt });
    if (payload.grantId) {
      if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
      grants.get(payload.grantId).add(`${this.name}:${id}`);
    }
    if (payload.uid && this.name === 'Session') stores.get('Session').set(`uid:${payload.uid}`, { payload: id, expiresAt });
  }

  #get(key) {
    const entry = this.store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) { this.store.delete(key); return undefined; }
    return entry.payload;
  }

  async find(id) { return this.#get(id); }

  async findByUid(uid) {
    const id = this.#get(`uid:${uid}`);
    return id ? this.#get(id) : undefined;
  }

  async findByUserCode() { return undefined; }

  async consume(id) {
    const payload = this.#get(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { this.store.delete(id); }

  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) || []) {
      const [name, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
      stores.get(name)?.delete(id);
    }
    grants.delete(grantId);
  }
}

// The adapter of a durable deployment: oidc-provider's adapter interface on one PostgreSQL table
// (the layout of the adapters in oidc-provider's wiki), one statement per call, autocommitted,
// through a pool of 20 connections (idgw keeps 20 per process too).
const pool = process.env.DATABASE_URL ? new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 }) : null;
if (pool) {
  await pool.query(`CREATE TABLE IF NOT EXISTS oidc_payloads (
    id text NOT NULL, type text NOT NULL, payload jsonb NOT NULL, grant_id text, user_code text, uid text,
    expires_at timestamptz, consumed_at timestamptz, PRIMARY KEY (id, type))`);
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_payloads_grant ON oidc_payloads (grant_id)');
  await pool.query('CREATE INDEX IF NOT EXISTS oidc_payloads_uid ON oidc_payloads (uid)');
}
const LIVE = '(expires_at IS NULL OR expires_at > now())';
class PgAdapter {
  constructor(name) { this.type = name; }

  async upsert(id, payload, expiresIn) {
    await pool.query(`INSERT INTO oidc_payloads (id, type, payload, grant_id, user_code, uid, expires_at)
      VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
      ON CONFLICT (id, type) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
        user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
    [id, this.type, payload, payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null,
      expiresIn ?? 10 * 365 * 24 * 3600]);
  }

  static #row(result) {
    const row = result.rows[0];
    if (!row) return undefined;
    return row.consumed_at ? { ...row.payload, consumed: Math.floor(row.consumed_at.getTime() / 1000) } : row.payload;
  }

  async find(id) {
    return PgAdapter.#row(await pool.query(
      `SELECT payload, consumed_at FROM oidc_payloads WHERE id = $1 AND type = $2 AND ${LIVE}`, [id, this.type]));
  }

  async findByUid(uid) {
    return PgAdapter.#row(await pool.query(
      `SELECT payload, consumed_at FROM oidc_payloads WHERE uid = $1 AND type = $2 AND ${LIVE}`, [uid, this.type]));
  }

  async findByUserCode(userCode) {
    return PgAdapter.#row(await pool.query(
      `SELECT payload, consumed_at FROM oidc_payloads WHERE user_code = $1 AND type = $2 AND ${LIVE}`,
      [userCode, this.type]));
  }

  async consume(id) {
    await pool.query('UPDATE oidc_payloads SET consumed_at = now() WHERE id = $1 AND type = $2', [id, this.type]);
  }

  async destroy(id) {
    await pool.query('DELETE FROM oidc_payloads WHERE id = $1 AND type = $2', [id, this.type]);
  }

  async revokeByGrantId(grantId) {
    await pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
  }
}

const provider = new Provider(ISSUER, {
  adapter: pool ? PgAdapter : MapAdapter,
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: 'ES256',
    subject_type: 'pairwise',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  subjectTypes: ['public', 'pairwise'],
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'locale'],
  },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // JWT access tokens signed with ES256, as idgw issues (RFC 9068).
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'profile email', audience: RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
  ttl: {
    AccessToken: 600, AuthorizationCode: 600, IdToken: 600, Interaction: 900,
    RefreshToken: 30 * 24 * 3600, Session: 30 * 24 * 3600, Grant: 30 * 24 * 3600,
  },
  issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token')
    && code.scopes.has('offline_access'),
  rotateRefreshToken: () => true,
  // Pairwise sub as idgw computes it: HMAC-SHA256(instance salt, sector \0 account).
  pairwiseIdentifier: (ctx, accountId, client) => createHmac('sha256', PAIRWISE_SALT)
    .update(`${client.sectorIdentifier}\0${accountId}`).digest('hex'),
  async findAccount(ctx, id) {
    const user = byId.get(id);
    if (!user) return undefined;
    return { accountId: id, async claims() { return user.claims; } };
  },
});
provider.proxy = false;
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// -- the interaction pages: a password login form and a consent form ------------------------------
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const csrf = (uid, purpose) => createHmac('sha256', CSRF_KEY).update(`${uid}|${purpose}`).digest('hex');

function page(res, status, title, body) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(html));
  res.end(html);
}

function loginPage(res, uid, clientId, error) {
  page(res, error ? 401 : 200, 'Sign in', `<p>to ${esc(clientId)}</p>${error ? `<p role="alert">${esc(error)}</p>` : ''}`
    + `<form method="post" action="/interaction/${esc(uid)}/login">`
    + `<input type="hidden" name="csrf_token" value="${csrf(uid, 'login')}">`
    + '<input name="username" autocomplete="username"><input type="password" name="password" autocomplete="current-password">'
    + '<button type="submit">Sign in</button></form>');
}

function consentPage(res, uid, clientId, scopes) {
  page(res, 200, 'Allow access', `<p>${esc(clientId)} asks for: ${scopes.map(esc).join(', ')}</p>`
    + `<form method="post" action="/interaction/${esc(uid)}/consent">`
    + `<input type="hidden" name="csrf_token" value="${csrf(uid, 'consent')}">`
    + '<button type="submit" name="decision" value="allow">Allow</button>'
    + '<button type="submit" name="decision" value="deny">Deny</button></form>');
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function csrfOk(form, uid, purpose) {
  const sent = Buffer.from(String(form.get('csrf_token') || ''));
  const want = Buffer.from(csrf(uid, purpose));
  return sent.length === want.length && timingSafeEqual(sent, want);
}

async function interaction(req, res) {
  // interactionDetails checks the interaction cookie: the page belongs to the browser that started it.
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  const path = new URL(req.url, ISSUER).pathname;
  if (req.method === 'GET') {
    if (prompt.name === 'login') return loginPage(res, uid, params.client_id);
    return consentPage(res, uid, params.client_id, String(params.scope).split(' '));
  }
  const form = await readForm(req);
  if (path.endsWith('/login')) {
    if (!csrfOk(form, uid, 'login') || prompt.name !== 'login') return page(res, 403, 'Forbidden', '');
    const user = users.get(String(form.get('username') || '').trim().toLowerCase());
    // Always one argon2id verification, also for unknown accounts (as idgw does).
    const ok = await argon2.verify(user ? user.hash : DUMMY_HASH, String(form.get('password') || '').slice(0, 1024));
    if (!ok || !user) return loginPage(res, uid, params.client_id, 'Wrong username or password');
    return provider.interactionFinished(req, res, { login: { accountId: user.id, amr: ['pwd'], acr: 'urn:idgw:aal:1' } },
      { mergeWithLastSubmission: false });
  }
  if (path.endsWith('/consent')) {
    if (!csrfOk(form, uid, 'consent') || prompt.name !== 'consent') return page(res, 403, 'Forbidden', '');
    if (form.get('decision') !== 'allow') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'declined' },
        { mergeWithLastSubmission: false });
    }
    const { details: missing } = prompt;
    const grant = details.grantId ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } },
      { mergeWithLastSubmission: true });
  }
  return page(res, 404, 'Not found', '');
}

const oidc = provider.callback();
const server = createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      if (!res.headersSent) page(res, 400, 'Error', `<p>${esc(err.name)}</p>`);
      else res.destroy();
    });
    return;
  }
  oidc(req, res);
});
server.keepAliveTimeout = 75_000;
server.listen(PORT, HOST, () => console.log(`oidc-provider ${ISSUER} ready (${nUsers} users, `
  + `${pool ? 'state in PostgreSQL' : 'state in memory'})`));
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => (pool ? pool.end() : Promise.resolve()).then(() => process.exit(0))));
}
