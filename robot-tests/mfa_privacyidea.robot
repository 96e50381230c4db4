*** Settings ***
Documentation     MFA service keywords against a real privacyIDEA 3.14
...               (resources/PrivacyIdea.py): codes from Get Time Based OTP checked
...               through /validate/check, reused and wrong codes refused, push
...               approval with a poll-only PUSH token whose phone the test plays
...               (approved, declined, left to time out), the allow lists, a
...               malformed provider stopping the server, and privacyIDEA stopped
...               (MFAServiceUnreachable, or a warning with ignore_connection_error).
...               Wire facts: shared/PRIVACYIDEA.md.
Resource          resources/common.resource
Library           OperatingSystem
Library           resources/Ops.py
Library           resources/PrivacyIdea.py
Suite Setup       Start PrivacyIDEA And Server
Suite Teardown    Stop Everything
Test Tags         mfa-service    privacyidea


*** Variables ***
# RFC 4226's 20-byte seed as hex (privacyIDEA) and as base32 (rpa-mfa).
${TOTP_HEX}       3132333435363738393031323334353637383930
${PUSH_WAIT}      30


*** Test Cases ***
A Code From Get Time Based OTP Verifies
    Enroll TOTP Token    PITOTP-OK    ${TOTP_HEX}
    ${code}=    Get Time Based OTP
    ${answer}=    Verify OTP With Service    PITOTP-OK    ${code}    provider=pi
    Should Be Equal    ${answer}[result]    ACCEPT
    Should Be Equal    ${answer}[provider]    pi
    Should Be Equal    ${answer}[identity]    PITOTP-OK
    Should Be Equal    ${answer}[serial]    PITOTP-OK
    Should Be Equal    ${answer}[message]    matching 1 tokens

A Reused Code Is Refused
    Enroll TOTP Token    PITOTP-REUSE    ${TOTP_HEX}
    ${code}=    Get Time Based OTP
    Verify OTP With Service    PITOTP-REUSE    ${code}    provider=pi
    Run Keyword And Expect Error
    ...    MFAAuthenticationFailure: MFA provider 'pi': wrong otp value. previous otp used again
    ...    Verify OTP With Service    PITOTP-REUSE    ${code}    provider=pi

A Wrong Code Is An Authentication Failure
    Enroll TOTP Token    PITOTP-WRONG    ${TOTP_HEX}
    ${code}=    Get Time Based OTP
    ${wrong}=    Evaluate    "%06d" % ((int($code) + 1) % 1000000)
    Run Keyword And Expect Error    MFAAuthenticationFailure: MFA provider 'pi': wrong otp value
    ...    Verify OTP With Service    PITOTP-WRONG    ${wrong}    provider=pi

The Dispatching Keyword Checks A Code When Given One
    Enroll TOTP Token    PITOTP-EITHER    ${TOTP_HEX}
    ${code}=    Get Time Based OTP
    ${answer}=    Authenticate With MFA Service    PITOTP-EITHER    otp=${code}    provider=pi
    Should Be Equal    ${answer}[result]    ACCEPT

A Push Approved On The Phone Passes
    ${serial}=    Enroll Phone
    Phone Answers In Background    ${serial}    accept=True
    ${answer}=    Request Push Approval    ${serial}    provider=pi    timeout=${PUSH_WAIT}
    Background Answers Should Be    ${serial}    1
    Should Be Equal    ${answer}[result]    ACCEPT
    Should Be Equal    ${answer}[serial]    ${serial}
    Should Be Equal    ${answer}[message]    Found matching challenge
    # The transaction was finalized: privacyIDEA no longer reports it accepted.
    ${polled}=    Poll Transaction    ${answer}[transaction_id]
    Should Not Be True    ${polled.value}

A Push Declined On The Phone Is An Authentication Failure
    ${serial}=    Enroll Phone
    Phone Answers In Background    ${serial}    accept=False
    Run Keyword And Expect Error    MFAAuthenticationFailure: MFA provider 'pi': the push was declined
    ...    Request Push Approval    ${serial}    provider=pi    timeout=${PUSH_WAIT}
    Background Answers Should Be    ${serial}    1

A Push Left Unanswered Times Out As An Authentication Failure
    ${serial}=    Enroll Phone
    Run Keyword And Expect Error
    ...    MFAAuthenticationFailure: MFA provider 'pi': no answer to the push within 2 s
    ...    Request Push Approval    ${serial}    provider=pi    timeout=2
    # The challenge is still open on the phone: nothing answered it.
    ${answered}=    Phone Answers Open Challenges    ${serial}    accept=False
    Should Be Equal As Integers    ${answered}    1

The Dispatching Keyword Pushes Without A Code
    ${serial}=    Enroll Phone
    Phone Answers In Background    ${serial}
    ${answer}=    Authenticate With MFA Service    ${serial}    provider=pi    timeout=${PUSH_WAIT}
    Background Answers Should Be    ${serial}    1
    Should Be Equal    ${answer}[result]    ACCEPT

