"""Writes the fuzz targets' seed corpora into fuzz/seeds/TARGET/.

The XML-RPC seeds are what Robot Framework 7.5's Remote library really
sends: its own ArgumentCoercer and Python's xmlrpc.client (run it with the
venv scripts/install-test-deps.sh builds: target/venv/bin/python). The rest
are JSON-RPC params from the README's examples, RFC 4226/6238 and pyotp
secrets, Google Authenticator key URIs and RFC 6749/9207 redirects.

    target/venv/bin/python fuzz/make_seeds.py
"""

import datetime
import os
import xmlrpc.client

from robot.libraries.Remote import ArgumentCoercer

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

RFC_SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
PYOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def write(target, name, content):
    folder = os.path.join(SEEDS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(content)


def robot_call(method, *params):
    """The body Robot's Remote (ServerProxy, UTF-8, no allow_none) posts."""
    return xmlrpc.client.dumps(params, method, encoding="UTF-8")


def robot_run_keyword(name, args, kwargs=None):
    coercer = ArgumentCoercer()
    args, kwargs = coercer.coerce(args), coercer.coerce(kwargs or {})
    return robot_call("run_keyword", *([name, args, kwargs] if kwargs else [name, args]))


def xmlrpc_seeds():
    t = "xmlrpc_decode"
    write(t, "get_library_information.xml", robot_call("get_library_information"))
    write(t, "get_keyword_names.xml", robot_call("get_keyword_names"))
    write(t, "get_keyword_documentation.xml",
          robot_call("get_keyword_documentation", "__intro__"))
    write(t, "get_keyword_types.xml", robot_call("get_keyword_types", "Get Time Based OTP"))
    write(t, "run_keyword_set_totp.xml", robot_run_keyword("Set Time Based OTP", [PYOTP_SECRET]))
    write(t, "run_keyword_get_totp_kwargs.xml", robot_run_keyword(
        "Get Time Based OTP", [], {"min_validity": 5, "at": "2020-01-01T00:00:00"}))
    write(t, "run_keyword_get_hotp_big_counter.xml", robot_run_keyword(
        "Get Counter Based OTP", ["18446744073709551615", RFC_SEED]))
    write(t, "run_keyword_hotp_int.xml", robot_run_keyword("Get Counter Based OTP", [9]))
    # What the coercer makes of None, binary, dates, floats, nested values.
    write(t, "run_keyword_every_type.xml", robot_run_keyword("Generate OAuth URL", [
        None, b"\x00\x01\xff", "ctl\x01char", datetime.date(2026, 11, 29),
        datetime.datetime(2020, 1, 2, 3, 4, 5), datetime.timedelta(seconds=90), 1.5, True,
        -2**31, ["a & b < c", {"k": [1, 2.5]}]], {"scope": "openid profile", "pkce": True}))
    write(t, "run_keyword_unicode.xml", robot_run_keyword("Set Time Based OTP", ["ünïcødé ✓ 𝄞\r\n"]))
    write(t, "stop_remote_server.xml", robot_call("stop_remote_server"))
    # Other clients: untyped strings, i4/i8, Apache's ex: namespace, CDATA,
    # entities and character references, base64 with line breaks.
    write(t, "other_clients.xml", """<?xml version="1.0"?>
<methodCall xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">
 <methodName>run_keyword</methodName>
 <params>
  <param><value>Get Counter Based OTP</value></param>
  <param><value><array><data>
   <value><i4>7</i4></value><value><ex:i8>-2</ex:i8></value><value><ex:nil/></value>
   <value><string><![CDATA[<raw & text>]]></string></value>
   <value><string>a &amp; b &lt;c&gt; &#13;&#x41;</string></value>
   <value><base64>aGVs
bG8=
</base64></value>
   <value><boolean>0</boolean></value><value><double>-0.25</double></value>
   <value><dateTime.iso8601>20261129T21:33:00</dateTime.iso8601></value>
  </data></array></value></param>
  <param><value><struct><member><name>counter</name><value><int>5</int></value></member></struct></value></param>
 </params>
</methodCall>
""")


def jsonrpc_seeds():
    t = "jsonrpc_params"
    seeds = {
        "positional.json": f'["Get Counter Based OTP", ["0", "{RFC_SEED}"]]',
        "positional_kwargs.json": '["Get Time Based OTP", [], {"min_validity": 10, "at": null}]',
        "named.json": '{"name": "Get Counter Based OTP", "args": [1]}',
        "named_namespace.json":
            f'{{"name": "Set Counter Based OTP", "args": ["{RFC_SEED}"], "namespace": "bot-1"}}',
        "named_kwargs_only.json":
            '{"name": "Get Counter Based OTP", "kwargs": {"counter": 18446744073709551615}, '
            '"namespace": "robot a"}',
        "name_only.json": '{"name": "Get Time Based OTP"}',
        "empty.json": "[]",
        "null.json": "null",
        "nested.json": '["K", [[1, [2.5e-3, {"a": [true, false, null]}]], "\\u00e9\\ud834\\udd1e"], {}]',
        "bad_namespace.json": '{"name": "K", "namespace": 5}',
    }
    for name, text in seeds.items():
        write(t, name, text)


def jsonrpc_envelope_seeds():
    """Whole JSON-RPC requests, as bots send them and as they may not."""
    t = "jsonrpc_envelope"
    seeds = {
        "run_keyword.json": '{"jsonrpc": "2.0", "id": 1, "method": "run_keyword", '
            f'"params": ["Get Time Based OTP", ["{RFC_SEED}"], {{}}]}}',
        "string_id.json": '{"jsonrpc":"2.0","id":"abc","method":"get_keyword_names"}',
        "named_params_any_order.json":
            ' {"params":{"name":"K"},"method":"run_keyword","id":null,"jsonrpc":"2.0"}\n',
        "big_id_null_params.json":
            '{"jsonrpc":"2.0","id":18446744073709551615,"method":"m","params":null}',
        "escaped_key.json": '{"json\\u0072pc":"2.0","id":1,"method":"m"}',
        "negative_id.json": '{"jsonrpc":"2.0","id":-1,"method":"m"}',
    }
    for name, text in seeds.items():
        write(t, name, text)


def otp_seeds():
    t = "otp_secret"
    seeds = {
        "rfc4226.txt": RFC_SEED,
        "pyotp.txt": PYOTP_SECRET,
        "github_80bit.txt": "JBSWY3DPEHPK3PXP",
        "grouped_lowercase.txt": "jbsw y3dp ehpk 3pxp",
        "dashes_padding.txt": "JBSW-Y3DP-EHPK-3PXP====",
        "rfc6238_sha512.txt": "GEZDGNBVGY3TQOJQ" * 8,
        "bad_digit.txt": "JBSWY3DPEHPK3PX!",
        "bad_length.txt": "JBSWY3DPEHPK3PXPA",
        "google_totp.uri":
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        "google_totp_full.uri":
            "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
            "&issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
        "google_hotp.uri": f"otpauth://hotp/Example:bob?secret={RFC_SEED}&counter=18446744073709551615",
        "sha512_uri.uri":
            "OTPAUTH://TOTP/x?SECRET=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&ALGORITHM=sha-512&DIGITS=7",
        "bad_algorithm.uri": "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
        "no_secret.uri": "otpauth://totp/x?issuer=y&period=0",
        "unix_time.txt": "1111111109",
        "iso_time.txt": "2020-01-01 00:00:00 UTC",
    }
    for name, text in seeds.items():
        write(t, name, text)


def oauth_seeds():
    t = "oauth_response_url"
    cb = "http://127.0.0.1:8270/oauth/callback"
    seeds = {
        "code.url": f"{cb}?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz",
        "code_iss.url":
            f"https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz"
            "&iss=https%3A%2F%2Fhonest.as.example\0xyz\0https://honest.as.example/",
        "mixup.url": f"{cb}?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz&iss=https%3A%2F%2Fevil.example"
                     "\0xyz\0https://honest.as.example",
        "error.url": f"{cb}?error=access_denied&error_description=The+user+said+no&state=xyz",
        "wrong_state.url": f"{cb}?code=abc&state=other\0xyz",
        "insecure.url": "http://client.example.com/cb?code=abc&state=xyz",
        "fragment.url": f"{cb}#code=abc&state=xyz",
        "not_a_url.url": "urn:ietf:wg:oauth:2.0:oob?code=abc&state=xyz",
        "ipv6.url": "http://[::1]:9000/cb?state=xyz&code=%F0%9F%94%91&state=dup",
    }
    for name, text in seeds.items():
        write(t, name, text)


def http1_seeds():
    """What http.client (Robot's Remote library, xmlrpc.client) sends, head
    and body together, pipelined, and requests the call loop hands on."""
    t = "http1_parse"
    body = robot_run_keyword("Get Time Based OTP", [PYOTP_SECRET]).encode()
    head = (b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:8270\r\nAccept-Encoding: gzip\r\n"
            b"User-Agent: Python-xmlrpc/3.11\r\nContent-Type: text/xml\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    json = b'{"jsonrpc":"2.0","id":1,"method":"run_keyword","params":["Get Time Based OTP",["%s"]]}' % (
        PYOTP_SECRET.encode())
    seeds = {
        "robot_call.http": head + body,
        "robot_head_only.http": head,
        "pipelined.http": (head + body) * 2,
        "jsonrpc_auth.http": b"POST /jsonrpc HTTP/1.1\r\nAuthorization: Basic cm9ib3Q6cw==\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(json) + json,
        "chunked.http": b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "upgrade.http": b"GET /jsonrpc HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    }
    for name, text in seeds.items():
        write(t, name, text)


if __name__ == "__main__":
    xmlrpc_seeds()
    jsonrpc_seeds()
    jsonrpc_envelope_seeds()
    otp_seeds()
    oauth_seeds()
    http1_seeds()
