*** Settings ***
Documentation     Authenticator enrollment from a QR code: Read OTP Secret From
...               QR Code on codes drawn by segno and python-qrcode (sizes,
...               error-correction levels, rotations, PNG and JPEG) and on a
...               headless Chromium screenshot, compared with pyotp's reading
...               of the URI; Generate OTP QR Code read back by zxing-cpp; the
...               QR directory's confinement; set=True and vault= enrollment.
Resource          resources/common.resource
Library           OperatingSystem
Library           Collections
Library           resources/QrImages.py
Library           resources/Ops.py
Suite Setup       Start With A QR Directory And Vaults
Suite Teardown    Stop All Rpa Mfa Servers
Test Tags         qr


*** Variables ***
${QR_SECRET}      WEIHECGBWWYYOONKMWHYUHWN4XCRTDDD
${HOTP_SECRET}    ZS633MPIMITR2OXK6PQXCXWF3CQ6J2YH
${DRAWN_SECRET}    J7NROPND2OYWJSSBIXQH2TD55KNJIHUK
${URI}            otpauth://totp/ACME%20Co:robot@acme.test?secret=${QR_SECRET}&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60
${HOTP_URI}       otpauth://hotp/Legacy:bot-7?secret=${HOTP_SECRET}&counter=5


*** Test Cases ***
Segno Codes At Several Sizes, Levels, Rotations And Formats
    [Template]    Segno Code Reads As Pyotp Reads Its URI
    FOR    ${scale}    IN    2    4    10
        FOR    ${level}    IN    L    M    Q    H
            FOR    ${rotate}    IN    0    90    180    270
                ${scale}    ${level}    ${rotate}    PNG
                ${scale}    ${level}    ${rotate}    JPEG
            END
        END
    END

Python-qrcode Codes At Several Sizes, Levels, Rotations And Formats
    [Template]    Qrcode Code Reads As Pyotp Reads Its URI
    FOR    ${box}    IN    3    6    10
        FOR    ${level}    IN    L    M    Q    H
            FOR    ${rotate}    IN    0    90    180    270
                ${box}    ${level}    ${rotate}    PNG
                ${box}    ${level}    ${rotate}    JPEG
            END
        END
    END

Codes Of One Or Two Pixels A Module Are Read Enlarged
    [Template]    Segno Code Reads As Pyotp Reads Its URI
    FOR    ${rotate}    IN    0    90    180    270
        1    M    ${rotate}    PNG
        2    Q    ${rotate}    PNG
    END
    2    M    5    PNG

Slightly Tilted Codes Are Read
    [Template]    Tilted Code Reads As Pyotp Reads Its URI
    FOR    ${angle}    IN    5    -8    15    30
        segno    ${angle}    PNG
        segno    ${angle}    JPEG
        qrcode    ${angle}    PNG
        qrcode    ${angle}    JPEG
    END

Light On Dark Codes Are Read
    ${png}=    Segno Image    ${URI}    scale=6    invert=${True}
    ${otp}=    Read OTP Secret From QR Code    ${png}
    Parts Should Be Pyotps    ${otp}    ${URI}

A Browser Screenshot Of An Enrollment Page Gives The Exact URI
    ${code}=    Segno Image    ${URI}    scale=6
    ${shot}=    Browser Screenshot Of Enrollment Page    ${code}    ${TEMPDIR}/qr-enroll-page.png
    ${size}=    Image Size    ${shot}
    Should Be Equal    ${size}    ${{ (1280, 900) }}
    ${otp}=    Read OTP Secret From QR Code    ${shot}    include_secret=True
    Should Be Equal    ${otp.uri}    ${URI}
    Should Be Equal    ${otp.secret}    ${QR_SECRET}
    Parts Should Be Pyotps    ${otp}    ${URI}    with_secret=${True}

README Twin: A Sign-up Page Screenshot Into A Vault
    [Documentation]    The README's Browser example against a local page:
    ...    Chromium's screenshot of a sign-up page, read into a named vault, then
    ...    the code pyotp computes for the URI.
    ${code}=    Qrcode Image    ${URI}    box_size=6
    ${shot}=    Browser Screenshot Of Enrollment Page    ${code}    ${TEMPDIR}/qr-signup-page.png
    ${otp}=    Read OTP Secret From QR Code    ${shot}    vault=enroll    name=crm-robot-twin
    Should Be Equal    ${otp.account}    robot@acme.test
    Should Be Equal    ${otp.issuer}    ACME Co
    Should Be Equal    ${otp.period}    ${60}
    Use MFA Secret From Vault    crm-robot-twin    otpsecret    vault=enroll
    ${code}=    Get Time Based OTP    at=1800000000
    ${expected}=    Evaluate    pyotp.parse_uri($URI).at(1800000000)    modules=pyotp
    Should Be Equal    ${code}    ${expected}

