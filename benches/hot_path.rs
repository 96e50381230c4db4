//! Micro-benchmarks of the steps of a `run_keyword('Get Time Based OTP',
//! [secret])` call over XML-RPC, each on its own: frame (the HTTP/1.1
//! request's head parsed, the answer's head written), decode (body -> call),
//! bind (keyword lookup + argument binding), OTP (a code from a base32
//! secret, TOTP and HOTP) and encode (the answer). `cargo bench --bench
//! hot_path` (add `-- --quick` for a short run). Wall-clock figures, so
//! compare runs on one machine; bench/callgrind.sh counts the whole call.
//!
//! Kept to the public API of `rpa_mfa::http1`, `rpa_mfa::remote::xmlrpc`
//! and `rpa_mfa_keywords`, one small function per step, so a change of the
//! hot path's API touches one line here.

use std::hint::black_box;
use std::sync::Arc;

use axum::http::StatusCode;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rpa_mfa::http1;
use rpa_mfa::remote::xmlrpc;
use rpa_mfa_keywords::otp::{Kind, Options, OtpKey};
use rpa_mfa_keywords::{Library, Services, Value};

/// What Robot's Remote library sends (the body wrk posts in bench/compare.sh).
const BODY: &[u8] = include_bytes!("../bench/run_keyword.xml");
const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const KEYWORD: &str = "Get Time Based OTP";
/// The time and counter of the OTP benches, with their codes from oathtool
/// (`oathtool --totp -b -N @1700000000 SECRET`, `oathtool -b -c 42 SECRET`).
const AT: u64 = 1_700_000_000;
const TOTP_AT: &str = "406058";
const COUNTER: u64 = 42;
const HOTP_AT: &str = "713665";

/// What Python's http.client (Robot's Remote library) sends before the body.
const HEAD: &[u8] = b"POST /RPC2 HTTP/1.1\r\nHost: 127.0.0.1:8270\r\n\
    Accept-Encoding: gzip\r\nUser-Agent: Python-xmlrpc/3.11\r\n\
    Content-Type: text/xml\r\nContent-Length: ";

fn frame(c: &mut Criterion) {
    let request = [HEAD, BODY.len().to_string().as_bytes(), b"\r\n\r\n", BODY].concat();
    let http1::Parsed::Call(call) = http1::parse(&request, 1 << 20) else {
        panic!("the bench request is a whole call");
    };
    assert_eq!(&request[call.body], BODY);
    c.bench_function("frame run_keyword request", |b| {
        b.iter(|| http1::parse(black_box(&request), 1 << 20))
    });
    let mut out = Vec::with_capacity(4096);
    c.bench_function("frame answer head", |b| {
        b.iter(|| {
            out.clear();
            let content_type = [("content-type", b"text/xml; charset=utf-8".as_slice())];
            http1::write_head(
                &mut out,
                StatusCode::OK,
                content_type,
                black_box(300),
                false,
            );
        })
    });
}

fn decode(c: &mut Criterion) {
    let call = xmlrpc::decode_call(BODY).expect("the bench body decodes");
    assert_eq!(call.method, "run_keyword");
    c.bench_function("decode run_keyword body", |b| {
        b.iter(|| xmlrpc::decode_call(black_box(BODY)))
    });
}

fn bind(c: &mut Criterion) {
    let library = Library::new(rpa_mfa_keywords::keywords(), Arc::new(Services::offline()));
    let args = vec![Value::str(SECRET)];
    c.bench_function("bind Get Time Based OTP", |b| {
        b.iter_batched(
            || args.clone(),
            |args| {
                let keyword = library.keyword(black_box(KEYWORD)).expect("a keyword");
                keyword.bind(args, Vec::new()).expect("bound")
            },
            BatchSize::SmallInput,
        )
    });
}

fn otp(c: &mut Criterion) {
    let code = |kind, at: fn(&OtpKey) -> String| {
        at(&OtpKey::parse(black_box(SECRET), kind, Options::default()).expect("a secret"))
    };
    let totp = |key: &OtpKey| key.code_at_time(AT);
    let hotp = |key: &OtpKey| key.code_at_counter(COUNTER);
    assert_eq!(code(Kind::Totp, totp), TOTP_AT);
    assert_eq!(code(Kind::Hotp, hotp), HOTP_AT);
    c.bench_function("TOTP from a base32 secret", |b| {
        b.iter(|| code(Kind::Totp, totp))
    });
    c.bench_function("HOTP from a base32 secret", |b| {
        b.iter(|| code(Kind::Hotp, hotp))
    });
}

fn encode(c: &mut Criterion) {
    let answer = Value::dict([
        ("status", Value::str("PASS")),
        ("return", Value::str(TOTP_AT)),
        ("output", Value::str("")),
    ]);
    c.bench_function("encode PASS answer", |b| {
        b.iter(|| xmlrpc::encode_response(black_box(&answer)))
    });
}

criterion_group!(hot_path, frame, decode, bind, otp, encode);
criterion_main!(hot_path);
