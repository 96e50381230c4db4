//! `rpa-mfa serve`: one axum router on one port, the Robot remote protocol
//! (XML-RPC) at `/`, `/RPC2` and `/ns/{name}`, JSON-RPC (HTTP and
//! WebSocket) at `/jsonrpc`, the keyword page at `GET /`, `/metrics`,
//! `/health` and the OAuth callback; plain HTTP or TLS, behind
//! authentication when configured; started, announced and stopped
//! gracefully.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path as FilePath;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::BoxError;
use axum::{middleware, Extension, Router};
use jsonrpsee::server::{
    Methods, ServerBuilder as Builder, ServerConfig, StopHandle, TowerServiceBuilder,
};
use rpa_mfa_keywords::email::Mailboxes;
use rpa_mfa_keywords::identity::Identities;
use rpa_mfa_keywords::oauth::callback::Delivery;
use rpa_mfa_keywords::oauth::profile::Profiles;
use rpa_mfa_keywords::otp::record::OtpState;
use rpa_mfa_keywords::otp::{Options, OtpKey};
use rpa_mfa_keywords::state::{self, valid_namespace_name, Namespaces, DEFAULT_NAMESPACE};
use rpa_mfa_keywords::stopping::Stopping;
use rpa_mfa_keywords::vault::SecretRef;
use rpa_mfa_keywords::{Library, Services};
use tokio::time::error::Elapsed;
use tower::Service;

use crate::auth::{require_auth, Auth, Identity};
use crate::config::{Limits, ServeConfig};
use crate::jsonrpc::ws::WsServer;
use crate::ops::Health;
use crate::remote::{xmlrpc, Caller, Protocol, RemoteApi};
use crate::sms::SmsWebhooks;
use crate::stop::StopSwitch;
use crate::whole_body::{BodyError, WholeBody};

/// JSON-RPC's (and our XML-RPC fault's) code for a request over the body
/// limit: jsonrpsee's "Request is too big" (-32007).
const TOO_BIG: i32 = -32007;

/// Cloned for every request (axum's `State`): two `Arc`s.
#[derive(Clone)]
struct AppState {
    api: Arc<RemoteApi>,
    rest: Arc<AppRest>,
}

/// What the handlers need besides the API.
struct AppRest {
    rpc: JsonRpcService,
    body: BodyLimits,
}

/// How much of a request body is read, and for how long.
#[derive(Clone)]
pub(crate) struct BodyLimits {
    pub(crate) max_bytes: usize,
    /// A body must have arrived by then once the headers have.
    pub(crate) read_timeout: Duration,
    /// A body still arriving when the grace period ends is not waited for.
    pub(crate) stopping: Stopping,
}

impl BodyLimits {
    pub(crate) fn new(limits: &Limits, stopping: &Stopping) -> BodyLimits {
        BodyLimits {
            max_bytes: limits.max_body_size,
            read_timeout: limits.header_read_timeout,
            stopping: stopping.clone(),
        }
    }
}

type RpcBuilder = TowerServiceBuilder<tower::layer::util::Identity, tower::layer::util::Identity>;

/// What it takes to build a jsonrpsee service for one HTTP request that
/// is not answered directly; WebSockets are served by [`WsServer`], with a
/// count of their own: open WebSockets never shut out an HTTP call.
#[derive(Clone)]
struct JsonRpcService {
    methods: Methods,
    stop: StopHandle,
    http: RpcBuilder,
    ws: Arc<WsServer>,
}

/// The library with every keyword, the server's own included.
pub fn library(services: Arc<Services>, stop: &StopSwitch) -> Arc<Library> {
    let mut keywords = rpa_mfa_keywords::keywords();
    keywords.push(stop.keyword());
    Arc::new(Library::new(keywords, services))
}

