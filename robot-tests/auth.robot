*** Settings ***
Documentation     Authentication: HTTP Basic as Robot's Remote sends it for
...               ``http://user:pass@host:port``, bearer tokens for JSON-RPC,
...               users pinned to a namespace, open /health, rate-limited
...               failed logins, and no open bind without authentication.
Resource          resources/common.resource
Library           OperatingSystem
Library           resources/Ops.py
Library           resources/JsonRpcWebSocket.py
Suite Setup       Write Credentials And Start
Suite Teardown    Save Metrics And Stop
Test Tags         auth


*** Variables ***
# RFC 4226 Appendix D: HOTP of the RFC seed at counter 4.
${RFC_HOTP_4}     338314


*** Test Cases ***
Robot's Remote Logs In With Basic Auth In The URL
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}    AS    Alice
    ${code}=    Alice.Get Counter Based OTP    4    ${RFC_SEED}
    Should Be Equal    ${code}    ${RFC_HOTP_4}

A Wrong Password Fails With Robot's Own Error
    # The error is Robot's own; 401 Unauthorized is HTTP's status (RFC 9110).
    Import Should Fail    http://alice:${WRONG_PASSWORD}@127.0.0.1:${PORT}    Wrong
    ...    Getting keyword names from library 'Remote' failed: Calling dynamic method 'get_keyword_names' failed: Connecting remote server at http://alice:${WRONG_PASSWORD}@127.0.0.1:${PORT} failed: <ProtocolError for alice:${WRONG_PASSWORD}@127.0.0.1:${PORT}/RPC2: 401 Unauthorized>

No Credentials Get 401 And Health Stays Open
    Http Status Should Be    401    ${BASE}/metrics
    Http Status Should Be    401    ${BASE}/metrics    user=alice    password=${WRONG_PASSWORD}
    Http Status Should Be    200    ${BASE}/metrics    user=alice    password=${ALICE_PASSWORD}
    Http Status Should Be    200    ${BASE}/health
    ${error}=    Run Keyword And Expect Error    *
    ...    Json Rpc    ${BASE}/jsonrpc    get_keyword_names
    Should Be Equal    ${error}    HTTP 401

The OAuth Callback Needs No Credentials But Takes Only Flows Started Here
    # A browser redirect carries no credentials; the callback must still work.
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}    AS    Alice
    ${callback}=    Alice.Get OAuth Callback URL
    Should Be Equal    ${callback}    ${BASE}/oauth/callback
    ${url}=    Alice.Generate OAuth URL    https://idp.example.com/auth    client_id=app
    ...    redirect_uri=${callback}    scope=openid
    ${state}=    Evaluate    urllib.parse.parse_qs(urllib.parse.urlsplit($url).query)["state"][0]
    Http Status Should Be    400    ${callback}?code=c1&state=forged
    Http Status Should Be    200    ${callback}?code=c1&state=${state}
    ${arrived}=    Alice.Wait For OAuth Callback    timeout=5
    Should Be Equal    ${arrived}    ${callback}?code=c1&state=${state}

A Bearer Token Works Over JSON-RPC
    ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Get Counter Based OTP    4    ${RFC_SEED}
    ...    token=${DASH_TOKEN}
    Should Be Equal    ${result}[status]    PASS
    Should Be Equal    ${result}[return]    ${RFC_HOTP_4}
    ${error}=    Run Keyword And Expect Error    *
    ...    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Get Counter Based OTP    4    ${RFC_SEED}
    ...    token=${ALICE_PASSWORD}
    Should Be Equal    ${error}    HTTP 401    a password is not a token

A Pinned User Works In Their Namespace Only
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/bot-7    AS    Bot
    Bot.Set Time Based OTP    ${SECRET}
    ${code}=    Bot.Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    Import Should Fail    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/other    BotElsewhere
    ...    *User 'bot7' may only call namespace 'bot-7', not 'other'.*
    Run Keyword And Expect Error
    ...    JSON-RPC error -32001: User 'bot7' may only call namespace 'bot-7', not 'elsewhere'.
    ...    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Get Counter Based OTP    4    ${RFC_SEED}
    ...    namespace=elsewhere    user=bot7    password=${BOT_PASSWORD}
    # Alice is not pinned: any namespace.
    ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Get Counter Based OTP    4    ${RFC_SEED}
    ...    namespace=elsewhere    user=alice    password=${ALICE_PASSWORD}
    Should Be Equal    ${result}[return]    ${RFC_HOTP_4}

A Pinned User Gets No Other Namespace's Live Codes
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}/ns/team-b    AS    AliceB
    AliceB.Set Time Based OTP    ${SECRET}
    Open Json Rpc Websocket    ws://127.0.0.1:${PORT}/jsonrpc    user=bot7    password=${BOT_PASSWORD}
    Run Keyword And Expect Error    User 'bot7' may only call namespace 'bot-7', not 'team-b'.
    ...    Subscribe To Totp Codes    team-b
    Run Keyword And Expect Error    User 'bot7' may only call namespace 'bot-7', not 'team-b'.
    ...    Call Over Websocket    run_keyword    ${{ {"name": "Get Time Based OTP", "namespace": "team-b"} }}
    # Alice is not pinned: her subscription gets team-b's code.
    Open Json Rpc Websocket    ws://127.0.0.1:${PORT}/jsonrpc    user=alice    password=${ALICE_PASSWORD}
    ${subscription}=    Subscribe To Totp Codes    team-b
    ${tick}=    Next Totp Notification    ${subscription}
    ${expected}=    Oathtool Totp    ${SECRET}    ${tick}[period_start]
    Should Be Equal    ${tick}[code]    ${expected}
    [Teardown]    Close Json Rpc Websocket

