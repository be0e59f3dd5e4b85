// Test-only OpenID Provider built on panva/oidc-provider (certified OP).
//
// Used by the Go helper in internal/oidctest; never deploy this.
//
// Usage:
//   node provider.mjs [--port N] [--clients FILE] [--keys FILE] [--exit-on-stdin-eof]
// Environment fallbacks: OIDC_PORT, OIDC_CLIENTS_FILE, OIDC_KEYS_FILE,
// OIDC_EXIT_ON_STDIN_EOF=1.
//
// * Listens on 127.0.0.1:<port> (port 0 = pick a free one); issuer is
//   http://127.0.0.1:<port>. Once listening it prints exactly one line to
//   stdout:  OIDCTEST_READY {"port":N,"issuer":"...","pid":N}
// * Only the client_credentials grant is enabled. Access tokens are JWTs
//   (typ at+jwt) produced through features.resourceIndicators.
// * Clients file: JSON array (or {"clients":[...]}) of
//     { "client_id", "client_secret", "scopes": [..], "alg": "RS256"|"ES256",
//       "audience": "aud value", "resource": "absolute URI (optional)",
//       "claims": {..extra claims..}, "override_claims": {..},
//       "token_ttl": seconds, "auth_method": "client_secret_basic"|"client_secret_post" }
//   The resource indicator accepted for a client is its "resource", else its
//   audience when that is an absolute URI, else urn:oidctest:client:<client_id>;
//   omitting the resource parameter selects it by default.
// * Keys: one RS256 and one ES256 key (distinct kids) generated at start, or
//   loaded from --keys FILE when it exists (the file is (re)written on start
//   and on rotation so a restart keeps serving the same keys).
// * Test admin endpoints (same port):
//     POST /__test/rotate[?alg=RS256|ES256][&drop_old=1]
//         adds a new key for alg (default RS256) and signs new tokens with it;
//         drop_old=1 removes the previous keys of that alg from the JWKS.
//         -> {"kid":"new kid","kids":[all published kids]}
//     GET  /__test/keys -> {"kids":[...],"signing":{"RS256":kid,"ES256":kid}}
//     GET  /__test/userinfo (Authorization: Bearer <opaque token>)
//         -> the claims of an opaque token of a client with "opaque": true
//            (sub = client_id, scope, its claims); 401 when unknown/expired
// * SIGTERM/SIGINT: exit 0.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    clients: { type: 'string' },
    keys: { type: 'string' },
    'exit-on-stdin-eof': { type: 'boolean' },
  },
  strict: true,
});

const port = Number.parseInt(args.port ?? process.env.OIDC_PORT ?? '0', 10);
const clientsFile = args.clients ?? process.env.OIDC_CLIENTS_FILE;
const keysFile = args.keys ?? process.env.OIDC_KEYS_FILE;
const exitOnStdinEOF = args['exit-on-stdin-eof'] || process.env.OIDC_EXIT_ON_STDIN_EOF === '1';

function log(...parts) {
  process.stderr.write(`[oidc-provider-test] ${parts.join(' ')}\n`);
}

function die(msg) {
  log('FATAL', msg);
  process.exit(2);
}

