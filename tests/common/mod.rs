//! The one way the wire tests start and stop the built binary, and the
//! few request helpers they share. Use it from a test file with
//! `mod common;`:
//!
//! ```ignore
//! let server = common::Spawn::serve()
//!     .vault(json!({"mfa": {"otp": SECRET}}))
//!     .args(["--allow-stop"])
//!     .start();
//! let answer = common::run_keyword(server.port, "", "Get Counter Based OTP",
//!                                  json!(["0", SECRET]), json!({})).await;
//! ```
//!
//! Every server listens on 127.0.0.1 on a free port (port 0, read back
//! from `--port-file`), keeps its files in a temporary directory of its
//! own and is killed when its `Server` is dropped. Each test file uses a
//! part of this module only, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};

use serde_json::{json, Value as Json};

#[path = "../remote_text/mod.rs"]
pub mod remote_text;

/// The binary under test: `RPA_MFA_BIN` when set (to measure another
/// build, e.g. target/release/rpa-mfa), else the one cargo built.
pub fn binary() -> PathBuf {
    std::env::var_os("RPA_MFA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_rpa-mfa").into())
}

/// A `Command` for the binary under test.
pub fn rpa_mfa() -> Command {
    Command::new(binary())
}

/// Spawns `command` with `stdin` written to its standard input, then
/// closed (so a value is read to its end); stdout/stderr as the caller set.
pub fn spawn_with_stdin(command: &mut Command, stdin: &str) -> Child {
    let mut child = command.stdin(Stdio::piped()).spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child
}

/// Runs `command` with `stdin` as its input and returns what it printed
/// and how it ended.
pub fn run_with_stdin(command: &mut Command, stdin: &str) -> Output {
    let command = command.stdout(Stdio::piped()).stderr(Stdio::piped());
    spawn_with_stdin(command, stdin).wait_with_output().unwrap()
}

/// Where a server's log (its stderr) goes.
pub enum Log {
    /// Thrown away (the default).
    Null,
    /// Into `Server::log_path()`, read with `Server::log()`.
    File,
    /// A pipe the test reads from `server.child.stderr`.
    Piped,
    /// The test's own stderr, to watch a server while debugging.
    Inherit,
}

/// How to start `rpa-mfa serve`: built up, then `start()`ed.
///
/// Defaults: `serve --port 0 --port-file DIR/port`, `RPA_MFA_STATE=memory:`
/// (a fresh store, never the user's state.db; a `--state` flag wins),
/// `RPA_MFA_LOG=warn`, the log thrown away, no vault flag (add one with
/// `vault` or `args`).
pub struct Spawn {
    command: Command,
    dir: tempfile::TempDir,
    log: Log,
}

impl Spawn {
    pub fn serve() -> Spawn {
        let dir = tempfile::tempdir().unwrap();
        let mut command = rpa_mfa();
        command
            .args(["serve", "--port", "0", "--port-file"])
            .arg(dir.path().join("port"))
            .env("RPA_MFA_STATE", "memory:")
            .env("RPA_MFA_LOG", "warn");
        Spawn {
            command,
            dir,
            log: Log::Null,
        }
    }

