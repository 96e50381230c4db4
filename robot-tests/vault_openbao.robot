*** Settings ***
Documentation     The vault+http(s):// backend against a real OpenBao (dev
...               mode): secrets read, written and listed through the server,
...               codes from a secret kept there, check-and-set under
...               concurrent writers, AppRole with token renewal, TLS with
...               VAULT_CACERT, and each failure's own message: wrong token,
...               missing path, sealed, stopped. Named vaults, allow lists and
...               the server's own secrets (users, state key) in OpenBao.
Resource          resources/common.resource
Library           OperatingSystem
Library           Collections
Library           resources/OpenBao.py
Library           resources/Concurrency.py
Suite Setup       Start OpenBao And The Server
Suite Teardown    Stop Everything
Test Tags         vault    openbao


*** Variables ***
# The root token of the dev servers and a wrong one; scripts/test.sh scans
# every log and output.xml for both (and for the tokens OpenBao.py lists).
${BAO_TOKEN}      bao-root-Zx8Qm2Lp5Wn
${WRONG_TOKEN}    bao-wrong-Hk3Rt7Vy1Q
# A state key (32 bytes, base64) kept in OpenBao, as a fleet would.
${STATE_KEY}      q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=
${REFUSED}        (403 permission denied: the token is wrong or expired, or its policy does not cover this path)


*** Test Cases ***
Secrets Are Written, Read And Listed Through The Server
    &{values}=    Create Dictionary    username=robot    password=pw-1
    Set Secret    swaglabs    ${values}    vault=bao
    Openbao Secret Should Be    swaglabs    username=robot    password=pw-1
    ${got}=    Get Secret    swaglabs    vault=bao
    Should Be Equal    ${got.username}    robot
    Should Be Equal    ${got}[password]    pw-1
    Dictionary Should Not Contain Key    ${got}    name
    # Set Secret keeps the keys it is not given, as one new version.
    ${before}=    Openbao Secret Version    swaglabs
    &{more}=    Create Dictionary    password=pw-2    token=t-3
    Set Secret    swaglabs    ${more}    vault=bao
    Openbao Secret Should Be    swaglabs    username=robot    password=pw-2    token=t-3
    ${after}=    Openbao Secret Version    swaglabs
    Should Be Equal As Integers    ${after}    ${before + 1}
    ${names}=    Run Rpa Mfa    vault    --vault    bao\=${BAO_SPEC}    list    bao
    Should Contain    ${names.split()}    swaglabs
    Should Contain    ${names.split()}    mfa

Codes Come From A Secret Kept In OpenBao
    Use MFA Secret From Vault    mfa    otpsecret    vault=bao
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    ${cli}=    Run Rpa Mfa    otp    --vault    bao\=${BAO_SPEC}
    ...    --from-vault    bao/mfa:otpsecret    --time    1700000000
    Should Be Equal    ${cli}    ${expected}

A Missing Path Or Key Is RPA's KeyError
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nothere'
    ...    Get Secret    nothere    vault=bao
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nothere'
    ...    Use MFA Secret From Vault    nothere    otpsecret    vault=bao
    Run Keyword And Expect Error    EQUALS:KeyError: 'nokey'
    ...    Use MFA Secret From Vault    mfa    nokey    vault=bao
    Run Keyword And Expect Error    EQUALS:VaultError: no vault named 'nope' is configured; add --vault nope=SPEC
    ...    Get Secret    mfa    vault=nope

The Default Vault Stays The Unnamed One
    ${got}=    Get Secret    local
    Should Be Equal    ${got.otpsecret}    ${SHORT_SECRET}
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: local'
    ...    Get Secret    local    vault=bao

A Wrong Token Gets Its Own Message And The Server Serves Anyway
    ${port}=    Start Rpa Mfa Server    --vault    bao\=${BAO_SPEC}
    ...    alias=wrongtoken    VAULT_TOKEN=${WRONG_TOKEN}
    Import Library    Remote    http://127.0.0.1:${port}    AS    Wrong
    Run Keyword And Expect Error
    ...    EQUALS:VaultError: the vault at vault+${BAO_URL}/secret refused the token for secret 'mfa' ${REFUSED}
    ...    Wrong.Get Secret    mfa    vault=bao
    ${code}=    Wrong.Get Counter Based OTP    4    ${RFC_SEED}
    Should Be Equal    ${code}    338314    # RFC 4226 Appendix D
    ${log}=    Rpa Mfa Server Log File    wrongtoken
    ${text}=    Get File    ${log}
    Should Contain    ${text}    vault not usable now, keywords needing it fail until it is: the vault at vault+${BAO_URL}/secret refused the token ${REFUSED}
    Should Not Contain    ${text}    ${WRONG_TOKEN}

