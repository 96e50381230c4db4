*** Settings ***
Documentation     Challenge-driven identity logins (CyberArk Identity style) against a
...               test double that follows the platform's wire protocol
...               (resources/identity_double.py): a password from the vault, then an
...               OTP code the double checks with pyotp, then a push the test approves
...               or denies (or leaves unanswered); a tenant redirect to a second
...               "pod"; the session cached and reused (the double counts logins);
...               a refresh; the service-user path; refusal, malformed answers and an
...               unreachable platform kept apart; an identity's allow list.
Resource          resources/common.resource
Library           Collections
Library           OperatingSystem
Library           resources/Ops.py
Library           resources/IdentityDouble.py
Suite Setup       Start Platform And Server
Suite Teardown    Stop Everything
Test Tags         identity


*** Variables ***
${ROBOT_USER}         robot@corp.test
${ROBOT_PASSWORD}     idp-pw-Vq8Lm2Xt
${ROBOT_TOTP}         KRUGS4ZANFZSAYJAORSXG5BAONSWG4TFOQQQ
${NS_USER}            ns@corp.test
${NS_PASSWORD}        idp-ns-pw-Rw3Yk7Pd
${NS_TOTP}            MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43UOV3Q
${PUSH_USER}          push@corp.test
${PUSH_PASSWORD}      idp-push-pw-Hd4Nc6Zs
${MOVED_USER}         moved@corp.test
${MOVED_PASSWORD}     idp-moved-pw-Gt5Bx9Qe
${SERVICE_USER}       deploy-bot@corp.test
${SERVICE_SECRET}     idp-svc-secret-Kp2Wz8Rn
${SERVICE_APP}        rpa-app
${FAILED}             Authentication (login or challenge) has failed. Please try again or contact your system administrator.


*** Test Cases ***
Password Then OTP Then An Approved Push Log In
    ${before}=    Identity Double Stats
    Answer Next Push In Background    approve
    ${token}=    Log In To Identity Platform    corp
    Push Should Have Been Answered
    Identity Token Should Belong To    ${token}    ${ROBOT_USER}
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.logins}    ${before.logins + 1}
    Should Be Equal As Integers    ${after.pushes}    ${before.pushes + 1}
    VAR    ${CORP_TOKEN}    ${token}    scope=SUITE

The Session Is Reused From The Cache Without A New Login
    ${before}=    Identity Double Stats
    ${token}=    Get Identity Session Token    corp
    Should Be Equal    ${token}    ${CORP_TOKEN}
    ${again}=    Get Identity Session Token    corp
    Should Be Equal    ${again}    ${CORP_TOKEN}
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.starts}    ${before.starts}

A Refresh Renews The Session Without A Login
    ${before}=    Identity Double Stats
    ${token}=    Refresh Identity Session    corp
    Should Not Be Equal    ${token}    ${CORP_TOKEN}
    Identity Token Should Belong To    ${token}    ${ROBOT_USER}
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.refreshes}    ${before.refreshes + 1}
    Should Be Equal As Integers    ${after.starts}    ${before.starts}
    ${cached}=    Get Identity Session Token    corp
    Should Be Equal    ${cached}    ${token}
    VAR    ${CORP_TOKEN}    ${token}    scope=SUITE

A Restarted Server Reuses The Stored Session
    ${before}=    Identity Double Stats
    Stop Rpa Mfa Server    alias=first
    Start The Server    restarted
    ${token}=    Get Identity Session Token    corp
    Should Be Equal    ${token}    ${CORP_TOKEN}
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.starts}    ${before.starts}
    Should Be Equal As Integers    ${after.refreshes}    ${before.refreshes}

The OTP Comes From The Namespace's Secret When The Identity Names None
    Set Time Based OTP    ${NS_TOTP}
    ${token}=    Log In To Identity Platform    corp-ns
    Identity Token Should Belong To    ${token}    ${NS_USER}

A Second Login Within One Period Waits For A Fresh Code
    [Documentation]    The double accepts each code once, as real platforms do:
    ...    a second login right away must wait for the next period's code.
    Set Time Based OTP    ${NS_TOTP}
    ${first}=    Log In To Identity Platform    corp-ns
    ${second}=    Log In To Identity Platform    corp-ns
    Should Not Be Equal    ${first}    ${second}
    Identity Token Should Belong To    ${second}    ${NS_USER}

A Denied Push Is A Refusal
    Answer Next Push In Background    deny
    Run Keyword And Expect Error    MFAAuthenticationFailure: *${FAILED}
    ...    Log In To Identity Platform    push
    Push Should Have Been Answered

An Unanswered Push Times Out As A Refusal
    Run Keyword And Expect Error
    ...    MFAAuthenticationFailure: Timeout reached while polling for user answer: Identity 'push-short', challenge 2, OTP not answered within 1.5 s.
    ...    Log In To Identity Platform    push-short

