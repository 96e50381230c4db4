*** Settings ***
Documentation     The keyring: vault against a real Secret Service: gnome-keyring on
...               a private D-Bus session, written and read from outside with
...               libsecret's secret-tool. One entry per value: service rpa-mfa
...               (or the spec's), user NAME:KEY.
Resource          resources/common.resource
Library           resources/KeyringSession.py
Suite Setup       Start Keyring And Server
Suite Teardown    Run Keywords    Stop All Rpa Mfa Servers    AND    Stop Keyring Session
Test Tags         vault    keyring


*** Variables ***
${KEYRING_PASSWORD}    keyring-pw-Tz3Kq8Wd
${KEYRING_SECRET}      UZ4SCCAXISZMZLMTU7PTXAPIUDZUWXTT
${TEAM_SECRET}         ERVXBRGIHHYWHM23EZLMXJ65CLQSLYKR
${LOCKED}              VaultError: the keyring is locked; unlock it (log in to the desktop session, or `gnome-keyring-daemon --unlock` on a headless runner) and try again


*** Test Cases ***
A Secret Stored With Secret Tool Gives The Codes Pyotp Gives
    Secret Tool    store    --label=MFA secret    service    rpa-mfa    username    mfa:otpsecret
    ...    stdin=${KEYRING_SECRET}
    Use MFA Secret From Vault    mfa    otpsecret
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Pyotp Totp At    ${KEYRING_SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}

What Rpa Mfa Stores Secret Tool Finds And The Server Uses
    Run Rpa Mfa    vault    --vault    keyring:    set    ci    otpsecret    stdin=${RFC_SEED}
    ${stored}=    Secret Tool    lookup    service    rpa-mfa    username    ci:otpsecret
    Should Be Equal    ${stored}    ${RFC_SEED}
    ${names}=    Run Rpa Mfa    vault    --vault    keyring:    list
    Should Be Equal    ${names}    ci\nmfa
    Use MFA Secret From Vault    ci    otpsecret    mode=COUNTER
    ${code}=    Get Counter Based OTP    4
    Should Be Equal    ${code}    338314    # RFC 4226 Appendix D

A Service Named In The Spec Is A Vault Of Its Own
    Secret Tool    store    --label=team    service    team-bots    username    mfa:otpsecret
    ...    stdin=${TEAM_SECRET}
    ${port}=    Start Rpa Mfa Server    --vault    keyring:team-bots    alias=team
    Import Library    Remote    http://127.0.0.1:${port}    AS    Team
    Team.Use MFA Secret From Vault    mfa    otpsecret
    ${code}=    Team.Get Time Based OTP    at=1700000000
    ${expected}=    Pyotp Totp At    ${TEAM_SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: ci'
    ...    Team.Use MFA Secret From Vault    ci    otpsecret
    [Teardown]    Stop Rpa Mfa Server    alias=team

Misses Fail Like RPA.MFA
    Run Keyword And Expect Error    EQUALS:KeyError: 'Undefined secret: nothere'
    ...    Use MFA Secret From Vault    nothere    otpsecret
    Run Keyword And Expect Error    EQUALS:KeyError: 'nokey'
    ...    Use MFA Secret From Vault    mfa    nokey

A Locked Keyring Fails At Once And The Server Keeps Serving
    [Documentation]    Last: the keyring stays locked.
    Use MFA Secret From Vault    mfa    otpsecret
    Lock Keyring
    Run Keyword And Expect Error    EQUALS:${LOCKED}
    ...    Use MFA Secret From Vault    ci    otpsecret
    Rpa Mfa Should Fail    vault    --vault    keyring:    set    ci    otpsecret
    ...    stdin=${TEAM_SECRET}    expected_error=${LOCKED}
    # The secret read before the lock stays in use.
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Pyotp Totp At    ${KEYRING_SECRET}    1700000000
    Should Be Equal    ${code}    ${expected}
    # The bus logs every prompt it starts: none was asked for.
    Keyring Log Should Not Contain    Prompter


*** Keywords ***
Start Keyring And Server
    Start Keyring Session    ${KEYRING_PASSWORD}
    Start Server And Import It As MFA    --vault    keyring:
