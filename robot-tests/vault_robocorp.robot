*** Settings ***
Documentation     The robocorp: vault against a double of Control Room's secrets API
...               (a proprietary service), which rpaframework's own client,
...               RPA.Robocorp.Vault, first proves: it writes and reads through
...               the double. Then rpa-mfa reads what rpaframework wrote and
...               rpaframework reads what rpa-mfa wrote.
Resource          resources/common.resource
Library           OperatingSystem
Library           resources/ControlRoom.py
Suite Setup       Start Control Room And Server
Suite Teardown    Stop Everything
Test Tags         vault    robocorp


*** Variables ***
${CR_TOKEN}              cr-token-Wm4pQx7Rz2
${CR_READ_ONLY_TOKEN}    cr-ro-token-Jd9vKs3Lf6
${CR_WRONG_TOKEN}        cr-wrong-token-Nb5hGt8Yc1
${CR_SECRET}             HVK4O3NPUV2EXU6KJZFATFS65NDYV7SV
${CR_PASSWORD}           cr-password-Qe7mVz2Kp4
${WORKSPACE}             ws-7f3a


*** Test Cases ***
The Double Serves Rpaframework's Own Client
    Rpaframework Sets Secret    ${CR}    creds    description=bot login
    ...    user=robot    password=${CR_PASSWORD}
    ${held}=    Secret In Control Room    creds
    Should Be Equal    ${held.password}    ${CR_PASSWORD}
    ${read}=    Rpaframework Gets Secret    ${CR}    creds
    Should Be Equal    ${read.description}    bot login
    Should Be Equal    ${read.data}    ${{ {"user": "robot", "password": "${CR_PASSWORD}"} }}
    Run Keyword And Expect Error    RobocorpVaultError: Failed to set secret value. Does your token have write access?*
    ...    Rpaframework Sets Secret    ${CR}    creds    token=${CR_READ_ONLY_TOKEN}    user=x
    Run Keyword And Expect Error    RobocorpVaultError: *HTTPError*
    ...    Rpaframework Gets Secret    ${CR}    nothere

Rpa Mfa Reads What Rpaframework Wrote, With One Client Key
    Rpaframework Sets Secret    ${CR}    mfa    otpsecret=${CR_SECRET}
    Use MFA Secret From Vault    mfa    otpsecret
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Pyotp Totp At    ${CR_SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    # rpa-mfa makes its 4096-bit key once: more reads add no key.
    ${keys}=    Client Key Sizes Seen
    Use MFA Secret From Vault    mfa    otpsecret
    Run Keyword And Expect Error    EQUALS:KeyError: 'nokey'
    ...    Use MFA Secret From Vault    mfa    nokey
    ${after}=    Client Key Sizes Seen
    Should Be Equal    ${after}    ${keys}
    Should Be Equal    ${{ set($after) }}    ${{ {4096} }}

Rpaframework Reads What Rpa Mfa Wrote
    Run Rpa Mfa    vault    --vault    robocorp:    set    written    otpsecret    stdin=${RFC_SEED}
    ${read}=    Rpaframework Gets Secret    ${CR}    written
    Should Be Equal    ${read.data}    ${{ {"otpsecret": "${RFC_SEED}"} }}
    Use MFA Secret From Vault    written    otpsecret    mode=COUNTER
    ${code}=    Get Counter Based OTP    0
    Should Be Equal    ${code}    755224    # RFC 4226 Appendix D
    # Setting one key keeps the others and the description.
    Rpaframework Sets Secret    ${CR}    both    description=keep me    a=1
    Run Rpa Mfa    vault    --vault    robocorp:    set    both    b    stdin=2
    ${read}=    Rpaframework Gets Secret    ${CR}    both
    Should Be Equal    ${read.data}    ${{ {"a": "1", "b": "2"} }}
    Should Be Equal    ${read.description}    keep me

Misses Fail Like RPA.MFA
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nothere'
    ...    Use MFA Secret From Vault    nothere    otpsecret
    Run Keyword And Expect Error    EQUALS:KeyError: 'nokey'
    ...    Use MFA Secret From Vault    mfa    nokey

Tampered Or Foreign Answers Are Refused By Name
    FOR    ${fault}    ${error}    IN
    ...    bad-tag          Failed to validate authentication tag
    ...    wrong-scheme     Unexpected encryption scheme: robocloud-vault-transit-v1
    ...    no-encryption    Missing encryption fields from response
        Seal Next Answers    ${fault}
        Run Keyword And Expect Error    EQUALS:VaultError: Control Room's answer: ${error}
        ...    Use MFA Secret From Vault    mfa    otpsecret
    END
    [Teardown]    Seal Next Answers    none

A Wrong Token, A Read-Only Token And An Unreachable Host Say So Without The Token
    ${port}=    Start Rpa Mfa Server    --vault    robocorp:    alias=wrong
    ...    RC_API_SECRET_TOKEN=${CR_WRONG_TOKEN}
    Import Library    Remote    http://127.0.0.1:${port}    AS    Wrong
    ${error}=    Run Keyword And Expect Error    EQUALS:VaultError: Control Room refused the token reading secret 'mfa' (HTTP 401); check RC_API_SECRET_TOKEN and its access to workspace RC_WORKSPACE_ID
    ...    Wrong.Use MFA Secret From Vault    mfa    otpsecret
    ${error}=    Rpa Mfa Should Fail    vault    --vault    robocorp:    set    mfa    otpsecret
    ...    stdin=${CR_SECRET}    RC_API_SECRET_TOKEN=${CR_READ_ONLY_TOKEN}
    ...    expected_error=VaultError: Failed to set secret 'mfa' (HTTP 403). Does your token have write access?
    Should Not Contain    ${error}    ${CR_READ_ONLY_TOKEN}
    Rpa Mfa Should Fail    vault    --vault    robocorp:    get    mfa    otpsecret
    ...    RC_API_SECRET_HOST=http://127.0.0.1:9
    ...    expected_error=VaultError: cannot reach Control Room's secrets API at http://127.0.0.1:9: connection failed
    Rpa Mfa Server Should Fail To Start    --vault    robocorp:    RC_WORKSPACE_ID=    RC_API_SECRET_TOKEN=
    ...    expected_error=robocorp: needs the environment variable(s) RC_API_SECRET_TOKEN, RC_WORKSPACE_ID
    [Teardown]    Stop Rpa Mfa Server    alias=wrong


*** Keywords ***
Start Control Room And Server
    ${double}=    Start Control Room Double    ${WORKSPACE}    ${CR_TOKEN}    ${CR_READ_ONLY_TOKEN}
    VAR    ${CR}    ${double}    scope=SUITE
    # As Control Room sets them for a run; the servers and command lines
    # this suite starts inherit them.
    Set Environment Variable    RC_API_SECRET_HOST    ${double.url}
    Set Environment Variable    RC_API_SECRET_TOKEN    ${CR_TOKEN}
    Set Environment Variable    RC_WORKSPACE_ID    ${WORKSPACE}
    Start Server And Import It As MFA    --vault    robocorp:

Stop Everything
    Stop All Rpa Mfa Servers
    Stop All Control Room Doubles
    Remove Environment Variable    RC_API_SECRET_HOST    RC_API_SECRET_TOKEN    RC_WORKSPACE_ID
