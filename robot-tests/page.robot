*** Settings ***
Documentation     The keyword page at GET / in headless Chromium: every keyword
...               libdoc finds on the server is on the page with the same
...               arguments, tags, return type and documentation; the page
...               is self-contained; a screenshot is kept for people.
Resource          resources/common.resource
Library           Collections
Library           Process
Library           String
Library           resources/KeywordPage.py
Suite Setup       Start Server And Import It As MFA
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         page


*** Test Cases ***
The Page Shows What Libdoc Shows
    ${result}=    Run Process    ${{sys.executable}}    -m    robot.libdoc
    ...    Remote::${BASE}    ${OUTPUT DIR}/page-libdoc.json
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}${result.stderr}
    ${expected}=    Entries In Libdoc    ${OUTPUT DIR}/page-libdoc.json
    ${dom}=    Dump Page Dom    ${BASE}/    save_as=${OUTPUT DIR}/keyword-page.html
    ${shown}=    Entries On Page    ${dom}
    # 41 keywords (8 OTP with Get Next Counter Based OTP and the two Verify,
    # 14 OAuth, 3 auth profile, Get Secret and Set Secret, 3 MFA service,
    # 5 identity platform, Wait For OTP In SMS, 2 e-mail, 2 QR, Stop Remote
    # Server) and the intro and import docs; none missing, none extra.
    Length Should Be    ${expected}    43
    Lists Should Be Equal    ${{sorted($shown)}}    ${{sorted($expected)}}
    FOR    ${name}    IN    @{expected}
        Dictionaries Should Be Equal    ${shown}[${name}]    ${expected}[${name}]
        ...    The page differs from libdoc for '${name}'
    END
    # Named-only and free named arguments are marked as such.
    ${args}=    Set Variable    ${shown}[Get Time Based OTP][args]
    Should Be Equal    ${args}[1][repr]    min_validity: int = 0
    Should Be Equal    ${args}[1][kind]    named-only

The Page Is Self-Contained And Escaped
    ${dom}=    Dump Page Dom    ${BASE}/
    Page Fetches Nothing    ${dom}
    Should Contain    ${dom}    <title>rpa-mfa keywords</title>
    # Exactly one script: the page's own filter.
    Should Be Equal As Integers    ${dom.count('<script')}    1
    # The doc text "``<`` and ``&``"-style content arrives as text, not markup.
    Should Contain    ${dom}    <code>otpauth://totp/...</code>

The Filter Box Narrows The Keywords
    ${dom}=    Dump Page Dom    ${BASE}/?q=counter%20otp
    ${hidden}=    Get Regexp Matches    ${dom}    <section class="keyword card" id="[^"]+" data-name="([^"]+)" hidden    1
    ${shown}=    Get Regexp Matches    ${dom}    <section class="keyword card" id="[^"]+" data-name="([^"]+)">    1
    # Every keyword whose text mentions both words, and only those.
    Should Contain    ${shown}    Get Counter Based OTP
    Should Contain    ${shown}    Set Counter Based OTP
    Should Not Contain    ${shown}    Stop Remote Server
    Should Contain    ${hidden}    Stop Remote Server
    ${dom}=    Dump Page Dom    ${BASE}/?q=no-such-keyword-anywhere
    Should Not Match Regexp    ${dom}    <section class="keyword card" id="[^"]+" data-name="[^"]+">
    Should Match Regexp    ${dom}    <p id="no-match">

Screenshot For People
    Take Page Screenshot    ${BASE}/    ${OUTPUT DIR}/keyword-page.png    height=2600
    # The page's --bg and --text colours (src/page/page.css): a blank page,
    # Chromium's error page or unstyled HTML fails.
    Screenshot Should Show The Page    ${OUTPUT DIR}/keyword-page.png    width=1280    height=2600
    ...    background=#f5f7fa    text=#1f2933

POST To The Root Is Still XML-RPC
    ${code}=    Get Counter Based OTP    0    ${RFC_SEED}
    Should Be Equal    ${code}    755224    # RFC 4226 Appendix D
