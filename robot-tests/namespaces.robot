*** Settings ***
Documentation     State per namespace: suites sharing one server cannot change
...               each other's codes.
Resource          resources/common.resource
Library           resources/Concurrency.py
Suite Setup       Start Server And Import It As MFA
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         namespaces


*** Test Cases ***
Two Namespaces Keep Their Own Secrets
    Import Library    Remote    ${BASE}/ns/robot-a    AS    A
    Import Library    Remote    ${BASE}/ns/robot-b    AS    B
    A.Set Time Based OTP    ${SECRET}
    B.Set Time Based OTP    ${SHORT_SECRET}
    A.Set Counter Based OTP    ${RFC_SEED}
    ${a}=    A.Get Time Based OTP    at=1700000000
    ${b}=    B.Get Time Based OTP    at=1700000000
    ${expected_a}=    Oathtool Totp    ${SECRET}    1700000000
    ${expected_b}=    Oathtool Totp    ${SHORT_SECRET}    1700000000
    Should Be Equal    ${a}    ${expected_a}
    Should Be Equal    ${b}    ${expected_b}
    Run Keyword And Expect Error    EQUALS:${HOTP_NOT_SET}    B.Get Counter Based OTP    1
    # The default namespace was never touched.
    Run Keyword And Expect Error    EQUALS:${TOTP_NOT_SET}    MFA.Get Time Based OTP

A Suite Name Makes A Namespace
    # Spaces must be escaped in a URL; inline Python does it in the import.
    Import Library    Remote    ${BASE}/ns/${{urllib.parse.quote($SUITE_NAME)}}    AS    Suite
    Suite.Set Counter Based OTP    ${RFC_SEED}
    ${code}=    Suite.Get Counter Based OTP    9
    Should Be Equal    ${code}    520489
    Import Library    Remote    ${BASE}/ns/${{urllib.parse.quote($SUITE_NAME)}}/    AS    SameSuite
    ${code}=    SameSuite.Get Counter Based OTP    8
    Should Be Equal    ${code}    399871

Robots In Parallel Never See Each Other's Codes
    # Every one of the 4 x 150 answers must be PASS with oathtool's code.
    ${verified}=    Hammer Namespaces In Parallel    ${BASE}    calls_per_namespace=150
    ...    first=${SECRET}    second=${SHORT_SECRET}    third=${RFC_SEED}    fourth=GEZDGNBVGY3TQOJQ
    Should Be Equal As Integers    ${verified}    600