Vaults Are For Unpinned Users And Never Hold The Server's Credentials
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}/ns/alice    AS    AliceVault
    AliceVault.Use MFA Secret From Vault    mfa    otp
    ${code}=    AliceVault.Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    Run Keyword And Expect Error
    ...    PermissionError: Secret 'rpa-users' holds the server's own credentials; no keyword may read or write it.
    ...    AliceVault.Use MFA Secret From Vault    rpa-users    alice
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/bot-7    AS    BotVault
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use vault 'default'.
    ...    BotVault.Use MFA Secret From Vault    mfa    otp
    # Listed by namespace, the pinned user may read it; alice, unlisted, not.
    ${port}=    Start Rpa Mfa Server    @{AUTH_ARGS}    --vault-allow    bot-7    alias=listed
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${port}/ns/bot-7    AS    ListedBot
    ListedBot.Use MFA Secret From Vault    mfa    otp
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    UnlistedAlice
    Run Keyword And Expect Error    PermissionError: User 'alice' may not use vault 'default'.
    ...    UnlistedAlice.Use MFA Secret From Vault    mfa    otp
    [Teardown]    Stop Rpa Mfa Server    listed

Failed Logins Are Rate Limited Per Client And User And Logged Without Credentials
    ${port}=    Start Rpa Mfa Server    @{AUTH_ARGS}    alias=limited
    FOR    ${i}    IN RANGE    5
        Http Status Should Be    401    http://127.0.0.1:${port}/metrics    user=alice    password=${WRONG_PASSWORD}
    END
    # The sixth attempt is refused even with the right password...
    Http Status Should Be    429    http://127.0.0.1:${port}/metrics    user=alice    password=${ALICE_PASSWORD}
    # ...but only for alice: bot7 at the same address logs in.
    Http Status Should Be    200    http://127.0.0.1:${port}/metrics    user=bot7    password=${BOT_PASSWORD}
    Http Status Should Be    200    http://127.0.0.1:${port}/health
    # A token where the user name goes (requests' auth=(token, "")) is not logged.
    Http Status Should Be    401    http://127.0.0.1:${port}/metrics    user=${DASH_TOKEN}    password=${EMPTY}
    ${log}=    Rpa Mfa Server Log File    limited
    ${failed}=    Grep File    ${log}    login failed
    Should Be Equal As Integers    ${{len($failed.splitlines())}}    6
    Should Contain    ${failed}    user=alice
    Should Contain    ${failed}    user=(unknown)
    ${refused}=    Grep File    ${log}    too many failed attempts
    Should Not Be Empty    ${refused}
    [Teardown]    Stop Rpa Mfa Server    limited

A Non-Loopback Bind Without Authentication Refuses To Start
    Rpa Mfa Server Should Fail To Start    --host    0.0.0.0
    ...    expected_error=refusing to listen on 0.0.0.0:
    ${port}=    Start Rpa Mfa Server    --host    0.0.0.0    --insecure    alias=open    listen=0.0.0.0
    Http Status Should Be    200    http://127.0.0.1:${port}/health
    Stop Rpa Mfa Server    open
    # With authentication it may listen anywhere.
    ${port}=    Start Rpa Mfa Server    --host    0.0.0.0    @{AUTH_ARGS}    alias=any    listen=0.0.0.0
    Http Status Should Be    401    http://127.0.0.1:${port}/metrics
    Stop Rpa Mfa Server    any


*** Keywords ***
Write Credentials And Start
    ${dir}=    New Temp Dir
    VAR    ${VAULT}    ${dir}/vault.json    scope=SUITE
    Write Vault File    ${VAULT}    rpa-users    alice=${ALICE_PASSWORD}    bot7=${BOT_PASSWORD}
    Write Vault File    ${VAULT}    rpa-tokens    dash=${DASH_TOKEN}
    Write Vault File    ${VAULT}    mfa    otp=${SECRET}
    VAR    @{AUTH_ARGS}    --vault    file:${VAULT}    --users-secret    rpa-users
    ...    --tokens-secret    rpa-tokens    --pin    bot7=bot-7    scope=SUITE
    ${port}=    Start Rpa Mfa Server    @{AUTH_ARGS}
    VAR    ${PORT}    ${port}    scope=SUITE
    VAR    ${BASE}    http://127.0.0.1:${port}    scope=SUITE

Save Metrics And Stop
    Save Metrics    ${BASE}/metrics    ${OUTPUT DIR}/metrics-auth.txt
    ...    user=alice    password=${ALICE_PASSWORD}
    Stop All Rpa Mfa Servers
