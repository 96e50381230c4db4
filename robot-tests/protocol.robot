*** Settings ***
Documentation     The remote protocol as Robot Framework 7.5 speaks it: library
...               information for libdoc, typed arguments, stopping.
Resource          resources/common.resource
Library           Collections
Library           Process
Suite Setup       Start Server And Import It As MFA
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         protocol


*** Test Cases ***
Libdoc Shows Keywords With Types And Defaults
    ${result}=    Run Process    ${{sys.executable}}    -m    robot.libdoc
    ...    Remote::${BASE}    ${OUTPUT DIR}/rpa-mfa-libdoc.json
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}${result.stderr}
    ${doc}=    Evaluate    json.load(open($OUTPUT_DIR + '/rpa-mfa-libdoc.json'))
    Should Contain    ${doc}[doc]    RPA.MFA
    Should Contain    ${doc}[inits][0][doc]    --secret
    ${keywords}=    Evaluate    {k['name']: k for k in $doc['keywords']}
    FOR    ${name}    IN    Use MFA Secret From Vault    Set Time Based OTP    Set Counter Based OTP
    ...    Get Time Based OTP    Get Counter Based OTP    Stop Remote Server
        Dictionary Should Contain Key    ${keywords}    ${name}
    END
    ${args}=    Evaluate    {a['name']: a for a in $keywords['Get Time Based OTP']['args']}
    Should Be Equal    ${args}[min_validity][type][name]    int
    Should Be Equal    ${args}[min_validity][defaultValue]    0
    Should Be Equal    ${args}[min_validity][kind]    NAMED_ONLY
    Should Be Equal    ${args}[otp_passcode][repr]    otp_passcode: str | None = None
    Should Be Equal    ${keywords}[Get Time Based OTP][returnType][name]    str
    ${args}=    Evaluate    {a['name']: a for a in $keywords['Use MFA Secret From Vault']['args']}
    Should Be Equal    ${args}[mode][repr]    mode: OTPMode = TIME
    ${args}=    Evaluate    {a['name']: a for a in $keywords['Set Time Based OTP']['args']}
    Should Be Equal    ${args}[algorithm][repr]    algorithm: Literal['SHA1', 'SHA256', 'SHA512'] | None = None
    ${args}=    Evaluate    {a['name']: a for a in $keywords['Get Counter Based OTP']['args']}
    Should Be Equal    ${args}[counter][repr]    counter: int | str
    Should Contain    ${keywords}[Get Counter Based OTP][tags]    otp
    Should Contain    ${keywords}[Get Counter Based OTP][doc]    2^64-1
    # The HTML form, for a person to look at.
    ${result}=    Run Process    ${{sys.executable}}    -m    robot.libdoc
    ...    Remote::${BASE}    ${OUTPUT DIR}/rpa-mfa-libdoc.html
    Should Be Equal As Integers    ${result.rc}    0

Typed Arguments Are Converted By Robot Before Sending
    # digits is declared int | None: Robot turns "8" into 8, and refuses "eight".
    Set Time Based OTP    ${SECRET}    digits=8
    ${code}=    Get Time Based OTP    at=59
    Length Should Be    ${code}    8
    Run Keyword And Expect Error    ValueError: Argument 'digits' got value 'eight' that cannot be converted to integer or None.
    ...    Set Time Based OTP    ${SECRET}    digits=eight

Wrong Argument Counts And Names Fail Before Reaching The Server
    Run Keyword And Expect Error    *expected 1 to 2 arguments, got 3.
    ...    Get Counter Based OTP    1    ${SECRET}    extra
    Run Keyword And Expect Error    *expected 1 to 2 arguments, got 0.
    ...    Get Counter Based OTP

Stop Remote Server Is Refused Without Allow Stop
    ${stopped}=    Stop Remote Server
    Should Be Equal    ${stopped}    ${False}
    ${code}=    Get Counter Based OTP    0    ${RFC_SEED}
    Should Be Equal    ${code}    755224

Stop Remote Server Stops A Server Started With Allow Stop
    ${port}=    Start Rpa Mfa Server    --allow-stop    alias=stoppable
    Import Library    Remote    http://127.0.0.1:${port}    AS    Stoppable
    ${stopped}=    Stoppable.Stop Remote Server
    Should Be Equal    ${stopped}    ${True}
    Wait For Rpa Mfa Server To Exit    alias=stoppable
