//! `rpa-mfa serve`: one axum router on one port, the Robot remote protocol
//! (XML-RPC) at `/`, `/RPC2` and `/ns/{name}`, JSON-RPC (HTTP and
//! WebSocket) at `/jsonrpc`, the keyword page at `GET /`, `/metrics`,
//! `/health` and the OAuth callback; plain HTTP or TLS, behind
//! authentication when configured; started, announced and stopped
//! gracefully.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path as FilePath;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{middleware, Extension, Router};
use jsonrpsee::server::{Methods, Server, StopHandle, TowerServiceBuilder};
use rpa_mfa_keywords::oauth::callback::Delivery;
use rpa_mfa_keywords::otp::record::OtpState;
use rpa_mfa_keywords::otp::{Options, OtpKey};
use rpa_mfa_keywords::state::{
    self, valid_namespace_name, NamespaceLimits, Namespaces, DEFAULT_NAMESPACE,
};
use rpa_mfa_keywords::{vault, Library, Services};
use tower::Service;

use crate::auth::{require_auth, Auth, ClientAddr, Principal};
use crate::config::ServeConfig;
use crate::ops::Health;
use crate::remote::{xmlrpc, Caller, Protocol, RemoteApi};
use crate::stop::StopSwitch;
use crate::tls::TlsListener;

/// Requests larger than this are refused (413) before they are parsed.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

#[derive(Clone)]
struct AppState {
    api: Arc<RemoteApi>,
    rpc: JsonRpcService,
}

/// What it takes to build a jsonrpsee service for one request. Each
/// request gets its own service so each WebSocket gets its own connection
/// id (one shared service would break subscriptions).
#[derive(Clone)]
struct JsonRpcService {
    methods: Methods,
    stop: StopHandle,
    builder: TowerServiceBuilder<tower::layer::util::Identity, tower::layer::util::Identity>,
}

/// The library with every keyword, the server's own included.
pub fn library(services: Arc<Services>, stop: &StopSwitch) -> Arc<Library> {
    let mut keywords = rpa_mfa_keywords::keywords();
    keywords.push(stop.keyword());
    Arc::new(Library::new(keywords, services))
}

