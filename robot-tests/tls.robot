*** Settings ***
Documentation     HTTPS with rustls: Robot's Remote over ``https://`` trusts the
...               server through SSL_CERT_FILE pointing at a CA made for this
...               run with openssl (keys in a temporary directory, never kept).
Resource          resources/common.resource
Library           OperatingSystem
Library           resources/Ops.py
Library           resources/JsonRpcWebSocket.py
Suite Setup       Make A CA And Start Over TLS
Suite Teardown    Stop And Forget The CA
Test Tags         tls


*** Test Cases ***
Robot's Remote Works Over HTTPS With The Test CA
    Set Environment Variable    SSL_CERT_FILE    ${CA}
    Import Library    Remote    https://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}    AS    Secure
    ${code}=    Secure.Get Counter Based OTP    4    ${RFC_SEED}
    Should Be Equal    ${code}    338314    # RFC 4226 Appendix D
    Http Status Should Be    200    https://127.0.0.1:${PORT}/health
    Http Status Should Be    200    https://localhost:${PORT}/metrics    user=alice    password=${ALICE_PASSWORD}

Live Codes Arrive Over A Secure WebSocket
    Set Environment Variable    SSL_CERT_FILE    ${CA}
    Import Library    Remote    https://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}/ns/wss    AS    SecureLive
    SecureLive.Set Time Based OTP    ${SECRET}
    Open Json Rpc Websocket    wss://127.0.0.1:${PORT}/jsonrpc    alice    ${ALICE_PASSWORD}
    ${id}=    Subscribe To Totp Codes    wss
    ${tick}=    Next Totp Notification    ${id}
    ${pyotp}=    Evaluate    pyotp.TOTP($SECRET).at(int($tick['period_start']))
    Should Be Equal    ${tick}[code]    ${pyotp}
    [Teardown]    Close Json Rpc Websocket

A Client That Does Not Trust The CA Refuses The Server
    Set Environment Variable    SSL_CERT_FILE    ${CURDIR}/resources/common.resource
    Run Keyword And Expect Error    *CERTIFICATE_VERIFY_FAILED*
    ...    Http Get    https://127.0.0.1:${PORT}/health
    [Teardown]    Set Environment Variable    SSL_CERT_FILE    ${CA}

Plain HTTP To The TLS Port Fails And The Server Keeps Serving
    Run Keyword And Expect Error    *
    ...    Http Get    http://127.0.0.1:${PORT}/health
    Http Status Should Be    200    https://127.0.0.1:${PORT}/health

OAuth Calls Check The Authorization Server's Certificate
    # rpa-mfa's own TLS port plays an authorization server with the test CA.
    ${untrusting}=    Start Rpa Mfa Server    alias=untrusting
    ...    SSL_CERT_FILE=${CURDIR}/resources/common.resource
    Import Library    Remote    http://127.0.0.1:${untrusting}    AS    Untrusting
    Run Keyword And Expect Error
    ...    SSLError: https://127.0.0.1:${PORT}/.well-known/openid-configuration: TLS failed: invalid peer certificate: UnknownIssuer
    ...    Untrusting.Get OpenID Configuration    https://127.0.0.1:${PORT}
    ${trusting}=    Start Rpa Mfa Server    alias=trusting    SSL_CERT_FILE=${CA}
    Import Library    Remote    http://127.0.0.1:${trusting}    AS    Trusting
    # The handshake passes; the server is no OpenID provider, and says so.
    Run Keyword And Expect Error
    ...    OAuth2Error: https://127.0.0.1:${PORT}/.well-known/openid-configuration answered HTTP 401 with text/plain, not JSON
    ...    Trusting.Get OpenID Configuration    https://127.0.0.1:${PORT}
    [Teardown]    Run Keywords    Stop Rpa Mfa Server    untrusting    AND    Stop Rpa Mfa Server    trusting

Bad Certificate Files Refuse To Start
    Rpa Mfa Server Should Fail To Start    --tls-cert    ${CERT}
    ...    expected_error=--tls-cert and --tls-key go together
    Rpa Mfa Server Should Fail To Start    --tls-cert    ${CERT}    --tls-key    ${CERT}
    ...    expected_error=--tls-key ${CERT}:
    Rpa Mfa Server Should Fail To Start    --tls-cert    ${CURDIR}/tls.robot    --tls-key    ${KEY}
    ...    expected_error=no certificate in it


*** Keywords ***
Make A CA And Start Over TLS
    ${OLD_CERT_FILE}=    Get Environment Variable    SSL_CERT_FILE    ${NONE}
    VAR    ${OLD_CERT_FILE}    ${OLD_CERT_FILE}    scope=SUITE
    ${dir}=    New Temp Dir
    VAR    ${DIR}    ${dir}    scope=SUITE
    ${ca}    ${cert}    ${key}=    Create Test CA    ${dir}
    VAR    ${CA}    ${ca}    scope=SUITE
    VAR    ${CERT}    ${cert}    scope=SUITE
    VAR    ${KEY}    ${key}    scope=SUITE
    Write Vault File    ${dir}/vault.json    rpa-users    alice=${ALICE_PASSWORD}
    ${port}=    Start Rpa Mfa Server    --tls-cert    ${cert}    --tls-key    ${key}
    ...    --vault    file:${dir}/vault.json    --users-secret    rpa-users
    VAR    ${PORT}    ${port}    scope=SUITE

Stop And Forget The CA
    Save Metrics    https://127.0.0.1:${PORT}/metrics    ${OUTPUT DIR}/metrics-tls.txt
    ...    user=alice    password=${ALICE_PASSWORD}
    Stop All Rpa Mfa Servers
    IF    $OLD_CERT_FILE is None
        Remove Environment Variable    SSL_CERT_FILE
    ELSE
        Set Environment Variable    SSL_CERT_FILE    ${OLD_CERT_FILE}
    END
    Remove Directory    ${DIR}    recursive=True