/// Runs the server until SIGINT, SIGTERM or an allowed remote stop.
pub async fn serve(args: ServeConfig) -> Result<(), String> {
    let vaults = crate::vaults::open(&args.vaults).await?;
    let profiles = Profiles::new(args.profiles.iter().cloned());
    profiles.check(&vaults)?;
    let identities = Identities::new(args.identities.iter().cloned());
    identities.check(&vaults)?;
    let mfa = rpa_mfa_keywords::mfa::Providers::from_config(&args.mfa)?;
    mfa.check(&vaults)?;
    let mailboxes = Mailboxes::new(args.mailboxes.iter().cloned());
    mailboxes.check(&vaults, &profiles)?;
    let mut initial = OtpState::default();
    if let Some(reference) = &args.secret {
        let value = vaults
            .value(reference)
            .await
            .map_err(|e| format!("--secret {reference}: {e}"))?;
        let otp = OtpKey::parse(&value, args.mode, Options::default())
            .map_err(|e| format!("--secret {reference}: {e}"))?;
        initial = initial.with(Arc::new(otp));
    }
    let key_vault = vaults
        .get(args.state_key.as_ref().and_then(|r| r.vault.as_deref()))
        .map_err(|e| format!("--state-key: {e}"))?;
    let key_ref = args
        .state_key
        .as_ref()
        .map(|r| (r.name.as_str(), r.key.as_str()));
    let (store, state_key) = state::spec::open(&args.state, key_ref, &**key_vault).await?;
    tracing::info!(state = store.describe(), "state");
    let namespaces =
        Namespaces::new(store.clone(), state_key, args.namespaces.clone()).with_initial(&initial);
    let auth = Auth::load(&args.auth, &vaults).await?.map(Arc::new);
    let (end_waits, stopping) = Stopping::channel();
    let qr_dir = args
        .qr_dir
        .as_deref()
        .map(rpa_mfa_keywords::qr::QrDir::open)
        .transpose()
        .map_err(|e| format!("--qr-dir {e}"))?;
    let services = Arc::new(
        Services::new(vaults, namespaces, args.oauth.clone())
            .with_profiles(profiles)
            .with_identities(identities)
            .with_mfa(mfa)
            .with_mailboxes(mailboxes)
            .with_max_wait(args.max_wait)
            .with_qr_dir(qr_dir)
            .with_stopping(stopping)
            .with_sms(args.sms.settings.clone()),
    );
    let twilio_token = sms_secret(&services, "--sms-twilio-token", &args.sms.twilio_token).await?;
    let webhook_secret =
        sms_secret(&services, "--sms-webhook-secret", &args.sms.webhook_secret).await?;
    let tls = args
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    crate::metrics::spawn_upkeep();
    let stop = StopSwitch::new(args.allow_stop);
    let gate = crate::gate::Gate::new(services.clone(), crate::gate::policy(&args));
    let api = Arc::new(RemoteApi::new(
        library(services.clone(), &stop),
        stop.clone(),
        gate,
    ));
    let (rpc_stop, rpc_handle) = jsonrpsee::server::stop_channel();
    let health = Health {
        started: Instant::now(),
        stop: stop.clone(),
        tls: tls.is_some(),
        auth: auth.is_some(),
        state: store,
    };
    let sms = Arc::new(SmsWebhooks::new(
        services.clone(),
        twilio_token,
        webhook_secret,
        args.public_url.clone(),
        BodyLimits::new(&args.limits, &services.stopping),
    ));
    let direct = crate::direct::Direct {
        api: api.clone(),
        body: BodyLimits::new(&args.limits, &services.stopping),
        auth: auth.clone(),
    };
    let app = router(
        api,
        services.clone(),
        rpc_stop,
        auth.clone(),
        health,
        &args.limits,
        sms.clone(),
    );

    // Checked before binding, on every address the host resolves to, so
    // a refused server never has the port open even for a moment.
    let candidates: Vec<SocketAddr> = tokio::net::lookup_host((args.host.as_str(), args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?
        .collect();
    for candidate in &candidates {
        check_exposure(*candidate, auth.is_some(), args.insecure)?;
    }
    let listener = tokio::net::TcpListener::bind(candidates.as_slice())
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    services
        .oauth
        .set_callback_url(callback_url(addr, tls.is_some()));
    sms.listening_at(own_url(addr, tls.is_some()));
    stop_on_signals(stop.clone()).map_err(|e| format!("cannot handle signals: {e}"))?;
    if let Some(path) = &args.port_file {
        write_atomically(path, &addr.port().to_string())
            .map_err(|e| format!("--port-file {}: {e}", path.display()))?;
    }
    println!("Robot Framework remote server at {addr} started.");
    let _ = std::io::stdout().flush();

    let shutdown = async move {
        stop.stopped().await;
        let _ = rpc_handle.stop();
    };
    crate::listen::serve(
        listener,
        app,
        direct,
        tls,
        args.limits.clone(),
        shutdown,
        move || end_waits.stop(),
    )
    .await;
    if let Some(path) = &args.port_file {
        let _ = std::fs::remove_file(path);
    }
    println!("Robot Framework remote server at {addr} stopped.");
    Ok(())
}

/// A webhook secret from its vault, read once at start so that a bad
/// reference stops the server instead of refusing every webhook.
async fn sms_secret(
    services: &Services,
    flag: &str,
    reference: &Option<SecretRef>,
) -> Result<Option<zeroize::Zeroizing<String>>, String> {
    let Some(reference) = reference else {
        return Ok(None);
    };
    services
        .vaults()
        .value(reference)
        .await
        .map(Some)
        .map_err(|e| format!("{flag} {reference}: {e}"))
}

/// Refuses to serve anything but loopback without authentication, unless
/// the operator said `--insecure`: OTP codes must not go to the network.
fn check_exposure(addr: SocketAddr, auth: bool, insecure: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || auth {
        return Ok(());
    }
    if insecure {
        tracing::warn!(%addr, "serving a non-loopback address without authentication (--insecure)");
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {addr} without authentication: anyone who can reach it \
would get OTP codes. Set --users-secret or --tokens-secret, listen on 127.0.0.1, \
or pass --insecure to serve it anyway"
    ))
}

/// Installs the SIGINT/SIGTERM handlers now, before the ready line, so a
/// signal sent right after it stops the server gracefully rather than
/// killing the process.
fn stop_on_signals(stop: StopSwitch) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("stopping: calls in flight finish first");
            stop.stop();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("stopping: calls in flight finish first");
        stop.stop();
    });
    Ok(())
}

