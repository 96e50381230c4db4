*** Settings ***
Documentation     Use MFA Secret From Vault against FileSecrets JSON and YAML
...               files and environment variables, and the server's --secret.
Resource          resources/common.resource
Library           OperatingSystem
Suite Setup       Create Vaults And Start
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         vault


*** Variables ***
${MODE_ERROR}     ValueError: Argument 'mode' got value 'bogus' that cannot be converted to OTPMode: OTPMode does not have member 'bogus'. Available: 'COUNTER' and 'TIME'


*** Test Cases ***
Time Based Secret From A JSON Vault
    Use MFA Secret From Vault    mfa    otpsecret
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}

Counter Based Secret With Any Spelling Of The Mode
    FOR    ${mode}    IN    COUNTER    counter    Counter    ${SPACE}coun_ter
        Use MFA Secret From Vault    mfa    hotpsecret    mode=${mode}
        ${code}=    Get Counter Based OTP    4
        Should Be Equal    ${code}    338314    # RFC 4226 Appendix D
    END

Vault Misses And Bad Modes Fail Like RPA.MFA And Keep The Secret
    Use MFA Secret From Vault    mfa    otpsecret
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nothere'
    ...    Use MFA Secret From Vault    nothere    otpsecret
    Run Keyword And Expect Error    EQUALS:KeyError: 'nokey'
    ...    Use MFA Secret From Vault    mfa    nokey
    Run Keyword And Expect Error    EQUALS:${MODE_ERROR}
    ...    Use MFA Secret From Vault    mfa    otpsecret    bogus
    Run Keyword And Expect Error    EQUALS:Non-base32 digit found
    ...    Use MFA Secret From Vault    mfa    notbase32
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}

Otpauth URI Stored In The Vault
    Use MFA Secret From Vault    mfa    uri
    ${code}=    Get Time Based OTP    at=59
    ${expected}=    Oathtool Totp    ${SECRET}    59    algorithm=SHA512    digits=8
    Should Be Equal    ${code}    ${expected}

Edits To The Vault File Apply Without A Restart
    ${vault}=    Set Variable    file:${TEMPDIR}/rpa-mfa-edit.json
    Create File    ${TEMPDIR}/rpa-mfa-edit.json    {"mfa": {"otpsecret": "${SHORT_SECRET}"}}
    ${port}=    Start Rpa Mfa Server    --vault    ${vault}    alias=edit
    Import Library    Remote    http://127.0.0.1:${port}    AS    Edit
    Edit.Use MFA Secret From Vault    mfa    otpsecret    mode=COUNTER
    ${code}=    Edit.Get Counter Based OTP    0
    ${expected}=    Oathtool Hotp    ${SHORT_SECRET}    0
    Should Be Equal    ${code}    ${expected}
    # Written by the command line, atomically, while the server runs.
    Run Rpa Mfa    vault    --vault    ${vault}    set    mfa    otpsecret    stdin=${RFC_SEED}
    ${stored}=    Run Rpa Mfa    vault    --vault    ${vault}    get    mfa    otpsecret
    Should Be Equal    ${stored}    ${RFC_SEED}
    Edit.Use MFA Secret From Vault    mfa    otpsecret    mode=COUNTER
    ${code}=    Edit.Get Counter Based OTP    0
    Should Be Equal    ${code}    755224
    [Teardown]    Stop Rpa Mfa Server    alias=edit

YAML Vault And RPA_SECRET_FILE
    ${port}=    Start Rpa Mfa Server    alias=yaml    RPA_SECRET_FILE=${TEMPDIR}/rpa-mfa-vault.yaml
    Import Library    Remote    http://127.0.0.1:${port}    AS    Yaml
    Yaml.Use MFA Secret From Vault    mfa    otpsecret
    ${code}=    Yaml.Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SHORT_SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    [Teardown]    Stop Rpa Mfa Server    alias=yaml

Environment Variable Vault
    ${port}=    Start Rpa Mfa Server    --vault    env:    alias=env
    ...    RPA_MFA_SECRET_MFA_OTPSECRET=${RFC_SEED}
    Import Library    Remote    http://127.0.0.1:${port}    AS    Env
    Env.Use MFA Secret From Vault    mfa    otpsecret    mode=COUNTER
    ${code}=    Env.Get Counter Based OTP    1
    Should Be Equal    ${code}    287082
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: other'
    ...    Env.Use MFA Secret From Vault    other    otpsecret
    [Teardown]    Stop Rpa Mfa Server    alias=env

Server Secret Flag Sets Every Namespace Like RPA.MFA's Import Arguments
    ${port}=    Start Rpa Mfa Server    --vault    file:${TEMPDIR}/rpa-mfa-vault.json
    ...    --secret    mfa:hotpsecret    --mode    counter    alias=preset
    Import Library    Remote    http://127.0.0.1:${port}/ns/any-suite    AS    Preset
    ${code}=    Preset.Get Counter Based OTP    0
    Should Be Equal    ${code}    755224
    [Teardown]    Stop Rpa Mfa Server    alias=preset

