*** Settings ***
Documentation     Codes that arrive by e-mail, end to end against a real Dovecot
...               (resources/Dovecot.py): a code arriving while the keyword idles,
...               one that arrived before the call, filters, a quoted-printable
...               HTML-only message, two robots on one mailbox, timeouts, wrong
...               password, unreachable server, IMAPS and STARTTLS with a test CA,
...               XOAUTH2 and OAUTHBEARER with tokens of an auth profile checked by
...               Dovecot at the real oidc-provider, and a mailbox's allow list.
...               Every mailbox has a user of its own (one maildir each).
Resource          resources/common.resource
Library           Collections
Library           OperatingSystem
Library           String
Library           resources/Ops.py
Library           resources/OidcProvider.py
Library           resources/Dovecot.py
Library           resources/MailRobots.py
Suite Setup       Start Dovecot And Server
Suite Teardown    Stop Everything
Test Tags         email


*** Variables ***
${MAIL_PASSWORD}     mail-pw-Xk3vR8qLz
${WRONG_MAIL_PW}     mail-wrong-Pq7Tn2Wd


*** Test Cases ***
A Code Arriving While The Keyword Waits Is Taken Through IDLE
    # Delivered only once the session idles: without IDLE the wait times out.
    Deliver Email When Idling    idle    381946
    ${code}=    Wait For OTP In Email    idle    timeout=30
    Should Be Equal    ${code}    381946
    # Taken messages are flagged \Seen (the mailbox's default `after`).
    ${flags}=    Message Flags    idle
    Should Contain    ${flags}[0]    \\Seen

With IDLE Off The Mailbox Is Polled
    # The mailbox says idle = false and poll = 1: the keyword looks every
    # second and never idles.
    Deliver Email Later    poller    827364    delay=1.5
    ${code}=    Wait For OTP In Email    polled    timeout=15
    Should Be Equal    ${code}    827364
    ${idled}=    User Was Idling    poller
    Should Not Be True    ${idled}

A Code That Arrived Before The Call Is Ignored Unless Since Covers It
    Deliver Email    early    code=552071    received_ago=600
    Run Keyword And Expect Error    TimeoutError: *
    ...    Wait For OTP In Email    early    timeout=1
    ${since}=    Evaluate    int(time.time()) - 900    modules=time
    ${code}=    Wait For OTP In Email    early    since=${since}    timeout=10
    Should Be Equal    ${code}    552071
    # Within the default two minutes, an earlier code is taken.
    Deliver Email    early    code=660318    received_ago=60
    ${code}=    Wait For OTP In Email    early    timeout=10
    Should Be Equal    ${code}    660318

Sender And Subject Filters Pick The Message
    Deliver Email    filter    code=111802    sender=news@shop.example    subject=Weekly deals
    Deliver Email    filter    code=224913    sender=no-reply@bank.example    subject=Newsletter
    Deliver Email    filter    code=337024    sender=Bank Security <no-reply@bank.example>
    ...    subject=Your sign-in code
    ${code}=    Wait For OTP In Email    filter    from=NO-REPLY@bank.example
    ...    subject=sign-in    timeout=10
    Should Be Equal    ${code}    337024
    ${code}=    Wait For OTP In Email    filter    from=Shop    timeout=10
    Should Be Equal    ${code}    111802

A Quoted Printable HTML Only Message Yields Its Code And Its Text
    ${html}=    Catenate
    ...    <html><head><style>p{color:#123456}</style></head><body>
    ...    <p>Sent on 2026-11-30 at 10:30 for order A1234.</p>
    ...    <p>Your one-time code is: <b>748215</b></p>
    ...    <p><a href="https://app.example/magic?token=m4g1c-l1nk">Sign in</a></p></body></html>
    Deliver Email    html    code=748215    html=${html}    encoding=quoted-printable
    ${code}=    Wait For OTP In Email    html    timeout=10
    Should Be Equal    ${code}    748215
    Deliver Email    html    html=${html}    encoding=base64    subject=Your sign-in link
    ${mail}=    Wait For Email Message    html    subject=sign-in link
    ...    pattern=href="(https://app\\.example/magic\\?[^"]+)"    timeout=10
    Should Be Equal    ${mail.code}    https://app.example/magic?token=m4g1c-l1nk
    Should Be Equal    ${mail.subject}    Your sign-in link
    Should Be Equal    ${mail.sender}    no-reply@bank.example
    Should Contain    ${mail.text}    Your one-time code is:
    Should Not Contain    ${mail.text}    <b>