/// Writes a small file so readers never see it half-written.
fn write_atomically(path: &FilePath, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(FilePath::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Builds the router; `rpc_stop` ends jsonrpsee's HTTP calls on shutdown.
///
/// Two parts: `protected` holds every route that serves the library or
/// tells about it, behind `auth` when it is on; `open` holds the routes
/// that carry no credentials (health checks; browser redirects such as an
/// OAuth callback belong there too).
pub fn router(
    api: Arc<RemoteApi>,
    services: Arc<Services>,
    rpc_stop: StopHandle,
    auth: Option<Arc<Auth>>,
    health: Health,
    limits: &Limits,
    sms: Arc<SmsWebhooks>,
) -> Router {
    let body_size = u32::try_from(limits.max_body_size).unwrap_or(u32::MAX);
    let methods: Methods = crate::jsonrpc::module(api.clone()).into();
    let rpc = JsonRpcService {
        methods: methods.clone(),
        stop: rpc_stop,
        // Each HTTP call holds a permit only while it runs; the connection
        // cap (crate::listen) bounds them.
        http: Builder::with_config(
            ServerConfig::builder()
                .http_only()
                .max_request_body_size(body_size)
                .max_connections(u32::MAX >> 3)
                .build(),
        )
        .to_service_builder(),
        ws: WsServer::new(api.clone(), methods.clone(), limits),
    };
    let body = BodyLimits::new(limits, &services.stopping);
    let protected = Router::new()
        .route("/", post(xmlrpc_default).get(keyword_page))
        .route("/RPC2", post(xmlrpc_default))
        .route("/ns/{namespace}", post(xmlrpc_namespace))
        .route("/ns/{namespace}/", post(xmlrpc_namespace))
        .route("/jsonrpc", any(jsonrpc))
        .route("/metrics", get(crate::ops::metrics))
        .with_state(AppState {
            api,
            rest: Arc::new(AppRest { rpc, body }),
        });
    let protected = match auth {
        Some(auth) => protected.layer(middleware::from_fn_with_state(auth, require_auth)),
        None => protected,
    };
    let open = Router::new()
        .route("/health", get(crate::ops::health))
        .with_state(health)
        .route("/oauth/callback", get(oauth_callback).with_state(services))
        .route("/sms/twilio", post(crate::sms::twilio))
        .route("/sms/webhook", post(crate::sms::generic))
        .with_state(sms);
    // Any extractor reading a body anywhere stops at the same limit.
    open.merge(protected)
        .layer(DefaultBodyLimit::max(limits.max_body_size))
}

/// The keyword page may run its own inline style and script and load
/// nothing else: the browser enforces that it fetches nothing.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// `GET /`: the keyword page for people; `POST /` stays XML-RPC.
async fn keyword_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let server = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:8270");
    let page = Html(crate::page::render(app.api.library(), server));
    ([(CONTENT_SECURITY_POLICY, PAGE_POLICY)], page).into_response()
}

/// This server's own base URL on this machine.
fn own_url(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_owned(),
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{ip}:{}", addr.port())
}

/// Where browsers are sent back after a login on this machine.
fn callback_url(addr: SocketAddr, tls: bool) -> String {
    format!("{}/oauth/callback", own_url(addr, tls))
}

/// `GET /oauth/callback`: hands the redirect to the flow waiting for its
/// `state` and tells the person in the browser what happened. It carries
/// no credentials (a browser redirect), so it is open; it only accepts
/// redirects for flows this server started, or with a shared state store
/// any server of its fleet. The page never repeats the
/// code or an error text from the query.
async fn oauth_callback(State(services): State<Arc<Services>>, request: Request) -> Response {
    let oauth = &services.oauth;
    let base = oauth
        .callback_url()
        .unwrap_or("http://127.0.0.1/oauth/callback");
    let query = request.uri().query().unwrap_or_default();
    let (status, message) = match oauth.deliver_redirect(&format!("{base}?{query}")).await {
        Delivery::Accepted => (
            axum::http::StatusCode::OK,
            "The login is handed to the robot. You can close this window.",
        ),
        Delivery::Unknown => (
            axum::http::StatusCode::BAD_REQUEST,
            "No login started by this server (or its fleet) is waiting for this redirect.",
        ),
        Delivery::Unavailable => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "The server cannot reach its state store to hand the login over. Reload this \
page in a moment.",
        ),
    };
    tracing::info!(accepted = status.is_success(), "oauth callback");
    let page = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>rpa-mfa</title></head>\
<body style=\"font-family:sans-serif;margin:3em\"><h1>rpa-mfa</h1><p>{message}</p></body></html>"
    );
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

