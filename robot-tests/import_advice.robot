*** Settings ***
Documentation     The import the server recommends (libdoc's and the keyword
...               page's Importing section) works as written, in a suite whose
...               name has a space, and the page shows each import line once.
...               The file name gives this suite the name "Import Advice".
Resource          resources/common.resource
Library           OperatingSystem
Library           Process
Library           String
Library           Collections
Library           resources/Ops.py
Suite Setup       Start Server And Import It As MFA
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         import-advice


*** Test Cases ***
The Namespace Import From Libdoc Works For A Suite Name With A Space
    Should Contain    ${SUITE NAME}    ${SPACE}
    ${lines}=    Import Lines In Libdoc
    ${ns_lines}=    Evaluate    [l for l in $lines if '/ns/' in l]
    Length Should Be    ${ns_lines}    1
    # As a user copies it, pointed at this server's port.
    ${url}=    Remove String    ${ns_lines}[0]    Library    Remote
    ${url}=    Replace String    ${url.strip()}    127.0.0.1:8270    ${BASE[7:]}
    ${url}=    Replace Variables    ${url}
    # "Import Advice", or "Robot-Tests.Import Advice" when run with the others.
    Should Match Regexp    ${url}    ^${BASE}/ns/([A-Za-z-]+\\.)?Import%20Advice$
    Import Library    Remote    ${url}    AS    Advised
    Advised.Set Counter Based OTP    ${RFC_SEED}
    ${code}=    Advised.Get Counter Based OTP    9
    Should Be Equal    ${code}    520489    # RFC 4226 appendix D
    # The namespace is the suite's own: the default one is untouched.
    Run Keyword And Expect Error    EQUALS:${HOTP_NOT_SET}    MFA.Get Counter Based OTP    9

Libdoc Recommends Two Different Imports
    ${lines}=    Import Lines In Libdoc
    Length Should Be    ${lines}    2
    List Should Not Contain Duplicates    ${lines}

The Keyword Page Shows Each Import Line Once
    ${status}    ${page}=    Http Get    ${BASE}/
    ${start}=    Evaluate    $page.index('id="importing"')
    ${end}=    Evaluate    $page.index('id="keywords"')
    ${importing}=    Evaluate    $page[$start:$end]
    ${lines}=    Get Regexp Matches    ${importing}    Library\\s+Remote\\s+http://[^<\\s]+
    Length Should Be    ${lines}    2
    List Should Not Contain Duplicates    ${lines}
    Should Contain    ${importing}    This server: <code>http://${BASE[7:]}</code>


*** Keywords ***
Import Lines In Libdoc
    [Documentation]    The ``Library    Remote`` lines of the import documentation
    ...    that Robot's own libdoc reads from the running server.
    ${spec}=    Set Variable    ${OUTPUT DIR}/import-advice-libdoc.json
    ${result}=    Run Process    ${{sys.executable}}    -m    robot.libdoc    --specdocformat    RAW    Remote::${BASE}    ${spec}
    Should Be Equal As Integers    ${result.rc}    0    ${result.stdout}${result.stderr}
    ${doc}=    Evaluate    json.load(open($spec))["inits"][0]["doc"]
    ${lines}=    Evaluate    [l[1:].strip() for l in $doc.splitlines() if l.startswith('| Library')]
    RETURN    ${lines}