A Custom Pattern Takes Its Group
    Deliver Email    pattern    text=Reference 2026-11-30. Your code: AB7-KX9Q (valid 10 minutes)
    ${code}=    Wait For OTP In Email    pattern    pattern=code: ([A-Z0-9]{3}-[A-Z0-9]{4})
    ...    timeout=10
    Should Be Equal    ${code}    AB7-KX9Q
    Run Keyword And Expect Error
    ...    ValueError: pattern must have exactly one group (the code), '\\d+' has 0.
    ...    Wait For OTP In Email    pattern    pattern=\\d+

Robots On One Mailbox Each Get A Different Message, On Two Servers
    # Two servers share one SQLite state store: a message is taken once
    # across both (one message has no Message-ID: UIDVALIDITY+UID count).
    Deliver Email    shared    code=401101
    Deliver Email    shared    code=402202    message_id=False
    Deliver Email    shared    code=403303
    VAR    @{urls}    ${BASE}    ${BASE_B}
    @{codes}=    Wait For OTP In Email At Once    ${urls}    shared    robots=3
    ...    user=alice    password=${ALICE_PASSWORD}
    Sort List    ${codes}
    VAR    @{expected}    401101    402202    403303
    Lists Should Be Equal    ${codes}    ${expected}
    Run Keyword And Expect Error    TimeoutError: *
    ...    Wait For OTP In Email    shared    timeout=1

A Taken Message Can Be Moved
    Create Folder    mover    Done
    Deliver Email    mover    code=909012
    ${code}=    Wait For OTP In Email    moved    timeout=10
    Should Be Equal    ${code}    909012
    ${inbox}=    Message Count    mover
    ${done}=    Message Count    mover    Done
    Should Be Equal As Integers    ${inbox}    0
    Should Be Equal As Integers    ${done}    1

A Move That Fails Still Hands Out The Code
    # Folder Nowhere does not exist: the message is taken (the code handed
    # out, the failure logged) and stays where it is.
    Deliver Email    lost    code=313131
    ${code}=    Wait For OTP In Email    move-missing    timeout=10
    Should Be Equal    ${code}    313131
    ${inbox}=    Message Count    lost
    Should Be Equal As Integers    ${inbox}    1
    Run Keyword And Expect Error    TimeoutError: *
    ...    Wait For OTP In Email    move-missing    timeout=1

A Timeout Names The Mailbox And The Filters
    Run Keyword And Expect Error
    ...    TimeoutError: No message in mailbox 'quiet' (folder 'INBOX') received since * matched within 1.5 s: from='bank', subject='code', pattern=a lone 4-8 digit number.
    ...    Wait For OTP In Email    quiet    from=bank    subject=code    timeout=1.5

A Wrong Password Is Refused
    Run Keyword And Expect Error
    ...    MailboxAuthenticationError: IMAP server 127.0.0.1:${DOVE.port} refused the password of user 'wrong' (mailbox 'wrong-password'): wrong user name or password
    ...    Wait For OTP In Email    wrong-password    timeout=10

An Unreachable Server Fails Clearly
    Run Keyword And Expect Error
    ...    ConnectionError: Cannot reach IMAP server 127.0.0.1:${CLOSED_PORT} of mailbox 'unreachable': *
    ...    Wait For OTP In Email    unreachable    timeout=10

