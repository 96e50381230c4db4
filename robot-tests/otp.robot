*** Settings ***
Documentation     RPA.MFA's one-time-password keywords through Robot's Remote
...               library, with codes checked against oathtool and pyotp.
Resource          resources/common.resource
Suite Setup       Start Server And Import It As MFA
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         otp


*** Test Cases ***
Time Based Code Equals Oathtool And Pyotp
    Set Time Based OTP    ${SECRET}
    # Valid for 5 more seconds, so the references below see the same period.
    ${code}=    Get Time Based OTP    min_validity=5
    ${now}=    Epoch Now
    ${oathtool}=    Oathtool Totp    ${SECRET}    ${now}
    ${pyotp}=    Pyotp Totp At    ${SECRET}    ${now}
    Should Be Equal    ${code}    ${oathtool}
    Should Be Equal    ${code}    ${pyotp}

Passcode Argument Replaces The Stored Secret
    Set Time Based OTP    ${SECRET}
    ${code}=    Get Time Based OTP    ${SHORT_SECRET}    at=1577836800
    Should Be Equal    ${code}    646738    # oathtool -N '2020-01-01 00:00:00 UTC'
    ${again}=    Get Time Based OTP    at=1577836800
    Should Be Equal    ${again}    646738

Codes Keep Their Leading Zeros
    ${code}=    Get Time Based OTP    ${SECRET}    at=1111111109
    ${expected}=    Oathtool Totp    ${SECRET}    1111111109
    Should Be Equal    ${code}    ${expected}
    Should Be Equal    ${code}    088309    # pyotp's golden value

Counter Based Codes Equal RFC 4226 And Oathtool
    Set Counter Based OTP    ${RFC_SEED}
    FOR    ${counter}    IN    0    1    5    9    2147483647    2147483648    4294967296    18446744073709551615
        ${code}=    Get Counter Based OTP    ${counter}
        ${expected}=    Oathtool Hotp    ${RFC_SEED}    ${counter}
        Should Be Equal    ${code}    ${expected}
    END
    ${rfc}=    Get Counter Based OTP    5
    Should Be Equal    ${rfc}    254676    # RFC 4226 Appendix D

Counter Given As An Integer And By Name
    ${code}=    Get Counter Based OTP    ${3}    ${RFC_SEED}
    Should Be Equal    ${code}    969429
    ${code}=    Get Counter Based OTP    counter=7    otp_passcode=${RFC_SEED}
    Should Be Equal    ${code}    162583

SHA256 And SHA512 With Eight Digits Match RFC 6238
    # RFC 6238 Appendix B seeds are 32 and 64 bytes long.
    ${seed256}=    Set Variable    GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA
    ${seed512}=    Set Variable    GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA
    Set Time Based OTP    ${seed256}    algorithm=sha256    digits=8
    ${code}=    Get Time Based OTP    at=59
    Should Be Equal    ${code}    46119246
    ${code}=    Get Time Based OTP    at=20000000000
    ${expected}=    Oathtool Totp    ${seed256}    20000000000    algorithm=SHA256    digits=8
    Should Be Equal    ${code}    ${expected}
    Set Time Based OTP    ${seed512}    algorithm=SHA512    digits=${8}
    ${code}=    Get Time Based OTP    at=1111111109
    Should Be Equal    ${code}    25091201

Seven Digits And A Sixty Second Period
    Set Time Based OTP    ${SECRET}    digits=7    period=60
    FOR    ${at}    IN    0    59    60    1700000000
        ${code}=    Get Time Based OTP    at=${at}
        ${expected}=    Oathtool Totp    ${SECRET}    ${at}    digits=7    period=60
        Should Be Equal    ${code}    ${expected}
    END

Secrets In Any Case With Spaces, Dashes And Padding
    ${expected}=    Oathtool Totp    ${SHORT_SECRET}    1234567890
    FOR    ${form}    IN    jbswy3dpehpk3pxp    JBSW Y3DP EHPK 3PXP    jbsw-y3dp-ehpk-3pxp    JBSWY3DPEHPK3PXP======
        ${code}=    Get Time Based OTP    ${form}    at=1234567890
        Should Be Equal    ${code}    ${expected}
    END

Eighty Bit Secrets Work
    ${code}=    Get Counter Based OTP    0    ${SHORT_SECRET}
    ${expected}=    Oathtool Hotp    ${SHORT_SECRET}    0
    Should Be Equal    ${code}    ${expected}

Otpauth URIs From Authenticator Setup
    Set Time Based OTP    otpauth://totp/ACME:jane%40example.com?secret=${SECRET}&issuer=ACME&algorithm=SHA256&digits=8&period=60
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Oathtool Totp    ${SECRET}    1700000000    algorithm=SHA256    digits=8    period=60
    Should Be Equal    ${code}    ${expected}
    Set Counter Based OTP    otpauth://hotp/ACME:jane?secret=${RFC_SEED}&counter=0
    ${code}=    Get Counter Based OTP    1
    Should Be Equal    ${code}    287082

