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


*** Keywords ***
Create Vaults And Start
    ${uri}=    Set Variable    otpauth://totp/ACME:bot?secret=${SECRET}&algorithm=SHA512&digits=8
    ${doc}=    Evaluate    {"mfa": {"otpsecret": "${SECRET}", "hotpsecret": "${RFC_SEED}", "notbase32": "0000 1111 0000 1111", "uri": $uri}}
    ${json}=    Evaluate    json.dumps($doc)
    Create File    ${TEMPDIR}/rpa-mfa-vault.json    ${json}
    Create File    ${TEMPDIR}/rpa-mfa-vault.yaml    mfa:\n${SPACE}${SPACE}otpsecret: ${SHORT_SECRET}\n
    Start Server And Import It As MFA    --vault    file:${TEMPDIR}/rpa-mfa-vault.json