/// The authenticated user, when authentication is on.
type MaybeIdentity = Option<Extension<Identity>>;

async fn xmlrpc_default(
    State(app): State<AppState>,
    identity: MaybeIdentity,
    request: Request,
) -> Response {
    let body = match read_body(request.into_body(), &app.rest.body).await {
        Ok(body) => body,
        Err(refused) => return xml_refusal(refused),
    };
    xmlrpc_call(&app.api, DEFAULT_NAMESPACE, identity, &body).await
}

async fn xmlrpc_namespace(
    State(app): State<AppState>,
    Path(namespace): Path<String>,
    identity: MaybeIdentity,
    request: Request,
) -> Response {
    if !valid_namespace_name(&namespace) {
        let fault = xmlrpc::encode_fault(
            -32602,
            "A namespace name is 1 to 200 characters without control characters.",
        );
        return xml(fault);
    }
    let body = match read_body(request.into_body(), &app.rest.body).await {
        Ok(body) => body,
        Err(refused) => return xml_refusal(refused),
    };
    xmlrpc_call(&app.api, &namespace, identity, &body).await
}

/// Why a request body was not read: the HTTP status and a message.
pub(crate) struct Refused(StatusCode, String);

/// A refused body as a plain-text answer with its status.
impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, format!("{}\n", self.1)).into_response()
    }
}

