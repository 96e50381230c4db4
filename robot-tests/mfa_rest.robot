*** Settings ***
Documentation     The rest MFA provider against a double of an in-house MFA REST
...               service (resources/mfa_rest_double.py, which speaks the provider's
...               documented defaults and checks codes with pyotp): an OTP approved
...               and its replay denied, a push approved, denied and left unanswered,
...               a wrong API token, a malformed answer and an unreachable service,
...               each failing under its own name; ignore_connection_error lets only
...               the unreachable one pass, with a warning.
Resource          resources/common.resource
Library           OperatingSystem
Library           Collections
Library           resources/MfaRestDouble.py
Library           resources/Ops.py
Suite Setup       Start The Double And The Server
Suite Teardown    Stop Everything
Test Setup        Clear Mfa Rest Double Requests
Test Tags         mfa-service    rest


*** Variables ***
# The double's API token, kept in the server's file vault; a wrong one
# beside it. scripts/test.sh scans for both.
${API_TOKEN}      mfa-api-token-Rk7Vq2Xs9L
${WRONG_TOKEN}    mfa-api-wrong-Jd3Fp8Nw1
${USER_SECRET}    ${SECRET}


*** Test Cases ***
An OTP Is Approved Once, Then Its Replay Is Denied
    ${code}=    Get Time Based OTP    ${USER_SECRET}
    ${answer}=    Verify OTP With Service    alice    ${code}    provider=inhouse
    Should Be Equal    ${answer.result}    ACCEPT
    Should Be Equal    ${answer.status}    approved
    Should Be Equal    ${answer.provider}    inhouse
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'inhouse' refused the code for 'alice' (status 'denied'): code already used
    ...    Verify OTP With Service    alice    ${code}    provider=inhouse
    ${requests}=    Mfa Rest Double Requests
    Length Should Be    ${requests}    2
    Should Be Equal    ${requests}[0][method]    POST
    Should Be Equal    ${requests}[0][path]    /otp/verify
    Should Be True    ${requests}[0][authorized]
    &{expected}=    Create Dictionary    user=alice    otp=<code>
    Dictionaries Should Be Equal    ${requests}[0][body]    ${expected}

A Wrong Code Is Denied In The Service's Words
    ${code}=    Get Time Based OTP    ${USER_SECRET}
    ${wrong}=    Evaluate    "%06d" % ((int($code) + 500000) % 1000000)
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'inhouse' refused the code for 'alice' (status 'denied'): wrong code
    ...    Verify OTP With Service    alice    ${wrong}    provider=inhouse

A Push Approved On The Phone Passes After Polling
    Phone Will Answer Push    alice    approve    after_polls=2
    ${answer}=    Request Push Approval    alice    provider=inhouse    timeout=10
    Should Be Equal    ${answer.result}    ACCEPT
    Should Be Equal    ${answer.status}    approved
    ${requests}=    Mfa Rest Double Requests
    Length Should Be    ${requests}    4
    Should Be Equal    ${requests}[0][path]    /push
    &{expected}=    Create Dictionary    user=alice
    Dictionaries Should Be Equal    ${requests}[0][body]    ${expected}
    FOR    ${poll}    IN    @{requests}[1:]
        Should Be Equal    ${poll}[method]    GET
        Should Be Equal    ${poll}[path]    /push/${answer.transaction_id}
        Should Be True    ${poll}[authorized]
    END

A Push Declined On The Phone Is An Authentication Failure
    Phone Will Answer Push    bob    deny    after_polls=1
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'inhouse': 'bob' declined the push (status 'denied')
    ...    Request Push Approval    bob    provider=inhouse    timeout=10

A Push Nobody Answers Fails When Its Timeout Ends
    Phone Will Answer Push    carol    pending
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'inhouse': 'carol' did not answer the push within 1.0 s
    ...    Request Push Approval    carol    provider=inhouse    timeout=1
    # Polled every 0.1 s for 1 s: bounded, not a busy loop.
    ${requests}=    Mfa Rest Double Requests
    ${count}=    Get Length    ${requests}
    Should Be True    3 <= ${count} <= 13    ${count} requests