IMAPS And STARTTLS Check The Certificate Against The Mailbox's CA
    Deliver Email    secure    code=515151
    ${code}=    Wait For OTP In Email    imaps    timeout=10
    Should Be Equal    ${code}    515151
    Deliver Email    secure    code=626262
    ${code}=    Wait For OTP In Email    starttls    timeout=10
    Should Be Equal    ${code}    626262
    # Without the test CA, the system's roots do not trust Dovecot's certificate.
    Run Keyword And Expect Error
    ...    SSLError: TLS with IMAP server 127.0.0.1:${DOVE.tls_port} of mailbox 'untrusted' failed: *
    ...    Wait For OTP In Email    untrusted    timeout=10

XOAUTH2 And OAUTHBEARER Log In With A Profile's Token
    Deliver Email    ${OIDC.basic_id}    code=737373
    ${code}=    Wait For OTP In Email    xoauth2    timeout=10
    Should Be Equal    ${code}    737373
    Deliver Email    ${OIDC.basic_id}    code=848484
    ${code}=    Wait For OTP In Email    oauthbearer    timeout=10
    Should Be Equal    ${code}    848484

A Token Of Another User Is Refused
    # The profile's token introspects as user rpa-basic, not alice.
    Run Keyword And Expect Error
    ...    MailboxAuthenticationError: IMAP server 127.0.0.1:${DOVE.port} refused the XOAUTH2 token of auth profile 'cc' of user 'alice' (mailbox 'refused-token'): the token is not valid for this user
    ...    Wait For OTP In Email    refused-token    timeout=10

A Pinned User Is Refused A Mailbox Outside Its Allow List
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${PORT}/ns/bot-7    AS    Bot
    Run Keyword And Expect Error
    ...    PermissionError: User 'bot7' may not use mailbox 'idle'.
    ...    Bot.Wait For OTP In Email    idle    timeout=1
    Run Keyword And Expect Error
    ...    PermissionError: User 'bot7' may not use mailbox 'team'.
    ...    Bot.Wait For OTP In Email    team    timeout=1
    Deliver Email    teamuser    code=959595
    ${code}=    Bot.Wait For OTP In Email    bots    timeout=10
    Should Be Equal    ${code}    959595

A Token The Server Cannot Check Now Is A Temporary Failure
    # The profile's token is cached; with the provider gone, Dovecot cannot
    # introspect it and answers [UNAVAILABLE], not a refusal.
    Get Access Token    cc
    Stop OIDC Provider
    Run Keyword And Expect Error
    ...    MailboxUnavailableError: IMAP server 127.0.0.1:${DOVE.port} could not check the XOAUTH2 token of auth profile 'cc' of user '${OIDC.basic_id}' (mailbox 'xoauth2') now: a temporary failure, try again later (*)
    ...    Wait For OTP In Email    xoauth2    timeout=10

An Unknown Mailbox Names The Configured Ones
    Run Keyword And Expect Error    ValueError: No mailbox 'nope'; the server has: *
    ...    Wait For OTP In Email    nope


*** Keywords ***
Start Dovecot And Server
    ${dir}=    New Temp Dir
    VAR    ${DIR}    ${dir}    scope=SUITE
    ${oidc}=    Start OIDC Provider    mail_usernames=True
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    ${dove}=    Start Dovecot    ${MAIL_PASSWORD}
    ...    introspection_url=${OIDC.issuer}/token/introspection
    ...    client_id=${OIDC.post_id}    client_secret=${OIDC.post_secret}
    VAR    ${DOVE}    ${dove}    scope=SUITE
    ${closed}=    Free Port
    VAR    ${CLOSED_PORT}    ${closed}    scope=SUITE
    VAR    ${VAULT}    ${dir}/vault.json    scope=SUITE
    Write Vault File    ${VAULT}    rpa-users    alice=${ALICE_PASSWORD}    bot7=${BOT_PASSWORD}
    Write Vault File    ${VAULT}    mail    password=${MAIL_PASSWORD}    wrong=${WRONG_MAIL_PW}
    Write Vault File    ${VAULT}    oauth    basic=${OIDC.basic_secret}
    Write Mailboxes Config
    VAR    @{args}    --config    ${DIR}/rpa-mfa.toml    --vault    file:${VAULT}
    ...    --users-secret    rpa-users    --pin    bot7\=bot-7    --state    sqlite:${DIR}/state.db
    # Server A logs at trace: the secret scan then proves that no IMAP
    # library dumps a password, a token or a code into its log.
    ${port}=    Start Rpa Mfa Server    @{args}    alias=email    RPA_MFA_LOG=trace
    ${port_b}=    Start Rpa Mfa Server    @{args}    alias=email-b
    VAR    ${BASE_B}    http://127.0.0.1:${port_b}    scope=SUITE
    VAR    ${PORT}    ${port}    scope=SUITE
    VAR    ${BASE}    http://127.0.0.1:${port}    scope=SUITE
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    MFA
    Set Library Search Order    MFA

