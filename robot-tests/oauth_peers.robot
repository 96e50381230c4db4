*** Settings ***
Documentation     The OAuth peers work on their own, without rpa-mfa: the real
...               oidc-provider (code flow with PKCE, client credentials, device
...               flow, access_denied) and the Auth0 password-MFA double.
...               Scaffolding for the OAuth suites; expected values come from the
...               RFCs, pyotp and the peers' documentation.
Library           Collections
Library           resources/OidcProvider.py
Library           resources/Auth0Double.py
Library           resources/OAuthHttp.py
Resource          resources/common.resource
Suite Setup       Start Peers
Suite Teardown    Run Keywords    Stop All OIDC Providers    AND    Stop All Auth0 Doubles


*** Variables ***
${CALLBACK}       http://127.0.0.1:1/callback
${DEVICE_GRANT}   urn:ietf:params:oauth:grant-type:device_code
${MFA_OTP_GRANT}  http://auth0.com/oauth/grant-type/mfa-otp


*** Test Cases ***
Discovery Names The Issuer, Endpoints And An RS256 Key
    ${config}=    Get OIDC Discovery
    Should Be Equal    ${config}[issuer]    ${OIDC.issuer}
    Should Be Equal    ${config}[token_endpoint]    ${OIDC.issuer}/token
    Should Be Equal    ${config}[device_authorization_endpoint]    ${OIDC.issuer}/device/auth
    List Should Contain Value    ${config}[code_challenge_methods_supported]    S256
    ${jwks}=    Get OIDC JWKS
    Should Be Equal    ${jwks}[keys][0][alg]    RS256

Authorization Code With PKCE Gives Tokens And A Refresh Token
    ${verifier}    ${challenge}=    Make PKCE Pair
    ${url}=    Build URL    ${OIDC.issuer}/auth    response_type=code    client_id=${OIDC.pkce_id}
    ...    redirect_uri=${CALLBACK}    scope=openid email offline_access    state=s-123
    ...    nonce=n-456    prompt=consent    code_challenge=${challenge}    code_challenge_method=S256
    ${redirect}=    Follow Login Redirects    ${url}
    Should Start With    ${redirect}    ${CALLBACK}?
    ${params}=    Query Parameters    ${redirect}
    Should Be Equal    ${params}[state]    s-123
    Should Be Equal    ${params}[iss]    ${OIDC.issuer}
    ${status}    ${wrong}=    Post Form    ${OIDC.issuer}/token    ${OIDC.pkce_id}    ${OIDC.pkce_secret}
    ...    grant_type=authorization_code    code=${params}[code]    redirect_uri=${CALLBACK}
    ...    code_verifier=${verifier}x
    Should Be Equal As Integers    ${status}    400
    Should Be Equal    ${wrong}[error]    invalid_grant
    ${status}    ${tokens}=    Exchange Code    ${params}[code]    ${verifier}
    Should Be Equal As Integers    ${status}    200    a wrong verifier does not use up the code
    Should Be Equal    ${tokens}[token_type]    Bearer
    ${claims}=    JWT Claims    ${tokens}[id_token]
    Should Be Equal    ${claims}[iss]    ${OIDC.issuer}
    Should Be Equal    ${claims}[aud]    ${OIDC.pkce_id}
    Should Be Equal    ${claims}[nonce]    n-456
    Should Be Equal    ${claims}[sub]    robot
    ${status}    ${refreshed}=    Post Form    ${OIDC.issuer}/token    ${OIDC.pkce_id}    ${OIDC.pkce_secret}
    ...    grant_type=refresh_token    refresh_token=${tokens}[refresh_token]
    Should Be Equal As Integers    ${status}    200
    Should Not Be Equal    ${refreshed}[access_token]    ${tokens}[access_token]
    ${status}    ${replayed}=    Exchange Code    ${params}[code]    ${verifier}
    Should Be Equal    ${replayed}[error]    invalid_grant    a code works once (RFC 6749 4.1.2)

Client Credentials With Client Secret Post Gives An API Token
    ${status}    ${tokens}=    Post Form    ${OIDC.issuer}/token    grant_type=client_credentials
    ...    scope=api:read    client_id=${OIDC.post_id}    client_secret=${OIDC.post_secret}
    Should Be Equal As Integers    ${status}    200
    Should Be Equal    ${tokens}[scope]    api:read
    ${status}    ${info}=    Post Form    ${OIDC.issuer}/token/introspection
    ...    token=${tokens}[access_token]    client_id=${OIDC.post_id}    client_secret=${OIDC.post_secret}
    Should Be True    ${info}[active]
    Should Be Equal    ${info}[aud]    ${OIDC.api_resource}
    ${status}    ${refused}=    Post Form    ${OIDC.issuer}/token    ${OIDC.post_id}    ${OIDC.post_secret}
    ...    grant_type=client_credentials
    Should Be Equal As Integers    ${status}    401    a client_secret_post client may not use Basic
    Should Be Equal    ${refused}[error]    invalid_client

