*** Settings ***
Documentation     A fleet: three rpa-mfa servers sharing one real Redis (the run's
...               redis-server from RedisServers.py), as behind a load balancer.
...               Codes are checked against pyotp and oathtool; the servers seal
...               every secret under one state key read from their vault.
Resource          resources/fleet.resource
Library           resources/JsonRpcWebSocket.py
Suite Setup       Start A Fleet On The Shared Redis
Suite Teardown    Stop The Fleet
Test Tags         fleet    redis


*** Variables ***
# One secret per test: counters are kept per secret, store-wide.
${COUNTER_SECRET}    AIWWUL3H3ZSYFELHNSYGSYDHAUFUSKFJ
${HANDOFF_SECRET}    RE5FSQNMW25Q3GGCMXYZAVQ2LZDLYJKS
${UNIQUE_SECRET}     OIOYX27IGBXCC65QBRTTU3MHJ3GEIC3V
${KILLED_SECRET}     YSWLV64CYJU4CR55EP5TWXXTPT3CKTLB
${OUTAGE_SECRET}     NP4L2C6MOJVUD46YKUAVC2CFJA3MA65Q
${LIVE_SECRET}       YSYGE6EJFF5ACX5RXVWVOT7FXLUVFYK6


*** Test Cases ***
A Thousand Counter Codes From Three Servers Are Exactly HOTP 0 To 999
    Import Library    Remote    ${A}/ns/counter    AS    CounterA
    CounterA.Set Counter Based OTP    ${COUNTER_SECRET}
    @{urls}=    Namespace URLs    counter
    Next Counter Codes Should Be Exactly Hotp    ${urls}    ${COUNTER_SECRET}    calls=1000    threads=12
    # The counter went on store-wide: the next code is HOTP(1000) on any server.
    Import Library    Remote    ${C}/ns/counter    AS    CounterC
    ${next}=    CounterC.Get Next Counter Based OTP
    ${expected}=    Oathtool Hotp    ${COUNTER_SECRET}    1000
    Should Be Equal    ${next}    ${expected}

A Secret Set Through One Server Gives Codes Through Another
    Import Library    Remote    ${A}/ns/handoff    AS    HandoffA
    Import Library    Remote    ${B}/ns/handoff    AS    HandoffB
    HandoffA.Set Time Based OTP    ${HANDOFF_SECRET}
    ${before}=    Epoch Now
    ${code}=    HandoffB.Get Time Based OTP
    ${after}=    Epoch Now
    ${then}=    Pyotp Totp At    ${HANDOFF_SECRET}    ${before}
    ${now}=    Pyotp Totp At    ${HANDOFF_SECRET}    ${after}
    Should Contain    ${{[$then, $now]}}    ${code}
    # The same for a counter secret, through the third server.
    HandoffB.Set Counter Based OTP    ${RFC_SEED}
    Import Library    Remote    ${C}/ns/handoff    AS    HandoffC
    ${code}=    HandoffC.Get Counter Based OTP    4
    Should Be Equal    ${code}    338314    # RFC 4226 Appendix D

Unique Codes Never Repeat Across Three Servers
    Import Library    Remote    ${B}/ns/unique    AS    UniqueB
    UniqueB.Set Time Based OTP    ${UNIQUE_SECRET}    period=1
    @{urls}=    Namespace URLs    unique
    ${count}=    Unique Time Codes Should Never Repeat    ${urls}    ${UNIQUE_SECRET}    1
    ...    calls=9    threads=3
    Should Be Equal As Integers    ${count}    9

The Live Feed Of One Server Follows A Secret Set Through Another
    [Documentation]    The first secret has a 60 s period: a feed that only read
    ...    the store at its period boundaries would send the new secret's code
    ...    up to 60 s late, past the 15 s the next notification may take.
    Import Library    Remote    ${A}/ns/live    AS    LiveA
    LiveA.Set Time Based OTP    otpauth://totp/x?secret=${RFC_SEED}&period=60
    Open Json Rpc Websocket    ws://127.0.0.1:${B.split(':')[-1]}/jsonrpc
    ${id}=    Subscribe To Totp Codes    live
    ${first}=    Next Totp Notification    ${id}
    Should Be Equal As Integers    ${first}[period]    60
    # Set through server A; server B's feed hears of it through Redis.
    LiveA.Set Time Based OTP    otpauth://totp/x?secret=${LIVE_SECRET}&period=2
    FOR    ${i}    IN RANGE    3
        ${tick}=    Next Totp Notification    ${id}
        IF    ${tick}[period] == 2    BREAK
    END
    Should Be Equal As Integers    ${tick}[period]    2
    ${expected}=    Oathtool Totp    ${LIVE_SECRET}    ${tick}[period_start]    period=2
    Should Be Equal    ${tick}[code]    ${expected}
    [Teardown]    Close Json Rpc Websocket

