*** Settings ***
Documentation     A fleet behaves like one server for OAuth redirects: the login
...               flow starts on server A, the browser comes back to server B's
...               /oauth/callback (as behind a load balancer), and the keyword
...               waiting on A gets the token from the real oidc-provider. Once
...               with two servers sharing the run's real Redis, once with two
...               sharing one SQLite file. The redirect passes through the store
...               sealed, and is taken once.
Resource          resources/fleet.resource
Library           String
Library           resources/OidcProvider.py
Library           resources/OAuthFlow.py
Library           resources/FleetOAuth.py
Suite Setup       Start The Provider And Two Fleets
Suite Teardown    Stop Everything
Test Tags         fleet    oauth


*** Test Cases ***
Redis: A Redirect Landing On B Reaches The Token Wait On A
    [Tags]    redis
    A Redirect Landing On B Reaches The Token Wait On A    ${A}    ${B}    redis-wait

Redis: A Redirect That Lands Before The Wait Is Kept Sealed And Taken Once
    [Tags]    redis
    ${response}    ${code}    ${state}=    Deliver To B Before Anyone Waits On A
    ...    ${A}    ${B}    redis-early
    # While it waits in Redis: one record in the callback space, and neither
    # the code nor the state in any key or value.
    ${waiting}=    Redis Key Count    shared    rpa-mfa:callback:*
    Should Be Equal As Integers    ${waiting}    1
    Redis Should Not Contain    shared    ${code}    ${state}
    A Takes It Once    ${A}    redis-early    ${response}
    ${left}=    Redis Key Count    shared    rpa-mfa:callback:*
    Should Be Equal As Integers    ${left}    0

SQLite: A Redirect Landing On B Reaches The Token Wait On A
    [Tags]    sqlite
    A Redirect Landing On B Reaches The Token Wait On A    ${SA}    ${SB}    sqlite-wait

SQLite: A Redirect That Lands Before The Wait Is Kept Sealed And Taken Once
    [Tags]    sqlite
    ${response}    ${code}    ${state}=    Deliver To B Before Anyone Waits On A
    ...    ${SA}    ${SB}    sqlite-early
    Sqlite Files Should Not Contain    ${DB}    ${code}    ${state}
    A Takes It Once    ${SA}    sqlite-early    ${response}

Redis Down: The Callback Answers 503 And The Wait Fails Clearly
    [Tags]    redis
    ${redis}=    Start Redis    callback-outage
    ${port}=    Start Rpa Mfa Server    --state    ${redis.url}    @{FLEET_STATE}
    ...    alias=oauth-outage
    VAR    ${url}    http://127.0.0.1:${port}
    Import Library    Remote    ${url}/ns/outage    timeout=10s    AS    Outage
    ${auth}=    Outage.Generate OAuth URL    issuer=${OIDC.issuer}    client_id=${OIDC.pkce_id}
    ...    redirect_uri=${url}/oauth/callback    scope=openid
    ${response}=    Follow Login Redirects    ${auth}
    Stop Redis    callback-outage
    # The browser is told to try again (not that the login is unknown)...
    ${status}=    Open Callback    ${response}
    Should Be Equal As Integers    ${status}    503
    # ...and the robot's wait names the store.
    Run Keyword And Expect Error    StateError: Redis at 127.0.0.1:${redis.port} is unreachable*
    ...    Outage.Wait For OAuth Callback    timeout=5
    [Teardown]    Stop Rpa Mfa Server    oauth-outage

A Stranger's Redirect Is Refused By Every Server
    FOR    ${server}    IN    ${A}    ${B}    ${SA}    ${SB}
        ${status}=    Open Callback    ${server}/oauth/callback?code=x&state=forged
        Should Be Equal As Integers    ${status}    400
    END


*** Keywords ***
Start The Provider And Two Fleets
    ${oidc}=    Start OIDC Provider
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    ${redis}=    Shared Redis
    Write The Fleet's State Key
    VAR    ${DB}    ${DIR}/state.db    scope=SUITE
    FOR    ${name}    ${state}    IN    A    ${redis.url}    B    ${redis.url}
    ...    SA    sqlite:${DB}    SB    sqlite:${DB}
        ${port}=    Start Rpa Mfa Server    --state    ${state}    @{FLEET_STATE}
        ...    alias=oauth-${name}
        Set Suite Variable    \${${name}}    http://127.0.0.1:${port}
    END

