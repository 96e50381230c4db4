*** Settings ***
Documentation     The examples for outside identity providers (Google, Microsoft
...               Entra ID, Auth0) in docs/oauth.md, which the README links, step
...               for step against the local peers: the real oidc-provider and
...               the Auth0 double. Each example names its twin here; the README
...               doc-test (scripts/readme-doctest.py) checks the README's own
...               skipped examples name twins that exist.
Library           Collections
Library           OperatingSystem
Library           resources/OidcProvider.py
Library           resources/Auth0Double.py
Library           resources/OAuthFlow.py
Resource          resources/common.resource
Suite Setup       Start Peers And Server
Suite Teardown    Run Keywords    Stop All OIDC Providers    AND    Stop All Auth0 Doubles
...               AND    Stop All Rpa Mfa Servers    AND    Remove Directory    ${VAULT_DIR}    recursive=True
Test Tags         readme


*** Test Cases ***
Google Login Through The Server's Callback
    [Documentation]    docs/oauth.md "A robot logs in with Google": the redirect lands on
    ...    the server's own callback; a browser (here oidc-provider's login,
    ...    completed by Follow Login Redirects) stands in for ``New Page``.
    ${callback}=    Get OAuth Callback URL
    ${url}=    Generate OAuth URL    issuer=${OIDC.issuer}
    ...    client_id=${OIDC.basic_id}    redirect_uri=${callback}
    ...    scope=openid email offline_access
    ...    prompt=consent
    Follow Login Redirects    ${url}    deliver=True
    ${token}=    Get OAuth Token    client_secret=${OIDC.basic_secret}    timeout=300
    ${claims}=    Validate ID Token
    Log    Logged in as ${claims}[email]
    Should Be Equal    ${claims}[email]    robot@example.test
    ${refreshed}=    Refresh OAuth Token    client_secret=${OIDC.basic_secret}
    Should Not Be Equal    ${refreshed}[access_token]    ${token}[access_token]

Device Login Then Client Credentials
    [Documentation]    docs/oauth.md "Microsoft Entra ID": a device login approved on
    ...    "another device" (the provider's own forms), then a token for the
    ...    app itself. The local clients are confidential, so they send a secret.
    ${login}=    Start OAuth Device Login    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}
    ...    client_secret=${OIDC.basic_secret}    scope=openid offline_access
    Log To Console    Open ${login}[verification_uri] and enter ${login}[user_code]
    Approve Device Login In The Background    ${login}[verification_uri_complete]
    ${token}=    Wait For OAuth Device Login    timeout=600
    Should Be Equal    ${token}[token_type]    Bearer
    ${app}=    Get OAuth Token With Client Credentials    issuer=${OIDC.issuer}
    ...    client_id=${OIDC.basic_id}    client_secret=${OIDC.basic_secret}
    ...    scope=api:read
    Should Be Equal    ${app}[scope]    ${{ ["api:read"] }}

Password And MFA Login
    [Documentation]    docs/oauth.md "Auth0": the vault's TOTP secret answers the MFA
    ...    challenge of a password login, with no person at all.
    Use MFA Secret From Vault    auth0    totp
    ${token}=    Get OAuth Token With Password And MFA    ${AUTH0.token_url}
    ...    client_id=${AUTH0.client_id}    client_secret=${AUTH0.client_secret}    username=${AUTH0.username}
    ...    password=${AUTH0.password}    audience=https://api.example.com    scope=openid
    Should Be Equal    ${token}[token_type]    Bearer


*** Keywords ***
Start Peers And Server
    ${oidc}=    Start OIDC Provider
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    ${auth0}=    Start Auth0 Double    totp_secret=${SECRET}
    VAR    ${AUTH0}    ${auth0}    scope=SUITE
    ${dir}=    Evaluate    tempfile.mkdtemp(prefix="readme-twins-")    modules=tempfile
    VAR    ${VAULT_DIR}    ${dir}    scope=SUITE
    Create File    ${dir}/secrets.json    {"auth0": {"totp": "${SECRET}"}}
    Start Server And Import It As MFA    --vault    file:${dir}/secrets.json
