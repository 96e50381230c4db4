// The user at the provider's login page, so that no test needs a human:
// every /interaction/:uid is completed at once with
// provider.interactionResult, logging in as `robot` (or the login_hint)
// and consenting to every scope and claim asked for. login_hint=deny
// refuses, so the client gets ?error=access_denied.
import { DENY_LOGIN_HINT } from './clients.mjs';

async function consent(provider, { prompt, params, session, grantId }) {
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
  if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
  if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return { consent: { grantId: await grant.save() } };
}

async function answer(provider, details) {
  const hint = details.params.login_hint;
  const { name } = details.prompt;
  if (hint === DENY_LOGIN_HINT) {
    return { error: 'access_denied', error_description: `End-User denied the login (login_hint=${DENY_LOGIN_HINT})` };
  }
  if (name === 'login') return { login: { accountId: hint || 'robot' } };
  if (name === 'consent') return consent(provider, details);
  return { error: 'access_denied', error_description: `unexpected prompt ${name}` };
}

export function completeInteractions(provider, log) {
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'GET' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const result = await answer(provider, details);
    log(`interaction ${details.prompt.name} -> ${result.error ?? 'finished'}`);
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return undefined;
  });
}
