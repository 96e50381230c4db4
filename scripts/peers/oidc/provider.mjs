// The real OpenID Connect provider the Robot suites test rpa-mfa's OAuth
// keywords against: oidc-provider (OpenID Certified), configured with
// confidential test clients and logins that complete without a human.
//
//   node provider.mjs [--port N] [--port-file FILE]
//
// Listens on 127.0.0.1 (port 0 picks a free one), issuer
// http://127.0.0.1:PORT. Once listening it writes PORT to FILE and prints
// "oidc-provider listening at http://127.0.0.1:PORT"; SIGTERM stops it and
// it prints "oidc-provider stopped". Logs (method, path, status, errors;
// never a query, body or token) go to stderr.
//
// Environment (all optional, seconds):
//   OIDC_DEVICE_CODE_TTL   lifetime of a device code (default 600)
//   OIDC_DEVICE_INTERVAL   polling interval announced and enforced with
//                          slow_down (default 1; see deviceInterval below)
//   OIDC_ACCESS_TOKEN_TTL  lifetime of access tokens (default 3600)
//   OIDC_ID_TOKEN_TTL      lifetime of ID tokens (default 3600)
//   OIDC_API_TOKEN_FORMAT  `opaque` (default) or `jwt`: access tokens for the
//                          API resource. oidc-provider neither introspects
//                          nor revokes JWT access tokens.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID, createSign } from 'node:crypto';
import { writeFileSync, renameSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

import {
  CLIENTS, PKCE_REQUIRED_CLIENTS, API_RESOURCE, API_SCOPES, DENY_LOGIN_HINT,
} from './clients.mjs';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'port-file': { type: 'string' },
  },
});

const seconds = (name, fallback) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive whole number of seconds, got ${JSON.stringify(raw)}`);
  }
  return value;
};
const deviceCodeTtl = seconds('OIDC_DEVICE_CODE_TTL', 600);
const deviceInterval = seconds('OIDC_DEVICE_INTERVAL', 1);
const accessTokenTtl = seconds('OIDC_ACCESS_TOKEN_TTL', 3600);
const idTokenTtl = seconds('OIDC_ID_TOKEN_TTL', 3600);
const apiTokenFormat = process.env.OIDC_API_TOKEN_FORMAT || 'opaque';
if (!['opaque', 'jwt'].includes(apiTokenFormat)) {
  throw new Error(`OIDC_API_TOKEN_FORMAT must be opaque or jwt, got ${JSON.stringify(apiTokenFormat)}`);
}

const log = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

// A fresh RS256 signing key per run: no private key is ever committed.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

// Every account exists and carries these claims; `sub` is the login name.
const accountClaims = (sub) => ({
  sub,
  name: `Robot ${sub}`,
  given_name: 'Robot',
  family_name: sub,
  preferred_username: sub,
  email: `${sub}@example.test`,
  email_verified: true,
});

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: CLIENTS,
  jwks: { keys: [signingJwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', ...API_SCOPES],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Put the scope's claims into the ID token too (as Google does), not only
  // into userinfo.
  conformIdTokenClaims: false,
  pkce: { required: (_ctx, client) => PKCE_REQUIRED_CLIENTS.has(client.clientId) },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // One protected API, requested with resource=API_RESOURCE;
    // client_credentials gets it by default.
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, _client, oneOf) => {
        if (oneOf) return oneOf;
        return ctx.oidc.params?.grant_type === 'client_credentials' ? API_RESOURCE : undefined;
      },
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== API_RESOURCE) throw new Provider.errors.InvalidTarget();
        return {
          scope: API_SCOPES.join(' '),
          audience: API_RESOURCE,
          accessTokenFormat: apiTokenFormat,
          accessTokenTTL: accessTokenTtl,
          ...(apiTokenFormat === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
        };
      },
    },
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
    ClientCredentials: () => accessTokenTtl,
    DeviceCode: () => deviceCodeTtl,
    IdToken: () => idTokenTtl,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 24 * 3600,
  },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => accountClaims(sub) }),
  renderError: (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// Behind nothing: trust the socket, not X-Forwarded-* headers.
provider.proxy = false;

// Completes every interaction like a user who logs in as `robot` (or the
// login_hint) and consents to everything asked; login_hint=deny refuses.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'GET' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session, grantId } = details;
  const hint = params.login_hint;
  let result;
  if (hint === DENY_LOGIN_HINT) {
    result = { error: 'access_denied', error_description: 'End-User denied the login (login_hint=deny)' };
  } else if (prompt.name === 'login') {
    result = { login: { accountId: hint || 'robot' } };
  } else if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unexpected prompt ${prompt.name}` };
  }
  log(`interaction ${prompt.name} -> ${result.error ?? 'finished'}`);
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(returnTo);
});

