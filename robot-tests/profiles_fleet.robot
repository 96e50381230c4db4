*** Settings ***
Documentation     Auth profiles across a fleet: three rpa-mfa servers sharing one
...               real Redis (RedisServers.py) and the real oidc-provider. Fifty
...               robots asking the three servers at once for one profile's token
...               make exactly one token request, counted by the provider; the
...               token is then handed out by every server from the store.
Resource          resources/fleet.resource
Library           resources/OidcProvider.py
Library           resources/Profiles.py
Suite Setup       Start A Profile Fleet
Suite Teardown    Stop The Profile Fleet
Test Tags         fleet    redis    oauth    profiles


*** Test Cases ***
Fifty Callers On Three Servers Make One Token Request
    ${before}=    Token Requests Of Client    ${OIDC.post_id}
    VAR    @{urls}    ${A}/RPC2    ${B}/RPC2    ${C}/RPC2
    ${distinct}=    Get Access Tokens At Once    ${urls}    fleet    calls=50
    Should Be Equal As Integers    ${distinct}    1
    ${after}=    Token Requests Of Client    ${OIDC.post_id}
    Should Be Equal As Integers    ${after}    ${before + 1}

A Token Invalidated Through One Server Is Fetched Anew Once For All
    Import Library    Remote    ${A}    AS    FleetA
    Import Library    Remote    ${C}    AS    FleetC
    ${old}=    FleetA.Get Access Token    fleet
    ${before}=    Token Requests Of Client    ${OIDC.post_id}
    FleetC.Invalidate Access Token    fleet
    VAR    @{urls}    ${A}/RPC2    ${B}/RPC2    ${C}/RPC2
    ${distinct}=    Get Access Tokens At Once    ${urls}    fleet    calls=12
    Should Be Equal As Integers    ${distinct}    1
    ${new}=    FleetA.Get Access Token    fleet
    Should Not Be Equal    ${new}    ${old}
    ${after}=    Token Requests Of Client    ${OIDC.post_id}
    Should Be Equal As Integers    ${after}    ${before + 1}
    Remember Profile Secret    ${old}    ${new}


*** Keywords ***
Start A Profile Fleet
    ${redis}=    Shared Redis
    Write The Fleet's State Key
    ${oidc}=    Start OIDC Provider
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    # The fleet's vault file (fleet.resource) holds the client secret too.
    Write Vault File    ${DIR}/vault.json    oauth    post=${OIDC.post_secret}
    ${config}=    Catenate    SEPARATOR=\n
    ...    [profiles.fleet]
    ...    grant = "client_credentials"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "${OIDC.post_id}"
    ...    client_secret = "oauth:post"
    ...    client_auth = "client_secret_post"
    ...    scopes = ["api:read"]
    Create File    ${DIR}/profiles.toml    ${config}
    FOR    ${name}    IN    A    B    C
        ${port}=    Start Rpa Mfa Server    --state    ${redis.url}    @{FLEET_STATE}
        ...    --config    ${DIR}/profiles.toml    alias=${name}
        Set Suite Variable    \${${name}}    http://127.0.0.1:${port}
    END

Stop The Profile Fleet
    Run Keyword And Ignore Error    Save Metrics    ${A}/metrics
    ...    ${OUTPUT DIR}/metrics-profiles-fleet.txt
    Stop All Rpa Mfa Servers
    Stop All OIDC Providers
    Forget The Fleet's State Key
