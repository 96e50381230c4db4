*** Settings ***
Documentation     Identity platform sessions across a fleet: three rpa-mfa servers
...               sharing one real Redis (RedisServers.py) and the identity double.
...               Twelve robots asking the three servers at once for a session
...               make one login with one push to the user's phone, counted by the
...               double; the session is then handed out by every server from the
...               store.
Resource          resources/fleet.resource
Library           resources/IdentityDouble.py
Suite Setup       Start An Identity Fleet
Suite Teardown    Stop The Identity Fleet
Test Tags         fleet    redis    identity


*** Variables ***
${PUSH_USER}          push@corp.test
${PUSH_PASSWORD}      idp-push-pw-Hd4Nc6Zs


*** Test Cases ***
Twelve Robots On Three Servers Make One Login With One Push
    ${before}=    Identity Double Stats
    Answer Next Push In Background    approve
    VAR    @{urls}    ${A}/RPC2    ${B}/RPC2    ${C}/RPC2
    ${distinct}=    Get Identity Session Tokens At Once    ${urls}    push    calls=12
    Push Should Have Been Answered
    Should Be Equal As Integers    ${distinct}    1
    ${after}=    Identity Double Stats
    Should Be Equal As Integers    ${after.starts}    ${before.starts + 1}
    Should Be Equal As Integers    ${after.pushes}    ${before.pushes + 1}
    # Every server hands out the stored session, with no new login.
    ${again}=    Get Identity Session Tokens At Once    ${urls}    push    calls=3
    Should Be Equal As Integers    ${again}    1
    ${last}=    Identity Double Stats
    Should Be Equal As Integers    ${last.starts}    ${after.starts}


*** Keywords ***
Start An Identity Fleet
    ${redis}=    Shared Redis
    Write The Fleet's State Key
    ${push}=    Create Dictionary    password=${PUSH_PASSWORD}    challenges=${{[["UP"], ["PUSH"]]}}
    ${users}=    Create Dictionary    ${PUSH_USER}=${push}
    ${config}=    Create Dictionary    users=${users}
    ${idp}=    Start Identity Double    ${config}
    # The fleet's vault file (fleet.resource) holds the password too.
    Write Vault File    ${DIR}/vault.json    idp    push=${PUSH_PASSWORD}
    ${toml}=    Catenate    SEPARATOR=\n
    ...    [identities.push]
    ...    tenant_url = "${idp.url}"
    ...    user = "${PUSH_USER}"
    ...    password = "idp:push"
    ...    poll_interval = 0.2
    ...    poll_timeout = 30
    Create File    ${DIR}/identities.toml    ${toml}
    FOR    ${name}    IN    A    B    C
        ${port}=    Start Rpa Mfa Server    --state    ${redis.url}    @{FLEET_STATE}
        ...    --config    ${DIR}/identities.toml    alias=${name}
        Set Suite Variable    \${${name}}    http://127.0.0.1:${port}
    END

Stop The Identity Fleet
    Run Keyword And Ignore Error    Save Metrics    ${A}/metrics
    ...    ${OUTPUT DIR}/metrics-identity-fleet.txt
    Stop All Rpa Mfa Servers
    Stop All Identity Doubles
    Forget The Fleet's State Key
