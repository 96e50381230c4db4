// The real OpenID Connect provider the Robot suites test rpa-mfa's OAuth
// keywords against: oidc-provider (OpenID Certified) with confidential test
// clients (clients.json) and logins that complete without a human.
//
//   node provider.mjs [--port N] [--port-file FILE]
//
// Listens on 127.0.0.1 (port 0 picks a free one), issuer
// http://127.0.0.1:PORT. Once listening it writes PORT to FILE and prints
// "oidc-provider listening at http://127.0.0.1:PORT"; SIGTERM stops it and
// it prints "oidc-provider stopped". Logs (method, path, status, errors;
// never a query, body or token) go to stderr.
//
// Environment (all optional, seconds unless said):
//   OIDC_DEVICE_CODE_TTL   lifetime of a device code (default 600)
//   OIDC_DEVICE_INTERVAL   device polling interval, announced and enforced
//                          with slow_down (default 1; see additions.mjs)
//   OIDC_ACCESS_TOKEN_TTL  lifetime of access tokens (default 3600)
//   OIDC_ID_TOKEN_TTL      lifetime of ID tokens (default 3600)
//   OIDC_API_TOKEN_FORMAT  `opaque` (default) or `jwt`: access tokens for the
//                          API resource. oidc-provider neither introspects
//                          nor revokes JWT access tokens.
//   OIDC_ROTATE_REFRESH_TOKEN  `1`: every refresh hands out a new refresh
//                          token and retires the old one.
//   OIDC_JWT_CLIENT_KEYS   comma-separated public key PEM files: registers
//                          the client `rpa-jwt` (client_credentials,
//                          private_key_jwt) with them (see additions.mjs).
//   OIDC_MAIL_USERNAMES    `1`: access tokens carry a `username` claim (the
//                          account, or the client id of a client_credentials
//                          token), which introspection returns: Dovecot's
//                          oauth2 passdb maps a token to a mailbox user by it.
//   OIDC_STRICT_CLIENT_AUTH  `1`: each client must use its registered
//                          client_secret_basic or _post (see additions.mjs);
//                          otherwise either is taken, as oidc-provider does.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync, renameSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

import { configuration } from './configuration.mjs';
import { completeInteractions } from './interactions.mjs';
import {
  strictClientAuth, devicePolling, signingHook, tokenRequestCounter, jwtClient,
} from './additions.mjs';

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
const apiTokenFormat = process.env.OIDC_API_TOKEN_FORMAT || 'opaque';
if (!['opaque', 'jwt'].includes(apiTokenFormat)) {
  throw new Error(`OIDC_API_TOKEN_FORMAT must be opaque or jwt, got ${JSON.stringify(apiTokenFormat)}`);
}

const log = (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

// A fresh RS256 signing key per run: no private key is ever committed.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' };

// Listen first: the issuer names the port that port 0 turned into.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(args.port), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, configuration({
  signingJwk,
  cookieKey: randomBytes(32).toString('base64url'),
  accessTokenTtl: seconds('OIDC_ACCESS_TOKEN_TTL', 3600),
  idTokenTtl: seconds('OIDC_ID_TOKEN_TTL', 3600),
  deviceCodeTtl: seconds('OIDC_DEVICE_CODE_TTL', 600),
  apiTokenFormat,
  rotateRefreshToken: process.env.OIDC_ROTATE_REFRESH_TOKEN === '1',
  mailUsernames: process.env.OIDC_MAIL_USERNAMES === '1',
  extraClients: (process.env.OIDC_JWT_CLIENT_KEYS || '').split(',').filter(Boolean).length
    ? [jwtClient(process.env.OIDC_JWT_CLIENT_KEYS.split(',').filter(Boolean))]
    : [],
}));
// Behind nothing: trust the socket, not X-Forwarded-* headers.
provider.proxy = false;

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

tokenRequestCounter(provider);
if (process.env.OIDC_STRICT_CLIENT_AUTH === '1') strictClientAuth(provider, issuer, log);
devicePolling(provider, seconds('OIDC_DEVICE_INTERVAL', 1));
signingHook(provider, privateKey, signingJwk.kid);
completeInteractions(provider, log);

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
