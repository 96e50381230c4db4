// The test clients registered with the OpenID provider, built from
// clients.json (which the Robot library reads too).
//
// All are confidential and `native`, so that (RFC 8252 7.3) any port on a
// loopback redirect URI matches the registered one: rpa-mfa's own
// /oauth/callback listens on a port chosen at start-up, and
// http://127.0.0.1:<any>/callback is a target nobody listens on, for the
// copy-the-URL flow.
import { readFileSync } from 'node:fs';

const config = JSON.parse(readFileSync(new URL('./clients.json', import.meta.url), 'utf8'));

const GRANT_TYPES = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
];

const REDIRECT_URIS = ['127.0.0.1', 'localhost', '[::1]'].flatMap((host) => [
  `http://${host}/oauth/callback`,
  `http://${host}/callback`,
]);

export const CLIENTS = Object.values(config.clients).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  client_name: c.client_id,
  application_type: 'native',
  token_endpoint_auth_method: c.auth_method,
  grant_types: GRANT_TYPES,
  response_types: ['code'],
  redirect_uris: REDIRECT_URIS,
  id_token_signed_response_alg: 'RS256',
}));

export const PKCE_REQUIRED_CLIENTS = new Set(
  Object.values(config.clients).filter((c) => c.pkce_required).map((c) => c.client_id),
);

// The one protected API: its resource indicator and scopes.
export const API_RESOURCE = config.api_resource;
export const API_SCOPES = config.api_scopes;

// The login_hint that makes the automatic login refuse (access_denied).
export const DENY_LOGIN_HINT = config.deny_login_hint;
