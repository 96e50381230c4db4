//! The HTTP/1.1 framing of the calls a connection answers without hyper
//! (`listen`'s call loop): a request head parsed with httparse, the parser
//! hyper uses, into the few things a call needs; and an answer's head,
//! with a date formatted once a second.
//!
//! It frames only the request every robot sends, the same way hyper
//! would: `POST /RPC2`, `POST /` or `POST /jsonrpc`, HTTP/1.1, one
//! `Content-Length`. Anything else is [`Parsed::Other`], and the
//! connection goes to hyper with the bytes read so far: other methods and
//! paths, HTTP/1.0, chunked bodies, `Expect`, `Upgrade`, a `Connection`
//! other than keep-alive, an odd or too large `Content-Length`, a
//! JSON-RPC request whose content type jsonrpsee would refuse, a
//! malformed head (hyper answers it). A body that did not arrive with its
//! head ([`Parsed::Unfinished`]: Python's `http.client`, which Robot's
//! Remote library uses, sends them apart) is read by the call loop within
//! the body timeout, as hyper's would be.

use std::cell::Cell;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;

use crate::direct::Route;

/// A head not complete within this many bytes goes to hyper, whose
/// limits are larger; a robot's is about 200.
pub const MAX_HEAD: usize = 8 * 1024;

/// A larger body goes to hyper, which reads it within the server's body
/// limit: the call loop's buffer stays small.
pub const MAX_BODY: usize = 64 * 1024;

/// More headers than this: hyper's (it allows 100).
const MAX_HEADERS: usize = 32;

/// The content types jsonrpsee's `is_json` accepts, compared the same way
/// (ASCII case-insensitively).
const JSON_TYPES: [&[u8]; 6] = [
    b"application/json",
    b"application/json; charset=utf-8",
    b"application/json;charset=utf-8",
    b"application/json-rpc",
    b"application/json-rpc;charset=utf-8",
    b"application/json-rpc; charset=utf-8",
];

/// What the start of a connection's unread bytes holds.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// The start of a head: read more.
    Partial,
    /// A call's head whole, its body not all read.
    Unfinished { route: Route, len: usize },
    /// A whole call.
    Call(Call),
    /// Anything else: for hyper.
    Other,
}

/// A whole call, as ranges of the bytes it was parsed from.
#[derive(Debug, PartialEq)]
pub struct Call {
    pub route: Route,
    /// The head's and body's length: where the next request starts.
    pub len: usize,
    pub body: Range<usize>,
    /// The first `Authorization` header's value.
    pub authorization: Option<Range<usize>>,
}

/// Frames the request at the start of `bytes`; `max_body` is the
/// server's body limit.
pub fn parse(bytes: &[u8], max_body: usize) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() < MAX_HEAD => return Parsed::Partial,
        _ => return Parsed::Other,
    };
    if request.version != Some(1) || request.method != Some("POST") {
        return Parsed::Other;
    }
    let route = match request.path {
        Some("/RPC2" | "/") => Route::XmlRpc,
        Some("/jsonrpc") => Route::JsonRpc,
        _ => return Parsed::Other,
    };
    let mut length = None;
    let mut content_type = None;
    let mut authorization = None;
    for header in request.headers.iter() {
        let name = header.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            match (length, decimal(header.value)) {
                (None, Some(value)) => length = Some(value),
                _ => return Parsed::Other,
            }
        } else if name.eq_ignore_ascii_case(b"content-type") {
            content_type.get_or_insert(header.value);
        } else if name.eq_ignore_ascii_case(b"authorization") {
            authorization.get_or_insert_with(|| within(bytes, header.value));
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            || name.eq_ignore_ascii_case(b"expect")
            || name.eq_ignore_ascii_case(b"upgrade")
            || (name.eq_ignore_ascii_case(b"connection")
                && !header.value.eq_ignore_ascii_case(b"keep-alive"))
        {
            return Parsed::Other;
        }
    }
    if matches!(route, Route::JsonRpc) && !content_type.is_some_and(is_json) {
        return Parsed::Other;
    }
    let Some(length) = length.filter(|&l| l <= max_body.min(MAX_BODY)) else {
        return Parsed::Other;
    };
    let len = head_len + length;
    if bytes.len() < len {
        return Parsed::Unfinished { route, len };
    }
    Parsed::Call(Call {
        route,
        len,
        body: head_len..len,
        authorization,
    })
}