/// Reads a whole request body, refusing one over the limit (413), one
/// that does not arrive in time (408) or is still arriving when the server
/// stops (503), before it is parsed.
pub(crate) async fn read_body<B>(body: B, limits: &BodyLimits) -> Result<Bytes, Refused>
where
    B: hyper::body::Body<Data = Bytes> + Send + Unpin,
    B::Error: Into<BoxError>,
{
    let mut whole = std::pin::pin!(WholeBody::new(body, limits.max_bytes));
    // A robot's request has usually arrived whole with its headers: then
    // no timer is set up for it (the hot path of every call).
    let ready = whole
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    if let std::task::Poll::Ready(read) = ready {
        return body_read(Ok(read), limits);
    }
    body_read(body_arriving(whole, limits).await, limits)
}

/// The rest of a body still arriving, within the read timeout and the
/// server's stop: kept out of `read_body`'s own future, which every call
/// moves around.
fn body_arriving<'a>(
    whole: std::pin::Pin<&'a mut (impl Future<Output = BodyRead> + Send)>,
    limits: &'a BodyLimits,
) -> std::pin::Pin<Box<dyn Future<Output = Result<BodyRead, Elapsed>> + Send + 'a>> {
    Box::pin(async move {
        let read = tokio::time::timeout(limits.read_timeout, whole);
        tokio::select! {
            read = read => read,
            _ = limits.stopping.stopped() => Ok(Err(BodyError::Failed(Box::new(ServerStopping)))),
        }
    })
}

/// A whole body, or why reading it failed.
type BodyRead = Result<Bytes, BodyError>;

/// A body read ended by the end of the grace period.
#[derive(Debug)]
struct ServerStopping;

impl std::fmt::Display for ServerStopping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(rpa_mfa_keywords::stopping::SERVER_STOPPING)
    }
}

impl std::error::Error for ServerStopping {}

impl Refused {
    /// The body did not arrive within the read timeout.
    pub(crate) fn late(limits: &BodyLimits) -> Refused {
        Refused(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "The request body did not arrive within {} s.",
                limits.read_timeout.as_secs_f64()
            ),
        )
    }

    /// The grace period ended while the body was arriving.
    pub(crate) fn stopping() -> Refused {
        Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            rpa_mfa_keywords::stopping::SERVER_STOPPING.to_owned(),
        )
    }
}

/// The body, or why it was refused.
fn body_read(read: Result<BodyRead, Elapsed>, limits: &BodyLimits) -> Result<Bytes, Refused> {
    match read {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(BodyError::Failed(e))) if e.is::<ServerStopping>() => Err(Refused::stopping()),
        Ok(Err(BodyError::TooBig)) => Err(Refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request is too big: the limit is {} bytes.",
                limits.max_bytes
            ),
        )),
        Ok(Err(BodyError::Failed(e))) => Err(Refused(
            StatusCode::BAD_REQUEST,
            format!("The request body could not be read: {e}"),
        )),
        Err(_) => Err(Refused::late(limits)),
    }
}

/// A refused body, as an XML-RPC fault with the HTTP status.
fn xml_refusal(refused: Refused) -> Response {
    let (status, body) = xml_refusal_parts(refused);
    (status, xml(body)).into_response()
}

/// A refused body's status and XML-RPC fault.
pub(crate) fn xml_refusal_parts(Refused(status, message): Refused) -> (StatusCode, String) {
    (status, xmlrpc::encode_fault(TOO_BIG, &message))
}