// oidc-provider accepts client_secret_basic and client_secret_post from a
// client registered for either one. The harness holds each client to its
// registered method (as Auth0 and others do), so a test proves which one a
// client really sends; a mismatch gets oidc-provider's own invalid_client
// answer. The body read here is handed on to oidc-provider, which accepts an
// already read body (it then warns once in the log).
const CLIENT_AUTH_PATHS = new Set(['/token', '/token/introspection', '/token/revocation', '/device/auth']);
const registeredAuthMethod = new Map(CLIENTS.map((c) => [c.client_id, c.token_endpoint_auth_method]));
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || !CLIENT_AUTH_PATHS.has(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) {
    return next();
  }
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const body = Buffer.concat(chunks).toString('utf8');
  ctx.request.body = body;
  const form = new URLSearchParams(body);
  const header = ctx.get('authorization');
  let used;
  let clientId;
  if (/^basic /i.test(header)) {
    used = 'client_secret_basic';
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    clientId = decodeURIComponent(decoded.slice(0, decoded.indexOf(':')).replace(/\+/g, ' '));
  } else if (form.has('client_secret')) {
    used = 'client_secret_post';
    clientId = form.get('client_id');
  }
  const registered = registeredAuthMethod.get(clientId);
  if (used && registered && used !== registered) {
    log(`${ctx.path}: client ${clientId} used ${used}, registered for ${registered}`);
    ctx.status = 401;
    ctx.set('WWW-Authenticate', `Basic realm="${issuer}", error="invalid_client", error_description="client authentication failed"`);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'invalid_client', error_description: 'client authentication failed' };
    return undefined;
  }
  return next();
});

// oidc-provider 9 neither announces a device polling `interval` nor answers
// `slow_down` (RFC 8628 3.5). This adds both so clients can be tested
// against them: the interval goes into the device authorization response,
// and a device_code polled again sooner than that gets slow_down.
const lastPoll = new Map();
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body?.device_code) {
    ctx.body = { ...ctx.body, interval: deviceInterval };
  }
});
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
  await next();
  const params = ctx.oidc?.params;
  if (params?.grant_type !== 'urn:ietf:params:oauth:grant-type:device_code') return;
  if (ctx.status !== 400 || ctx.body?.error !== 'authorization_pending') return;
  const code = params.device_code;
  const now = Date.now();
  const previous = lastPoll.get(code);
  lastPoll.set(code, now);
  if (previous !== undefined && now - previous < deviceInterval * 1000) {
    ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off at a reasonable rate' };
  }
});

// A test hook, not part of oidc-provider: signs the posted JSON claims with
// the provider's own key, so a suite can make ID tokens that are expired,
// for another audience or with a wrong nonce yet correctly signed.
provider.use(async (ctx, next) => {
  if (ctx.method !== 'POST' || ctx.path !== '/test/sign') return next();
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const claims = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', typ: 'JWT', kid: signingJwk.kid })}.${part(claims)}`;
  const signature = createSign('RSA-SHA256').update(input).sign(privateKey).toString('base64url');
  ctx.type = 'text/plain';
  ctx.body = `${input}.${signature}`;
});

// Access log without query strings or bodies: they carry codes and secrets.
provider.use(async (ctx, next) => {
  await next();
  log(`${ctx.method} ${ctx.path} ${ctx.status}`);
});
for (const event of ['server_error', 'authorization.error', 'grant.error', 'introspection.error',
  'revocation.error', 'userinfo.error', 'device_authorization.error', 'code_verification.error']) {
  provider.on(event, (_ctx, err) => {
    const detail = err.error_detail ? ` (${err.error_detail})` : '';
    log(`${event}: ${err.name} ${err.error_description ?? err.message}${detail}`);
  });
}

server.on('request', provider.callback());

if (args['port-file']) {
  const tmp = `${args['port-file']}.tmp`;
  writeFileSync(tmp, `${port}\n`);
  renameSync(tmp, args['port-file']);
}
log(`issuer ${issuer}`);
process.stdout.write(`oidc-provider listening at ${issuer}\n`);

const stop = () => {
  server.close(() => {
    if (args['port-file']) rmSync(args['port-file'], { force: true });
    process.stdout.write('oidc-provider stopped\n');
    process.exit(0);
  });
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
