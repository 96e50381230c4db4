*** Settings ***
Documentation     The OAuth2 / OpenID Connect keywords end to end against the real
...               oidc-provider, and Auth0's password-MFA flow against a double of
...               Auth0's documented API. Expected texts come from RPA.MFA
...               (requests-oauthlib), the RFCs and what the peers answer.
Library           Collections
Library           String
Library           resources/OidcProvider.py
Library           resources/Auth0Double.py
Library           resources/OAuthHttp.py
Library           resources/OAuthFlow.py
Resource          resources/common.resource
Suite Setup       Start Peers And Server
Suite Teardown    Run Keywords    Stop All OIDC Providers    AND    Stop All Auth0 Doubles
...               AND    Stop Rpa Mfa Server


*** Variables ***
# A redirect URI nobody listens on: the user copies the URL, as in RPA.MFA.
${COPY_URL_CALLBACK}    http://127.0.0.1:1/callback
${STATE_MISMATCH}       MismatchingStateError: (mismatching_state) CSRF Warning! State not equal in request and response.
${NOT_SET}              OAuth2NotSetError: OAuth2 session required but not initialized, please call the `Generate OAuth URL` keyword first.
${INSECURE}             InsecureTransportError: (insecure_transport) OAuth 2 MUST utilize https.
${OTHER_SECRET}         GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


*** Test Cases ***
RPA.MFA Flow: Generate, Get, Refresh With The Client Id In The Body
    [Documentation]    RPA.MFA's own sequence, with ``include_client_id=True`` for
    ...    the token and its default body authentication for the refresh.
    ${url}=    Generate OAuth URL    ${OIDC.issuer}/auth    client_id=${OIDC.post_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid offline_access    pkce=False
    ...    prompt=consent
    ${query}=    Query Parameters    ${url}
    Should Be Equal    ${query}[response_type]    code
    Should Be Equal    ${query}[client_id]    ${OIDC.post_id}
    Should Be Equal    ${query}[scope]    openid offline_access
    Should Be Equal    ${query}[prompt]    consent
    Length Should Be    ${query}[state]    30
    Dictionary Should Not Contain Key    ${query}    code_challenge
    ${response}=    Follow Login Redirects    ${url}
    ${token}=    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.post_secret}
    ...    response_url=${response}    include_client_id=True
    Should Be Equal    ${token}[token_type]    Bearer
    Should Be Equal    ${token}[scope]    ${{ ["openid", "offline_access"] }}
    Should Be True    abs(${token}[expires_at] - (time.time() + ${token}[expires_in])) < 60
    ...    expires_at is now + expires_in
    Dictionary Should Contain Key    ${token}    id_token
    ${refreshed}=    Refresh OAuth Token    ${OIDC.issuer}/token    client_id=${OIDC.post_id}
    ...    client_secret=${OIDC.post_secret}    refresh_token=${token}[refresh_token]
    Should Not Be Equal    ${refreshed}[access_token]    ${token}[access_token]
    Should Not Be Empty    ${refreshed}[refresh_token]
    ${info}=    Introspect OAuth Token    ${OIDC.issuer}/token/introspection
    ...    token=${refreshed}[access_token]    client_id=${OIDC.post_id}    client_secret=${OIDC.post_secret}
    ...    include_client_id=True
    Should Be True    ${info}[active]
    Should Be Equal    ${info}[sub]    robot

HTTP Basic Client Authentication And A Refresh From The Session
    ${url}=    Generate OAuth URL    ${OIDC.issuer}/auth    client_id=${OIDC.basic_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid offline_access    prompt=consent
    ${response}=    Follow Login Redirects    ${url}
    ${token}=    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}
    ...    response_url=${response}
    # client_id and refresh_token come from the session of the flow above.
    ${refreshed}=    Refresh OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}
    ...    include_client_id=False
    Should Not Be Equal    ${refreshed}[access_token]    ${token}[access_token]
    ${err}=    Run Keyword And Expect Error    *    Refresh OAuth Token    ${OIDC.issuer}/token
    ...    client_secret=${OIDC.basic_secret}
    Should Be Equal    ${err}    InvalidClientError: (invalid_client) client authentication failed
    ...    RPA.MFA's body authentication is refused by a client registered for Basic