/// A refused body, as a JSON-RPC error object with the HTTP status.
pub(crate) fn json_refusal(Refused(status, message): Refused) -> Response {
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "error": {"code": TOO_BIG, "message": message},
        "id": null,
    });
    (status, axum::Json(error)).into_response()
}

/// Decodes, calls (which counts and logs the call) and encodes.
async fn xmlrpc_call(
    api: &RemoteApi,
    namespace: &str,
    identity: MaybeIdentity,
    body: &[u8],
) -> Response {
    let identity = identity.as_ref().map(|Extension(i)| i);
    xml(xmlrpc_answer(api, namespace, identity, body).await)
}

/// The XML-RPC answer to a request body: decoded, called (which counts
/// and logs the call) and encoded.
pub(crate) async fn xmlrpc_answer(
    api: &RemoteApi,
    namespace: &str,
    identity: Option<&Identity>,
    body: &[u8],
) -> String {
    match xmlrpc::decode_call(body) {
        Ok(call) => {
            let caller = Caller {
                protocol: Protocol::XmlRpc,
                namespace,
                identity,
            };
            match api.call(caller, &call.method, call.params).await {
                Ok(reply) => xmlrpc::encode_reply(&reply),
                Err(fault) => xmlrpc::encode_fault(fault.code(), &fault.message()),
            }
        }
        Err(e) => {
            tracing::debug!(protocol = "xmlrpc", namespace, "unparsable request: {e}");
            xmlrpc::encode_fault(-32700, &format!("Parse error: {e}"))
        }
    }
}

/// What jsonrpsee answers over HTTP for a request it read as a
/// notification: one whose `id` is not a string, a non-negative integer or
/// null (and a
/// real notification, which this server has no use for).
const NOTIFICATION_ANSWER: &[u8] = b"null";

/// Turns jsonrpsee's bare `null` into a JSON-RPC error, so a client whose
/// `id` is invalid learns why it got no answer. Only bodies of exactly 4
/// bytes are read, so other answers pass untouched.
async fn answer_invalid_ids(response: Response) -> Response {
    use axum::body::HttpBody;
    if response.body().size_hint().exact() != Some(NOTIFICATION_ANSWER.len() as u64) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, NOTIFICATION_ANSWER.len()).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if &bytes[..] != NOTIFICATION_ANSWER {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let error = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32600,
            "message": "Invalid request: 'id' must be a string, a non-negative integer or null \
    (requests without an id are notifications, which this server does not take).",
        },
    });
    let mut response = axum::Json(error).into_response();
    *response.status_mut() = parts.status;
    response
}

fn xml(body: String) -> Response {
    ([(CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

/// `/jsonrpc`: a WebSocket goes to the WebSocket service (capped, closed
/// with its connection); an HTTP call has its body read here, within the
/// one body limit, and is answered directly when it is one call of a
/// remote method (the hot path), by the HTTP service otherwise.
async fn jsonrpc(State(app): State<AppState>, request: Request) -> Response {
    let rpc = &app.rest.rpc;
    if jsonrpsee::server::ws::is_upgrade_request(&request) {
        return rpc.ws.upgrade(request);
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(body, &app.rest.body).await {
        Ok(body) => body,
        Err(refused) => return json_refusal(refused),
    };
    let identity = parts.extensions.get::<Identity>();
    let direct =
        crate::jsonrpc::http::answer(&app.api, identity, &parts.method, &parts.headers, &body);
    if let Some(answer) = direct.await {
        return answer;
    }
    let mut service = rpc
        .http
        .clone()
        .build(rpc.methods.clone(), rpc.stop.clone());
    let request = Request::from_parts(parts, Body::from(body));
    match service.call(request).await {
        Ok(response) => answer_invalid_ids(response.map(Body::new)).await,
        Err(e) => {
            tracing::warn!("JSON-RPC request failed: {e}");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "JSON-RPC request failed",
            )
                .into_response()
        }
    }
}