A Missing Server Secret Refuses To Start
    Rpa Mfa Server Should Fail To Start    --vault    file:${TEMPDIR}/rpa-mfa-vault.json
    ...    --secret    mfa:nokey    expected_error=KeyError: 'nokey'
    Rpa Mfa Server Should Fail To Start    --vault    file:${TEMPDIR}/rpa-mfa-vault.json
    ...    --secret    mfa:otpsecret    --mode    bogus    expected_error=OTPMode does not have member 'bogus'

Get Secret Returns A Dictionary With Dot Access Like RPA.Robocorp.Vault
    ${got}=    Get Secret    mfa
    Should Be Equal    ${got.hotpsecret}    ${RFC_SEED}
    Should Be Equal    ${got}[otpsecret]    ${SECRET}
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nothere'
    ...    Get Secret    nothere

Set Secret Adds Keys To A File Vault And Keeps The Others
    ${vault}=    Set Variable    file:${TEMPDIR}/rpa-mfa-set.json
    Create File    ${TEMPDIR}/rpa-mfa-set.json    {"app": {"user": "bot"}}
    ${port}=    Start Rpa Mfa Server    --vault    ${vault}    alias=set
    Import Library    Remote    http://127.0.0.1:${port}    AS    Set
    &{values}=    Create Dictionary    otp=${RFC_SEED}    retries=${3}
    Set.Set Secret    app    ${values}
    ${user}=    Run Rpa Mfa    vault    --vault    ${vault}    get    app    user
    Should Be Equal    ${user}    bot
    ${retries}=    Run Rpa Mfa    vault    --vault    ${vault}    get    app    retries
    Should Be Equal    ${retries}    3
    Set.Use MFA Secret From Vault    app    otp    mode=COUNTER
    ${code}=    Set.Get Counter Based OTP    0
    Should Be Equal    ${code}    755224    # RFC 4226 Appendix D
    &{empty}=    Create Dictionary
    Run Keyword And Expect Error    EQUALS:ValueError: Set Secret app: values is empty; give at least one key
    ...    Set.Set Secret    app    ${empty}
    [Teardown]    Stop Rpa Mfa Server    alias=set

Named Vaults Beside The Default One
    ${port}=    Start Rpa Mfa Server    --vault    file:${TEMPDIR}/rpa-mfa-vault.json
    ...    --vault    yaml\=file:${TEMPDIR}/rpa-mfa-vault.yaml    --vault    env\=env:
    ...    --secret    yaml/mfa:otpsecret    alias=named    RPA_MFA_SECRET_MFA_OTPSECRET=${RFC_SEED}
    Import Library    Remote    http://127.0.0.1:${port}    AS    Named
    # --secret read the YAML vault's secret: every namespace starts with it.
    ${code}=    Named.Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SHORT_SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    Named.Use MFA Secret From Vault    mfa    otpsecret    mode=COUNTER    vault=env
    ${code}=    Named.Get Counter Based OTP    1
    Should Be Equal    ${code}    287082
    ${got}=    Named.Get Secret    mfa
    Should Be Equal    ${got.hotpsecret}    ${RFC_SEED}
    &{values}=    Create Dictionary    k=v
    Run Keyword And Expect Error    EQUALS:VaultError: the env: vault is read-only
    ...    Named.Set Secret    mfa    ${values}    vault=env
    Run Keyword And Expect Error    EQUALS:VaultError: no vault named 'other' is configured; add --vault other=SPEC
    ...    Named.Get Secret    mfa    vault=other
    [Teardown]    Stop Rpa Mfa Server    alias=named

A Reference To A Vault Not Configured Refuses To Start
    Rpa Mfa Server Should Fail To Start    --secret    bao/mfa:otpsecret
    ...    expected_error=--secret: no vault named 'bao' is configured; add --vault bao=SPEC
    Rpa Mfa Server Should Fail To Start    --vault    bao\=vault+http://127.0.0.1:1/secret
    ...    VAULT_TOKEN=${EMPTY}    BAO_TOKEN=${EMPTY}
    ...    expected_error=no credentials; set VAULT_TOKEN (or BAO_TOKEN), or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole


*** Keywords ***
Create Vaults And Start
    ${uri}=    Set Variable    otpauth://totp/ACME:bot?secret=${SECRET}&algorithm=SHA512&digits=8
    ${doc}=    Evaluate    {"mfa": {"otpsecret": "${SECRET}", "hotpsecret": "${RFC_SEED}", "notbase32": "0000 1111 0000 1111", "uri": $uri}}
    ${json}=    Evaluate    json.dumps($doc)
    Create File    ${TEMPDIR}/rpa-mfa-vault.json    ${json}
    Create File    ${TEMPDIR}/rpa-mfa-vault.yaml    mfa:\n${SPACE}${SPACE}otpsecret: ${SHORT_SECRET}\n
    Start Server And Import It As MFA    --vault    file:${TEMPDIR}/rpa-mfa-vault.json
