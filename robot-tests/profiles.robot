*** Settings ***
Documentation     Auth profiles end to end against the real oidc-provider: tokens
...               fetched only when needed and kept sealed in the state store,
...               private_key_jwt with keys from the vault, rotated refresh tokens
...               written back to the vault, a device login approved once, and the
...               profile's allow list. Token requests are counted by the provider.
...               The refresh token lives in the named vault ``tokens``, read and
...               written through Get Secret / Set Secret only: by default a file
...               vault; ``--variable TOKEN_VAULT_SPEC:vault+http://...`` (with
...               its token in the environment) runs the same tests on OpenBao.
...               Profile ``crm-bao`` keeps its refresh token in a real OpenBao
...               (vault ``bao``), read back from OpenBao itself.
Resource          resources/common.resource
Library           Collections
Library           OperatingSystem
Library           resources/Ops.py
Library           resources/OidcProvider.py
Library           resources/OAuthHttp.py
Library           resources/Profiles.py
Library           resources/Auth0Double.py
Library           resources/OpenBao.py
Suite Setup       Start Providers And Server
Suite Teardown    Stop Everything
Test Tags         oauth    profiles


*** Variables ***
${COPY_URL_CALLBACK}     http://127.0.0.1:1/callback
${API_KEY}               api-key-Zr4mQ8vTn2
# The vault the rotating refresh token lives in; empty: a file vault.
${TOKEN_VAULT_SPEC}      ${EMPTY}
# The root token of this suite's OpenBao (OpenBao.py lists it for the scan).
${BAO_TOKEN}             bao-root-Hq5Vn8Kx3Tm


*** Test Cases ***
A Token Is Fetched Once And Handed Out Until It Nears Expiry
    ${before}=    Token Requests Of Client    ${OIDC.basic_id}
    ${first}=    Get Access Token    cc
    ${again}=    Get Access Token    cc
    Should Be Equal    ${first}    ${again}
    ${after}=    Token Requests Of Client    ${OIDC.basic_id}
    Should Be Equal As Integers    ${after}    ${before + 1}
    # The provider knows it as a live token for its API.
    ${info}=    Introspect As Basic Client    ${first}
    Should Be True    ${info}[active]
    Should Be Equal    ${info}[client_id]    ${OIDC.basic_id}
    Remember Profile Secret    ${first}

Fifty Concurrent Callers Make One Token Request
    Invalidate Access Token    cc
    ${before}=    Token Requests Of Client    ${OIDC.basic_id}
    VAR    @{urls}    ${SERVER_URL}
    ${distinct}=    Get Access Tokens At Once    ${urls}    cc    calls=50
    ...    user=alice    password=${ALICE_PASSWORD}
    Should Be Equal As Integers    ${distinct}    1
    ${after}=    Token Requests Of Client    ${OIDC.basic_id}
    Should Be Equal As Integers    ${after}    ${before + 1}

Invalidate Forces A New Request
    ${old}=    Get Access Token    cc
    ${before}=    Token Requests Of Client    ${OIDC.basic_id}
    Invalidate Access Token    cc
    ${new}=    Get Access Token    cc
    Should Not Be Equal    ${new}    ${old}
    ${after}=    Token Requests Of Client    ${OIDC.basic_id}
    Should Be Equal As Integers    ${after}    ${before + 1}
    Remember Profile Secret    ${old}    ${new}

A Restarted Server Reuses The Cached Token Without A Request
    ${token}=    Get Access Token    cc
    ${before}=    Token Requests Of Client    ${OIDC.basic_id}
    Stop Rpa Mfa Server    alias=profiles
    Start The Server    alias=restarted
    ${after_restart}=    Get Access Token    cc
    Should Be Equal    ${after_restart}    ${token}
    ${after}=    Token Requests Of Client    ${OIDC.basic_id}
    Should Be Equal As Integers    ${after}    ${before}