A Service With Its Own Paths, Methods, Fields And Statuses
    [Documentation]    The double's /v2/ dialect, which shares nothing with the
    ...    defaults: the code as a query parameter of a GET, the identity in the
    ...    path and in a nested field of a PUT, the push id and the verdict in
    ...    nested fields, statuses OK/REJECTED/WAITING, the token in X-Api-Key.
    ${code}=    Get Time Based OTP    ${USER_SECRET}
    ${answer}=    Verify OTP With Service    erin smith    ${code}    provider=dialect
    Should Be Equal    ${answer.status}    OK
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'dialect' refused the code for 'erin smith' (status 'REJECTED'): code already used
    ...    Verify OTP With Service    erin smith    ${code}    provider=dialect
    Phone Will Answer Push    erin smith    approve    after_polls=1
    ${answer}=    Request Push Approval    erin smith    provider=dialect    timeout=10
    Should Be Equal    ${answer.status}    OK
    ${requests}=    Mfa Rest Double Requests
    Length Should Be    ${requests}    5
    Should Be Equal    ${requests}[0][method]    GET
    Should Be Equal    ${requests}[0][path]    /v2/users/erin%20smith/otp?code=<code>
    Should Be Equal    ${requests}[2][method]    PUT
    Should Be Equal    ${requests}[2][path]    /v2/users/erin%20smith/push
    Should Be Equal    ${requests}[2][body][who][name]    erin smith
    Should Be Equal    ${requests}[3][path]    /v2/push/${answer.transaction_id}
    FOR    ${request}    IN    @{requests}
        Should Be True    ${request}[authorized]
    END

A Wrong API Token Is A Communication Error, Not A Refusal
    ${code}=    Get Time Based OTP    ${USER_SECRET}
    Run Keyword And Expect Error
    ...    EQUALS:MFACommunicationError: MFA provider 'wrong-token' answered the OTP check with HTTP 401
    ...    Verify OTP With Service    alice    ${code}    provider=wrong-token
    ${requests}=    Mfa Rest Double Requests
    Should Not Be True    ${requests}[0][authorized]

A Malformed Answer Is A Communication Error, Even Where Outages Pass
    Mfa Rest Double Answers Malformed
    FOR    ${provider}    IN    inhouse    lenient
        Run Keyword And Expect Error
        ...    MFACommunicationError: MFA provider '${provider}': the OTP check answer (HTTP 200 OK) is not JSON: *
        ...    Verify OTP With Service    alice    123456    provider=${provider}
        Run Keyword And Expect Error
        ...    MFACommunicationError: MFA provider '${provider}': the push answer (HTTP 200 OK) is not JSON: *
        ...    Request Push Approval    alice    provider=${provider}    timeout=5
    END
    [Teardown]    Mfa Rest Double Answers Malformed    False

A Refusal Never Passes, Even Where Outages Pass
    Phone Will Answer Push    dave    deny
    Run Keyword And Expect Error    MFAAuthenticationFailure: MFA provider 'lenient': 'dave' declined the push*
    ...    Request Push Approval    dave    provider=lenient    timeout=5
    ${code}=    Get Time Based OTP    ${USER_SECRET}
    ${wrong}=    Evaluate    "%06d" % ((int($code) + 500000) % 1000000)
    Run Keyword And Expect Error    MFAAuthenticationFailure: MFA provider 'lenient' refused the code for 'dave'*
    ...    Verify OTP With Service    dave    ${wrong}    provider=lenient