Device Flow Is Pending, Slowed Down, Then Approved
    ${device}=    Start Device Login
    ${status}    ${poll}=    Poll Device Code    ${device}[device_code]
    Should Be Equal    ${poll}[error]    authorization_pending
    ${status}    ${poll}=    Poll Device Code    ${device}[device_code]
    Should Be Equal    ${poll}[error]    slow_down    polled again sooner than interval=${device}[interval]
    Approve Device Login    ${device}[verification_uri_complete]
    ${status}    ${tokens}=    Poll Device Code    ${device}[device_code]
    Should Be Equal As Integers    ${status}    200
    Should Be Equal    ${tokens}[scope]    openid offline_access
    Dictionary Should Contain Key    ${tokens}    refresh_token

Refused Logins End In access_denied
    ${url}=    Build URL    ${OIDC.issuer}/auth    response_type=code    client_id=${OIDC.basic_id}
    ...    redirect_uri=${CALLBACK}    scope=openid    state=s-789    login_hint=${OIDC.deny_login_hint}
    ${redirect}=    Follow Login Redirects    ${url}
    ${params}=    Query Parameters    ${redirect}
    Should Be Equal    ${params}[error]    access_denied
    Should Be Equal    ${params}[state]    s-789
    ${device}=    Start Device Login
    Deny Device Login    ${device}[verification_uri]    user_code=${device}[user_code]
    ${status}    ${poll}=    Poll Device Code    ${device}[device_code]
    Should Be Equal    ${poll}[error]    access_denied

Auth0 Double Logs In With Password And A pyotp Code Once
    ${status}    ${mfa}=    Post Form    ${AUTH0.token_url}    grant_type=password
    ...    username=${AUTH0.username}    password=${AUTH0.password}    scope=openid
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    Should Be Equal As Integers    ${status}    403
    Should Be Equal    ${mfa}[error]    mfa_required
    ${status}    ${authenticators}=    Get JSON    ${AUTH0.url}/mfa/authenticators    ${mfa}[mfa_token]
    ${otp}=    Evaluate    [a for a in $authenticators if a["authenticator_type"] == "otp"][0]
    ${status}    ${challenge}=    Post Form    ${AUTH0.url}/mfa/challenge    mfa_token=${mfa}[mfa_token]
    ...    challenge_type=otp    authenticator_id=${otp}[id]
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    Should Be Equal    ${challenge}[challenge_type]    otp
    ${wrong}=    Wrong TOTP    ${SECRET}
    ${status}    ${refused}=    Answer MFA    ${mfa}[mfa_token]    ${wrong}
    Should Be Equal    ${refused}    ${{ {"error": "invalid_grant", "error_description": "Invalid otp_code."} }}
    ${code}=    Current TOTP    ${SECRET}
    ${status}    ${tokens}=    Answer MFA    ${mfa}[mfa_token]    ${code}
    Should Be Equal As Integers    ${status}    200
    Should Be Equal    ${tokens}[token_type]    Bearer
    ${status}    ${again}=    Post Form    ${AUTH0.token_url}    grant_type=password
    ...    username=${AUTH0.username}    password=${AUTH0.password}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    ${status}    ${replayed}=    Answer MFA    ${again}[mfa_token]    ${code}
    Should Be Equal    ${replayed}[error_description]    Invalid otp_code.


*** Keywords ***
Start Peers
    # A long polling interval, so two quick polls always get slow_down.
    ${oidc}=    Start OIDC Provider    device_interval=30    strict_client_auth=True
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    ${auth0}=    Start Auth0 Double    totp_secret=${SECRET}
    VAR    ${AUTH0}    ${auth0}    scope=SUITE

Exchange Code
    [Arguments]    ${code}    ${verifier}
    ${status}    ${tokens}=    Post Form    ${OIDC.issuer}/token    ${OIDC.pkce_id}    ${OIDC.pkce_secret}
    ...    grant_type=authorization_code    code=${code}    redirect_uri=${CALLBACK}
    ...    code_verifier=${verifier}
    RETURN    ${status}    ${tokens}

Start Device Login
    ${status}    ${device}=    Post Form    ${OIDC.issuer}/device/auth    ${OIDC.basic_id}    ${OIDC.basic_secret}
    ...    scope=openid offline_access
    Should Be Equal As Integers    ${status}    200
    RETURN    ${device}

Poll Device Code
    [Arguments]    ${device_code}
    ${status}    ${answer}=    Post Form    ${OIDC.issuer}/token    ${OIDC.basic_id}    ${OIDC.basic_secret}
    ...    grant_type=${DEVICE_GRANT}    device_code=${device_code}
    RETURN    ${status}    ${answer}

Answer MFA
    [Arguments]    ${mfa_token}    ${otp}
    ${status}    ${answer}=    Post Form    ${AUTH0.token_url}    grant_type=${MFA_OTP_GRANT}
    ...    mfa_token=${mfa_token}    otp=${otp}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}
    RETURN    ${status}    ${answer}