Private Key JWT Logs In With An RSA And An EC Key From The Vault
    ${before}=    Token Requests Of Client    rpa-jwt
    ${rsa}=    Get Access Token    jwt-rsa
    ${ec}=    Get Access Token    jwt-ec
    Should Not Be Equal    ${rsa}    ${ec}
    ${after}=    Token Requests Of Client    rpa-jwt
    Should Be Equal As Integers    ${after}    ${before + 2}
    ${info}=    Introspect As Basic Client    ${ec}
    Should Be True    ${info}[active]
    Should Be Equal    ${info}[client_id]    rpa-jwt
    Remember Profile Secret    ${rsa}    ${ec}

Authorization Headers Call An API As RequestsLibrary Would
    ${headers}=    Get Authorization Headers    crm
    Should Be Equal    ${headers}[X-Api-Key]    ${API_KEY}
    Should Start With    ${headers}[Authorization]    Bearer${SPACE}
    ${status}    ${body}=    Http Get With Headers    ${OIDC.issuer}/me    ${headers}
    Should Be Equal As Integers    ${status}    200
    Should Be Equal    ${body}[sub]    robot

A Rotated Refresh Token Is Written Back To The Vault
    Rotated Refresh Tokens Are Written Back    crm    Refresh Token In The Vault

A Rotated Refresh Token Is Found In OpenBao Afterwards
    Rotated Refresh Tokens Are Written Back    crm-bao    Refresh Token In OpenBao

A Device Login Is Approved Once, Then Refreshed When The Token Expires
    Run Keyword And Expect Error    OAuth2NotSetError: Profile 'device' has no valid grant*
    ...    Get Access Token    device
    ${login}=    Start OAuth Device Login    profile=device
    # Never waits for the person: it says where to go.
    Run Keyword And Expect Error
    ...    AuthorizationPendingError: (authorization_pending) The device login of profile 'device' is not approved yet: open ${login}[verification_uri] and enter the code ${login}[user_code].
    ...    Get Access Token    device
    Approve Device Login    ${login}[verification_uri_complete]
    ${first}=    Get Access Token    device
    ${before}=    Token Requests Of Client    ${SHORT.basic_id}    alias=short
    # The short provider's tokens live 3 s and the profile's gap is 1 s.
    Sleep    2.5 s    reason=the access token nears its expiry
    ${second}=    Get Access Token    device
    Should Not Be Equal    ${second}    ${first}
    ${after}=    Token Requests Of Client    ${SHORT.basic_id}    alias=short
    Should Be Equal As Integers    ${after}    ${before + 1}
    Remember Profile Secret    ${first}    ${second}

A Password Profile Logs In With The User's Credentials From The Vault
    [Documentation]    oidc-provider has no password grant: the Auth0 double does.
    ${first}=    Get Access Token    password
    ${again}=    Get Access Token    password
    Should Be Equal    ${first}    ${again}
    Run Keyword And Expect Error    InvalidGrantError: (invalid_grant) Wrong email or password.
    ...    Get Access Token    wrong-password
    Remember Profile Secret    ${first}

A Provider's Refusal Is Named Without The Secret And Shared By Concurrent Callers
    Run Keyword And Expect Error    InvalidClientError: (invalid_client) *
    ...    Get Access Token    wrong-secret
    # The refusal is the answer for a few seconds: twenty robots asking at
    # once get it from one request. Invalidate lets the next call try again.
    Invalidate Access Token    wrong-secret
    ${before}=    Token Requests Of Client    ${OIDC.basic_id}
    VAR    @{urls}    ${SERVER_URL}
    ${errors}=    Get Access Token Failures At Once    ${urls}    wrong-secret    calls=20
    ...    user=alice    password=${ALICE_PASSWORD}
    Length Should Be    ${errors}    1
    Should Start With    ${errors}[0]    InvalidClientError: (invalid_client)
    ${after}=    Token Requests Of Client    ${OIDC.basic_id}
    Should Be Equal As Integers    ${after}    ${before + 1}
    Run Keyword And Expect Error    ValueError: No auth profile 'nope'; the server has: *
    ...    Get Access Token    nope