Authorization Code With PKCE Through The Loopback Callback
    ${callback}=    Get OAuth Callback URL
    Should Be Equal    ${callback}    ${BASE}/oauth/callback
    ${url}=    Generate OAuth URL    issuer=${OIDC.issuer}    client_id=${OIDC.pkce_id}
    ...    redirect_uri=${callback}    scope=openid email
    Should Start With    ${url}    ${OIDC.issuer}/auth?
    ${query}=    Query Parameters    ${url}
    Should Be Equal    ${query}[code_challenge_method]    S256
    Length Should Be    ${query}[code_challenge]    43
    Dictionary Should Contain Key    ${query}    nonce
    Follow Login Redirects    ${url}    deliver=True
    # No response_url: the redirect already reached the server's callback.
    ${token}=    Get OAuth Token    client_secret=${OIDC.pkce_secret}    timeout=10
    ${claims}=    Validate ID Token
    Should Be Equal    ${claims}[sub]    robot
    Should Be Equal    ${claims}[aud]    ${OIDC.pkce_id}
    Should Be Equal    ${claims}[nonce]    ${query}[nonce]
    Should Be Equal    ${claims}[email]    robot@example.test

A Redirect Arriving After The Wait Started Is Picked Up
    ${callback}=    Get OAuth Callback URL
    ${url}=    Generate OAuth URL    issuer=${OIDC.issuer}    client_id=${OIDC.pkce_id}
    ...    redirect_uri=${callback}    scope=openid
    ${waiting}=    Wait For Callback In The Background
    Follow Login Redirects    ${url}    deliver=True
    ${response_url}=    Background Result    ${waiting}
    Should Start With    ${response_url}    ${callback}?code=
    ${token}=    Get OAuth Token    client_secret=${OIDC.pkce_secret}    response_url=${response_url}
    Should Be Equal    ${token}[token_type]    Bearer

Nothing Reaching The Callback Times Out
    ${url}=    Generate OAuth URL    issuer=${OIDC.issuer}    client_id=${OIDC.pkce_id}
    ...    redirect_uri=${BASE}/oauth/callback    scope=openid
    Run Keyword And Expect Error
    ...    TimeoutError: No redirect reached ${BASE}/oauth/callback within 0.2 s. Open the authorization URL in a browser, or pass response_url.
    ...    Get OAuth Token    client_secret=${OIDC.pkce_secret}    timeout=0.2
    ${status}=    Open Callback    ${BASE}/oauth/callback?code=x&state=not-ours
    Should Be Equal As Integers    ${status}    400    a stranger's redirect is refused

A Client That Requires PKCE Refuses A Flow Without It
    ${url}=    Generate OAuth URL    issuer=${OIDC.issuer}    client_id=${OIDC.pkce_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid    pkce=False
    ${response}=    Follow Login Redirects    ${url}
    Run Keyword And Expect Error    InvalidClientIdError: (invalid_request) Authorization Server policy requires PKCE to be used for this request
    ...    Get OAuth Token    client_secret=${OIDC.pkce_secret}    response_url=${response}

A Response With Another State Is Refused
    ${url}=    Generate OAuth URL    ${OIDC.issuer}/auth    client_id=${OIDC.basic_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid
    ${response}=    Follow Login Redirects    ${url}
    ${forged}=    Replace String Using Regexp    ${response}    state=[^&]+    state=forged
    Run Keyword And Expect Error    ${STATE_MISMATCH}
    ...    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}    response_url=${forged}

A Refused Login Fails With access_denied
    ${url}=    Generate OAuth URL    ${OIDC.issuer}/auth    client_id=${OIDC.basic_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid    login_hint=${OIDC.deny_login_hint}
    ${response}=    Follow Login Redirects    ${url}
    Run Keyword And Expect Error    AccessDeniedError: (access_denied) *
    ...    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}    response_url=${response}

A Wrong Client Secret Fails With invalid_client And Is Not Shown
    ${url}=    Generate OAuth URL    ${OIDC.issuer}/auth    client_id=${OIDC.basic_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid
    ${response}=    Follow Login Redirects    ${url}
    ${err}=    Run Keyword And Expect Error    *
    ...    Get OAuth Token    ${OIDC.issuer}/token    client_secret=not-the-secret-4711    response_url=${response}
    Should Be Equal    ${err}    InvalidClientError: (invalid_client) client authentication failed
    Should Not Contain    ${err}    4711
    # The code was not spent: the right secret still gets a token.
    ${token}=    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}    response_url=${response}
    # A code works once (RFC 6749 4.1.2).
    Run Keyword And Expect Error    InvalidGrantError: (invalid_grant) grant request is invalid
    ...    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}    response_url=${response}