Plain Mailbox
    [Arguments]    ${name}    ${user}    @{extra}
    ${lines}=    Catenate    SEPARATOR=\n
    ...    [mailboxes.${name}]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.port}
    ...    tls = "none"
    ...    user = "${user}"
    ...    password = "mail:password"
    ...    @{extra}
    ...    ${EMPTY}
    RETURN    ${lines}

Write Mailboxes Config
    @{tables}=    Create List
    FOR    ${name}    ${user}    IN
    ...    idle    idle    early    early    filter    filter    html    html    pattern    pattern
    ...    shared    shared    quiet    quiet
        ${table}=    Plain Mailbox    ${name}    ${user}
        Append To List    ${tables}    ${table}
    END
    ${moved}=    Plain Mailbox    moved    mover    after = "move:Done"
    ${missing}=    Plain Mailbox    move-missing    lost    after = "move:Nowhere"
    ${polled}=    Plain Mailbox    polled    poller    poll = 1    idle = false
    ${team}=    Plain Mailbox    team    teamuser    allow = ["alice"]
    ${bots}=    Plain Mailbox    bots    teamuser    allow = ["alice", "bot-7"]
    ${config}=    Catenate    SEPARATOR=\n    @{tables}    ${moved}    ${missing}    ${polled}    ${team}    ${bots}
    ...    [profiles.cc]
    ...    grant = "client_credentials"
    ...    issuer = "${OIDC.issuer}"
    ...    client_id = "${OIDC.basic_id}"
    ...    client_secret = "oauth:basic"
    ...    ${EMPTY}
    ...    [mailboxes.wrong-password]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.port}
    ...    tls = "none"
    ...    user = "wrong"
    ...    password = "mail:wrong"
    ...    ${EMPTY}
    ...    [mailboxes.unreachable]
    ...    host = "127.0.0.1"
    ...    port = ${CLOSED_PORT}
    ...    tls = "none"
    ...    user = "nobody"
    ...    password = "mail:password"
    ...    ${EMPTY}
    ...    [mailboxes.imaps]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.tls_port}
    ...    ca = "${DOVE.ca}"
    ...    user = "secure"
    ...    password = "mail:password"
    ...    ${EMPTY}
    ...    [mailboxes.starttls]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.port}
    ...    tls = "starttls"
    ...    ca = "${DOVE.ca}"
    ...    user = "secure"
    ...    password = "mail:password"
    ...    ${EMPTY}
    ...    [mailboxes.untrusted]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.tls_port}
    ...    user = "secure"
    ...    password = "mail:password"
    ...    ${EMPTY}
    ...    [mailboxes.xoauth2]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.port}
    ...    tls = "none"
    ...    user = "${OIDC.basic_id}"
    ...    auth = "xoauth2"
    ...    profile = "cc"
    ...    ${EMPTY}
    ...    [mailboxes.oauthbearer]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.port}
    ...    tls = "none"
    ...    user = "${OIDC.basic_id}"
    ...    auth = "oauthbearer"
    ...    profile = "cc"
    ...    ${EMPTY}
    ...    [mailboxes.refused-token]
    ...    host = "127.0.0.1"
    ...    port = ${DOVE.port}
    ...    tls = "none"
    ...    user = "alice"
    ...    profile = "cc"
    Create File    ${DIR}/rpa-mfa.toml    ${config}\n

Stop Everything
    Stop All Rpa Mfa Servers
    Stop Dovecot
    Stop All OIDC Providers