A Pinned User Is Refused A Vault Outside Its Allow List
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/teamA    AS    Bot
    Run Keyword And Expect Error    EQUALS:PermissionError: User 'bot7' may not use vault 'bao'.
    ...    Bot.Get Secret    mfa    vault=bao
    Run Keyword And Expect Error    EQUALS:PermissionError: User 'bot7' may not use vault 'bao'.
    ...    Bot.Use MFA Secret From Vault    mfa    otpsecret    vault=bao
    &{values}=    Create Dictionary    k=v
    Run Keyword And Expect Error    EQUALS:PermissionError: User 'bot7' may not use vault 'bao'.
    ...    Bot.Set Secret    mfa    ${values}    vault=bao
    Openbao Secret Should Be    mfa    otpsecret=${SECRET}

Get Secret And Set Secret Never Reach The Server's Own Secrets
    FOR    ${name}    IN    users    fleet
        Run Keyword And Expect Error
        ...    EQUALS:PermissionError: Secret '${name}' holds the server's own credentials; no keyword may read or write it.
        ...    Get Secret    ${name}    vault=bao
        Run Keyword And Expect Error    PermissionError: Secret '${name}' holds*
        ...    Get Secret    ${name}
        Run Keyword And Expect Error    PermissionError: Secret '${name}' holds*
        ...    Use MFA Secret From Vault    ${name}    key    vault=bao
        &{values}=    Create Dictionary    key=overwritten
        Run Keyword And Expect Error    PermissionError: Secret '${name}' holds*
        ...    Set Secret    ${name}    ${values}    vault=bao
    END
    Openbao Secret Should Be    fleet    key=${STATE_KEY}

Concurrent Set Secret Writers Lose No Update
    ${passed}=    Set Secrets In Parallel
    ...    http://alice:${ALICE_PASSWORD}@127.0.0.1:${PORT}    shared    bao    writers=8    writes=5
    Should Be Equal As Integers    ${passed}    40
    ${keys}=    Openbao Secret Keys    shared
    Length Should Be    ${keys}    40
    ${version}=    Openbao Secret Version    shared
    Should Be Equal As Integers    ${version}    40    one version per write, none overwritten

A Sealed OpenBao Gets Its Own Message
    Seal Openbao
    Run Keyword And Expect Error
    ...    EQUALS:VaultError: the vault at vault+${BAO_URL}/secret is sealed; unseal it (bao operator unseal / vault operator unseal)
    ...    Get Secret    mfa    vault=bao
    Unseal Openbao
    ${got}=    Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}

A Stopped OpenBao Is Unreachable, The Server Keeps Serving, Then Works Again
    Stop Openbao
    Run Keyword And Expect Error
    ...    EQUALS:VaultError: cannot reach the vault at vault+${BAO_URL}/secret: Connection refused (os error 111)
    ...    Get Secret    mfa    vault=bao
    ${code}=    Get Counter Based OTP    4    ${RFC_SEED}
    Should Be Equal    ${code}    338314
    Restart Openbao
    Put Secrets Into OpenBao
    ${got}=    Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}

A Server Started While Its Vault Is Down Warns, Then Works Once It Is Up
    ${bao_port}=    Free Loopback Port
    ${port}=    Start Rpa Mfa Server    --vault    late\=vault+http://127.0.0.1:${bao_port}/secret
    ...    alias=late
    Import Library    Remote    http://127.0.0.1:${port}    AS    Late
    ${log}=    Rpa Mfa Server Log File    late
    ${text}=    Get File    ${log}
    Should Contain    ${text}    vault not usable now, keywords needing it fail until it is: cannot reach the vault at vault+http://127.0.0.1:${bao_port}/secret
    Run Keyword And Expect Error    VaultError: cannot reach the vault at*
    ...    Late.Get Secret    mfa    vault=late
    Start Openbao    ${BAO_TOKEN}    alias=late    port=${bao_port}
    Put Openbao Secret    mfa    alias=late    otpsecret=${SECRET}
    ${got}=    Late.Get Secret    mfa    vault=late
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    [Teardown]    Stop Openbao    late

AppRole Logs In, Renews Its Token And Logs In Again Past Its Lifetime
    ${files}=    Create Openbao Approle    token_ttl=4s    token_max_ttl=9s
    ${port}=    Start Rpa Mfa Server    --vault    bao\=${BAO_SPEC}    alias=approle
    ...    VAULT_TOKEN=${EMPTY}    VAULT_ROLE_ID_FILE=${files}[0]    VAULT_SECRET_ID_FILE=${files}[1]
    Import Library    Remote    http://127.0.0.1:${port}    AS    AppRole
    ${log}=    Rpa Mfa Server Log File    approle
    Log Should Show    ${log}    vault AppRole login    1
    ${got}=    AppRole.Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    # Renewed at two thirds of each 4 s lease: the second renewal is past
    # the first token's original lifetime.
    Wait Until Keyword Succeeds    20s    200ms    Log Should Show    ${log}    vault token renewed    2
    ${got}=    AppRole.Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    # At its 9 s maximum the token cannot be renewed: a new login.
    Wait Until Keyword Succeeds    20s    200ms    Log Should Show    ${log}    vault AppRole login    2
    ${got}=    AppRole.Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    # A token the operator revoked is refused once, then replaced.
    Revoke Openbao Approle Tokens
    ${got}=    AppRole.Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    Log Should Show    ${log}    vault AppRole login    3

