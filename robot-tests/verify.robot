*** Settings ***
Documentation     Verify Time Based OTP and Verify Counter Based OTP: codes from
...               pyotp and oathtool are accepted within the window and once only,
...               on one server and across three servers sharing the run's real
...               Redis (RedisServers.py), with many robots racing one code.
Resource          resources/fleet.resource
Library           resources/VerifyRace.py
Suite Setup       Start A Fleet On The Shared Redis
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         verify    fleet    redis


*** Variables ***
# One secret per test: replay marks and counters are kept per secret, store-wide.
${TOTP_SECRET}       C4UUP6VWHLBB4RJ3TXMTX6IVUYXWBTPX
${WINDOW_SECRET}     QDTKGW4MY2FSKHKFAU5NX5CPEUXR3HE4
${HOTP_SECRET}       XTYUGNZAL2NRCSLA3SW7LEWQOERBQEOX
${RACE_SECRET}       KDFHW7IHAFOSB5W3YU7AAQ3RE2GEYBXL
${HOTP_RACE_SECRET}  SMZIWMQNA3PKMF3EAYLFTB6V6VZ5XDH4
${BAD_SECRET}        WBNDNSXO4EHYSFNGTDKKNTBB6GCE7XAB
${HOUR}              3600


*** Test Cases ***
A Pyotp Code Is Accepted Once And Then Refused As Used
    Import Library    Remote    ${A}/ns/verify-totp    AS    VerifyA
    VerifyA.Set Time Based OTP    ${TOTP_SECRET}
    ${now}=    Epoch Now
    ${code}=    Pyotp Totp At    ${TOTP_SECRET}    ${now}
    ${accepted}=    VerifyA.Verify Time Based OTP    ${code}
    Should Be True    ${accepted} is True
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code was already used*
    ...    VerifyA.Verify Time Based OTP    ${code}
    # Another server of the fleet refuses it too.
    Import Library    Remote    ${B}/ns/verify-totp    AS    VerifyB
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code was already used*
    ...    VerifyB.Verify Time Based OTP    ${code}

A Code Outside The Window Is Wrong, Inside It Is Accepted
    [Documentation]    Hour-long periods, so the step of "now" does not move
    ...    between taking the time here and the server's check.
    Import Library    Remote    ${A}/ns/verify-window    AS    Window
    ${now}=    Epoch Now
    ${previous}=    Oathtool Totp    ${WINDOW_SECRET}    ${now - ${HOUR}}    period=${HOUR}
    ${next}=    Oathtool Totp    ${WINDOW_SECRET}    ${now + ${HOUR}}    period=${HOUR}
    ${two_back}=    Oathtool Totp    ${WINDOW_SECRET}    ${now - 2 * ${HOUR}}    period=${HOUR}
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code is wrong*
    ...    Window.Verify Time Based OTP    ${previous}    ${WINDOW_SECRET}    period=${HOUR}
    ...    valid_window=0
    Window.Verify Time Based OTP    ${previous}    ${WINDOW_SECRET}    period=${HOUR}
    Window.Verify Time Based OTP    ${next}    ${WINDOW_SECRET}    period=${HOUR}
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code is wrong*
    ...    Window.Verify Time Based OTP    ${two_back}    ${WINDOW_SECRET}    period=${HOUR}
    Window.Verify Time Based OTP    ${two_back}    ${WINDOW_SECRET}    period=${HOUR}
    ...    valid_window=2
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code was already used*
    ...    Window.Verify Time Based OTP    ${two_back}    ${WINDOW_SECRET}    period=${HOUR}
    ...    valid_window=2

Counter Codes From Oathtool Move The Expected Counter Past Them
    Import Library    Remote    ${A}/ns/verify-hotp    AS    HotpA
    Import Library    Remote    ${C}/ns/verify-hotp    AS    HotpC
    HotpA.Set Counter Based OTP    ${HOTP_SECRET}
    ${c0}=    Oathtool Hotp    ${HOTP_SECRET}    0
    ${c2}=    Oathtool Hotp    ${HOTP_SECRET}    2
    ${c6}=    Oathtool Hotp    ${HOTP_SECRET}    6
    HotpA.Verify Counter Based OTP    ${c0}
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code was already used*
    ...    HotpC.Verify Counter Based OTP    ${c0}
    # Expected counter 1: counter 6 is beyond look_ahead=4, within 5.
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code is wrong*
    ...    HotpC.Verify Counter Based OTP    ${c6}    look_ahead=4
    HotpC.Verify Counter Based OTP    ${c6}    look_ahead=5
    # Counter 2 was skipped over: passed for good (RFC 4226 §7.2).
    Run Keyword And Expect Error    MFAAuthenticationFailure: The code was already used*
    ...    HotpA.Verify Counter Based OTP    ${c2}
    ${c7}=    Oathtool Hotp    ${HOTP_SECRET}    7
    HotpA.Verify Counter Based OTP    ${c7}    look_ahead=0

Three Servers Accept A Raced Time Code Exactly Once
    @{urls}=    Namespace URLs    verify-race
    ${code}=    Pyotp Totp At    ${RACE_SECRET}    ${{time.time()}}
    One Code Should Be Accepted Exactly Once    ${urls}    Verify Time Based OTP    ${code}
    ...    attempts=30    threads=6    otp_passcode=${RACE_SECRET}

Three Servers Accept A Raced Counter Code Exactly Once
    Import Library    Remote    ${B}/ns/verify-hotp-race    AS    HotpRaceB
    HotpRaceB.Set Counter Based OTP    ${HOTP_RACE_SECRET}
    @{urls}=    Namespace URLs    verify-hotp-race
    ${code}=    Oathtool Hotp    ${HOTP_RACE_SECRET}    3
    One Code Should Be Accepted Exactly Once    ${urls}    Verify Counter Based OTP    ${code}
    ...    attempts=30    threads=6

Bad Codes Fail By Name And The Server Keeps Serving
    Import Library    Remote    ${A}/ns/verify-bad    AS    Bad
    Run Keyword And Expect Error    TOTPNotSetError: *    Bad.Verify Time Based OTP    123456
    Run Keyword And Expect Error    ValueError: code must be 6 digits, got 5 characters.
    ...    Bad.Verify Time Based OTP    12345    ${TOTP_SECRET}
    Run Keyword And Expect Error    ValueError: valid_window must be 0 to 10, got 11.
    ...    Bad.Verify Time Based OTP    123456    ${TOTP_SECRET}    valid_window=11
    Run Keyword And Expect Error    ValueError: algorithm, digits and period go with a given otp_passcode*
    ...    Bad.Verify Time Based OTP    123456    digits=8
    ${code}=    Pyotp Totp At    ${BAD_SECRET}    ${{time.time()}}
    ${accepted}=    Bad.Verify Time Based OTP    ${code}    ${BAD_SECRET}
    Should Be True    ${accepted} is True


*** Keywords ***
Start A Fleet On The Shared Redis
    ${redis}=    Shared Redis
    Write The Fleet's State Key
    FOR    ${name}    IN    A    B    C
        ${port}=    Start Rpa Mfa Server    --state    ${redis.url}
        ...    @{FLEET_STATE}    alias=${name}
        Set Suite Variable    \${${name}}    http://127.0.0.1:${port}
    END

Namespace URLs
    [Arguments]    ${namespace}
    VAR    @{urls}    ${A}/ns/${namespace}    ${B}/ns/${namespace}    ${C}/ns/${namespace}
    RETURN    ${urls}
