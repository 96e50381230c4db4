//! The ceiling: a bare hyper server that reads each request body and
//! answers the XML-RPC `methodResponse` rpa-mfa gives to
//! `run_keyword('Get Time Based OTP', [secret])`, without doing the work.
//! What it reaches on this machine is the most any HTTP/1.1 server in Rust
//! can, so bench/compare.sh and bench/callgrind.sh measure rpa-mfa against it.
//!
//! Usage: `rpa-mfa-ceiling PORT_FILE [HOST]` listens on HOST (127.0.0.1) on
//! a free port and writes the port to PORT_FILE once listening, as
//! `rpa-mfa serve --port 0 --port-file` does. It keeps connections alive,
//! serves HTTP/1.1 on tokio's multi-threaded runtime (as rpa-mfa does) and
//! on SIGTERM removes the port file and returns from `main`, so callgrind
//! writes its counts as it does for rpa-mfa.

use std::convert::Infallible;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

/// The answer rpa-mfa gives a passing `Get Time Based OTP` (only the code
/// differs), so the ceiling writes as many bytes as rpa-mfa does.
const ANSWER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><params><param>\
<value><struct><member><name>output</name><value><string></string></value></member>\
<member><name>return</name><value><string>123456</string></value></member>\
<member><name>status</name><value><string>PASS</string></value></member>\
</struct></value></param></params></methodResponse>\n";

/// Reads the whole body (rpa-mfa must too) and answers the canned response.
async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, body) = match request.into_body().collect().await {
        Ok(_) => (200, ANSWER),
        Err(_) => (400, ""),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .expect("a static response"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port_file, host) = match args.as_slice() {
        [port_file] => (port_file.as_str(), "127.0.0.1"),
        [port_file, host] => (port_file.as_str(), host.as_str()),
        _ => return Err("usage: rpa-mfa-ceiling PORT_FILE [HOST]".into()),
    };
    let mut terminate = signal(SignalKind::terminate())?;
    let listener = TcpListener::bind((host, 0)).await?;
    // Written whole, then renamed, so a poller never reads half a port.
    let partial = format!("{port_file}.partial");
    std::fs::write(&partial, format!("{}\n", listener.local_addr()?.port()))?;
    std::fs::rename(&partial, port_file)?;
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue, // e.g. out of file descriptors: serve the rest
            },
            _ = terminate.recv() => {
                // As rpa-mfa does: a port file names a listening server.
                let _ = std::fs::remove_file(port_file);
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(answer))
                .await;
        });
    }
}