/// For the fuzz target (`fuzz/fuzz_targets/http1_parse.rs`): whatever
/// [`parse`] makes of `bytes` agrees with httparse reading them with
/// hyper's room for headers (100): a call is a complete `POST` head of
/// HTTP/1.1 to one of its paths, followed by as many bytes as its one
/// `Content-Length` says, its `Authorization` range the first such
/// header's value; a partial head is one httparse finds partial too.
pub fn parse_agrees_with_httparse(bytes: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 100];
    let mut request = httparse::Request::new(&mut headers);
    let head = match request.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => Some(head),
        Ok(httparse::Status::Partial) => None,
        Err(_) => return !matches!(parse(bytes, usize::MAX), Parsed::Call(_)),
    };
    let named = |name: &'static str| {
        let headers = request.headers.iter();
        headers.filter(move |h| h.name.eq_ignore_ascii_case(name))
    };
    let a_call = || {
        request.method == Some("POST")
            && request.version == Some(1)
            && matches!(request.path, Some("/RPC2" | "/" | "/jsonrpc"))
    };
    let length = || match named("content-length").collect::<Vec<_>>()[..] {
        [one] => decimal(one.value),
        _ => None,
    };
    match (parse(bytes, usize::MAX), head) {
        (Parsed::Partial, head) => head.is_none() && bytes.len() < MAX_HEAD,
        (Parsed::Other, _) => true,
        (Parsed::Unfinished { len, .. }, Some(head)) => {
            a_call() && length() == Some(len - head) && len > bytes.len()
        }
        (Parsed::Call(call), Some(head)) => {
            let authorization = named("authorization").next().map(|h| h.value);
            a_call()
                && call.body == (head..call.len)
                && call.len <= bytes.len()
                && length() == Some(call.len - head)
                && call.authorization.map(|range| &bytes[range]) == authorization
        }
        (Parsed::Unfinished { .. } | Parsed::Call(_), None) => false,
    }
}

/// jsonrpsee's `is_json` on a header value's bytes.
fn is_json(content_type: &[u8]) -> bool {
    JSON_TYPES
        .iter()
        .any(|t| content_type.eq_ignore_ascii_case(t))
}

/// A `Content-Length` value: digits only, as hyper reads it.
fn decimal(value: &[u8]) -> Option<usize> {
    if value.is_empty() || value.len() > 15 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(value.iter().fold(0, |n, d| n * 10 + usize::from(d - b'0')))
}

/// Where `part`, a slice of `whole`, lies in it.
fn within(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// Appends an answer's status line and headers to `out`: `headers` as
/// given, then the body's length, `connection: close` when the connection
/// ends after it, and the date.
pub fn write_head<'a>(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    body_len: usize,
    close: bool,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(body_len).as_bytes());
    if close {
        out.extend_from_slice(b"\r\nconnection: close");
    }
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(&date());
    out.extend_from_slice(b"\r\n\r\n");
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) is this long.
const DATE_LEN: usize = 29;

thread_local! {
    /// The second last formatted on this thread, and its date.
    static DATE: Cell<(u64, [u8; DATE_LEN])> = const { Cell::new((u64::MAX, [0; DATE_LEN])) };
}

