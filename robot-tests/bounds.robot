*** Settings ***
Documentation     Numbers checked at the door, waits bounded by --max-wait,
...               namespaces capped, and callback waits that leave nothing
...               behind: what a careless or hostile client sends gets a clear
...               failure and the server keeps serving.
Resource          resources/common.resource
Library           resources/OAuthFlow.py
Library           resources/JsonRpcWebSocket.py
Suite Setup       Start Servers
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         bounds


*** Variables ***
${AUTH_URL}       https://idp.example.com/authorize


*** Test Cases ***
Timeouts Outside 0 To Max Wait Fail With A ValueError
    # Robot converts each to a float, as Python prints it in the message.
    FOR    ${given}    ${shown}    IN
    ...    inf    inf
    ...    -inf    -inf
    ...    nan    nan
    ...    -1    -1.0
    ...    1e19    1e+19
    ...    1e20    1e+20
    ...    1e9    1000000000.0
    ...    900.5    900.5
        Run Keyword And Expect Error
        ...    EQUALS:ValueError: timeout must be between 0 and 900 seconds, got ${shown}
        ...    Wait For OAuth Callback    timeout=${given}
        Run Keyword And Expect Error
        ...    EQUALS:ValueError: timeout must be between 0 and 900 seconds, got ${shown}
        ...    Get OAuth Token    timeout=${given}
        Run Keyword And Expect Error
        ...    EQUALS:ValueError: timeout must be between 0 and 900 seconds, got ${shown}
        ...    Wait For OAuth Device Login    timeout=${given}
    END
    # Within range, the keywords go on to their own checks.
    Run Keyword And Expect Error    OAuth2NotSetError: *    Wait For OAuth Callback    timeout=900

Max Wait Is A Setting
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: timeout must be between 0 and 60 seconds, got 61.0
    ...    Small.Wait For OAuth Callback    timeout=61
    Small.Set Time Based OTP    ${SECRET}
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: min_validity must be 0 to 29 seconds (less than the period), got 30.
    ...    Small.Get Time Based OTP    min_validity=30
    Small.Set Time Based OTP    ${SECRET}    period=120
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: min_validity must be 0 to 60 seconds (at most the server's --max-wait), got 61.
    ...    Small.Get Time Based OTP    min_validity=61

Leeway And At Are Checked Before Anything Else
    FOR    ${given}    ${shown}    IN
    ...    nan    nan
    ...    inf    inf
    ...    -1    -1.0
    ...    3601    3601.0
        Run Keyword And Expect Error
        ...    EQUALS:ValueError: leeway must be between 0 and 3600 seconds, got ${shown}
        ...    Validate ID Token    a.b.c    leeway=${given}
    END
    FOR    ${at}    IN    1e30    1e19    -1    nan    inf    253402300800
        Run Keyword And Expect Error
        ...    EQUALS:ValueError: at must be Unix seconds from 0 to 253402300799 or an ISO 8601 time such as 2020-01-01T00:00:00, got '${at}'.
        ...    Validate ID Token    a.b.c    at=${at}
        Run Keyword And Expect Error
        ...    EQUALS:ValueError: at must be Unix seconds from 0 to 253402300799 or an ISO 8601 time such as 2020-01-01T00:00:00, got '${at}'.
        ...    Get Time Based OTP    ${SECRET}    at=${at}
    END
    # The last second of the year 9999 is still a moment.
    ${code}=    Get Time Based OTP    ${SECRET}    at=253402300799
    Should Match Regexp    ${code}    ^\\d{6}$

Lists And Dicts In Free Named Arguments Are Refused By Name
    ${list}=    Create List    a    b
    ${dict}=    Create Dictionary    k=v
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: Argument 'resource' must be text, a number or a boolean to be sent to the authorization server, got list.
    ...    Generate OAuth URL    ${AUTH_URL}    client_id=app    redirect_uri=http://127.0.0.1/cb
    ...    scope=openid    resource=${list}
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: Argument 'claims' must be text, a number or a boolean to be sent to the authorization server, got dictionary.
    ...    Get OAuth Token With Client Credentials    token_url=http://127.0.0.1:9/token
    ...    client_id=app    claims=${dict}
    # Scalars still go as Python would write them.
    ${url}=    Generate OAuth URL    ${AUTH_URL}    client_id=app    redirect_uri=http://127.0.0.1/cb
    ...    scope=openid    max_age=${1.5}    prompt=consent    verbose=${True}
    Should Contain    ${url}    &max_age=1.5&
    Should Contain    ${url}    &prompt=consent&
    Should Contain    ${url}    &verbose=True

A Callback Wait That Ended Leaves Nothing Behind
    ${url}=    Generate OAuth URL    ${AUTH_URL}    client_id=app
    ...    redirect_uri=${BASE}/oauth/callback    scope=openid
    ${state}=    Evaluate    urllib.parse.parse_qs(urllib.parse.urlsplit($url).query)['state'][0]
    Run Keyword And Expect Error    TimeoutError: No redirect reached *
    ...    Wait For OAuth Callback    timeout=0.1
    # The flow's entry went with its wait: a late redirect finds no one.
    ${status}=    Open Callback    ${BASE}/oauth/callback?code=x&state=${state}
    Should Be Equal As Integers    ${status}    400
    # A new wait expects the flow again, and gets its redirect.
    ${waiting}=    Wait For Callback In The Background
    Wait Until Keyword Succeeds    20x    50ms
    ...    Callback Should Be Accepted    ${BASE}/oauth/callback?code=y&state=${state}
    ${arrived}=    Background Result    ${waiting}
    Should End With    ${arrived}    code=y&state=${state}

Past The Namespace Cap New Namespaces Are Refused And Old Ones Keep Working
    Import Library    Remote    ${SMALL}/ns/first    AS    First
    Import Library    Remote    ${SMALL}/ns/second    AS    Second
    First.Set Time Based OTP    ${SECRET}
    Second.Set Time Based OTP    ${SHORT_SECRET}
    # The gate refuses every call into a third namespace, the import's own.
    Run Keyword And Expect Error    *Namespace limit (2) reached; 'third' not created.*
    ...    Import Remote And Call It    ${SMALL}/ns/third    Third
    ${first}=    First.Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000
    Should Be Equal    ${first}    ${expected}
    # The default namespace does not count.
    Small.Get Counter Based OTP    0    ${RFC_SEED}
    # Nor does a subscription get around the cap.
    Open Json Rpc Websocket    ws://127.0.0.1:${SMALL_PORT}/jsonrpc
    Run Keyword And Expect Error    EQUALS:Namespace limit (2) reached; 'fourth' not created.
    ...    Subscribe To Totp Codes    fourth
    [Teardown]    Close Json Rpc Websocket


*** Keywords ***
Start Servers
    Start Server And Import It As MFA
    ${port}=    Start Rpa Mfa Server    --max-wait    60    --max-namespaces    2    alias=small
    VAR    ${SMALL_PORT}    ${port}    scope=SUITE
    VAR    ${SMALL}    http://127.0.0.1:${port}    scope=SUITE
    Import Library    Remote    ${SMALL}    AS    Small

Callback Should Be Accepted
    [Arguments]    ${url}
    ${status}=    Open Callback    ${url}
    Should Be Equal As Integers    ${status}    200