A Pinned User Is Refused A Profile Outside Its Allow List
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/bot-7    AS    Bot7
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use auth profile 'cc'.
    ...    Bot7.Get Access Token    cc
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use auth profile 'cc'.
    ...    Bot7.Invalidate Access Token    cc
    ${token}=    Bot7.Get Access Token    bots
    Should Not Be Empty    ${token}


Profiles Are Checked At Start-Up
    [Documentation]    A rotating refresh token in a read-only vault, an unknown
    ...    grant, a missing field, a bad reference and an unknown vault each stop
    ...    the server with a message naming the profile and what is wrong.
    Start Should Fail With Profile
    ...    grant = "refresh_token"\nissuer = "${OIDC.issuer}"\nclient_id = "c"\nrefresh_token = "crm:refresh"\nrotates_refresh_token = true
    ...    profile 'p': its provider rotates refresh tokens (rotates_refresh_token = true), but refresh_token 'crm:refresh' lives in the read-only vault env:
    ...    vault=env:
    Start Should Fail With Profile    grant = "implicit"\nissuer = "${OIDC.issuer}"\nclient_id = "c"
    ...    profile 'p': unknown grant 'implicit'; use client_credentials, refresh_token, password or device_code
    Start Should Fail With Profile    grant = "password"\nissuer = "${OIDC.issuer}"\nclient_id = "c"\nusername = "u:name"
    ...    profile 'p': grant password needs password (a vault reference NAME:KEY)
    Start Should Fail With Profile    grant = "client_credentials"\nissuer = "${OIDC.issuer}"\nclient_id = "c"\nclient_secret = "no-key"
    ...    profile 'p': client_secret: expected a secret reference NAME:KEY or VAULT/NAME:KEY (e.g. mfa:otpsecret), not 'no-key'
    Start Should Fail With Profile    grant = "client_credentials"\nissuer = "${OIDC.issuer}"\nclient_id = "c"\nclient_secret = "bao/oauth:basic"
    ...    profile 'p': client_secret 'bao/oauth:basic': VaultError: no vault named 'bao' is configured; add --vault bao=SPEC


*** Keywords ***
Start Providers And Server
    ${dir}=    New Temp Dir
    VAR    ${DIR}    ${dir}    scope=SUITE
    VAR    ${VAULT}    ${dir}/vault.json    scope=SUITE
    Write Vault File    ${VAULT}    rpa-users    alice=${ALICE_PASSWORD}    bot7=${BOT_PASSWORD}
    Write Vault File    ${VAULT}    api    key=${API_KEY}
    ${rsa}=    Write Client Key Pair    ${dir}    rsa-1    rsa    ${VAULT}    jwt    rsa
    ${ec}=    Write Client Key Pair    ${dir}    ec-1    ec    ${VAULT}    jwt    ec
    VAR    @{keys}    ${rsa}    ${ec}
    ${oidc}=    Start OIDC Provider    rotate_refresh_token=True    jwt_client_keys=${keys}
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    ${short}=    Start OIDC Provider    alias=short    access_token_ttl=3
    VAR    ${SHORT}    ${short}    scope=SUITE
    Write Vault File    ${VAULT}    oauth    basic=${OIDC.basic_secret}    wrong=not-the-secret-4711
    ${auth0}=    Start Auth0 Double    totp_secret=${EMPTY}
    VAR    ${AUTH0}    ${auth0}    scope=SUITE
    Write Vault File    ${VAULT}    auth0    user=${AUTH0.username}    password=${AUTH0.password}
    ...    client=${AUTH0.client_secret}    wrong=not-the-secret-4711
    ${bao}=    Start Openbao    ${BAO_TOKEN}
    VAR    ${BAO_SPEC}    vault+${bao}/secret    scope=SUITE
    Export Vault Token    ${BAO_TOKEN}
    Write Profiles Config
    Start The Server    alias=profiles
    Get A Refresh Token Into The Vault
    Get A Refresh Token Into The Vault    bao