Get Time Based OTP Waits For A Code With Enough Validity
    Set Time Based OTP    ${SECRET}    period=10
    ${code}=    Get Time Based OTP    min_validity=8
    # Any moment in the next 7 s is still in the code's period.
    ${now}=    Epoch Now
    ${later}=    Evaluate    ${now} + 7
    ${expected}=    Oathtool Totp    ${SECRET}    ${later}    period=10
    Should Be Equal    ${code}    ${expected}

Not Set Errors Are RPA.MFA's
    Import Library    Remote    ${BASE}/ns/not-set    AS    Fresh
    Run Keyword And Expect Error    EQUALS:${TOTP_NOT_SET}    Fresh.Get Time Based OTP
    Run Keyword And Expect Error    EQUALS:${HOTP_NOT_SET}    Fresh.Get Counter Based OTP    1
    # None or "" as the passcode is "not given", as in RPA.MFA.
    Run Keyword And Expect Error    EQUALS:${TOTP_NOT_SET}    Fresh.Get Time Based OTP    ${None}
    Run Keyword And Expect Error    EQUALS:${HOTP_NOT_SET}    Fresh.Get Counter Based OTP    1    ${EMPTY}

Bad Secrets Fail Like pyotp And Keep The Previous Secret
    Set Counter Based OTP    ${RFC_SEED}
    Run Keyword And Expect Error    EQUALS:Non-base32 digit found    Set Counter Based OTP    JBSWY3DPEHPK3PX!
    Run Keyword And Expect Error    EQUALS:Incorrect padding    Set Counter Based OTP    JBSWY3DPEHPK3PXPA
    Run Keyword And Expect Error    EQUALS:ValueError: Secrets must be at least 80 bits after decoding; this one has 64.
    ...    Set Counter Based OTP    JBSWY3DPEHPK3
    Run Keyword And Expect Error    EQUALS:ValueError: The OTP secret is empty.    Set Counter Based OTP    ${SPACE}
    Run Keyword And Expect Error    EQUALS:Non-base32 digit found    Get Counter Based OTP    0    0000 1111 0000 1111
    ${code}=    Get Counter Based OTP    1
    Should Be Equal    ${code}    287082

Bad Counters, Digits, Periods And Times Are Named
    Run Keyword And Expect Error    EQUALS:ValueError: input must be positive integer
    ...    Get Counter Based OTP    -1    ${RFC_SEED}
    Run Keyword And Expect Error    EQUALS:ValueError: counter must be at most 18446744073709551615, got 18446744073709551616.
    ...    Get Counter Based OTP    18446744073709551616    ${RFC_SEED}
    Run Keyword And Expect Error    EQUALS:ValueError: Argument 'counter' got value 'abc' that cannot be converted to integer.
    ...    Get Counter Based OTP    abc    ${RFC_SEED}
    Run Keyword And Expect Error    EQUALS:ValueError: digits must be 6, 7 or 8, got 9.
    ...    Set Time Based OTP    ${SECRET}    digits=9
    Run Keyword And Expect Error    EQUALS:ValueError: period must be 1 to 86400 seconds, got 0.
    ...    Set Time Based OTP    ${SECRET}    period=0
    Run Keyword And Expect Error    *cannot be converted to integer*
    ...    Get Time Based OTP    ${SECRET}    min_validity=soon
    Run Keyword And Expect Error    EQUALS:ValueError: min_validity must be 0 to 29 seconds (less than the period), got 30.
    ...    Get Time Based OTP    ${SECRET}    min_validity=30
    Run Keyword And Expect Error    EQUALS:ValueError: at must be Unix seconds from 0 to 253402300799 or an ISO 8601 time such as 2020-01-01T00:00:00, got 'x&y<z>'.
    ...    Get Time Based OTP    ${SECRET}    at=x&y<z>
    Run Keyword And Expect Error    *got value 'MD5' that cannot be converted to 'SHA1', 'SHA256' or 'SHA512' or None.
    ...    Set Time Based OTP    ${SECRET}    algorithm=MD5
    Run Keyword And Expect Error    *type 'hotp', but a totp secret is needed here.
    ...    Set Time Based OTP    otpauth://hotp/x?secret=${SECRET}

At Takes ISO 8601 Times
    ${code}=    Get Time Based OTP    ${SHORT_SECRET}    at=2020-01-01T00:00:00
    Should Be Equal    ${code}    646738

Setters Return None
    ${result}=    Set Time Based OTP    ${SECRET}
    Should Be Equal    ${result}    ${None}

Root And RPC2 Paths Share The Default Namespace
    Import Library    Remote    ${BASE}/    AS    Root
    Import Library    Remote    ${BASE}/RPC2    AS    Rpc2
    Root.Set Counter Based OTP    ${RFC_SEED}
    ${code}=    Rpc2.Get Counter Based OTP    2
    Should Be Equal    ${code}    359152
