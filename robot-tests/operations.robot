*** Settings ***
Documentation     Operations: /health, /metrics parsed by prometheus_client and
...               counting exactly the calls made here, one JSON log line per
...               keyword call, and a config file with environment overrides.
Resource          resources/common.resource
Library           OperatingSystem
Library           Collections
Library           resources/Ops.py
Suite Setup       Start With JSON Logs
Suite Teardown    Save Metrics And Stop
Test Tags         operations


*** Test Cases ***
Health Is Open JSON
    ${status}    ${body}=    Http Get    ${BASE}/health
    Should Be Equal As Integers    ${status}    200
    ${health}=    Evaluate    json.loads($body)
    Should Be Equal    ${health}[status]    ok
    Should Be Equal    ${health}[auth]    ${False}
    Should Be Equal    ${health}[tls]    ${False}

Metrics And Logs Count Exactly The Calls Made
    # This suite's calls, over both protocols; the server is its own.
    FOR    ${counter}    IN    4    5    6
        Counted.Get Counter Based OTP    ${counter}    ${RFC_SEED}
    END
    Run Keyword And Expect Error    ${TOTP_NOT_SET}    Counted.Get Time Based OTP
    FOR    ${counter}    IN    7    8
        ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Get Counter Based OTP    ${counter}    ${RFC_SEED}
        Should Be Equal    ${result}[status]    PASS
    END
    ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    No Such Keyword
    Should Be Equal    ${result}[status]    FAIL
    ${status}    ${text}=    Http Get    ${BASE}/metrics
    ${m}=    Parse Metrics    ${text}
    ${xml_hotp}=    Metric Value    ${m}    rpa_mfa_keyword_calls_total    protocol=xmlrpc    keyword=Get Counter Based OTP
    Should Be Equal As Integers    ${xml_hotp}    3
    ${json_hotp}=    Metric Value    ${m}    rpa_mfa_keyword_calls_total    protocol=jsonrpc    keyword=Get Counter Based OTP
    Should Be Equal As Integers    ${json_hotp}    2
    ${totp}=    Metric Value    ${m}    rpa_mfa_keyword_calls_total    protocol=xmlrpc    keyword=Get Time Based OTP
    Should Be Equal As Integers    ${totp}    1
    ${totp_failed}=    Metric Value    ${m}    rpa_mfa_keyword_failures_total    protocol=xmlrpc    keyword=Get Time Based OTP
    Should Be Equal As Integers    ${totp_failed}    1
    ${hotp_failed}=    Metric Value    ${m}    rpa_mfa_keyword_failures_total    protocol=xmlrpc    keyword=Get Counter Based OTP
    Should Be Equal As Integers    ${hotp_failed}    0
    ${unknown}=    Metric Value    ${m}    rpa_mfa_keyword_failures_total    protocol=jsonrpc    keyword=(unknown)
    Should Be Equal As Integers    ${unknown}    1
    ${timed}=    Metric Value    ${m}    rpa_mfa_keyword_duration_seconds_count    protocol=xmlrpc    keyword=Get Counter Based OTP
    Should Be Equal As Integers    ${timed}    3
    ${runs}=    Metric Value    ${m}    rpa_mfa_method_calls_total    protocol=xmlrpc    method=run_keyword
    Should Be Equal As Integers    ${runs}    4
    ${imports}=    Metric Value    ${m}    rpa_mfa_method_calls_total    protocol=xmlrpc    method=get_library_information
    Should Be Equal As Integers    ${imports}    1    Robot asks once, at the import
    # One JSON log line per keyword call: 4 over XML-RPC, 3 over JSON-RPC.
    ${events}=    Json Log Events    ${LOG}    keyword
    Length Should Be    ${events}    7
    FOR    ${event}    IN    @{events}
        Dictionary Should Contain Key    ${event}    namespace
        Dictionary Should Contain Key    ${event}    duration_us
        Should Be True    type($event["duration_us"]) is int    microseconds, an integer
        Should Contain Any    ${event}[status]    PASS    FAIL
        Should Contain Any    ${event}[keyword]    Get Counter Based OTP    Get Time Based OTP    (unknown)
    END
    ${failed}=    Evaluate    [e for e in $events if e["status"] == "FAIL"]
    Length Should Be    ${failed}    2

Config File Settings Apply And The Environment Overrides Them
    ${dir}=    New Temp Dir
    Write Vault File    ${dir}/vault.json    file-users    alice=${ALICE_PASSWORD}
    Write Vault File    ${dir}/vault.json    env-users    envy=${ENV_PASSWORD}
    Create File    ${dir}/rpa-mfa.toml
    ...    vault = "file:${dir}/vault.json"\nusers_secret = "file-users"\nlog_format = "json"\nallow_stop = true\n
    ${port}=    Start Rpa Mfa Server    --config    ${dir}/rpa-mfa.toml    alias=configured
    ...    RPA_MFA_USERS_SECRET=env-users    RPA_MFA_LOG_FORMAT=
    # users_secret from the file is overridden by the environment ...
    Http Status Should Be    200    http://127.0.0.1:${port}/metrics    user=envy    password=${ENV_PASSWORD}
    Http Status Should Be    401    http://127.0.0.1:${port}/metrics    user=alice    password=${ALICE_PASSWORD}
    # ... while log_format and allow_stop come from the file.
    ${log}=    Rpa Mfa Server Log File    configured
    ${events}=    Json Log Events    ${log}    authentication required
    Length Should Be    ${events}    1
    Import Library    Remote    http://envy:${ENV_PASSWORD}@127.0.0.1:${port}    AS    Configured
    ${stopped}=    Configured.Stop Remote Server
    Should Be True    ${stopped}
    Wait For Rpa Mfa Server To Exit    configured
    [Teardown]    Remove Directory    ${dir}    recursive=True

Flags Beat The Environment
    ${port}=    Start Rpa Mfa Server    --log-format    json    alias=flagged    RPA_MFA_LOG_FORMAT=text
    ${log}=    Rpa Mfa Server Log File    flagged
    Json Log Events    ${log}    secrets
    Stop Rpa Mfa Server    flagged
    Rpa Mfa Server Should Fail To Start    expected_error=RPA_MFA_PORT: cannot use 'eighty'
    ...    RPA_MFA_PORT=eighty    RPA_MFA_HOST=127.0.0.1


*** Keywords ***
Start With JSON Logs
    ${port}=    Start Rpa Mfa Server    --log-format    json
    VAR    ${BASE}    http://127.0.0.1:${port}    scope=SUITE
    ${log}=    Rpa Mfa Server Log File
    VAR    ${LOG}    ${log}    scope=SUITE
    Import Library    Remote    ${BASE}    AS    Counted

Save Metrics And Stop
    Save Metrics    ${BASE}/metrics    ${OUTPUT DIR}/metrics-operations.txt
    Stop All Rpa Mfa Servers
