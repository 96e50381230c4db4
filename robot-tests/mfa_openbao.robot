*** Settings ***
Documentation     The openbao-totp MFA provider against a real OpenBao's TOTP engine
...               (resources/OpenBao.py): keys made from known secrets, so the codes
...               rpa-mfa computes are checked by OpenBao itself. A code verifies once
...               and is refused when reused; a wrong code, an unknown key, a token
...               whose policy does not cover the key, a push (the engine cannot) and
...               a stopped OpenBao each fail under their own name.
Resource          resources/common.resource
Library           OperatingSystem
Library           resources/OpenBao.py
Library           resources/Ops.py
Suite Setup       Start OpenBao With Its TOTP Engine And The Server
Suite Teardown    Stop Everything
Test Tags         mfa-service    openbao


*** Variables ***
# The dev server's root token (the vault's login); scripts/test.sh scans for it.
${BAO_TOKEN}      bao-root-Tq4Wn8Yc2Rv
# Keys of the TOTP engine: alice's is checked with the provider's own
# narrow token, bob's through the vault's login.
${ALICE_SECRET}    ${SECRET}
${BOB_SECRET}     ${RFC_SEED}
${CAROL_SECRET}    KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU
${REUSED}         code already used; wait until the next time period


*** Test Cases ***
A Code Verifies Once, Then OpenBao Refuses It As Used
    ${code}=    Get Time Based OTP    ${ALICE_SECRET}
    ${answer}=    Verify OTP With Service    alice    ${code}    provider=bao
    Should Be Equal    ${answer.result}    ACCEPT
    Should Be Equal    ${answer.provider}    bao
    Should Be Equal    ${answer.identity}    alice
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'bao': OpenBao refused the code for TOTP key 'alice': ${REUSED}
    ...    Verify OTP With Service    alice    ${code}    provider=bao
    # OpenBao itself still holds the code as used.
    ${again}=    Openbao Checks Totp Code    alice    ${code}
    Should Be Equal    ${again.error}    ${REUSED}

A Wrong Code Is Refused As Not Valid
    ${code}=    Get Time Based OTP    ${ALICE_SECRET}
    ${wrong}=    Evaluate    "%06d" % ((int($code) + 500000) % 1000000)
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'bao': OpenBao refused the code for TOTP key 'alice' (not valid now)
    ...    Verify OTP With Service    alice    ${wrong}    provider=bao

An Unknown Key Is Refused In OpenBao's Words
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'bao-login': OpenBao refused the code for TOTP key 'nobody': unknown key: nobody
    ...    Verify OTP With Service    nobody    123456    provider=bao-login

The Vault's Own Login Checks Codes Without A Second Token
    ${code}=    Get Time Based OTP    ${BOB_SECRET}
    ${answer}=    Verify OTP With Service    bob    ${code}    provider=bao-login
    Should Be Equal    ${answer.result}    ACCEPT
    Run Keyword And Expect Error    MFAAuthenticationFailure: *${REUSED}
    ...    Verify OTP With Service    bob    ${code}    provider=bao-login

The Provider's Token Is Limited To Its Policy
    [Documentation]    The narrow token may check alice's codes only: bob's key is
    ...    refused with 403, a protocol failure, not a refusal of the code.
    ${code}=    Get Time Based OTP    ${BOB_SECRET}
    Run Keyword And Expect Error
    ...    EQUALS:MFACommunicationError: MFA provider 'bao': OpenBao refused the provider's token (403 permission denied: wrong or expired, or its policy lacks update on totp/code/bob)
    ...    Verify OTP With Service    bob    ${code}    provider=bao

A Push Is A Capability OpenBao Lacks
    Run Keyword And Expect Error
    ...    EQUALS:MFACommunicationError: MFA provider 'bao' (openbao-totp) cannot push: OpenBao's TOTP engine only checks codes; give the code to check
    ...    Request Push Approval    alice    provider=bao    timeout=5

A Login Vault That Is Missing, Not A Vault Server, Or Elsewhere Stops The Server
    [Documentation]    Checked at start-up: a vault's token is never sent to another
    ...    server than the vault's own.
    ${other}=    Evaluate    __import__('socket').create_server(('127.0.0.1', 0)).getsockname()[1]
    FOR    ${url}    ${vault}    ${expected}    IN
    ...    http://127.0.0.1:${other}    bao    login_vault 'bao' is a vault at vault+${BAO_URL}/secret, not at the provider's url; its token is only sent to its own server
    ...    ${BAO_URL}    nope    login_vault 'nope': VaultError: no vault named 'nope' is configured; add --vault nope=SPEC
    ...    ${BAO_URL}    local    login_vault 'local' is not a vault+http(s):// vault
        Create File    ${TEMPDIR}/rpa-mfa-mfa-openbao-bad.toml
        ...    [mfa.elsewhere]\nkind = "openbao-totp"\nurl = "${url}"\n[mfa.elsewhere.openbao-totp]\nlogin_vault = "${vault}"\n
        Rpa Mfa Server Should Fail To Start    --config    ${TEMPDIR}/rpa-mfa-mfa-openbao-bad.toml
        ...    --vault    bao\=vault+${BAO_URL}/secret    --vault    local\=env:
        ...    expected_error=MFA provider 'elsewhere': ${expected}
    END