process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
if (exitOnStdinEOF) {
  // The parent (go test) holds the write end of our stdin; when it dies the
  // pipe closes and we must not linger as an orphan.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

if (!Number.isInteger(port) || port < 0 || port > 65535) die(`invalid port ${args.port ?? process.env.OIDC_PORT}`);

// ---------------------------------------------------------------- clients

const SUPPORTED_ALGS = new Set(['RS256', 'ES256']);

function isAbsoluteURI(v) {
  try {
    return Boolean(new URL(v).protocol);
  } catch {
    return false;
  }
}

function loadClients() {
  if (!clientsFile) return [];
  let raw;
  try {
    raw = JSON.parse(fs.readFileSync(clientsFile, 'utf8'));
  } catch (err) {
    die(`cannot read clients file ${clientsFile}: ${err.message}`);
  }
  const list = Array.isArray(raw) ? raw : raw.clients;
  if (!Array.isArray(list)) die('clients file must be an array or {"clients": [...]}');
  return list.map((c, i) => {
    if (!c.client_id) die(`client #${i}: client_id is required`);
    if (!c.client_secret) die(`client ${c.client_id}: client_secret is required`);
    const alg = c.alg || 'RS256';
    if (!SUPPORTED_ALGS.has(alg)) die(`client ${c.client_id}: unsupported alg ${alg}`);
    const audience = c.audience || c.client_id;
    let resource = c.resource;
    if (!resource) resource = isAbsoluteURI(audience) ? audience : `urn:oidctest:client:${encodeURIComponent(c.client_id)}`;
    if (!isAbsoluteURI(resource)) die(`client ${c.client_id}: resource ${resource} is not an absolute URI`);
    return {
      id: c.client_id,
      secret: c.client_secret,
      scopes: Array.isArray(c.scopes) ? c.scopes.filter(Boolean) : [],
      alg,
      audience,
      resource,
      claims: c.claims && typeof c.claims === 'object' ? c.claims : undefined,
      override: c.override_claims && typeof c.override_claims === 'object' ? c.override_claims : undefined,
      ttl: Number.isInteger(c.token_ttl) && c.token_ttl > 0 ? c.token_ttl : 3600,
      authMethod: c.auth_method || 'client_secret_basic',
      opaque: c.opaque === true,
    };
  });
}

const clients = loadClients();
const clientsById = new Map(clients.map((c) => [c.id, c]));

// ---------------------------------------------------------------- keys

function newKey(alg) {
  let pair;
  if (alg === 'RS256') pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  else if (alg === 'ES256') pair = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  else throw new Error(`unsupported alg ${alg}`);
  const jwk = pair.privateKey.export({ format: 'jwk' });
  const prefix = alg === 'RS256' ? 'rsa' : 'ec';
  return {
    ...jwk, kid: `${prefix}-${crypto.randomBytes(8).toString('hex')}`, alg, use: 'sig',
  };
}

// state.keys: newest first. state.signing: alg -> kid used for new tokens.
let state;
if (keysFile && fs.existsSync(keysFile)) {
  try {
    state = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
  } catch (err) {
    die(`cannot read keys file ${keysFile}: ${err.message}`);
  }
  if (!Array.isArray(state.keys) || !state.signing) die(`keys file ${keysFile} is malformed`);
} else {
  const rsa = newKey('RS256');
  const ec = newKey('ES256');
  state = { keys: [rsa, ec], signing: { RS256: rsa.kid, ES256: ec.kid } };
}

function saveState() {
  if (!keysFile) return;
  const tmp = path.join(path.dirname(keysFile), `.${path.basename(keysFile)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
  fs.renameSync(tmp, keysFile);
}

// ---------------------------------------------------------------- provider

function staticScopes() {
  const s = new Set(['openid', 'offline_access']);
  for (const c of clients) c.scopes.forEach((x) => s.add(x));
  return [...s];
}

// Minimal in-memory adapter (the built-in one logs a warning on every
// Provider construction). Shared across Provider instances re-created on key
// rotation. JWT access tokens are not stored at all.
const store = new Map();
class MemoryAdapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : undefined });
  }

  async find(id) {
    const e = store.get(this.key(id));
    if (!e) return undefined;
    if (e.exp && e.exp < Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return e.payload;
  }

  async findByUserCode() {
    return undefined;
  }

  async findByUid() {
    return undefined;
  }

  async consume(id) {
    const e = store.get(this.key(id));
    if (e) e.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId() {}
}

const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      client_id: c.id,
      client_secret: c.secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: c.authMethod,
      ...(c.scopes.length ? { scope: c.scopes.join(' ') } : {}),
    })),
    adapter: MemoryAdapter,
    scopes: staticScopes(),
    jwks: { keys: state.keys },
    cookies: { keys: cookieKeys },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource(ctx, client) {
          return clientsById.get(client?.clientId)?.resource;
        },
        useGrantedResource() {
          return true;
        },
        getResourceServerInfo(ctx, resourceIndicator, client) {
          const c = clientsById.get(client?.clientId);
          if (!c || resourceIndicator !== c.resource) {
            throw new errors.InvalidTarget(`resource ${resourceIndicator} is not registered for this client`);
          }
          // Tokens may carry any scope the client is allowed; when the client
          // has no scope allow-list, grant whatever was requested. Requests for
          // scopes outside the allow-list fail (invalid_scope) instead of being
          // silently dropped, so test mistakes surface.
          const requested = (ctx.oidc.params?.scope || '').split(' ').filter(Boolean);
          if (c.scopes.length) {
            const denied = requested.find((s) => !c.scopes.includes(s));
            if (denied) throw new errors.InvalidScope('requested scope is not allowed', denied);
          }
          return {
            scope: (c.scopes.length ? c.scopes : requested).join(' '),
            audience: c.audience,
            accessTokenTTL: c.ttl,
            accessTokenFormat: c.opaque ? 'opaque' : 'jwt',
            ...(c.opaque ? {} : { jwt: { sign: { alg: c.alg, kid: state.signing[c.alg] } } }),
          };
        },
      },
    },
    async extraTokenClaims(ctx, token) {
      const c = clientsById.get(token.clientId);
      return c?.claims ? structuredClone(c.claims) : undefined;
    },
    formats: {
      customizers: {
        async jwt(ctx, token, jwt) {
          const c = clientsById.get(token.clientId);
          if (c?.override) Object.assign(jwt.payload, structuredClone(c.override));
        },
      },
    },
    ttl: {
      ClientCredentials(ctx, token) {
        return token.resourceServer?.accessTokenTTL || 3600;
      },
    },
    async findAccount() {
      return undefined;
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (ctx, err) => log('server_error', err?.stack || err));
  provider.on('grant.error', (ctx, err) => log('grant.error', err?.name, err?.message, err?.error_description || ''));
  return provider;
}

// ---------------------------------------------------------------- admin

function sendJSON(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function publicKids() {
  return state.keys.map((k) => k.kid);
}

let current; // { provider, handler }
let issuer;

// userinfo answers for opaque client-credentials tokens (clients with
// "opaque": true) from the provider's own token store: the standard
// userinfo endpoint serves only tokens issued to an end user, and
// client_credentials is the only grant here.
async function userinfo(req, res) {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const token = m && (await current.provider.ClientCredentials.find(m[1]));
  if (!token || token.isExpired) {
    res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
    sendJSON(res, 401, { error: 'invalid_token' });
    return;
  }
  const c = clientsById.get(token.clientId);
  sendJSON(res, 200, {
    sub: token.clientId,
    client_id: token.clientId,
    scope: token.scope,
    ...(c?.claims ? structuredClone(c.claims) : {}),
    ...(c?.override ? structuredClone(c.override) : {}),
  });
}

function admin(req, res, url) {
  if (url.pathname === '/__test/userinfo' && req.method === 'GET') {
    userinfo(req, res).catch((err) => sendJSON(res, 500, { error: String(err?.stack || err) }));
    return;
  }
  if (url.pathname === '/__test/keys' && req.method === 'GET') {
    sendJSON(res, 200, { kids: publicKids(), signing: state.signing });
    return;
  }
  if (url.pathname === '/__test/rotate' && req.method === 'POST') {
    const alg = url.searchParams.get('alg') || 'RS256';
    if (!SUPPORTED_ALGS.has(alg)) {
      sendJSON(res, 400, { error: `unsupported alg ${alg}` });
      return;
    }
    const dropOld = ['1', 'true', 'yes'].includes(url.searchParams.get('drop_old') || '');
    const key = newKey(alg);
    const prev = state;
    state = {
      keys: [key, ...state.keys.filter((k) => !(dropOld && k.alg === alg))],
      signing: { ...state.signing, [alg]: key.kid },
    };
    try {
      const provider = buildProvider(issuer);
      current = { provider, handler: provider.callback() };
      saveState();
    } catch (err) {
      state = prev;
      sendJSON(res, 500, { error: String(err?.stack || err) });
      return;
    }
    log(`rotated ${alg} -> ${key.kid}${dropOld ? ' (dropped old)' : ''}`);
    sendJSON(res, 200, { kid: key.kid, alg, kids: publicKids() });
    return;
  }
  sendJSON(res, 404, { error: 'not found' });
}

// ---------------------------------------------------------------- server

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith('/__test/')) {
    admin(req, res, url);
    return;
  }
  if (!current) {
    sendJSON(res, 503, { error: "starting" });
    return;
  }
  current.handler(req, res);
});
server.keepAliveTimeout = 1000;

server.on('error', (err) => die(`listen: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  const actual = server.address().port;
  issuer = `http://127.0.0.1:${actual}`;
  try {
    const provider = buildProvider(issuer);
    current = { provider, handler: provider.callback() };
    saveState();
  } catch (err) {
    die(err?.stack || String(err));
  }
  process.stdout.write(`OIDCTEST_READY ${JSON.stringify({ port: actual, issuer, pid: process.pid })}\n`);
});
