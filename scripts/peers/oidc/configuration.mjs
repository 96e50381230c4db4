// oidc-provider's configuration for the tests: the clients, scopes and
// claims, the enabled flows and the lifetimes.
import Provider from 'oidc-provider';

import { CLIENTS, PKCE_REQUIRED_CLIENTS, API_RESOURCE, API_SCOPES } from './clients.mjs';

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

// `options` are the lifetimes in seconds (accessTokenTtl, idTokenTtl,
// deviceCodeTtl), apiTokenFormat ('opaque' or 'jwt'), the signing JWK and
// the cookie key; rotateRefreshToken, extraClients beyond clients.json, and
// mailUsernames (a `username` claim in every access token).
export function configuration({
  signingJwk, cookieKey, accessTokenTtl, idTokenTtl, deviceCodeTtl, apiTokenFormat,
  rotateRefreshToken = false, extraClients = [], mailUsernames = false,
}) {
  return {
    clients: [...CLIENTS, ...extraClients],
    // true rotates the refresh token at every refresh
    // (OIDC_ROTATE_REFRESH_TOKEN); otherwise oidc-provider's default.
    ...(rotateRefreshToken ? { rotateRefreshToken: true } : {}),
    // For Dovecot's oauth2 passdb (DOVECOT_XOAUTH2): introspection copies
    // these into its answer, and `username` names the mailbox user.
    ...(mailUsernames ? {
      extraTokenClaims: async (_ctx, token) => ({ username: token.accountId ?? token.clientId }),
    } : {}),
    jwks: { keys: [signingJwk] },
    cookies: { keys: [cookieKey] },
    scopes: ['openid', 'offline_access', 'profile', 'email', ...API_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    // Put the scope's claims into the ID token too (as Google does), not
    // only into userinfo.
    conformIdTokenClaims: false,
    pkce: { required: (_ctx, client) => PKCE_REQUIRED_CLIENTS.has(client.clientId) },
    features: {
      // Logins are completed by interactions.mjs instead.
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
    // Errors as JSON, not HTML, so a failing test shows what went wrong.
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}