The Secret Is Returned Only When Asked For And Never Logged
    ${png}=    Segno Image    ${URI}    scale=4
    ${otp}=    Read OTP Secret From QR Code    ${png}
    Dictionary Should Not Contain Key    ${otp}    secret
    Dictionary Should Not Contain Key    ${otp}    uri
    ${otp}=    Read OTP Secret From QR Code    ${png}    include_secret=True    set=True
    ...    name=qr-log-check
    Should Be Equal    ${otp.secret}    ${QR_SECRET}
    ${log}=    Get File    ${RPA_MFA_SERVER_LOG}
    Should Contain    ${log}    Read OTP Secret From QR Code
    Should Not Contain    ${log}    ${QR_SECRET}
    Should Not Contain    ${log}    secret=

Bytes As Base64 Text Over JSON-RPC
    ${png}=    Qrcode Image    ${HOTP_URI}    box_size=5
    FOR    ${data_url}    IN    ${False}    ${True}
        ${text}=    As Base64    ${png}    data_url=${data_url}
        ${result}=    Run Keyword Over Json Rpc    ${BASE}/jsonrpc    Read OTP Secret From QR Code    ${text}
        Should Be Equal    ${result}[status]    PASS
        Parts Should Be Pyotps    ${result}[return]    ${HOTP_URI}
    END

A Picture Without A QR Code Fails Clearly
    ${png}=    Picture Without Qr Code
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: No QR code found in the image (640 × 480 pixels). Check that the screenshot shows the whole code.
    ...    Read OTP Secret From QR Code    ${png}

A QR Code That Is Not An Otpauth URI Fails Without Its Text
    ${png}=    Segno Image    https://intranet.example/reset?token=private-reset-Xq71    scale=4
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: The image holds 1 QR code but no otpauth:// URI: it is not an authenticator enrollment code.
    ...    Read OTP Secret From QR Code    ${png}
    ${png}=    Segno Image    otpauth://totp/x?secret=NOT-BASE32-0189    scale=4
    Run Keyword And Expect Error
    ...    EQUALS:The QR code's otpauth URI cannot be used: Non-base32 digit found
    ...    Read OTP Secret From QR Code    ${png}

Unreadable And Oversized Images Fail Clearly
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: Unreadable image: 24 bytes that are neither PNG nor JPEG.
    ...    Read OTP Secret From QR Code    ${{ b"this is not an image at all"[:24] }}
    ${huge}=    Blank Png    5000    4000
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: The image is too large: 5000 × 4000 pixels, more than 16777216. Send a smaller screenshot or crop it to the QR code.
    ...    Read OTP Secret From QR Code    ${huge}
    Run Keyword And Expect Error
    ...    EQUALS:TypeError: image must be the bytes of a PNG or JPEG, or a path, not integer.
    ...    Read OTP Secret From QR Code    ${42}

Paths Are Read Only Inside The QR Directory
    ${png}=    Segno Image    ${URI}    scale=5
    Create Binary File    ${QR_DIR}/inbox/enroll.png    ${png}
    Create Binary File    ${TEMPDIR}/qr-outside.png    ${png}
    ${otp}=    Read OTP Secret From QR Code    inbox/enroll.png
    Parts Should Be Pyotps    ${otp}    ${URI}
    ${otp}=    Read OTP Secret From QR Code    ${QR_DIR}/inbox/../inbox/enroll.png
    Parts Should Be Pyotps    ${otp}    ${URI}
    FOR    ${path}    IN    ../qr-outside.png    ${TEMPDIR}/qr-outside.png    inbox/../../qr-outside.png    /etc/passwd
        Run Keyword And Expect Error
        ...    EQUALS:PermissionError: '${path}' is outside the QR directory (--qr-dir); only files in it can be read or written.
        ...    Read OTP Secret From QR Code    ${path}
    END
    Evaluate    os.symlink($TEMPDIR + "/qr-outside.png", $QR_DIR + "/inbox/link.png")
    Run Keyword And Expect Error    PermissionError: 'inbox/link.png' is outside*
    ...    Read OTP Secret From QR Code    inbox/link.png
    Run Keyword And Expect Error    EQUALS:FileNotFoundError: No file 'inbox/missing.png' in the QR directory.
    ...    Read OTP Secret From QR Code    inbox/missing.png

Without A QR Directory Paths Are Refused
    ${port}=    Start Rpa Mfa Server    alias=nodir
    Import Library    Remote    http://127.0.0.1:${port}    AS    NoDir
    Run Keyword And Expect Error
    ...    EQUALS:PermissionError: This server reads and writes no image files: it has no QR directory (--qr-dir). Send the image's bytes instead.
    ...    NoDir.Read OTP Secret From QR Code    enroll.png
    ${png}=    Segno Image    ${URI}    scale=3
    ${otp}=    NoDir.Read OTP Secret From QR Code    ${png}
    Parts Should Be Pyotps    ${otp}    ${URI}
    [Teardown]    Stop Rpa Mfa Server    alias=nodir