A Service Account From The Vault Triggers The Push
    ${serial}=    Enroll Phone
    Phone Answers In Background    ${serial}
    ${answer}=    Request Push Approval    ${serial}    provider=pi-account    timeout=${PUSH_WAIT}
    Background Answers Should Be    ${serial}    1
    Should Be Equal    ${answer}[result]    ACCEPT

Without Credentials The Push Is Triggered With The Token PIN
    ${serial}=    Enroll Phone
    Phone Answers In Background    ${serial}
    ${answer}=    Request Push Approval    ${serial}    provider=pi-check    timeout=${PUSH_WAIT}
    Background Answers Should Be    ${serial}    1
    Should Be Equal    ${answer}[result]    ACCEPT

Identities May Be Users Of A Realm
    ${code}=    Get Time Based OTP
    ${answer}=    Verify OTP With Service    carol    ${code}    provider=pi-users
    Should Be Equal    ${answer}[serial]    PITOTP-CAROL
    Phone Answers In Background    ${CAROL_PHONE}
    ${answer}=    Request Push Approval    carol    provider=pi-users    timeout=${PUSH_WAIT}
    Background Answers Should Be    ${CAROL_PHONE}    1
    Should Be Equal    ${answer}[serial]    ${CAROL_PHONE}
    Run Keyword And Expect Error    MFAAuthenticationFailure: MFA provider 'pi-users': *
    ...    Verify OTP With Service    dave    ${code}    provider=pi-users

A Token That Cannot Be Pushed To Is A Communication Error
    Enroll TOTP Token    PITOTP-NOPUSH    ${TOTP_HEX}
    Run Keyword And Expect Error    MFACommunicationError: MFA provider 'pi': identity 'PITOTP-NOPUSH' has no PUSH token*
    ...    Request Push Approval    PITOTP-NOPUSH    provider=pi    timeout=2

A Pinned User Is Refused A Provider And An Identity Outside Its Lists
    Enroll TOTP Token    PITOTP-BOT    ${TOTP_HEX}
    Enroll TOTP Token    PITOTP-OTHER    ${TOTP_HEX}
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/bot-7    AS    Bot
    Bot.Set Time Based OTP    ${RFC_SEED}
    ${code}=    Bot.Get Time Based OTP
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use MFA provider 'pi'.
    ...    Bot.Verify OTP With Service    PITOTP-BOT    ${code}    provider=pi
    Run Keyword And Expect Error
    ...    PermissionError: User 'bot7' may not reach identity 'PITOTP-OTHER' through MFA provider 'pi-bots'.
    ...    Bot.Verify OTP With Service    PITOTP-OTHER    ${code}    provider=pi-bots
    ${answer}=    Bot.Verify OTP With Service    PITOTP-BOT    ${code}    provider=pi-bots
    Should Be Equal    ${answer}[result]    ACCEPT

A Malformed Provider Stops The Server Naming It And The Field
    Start Should Fail With Provider    kind = "privacyidea"\nurl = "ftp://127.0.0.1:1"
    ...    MFA provider 'bad': url 'ftp://127.0.0.1:1' is not an http(s) URL
    Start Should Fail With Provider    kind = "privacyidea"\nurl = "http://127.0.0.1:1"\n[mfa.bad.privacyidea]\nidentity = "email"
    ...    MFA provider 'bad': [mfa.bad.privacyidea] identity 'email': use user or serial
    Start Should Fail With Provider    kind = "duo"\nurl = "http://127.0.0.1:1"
    ...    MFA provider 'bad': unknown kind 'duo'
    Start Should Fail With Provider    kind = "privacyidea"\nurl = "http://127.0.0.1:1"\ntoken = "pi:token"\nallow = ["alice"]\ntimeout = -1
    ...    MFA provider 'bad': timeout must be more than 0

A TLS Failure Is A Communication Error Even Where Unreachable Would Pass
    [Documentation]    pi-tls speaks https:// to privacyIDEA's plain HTTP port.
    Run Keyword And Expect Error    MFACommunicationError: MFA provider 'pi-tls': *
    ...    Verify OTP With Service    PITOTP-OK    123456    provider=pi-tls

PrivacyIDEA Stopped Is Unreachable, And Passes With A Warning Where Allowed
    [Documentation]    Stops the shared privacyIDEA: keep it the last test.
    Stop Privacyidea
    Run Keyword And Expect Error    MFAServiceUnreachable: MFA provider 'pi': *Connection refused*
    ...    Verify OTP With Service    PITOTP-OK    123456    provider=pi
    Run Keyword And Expect Error    MFAServiceUnreachable: MFA provider 'pi': *
    ...    Request Push Approval    PIPU-ANY    provider=pi    timeout=2
    ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Verify OTP With Service
    ...    PITOTP-OK    123456    pi-lenient    user=alice    password=${ALICE_PASSWORD}
    Should Be Equal    ${result}[status]    PASS
    Should Be Equal    ${result}[return][result]    UNREACHABLE
    Should Match Regexp    ${result}[output]
    ...    ^\\*WARN\\* MFAServiceUnreachable: MFA provider 'pi-lenient': .*; passed because MFA provider 'pi-lenient' has ignore_connection_error = true\\.$