Token Keywords Without A Flow Say What Is Missing
    Import Library    Remote    ${BASE}/ns/fresh-oauth    AS    Fresh
    Run Keyword And Expect Error    ${NOT_SET}
    ...    Fresh.Get OAuth Token    ${OIDC.issuer}/token    client_secret=x    response_url=${COPY_URL_CALLBACK}?code=c
    Run Keyword And Expect Error
    ...    ValueError: refresh_token is required: no token with a refresh_token was received in this namespace.
    ...    Fresh.Refresh OAuth Token    ${OIDC.issuer}/token    client_id=${OIDC.basic_id}    client_secret=x
    Run Keyword And Expect Error    ValueError: Either token_url or issuer is required.
    ...    Fresh.Get OAuth Token With Client Credentials    client_id=x
    Run Keyword And Expect Error    OAuth2NotSetError: No device login in progress, please call the `Start OAuth Device Login` keyword first.
    ...    Fresh.Wait For OAuth Device Login    ${OIDC.issuer}/token

Plain HTTP Is Refused Except On Loopback
    Run Keyword And Expect Error    ${INSECURE}
    ...    Generate OAuth URL    http://idp.example.com/auth    client_id=x    redirect_uri=${COPY_URL_CALLBACK}    scope=openid
    Run Keyword And Expect Error    ${INSECURE}
    ...    Get OAuth Token With Client Credentials    http://idp.example.com/token    client_id=x    client_secret=y
    Run Keyword And Expect Error    ValueError: token_url is not an http(s) URL: 'ftp://idp.example.com/token'
    ...    Get OAuth Token With Client Credentials    ftp://idp.example.com/token?secret\=no    client_id=x

Network Failures Are Named
    ${port}=    Free Port
    Run Keyword And Expect Error    ConnectionError: http://127.0.0.1:${port}/token: cannot connect: *
    ...    Get OAuth Token With Client Credentials    http://127.0.0.1:${port}/token    client_id=x    client_secret=y
    # rpa-mfa's own XML-RPC endpoint is a real server that answers XML, not JSON.
    Run Keyword And Expect Error    OAuth2Error: ${BASE}/ answered HTTP 200 with text/xml, not JSON
    ...    Get OAuth Token With Client Credentials    ${BASE}/    client_id=x    client_secret=y
    # TLS spoken to a plain-HTTP port.
    ${host_port}=    Remove String    ${OIDC.issuer}    http://
    Run Keyword And Expect Error    SSLError: https://${host_port}/token: TLS failed: *
    ...    Get OAuth Token With Client Credentials    https://${host_port}/token    client_id=x    client_secret=y

A Server That Never Answers Times Out; The Server May Allow Plain HTTP
    ${port}=    Start Rpa Mfa Server    --oauth-timeout    1    --oauth-insecure-transport    alias=quick
    Import Library    Remote    http://127.0.0.1:${port}    AS    Quick
    ${url}=    Quick.Generate OAuth URL    http://idp.example.com/auth    client_id=x
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid
    Should Start With    ${url}    http://idp.example.com/auth?response_type=code&client_id=x&
    ${silent}=    Silent Port
    Run Keyword And Expect Error    TimeoutError: http://127.0.0.1:${silent}/token did not answer within 1 s
    ...    Quick.Get OAuth Token With Client Credentials    http://127.0.0.1:${silent}/token    client_id=x    client_secret=y
    [Teardown]    Stop Rpa Mfa Server    quick