/// Now as an HTTP date, formatted at most once a second per thread, as
/// hyper caches its own.
fn date() -> [u8; DATE_LEN] {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    DATE.with(|cached| {
        let (at, text) = cached.get();
        if at == second {
            return text;
        }
        let mut text = [b' '; DATE_LEN];
        let formatted = httpdate::fmt_http_date(now);
        let n = formatted.len().min(DATE_LEN);
        text[..n].copy_from_slice(&formatted.as_bytes()[..n]);
        cached.set((second, text));
        text
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const LIMIT: usize = 4 * 1024 * 1024;

    fn call(request: &[u8]) -> Call {
        match parse(request, LIMIT) {
            Parsed::Call(call) => call,
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(request)),
        }
    }

    #[test]
    fn a_robot_call_is_framed_with_its_body_and_length() {
        let request = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\
            Content-Type: text/xml\r\nContent-Length: 5\r\n\r\nhelloPOST";
        let call = call(request);
        assert_eq!(call.route, Route::XmlRpc);
        assert_eq!(&request[call.body.clone()], b"hello");
        assert_eq!(&request[call.len..], b"POST");
        assert_eq!(call.authorization, None);
    }

    #[test]
    fn the_root_and_jsonrpc_paths_are_calls_with_their_routes() {
        assert_eq!(
            call(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").route,
            Route::XmlRpc
        );
        let json = b"POST /jsonrpc HTTP/1.1\r\ncontent-type: Application/JSON\r\n\
            connection: Keep-Alive\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(call(json).route, Route::JsonRpc);
    }

    #[test]
    fn the_first_authorization_value_is_found() {
        let request = b"POST /RPC2 HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\
            authorization: Bearer no\r\nContent-Length: 0\r\n\r\n";
        let range = call(request).authorization.unwrap();
        assert_eq!(&request[range], b"Basic YTpi");
    }

    #[test]
    fn a_head_or_body_not_read_whole_is_partial_or_for_hyper() {
        let whole = b"POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        for cut in 0..whole.len() {
            let expected = match cut < whole.len() - 5 {
                true => Parsed::Partial,
                false => Parsed::Unfinished {
                    route: Route::XmlRpc,
                    len: whole.len(),
                },
            };
            assert_eq!(parse(&whole[..cut], LIMIT), expected, "cut at {cut}");
        }
        let endless = [b"POST /RPC2 HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse(&endless, LIMIT), Parsed::Other);
    }

    #[test]
    fn what_hyper_must_answer_is_left_to_it() {
        let others: [&[u8]; 16] = [
            b"GET /RPC2 HTTP/1.1\r\n\r\n",
            b"POST /RPC2?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"POST /ns/a HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"POST http://h/RPC2 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            b"POST /RPC2 HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
            b"POST /RPC2 HTTP/1.1\r\n\r\n",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            b"POST /RPC2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 0\r\nUpgrade: h2c\r\n\r\n",
            b"POST /jsonrpc HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            b"POST /jsonrpc HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST /RPC2 HTTP/1.1\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n",
        ];
        for request in others {
            assert_eq!(
                parse(request, LIMIT),
                Parsed::Other,
                "{:?}",
                String::from_utf8_lossy(request)
            );
        }
    }

    #[test]
    fn the_fuzz_check_holds_at_every_cut_of_calls() {
        let requests: [&[u8]; 3] = [
            b"POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloPOST /",
            b"POST /jsonrpc HTTP/1.1\r\nAuthorization: Bearer t\r\n\
                Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            b"GET / HTTP/1.1\r\n\r\n",
        ];
        for request in requests {
            for cut in 0..=request.len() {
                assert!(parse_agrees_with_httparse(&request[..cut]), "cut at {cut}");
            }
        }
    }

    #[test]
    fn a_body_over_the_limit_is_left_to_hyper_to_refuse() {
        let request = b"POST /RPC2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse(request, 4), Parsed::Other);
        assert!(matches!(parse(request, 5), Parsed::Call(_)));
    }

    #[test]
    fn json_content_types_are_jsonrpsees() {
        let samples = [
            "application/json",
            "APPLICATION/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json-rpc",
            "application/json-rpc; charset=utf-8",
            "application/json ; charset=utf-8",
            "application/jsonx",
            "text/json",
            "text/xml",
            "",
        ];
        for sample in samples {
            let value = HeaderValue::from_str(sample).unwrap();
            assert_eq!(
                is_json(sample.as_bytes()),
                jsonrpsee::server::http::is_json(Some(&value)),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn an_answer_head_has_its_length_and_an_imf_fixdate() {
        let mut out = Vec::new();
        write_head(
            &mut out,
            StatusCode::OK,
            [("content-type", b"text/xml".as_slice())],
            42,
            false,
        );
        let text = String::from_utf8(out).unwrap();
        let (start, date) = text.split_once("date: ").unwrap();
        assert_eq!(
            start,
            "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: 42\r\n"
        );
        let date = date.strip_suffix("\r\n\r\n").unwrap();
        let parsed = httpdate::parse_http_date(date).unwrap();
        let off = SystemTime::now().duration_since(parsed).unwrap();
        assert!(off.as_secs() < 5, "{date}");
        assert_eq!(date.len(), DATE_LEN);
    }

    #[test]
    fn an_answer_that_ends_the_connection_says_so() {
        let mut out = Vec::new();
        write_head(&mut out, StatusCode::UNAUTHORIZED, [], 0, true);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\ndate: "
            ),
            "{text}"
        );
    }
}