Ten Robots At Once Make One Login With One Push
    # The denied push of a test before is every caller's answer for 5 s;
    # forgetting the session forgets that too.
    ${had}=    Forget Identity Session    push
    Should Be True    ${had}
    ${before}=    Identity Double Stats
    Answer Next Push In Background    approve
    ${distinct}=    Get Identity Session Tokens At Once    ${SERVER_URL}    push    calls=10
    ...    user=alice    password=${ALICE_PASSWORD}
    Push Should Have Been Answered
    Should Be Equal As Integers    ${distinct}    1
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.logins}    ${before.logins + 1}
    Should Be Equal As Integers    ${after.pushes}    ${before.pushes + 1}

The Login Follows A Tenant Redirect To Its Pod
    ${a_before}=    Identity Double Stats
    ${b_before}=    Identity Double Stats    alias=pod-b
    ${token}=    Log In To Identity Platform    moved
    Identity Token Should Belong To    ${token}    ${MOVED_USER}    alias=pod-b
    ${a_after}=    Identity Double Stats
    ${b_after}=    Identity Double Stats    alias=pod-b
    Should Be Equal As Integers    ${a_after.starts}    ${a_before.starts + 1}
    Should Be Equal As Integers    ${a_after.logins}    ${a_before.logins}
    Should Be Equal As Integers    ${b_after.logins}    ${b_before.logins + 1}

A Service User Logs In With Client Credentials And The Authorize Redirect
    ${before}=    Identity Double Stats
    ${token}=    Log In To Identity Platform As Service User    service
    Identity Token Should Belong To    ${token}    ${SERVICE_USER}
    ${cached}=    Get Identity Session Token    service
    Should Be Equal    ${cached}    ${token}
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.service_logins}    ${before.service_logins + 1}
    Run Keyword And Expect Error
    ...    ValueError: Identity 'corp' has no service_user; use `Log In To Identity Platform`.
    ...    Log In To Identity Platform As Service User    corp

A Wrong Password Or Service Secret Is A Refusal
    Run Keyword And Expect Error    MFAAuthenticationFailure: *${FAILED}
    ...    Log In To Identity Platform    wrong-password
    Run Keyword And Expect Error
    ...    MFAAuthenticationFailure: ${IDP.url}/Oauth2/Token/${SERVICE_APP} refused service user '${SERVICE_USER}' (HTTP 401).
    ...    Log In To Identity Platform As Service User    wrong-service

A Mechanism Rpa-mfa Cannot Answer Is A Communication Error
    Run Keyword And Expect Error
    ...    MFACommunicationError: Identity 'u2f': challenge 2 offers U2F, none of which rpa-mfa can answer with this identity's settings (mechanisms: UP, OATH, OTP, PF, SMS, EMAIL).
    ...    Log In To Identity Platform    u2f

Malformed Answers Are Communication Errors
    Run Keyword And Expect Error
    ...    MFACommunicationError: Identity 'no-challenges': StartAuthentication answered neither challenges nor a tenant redirect.
    ...    Log In To Identity Platform    no-challenges
    Run Keyword And Expect Error
    ...    MFACommunicationError: ${IDP.url}/Security/StartAuthentication answered HTTP 200 with something that is not JSON.
    ...    Log In To Identity Platform    not-json

An Unreachable Platform Is Told Apart
    Run Keyword And Expect Error    MFAServiceUnreachable: http://127.0.0.1:1/Security/StartAuthentication: cannot connect: *
    ...    Get Identity Session Token    down
    # The server keeps serving.
    ${token}=    Get Identity Session Token    service
    Should Not Be Empty    ${token}

A Pinned User Is Refused An Identity Outside Its Allow List
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use identity 'corp'.
    ...    ${BOT}.Get Identity Session Token    corp
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use identity 'service'.
    ...    ${BOT}.Log In To Identity Platform As Service User    service
    Run Keyword And Expect Error    ValueError: No identity 'nope'; the server has: *
    ...    Get Identity Session Token    nope


*** Keywords ***
Start Platform And Server
    ${dir}=    New Temp Dir
    VAR    ${DIR}    ${dir}    scope=SUITE
    ${moved}=    Create Dictionary    password=${MOVED_PASSWORD}    challenges=${{[["UP"]]}}
    ${pod_users}=    Create Dictionary    ${MOVED_USER}=${moved}
    ${pod_config}=    Create Dictionary    users=${pod_users}    tenant_id=POD-B-77
    ${pod}=    Start Identity Double    ${pod_config}    alias=pod-b
    ${robot}=    Create Dictionary    password=${ROBOT_PASSWORD}    totp=${ROBOT_TOTP}
    ...    challenges=${{[["UP"], ["SMS", "OTP"], ["PUSH"]]}}
    ${ns}=    Create Dictionary    password=${NS_PASSWORD}    totp=${NS_TOTP}
    ...    challenges=${{[["UP"], ["OTP"]]}}
    ${push}=    Create Dictionary    password=${PUSH_PASSWORD}    challenges=${{[["UP"], ["PUSH"]]}}
    ${u2f}=    Create Dictionary    password=${PUSH_PASSWORD}    challenges=${{[["UP"], ["U2F"]]}}
    ${redirect}=    Create Dictionary    pod=${pod.host}
    ${no_challenges}=    Create Dictionary    broken=no-challenges
    ${not_json}=    Create Dictionary    broken=not-json
    ${users}=    Create Dictionary    ${ROBOT_USER}=${robot}    ${NS_USER}=${ns}
    ...    ${PUSH_USER}=${push}    u2f@corp.test=${u2f}    ${MOVED_USER}=${redirect}
    ...    broken@corp.test=${no_challenges}    html@corp.test=${not_json}
    ${service}=    Create Dictionary    secret=${SERVICE_SECRET}    app=${SERVICE_APP}
    ${services}=    Create Dictionary    ${SERVICE_USER}=${service}
    ${config}=    Create Dictionary    users=${users}    service_users=${services}
    ...    tenant_id=ABC1234
    ${idp}=    Start Identity Double    ${config}
    VAR    ${IDP}    ${idp}    scope=SUITE
    VAR    ${VAULT}    ${dir}/vault.json    scope=SUITE
    Write Vault File    ${VAULT}    rpa-users    alice=${ALICE_PASSWORD}    bot7=${BOT_PASSWORD}
    Write Vault File    ${VAULT}    idp    robot=${ROBOT_PASSWORD}    totp=${ROBOT_TOTP}
    ...    ns=${NS_PASSWORD}    push=${PUSH_PASSWORD}    moved=${MOVED_PASSWORD}
    ...    service=${SERVICE_SECRET}    wrong=not-the-password-4711
    Write Identities Config
    Start The Server

