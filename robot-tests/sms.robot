*** Settings ***
Documentation     Codes that arrive by SMS: Twilio's webhook signed by the official
...               twilio package, a generic JSON webhook with a shared secret, and
...               robots waiting with `Wait For OTP In SMS` on three servers that
...               share a real Redis (the run's redis-server), so each message is
...               consumed once, fleet-wide. A fourth server, with authentication,
...               checks the numbers' allow lists.
Resource          resources/fleet.resource
Library           resources/SmsGateway.py
Suite Setup       Start The SMS Fleet
Suite Teardown    Stop The SMS Fleet
Test Tags         sms    redis


*** Variables ***
${TWILIO_TOKEN}      twilio-auth-Zk3pW8qN5vR2
${WEBHOOK_SECRET}    gateway-secret-Hq7cL2xT9m
${PUBLIC}            https://mfa.example.test/gateway
${N1}                +15550104477
${N2}                +15550109911
${N_ALICE}           +15550107001
${N_TEAM}            +15550107002


*** Test Cases ***
A Signed Twilio SMS Reaches The Robot Waiting On Another Server
    Start Waiting For SMS    robot    ${B}    +1 (555) 010-4477    timeout=30
    Waiting Should Still Be Running    robot
    # Server A is reached as ${PUBLIC} (--public-url): Twilio signs that URL.
    ${status}    ${answer}=    Send Twilio SMS    ${A}    ${TWILIO_TOKEN}    ${N1}
    ...    Your Acme code is 481516. It expires in 10 minutes.    signed_url=${PUBLIC}/sms/twilio
    Should Be Equal As Integers    ${status}    200
    Should Be Equal    ${answer}    <?xml version="1.0" encoding="UTF-8"?><Response></Response>
    ${code}=    Waiting Result    robot
    Should Be Equal    ${code}    481516

Servers Without A Public URL Check The Signature Over Their Own Address
    ${status}    ${_}=    Send Twilio SMS    ${C}    ${TWILIO_TOKEN}    ${N1}    code 662607
    Should Be Equal As Integers    ${status}    200
    ${code}=    Take Code    ${A}    ${N1}
    Should Be Equal    ${code}    662607

Tampered Or Unsigned Twilio Webhooks Are Refused And Queue Nothing
    ${status}    ${_}=    Send Twilio SMS    ${A}    ${TWILIO_TOKEN}    ${N1}    code 271828
    ...    signed_url=${PUBLIC}/sms/twilio    tamper=body
    Should Be Equal As Integers    ${status}    403
    # Signed for the address it was posted to, not the public URL A is reached at.
    ${status}    ${_}=    Send Twilio SMS    ${A}    ${TWILIO_TOKEN}    ${N1}    code 271828
    Should Be Equal As Integers    ${status}    403
    ${status}    ${_}=    Send Twilio SMS    ${A}    ${TWILIO_TOKEN}    ${N1}    code 271828
    ...    signed_url=${PUBLIC}/sms/twilio    tamper=signature
    Should Be Equal As Integers    ${status}    403
    ${status}    ${_}=    Send Twilio SMS    ${A}    ${TWILIO_TOKEN}    ${N1}    code 271828
    ...    signed_url=${PUBLIC}/sms/twilio    tamper=missing
    Should Be Equal As Integers    ${status}    403
    ${status}    ${_}=    Send Twilio SMS    ${B}    wrong-token    ${N1}    code 271828
    Should Be Equal As Integers    ${status}    403
    Run Keyword And Expect Error    TimeoutError: No SMS to ${N1} with a code arrived within 0 s.
    ...    Take Code    ${B}    ${N1}    timeout=0
    # Refusals are logged without the message.
    ${path}=    Rpa Mfa Server Log File    A
    ${log}=    Get File    ${path}
    Should Contain    ${log}    SMS webhook refused
    Should Not Contain    ${log}    271828
    ${metrics}=    Metrics Of    ${A}
    ${refused}=    Metric Value    ${metrics}    rpa_mfa_sms_refused_total
    ...    gateway=twilio    reason=bad signature
    Should Be Equal As Numbers    ${refused}    3

Concurrent Waits On Two Numbers Each Get Their Own Code
    Start Waiting For SMS    first    ${A}    ${N1}    timeout=30
    Start Waiting For SMS    second    ${C}    ${N2}    timeout=30
    Waiting Should Still Be Running    first
    Waiting Should Still Be Running    second
    Send Signed SMS    ${B}    ${N2}    Code: 314159
    Send Signed SMS    ${B}    ${N1}    Code: 577215
    ${first}=    Waiting Result    first
    ${second}=    Waiting Result    second
    Should Be Equal    ${first}    577215
    Should Be Equal    ${second}    314159

Each Message Is Consumed Once Across Three Servers
    FOR    ${server}    IN    A    B    C
        Start Waiting For SMS    robot-${server}    ${${server}}    ${N1}    timeout=30
    END
    Send Signed SMS    ${A}    ${N1}    code 100001
    Send Signed SMS    ${B}    ${N1}    code 200002
    Send Signed SMS    ${C}    ${N1}    code 300003
    @{codes}=    Create List
    FOR    ${server}    IN    A    B    C
        ${code}=    Waiting Result    robot-${server}
        Append To List    ${codes}    ${code}
    END
    Sort List    ${codes}
    Should Be Equal    ${codes}    ${{ ['100001', '200002', '300003'] }}
    Run Keyword And Expect Error    TimeoutError: *    Take Code    ${C}    ${N1}    timeout=0

A Full Queue Drops Its Oldest Message And Metrics Count It
    ${before}=    Dropped On    ${C}
    FOR    ${code}    IN    411111    422222    433333    444444
        Send Signed SMS    ${C}    ${N2}    Your code is ${code}
    END
    ${after}=    Dropped On    ${C}
    Should Be Equal As Numbers    ${{ $after - $before }}    1
    FOR    ${code}    IN    422222    433333    444444
        ${taken}=    Take Code    ${A}    ${N2}
        Should Be Equal    ${taken}    ${code}
    END
    Run Keyword And Expect Error    TimeoutError: *    Take Code    ${A}    ${N2}    timeout=0

Sender And Pattern Filters Leave Other Messages For Others
    Send Signed SMS    ${A}    ${N2}    Your bank code is 737373    sender=+15550003333
    Send Signed SMS    ${A}    ${N2}    Shop code: AB12CD (or 5555)    sender=SHOP
    ${code}=    Take Code    ${B}    ${N2}    pattern=code: ([A-Z0-9]{6})
    Should Be Equal    ${code}    AB12CD
    Run Keyword And Expect Error    TimeoutError: No SMS to ${N2} from +15550009999 with a code arrived within 0 s.
    ...    Take Code    ${B}    ${N2}    from=+1 555 000 9999    timeout=0
    ${code}=    Take Code    ${B}    ${N2}    from=+1 555 000 3333
    Should Be Equal    ${code}    737373
    Run Keyword And Expect Error    ValueError: pattern must have exactly one capturing group (the code), it has 0
    ...    Take Code    ${B}    ${N2}    pattern=\\d{6}    timeout=0

The Generic Webhook Takes Messages Only With Its Secret
    ${status}=    Send Webhook SMS    ${B}    ${None}    ${N1}    code 161803
    Should Be Equal As Integers    ${status}    403
    ${status}=    Send Webhook SMS    ${B}    wrong-secret    ${N1}    code 161803
    Should Be Equal As Integers    ${status}    403
    Run Keyword And Expect Error    TimeoutError: *    Take Code    ${A}    ${N1}    timeout=0
    ${status}=    Send Webhook SMS    ${B}    ${WEBHOOK_SECRET}    ${N1}    code 141421
    Should Be Equal As Integers    ${status}    204
    ${code}=    Take Code    ${A}    ${N1}
    Should Be Equal    ${code}    141421
    ${metrics}=    Metrics Of    ${B}
    ${received}=    Metric Value    ${metrics}    rpa_mfa_sms_received_total    gateway=webhook
    Should Be Equal As Numbers    ${received}    1

Unknown Numbers Are Refused By The Webhook And The Keyword
    ${status}=    Send Webhook SMS    ${A}    ${WEBHOOK_SECRET}    +15559990000    code 999001
    Should Be Equal As Integers    ${status}    404
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: SMS number '+15559990000' is not configured; add [sms_numbers."+15559990000"] to the server's config file
    ...    Take Code    ${A}    +1 555 999 0000    timeout=0

Webhooks Refuse Oversized Bodies And Run Only When Configured
    ${big}=    Evaluate    'x' * 70000
    ${status}=    Send Webhook SMS    ${B}    ${WEBHOOK_SECRET}    ${N1}    ${big}
    Should Be Equal As Integers    ${status}    413
    ${status}    ${_}=    Send Twilio SMS    ${B}    ${TWILIO_TOKEN}    ${N1}    ${big}
    Should Be Equal As Integers    ${status}    413
    # Server P has neither --sms-twilio-token nor --sms-webhook-secret.
    ${status}    ${_}=    Send Twilio SMS    http://127.0.0.1:${P}    ${TWILIO_TOKEN}    ${N2}    code 999001
    Should Be Equal As Integers    ${status}    403
    ${status}=    Send Webhook SMS    http://127.0.0.1:${P}    ${WEBHOOK_SECRET}    ${N2}    code 999001
    Should Be Equal As Integers    ${status}    403

No Keyword Reads The Webhooks' Secrets
    Import Library    Remote    ${A}    AS    FleetA
    Run Keyword And Expect Error
    ...    PermissionError: Secret 'twilio' holds the server's own credentials; no keyword may read or write it.
    ...    FleetA.Get Secret    twilio
    Run Keyword And Expect Error    PermissionError: Secret 'gateway' holds *    FleetA.Get Secret    gateway

A Pinned User Is Refused A Number Outside Its Allow List
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${P}/ns/teamA    AS    Bot
    Run Keyword And Expect Error
    ...    PermissionError: User 'bot7' may not use SMS number '${N_ALICE}'.
    ...    Bot.Wait For OTP In SMS    ${N_ALICE}    timeout=0
    # Allowed by its namespace; a number without a list is for unpinned users only.
    Run Keyword And Expect Error    TimeoutError: *    Bot.Wait For OTP In SMS    ${N_TEAM}    timeout=0
    Run Keyword And Expect Error    PermissionError: User 'bot7' may not use SMS number '${N2}'.
    ...    Bot.Wait For OTP In SMS    ${N2}    timeout=0
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${P}    AS    Alice
    Run Keyword And Expect Error    TimeoutError: *    Alice.Wait For OTP In SMS    ${N_ALICE}    timeout=0
    Run Keyword And Expect Error    PermissionError: User 'alice' may not use SMS number '${N_TEAM}'.
    ...    Alice.Wait For OTP In SMS    ${N_TEAM}    timeout=0


*** Keywords ***
Start The SMS Fleet
    ${redis}=    Shared Redis
    Write The Fleet's State Key
    Add Webhook Secrets To The Vault
    Create File    ${DIR}/sms.toml    sms_queue_size = 3\n[sms_numbers."${N1}"]\n[sms_numbers."+1 555 010 9911"]\n
    VAR    @{common}    --state    ${redis.url}    @{FLEET_STATE}    --config    ${DIR}/sms.toml
    ...    --sms-twilio-token    twilio:token    --sms-webhook-secret    gateway:secret
    ${port}=    Start Rpa Mfa Server    @{common}    --public-url    ${PUBLIC}/    alias=A
    VAR    ${A}    http://127.0.0.1:${port}    scope=SUITE
    FOR    ${name}    IN    B    C
        ${port}=    Start Rpa Mfa Server    @{common}    alias=${name}
        Set Suite Variable    \${${name}}    http://127.0.0.1:${port}
    END
    Create File    ${DIR}/pinned.toml
    ...    [sms_numbers."${N_ALICE}"]\nallow = ["alice"]\n[sms_numbers."${N_TEAM}"]\nallow = ["teamA"]\n[sms_numbers."${N2}"]\n
    ${port}=    Start Rpa Mfa Server    --state    memory:    --vault    file:${DIR}/vault.json
    ...    --config    ${DIR}/pinned.toml    --users-secret    rpa-users    --pin    bot7\=teamA    alias=P
    VAR    ${P}    ${port}    scope=SUITE

Add Webhook Secrets To The Vault
    ${vault}=    Evaluate    json.load(open($DIR + '/vault.json'))
    Set To Dictionary    ${vault}    twilio=${{ {'token': $TWILIO_TOKEN} }}
    ...    gateway=${{ {'secret': $WEBHOOK_SECRET} }}
    ...    rpa-users=${{ {'alice': $ALICE_PASSWORD, 'bot7': $BOT_PASSWORD} }}
    Evaluate    open($DIR + '/vault.json', 'w').write(json.dumps($vault))

Stop The SMS Fleet
    Save Metrics    ${A}/metrics    ${OUTPUT DIR}/metrics-sms.txt
    Stop All Rpa Mfa Servers
    Forget The Fleet's State Key

Send Signed SMS
    [Documentation]    A Twilio SMS signed for the URL the server is reached at; must be queued.
    [Arguments]    ${server}    ${to}    ${body}    ${sender}=+15550001111
    ${signed}=    Set Variable If    $server == $A    ${PUBLIC}/sms/twilio    ${server}/sms/twilio
    ${status}    ${_}=    Send Twilio SMS    ${server}    ${TWILIO_TOKEN}    ${to}    ${body}
    ...    sender=${sender}    signed_url=${signed}
    Should Be Equal As Integers    ${status}    200

Take Code
    [Documentation]    `Wait For OTP In SMS` on ``${server}``.
    [Arguments]    ${server}    ${number}    &{named}
    ${code}=    Run Keyword    Take Code Through    ${server}    ${number}    &{named}
    RETURN    ${code}

Take Code Through
    [Arguments]    ${server}    ${number}    &{named}
    Start Waiting For SMS    take    ${server}    ${number}    &{named}
    ${code}=    Waiting Result    take
    RETURN    ${code}

Metrics Of
    [Arguments]    ${server}
    ${status}    ${text}=    Http Get    ${server}/metrics
    Should Be Equal As Integers    ${status}    200
    ${metrics}=    Parse Metrics    ${text}
    RETURN    ${metrics}

Dropped On
    [Arguments]    ${server}
    ${metrics}=    Metrics Of    ${server}
    ${dropped}=    Metric Value    ${metrics}    rpa_mfa_sms_dropped_total
    RETURN    ${dropped}