Write Profiles Config
    # A named file vault must exist; Set Secret fills it.
    Create File    ${DIR}/tokens.json    {}
    ${spec}=    Set Variable If    $TOKEN_VAULT_SPEC    ${TOKEN_VAULT_SPEC}    file:${DIR}/tokens.json
    VAR    ${TOKEN_VAULT}    tokens\=${spec}    scope=SUITE
    ${config}=    Catenate    SEPARATOR=\n
    ...    [profiles.cc]
    ...    grant = "client_credentials"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "${OIDC.basic_id}"
    ...    client_secret = "oauth:basic"
    ...    scopes = ["api:read"]
    ...    allow = ["alice"]
    ...    ${EMPTY}
    ...    [profiles.bots]
    ...    grant = "client_credentials"
    ...    token_url = "${OIDC.issuer}/token"
    ...    client_id = "${OIDC.basic_id}"
    ...    client_secret = "oauth:basic"
    ...    client_auth = "client_secret_post"
    ...    scopes = ["api:write"]
    ...    allow = ["alice", "bot-7"]
    ...    ${EMPTY}
    ...    [profiles.wrong-secret]
    ...    grant = "client_credentials"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "${OIDC.basic_id}"
    ...    client_secret = "oauth:wrong"
    ...    ${EMPTY}
    ...    [profiles.jwt-rsa]
    ...    grant = "client_credentials"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "rpa-jwt"
    ...    private_key = "jwt:rsa"
    ...    key_id = "rsa-1"
    ...    scopes = ["api:read"]
    ...    ${EMPTY}
    ...    [profiles.jwt-ec]
    ...    grant = "client_credentials"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "rpa-jwt"
    ...    private_key = "jwt:ec"
    ...    key_id = "ec-1"
    ...    signing_alg = "ES256"
    ...    scopes = ["api:read"]
    ...    ${EMPTY}
    ...    [profiles.crm]
    ...    grant = "refresh_token"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "${OIDC.basic_id}"
    ...    client_secret = "oauth:basic"
    ...    refresh_token = "tokens/crm:refresh"
    ...    rotates_refresh_token = true
    ...    api_key = "api:key"
    ...    ${EMPTY}
    ...    [profiles.crm-bao]
    ...    grant = "refresh_token"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "${OIDC.basic_id}"
    ...    client_secret = "oauth:basic"
    ...    refresh_token = "bao/crm:refresh"
    ...    rotates_refresh_token = true
    ...    ${EMPTY}
    ...    [profiles.password]
    ...    grant = "password"
    ...    token_url = "${AUTH0.token_url}"
    ...    client_id = "${AUTH0.client_id}"
    ...    client_secret = "auth0:client"
    ...    client_auth = "client_secret_post"
    ...    username = "auth0:user"
    ...    password = "auth0:password"
    ...    audience = "https://api.example.test"
    ...    ${EMPTY}
    ...    [profiles.wrong-password]
    ...    grant = "password"
    ...    token_url = "${AUTH0.token_url}"
    ...    client_id = "${AUTH0.client_id}"
    ...    client_secret = "auth0:client"
    ...    username = "auth0:user"
    ...    password = "auth0:wrong"
    ...    ${EMPTY}
    ...    [profiles.device]
    ...    grant = "device_code"
    ...    issuer = "${SHORT.issuer}"
    ...    client_id = "${SHORT.basic_id}"
    ...    client_secret = "oauth:basic"
    ...    scopes = ["openid", "offline_access"]
    ...    expiry_gap = 1
    Create File    ${DIR}/profiles.toml    ${config}

Start The Server
    [Arguments]    ${alias}
    ${port}=    Start Rpa Mfa Server    --config    ${DIR}/profiles.toml    --vault    file:${VAULT}
    ...    --vault    ${TOKEN_VAULT}    --vault    bao\=${BAO_SPEC}
    ...    --state    sqlite:${DIR}/state.db    --users-secret    rpa-users    --pin    bot7\=bot-7
    ...    alias=${alias}
    VAR    ${PORT}    ${port}    scope=SUITE
    VAR    ${SERVER_URL}    http://127.0.0.1:${port}/RPC2    scope=SUITE
    # Keywords without a prefix go to this server, as alice.
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    ${alias}
    Set Library Search Order    ${alias}