An Unreachable Service Fails, Or Passes With A Warning Where Configured
    Run Keyword And Expect Error    MFAServiceUnreachable: MFA provider 'down': *Connection refused*
    ...    Verify OTP With Service    alice    123456    provider=down
    Run Keyword And Expect Error    MFAServiceUnreachable: MFA provider 'down': *Connection refused*
    ...    Request Push Approval    alice    provider=down    timeout=5
    # Over JSON-RPC to see the keyword's output: the pass carries a warning.
    ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Request Push Approval
    ...    alice    lenient-down    5
    Should Be Equal    ${result}[status]    PASS
    Should Be Equal    ${result}[return][result]    UNREACHABLE
    Should Start With    ${result}[output]    *WARN* MFAServiceUnreachable: MFA provider 'lenient-down':
    Should Contain    ${result}[output]    passed because MFA provider 'lenient-down' has ignore_connection_error = true.

A Stopped Service Is Unreachable
    [Documentation]    Last: the double stays stopped.
    Stop Mfa Rest Double
    Run Keyword And Expect Error    MFAServiceUnreachable: MFA provider 'inhouse': *Connection refused*
    ...    Verify OTP With Service    alice    123456    provider=inhouse
    [Setup]    NONE


*** Keywords ***
Start The Double And The Server
    ${url}=    Start Mfa Rest Double    ${API_TOKEN}    ${USER_SECRET}
    ${closed}=    Evaluate    __import__('socket').create_server(('127.0.0.1', 0)).getsockname()[1]
    Create File    ${TEMPDIR}/rpa-mfa-mfa-rest.json
    ...    {"mfa-api": {"token": "${API_TOKEN}", "wrong": "${WRONG_TOKEN}"}}
    ${config}=    Catenate    SEPARATOR=\n
    ...    [mfa.inhouse]
    ...    kind = "rest"
    ...    url = "${url}"
    ...    token = "mfa-api:token"
    ...    [mfa.inhouse.rest]
    ...    poll_interval = 0.1
    ...    ${EMPTY}
    ...    [mfa.lenient]
    ...    kind = "rest"
    ...    url = "${url}"
    ...    token = "mfa-api:token"
    ...    ignore_connection_error = true
    ...    [mfa.lenient.rest]
    ...    poll_interval = 0.1
    ...    ${EMPTY}
    ...    [mfa.dialect]
    ...    kind = "rest"
    ...    url = "${url}/v2"
    ...    token = "mfa-api:token"
    ...    [mfa.dialect.rest]
    ...    token_header = "X-Api-Key"
    ...    token_prefix = ""
    ...    otp_method = "GET"
    ...    otp_path = "users/{identity}/otp"
    ...    otp_identity_field = "user"
    ...    otp_code_field = "code"
    ...    push_method = "PUT"
    ...    push_path = "users/{identity}/push"
    ...    push_identity_field = "who.name"
    ...    push_id_field = "push.id"
    ...    poll_path = "push/{id}"
    ...    poll_interval = 0.1
    ...    status_field = "result.state"
    ...    message_field = "result.reason"
    ...    approved = ["OK"]
    ...    denied = ["REJECTED"]
    ...    pending = ["WAITING"]
    ...    ${EMPTY}
    ...    [mfa.wrong-token]
    ...    kind = "rest"
    ...    url = "${url}"
    ...    token = "mfa-api:wrong"
    ...    ${EMPTY}
    ...    [mfa.down]
    ...    kind = "rest"
    ...    url = "http://127.0.0.1:${closed}"
    ...    token = "mfa-api:token"
    ...    ${EMPTY}
    ...    [mfa.lenient-down]
    ...    kind = "rest"
    ...    url = "http://127.0.0.1:${closed}"
    ...    token = "mfa-api:token"
    ...    ignore_connection_error = true
    Create File    ${TEMPDIR}/rpa-mfa-mfa-rest.toml    ${config}
    Start Server And Import It As MFA    --config    ${TEMPDIR}/rpa-mfa-mfa-rest.toml
    ...    --vault    file:${TEMPDIR}/rpa-mfa-mfa-rest.json

Stop Everything
    Stop All Rpa Mfa Servers
    Stop All Mfa Rest Doubles
