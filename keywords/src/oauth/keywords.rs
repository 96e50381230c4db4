//! The OAuth2 / OpenID Connect keywords: RPA.MFA's three with its names,
//! arguments and error texts, then the flows of a full client. Each
//! declaration names the function in `grants`, `device`, `tokens` or `mfa`
//! that does its work.

use super::{device, grants, mfa, tokens};
use crate::library::{Keyword, Param};
use crate::value::{Type, Value};

fn text(name: &'static str) -> Param {
    Param::named(name, Type::optional(Type::Str), Value::None)
}

fn issuer() -> Param {
    text("issuer")
}

fn include_client_id(default: bool) -> Param {
    Param::named("include_client_id", Type::Bool, default)
}

fn endpoint(name: &'static str) -> Param {
    Param::optional(name, Type::optional(Type::Str), Value::None)
}

pub fn all() -> Vec<Keyword> {
    vec![
        Keyword::new("Generate OAuth URL")
            .param(endpoint("auth_url"))
            .param(Param::named_required("client_id", Type::Str))
            .param(Param::named_required("redirect_uri", Type::Str))
            .param(Param::named_required("scope", Type::Str))
            .param(Param::named("pkce", Type::Bool, true))
            .param(issuer())
            .param(Param::free_named("kwargs"))
            .returns(Type::Str)
            .tags(&["oauth"])
            .doc(
                "Starts an OAuth2 authorization-code flow and returns the URL the user (or a \
browser the robot drives) must open.

As in RPA.MFA: ``scope`` is space-separated, a new random ``state`` is kept in \
this namespace's session (not returned), a query already in ``auth_url`` is \
kept, and any other ``name=value`` becomes a query parameter (e.g. \
``access_type=offline    prompt=consent`` for Google refresh tokens). Because \
the keyword takes free named arguments, a URL argument containing ``=`` must be \
written with ``\\=``.

Beyond RPA.MFA: PKCE (S256) is added unless ``pkce=False``; a ``nonce`` is \
added when ``scope`` has ``openid``; ``issuer`` looks the endpoint up by OpenID \
discovery instead of ``auth_url``. Use `Get OAuth Callback URL` as \
``redirect_uri`` to let `Get OAuth Token` wait for the redirect itself.

``auth_url`` must be https unless its host is loopback or the server allows \
plain http (``OAUTHLIB_INSECURE_TRANSPORT``): \
``InsecureTransportError: (insecure_transport) OAuth 2 MUST utilize https.``

Example:
| ${url} =    `Generate OAuth URL`    https://accounts.google.com/o/oauth2/auth
| ...    client_id=${id}    redirect_uri=http://127.0.0.1:8270/oauth/callback
| ...    scope=openid email    access_type=offline    prompt=consent
| ${url} =    `Generate OAuth URL`    issuer=https://login.microsoftonline.com/${tenant}/v2.0
| ...    client_id=${id}    redirect_uri=${callback}    scope=openid offline_access",
            )
            .handler(grants::generate_url),
        Keyword::new("Get OAuth Token")
            .param(endpoint("token_url"))
            .param(text("client_secret"))
            .param(text("response_url"))
            .param(include_client_id(false))
            .param(Param::named(
                "timeout",
                Type::optional(Type::Float),
                Value::None,
            ))
            .param(issuer())
            .param(Param::free_named("kwargs"))
            .returns(Type::Dict)
            .tags(&["oauth", "returns-secret"])
            .doc(
                "Exchanges the code of the flow `Generate OAuth URL` started for a token and \
returns the token dict.

``response_url`` is the URL the browser was redirected to. Its ``state`` must \
match (``MismatchingStateError: (mismatching_state) CSRF Warning! State not \
equal in request and response.``); an ``error`` in it fails as the provider \
named it (``AccessDeniedError: (access_denied) ...``). Without \
``response_url`` the keyword waits up to ``timeout`` seconds for the redirect \
to reach this server's `Get OAuth Callback URL`: 0 to the server's \
``--max-wait`` (900 by default), default 300 or ``--max-wait`` when that is \
less; anything else fails with ``ValueError: timeout must be between 0 and \
900 seconds, got X``.

The client authenticates with HTTP Basic, or with ``client_id`` and \
``client_secret`` in the body when ``include_client_id=True``. Other \
``name=value`` pairs go into the request body; they must be text, numbers \
or booleans (a list or dict fails with ``ValueError``). The dict holds every field \
the server sent (``access_token``, ``token_type``, ``expires_in``, \
``refresh_token``, ``id_token``, ...), ``scope`` as a list, and \
``expires_at`` (Unix seconds). Server errors read as in RPA.MFA: \
``InvalidGrantError: (invalid_grant) ...``, ``InvalidClientError: \
(invalid_client) ...``. Without a prior `Generate OAuth URL`: \
``OAuth2NotSetError``.

Example:
| ${token} =    `Get OAuth Token`    https://oauth2.googleapis.com/token
| ...    client_secret=${secret}    response_url=${redirected_to}",
            )
            .handler(grants::get_token),
        Keyword::new("Refresh OAuth Token")
            .param(endpoint("token_url"))
            .param(text("client_id"))
            .param(text("client_secret"))
            .param(text("refresh_token"))
            .param(text("scope"))
            .param(include_client_id(true))
            .param(issuer())
            .param(Param::free_named("kwargs"))
            .returns(Type::Dict)
            .tags(&["oauth", "returns-secret"])
            .doc(
                "Gets a new access token with a refresh token and returns the token dict.

Works without a prior `Generate OAuth URL`. ``client_id`` and \
``refresh_token`` default to this namespace's last flow and token. As in \
RPA.MFA, ``client_id`` and ``client_secret`` go in the request body; \
``include_client_id=False`` sends them with HTTP Basic instead. When the \
answer has no ``refresh_token``, the old one is kept in the dict.

Example:
| ${token} =    `Refresh OAuth Token`    https://oauth2.googleapis.com/token
| ...    client_id=${id}    client_secret=${secret}    refresh_token=${token}[refresh_token]",
            )
            .handler(grants::refresh_token),
        Keyword::new("Get OAuth Callback URL")
            .returns(Type::Str)
            .tags(&["oauth"])
            .doc(
                "Returns this server's loopback redirect target, \
``http://127.0.0.1:PORT/oauth/callback``.

Register it as a redirect URI of the client and pass it to `Generate OAuth \
URL`: when the browser lands there, `Get OAuth Token` (or `Wait For OAuth \
Callback`) gets the code without anyone copying a URL.

Example:
| ${callback} =    `Get OAuth Callback URL`",
            )
            .handler(grants::callback_url),
        Keyword::new("Wait For OAuth Callback")
            .param(Param::optional(
                "timeout",
                Type::optional(Type::Float),
                Value::None,
            ))
            .returns(Type::Str)
            .tags(&["oauth"])
            .doc(
                "Waits up to ``timeout`` seconds for the redirect of this namespace's flow to \
reach `Get OAuth Callback URL`, and returns the full URL it arrived with.

``timeout`` is 0 to the server's ``--max-wait`` (900 by default), default 300 \
or ``--max-wait`` when that is less; anything else fails with \
``ValueError: timeout must be between 0 and 900 seconds, got X``. Fails with \
``TimeoutError`` when nothing arrives in time.

Example:
| ${response_url} =    `Wait For OAuth Callback`    timeout=120",
            )
            .handler(grants::wait_callback),
        Keyword::new("Get OAuth Token With Client Credentials")
            .param(endpoint("token_url"))
            .param(Param::named_required("client_id", Type::Str))
            .param(text("client_secret"))
            .param(text("scope"))
            .param(include_client_id(false))
            .param(issuer())
            .param(Param::free_named("kwargs"))
            .returns(Type::Dict)
            .tags(&["oauth", "returns-secret"])
            .doc(
                "Gets a token for the client itself (RFC 6749 4.4): no user, no browser.

Other ``name=value`` pairs go into the body (e.g. ``resource=https://api`` or \
``audience=...``).

Example:
| ${token} =    `Get OAuth Token With Client Credentials`    issuer=${issuer}
| ...    client_id=${id}    client_secret=${secret}    scope=api:read",
            )
            .handler(|call| grants::direct_grant(call, "client_credentials")),
        Keyword::new("Get OAuth Token With Password")
            .param(endpoint("token_url"))
            .param(Param::named_required("client_id", Type::Str))
            .param(text("client_secret"))
            .param(Param::named_required("username", Type::Str))
            .param(Param::named_required("password", Type::Str))
            .param(text("scope"))
            .param(include_client_id(false))
            .param(issuer())
            .param(Param::free_named("kwargs"))
            .returns(Type::Dict)
            .tags(&["oauth", "returns-secret"])
            .doc(
                "Gets a token with the user's name and password (resource-owner password \
grant, RFC 6749 4.3), for providers that still allow it.

Example:
| ${token} =    `Get OAuth Token With Password`    ${token_url}
| ...    client_id=${id}    client_secret=${secret}    username=robot    password=${pw}",
            )
            .handler(|call| grants::direct_grant(call, "password")),
        Keyword::new("Get OAuth Token With Password And MFA")
            .param(endpoint("token_url"))
            .param(Param::named_required("client_id", Type::Str))
            .param(text("client_secret"))
            .param(Param::named_required("username", Type::Str))
            .param(Param::named_required("password", Type::Str))
            .param(text("scope"))
            .param(text("audience"))
            .param(text("realm"))
            .param(text("authenticator_id"))
            .param(text("mfa_url"))
            .param(issuer())
            .param(Param::free_named("kwargs"))
            .returns(Type::Dict)
            .tags(&["oauth", "otp", "returns-secret"])
            .doc(
                "Logs in with a password and answers the MFA challenge with this namespace's \
TOTP secret: Auth0's resource-owner password flow with MFA, unattended.

The password grant answers ``mfa_required``; the keyword lists the user's \
authenticators (``mfa_url``, default ``/mfa/`` beside ``token_url``), picks \
``authenticator_id`` or the first active OTP one, starts an OTP challenge and \
sends the current code (grant ``http://auth0.com/oauth/grant-type/mfa-otp``). \
A code already used by this namespace is never sent twice: a second login in \
the same period waits for the next code. ``realm`` selects the \
password-realm grant. Set the secret first with `Set Time Based OTP` or \
`Use MFA Secret From Vault`, else ``TOTPNotSetError``. A wrong code fails as \
the provider says: ``InvalidGrantError: (invalid_grant) Invalid otp_code.``

Example:
| `Use MFA Secret From Vault`    auth0    totp
| ${token} =    `Get OAuth Token With Password And MFA`    https://${tenant}.auth0.com/oauth/token
| ...    client_id=${id}    client_secret=${secret}    username=robot@example.com
| ...    password=${pw}    audience=https://api.example.com    scope=openid",
            )
            .handler(mfa::password_with_mfa),
        Keyword::new("Start OAuth Device Login")
            .param(endpoint("device_authorization_url"))
            .param(text("client_id"))
            .param(text("client_secret"))
            .param(text("scope"))
            .param(include_client_id(false))
            .param(issuer())
            .param(text("profile"))
            .param(Param::free_named("kwargs"))
            .returns(Type::Dict)
            .tags(&["oauth"])
            .doc(
                "Starts a device authorization (RFC 8628) and returns what a person needs \
to approve it: ``user_code``, ``verification_uri``, \
``verification_uri_complete`` (when the server sends it), ``expires_in`` and \
``interval``. The device code stays in this namespace's session for `Wait \
For OAuth Device Login`. ``client_id`` is required unless ``profile`` is given.

With ``profile=NAME`` (an auth profile with ``grant = \"device_code\"``) the \
profile's client, endpoints and scopes are used and the login belongs to the \
profile, not the namespace: once the person approved it, `Get Access Token` \
(on any server sharing the state store) finishes it and refreshes from then \
on; it never waits for the person itself.

Example:
| ${login} =    `Start OAuth Device Login`    profile=mailbox
| ${login} =    `Start OAuth Device Login`    issuer=${issuer}
| ...    client_id=${id}    client_secret=${secret}    scope=openid offline_access
| Log    Open ${login}[verification_uri] and enter ${login}[user_code]",
            )
            .handler(device::start_device_login),
        Keyword::new("Wait For OAuth Device Login")
            .param(endpoint("token_url"))
            .param(Param::named(
                "timeout",
                Type::optional(Type::Float),
                Value::None,
            ))
            .param(issuer())
            .returns(Type::Dict)
            .tags(&["oauth", "returns-secret"])
            .doc(
                "Waits until the device login started by `Start OAuth Device Login` is \
approved and returns the token dict.

Polls every ``interval`` seconds, 5 s slower after each ``slow_down``, until \
the device code expires (``ExpiredTokenError: (expired_token) ...``) or the \
user refuses (``AccessDeniedError: (access_denied) ...``). ``timeout`` limits \
the wait (``TimeoutError``; the login stays valid to wait again): 0 to the \
server's ``--max-wait`` (900 by default), which is also the limit when it is \
left out; anything else fails with ``ValueError: timeout must be between 0 \
and 900 seconds, got X``. ``timeout=0`` polls exactly once and fails with the server's answer, e.g. \
``AuthorizationPendingError: (authorization_pending) ...``.

Example:
| ${token} =    `Wait For OAuth Device Login`    timeout=300",
            )
            .handler(device::wait_device_login),
        Keyword::new("Get OpenID Configuration")
            .param(Param::required("issuer", Type::Str))
            .returns(Type::Dict)
            .tags(&["oauth", "openid"])
            .doc(
                "Returns the issuer's discovery document \
(``/.well-known/openid-configuration``), checked to name the same issuer.

Keywords that take ``issuer=`` use the same, cached, document.

Example:
| ${config} =    `Get OpenID Configuration`    https://accounts.google.com
| Log    ${config}[token_endpoint]",
            )
            .handler(tokens::openid_configuration),
        Keyword::new("Validate ID Token")
            .param(Param::optional(
                "id_token",
                Type::optional(Type::Str),
                Value::None,
            ))
            .param(issuer())
            .param(text("client_id"))
            .param(text("nonce"))
            .param(Param::named("leeway", Type::Float, Value::Float(60.0)))
            .param(text("at"))
            .param(text("jwks_url"))
            .returns(Type::Dict)
            .tags(&["oauth", "openid"])
            .doc(
                "Validates an OpenID Connect ID token and returns its claims.

Checks the signature against the issuer's published keys (``jwks_uri`` from \
discovery, or ``jwks_url``), then ``iss``, ``aud`` (and ``azp`` with several \
audiences), ``exp`` and ``iat`` with ``leeway`` seconds of clock difference \
(0 to 3600, default 60), and ``nonce``. Without ``id_token``, the namespace's last token is checked \
against the nonce its `Generate OAuth URL` sent; ``issuer`` and \
``client_id`` default to that flow's. ``at`` checks at another time (Unix \
seconds from 0 to 253402300799, or ISO 8601 up to year 9999). Failures read ``IdTokenError: ...`` and name the claim.

Example:
| ${claims} =    `Validate ID Token`    ${token}[id_token]
| ...    issuer=https://accounts.google.com    client_id=${id}
| Should Be Equal    ${claims}[email]    robot@example.com",
            )
            .handler(tokens::validate_id_token),
        Keyword::new("Introspect OAuth Token")
            .param(endpoint("introspection_url"))
            .param(text("token"))
            .param(text("client_id"))
            .param(text("client_secret"))
            .param(text("token_type_hint"))
            .param(include_client_id(false))
            .param(issuer())
            .returns(Type::Dict)
            .tags(&["oauth"])
            .doc(
                "Asks the server whether a token is active (RFC 7662) and returns its \
answer: ``active``, and for an active token ``scope``, ``client_id``, \
``exp``, ...

``token`` defaults to this namespace's last access token.

Example:
| ${info} =    `Introspect OAuth Token`    issuer=${issuer}
| ...    token=${token}[access_token]    client_id=${id}    client_secret=${secret}
| Should Be True    ${info}[active]",
            )
            .handler(|call| tokens::token_endpoint_call(call, false)),
        Keyword::new("Revoke OAuth Token")
            .param(endpoint("revocation_url"))
            .param(text("token"))
            .param(text("client_id"))
            .param(text("client_secret"))
            .param(text("token_type_hint"))
            .param(include_client_id(false))
            .param(issuer())
            .returns(Type::None)
            .tags(&["oauth"])
            .doc(
                "Revokes an access or refresh token (RFC 7009).

``token`` defaults to this namespace's last access token; \
``token_type_hint`` may be ``access_token`` or ``refresh_token``.

Example:
| `Revoke OAuth Token`    issuer=${issuer}    token=${token}[refresh_token]
| ...    token_type_hint=refresh_token    client_id=${id}    client_secret=${secret}",
            )
            .handler(|call| tokens::token_endpoint_call(call, true)),
    ]
}