Client Credentials, Introspection And Revocation
    ${token}=    Get OAuth Token With Client Credentials    issuer=${OIDC.issuer}
    ...    client_id=${OIDC.post_id}    client_secret=${OIDC.post_secret}    scope=api:read    include_client_id=True
    Should Be Equal    ${token}[scope]    ${{ ["api:read"] }}
    Should Be Equal    ${token}[token_type]    Bearer
    ${info}=    Introspect OAuth Token    issuer=${OIDC.issuer}    client_secret=${OIDC.post_secret}
    ...    include_client_id=True
    Should Be True    ${info}[active]
    Should Be Equal    ${info}[client_id]    ${OIDC.post_id}
    Should Be Equal    ${info}[aud]    ${OIDC.api_resource}
    Revoke OAuth Token    issuer=${OIDC.issuer}    client_secret=${OIDC.post_secret}    include_client_id=True
    ${info}=    Introspect OAuth Token    issuer=${OIDC.issuer}    token=${token}[access_token]
    ...    client_id=${OIDC.post_id}    client_secret=${OIDC.post_secret}    include_client_id=True
    Should Not Be True    ${info}[active]    a revoked token is inactive (RFC 7009 2.2)
    Run Keyword And Expect Error    InvalidClientError: (invalid_client) client authentication failed
    ...    Get OAuth Token With Client Credentials    issuer=${OIDC.issuer}
    ...    client_id=${OIDC.post_id}    client_secret=wrong    include_client_id=True

Discovery Names The Endpoints
    ${config}=    Get OpenID Configuration    ${OIDC.issuer}
    Should Be Equal    ${config}[issuer]    ${OIDC.issuer}
    Should Be Equal    ${config}[token_endpoint]    ${OIDC.issuer}/token
    Run Keyword And Expect Error    OAuth2Error: ${BASE}/.well-known/openid-configuration answered HTTP 404 without a discovery document
    ...    Get OpenID Configuration    ${BASE}

Device Login: Pending, Slow Down, Approved
    ${login}=    Start OAuth Device Login    issuer=${SLOW.issuer}    client_id=${SLOW.basic_id}
    ...    client_secret=${SLOW.basic_secret}    scope=openid offline_access
    Should Be Equal As Integers    ${login}[interval]    30
    Should Start With    ${login}[verification_uri_complete]    ${SLOW.issuer}/device?user_code=
    Run Keyword And Expect Error    AuthorizationPendingError: (authorization_pending) *
    ...    Wait For OAuth Device Login    timeout=0
    Run Keyword And Expect Error    SlowDownError: (slow_down) *
    ...    Wait For OAuth Device Login    timeout=0
    Run Keyword And Expect Error    TimeoutError: The device login was not approved within 1 s; it stays valid until it expires.
    ...    Wait For OAuth Device Login    timeout=1
    Approve Device Login    ${login}[verification_uri_complete]
    # After slow_down the next poll is due 35 s after the last; polling once is allowed.
    ${token}=    Wait For OAuth Device Login    timeout=0
    Should Be Equal    ${token}[scope]    ${{ ["openid", "offline_access"] }}
    ${claims}=    Validate ID Token
    Should Be Equal    ${claims}[sub]    robot

Device Login Waits For The Approval
    ${login}=    Start OAuth Device Login    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}
    ...    client_secret=${OIDC.basic_secret}    scope=openid
    Approve Device Login In The Background    ${login}[verification_uri_complete]
    ${token}=    Wait For OAuth Device Login    timeout=60
    Should Be Equal    ${token}[token_type]    Bearer

A Denied Device Login Fails With access_denied
    ${login}=    Start OAuth Device Login    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}
    ...    client_secret=${OIDC.basic_secret}    scope=openid
    Deny Device Login    ${login}[verification_uri]    user_code=${login}[user_code]
    Run Keyword And Expect Error    AccessDeniedError: (access_denied) *
    ...    Wait For OAuth Device Login    timeout=30

An Expired Device Code Fails With expired_token
    ${login}=    Start OAuth Device Login    issuer=${SHORT.issuer}    client_id=${SHORT.basic_id}
    ...    client_secret=${SHORT.basic_secret}    scope=openid
    Should Be Equal As Integers    ${login}[expires_in]    2
    Run Keyword And Expect Error    ExpiredTokenError: (expired_token) *
    ...    Wait For OAuth Device Login    timeout=30

