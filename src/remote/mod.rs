//! Robot Framework's remote library API, independent of the wire.
//!
//! [`RemoteApi::call`] takes a method name and decoded parameters and
//! answers with a [`Reply`] (a value, or a keyword's result) or a
//! [`Fault`]; [`xmlrpc`] and the JSON-RPC module
//! only translate. The methods are those Robot Framework 7.5's `Remote`
//! library calls: `get_library_information` (and the per-keyword fallbacks),
//! `run_keyword`, and the `stop_remote_server` convention.

pub mod xmlrpc;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
// tokio's: the same clock, and what a keyword's deadline is counted on.
use tokio::time::Instant;

use rpa_mfa_keywords::access::{Access, Identity};
use rpa_mfa_keywords::library::{shown_name, Running, Started};
use rpa_mfa_keywords::{Keyword, Library, Value};

use crate::gate::Gate;
use crate::logging::keyword_line::{self, KeywordLine};
use crate::metrics::CallMetrics;
use crate::stop::StopSwitch;

/// Short documentation shown as the library introduction, in Robot's
/// documentation format (import lines are preformatted: libdoc would link
/// a URL inside backticks and mangle the rest of the line).
pub const INTRO: &str = "\
rpa-mfa serves one-time passwords (TOTP and HOTP), vault-backed MFA \
secrets and OAuth2 / OpenID Connect logins to Robot Framework and to RPA \
bots in any language.

Its keywords are those of rpaframework's ``RPA.MFA`` with the same names, \
arguments and error texts, so a suite moves from the first import to the \
second unchanged:

| Library    RPA.MFA
| Library    Remote    http://127.0.0.1:8270

Beyond RPA.MFA: SHA256/SHA512, 6 to 8 digits, any period, secrets with \
spaces, dashes, lowercase or padding, ``otpauth://`` URIs, HOTP counters up \
to 2^64-1, and codes guaranteed to stay valid for a given number of seconds; \
and every OAuth flow a robot needs to log in unattended: PKCE, OpenID \
discovery, client credentials, password (with Auth0-style MFA answered from \
the TOTP secret), device login, ID token validation, introspection, \
revocation, and a redirect target on this server (`Get OAuth Callback URL`).

State set by keywords (the current secrets, the OAuth session) belongs to a \
namespace: the default one at ``/`` and ``/RPC2``, or the isolated one a \
suite picks with \
``http://host:8270/ns/NAME``.";

/// Documentation of the library's import, shown by libdoc and the page.
/// The namespace form quotes the suite name: Python's XML-RPC client
/// refuses a URL with a space (`${SUITE NAME}` of `My Login Suite`)
/// before sending anything.
pub const INIT_DOC: &str = "\
The server is configured when it starts, not on import: ``rpa-mfa serve \
--secret NAME:KEY --mode TIME`` does what RPA.MFA's import arguments \
``vault_name``, ``vault_key`` and ``mode`` do, for every namespace. Import it \
as

| Library    Remote    http://127.0.0.1:8270

or, for state of its own that no other suite shares, with the suite's name \
quoted so that any name works in a URL:

| Library    Remote    http://127.0.0.1:8270/ns/${{urllib.parse.quote($SUITE_NAME)}}

Without a server to run, ``Library    rpa_mfa.MFA    vault_name=...`` \
(from the ``rpa-mfa`` wheel) starts a private one for the run.";

/// Every method, in the order a client would discover them.
pub const METHODS: &[&str] = &[
    "get_library_information",
    "get_keyword_names",
    "get_keyword_arguments",
    "get_keyword_types",
    "get_keyword_tags",
    "get_keyword_documentation",
    "run_keyword",
    "stop_remote_server",
];

/// A protocol-level failure, as opposed to a keyword failing (which is a
/// normal `run_keyword` result with status FAIL).
#[derive(Debug, PartialEq)]
pub enum Fault {
    MethodNotFound(String),
    InvalidParams(String),
    Internal(String),
    /// The gate refused the call: an authenticated user called outside the
    /// namespace they are pinned to.
    Forbidden(String),
}