Get A Refresh Token Into The Vault
    [Documentation]    One authorization-code login (the provider's login
    ...    completes on its own) gives the refresh token a profile starts from,
    ...    secret ``crm`` of vault ``${vault}``.
    [Arguments]    ${vault}=tokens
    ${url}=    Generate OAuth URL    ${OIDC.issuer}/auth    client_id=${OIDC.basic_id}
    ...    redirect_uri=${COPY_URL_CALLBACK}    scope=openid offline_access    prompt=consent
    ${response}=    Follow Login Redirects    ${url}
    ${token}=    Get OAuth Token    ${OIDC.issuer}/token    client_secret=${OIDC.basic_secret}
    ...    response_url=${response}
    VAR    &{values}    refresh=${token}[refresh_token]
    Set Secret    crm    ${values}    vault=${vault}
    Remember Profile Secret    ${token}[access_token]    ${token}[refresh_token]

Rotated Refresh Tokens Are Written Back
    [Documentation]    Profile ``${profile}`` refreshes twice; each time the provider
    ...    rotates the refresh token, and ``${read}`` finds the new one in the vault.
    [Arguments]    ${profile}    ${read}
    ${r0}=    Run Keyword    ${read}
    Invalidate Access Token    ${profile}
    ${first}=    Get Access Token    ${profile}
    ${r1}=    Run Keyword    ${read}
    Should Not Be Equal    ${r1}    ${r0}
    # The next refresh starts from the rotated one and rotates again.
    Invalidate Access Token    ${profile}
    ${second}=    Get Access Token    ${profile}
    Should Not Be Equal    ${second}    ${first}
    ${r2}=    Run Keyword    ${read}
    Should Not Be Equal    ${r2}    ${r1}
    # The provider retired the first one: it was really rotated. (Reusing
    # it makes oidc-provider revoke the whole grant, so this comes last.)
    Run Keyword And Expect Error    InvalidGrantError: (invalid_grant) *
    ...    Refresh OAuth Token    ${OIDC.issuer}/token    client_id=${OIDC.basic_id}
    ...    client_secret=${OIDC.basic_secret}    refresh_token=${r0}    include_client_id=False
    Remember Profile Secret    ${first}    ${second}

Refresh Token In The Vault
    [Documentation]    Profile ``crm``'s refresh token as the ``tokens`` vault holds it.
    ${secret}=    Get Secret    crm    vault=tokens
    Remember Profile Secret    ${secret}[refresh]
    RETURN    ${secret}[refresh]

Refresh Token In OpenBao
    [Documentation]    Profile ``crm-bao``'s refresh token as OpenBao itself holds it.
    ${refresh}=    Openbao Secret Value    crm    refresh
    Remember Profile Secret    ${refresh}
    RETURN    ${refresh}

Introspect As Basic Client
    [Arguments]    ${token}
    ${info}=    Introspect OAuth Token    ${OIDC.issuer}/token/introspection
    ...    token=${token}    client_id=${OIDC.basic_id}    client_secret=${OIDC.basic_secret}
    RETURN    ${info}

Start Should Fail With Profile
    [Arguments]    ${body}    ${expected}    ${vault}=file:${VAULT}
    ${text}=    Evaluate    "[profiles.p]\\n" + $body.replace("\\\\n", "\\n")
    Create File    ${DIR}/bad.toml    ${text}
    Rpa Mfa Server Should Fail To Start    --config    ${DIR}/bad.toml    --vault    ${vault}
    ...    --state    memory:    expected_error=${expected}

Stop Everything
    Run Keyword And Ignore Error    Save Metrics    http://127.0.0.1:${PORT}/metrics
    ...    ${OUTPUT DIR}/metrics-profiles.txt    user=alice    password=${ALICE_PASSWORD}
    Stop All Rpa Mfa Servers
    Stop All OIDC Providers
    Stop All Auth0 Doubles
    Stop All Openbao Servers
    Remove Vault Token
    Remove Directory    ${DIR}    recursive=True