    /// The server's own temporary directory (kept as long as the server).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `secrets` to DIR/secrets.json and serves it as the vault.
    pub fn vault(mut self, secrets: Json) -> Spawn {
        let path = self.dir.path().join("secrets.json");
        std::fs::write(&path, secrets.to_string()).unwrap();
        self.command
            .arg("--vault")
            .arg(format!("file:{}", path.display()));
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Spawn {
        self.command.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Spawn {
        self.command.env(name, value);
        self
    }

    pub fn env_remove(mut self, name: &str) -> Spawn {
        self.command.env_remove(name);
        self
    }

    pub fn log(mut self, log: Log) -> Spawn {
        self.log = log;
        self
    }

    /// Starts the server and returns once it listens: the ready line it
    /// prints on stdout once bound is the wait (no polling, no sleep).
    pub fn start(mut self) -> Server {
        let log_path = self.dir.path().join("server.log");
        let stderr = match self.log {
            Log::Null => Stdio::null(),
            Log::File => std::fs::File::create(&log_path).unwrap().into(),
            Log::Piped => Stdio::piped(),
            Log::Inherit => Stdio::inherit(),
        };
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready_line = String::new();
        stdout.read_line(&mut ready_line).unwrap();
        assert!(
            ready_line.contains("started"),
            "no ready line ({ready_line:?}); log: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        let port = std::fs::read_to_string(self.dir.path().join("port"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Server {
            child,
            stdout,
            port,
            ready_line: ready_line.trim().to_owned(),
            dir: self.dir,
        }
    }
}

/// A running `rpa-mfa serve`; killed (SIGKILL) and reaped when dropped.
pub struct Server {
    pub child: Child,
    /// Kept open: the server prints its stop line here.
    pub stdout: BufReader<ChildStdout>,
    pub port: u16,
    /// The line printed once listening, trimmed.
    pub ready_line: String,
    dir: tempfile::TempDir,
}

impl Server {
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn port_file(&self) -> PathBuf {
        self.dir.path().join("port")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The log so far (with `Log::File`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap()
    }

    /// The log once a line containing `text` is in it, or after 10 s
    /// without one (the caller's assertion then shows the log). Keyword
    /// lines are written when the worker that answered goes idle, a moment
    /// after the answer (`logging::keyword_line`).
    pub async fn log_with(&self, text: &str) -> String {
        self.log_within(text, std::time::Duration::from_secs(10))
            .await
    }

    /// [`Server::log_with`], giving up after `wait`.
    pub async fn log_within(&self, text: &str, wait: std::time::Duration) -> String {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let log = self.log();
            if log.contains(text) || std::time::Instant::now() > deadline {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Sends SIGTERM (the graceful stop) without waiting.
    pub fn sigterm(&self) {
        // SAFETY: kill(2) on our own child's pid, which it still is: the
        // child has not been waited for.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) },
            0
        );
    }

    /// Sends SIGTERM and returns the last line printed and the exit status.
    pub fn terminate(mut self) -> (String, ExitStatus) {
        self.sigterm();
        self.wait_stopped()
    }

    /// Waits for the exit; returns the rest of stdout (trimmed) and the status.
    pub fn wait_stopped(&mut self) -> (String, ExitStatus) {
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        (rest.trim().to_owned(), status)
    }

    /// SIGKILL, as a crash: no graceful stop.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// `run_keyword(name, args)` over XML-RPC at `path` (`/RPC2`,
    /// `/ns/NAME`...); returns the response text.
    pub async fn run_keyword_xml(&self, path: &str, name: &str, args: &[&str]) -> String {
        let body = remote_text::run_keyword_xml(name, args);
        post_xml(&reqwest::Client::new(), &self.url(path), body).await
    }

    /// `run_keyword` over JSON-RPC; see [`run_keyword`].
    pub async fn run_keyword(&self, ns: &str, name: &str, args: Json, kwargs: Json) -> Json {
        run_keyword(self.port, ns, name, args, kwargs).await
    }

    /// `run_keyword` over JSON-RPC that must PASS; returns its `return`.
    pub async fn run_keyword_ok(&self, ns: &str, name: &str, args: Json, kwargs: Json) -> Json {
        let answer = self.run_keyword(ns, name, args, kwargs).await;
        assert_eq!(answer["status"], "PASS", "{name}: {answer}");
        answer["return"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs an XML-RPC body to `url`; asserts HTTP 200 (Robot treats any
/// other status as a protocol error) and returns the response text.
pub async fn post_xml(client: &reqwest::Client, url: &str, body: String) -> String {
    let response = client
        .post(url)
        .header("Content-Type", "text/xml")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// POSTs a JSON-RPC 2.0 request (id 1) to `url`; asserts HTTP 200 and
/// returns the whole response object.
pub async fn post_jsonrpc(client: &reqwest::Client, url: &str, method: &str, params: Json) -> Json {
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let response = client.post(url).json(&request).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// `run_keyword` over JSON-RPC on 127.0.0.1:`port`, in namespace `ns`
/// (`""`: the default one); returns the result object (`status`,
/// `return`, `error`, ...).
pub async fn run_keyword(port: u16, ns: &str, name: &str, args: Json, kwargs: Json) -> Json {
    let mut params = json!({"name": name, "args": args, "kwargs": kwargs});
    if !ns.is_empty() {
        params["namespace"] = json!(ns);
    }
    let url = format!("http://127.0.0.1:{port}/jsonrpc");
    post_jsonrpc(&reqwest::Client::new(), &url, "run_keyword", params).await["result"].clone()
}

/// A client WebSocket (tokio-tungstenite, a real client).
pub type WsSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends one request over the socket (a [`WsSocket`], or one made on a
/// plain stream) and returns the answer with its id.
pub async fn ws_call<S>(
    socket: &mut tokio_tungstenite::WebSocketStream<S>,
    id: u64,
    method: &str,
    params: Json,
) -> Json
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    socket
        .send(Message::text(request.to_string()))
        .await
        .unwrap();
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = message {
            let answer: Json = serde_json::from_str(&text).unwrap();
            if answer["id"] == id {
                return answer;
            }
        }
    }
}
