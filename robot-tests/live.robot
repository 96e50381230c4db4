*** Settings ***
Documentation     JSON-RPC over a real WebSocket on /jsonrpc: live TOTP codes
...               pushed at each period boundary (checked against oathtool and
...               pyotp), ordinary calls, and codes kept out of the server log.
Resource          resources/common.resource
Library           Collections
Library           OperatingSystem
Library           resources/JsonRpcWebSocket.py
Suite Setup       Start Live Server
Suite Teardown    Run Keywords    Close Json Rpc Websocket    AND    Stop All Rpa Mfa Servers
Test Setup        Open Json Rpc Websocket    ${WS}
Test Teardown     Close Json Rpc Websocket
Test Tags         websocket


*** Variables ***
@{CODES}


*** Test Cases ***
Live Codes Arrive At Each Period Boundary
    Import Library    Remote    ${BASE}/ns/dashboard    AS    Dashboard
    Dashboard.Set Time Based OTP    ${URI}
    ${id}=    Subscribe To Totp Codes    dashboard
    ${first}=    Next Totp Notification    ${id}
    Code Should Be Right For Its Period    ${first}    ${SECRET}    2
    ${previous}=    Set Variable    ${first}
    FOR    ${i}    IN RANGE    2
        ${tick}=    Next Totp Notification    ${id}
        # Never ahead of its period: pyotp's code for the moment it arrived.
        ${now_code}=    Evaluate    pyotp.TOTP($SECRET, interval=2).at(float($tick['received_at']))
        Should Be Equal    ${tick}[code]    ${now_code}    not the code of the moment it arrived
        Code Should Be Right For Its Period    ${tick}    ${SECRET}    2
        # Consecutive periods, each code sent once its period had begun.
        Should Be Equal As Integers    ${tick}[period_start]    ${previous}[period_end]
        Should Be True    ${tick}[received_at] >= ${tick}[period_start]
        ${previous}=    Set Variable    ${tick}
    END
    ${stopped}=    Call Over Websocket    unsubscribe_totp    ${{[$id]}}
    Should Be Equal    ${stopped}    ${True}

Keyword Calls Work Over The WebSocket
    ${names}=    Call Over Websocket    get_keyword_names
    List Should Contain Value    ${names}    Get Time Based OTP
    ${result}=    Call Over Websocket    run_keyword
    ...    ${{{"name": "Get Counter Based OTP", "args": [0, $RFC_SEED], "namespace": "bot"}}}
    Should Be Equal    ${result}[status]    PASS
    Should Be Equal    ${result}[return]    755224    # RFC 4226 Appendix D, count 0
    ${result}=    Call Over Websocket    run_keyword    ${{["Get Time Based OTP", [], {}]}}
    Should Be Equal    ${result}[status]    FAIL
    Should Be Equal    ${result}[error]    ${TOTP_NOT_SET}

A Namespace Without A TOTP Secret Refuses The Subscription
    Run Keyword And Expect Error    EQUALS:${TOTP_NOT_SET}    Subscribe To Totp Codes    nothing-set
    Run Keyword And Expect Error    'namespace' must be a string*
    ...    Call Over Websocket    subscribe_totp    ${{{"namespace": 5}}}
    # The connection is still usable.
    ${names}=    Call Over Websocket    get_keyword_names
    Should Not Be Empty    ${names}

The Feed Follows A New Secret At Once
    Set Secret Over Websocket    follow    ${URI}
    ${id}=    Subscribe To Totp Codes    follow
    ${first}=    Next Totp Notification    ${id}
    Code Should Be Right For Its Period    ${first}    ${SECRET}    2
    # The RFC 6238 seed with a 60 s period; boundaries of the old secret may
    # still arrive before the change, so wait for the first 60 s code.
    Set Secret Over Websocket    follow    otpauth://totp/x?secret=${RFC_SEED}&period=60
    FOR    ${i}    IN RANGE    5
        ${tick}=    Next Totp Notification    ${id}
        IF    ${tick}[period] == 60    BREAK
        Code Should Be Right For Its Period    ${tick}    ${SECRET}    2
    END
    Should Be Equal As Integers    ${tick}[period]    60
    Code Should Be Right For Its Period    ${tick}    ${RFC_SEED}    60

A Server Stopping With A Subscription Open Closes It Cleanly
    ${id}=    Subscribe To Totp Codes    dashboard
    ${tick}=    Next Totp Notification    ${id}
    Code Should Be Right For Its Period    ${tick}    ${SECRET}    2
    # Checks the server exits 0 and prints its stopped line.
    Stop Rpa Mfa Server
    Websocket Should Be Closed By The Server

No Live Code Reaches The Server Log
    [Documentation]    Looks for every code the suite received in what the
    ...    server logged (at debug level) until it stopped.
    [Setup]    NONE
    ${log}=    Get File    ${OUTPUT DIR}/server-${SUITE NAME.replace(' ', '_')}-default.log
    Should Contain    ${log}    live TOTP codes: subscribed
    Should Not Be Empty    ${CODES}
    FOR    ${code}    IN    @{CODES}
        Should Not Match Regexp    ${log}    (?<!\\d)${code}(?!\\d)
    END


*** Keywords ***
Start Live Server
    Start Server And Import It As MFA
    VAR    ${WS}    ws://127.0.0.1:${BASE.split(':')[-1]}/jsonrpc    scope=SUITE
    # A 2-second period so consecutive codes arrive within seconds.
    VAR    ${URI}    otpauth://totp/ACME:dash?secret=${SECRET}&period=2&issuer=ACME    scope=SUITE

Set Secret Over Websocket
    [Arguments]    ${namespace}    ${secret}
    ${result}=    Call Over Websocket    run_keyword
    ...    ${{{"name": "Set Time Based OTP", "args": [$secret], "namespace": $namespace}}}
    Should Be Equal    ${result}[status]    PASS

Code Should Be Right For Its Period
    [Documentation]    Checks a notification against oathtool and pyotp for
    ...    the period it claims, and that its times are consistent.
    [Arguments]    ${tick}    ${secret}    ${period}
    Should Be Equal As Integers    ${tick}[period]    ${period}
    Should Be True    ${tick}[period_start] % ${period} == 0
    Should Be True    ${tick}[period_end] == ${tick}[period_start] + ${period}
    Should Be True    0 < ${tick}[seconds_left] <= ${period}
    ${oathtool}=    Oathtool Totp    ${secret}    ${tick}[period_start]    period=${period}
    ${pyotp}=    Evaluate    pyotp.TOTP($secret, interval=int($period)).at(int($tick['period_start']))
    Should Be Equal    ${tick}[code]    ${oathtool}
    Should Be Equal    ${tick}[code]    ${pyotp}
    Append To List    ${CODES}    ${tick}[code]