Start The Server
    [Documentation]    Starts rpa-mfa on the suite's state store; keywords without
    ...    a prefix go to it as alice, ``${BOT}.`` ones as bot7 (pinned to bot-7).
    [Arguments]    ${alias}=first
    ${port}=    Start Rpa Mfa Server    --config    ${DIR}/identities.toml    --vault    file:${VAULT}
    ...    --state    sqlite:${DIR}/state.db    --users-secret    rpa-users    --pin    bot7\=bot-7
    ...    alias=${alias}
    VAR    ${SERVER_URL}    http://127.0.0.1:${port}/RPC2    scope=SUITE
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    alice-${alias}
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${port}/ns/bot-7    AS    bot-${alias}
    VAR    ${BOT}    bot-${alias}    scope=SUITE
    Set Library Search Order    alice-${alias}

Write Identities Config
    ${config}=    Catenate    SEPARATOR=\n
    ...    [identities.corp]
    ...    tenant_url = "${IDP.url}"
    ...    user = "${ROBOT_USER}"
    ...    password = "idp:robot"
    ...    totp_secret = "idp:totp"
    ...    poll_interval = 0.2
    ...    poll_timeout = 30
    ...    allow = ["alice"]
    ...    ${EMPTY}
    ...    [identities.corp-ns]
    ...    tenant_url = "${IDP.url}"
    ...    user = "${NS_USER}"
    ...    password = "idp:ns"
    ...    ${EMPTY}
    ...    [identities.push]
    ...    tenant_url = "${IDP.url}"
    ...    user = "${PUSH_USER}"
    ...    password = "idp:push"
    ...    poll_interval = 0.2
    ...    poll_timeout = 30
    ...    ${EMPTY}
    ...    [identities.push-short]
    ...    tenant_url = "${IDP.url}"
    ...    user = "${PUSH_USER}"
    ...    password = "idp:push"
    ...    poll_interval = 0.2
    ...    poll_timeout = 1.5
    ...    ${EMPTY}
    ...    [identities.moved]
    ...    tenant_url = "${IDP.url}"
    ...    user = "${MOVED_USER}"
    ...    password = "idp:moved"
    ...    ${EMPTY}
    ...    [identities.service]
    ...    tenant_url = "${IDP.url}"
    ...    service_user = "${SERVICE_USER}"
    ...    service_secret = "idp:service"
    ...    service_app = "${SERVICE_APP}"
    ...    allow = ["alice"]
    ...    ${EMPTY}
    ...    [identities.wrong-service]
    ...    tenant_url = "${IDP.url}"
    ...    service_user = "${SERVICE_USER}"
    ...    service_secret = "idp:wrong"
    ...    service_app = "${SERVICE_APP}"
    ...    ${EMPTY}
    ...    [identities.wrong-password]
    ...    tenant_url = "${IDP.url}"
    ...    user = "${ROBOT_USER}"
    ...    password = "idp:wrong"
    ...    ${EMPTY}
    ...    [identities.u2f]
    ...    tenant_url = "${IDP.url}"
    ...    user = "u2f@corp.test"
    ...    password = "idp:push"
    ...    ${EMPTY}
    ...    [identities.no-challenges]
    ...    tenant_url = "${IDP.url}"
    ...    user = "broken@corp.test"
    ...    ${EMPTY}
    ...    [identities.not-json]
    ...    tenant_url = "${IDP.url}"
    ...    user = "html@corp.test"
    ...    ${EMPTY}
    ...    [identities.down]
    ...    tenant_url = "http://127.0.0.1:1"
    ...    user = "${ROBOT_USER}"
    ...    password = "idp:robot"
    Create File    ${DIR}/identities.toml    ${config}

Stop Everything
    Run Keyword And Ignore Error    Stop All Rpa Mfa Servers
    Stop All Identity Doubles