impl Fault {
    /// The code both XML-RPC (per the fault-code interoperability spec) and
    /// JSON-RPC 2.0 use.
    pub fn code(&self) -> i32 {
        match self {
            Fault::MethodNotFound(_) => -32601,
            Fault::InvalidParams(_) => -32602,
            Fault::Internal(_) => -32603,
            // JSON-RPC's range for implementation-defined server errors.
            Fault::Forbidden(_) => -32001,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Fault::MethodNotFound(m) => format!("Method '{m}' is not supported."),
            Fault::InvalidParams(m) | Fault::Internal(m) | Fault::Forbidden(m) => m.clone(),
        }
    }
}

/// What a remote method answers.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Value(Value),
    /// `run_keyword`'s result, kept as its parts: the encoders write
    /// Robot's result dict straight from them, without building a map of
    /// owned keys for every call (see [`KeywordReply::into_value`]).
    Keyword(KeywordReply),
}

impl Reply {
    /// The reply as one value (`run_keyword`'s as Robot's result dict).
    pub fn into_value(self) -> Value {
        match self {
            Reply::Value(value) => value,
            Reply::Keyword(keyword) => keyword.into_value(),
        }
    }
}

/// A keyword's result: what it returned, or the error it failed with, and
/// what it wrote to Robot's log.
#[derive(Clone, Debug, PartialEq)]
pub struct KeywordReply {
    pub result: Result<Value, String>,
    pub output: String,
}

impl KeywordReply {
    pub fn passed(&self) -> bool {
        self.result.is_ok()
    }

    /// Robot's result dict: `status` PASS with `return`, or FAIL with
    /// `error`, and `output`.
    pub fn into_value(self) -> Value {
        let mut dict = BTreeMap::new();
        match self.result {
            Ok(value) => {
                dict.insert("status".to_owned(), Value::str("PASS"));
                dict.insert("return".to_owned(), value);
            }
            Err(error) => {
                dict.insert("status".to_owned(), Value::str("FAIL"));
                dict.insert("error".to_owned(), Value::Str(error));
            }
        }
        dict.insert("output".to_owned(), Value::Str(self.output));
        Value::Dict(dict)
    }

    /// The dict's entries in its key order (`error`, `output`, `return`,
    /// `status`), as [`KeywordReply::into_value`]'s map would list them:
    /// an encoder writes these instead.
    pub fn entries(&self) -> [(&'static str, Entry<'_>); 3] {
        let status = (
            "status",
            Entry::Text(if self.passed() { "PASS" } else { "FAIL" }),
        );
        let output = ("output", Entry::Text(&self.output));
        match &self.result {
            Ok(value) => [output, ("return", Entry::Value(value)), status],
            Err(error) => [("error", Entry::Text(error)), output, status],
        }
    }
}

/// One entry of a [`KeywordReply`]'s dict: a string, or the returned value.
pub enum Entry<'a> {
    Text(&'a str),
    Value(&'a Value),
}

/// The wire protocol a call came in on, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    XmlRpc,
    /// JSON-RPC over HTTP POST or WebSocket.
    JsonRpc,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::XmlRpc => "xmlrpc",
            Protocol::JsonRpc => "jsonrpc",
        }
    }
}

/// Where a call comes from: its protocol, namespace and caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub protocol: Protocol,
    pub namespace: &'a str,
    /// The authenticated user; `None` when authentication is off.
    pub identity: Option<&'a Identity>,
}

/// The remote API over one library, behind the gate.
pub struct RemoteApi {
    library: Arc<Library>,
    stop: StopSwitch,
    gate: Gate,
    metrics: CallMetrics,
}