Stop Everything
    Stop All Rpa Mfa Servers
    Stop All OIDC Providers
    Forget The Fleet's State Key

A Redirect Landing On B Reaches The Token Wait On A
    [Documentation]    A waits in ``Get OAuth Token`` (no response_url) while the
    ...    browser logs in and is sent back to B's callback.
    [Arguments]    ${a}    ${b}    ${namespace}
    Import Library    Remote    ${a}/ns/${namespace}    AS    ${namespace}
    ${url}=    Run Keyword    ${namespace}.Generate OAuth URL    issuer=${OIDC.issuer}
    ...    client_id=${OIDC.pkce_id}    redirect_uri=${b}/oauth/callback    scope=openid email
    ${nonce}=    Query Parameter    ${url}    nonce
    ${waiting}=    Call In The Background    ${a}/ns/${namespace}    Get OAuth Token
    ...    client_secret=${OIDC.pkce_secret}    timeout=20
    ${response}=    Follow Login Redirects    ${url}
    Should Start With    ${response}    ${b}/oauth/callback?code=
    ${status}=    Open Callback    ${response}
    Should Be Equal As Integers    ${status}    200    B accepts the redirect of A's flow
    ${token}=    Background Result    ${waiting}
    Should Be Equal    ${token}[token_type]    Bearer
    # The token is the one A's flow asked for: its ID token carries A's nonce.
    ${claims}=    Run Keyword    ${namespace}.Validate ID Token
    Should Be Equal    ${claims}[nonce]    ${nonce}
    Should Be Equal    ${claims}[email]    robot@example.test
    # Taken once: the same redirect again finds no flow, on either server.
    FOR    ${server}    IN    ${b}    ${a}
        ${again}=    Replace String    ${response}    ${b}    ${server}
        ${status}=    Open Callback    ${again}
        Should Be Equal As Integers    ${status}    400
    END

Deliver To B Before Anyone Waits On A
    [Documentation]    Starts a flow on A whose redirect reaches B before anyone
    ...    waits on A. Returns the redirect URL, its code and its state.
    [Arguments]    ${a}    ${b}    ${namespace}
    Import Library    Remote    ${a}/ns/${namespace}    AS    ${namespace}
    ${url}=    Run Keyword    ${namespace}.Generate OAuth URL    issuer=${OIDC.issuer}
    ...    client_id=${OIDC.pkce_id}    redirect_uri=${b}/oauth/callback    scope=openid
    ${response}=    Follow Login Redirects    ${url}
    ${status}=    Open Callback    ${response}
    Should Be Equal As Integers    ${status}    200
    # A second redirect for the same flow (a reload) is not taken.
    ${status}=    Open Callback    ${response}
    Should Be Equal As Integers    ${status}    400
    ${code}=    Query Parameter    ${response}    code
    ${state}=    Query Parameter    ${response}    state
    RETURN    ${response}    ${code}    ${state}

A Takes It Once
    [Documentation]    A's ``Wait For OAuth Callback`` returns the redirect that
    ...    reached B, the token follows from it, and a second wait finds nothing.
    [Arguments]    ${a}    ${namespace}    ${response}
    ${arrived}=    Run Keyword    ${namespace}.Wait For OAuth Callback    timeout=10
    Should Be Equal    ${arrived}    ${response}
    ${token}=    Run Keyword    ${namespace}.Get OAuth Token    client_secret=${OIDC.pkce_secret}
    ...    response_url=${arrived}
    Should Be Equal    ${token}[token_type]    Bearer
    Run Keyword And Expect Error    TimeoutError: No redirect reached *
    ...    ${namespace}.Wait For OAuth Callback    timeout=0.5

Query Parameter
    [Arguments]    ${url}    ${name}
    ${value}=    Evaluate    urllib.parse.parse_qs(urllib.parse.urlsplit($url).query)[$name][0]
    ...    modules=urllib.parse
    RETURN    ${value}