A Given Renewable Token Is Renewed Before Its Lease Ends
    [Documentation]    A token with a 3 s lease and a 14 s maximum, given in a
    ...    file: the server renews it at two thirds of each lease, reads after
    ...    several leases, and warns once the maximum lifetime is near.
    ${file}=    Create Openbao Token File    ttl=3s    explicit_max_ttl=14s
    ${port}=    Start Rpa Mfa Server    --vault    bao\=${BAO_SPEC}?token_file\=${file}
    ...    alias=given    VAULT_TOKEN=${EMPTY}
    Import Library    Remote    http://127.0.0.1:${port}    AS    Given
    ${log}=    Rpa Mfa Server Log File    given
    ${got}=    Given.Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    Wait Until Keyword Succeeds    10s    200ms    Log Should Show    ${log}
    ...    vault token is renewable; renewing it before its lease ends    1
    # Three renewals: the token is past three of its 3 s leases.
    Wait Until Keyword Succeeds    20s    200ms    Log Should Show    ${log}    vault token renewed    3
    ${got}=    Given.Get Secret    mfa    vault=bao
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    # Near its 14 s maximum a renewal gives a lease too short to renew
    # again: a warning, then the token expires and the vault refuses it.
    Wait Until Keyword Succeeds    20s    200ms    Log Should Show    ${log}
    ...    vault token at its maximum lifetime; it expires soon, give the server a new token    1
    Wait Until Keyword Succeeds    10s    200ms    Run Keyword And Expect Error
    ...    EQUALS:VaultError: the vault at vault+${BAO_URL}/secret refused the token for secret 'mfa' ${REFUSED}
    ...    Given.Get Secret    mfa    vault=bao

A TLS OpenBao Is Trusted Through VAULT_CACERT Or The ca Option
    ${url}=    Start Openbao    ${BAO_TOKEN}    alias=tls    tls=True
    ${ca}=    Openbao Ca File    tls
    Put Openbao Secret    mfa    alias=tls    otpsecret=${SECRET}
    ${port}=    Start Rpa Mfa Server    --vault    tls\=vault+${url}/secret    alias=tls_env
    ...    VAULT_CACERT=${ca}
    Import Library    Remote    http://127.0.0.1:${port}    AS    TlsEnv
    ${got}=    TlsEnv.Get Secret    mfa    vault=tls
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    ${port}=    Start Rpa Mfa Server    --vault    tls\=vault+${url}/secret?ca\=${ca}    alias=tls_option
    Import Library    Remote    http://127.0.0.1:${port}    AS    TlsOption
    ${got}=    TlsOption.Get Secret    mfa    vault=tls
    Should Be Equal    ${got.otpsecret}    ${SECRET}
    ${port}=    Start Rpa Mfa Server    --vault    tls\=vault+${url}/secret    alias=tls_none
    Import Library    Remote    http://127.0.0.1:${port}    AS    TlsNone
    Run Keyword And Expect Error    VaultError: cannot reach the vault at vault+${url}/secret: invalid peer certificate: UnknownIssuer
    ...    TlsNone.Get Secret    mfa    vault=tls
    [Teardown]    Stop Openbao    tls


*** Keywords ***
Start OpenBao And The Server
    ${url}=    Start Openbao    ${BAO_TOKEN}
    VAR    ${BAO_URL}    ${url}    scope=SUITE
    VAR    ${BAO_SPEC}    vault+${url}/secret    scope=SUITE
    Put Secrets Into OpenBao
    Put Openbao Secret    users    alice=${ALICE_PASSWORD}    bot7=${BOT_PASSWORD}
    Put Openbao Secret    fleet    key=${STATE_KEY}
    Export Vault Token    ${BAO_TOKEN}
    Create File    ${TEMPDIR}/rpa-mfa-openbao-default.json    {"local": {"otpsecret": "${SHORT_SECRET}"}}
    ${port}=    Start Rpa Mfa Server
    ...    --vault    file:${TEMPDIR}/rpa-mfa-openbao-default.json
    ...    --vault    bao\=${BAO_SPEC}
    ...    --users-secret    bao/users    --pin    bot7\=teamA    --vault-allow    bao\=alice
    ...    --state-key    bao/fleet:key
    VAR    ${PORT}    ${port}    scope=SUITE
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    MFA
    Set Library Search Order    MFA

Put Secrets Into OpenBao
    Put Openbao Secret    mfa    otpsecret=${SECRET}

Stop Everything
    Stop All Rpa Mfa Servers
    Stop All Openbao Servers
    Remove Vault Token

Log Should Show
    [Documentation]    Fails unless the server log ``${log}`` holds ``${line}`` exactly ``${times}`` times.
    [Arguments]    ${log}    ${line}    ${times}
    ${text}=    Get File    ${log}
    ${count}=    Get Count    ${text}    ${line}
    Should Be Equal As Integers    ${count}    ${times}

Free Loopback Port
    ${port}=    Evaluate    __import__('socket').create_server(('127.0.0.1', 0)).getsockname()[1]
    RETURN    ${port}