A Pinned Robot Sends Bytes, Never Paths
    [Documentation]    The QR directory is shared by every robot of the server:
    ...    a user pinned to a namespace may not reach it; an unpinned one may.
    Create File    ${TEMPDIR}/rpa-mfa-qr-users.json
    ...    {"users": {"alice": "${ALICE_PASSWORD}", "bot7": "${BOT_PASSWORD}"}}
    ${port}=    Start Rpa Mfa Server    --qr-dir    ${QR_DIR}    --vault    file:${TEMPDIR}/rpa-mfa-qr-users.json
    ...    --users-secret    users    --pin    bot7\=ci    alias=pinned
    Import Library    Remote    http://bot7:${BOT_PASSWORD}@127.0.0.1:${port}/ns/ci    AS    PinnedBot
    Import Library    Remote    http://alice:${ALICE_PASSWORD}@127.0.0.1:${port}    AS    QrAlice
    ${png}=    Segno Image    ${URI}    scale=4
    Create Binary File    ${QR_DIR}/inbox/pinned.png    ${png}
    Run Keyword And Expect Error
    ...    EQUALS:PermissionError: User 'bot7' may not use the QR directory '--qr-dir'.
    ...    PinnedBot.Read OTP Secret From QR Code    inbox/pinned.png
    Run Keyword And Expect Error
    ...    EQUALS:PermissionError: User 'bot7' may not use the QR directory '--qr-dir'.
    ...    PinnedBot.Generate OTP QR Code    ${URI}    path=out/pinned.png
    ${otp}=    PinnedBot.Read OTP Secret From QR Code    ${png}
    Parts Should Be Pyotps    ${otp}    ${URI}
    ${otp}=    QrAlice.Read OTP Secret From QR Code    inbox/pinned.png
    Parts Should Be Pyotps    ${otp}    ${URI}
    [Teardown]    Stop Rpa Mfa Server    alias=pinned

A Missing QR Directory Stops The Server At Start
    Rpa Mfa Server Should Fail To Start    --qr-dir    ${TEMPDIR}/qr-no-such-dir
    ...    expected_error=--qr-dir ${TEMPDIR}/qr-no-such-dir: No such file or directory

Generated Codes Read Back By Zxing-cpp As Pyotp Expects
    ${png}=    Generate OTP QR Code    ${DRAWN_SECRET}    issuer=ACME Co    account=robot@acme.test
    ...    algorithm=SHA512    digits=7    period=45
    ${text}=    Zxing Read    ${png}
    ${parts}=    Pyotp Parts    ${text}
    VAR    &{expected}    type=totp    secret=${DRAWN_SECRET}    issuer=ACME Co    account=robot@acme.test
    ...    algorithm=SHA512    digits=${7}    period=${45}
    Dictionaries Should Be Equal    ${parts}    ${expected}
    ${png}=    Generate OTP QR Code    ${HOTP_URI}
    ${text}=    Zxing Read    ${png}
    Should Be Equal    ${text}    ${HOTP_URI}
    ${png}=    Generate OTP QR Code    ${DRAWN_SECRET}
    ${text}=    Zxing Read    ${png}
    ${parts}=    Pyotp Parts    ${text}
    Should Be Equal    ${parts}[account]    rpa-mfa
    Should Be Equal    ${parts}[issuer]    ${None}
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: issuer, digits cannot be given with an otpauth URI, which carries its own.
    ...    Generate OTP QR Code    ${HOTP_URI}    issuer=X    digits=8

Generated Codes Are Written Only Inside The QR Directory
    Remove File    ${TEMPDIR}/qr-written.png
    ${png}=    Generate OTP QR Code    ${URI}    path=out/enroll.png
    ${written}=    Get Binary File    ${QR_DIR}/out/enroll.png
    Should Be Equal    ${written}    ${png}
    ${text}=    Zxing Read    ${written}
    Should Be Equal    ${text}    ${URI}
    Run Keyword And Expect Error    PermissionError: '../qr-written.png' is outside*
    ...    Generate OTP QR Code    ${URI}    path=../qr-written.png
    File Should Not Exist    ${TEMPDIR}/qr-written.png
    Run Keyword And Expect Error
    ...    EQUALS:Non-base32 digit found
    ...    Generate OTP QR Code    not a secret 0189    path=out/bad.png
    File Should Not Exist    ${QR_DIR}/out/bad.png