*** Keywords ***
Start PrivacyIDEA And Server
    ${pi}=    Shared PrivacyIDEA
    Create User Realm    staff    carol    dave
    Enroll TOTP Token    PITOTP-CAROL    ${TOTP_HEX}    user=carol    realm=staff
    ${phone}=    Enroll Phone    user=carol    realm=staff
    VAR    ${CAROL_PHONE}    ${phone}    scope=SUITE
    ${dir}=    New Temp Dir
    VAR    ${DIR}    ${dir}    scope=SUITE
    VAR    ${VAULT}    ${dir}/vault.json    scope=SUITE
    Write Vault File    ${VAULT}    rpa-users    alice=${ALICE_PASSWORD}    bot7=${BOT_PASSWORD}
    Write PrivacyIDEA Credentials    ${VAULT}    pi
    ${config}=    Catenate    SEPARATOR=\n
    ...    [mfa.pi]
    ...    kind = "privacyidea"
    ...    url = "${pi.url}"
    ...    token = "pi:token"
    ...    allow = ["alice"]
    ...    [mfa.pi.privacyidea]
    ...    identity = "serial"
    ...    poll_interval = 0.2
    ...    ${EMPTY}
    ...    [mfa.pi-account]
    ...    kind = "privacyidea"
    ...    url = "${pi.url}"
    ...    [mfa.pi-account.privacyidea]
    ...    identity = "serial"
    ...    username = "pi:account"
    ...    password = "pi:password"
    ...    poll_interval = 0.2
    ...    ${EMPTY}
    ...    [mfa.pi-check]
    ...    kind = "privacyidea"
    ...    url = "${pi.url}"
    ...    [mfa.pi-check.privacyidea]
    ...    identity = "serial"
    ...    poll_interval = 0.2
    ...    ${EMPTY}
    ...    [mfa.pi-bots]
    ...    kind = "privacyidea"
    ...    url = "${pi.url}"
    ...    allow = ["bot-7"]
    ...    identities = { bot-7 = ["PITOTP-BOT"] }
    ...    [mfa.pi-bots.privacyidea]
    ...    identity = "serial"
    ...    ${EMPTY}
    ...    [mfa.pi-users]
    ...    kind = "privacyidea"
    ...    url = "${pi.url}"
    ...    token = "pi:token"
    ...    [mfa.pi-users.privacyidea]
    ...    identity = "user"
    ...    realm = "staff"
    ...    poll_interval = 0.2
    ...    ${EMPTY}
    ...    [mfa.pi-tls]
    ...    kind = "privacyidea"
    ...    url = "${pi.url.replace('http:', 'https:')}"
    ...    ignore_connection_error = true
    ...    ${EMPTY}
    ...    [mfa.pi-lenient]
    ...    kind = "privacyidea"
    ...    url = "${pi.url}"
    ...    ignore_connection_error = true
    ...    timeout = 5
    ...    [mfa.pi-lenient.privacyidea]
    ...    identity = "serial"
    Create File    ${DIR}/mfa.toml    ${config}
    ${port}=    Start Rpa Mfa Server    --config    ${DIR}/mfa.toml    --vault    file:${VAULT}
    ...    --state    memory:    --users-secret    rpa-users    --pin    bot7\=bot-7
    VAR    ${PORT}    ${port}    scope=SUITE
    VAR    ${BASE}    http://127.0.0.1:${port}    scope=SUITE
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    MFA
    Set Library Search Order    MFA
    Set Time Based OTP    ${RFC_SEED}

Start Should Fail With Provider
    [Arguments]    ${body}    ${expected}
    ${text}=    Evaluate    "[mfa.bad]\\n" + $body.replace("\\\\n", "\\n")
    Create File    ${DIR}/bad.toml    ${text}
    Rpa Mfa Server Should Fail To Start    --config    ${DIR}/bad.toml    --vault    file:${VAULT}
    ...    --state    memory:    --users-secret    rpa-users    expected_error=${expected}

Stop Everything
    Run Keyword And Ignore Error    Save Metrics    ${BASE}/metrics
    ...    ${OUTPUT DIR}/metrics-mfa-privacyidea.txt    user=alice    password=${ALICE_PASSWORD}
    Stop All Rpa Mfa Servers
    Stop Privacyidea
    Remove Directory    ${DIR}    recursive=True
