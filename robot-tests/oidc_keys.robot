*** Settings ***
Documentation     How long rpa-mfa trusts an identity provider's keys, against the
...               real oidc-provider: a key the provider rotates out stops being
...               trusted once the cached key set's lifetime (--oauth-cache) ends,
...               a rotated-in key is found at once, and tokens naming unknown
...               keys make at most one extra key-set fetch.
Library           resources/OidcProvider.py
Resource          resources/common.resource
Suite Setup       Start Provider And Servers
Suite Teardown    Run Keywords    Stop All OIDC Providers    AND    Stop All Rpa Mfa Servers
Test Tags         oauth    oidc-keys


*** Test Cases ***
A Key The Provider Removed Stops Being Trusted Once The Cache Lifetime Ends
    ${claims}=    ID Token Claims
    ${old}=    Sign Test ID Token    ${claims}
    ${old_kid}=    Key Id Of    ${old}
    Validate With    Cached    ${old}
    Validate With    Uncached    ${old}
    ${new_kid}=    Restart OIDC Provider With A New Key
    Should Not Be Equal    ${new_kid}    ${old_kid}
    # Within its 300 s lifetime the cached key set is still believed ...
    Validate With    Cached    ${old}
    # ... and with a lifetime of 0 the removed key is gone at once.
    Run Keyword And Expect Error
    ...    EQUALS:IdTokenError: The issuer's key set (${OIDC.issuer}/jwks) has no key '${old_kid}' for the ID token.
    ...    Validate With    Uncached    ${old}
    # A token signed with the rotated-in key is found with one refetch.
    ${new}=    Sign Test ID Token    ${claims}
    Validate With    Cached    ${new}

Unknown Key Ids Make At Most One Extra Key Set Fetch
    ${before}=    OIDC Provider Request Count    /jwks
    FOR    ${i}    IN RANGE    5
        ${forged}=    Token With Key Id    made-up-${i}
        Run Keyword And Expect Error
        ...    EQUALS:IdTokenError: The issuer's key set (${OIDC.issuer}/jwks) has no key 'made-up-${i}' for the ID token.
        ...    Validate With    Cached    ${forged}
    END
    ${after}=    OIDC Provider Request Count    /jwks
    Should Be True    ${after} - ${before} <= 1
    ...    ${{ $after - $before }} key set fetches for 5 tokens with unknown keys


*** Keywords ***
Start Provider And Servers
    ${oidc}=    Start OIDC Provider
    VAR    ${OIDC}    ${oidc}    scope=SUITE
    ${cached}=    Start Rpa Mfa Server    alias=cached
    Import Library    Remote    http://127.0.0.1:${cached}    AS    Cached
    ${uncached}=    Start Rpa Mfa Server    --oauth-cache    0    alias=uncached
    Import Library    Remote    http://127.0.0.1:${uncached}    AS    Uncached

ID Token Claims
    ${now}=    Evaluate    int(time.time())
    ${claims}=    Create Dictionary    iss=${OIDC.issuer}    sub=robot    aud=${OIDC.basic_id}
    ...    iat=${now}    exp=${{ ${now} + 300 }}
    RETURN    ${claims}

Validate With
    [Arguments]    ${server}    ${token}
    ${checked}=    Run Keyword    ${server}.Validate ID Token    ${token}
    ...    issuer=${OIDC.issuer}    client_id=${OIDC.basic_id}
    Should Be Equal    ${checked}[sub]    robot

Key Id Of
    [Arguments]    ${token}
    ${header}=    Evaluate
    ...    json.loads(base64.urlsafe_b64decode($token.split('.')[0] + '=' * (-len($token.split('.')[0]) % 4)))
    ...    modules=base64,json
    RETURN    ${header}[kid]

Token With Key Id
    [Documentation]    A JWT naming key ``${kid}``, which no provider has; its
    ...    signature is never reached.
    [Arguments]    ${kid}
    ${token}=    Evaluate
    ...    '.'.join(base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b'=').decode() for part in ({'alg': 'RS256', 'kid': $kid}, {'iss': 'x'}, 'sig'))
    ...    modules=base64,json
    RETURN    ${token}