Set True Makes It The Namespace's Secret
    ${png}=    Qrcode Image    ${URI}    box_size=4
    Set Time Based OTP    ${DRAWN_SECRET}
    ${otp}=    Read OTP Secret From QR Code    ${png}    set=True
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Evaluate    pyotp.parse_uri($URI).at(1700000000)    modules=pyotp
    Should Be Equal    ${code}    ${expected}
    ${png}=    Qrcode Image    ${HOTP_URI}    box_size=4
    ${otp}=    Read OTP Secret From QR Code    ${png}    set=True
    Should Be Equal    ${otp.counter}    ${5}
    FOR    ${counter}    IN    5    6
        ${code}=    Get Next Counter Based OTP
        ${expected}=    Pyotp Hotp At    ${HOTP_SECRET}    ${counter}
        Should Be Equal    ${code}    ${expected}
    END

Vault Enrollment That No Human Sees
    ${png}=    Segno Image    ${URI}    scale=4
    ${otp}=    Read OTP Secret From QR Code    ${png}    vault=enroll    name=crm-robot    key=totp
    Dictionary Should Not Contain Key    ${otp}    secret
    ${stored}=    Get Secret    crm-robot    vault=enroll
    Should Be Equal    ${stored}[totp]    ${URI}
    Use MFA Secret From Vault    crm-robot    totp    vault=enroll
    ${code}=    Get Time Based OTP    at=1700000000
    ${expected}=    Evaluate    pyotp.parse_uri($URI).at(1700000000)    modules=pyotp
    Should Be Equal    ${code}    ${expected}
    # Default vault and default key.
    Read OTP Secret From QR Code    ${png}    name=crm-default
    ${stored}=    Get Secret    crm-default
    Should Be Equal    ${stored}[otpsecret]    ${URI}
    Run Keyword And Expect Error
    ...    EQUALS:ValueError: vault= and key= say where name= is stored; give name= too.
    ...    Read OTP Secret From QR Code    ${png}    vault=enroll
    Run Keyword And Expect Error
    ...    EQUALS:VaultError: no vault named 'nosuch' is configured; add --vault nosuch\=SPEC
    ...    Read OTP Secret From QR Code    ${png}    vault=nosuch    name=x


*** Keywords ***
Start With A QR Directory And Vaults
    VAR    ${QR_DIR}    ${TEMPDIR}/rpa-mfa-qr-dir    scope=SUITE
    Remove Directory    ${QR_DIR}    recursive=True
    Create Directory    ${QR_DIR}/inbox
    Create Directory    ${QR_DIR}/out
    Create File    ${TEMPDIR}/rpa-mfa-qr-vault.json    {}
    Create File    ${TEMPDIR}/rpa-mfa-qr-enroll.json    {}
    Start Server And Import It As MFA    --qr-dir    ${QR_DIR}
    ...    --vault    file:${TEMPDIR}/rpa-mfa-qr-vault.json
    ...    --vault    enroll\=file:${TEMPDIR}/rpa-mfa-qr-enroll.json
    ${log}=    Rpa Mfa Server Log File
    VAR    ${RPA_MFA_SERVER_LOG}    ${log}    scope=SUITE

Parts Should Be Pyotps
    [Documentation]    The keyword's parts equal pyotp's reading of ``uri``
    ...    (without the secret unless ``with_secret``).
    [Arguments]    ${otp}    ${uri}    ${with_secret}=${False}
    ${expected}=    Pyotp Parts    ${uri}
    IF    not ${with_secret}    Remove From Dictionary    ${expected}    secret
    ${actual}=    Copy Dictionary    ${otp}
    IF    ${with_secret}    Remove From Dictionary    ${actual}    uri
    Dictionaries Should Be Equal    ${actual}    ${expected}

Segno Code Reads As Pyotp Reads Its URI
    [Arguments]    ${scale}    ${level}    ${rotate}    ${format}
    ${image}=    Segno Image    ${URI}    scale=${scale}    error=${level}    rotate=${rotate}    format=${format}
    ${otp}=    Read OTP Secret From QR Code    ${image}
    Parts Should Be Pyotps    ${otp}    ${URI}

Qrcode Code Reads As Pyotp Reads Its URI
    [Arguments]    ${box}    ${level}    ${rotate}    ${format}
    ${image}=    Qrcode Image    ${HOTP_URI}    box_size=${box}    error=${level}    rotate=${rotate}    format=${format}
    ${otp}=    Read OTP Secret From QR Code    ${image}
    Parts Should Be Pyotps    ${otp}    ${HOTP_URI}

Tilted Code Reads As Pyotp Reads Its URI
    [Arguments]    ${library}    ${angle}    ${format}
    IF    $library == "segno"
        ${image}=    Segno Image    ${URI}    scale=10    rotate=${angle}    format=${format}
    ELSE
        ${image}=    Qrcode Image    ${URI}    box_size=10    rotate=${angle}    format=${format}
    END
    ${otp}=    Read OTP Secret From QR Code    ${image}
    Parts Should Be Pyotps    ${otp}    ${URI}
