// What the harness adds to oidc-provider so that clients can be tested
// against behaviour it lacks: each is a Koa middleware before its routes.
import { createPublicKey, createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { CLIENTS } from './clients.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CLIENT_AUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation', '/device/auth']);
const REGISTERED_AUTH_METHOD = new Map(CLIENTS.map((c) => [c.client_id, c.token_endpoint_auth_method]));

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// The client id and the method a request authenticates with, if it uses
// a client secret at all.
function secretAuth(header, form) {
  if (/^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    try {
      const clientId = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, ' '));
      return { used: 'client_secret_basic', clientId };
    } catch {
      return {}; // malformed: oidc-provider refuses it itself
    }
  }
  if (form.has('client_secret')) return { used: 'client_secret_post', clientId: form.get('client_id') };
  return {};
}

// oidc-provider takes client_secret_basic and client_secret_post from a
// client registered for either one (as Google and Keycloak do). When asked
// to, this holds each client to its registered method (as Auth0 and Okta
// do), so a test proves which one a client really sends; a mismatch gets oidc-provider's own invalid_client answer.
// The body read here is handed on: oidc-provider accepts an already read
// body (and warns once in the log).
export function strictClientAuth(provider, issuer, log) {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) {
      return next();
    }
    const body = await readBody(ctx.req);
    ctx.request.body = body;
    const { used, clientId } = secretAuth(ctx.get('authorization'), new URLSearchParams(body));
    const registered = REGISTERED_AUTH_METHOD.get(clientId);
    if (!used || !registered || used === registered) return next();
    log(`${ctx.path}: client ${clientId} used ${used}, registered for ${registered}`);
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Basic realm="${issuer}", error="invalid_client", error_description="client authentication failed"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
    return undefined;
  });
}

// oidc-provider 9 neither announces a device polling `interval` nor answers
// `slow_down` (RFC 8628 3.2, 3.5). This puts `interval` (seconds) into the
// device authorization answer and turns authorization_pending into
// slow_down for a device_code polled again sooner than that.
export function devicePolling(provider, interval) {
  const lastPoll = new Map();
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body?.device_code) {
      ctx.body = { ...ctx.body, interval };
      return;
    }
    const params = ctx.oidc?.params;
    if (ctx.path !== '/token' || params?.grant_type !== DEVICE_GRANT) return;
    if (ctx.status !== 400 || ctx.body?.error !== 'authorization_pending') return;
    const now = Date.now();
    const previous = lastPoll.get(params.device_code);
    lastPoll.set(params.device_code, now);
    if (previous !== undefined && now - previous < interval * 1000) {
      ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off at a reasonable rate' };
    }
  });
}

// POST /test/sign: the posted JSON claims signed RS256 with the provider's
// own key and kid, so a suite can make ID tokens that are expired, for
// another audience or with a wrong nonce, yet correctly signed.
export function signingHook(provider, privateKey, kid) {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/test/sign') return next();
    const claims = JSON.parse(await readBody(ctx.req));
    const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${part({ alg: 'RS256', typ: 'JWT', kid })}.${part(claims)}`;
    const signature = createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
    ctx.type = 'text/plain';
    ctx.body = `${input}.${signature}`;
    return undefined;
  });
}

// GET /test/token-requests: how many token requests each client made
// (`{"rpa-basic": 3, ...}`; a request whose client was not recognised
// counts under "(unknown)"), so a suite proves on the provider's side how
// many requests a client really sent, e.g. one for fifty callers.
export function tokenRequestCounter(provider) {
  const counts = {};
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/test/token-requests') {
      ctx.type = 'json';
      ctx.body = counts;
      return undefined;
    }
    await next();
    if (ctx.method === 'POST' && ctx.path === '/token') {
      const id = ctx.oidc?.client?.clientId ?? '(unknown)';
      counts[id] = (counts[id] ?? 0) + 1;
    }
    return undefined;
  });
}

// The client `rpa-jwt` (client_credentials, private_key_jwt, RFC 7523)
// with the public keys in `pemFiles` (PEM, RSA or EC P-256; the suite
// makes the key pairs and keeps the private keys in its vault). Each key's
// `kid` is its file's name without `.pem`.
export function jwtClient(pemFiles) {
  const keys = pemFiles.map((file) => ({
    ...createPublicKey(readFileSync(file, 'utf8')).export({ format: 'jwk' }),
    kid: basename(file, '.pem'),
  }));
  return {
    client_id: 'rpa-jwt',
    client_name: 'rpa-jwt',
    token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    jwks: { keys },
  };
}