impl RemoteApi {
    pub fn new(library: Arc<Library>, stop: StopSwitch, gate: Gate) -> RemoteApi {
        RemoteApi {
            metrics: CallMetrics::new(library.keywords().len()),
            library,
            stop,
            gate,
        }
    }

    /// The gate every entry point passes; `call` passes it itself, other
    /// entry points (subscriptions) ask it for an [`Access`].
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The library behind the API, for what is not a remote method (the
    /// keyword page, live code feeds).
    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    /// Calls one remote method. Every protocol's calls pass through here:
    /// the gate admits the caller into the namespace (or refuses a pinned
    /// user elsewhere), and each call is counted and logged (names, status
    /// and time only, never arguments).
    pub async fn call(
        &self,
        caller: Caller<'_>,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Reply, Fault> {
        let access = self
            .gate
            .admit(caller.protocol, caller.identity, caller.namespace, method)
            .await?;
        let protocol = caller.protocol.as_str();
        let namespace = caller.namespace;
        let user = caller.identity.map(|i| &*i.user);
        let method_index = METHODS.iter().position(|m| *m == method);
        self.metrics.method_call(caller.protocol, method_index);
        if method != "run_keyword" {
            let result = self
                .dispatch(access, method, params, None, Instant::now())
                .await;
            tracing::debug!(
                protocol,
                namespace,
                user,
                method = %shown_name(method),
                ok = result.is_ok(),
                "call"
            );
            return result;
        }
        // Looked up once: for the metric label here, and to run it.
        let index = match params.first() {
            Some(Value::Str(name)) => self.library.keyword_index(name),
            _ => None,
        };
        let found = index.map(|i| &self.library.keywords()[i]);
        let keyword = found.map_or(crate::metrics::UNKNOWN, |k| k.name);
        // Read once: the run's time, and where its waits end.
        let started = Instant::now();
        let result = self.dispatch(access, method, params, found, started).await;
        let took = started.elapsed();
        let status = match &result {
            Ok(Reply::Keyword(reply)) if reply.passed() => "PASS",
            Ok(_) => "FAIL",
            Err(_) => "FAULT",
        };
        self.metrics
            .keyword_call(caller.protocol, index, keyword, status != "PASS", took);
        let line = keyword_line::Fields {
            protocol,
            namespace,
            user,
            keyword,
            status,
            duration_us: took.as_micros() as u64,
        };
        match keyword_line::mode() {
            KeywordLine::Direct if line.plain() => keyword_line::write(&line),
            KeywordLine::Off => {}
            _ => log_keyword_through_tracing(&line),
        }
        result
    }

    /// Answers one method; `keyword` is `run_keyword`'s keyword, looked
    /// up by [`RemoteApi::call`], and `started` when the call began.
    async fn dispatch(
        &self,
        access: Access,
        method: &str,
        params: Vec<Value>,
        keyword: Option<&Keyword>,
        started: Instant,
    ) -> Result<Reply, Fault> {
        let mut params = params.into_iter();
        let mut next = |what: &str| {
            params.next().ok_or_else(|| {
                Fault::InvalidParams(format!("'{method}' needs the argument '{what}'."))
            })
        };
        let value = match method {
            "get_library_information" => library_information(&self.library),
            "get_keyword_names" => Value::list(self.library.keywords().iter().map(|k| k.name)),
            "get_keyword_arguments" => {
                self.describe(&text(next("name")?)?, |k| Value::List(k.robot_args()))
            }
            "get_keyword_types" => self.describe(&text(next("name")?)?, |k| k.robot_types()),
            "get_keyword_tags" => self.describe(&text(next("name")?)?, |k| {
                Value::list(k.tags.iter().copied())
            }),
            "get_keyword_documentation" => {
                let name = text(next("name")?)?;
                Value::str(match name.as_str() {
                    "__intro__" => INTRO,
                    "__init__" => INIT_DOC,
                    _ => self.library.keyword(&name).map_or("", |k| k.doc),
                })
            }
            "run_keyword" => {
                let name = text(next("name")?)?;
                let args = match params.next() {
                    Some(Value::List(items)) => items,
                    None => Vec::new(),
                    Some(_) => {
                        return Err(Fault::InvalidParams(
                            "run_keyword's args must be a list.".into(),
                        ))
                    }
                };
                let kwargs = match params.next() {
                    Some(Value::Dict(map)) => map.into_iter().collect(),
                    None | Some(Value::None) => Vec::new(),
                    Some(_) => {
                        return Err(Fault::InvalidParams(
                            "run_keyword's kwargs must be a struct.".into(),
                        ))
                    }
                };
                return self
                    .run_keyword(access, &name, keyword, args, kwargs, started)
                    .await
                    .map(Reply::Keyword);
            }
            "stop_remote_server" => Value::Bool(self.stop.request()),
            other => return Err(Fault::MethodNotFound(shown_name(other).into_owned())),
        };
        Ok(Reply::Value(value))
    }

    /// Runs a keyword so that a client hanging up mid-call cannot cancel
    /// it half-way (a vault write, a counter increment): a keyword that
    /// finishes without waiting (most do) is answered at once; one that
    /// waits goes on in a task of its own. A panic is a fault either way.
    async fn run_keyword(
        &self,
        access: Access,
        name: &str,
        keyword: Option<&Keyword>,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
        started: Instant,
    ) -> Result<KeywordReply, Fault> {
        let failed =
            || Fault::Internal("The keyword failed unexpectedly; the server keeps running.".into());
        // Binding runs user input through conversions: a panic there is a
        // fault too.
        let started = std::panic::catch_unwind(AssertUnwindSafe(|| {
            self.library
                .start(access, name, keyword, args, kwargs, started)
        }));
        let Running { mut future, output } = match started {
            Ok(Started::Running(running)) => running,
            Ok(Started::Done(outcome)) => return Ok(keyword_reply(outcome)),
            Err(_) => return Err(failed()),
        };
        // The handler's future is boxed already: polled here once, and
        // only when it waits moved into a task of its own. A waker that
        // does nothing is enough: a future that is not ready is polled
        // again by its task, which wakes it properly.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
        }));
        let result = match polled {
            Ok(Poll::Ready(result)) => result,
            Ok(Poll::Pending) => tokio::spawn(future).await.map_err(|_| failed())?,
            Err(_) => return Err(failed()),
        };
        Ok(keyword_reply(output.outcome(result)))
    }

    fn describe(&self, name: &str, what: impl Fn(&rpa_mfa_keywords::Keyword) -> Value) -> Value {
        self.library
            .keyword(name)
            .map_or(Value::List(Vec::new()), what)
    }
}