ID Tokens Are Checked: Signature, Expiry, Audience, Nonce
    ${now}=    Evaluate    int(time.time())
    ${claims}=    Create Dictionary    iss=${OIDC.issuer}    sub=robot    aud=${OIDC.basic_id}
    ...    iat=${now}    exp=${{ ${now} + 300 }}    nonce=n-1
    ${token}=    Sign Test ID Token    ${claims}
    ${checked}=    Validate ID Token    ${token}    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}    nonce=n-1
    Should Be Equal    ${checked}[sub]    robot
    ${tampered}=    Tamper With Payload    ${token}    sub=admin
    Run Keyword And Expect Error    IdTokenError: The ID token's signature does not verify against the issuer's keys.
    ...    Validate ID Token    ${tampered}    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}
    Run Keyword And Expect Error    IdTokenError: The ID token expired at ${{ ${now} + 300 }}*
    ...    Validate ID Token    ${token}    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}    at=${{ ${now} + 361 }}
    ${checked}=    Validate ID Token    ${token}    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}    at=${{ ${now} + 359 }}
    Should Be Equal    ${checked}[sub]    robot    within the 60 s leeway
    Run Keyword And Expect Error    IdTokenError: The ID token is for audience '${OIDC.basic_id}', not client 'someone-else'.
    ...    Validate ID Token    ${token}    issuer=${OIDC.issuer}    client_id=someone-else
    Run Keyword And Expect Error    IdTokenError: The ID token's nonce does not match the one sent in the authorization request.
    ...    Validate ID Token    ${token}    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}    nonce=n-2
    Run Keyword And Expect Error    IdTokenError: The ID token is not a signed JWT (three base64url parts).
    ...    Validate ID Token    not-a-jwt    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}
    ${expired}=    Sign Test ID Token    ${{ dict($claims, exp=${now} - 120) }}
    Run Keyword And Expect Error    IdTokenError: The ID token expired at*
    ...    Validate ID Token    ${expired}    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}

Password And MFA Against Auth0's API, Unattended
    Set Time Based OTP    ${SECRET}
    ${token}=    Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    ...    username=${AUTH0.username}    password=${AUTH0.password}    scope=openid
    Should Be Equal    ${token}[token_type]    Bearer
    Should Not Be Empty    ${token}[access_token]
    # The double takes each code once; the second login must wait for the next code.
    ${again}=    Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    ...    username=${AUTH0.username}    password=${AUTH0.password}
    Should Not Be Equal    ${again}[access_token]    ${token}[access_token]

Password And MFA Failures Read As Auth0 Says
    Set Time Based OTP    ${OTHER_SECRET}
    Run Keyword And Expect Error    InvalidGrantError: (invalid_grant) Invalid otp_code.
    ...    Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    ...    username=${AUTH0.username}    password=${AUTH0.password}
    Run Keyword And Expect Error    InvalidGrantError: (invalid_grant) Wrong email or password.
    ...    Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    ...    username=${AUTH0.username}    password=wrong
    Run Keyword And Expect Error    AccessDeniedError: (access_denied) Unauthorized
    ...    Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=wrong
    ...    username=${AUTH0.username}    password=${AUTH0.password}
    Import Library    Remote    ${BASE}/ns/no-totp    AS    NoTotp
    Run Keyword And Expect Error    ${TOTP_NOT_SET}
    ...    NoTotp.Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    ...    username=${AUTH0.username}    password=${AUTH0.password}

Password Grant Without MFA
    ${token}=    Get OAuth Token With Password    ${NOMFA.token_url}
    ...    client_id=${NOMFA.client_id}    client_secret=${NOMFA.client_secret}
    ...    username=${NOMFA.username}    password=${NOMFA.password}    include_client_id=True
    Should Be Equal    ${token}[token_type]    Bearer


*** Keywords ***
Start Peers And Server
    # Each client held to its registered authentication, so include_client_id matters.
    ${oidc}=    Start OIDC Provider    strict_client_auth=True
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    # A long polling interval, so two quick polls get slow_down.
    ${slow}=    Start OIDC Provider    alias=slow    device_interval=30
    VAR    ${SLOW}    ${slow}    scope=SUITE
    ${short}=    Start OIDC Provider    alias=short    device_code_ttl=2
    VAR    ${SHORT}    ${short}    scope=SUITE
    ${auth0}=    Start Auth0 Double    totp_secret=${SECRET}
    VAR    ${AUTH0}    ${auth0}    scope=SUITE
    ${nomfa}=    Start Auth0 Double    totp_secret=${EMPTY}    alias=nomfa
    VAR    ${NOMFA}    ${nomfa}    scope=SUITE
    Start Server And Import It As MFA