/// Runs the server until SIGINT, SIGTERM or an allowed remote stop.
pub async fn serve(args: ServeConfig) -> Result<(), String> {
    let vault = vault::open(args.vault.as_deref()).map_err(|e| e.to_string())?;
    let mut initial = OtpState::default();
    if let Some((name, key)) = &args.secret {
        let value = vault
            .get_value(name, key)
            .await
            .map_err(|e| format!("--secret {name}:{key}: {e}"))?;
        let otp = OtpKey::parse(&value, args.mode, Options::default())
            .map_err(|e| format!("--secret {name}:{key}: {e}"))?;
        initial = initial.with(Arc::new(otp));
    }
    tracing::info!(vault = vault.describe(), "secrets");
    let key_ref = args
        .state_key
        .as_ref()
        .map(|(name, key)| (name.as_str(), key.as_str()));
    let (store, state_key) = state::spec::open(&args.state, key_ref, &*vault).await?;
    tracing::info!(state = store.describe(), "state");
    let mut limits = NamespaceLimits::default();
    limits.exempt.extend(args.auth.pins.values().cloned());
    let namespaces = Namespaces::new(store.clone(), state_key, limits).with_initial(&initial);
    let services = Arc::new(Services::new(vault, namespaces, args.oauth.clone()));
    let auth = Auth::load(&args.auth, args.vault.as_deref())
        .await?
        .map(Arc::new);
    let tls = args
        .tls
        .as_ref()
        .map(crate::tls::server_config)
        .transpose()?;
    crate::metrics::spawn_upkeep();
    let stop = StopSwitch::new(args.allow_stop);
    let api = Arc::new(RemoteApi::new(
        library(services.clone(), &stop),
        stop.clone(),
    ));
    let (rpc_stop, rpc_handle) = jsonrpsee::server::stop_channel();
    let health = Health {
        started: Instant::now(),
        stop: stop.clone(),
        tls: tls.is_some(),
        auth: auth.is_some(),
        state: store,
    };
    let app = router(api, services.clone(), rpc_stop, auth.clone(), health)
        .into_make_service_with_connect_info::<ClientAddr>();

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
    let served = match tls {
        Some(config) => {
            let listener = TlsListener::new(listener, config).map_err(|e| e.to_string())?;
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    };
    if let Some(path) = &args.port_file {
        let _ = std::fs::remove_file(path);
    }
    println!("Robot Framework remote server at {addr} stopped.");
    served.map_err(|e| e.to_string())
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

/// Builds the router; `rpc_stop` closes WebSocket connections on shutdown.
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
) -> Router {
    let rpc = JsonRpcService {
        methods: crate::jsonrpc::module(api.clone()).into(),
        stop: rpc_stop,
        builder: Server::builder().to_service_builder(),
    };
    let protected = Router::new()
        .route("/", post(xmlrpc_default).get(keyword_page))
        .route("/RPC2", post(xmlrpc_default))
        .route("/ns/{namespace}", post(xmlrpc_namespace))
        .route("/ns/{namespace}/", post(xmlrpc_namespace))
        .route("/jsonrpc", any(jsonrpc))
        .route("/metrics", get(crate::ops::metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(AppState { api, rpc });
    let protected = match auth {
        Some(auth) => protected.layer(middleware::from_fn_with_state(auth, require_auth)),
        None => protected,
    };
    let open = Router::new()
        .route("/health", get(crate::ops::health))
        .with_state(health)
        .route("/oauth/callback", get(oauth_callback).with_state(services));
    open.merge(protected)
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

/// Where browsers are sent back after a login on this machine.
fn callback_url(addr: SocketAddr, tls: bool) -> String {
    let ip = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv6() => "[::1]".to_owned(),
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{ip}:{}/oauth/callback", addr.port())
}

/// `GET /oauth/callback`: hands the redirect to the flow waiting for its
/// `state` and tells the person in the browser what happened. It carries
/// no credentials (a browser redirect), so it is open; it only accepts
/// redirects for flows this server started. The page never repeats the
/// code or an error text from the query.
async fn oauth_callback(State(services): State<Arc<Services>>, request: Request) -> Response {
    let oauth = &services.oauth;
    let base = oauth
        .callback_url()
        .unwrap_or("http://127.0.0.1/oauth/callback");
    let query = request.uri().query().unwrap_or_default();
    let (status, message) = match oauth.callbacks.deliver(&format!("{base}?{query}")) {
        Delivery::Accepted => (
            axum::http::StatusCode::OK,
            "The login is handed to the robot. You can close this window.",
        ),
        Delivery::Unknown => (
            axum::http::StatusCode::BAD_REQUEST,
            "No login started by this server is waiting for this redirect.",
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
type MaybePrincipal = Option<Extension<Principal>>;

async fn xmlrpc_default(
    State(app): State<AppState>,
    principal: MaybePrincipal,
    body: Bytes,
) -> Response {
    xmlrpc_call(&app.api, DEFAULT_NAMESPACE, principal, &body).await
}

async fn xmlrpc_namespace(
    State(app): State<AppState>,
    Path(namespace): Path<String>,
    principal: MaybePrincipal,
    body: Bytes,
) -> Response {
    if !valid_namespace_name(&namespace) {
        let fault = xmlrpc::encode_fault(
            -32602,
            "A namespace name is 1 to 200 characters without control characters.",
        );
        return xml(fault);
    }
    xmlrpc_call(&app.api, &namespace, principal, &body).await
}

/// Decodes, calls (which counts and logs the call) and encodes.
async fn xmlrpc_call(
    api: &RemoteApi,
    namespace: &str,
    principal: MaybePrincipal,
    body: &[u8],
) -> Response {
    let answer = match xmlrpc::decode_call(body) {
        Ok(call) => {
            let caller = Caller {
                protocol: Protocol::XmlRpc,
                namespace,
                principal: principal.as_ref().map(|Extension(p)| p),
            };
            match api.call(caller, &call.method, call.params).await {
                Ok(value) => xmlrpc::encode_response(&value),
                Err(fault) => xmlrpc::encode_fault(fault.code(), &fault.message()),
            }
        }
        Err(e) => {
            tracing::debug!(protocol = "xmlrpc", namespace, "unparsable request: {e}");
            xmlrpc::encode_fault(-32700, &format!("Parse error: {e}"))
        }
    };
    xml(answer)
}

fn xml(body: String) -> Response {
    ([(CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

async fn jsonrpc(State(app): State<AppState>, request: Request) -> Response {
    let rpc = app.rpc;
    let mut service = rpc.builder.build(rpc.methods, rpc.stop);
    match service.call(request).await {
        Ok(response) => response.map(Body::new),
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