/// A keyword's outcome as `run_keyword` answers it.
fn keyword_reply(outcome: rpa_mfa_keywords::Outcome) -> KeywordReply {
    KeywordReply {
        result: outcome.result.map_err(|error| error.to_string()),
        output: outcome.output,
    }
}

/// The keyword line through `tracing`, when it cannot be written directly
/// (see [`keyword_line`]).
pub(crate) fn log_keyword_through_tracing(line: &keyword_line::Fields<'_>) {
    tracing::info!(
        protocol = line.protocol,
        namespace = line.namespace,
        user = line.user,
        keyword = line.keyword,
        status = line.status,
        duration_us = line.duration_us,
        "keyword"
    );
}

fn text(value: Value) -> Result<String, Fault> {
    match value {
        Value::Str(s) => Ok(s),
        other => Err(Fault::InvalidParams(format!(
            "Expected a keyword name as a string, got {}.",
            other.type_name()
        ))),
    }
}

/// Everything Robot needs to know about the library in one answer.
pub fn library_information(library: &Library) -> Value {
    let mut info: BTreeMap<String, Value> = library
        .keywords()
        .iter()
        .map(|k| {
            let entry = Value::dict([
                ("args", Value::List(k.robot_args())),
                ("types", k.robot_types()),
                ("doc", Value::str(k.doc)),
                ("tags", Value::list(k.tags.iter().copied())),
            ]);
            (k.name.to_owned(), entry)
        })
        .collect();
    info.insert(
        "__intro__".into(),
        Value::dict([("doc", Value::str(INTRO))]),
    );
    info.insert(
        "__init__".into(),
        Value::dict([("doc", Value::str(INIT_DOC))]),
    );
    Value::Dict(info)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rpa_mfa_keywords::access::Policy;
    use rpa_mfa_keywords::{Keyword, Services};

    use super::*;

    /// An API over two keywords that panic, one at once, one after a wait.
    fn panicking_api() -> RemoteApi {
        let services = Arc::new(Services::offline());
        let keywords = vec![
            Keyword::new("Panic Now").handler(|_| async { panic!("a bug") }),
            Keyword::new("Panic Later").handler(|_| async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                panic!("a later bug")
            }),
            Keyword::new("Wait A Moment").handler(|_| async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok(Value::str("waited"))
            }),
        ];
        let library = Arc::new(Library::new(keywords, services.clone()));
        let gate = Gate::new(services, Policy::default());
        RemoteApi::new(library, StopSwitch::new(false), gate)
    }

    async fn run(api: &RemoteApi, keyword: &str) -> Result<Value, Fault> {
        let caller = Caller {
            protocol: Protocol::XmlRpc,
            namespace: "",
            identity: None,
        };
        let params = vec![Value::str(keyword), Value::List(Vec::new())];
        api.call(caller, "run_keyword", params)
            .await
            .map(Reply::into_value)
    }

    /// Replies with every kind of entry: returned values of several
    /// types, texts XML must escape or cannot carry, a failure.
    fn keyword_replies() -> Vec<KeywordReply> {
        let returned = [
            Value::str("755224"),
            Value::None,
            Value::Int(1 << 40),
            Value::dict([("b", Value::Bool(true)), ("a", Value::list(["x<y", "&"]))]),
        ];
        let mut replies: Vec<KeywordReply> = returned
            .into_iter()
            .map(|value| KeywordReply {
                result: Ok(value),
                output: "*INFO* a <b> & c\r\n".into(),
            })
            .collect();
        replies.push(KeywordReply {
            result: Err("ValueError: 'x' is not \u{1} valid <here>".into()),
            output: String::new(),
        });
        replies
    }

    #[test]
    fn a_keyword_reply_is_written_as_its_result_dict() {
        // Both encoders write the parts exactly as they write the dict
        // Robot's protocol defines (the generic value encoders, which the
        // codec and round-trip tests hold to the peers).
        for reply in keyword_replies() {
            let dict = reply.clone().into_value();
            assert_eq!(
                xmlrpc::encode_reply(&Reply::Keyword(reply.clone())),
                xmlrpc::encode_response(&dict),
                "{reply:?}"
            );
            let json = |reply| serde_json::to_string(&crate::jsonrpc::Answer(reply)).unwrap();
            assert_eq!(
                json(Reply::Keyword(reply.clone())),
                json(Reply::Value(dict)),
                "{reply:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_panicking_keyword_is_a_fault_and_the_api_goes_on() {
        let api = panicking_api();
        let fault =
            Fault::Internal("The keyword failed unexpectedly; the server keeps running.".into());
        assert_eq!(run(&api, "Panic Now").await, Err(fault));
        let fault =
            Fault::Internal("The keyword failed unexpectedly; the server keeps running.".into());
        assert_eq!(run(&api, "Panic Later").await, Err(fault));
        let Ok(Value::Dict(result)) = run(&api, "Wait A Moment").await else {
            panic!("a result");
        };
        assert_eq!(result.get("status"), Some(&Value::str("PASS")));
        assert_eq!(result.get("return"), Some(&Value::str("waited")));
    }
}