Counters Never Repeat Nor Go Back While Servers Are Killed
    @{args}=    Create List    --state    ${REDIS.url}    @{FLEET_STATE}
    ${codes}=    Counters Should Survive Killed Servers    ${args}    killed    ${KILLED_SECRET}
    ...    rounds=4    threads=6    calls_per_round=60
    Should Be True    ${codes} >= 240

Redis Stopped Mid-Run Gives A Clear Failure And Calls Recover After It Returns
    ${redis}=    Start Redis    outage
    ${port}=    Start Rpa Mfa Server    --state    ${redis.url}    @{FLEET_STATE}    alias=outage
    VAR    ${url}    http://127.0.0.1:${port}
    # A call that took longer than the 5 s bound would fail on the timeout.
    Import Library    Remote    ${url}/ns/outage    timeout=5s    AS    Outage
    Outage.Set Counter Based OTP    ${OUTAGE_SECRET}
    ${code}=    Outage.Get Next Counter Based OTP
    ${expected}=    Pyotp Hotp At    ${OUTAGE_SECRET}    0
    Should Be Equal    ${code}    ${expected}
    Health State Should Be    ${url}    ok

    Stop Redis    outage
    Run Keyword And Expect Error
    ...    StateError: Redis at 127.0.0.1:${redis.port} is unreachable (connection refused)
    ...    Outage.Get Next Counter Based OTP
    Run Keyword And Expect Error    StateError: Redis at 127.0.0.1:${redis.port} is unreachable*
    ...    Outage.Set Time Based OTP    ${OUTAGE_SECRET}
    Health State Should Be    ${url}    unreachable
    # What needs no state keeps working: the library's description, metrics.
    Import Library    Remote    ${url}/ns/outage    timeout=5s    AS    StillServing
    Http Status Should Be    200    ${url}/metrics

    Start Redis Again    outage
    Health State Should Be    ${url}    ok
    # The new Redis keeps nothing (no persistence here): set the secret again.
    Outage.Set Counter Based OTP    ${OUTAGE_SECRET}
    ${code}=    Outage.Get Next Counter Based OTP
    Should Be Equal    ${code}    ${expected}
    [Teardown]    Stop Rpa Mfa Server    outage

Redis Holds No Secret In Clear
    [Documentation]    Reads every key and value the tests above left in the
    ...    shared Redis: no secret in base32, raw bytes, hex or base64.
    FOR    ${secret}    IN    ${COUNTER_SECRET}    ${HANDOFF_SECRET}    ${UNIQUE_SECRET}
    ...    ${KILLED_SECRET}    ${LIVE_SECRET}    ${RFC_SEED}
        ${keys}=    Redis Should Not Hold Secret    shared    ${secret}
    END
    Should Be True    ${keys} >= 8
    # What lasts, whatever the marks' timing: the five namespace records,
    # their index and the counter and killed tests' store-wide counters.
    ${lasting}=    Redis Lasting Key Count    shared
    Should Be True    ${lasting} >= 8


*** Keywords ***
Start A Fleet On The Shared Redis
    ${redis}=    Shared Redis
    VAR    ${REDIS}    ${redis}    scope=SUITE
    Write The Fleet's State Key
    FOR    ${name}    IN    A    B    C
        ${port}=    Start Rpa Mfa Server    --state    ${redis.url}
        ...    @{FLEET_STATE}    alias=${name}
        Set Suite Variable    \${${name}}    http://127.0.0.1:${port}
    END

Stop The Fleet
    Save Metrics    ${A}/metrics    ${OUTPUT DIR}/metrics-fleet.txt
    Stop All Rpa Mfa Servers
    Forget The Fleet's State Key

Namespace URLs
    [Arguments]    ${namespace}
    VAR    @{urls}    ${A}/ns/${namespace}    ${B}/ns/${namespace}    ${C}/ns/${namespace}
    RETURN    ${urls}