An AppRole Login Is Lent, And Replaced When OpenBao Revokes It
    [Documentation]    A server whose vault logs in with AppRole checks codes with
    ...    that login; once the operator revokes the login's tokens, the refused
    ...    token (403) is replaced by one new login and the check goes on: the
    ...    wrong code is then refused as a code, not as a token.
    Create Openbao Totp Key    carol    ${CAROL_SECRET}
    ${files}=    Create Openbao Approle    token_ttl=1h    token_max_ttl=2h
    ${port}=    Start Rpa Mfa Server    --config    ${CONFIG_FILE}    --vault    bao\=vault+${BAO_URL}/secret
    ...    alias=approle    VAULT_TOKEN=${EMPTY}    VAULT_ROLE_ID_FILE=${files}[0]    VAULT_SECRET_ID_FILE=${files}[1]
    Import Library    Remote    http://127.0.0.1:${port}    AS    AppRole
    ${code}=    AppRole.Get Time Based OTP    ${CAROL_SECRET}
    ${answer}=    AppRole.Verify OTP With Service    carol    ${code}    provider=bao-login
    Should Be Equal    ${answer.result}    ACCEPT
    Revoke Openbao Approle Tokens
    ${wrong}=    Evaluate    "%06d" % ((int($code) + 500000) % 1000000)
    Run Keyword And Expect Error
    ...    EQUALS:MFAAuthenticationFailure: MFA provider 'bao-login': OpenBao refused the code for TOTP key 'carol' (not valid now)
    ...    AppRole.Verify OTP With Service    carol    ${wrong}    provider=bao-login
    ${log}=    Rpa Mfa Server Log File    approle
    ${text}=    Get File    ${log}
    Should Be Equal As Integers    ${{ $text.count("vault AppRole login") }}    2
    [Teardown]    Stop Rpa Mfa Server    approle

A Stopped OpenBao Is Unreachable, Passed Only Where Configured
    [Documentation]    Last: the dev server is empty once started again. Through
    ...    the vault's login the engine itself is unreachable; a token kept in
    ...    that same (stopped) vault cannot even be read: the vault's failure.
    Stop Openbao
    Run Keyword And Expect Error    MFAServiceUnreachable: MFA provider 'bao-login': *Connection refused*
    ...    Verify OTP With Service    bob    123456    provider=bao-login
    Run Keyword And Expect Error    VaultError: cannot reach the vault at vault+${BAO_URL}/secret: Connection refused*
    ...    Verify OTP With Service    alice    123456    provider=bao
    # Over JSON-RPC to see the keyword's output: the pass carries a warning.
    ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Verify OTP With Service
    ...    bob    123456    bao-lenient
    Should Be Equal    ${result}[status]    PASS
    Should Be Equal    ${result}[return][result]    UNREACHABLE
    Should Start With    ${result}[output]    *WARN* MFAServiceUnreachable: MFA provider 'bao-lenient':
    Should Contain    ${result}[output]    passed because MFA provider 'bao-lenient' has ignore_connection_error = true.
    # The server keeps serving.
    ${code}=    Get Time Based OTP    ${ALICE_SECRET}
    Should Match Regexp    ${code}    ^\\d{6}$


*** Keywords ***
Start OpenBao With Its TOTP Engine And The Server
    ${url}=    Start Openbao    ${BAO_TOKEN}
    VAR    ${BAO_URL}    ${url}    scope=SUITE
    Enable Openbao Totp Engine
    Create Openbao Totp Key    alice    ${ALICE_SECRET}
    Create Openbao Totp Key    bob    ${BOB_SECRET}
    Store Openbao Totp Token    alice    mfa-provider
    ${config}=    Catenate    SEPARATOR=\n
    ...    [mfa.bao]
    ...    kind = "openbao-totp"
    ...    url = "${url}"
    ...    token = "bao/mfa-provider:token"
    ...    ${EMPTY}
    ...    [mfa.bao-login]
    ...    kind = "openbao-totp"
    ...    url = "${url}"
    ...    [mfa.bao-login.openbao-totp]
    ...    login_vault = "bao"
    ...    ${EMPTY}
    ...    [mfa.bao-lenient]
    ...    kind = "openbao-totp"
    ...    url = "${url}"
    ...    ignore_connection_error = true
    ...    [mfa.bao-lenient.openbao-totp]
    ...    login_vault = "bao"

    VAR    ${CONFIG_FILE}    ${TEMPDIR}/rpa-mfa-mfa-openbao.toml    scope=SUITE
    Create File    ${CONFIG_FILE}    ${config}
    Export Vault Token    ${BAO_TOKEN}
    Start Server And Import It As MFA    --config    ${CONFIG_FILE}
    ...    --vault    bao\=vault+${url}/secret

Stop Everything
    Stop All Rpa Mfa Servers
    Stop All Openbao Servers
    Remove Vault Token
