*** Settings ***
Documentation     A suite written for rpaframework's RPA.MFA, unchanged but for
...               its import: scripts/test-wheel.sh replaces the line below with
...               ``Library    rpa_mfa.MFA ...`` or ``Library    Remote ...`` and
...               runs it with the wheel installed in a fresh venv. It uses only
...               RPA.MFA's keywords and arguments, and Robot's standard libraries.
...               The vault is Robocorp's FileSecrets file named by
...               RPA_SECRET_FILE, holding mfa/otpsecret = ${VAULT_SECRET}.
Library           RPA.MFA    vault_name=mfa    vault_key=otpsecret    mode=TIME
Library           Process
Library           DateTime


*** Variables ***
${VAULT_SECRET}    JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
# RFC 4226 appendix D: the seed "12345678901234567890" in base32.
${RFC_SEED}        GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


*** Test Cases ***
A Fresh Run Has Only The Imported Secret
    # The import set a time based secret; nothing set a counter based one.
    Run Keyword And Expect Error
    ...    EQUALS:HOTPNotSetError: HOTP (HMAC One-Time Password) can be set during the library initialization. With `Use MFA Secret From Vault` keyword or with `Set Counter Based OTP` keyword.
    ...    Get Counter Based OTP    1

The Imported Vault Secret Gives Oathtool's Code
    [Tags]    needs-oathtool
    ${before}=    Get Current Date    UTC    result_format=epoch
    ${code}=    Get Time Based OTP
    ${after}=    Get Current Date    UTC    result_format=epoch
    ${at_before}=    Oathtool Totp    ${VAULT_SECRET}    ${before}
    ${at_after}=    Oathtool Totp    ${VAULT_SECRET}    ${after}
    Should Contain Any    ${code}    ${at_before}    ${at_after}
    Should Match Regexp    ${code}    ^\\d{6}$

Counter Based Codes Are RFC 4226's
    Set Counter Based OTP    ${RFC_SEED}
    ${code}=    Get Counter Based OTP    1
    Should Be Equal    ${code}    287082
    ${code}=    Get Counter Based OTP    9    ${RFC_SEED}
    Should Be Equal    ${code}    520489

A Passcode Argument Overrides The Vault Secret
    [Tags]    needs-oathtool
    ${now}=    Get Current Date    UTC    result_format=epoch
    ${code}=    Get Time Based OTP    ${RFC_SEED}
    ${expected}=    Oathtool Totp    ${RFC_SEED}    ${now}
    ${later}=    Oathtool Totp    ${RFC_SEED}    ${now + 30}
    Should Contain Any    ${code}    ${expected}    ${later}

Errors Read As RPA.MFA's
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nope'
    ...    Use MFA Secret From Vault    nope    otpsecret
    Run Keyword And Expect Error    EQUALS:KeyError: 'nokey'
    ...    Use MFA Secret From Vault    mfa    nokey
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: Argument 'mode' got value 'TIMED' that cannot be converted to OTPMode: OTPMode does not have member 'TIMED'. Available: 'COUNTER' and 'TIME'
    ...    Use MFA Secret From Vault    mfa    otpsecret    mode=TIMED
    Run Keyword And Expect Error    EQUALS:Non-base32 digit found
    ...    Set Time Based OTP    JBSWY3DPEHPK3PX!


*** Keywords ***
Oathtool Totp
    [Arguments]    ${secret}    ${epoch}
    ${when}=    Convert Date    ${epoch}    result_format=%Y-%m-%d %H:%M:%S
    ${result}=    Run Process    oathtool    --totp    -b    -N    ${when} UTC    ${secret}
    Should Be Equal As Integers    ${result.rc}    0    ${result.stderr}
    RETURN    ${result.stdout.strip()}
