*** Settings ***
Documentation     The fleet on a Redis Cluster of three masters (redis+cluster://
...               with two of them as seeds) and on redis-server's TLS port
...               (rediss:// trusting a CA made for this run with openssl).
Resource          resources/fleet.resource
Suite Setup       Write The Fleet's State Key
Suite Teardown    Run Keywords    Stop All Rpa Mfa Servers    AND    Forget The Fleet's State Key
Test Tags         fleet    redis


*** Variables ***
${CLUSTER_SECRET}    PEEJCB3QOWOOVQTEM3FSPQPMT6NOL4ZV
${TLS_SECRET}        6N3TRQ3R3MXT3G6XCYPNZK2BGWZUMXDB


*** Test Cases ***
A Thousand Counter Codes From Three Servers On A Redis Cluster Are Exactly HOTP 0 To 999
    ${cluster}=    Shared Redis Cluster
    # Two seeds: the client learns the third master from them.
    ${seeds}=    Evaluate    ",".join(u.split("://")[1].split("/")[0] for u in $cluster.urls[:2])
    @{urls}=    Create List
    FOR    ${name}    IN    ca    cb    cc
        ${port}=    Start Rpa Mfa Server    --state    redis+cluster://${seeds}
        ...    @{FLEET_STATE}    alias=${name}
        Append To List    ${urls}    http://127.0.0.1:${port}/ns/cluster
    END
    Import Library    Remote    ${urls}[0]    AS    ClusterA
    ClusterA.Set Counter Based OTP    ${CLUSTER_SECRET}
    Next Counter Codes Should Be Exactly Hotp    ${urls}    ${CLUSTER_SECRET}    calls=1000    threads=12
    ${keys}=    Redis Should Not Hold Secret    cluster    ${CLUSTER_SECRET}
    Should Be True    ${keys} >= 2

Rediss Works Against Redis' TLS Port With The Test CA
    ${tls}=    Shared TLS Redis
    ${port}=    Start Rpa Mfa Server    --state    ${tls.url}    --state-redis-ca    ${tls.ca}
    ...    @{FLEET_STATE}    alias=tls
    Import Library    Remote    http://127.0.0.1:${port}/ns/tls    AS    Tls
    Tls.Set Counter Based OTP    ${TLS_SECRET}
    FOR    ${counter}    IN RANGE    3
        ${code}=    Tls.Get Next Counter Based OTP
        ${expected}=    Oathtool Hotp    ${TLS_SECRET}    ${counter}
        Should Be Equal    ${code}    ${expected}
    END
    Health State Should Be    http://127.0.0.1:${port}    ok
    ${keys}=    Redis Should Not Hold Secret    tls    ${TLS_SECRET}
    Should Be True    ${keys} >= 2

Rediss Refuses A Redis Whose Certificate It Cannot Trust
    [Documentation]    Without --state-redis-ca the system roots are trusted,
    ...    and the test CA is not among them.
    ${tls}=    Shared TLS Redis
    ${port}=    Start Rpa Mfa Server    --state    ${tls.url}
    ...    @{FLEET_STATE}    alias=untrusting
    Import Library    Remote    http://127.0.0.1:${port}/ns/tls    timeout=5s    AS    Untrusting
    Run Keyword And Expect Error    StateError: Redis at 127.0.0.1:${tls.port} is unreachable (*UnknownIssuer*)
    ...    Untrusting.Set Counter Based OTP    ${TLS_SECRET}
    Health State Should Be    http://127.0.0.1:${port}    unreachable
    [Teardown]    Stop Rpa Mfa Server    untrusting

Bad Redis Settings Refuse To Start
    Rpa Mfa Server Should Fail To Start    --state    redis://127.0.0.1:6379/0
    ...    --state-redis-prefix    bad{prefix}    @{FLEET_STATE}
    ...    expected_error=--state-redis-prefix: 1 to 100 characters without spaces
    ${tls}=    Shared TLS Redis
    Rpa Mfa Server Should Fail To Start    --state    redis://127.0.0.1:6379/0
    ...    --state-redis-ca    ${tls.ca}    @{FLEET_STATE}
    ...    expected_error=--state-redis-ca is for rediss://
    Rpa Mfa Server Should Fail To Start    --state    ${tls.url}
    ...    --state-redis-ca    ${CURDIR}/fleet.robot    @{FLEET_STATE}
    ...    expected_error=--state-redis-ca ${CURDIR}/fleet.robot: no PEM certificate in it
    Rpa Mfa Server Should Fail To Start    --state    memory:    --state-redis-prefix    x
    ...    expected_error=--state-redis-prefix and --state-redis-ca are for a redis:// --state
    Rpa Mfa Server Should Fail To Start    --state    redis://127.0.0.1:6379/0
    ...    expected_error=--state-key
