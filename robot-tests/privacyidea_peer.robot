*** Settings ***
Documentation     The real privacyIDEA 3.14 the MFA-service suites use, checked on its
...               own (resources/PrivacyIdea.py): a pyotp code validates through
...               /validate/check and is refused when reused, and a PUSH challenge
...               is answered by the test's phone and reported by polltransaction.
...               Facts: shared/PRIVACYIDEA.md.
Library           resources/PrivacyIdea.py
Library           resources/Reference.py
Suite Setup       Shared PrivacyIDEA
Test Tags         privacyidea


*** Variables ***
# RFC 4226's 20-byte seed as hex, and the same as base32 for pyotp.
${TOTP_HEX}       3132333435363738393031323334353637383930
${TOTP_BASE32}    GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ


*** Test Cases ***
A Pyotp Code Validates Once, Then Is Refused As Used
    Enroll TOTP Token    PITOTP-PEER    ${TOTP_HEX}
    ${code}=    Pyotp Totp At    ${TOTP_BASE32}    ${{time.time()}}
    ${first}=    Validate Check    PITOTP-PEER    ${code}
    Should Be True    ${first.value}
    Should Be Equal    ${first.authentication}    ACCEPT
    ${again}=    Validate Check    PITOTP-PEER    ${code}
    Should Not Be True    ${again.value}
    Should Be Equal    ${again.authentication}    REJECT
    Should Be Equal    ${again.message}    wrong otp value. previous otp used again

A Wrong Code Is Refused As A Wrong Value
    Enroll TOTP Token    PITOTP-WRONG    ${TOTP_HEX}
    ${code}=    Pyotp Totp At    ${TOTP_BASE32}    ${{time.time()}}
    ${wrong}=    Evaluate    "%06d" % ((int($code) + 1) % 1000000)
    ${answer}=    Validate Check    PITOTP-WRONG    ${wrong}
    Should Not Be True    ${answer.value}
    Should Be Equal    ${answer.message}    wrong otp value

A Push Challenge Is Approved By The Phone
    ${serial}=    Enroll Phone
    ${trigger}=    Validate Check    ${serial}
    Should Be Equal    ${trigger.authentication}    CHALLENGE
    ${pending}=    Poll Transaction    ${trigger.transaction_id}
    Should Be Equal    ${pending.challenge_status}    pending
    ${answered}=    Phone Answers Open Challenges    ${serial}
    Should Be Equal As Integers    ${answered}    1
    ${polled}=    Poll Transaction    ${trigger.transaction_id}
    Should Be True    ${polled.value}
    Should Be Equal    ${polled.challenge_status}    accept
    ${final}=    Validate Check    ${serial}    transaction_id=${trigger.transaction_id}
    Should Be Equal    ${final.authentication}    ACCEPT
    # A finalized transaction is used up.
    ${again}=    Validate Check    ${serial}    transaction_id=${trigger.transaction_id}
    Should Not Be True    ${again.value}

A Push Challenge Is Declined By The Phone
    ${serial}=    Enroll Phone
    ${trigger}=    Validate Check    ${serial}
    ${answered}=    Phone Answers Open Challenges    ${serial}    accept=False
    Should Be Equal As Integers    ${answered}    1
    ${polled}=    Poll Transaction    ${trigger.transaction_id}
    Should Not Be True    ${polled.value}
    Should Be Equal    ${polled.authentication}    DECLINED
    Should Be Equal    ${polled.challenge_status}    declined
