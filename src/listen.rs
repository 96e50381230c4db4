//! The accept loop and each connection's life, served with hyper's HTTP/1
//! connection directly (axum::serve has no header, idle or connection
//! limits): a cap on open connections, a deadline for a request's headers,
//! an idle deadline between requests and for WebSockets without a
//! subscription, and a shutdown that lets calls in flight finish.
//!
//! A connection is *busy* while a request is being answered or a
//! subscription is open (see [`Activity::busy`]); only a connection that
//! is not busy is ever closed by a deadline or to make room.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use futures_util::task::AtomicWaker;

use axum::http::HeaderValue;
use axum::response::IntoResponse;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio::time::Sleep;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::answer_body::AnyBody;
use crate::auth::ClientAddr;
use crate::config::Limits;
use crate::direct::{refusal, Direct, Handled};
use crate::http1;
use crate::jsonrpc::ws::Session;
use crate::server::{BodyLimits, Refused};

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// After the grace period the waits are told to end; their FAIL answers
/// get this long to reach their clients before the process exits.
const LAST_WORDS: Duration = Duration::from_millis(500);

/// How long the accept loop pauses when the process is out of file
/// descriptors (after closing an idle connection to free one).
const FD_PAUSE: Duration = Duration::from_millis(20);

/// What a connection's requests see of it (an extension on each request):
/// the busy marker, and where a WebSocket handshake leaves its socket.
#[derive(Clone)]
pub struct Activity {
    conn: Arc<Connection>,
}

impl Activity {
    /// Marks the connection busy until the guard is dropped: held for each
    /// request, and by a WebSocket while it has calls or subscriptions.
    pub fn busy(&self) -> Busy {
        self.conn.busy()
    }

    /// Leaves an accepted WebSocket to this connection's task, which
    /// serves it once the 101 answer is out.
    pub fn hand_over(&self, session: Box<Session>) {
        *self
            .conn
            .websocket
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(session);
    }
}

/// One connection's state, shared by its task, its reads and its requests.
struct Connection {
    id: u64,
    epoch: Instant,
    /// Requests being answered and subscriptions open.
    busy: AtomicUsize,
    /// Milliseconds since `epoch`: when it last stopped being busy;
    /// [`UNTIMED`] until the task's [`Connection::settle`].
    idle_since: AtomicU64,
    /// Milliseconds since `epoch` + 1 when the first byte of a request
    /// head arrived, 0 when no request is being read; [`UNTIMED`] until
    /// the task's [`Connection::settle`].
    head_started: AtomicU64,
    /// A WebSocket now: reads are frames, not request heads.
    upgraded: AtomicBool,
    /// The WebSocket the handshake accepted, until this task serves it.
    websocket: Mutex<Option<Box<Session>>>,
    /// Wakes the connection's task to look at `evicted` and the server's
    /// `closing` (flags it checks on every wake: cheaper than a `Notify`
    /// polled on every wake, which takes a lock).
    signal: AtomicWaker,
    /// Told to close (to make room, or at the end of the grace period):
    /// not to be picked again.
    evicted: AtomicBool,
    /// The connection's task, woken through the connection's own waker
    /// (see [`Connection::wake_by_ref`]).
    task: AtomicWaker,
    /// The task is polling the connection now.
    polling: AtomicBool,
    /// Woken while `polling`: poll again.
    again: AtomicBool,
}

/// The waker hyper and the WebSocket are polled with. A wake that comes
/// while the task is polling them only asks [`attend`] to poll again at
/// once: hyper's body channel wakes the dispatcher's waker whenever a
/// body is taken (every call), and through tokio that is a second
/// scheduling of the task. A wake at any other time wakes the task.
impl std::task::Wake for Connection {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst here and in `attend`: either the poll sees `again`, or
        // this sees `polling` false and wakes the task (or both).
        self.again.store(true, Ordering::SeqCst);
        if !self.polling.load(Ordering::SeqCst) {
            self.task.wake();
        }
    }
}

/// How many times one poll of the task polls its connection again for
/// wakes that came during the poll, before it asks tokio to (the wakes
/// of an exhausted coop budget or of hyper yielding come back through
/// tokio then).
const POLLS_PER_WAKE: usize = 3;

/// A time noted by a read or a request's end, in the connection's task,
/// and read from the clock once when that poll of the task ends
/// ([`Connection::settle`]): a request that arrives whole and is answered
/// in one poll then reads the clock once, not twice.
const UNTIMED: u64 = u64::MAX;

/// Marks a connection busy while alive.
pub struct Busy {
    conn: Arc<Connection>,
    /// Dropped in the connection's task, which settles the time.
    in_task: bool,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let conn = &self.conn;
        let now = if self.in_task { UNTIMED } else { conn.now_ms() };
        conn.idle_since.store(now, Ordering::Relaxed);
        conn.busy.fetch_sub(1, Ordering::Release);
    }
}

impl Connection {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Acquire);
        self.head_started.store(0, Ordering::Relaxed);
        Busy {
            conn: self.clone(),
            in_task: false,
        }
    }

    /// Busy for one request, answered in the connection's task: when it
    /// ends, the task reads the clock (see [`UNTIMED`]).
    fn busy_in_task(self: &Arc<Self>) -> Busy {
        let mut busy = self.busy();
        busy.in_task = true;
        busy
    }

    /// Reads the clock for the times noted [`UNTIMED`] during the task's
    /// last poll: called by the task after every poll of its connection,
    /// so no deadline is ever computed from an untimed mark.
    fn settle(&self) {
        let head = self.head_started.load(Ordering::Relaxed) == UNTIMED;
        let idle = self.idle_since.load(Ordering::Relaxed) == UNTIMED;
        if !(head || idle) {
            return;
        }
        let now = self.now_ms();
        // compare_exchange: a request may have begun or ended meanwhile.
        if head {
            let _ = self.head_started.compare_exchange(
                UNTIMED,
                now + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        if idle {
            let _ = self.idle_since.compare_exchange(
                UNTIMED,
                now,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) > 0
    }

    /// When this connection is to be closed unless something happens; a
    /// busy connection is looked at again an idle period later.
    fn deadline(&self, limits: &Limits) -> Instant {
        if self.is_busy() {
            return Instant::now() + limits.idle_timeout;
        }
        // Not reached after `settle`; an untimed mark counts as now.
        let at = |ms: u64, after: Duration| match ms {
            UNTIMED => Instant::now() + after,
            ms => self.epoch + Duration::from_millis(ms) + after,
        };
        match self.head_started.load(Ordering::Relaxed) {
            0 => at(self.idle_since.load(Ordering::Relaxed), limits.idle_timeout),
            UNTIMED => at(UNTIMED, limits.header_read_timeout),
            started => at(started - 1, limits.header_read_timeout),
        }
    }

    /// Tells the connection's task to close it.
    fn close(&self) {
        self.evicted.store(true, Ordering::Release);
        self.signal.wake();
    }

    /// Whether the task has been told to close, or to stop (`closing`,
    /// unless it already has: `stopping`). The caller registered the
    /// task's waker with `signal` first, so no telling is missed.
    fn told(&self, closing: &AtomicBool, stopping: bool) -> bool {
        self.evicted.load(Ordering::Acquire) || (!stopping && closing.load(Ordering::Acquire))
    }

    /// Resolves once the task is told to close or the server is closing.
    async fn told_to_close(&self, closing: &AtomicBool) {
        std::future::poll_fn(|cx| {
            self.signal.register(cx.waker());
            match self.told(closing, false) {
                true => Poll::Ready(()),
                false => Poll::Pending,
            }
        })
        .await
    }

    /// Notes the first byte of a request head (not for WebSockets); the
    /// time is read when the task's poll ends, unless the request is
    /// being answered by then (see [`UNTIMED`]).
    fn on_read(&self) {
        if self.head_started.load(Ordering::Relaxed) == 0
            && !self.is_busy()
            && !self.upgraded.load(Ordering::Relaxed)
        {
            self.head_started.store(UNTIMED, Ordering::Relaxed);
        }
    }
}

/// What ended a wait of a connection's task ([`attend`]).
enum Woken<T> {
    /// The connection (or WebSocket) ended.
    Done(T),
    /// Time to look at the deadlines.
    Look,
    /// Told to close or to stop.
    Told,
}

/// Polls `work` until it ends, `look_at` passes, or `told` turns true
/// (the connection's `signal` wakes the task for it), settling the
/// connection's untimed marks after every poll. The timer is polled
/// (which registers the task) only when the task's waker changes; on the
/// other wakes, those of every request, its state is read instead: this
/// wait costs a few loads per wake where `select!` over a sleep and a
/// `Notify` cost several hundred instructions. `work` is polled with the
/// connection's own waker (see its `Wake`), the timer and the signal with
/// the task's.
async fn attend<F: Future + Unpin>(
    work: &mut F,
    conn: &Arc<Connection>,
    look_at: Instant,
    told: impl Fn() -> bool,
) -> Woken<F::Output> {
    let mut sleep: Pin<&mut Sleep> = std::pin::pin!(tokio::time::sleep_until(look_at));
    let mut registered: Option<Waker> = None;
    let conn_waker = Waker::from(conn.clone());
    std::future::poll_fn(|cx| {
        conn.task.register(cx.waker());
        let mut polls = 0;
        let polled = loop {
            conn.again.store(false, Ordering::SeqCst);
            conn.polling.store(true, Ordering::SeqCst);
            let polled = Pin::new(&mut *work).poll(&mut Context::from_waker(&conn_waker));
            conn.polling.store(false, Ordering::SeqCst);
            polls += 1;
            if polled.is_ready() || !conn.again.swap(false, Ordering::SeqCst) {
                break polled;
            }
            if polls == POLLS_PER_WAKE {
                cx.waker().wake_by_ref();
                break polled;
            }
        };
        conn.settle();
        if let Poll::Ready(done) = polled {
            return Poll::Ready(Woken::Done(done));
        }
        if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            if sleep.is_elapsed() {
                return Poll::Ready(Woken::Look);
            }
        } else {
            registered = Some(cx.waker().clone());
            if sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Woken::Look);
            }
        }
        conn.signal.register(cx.waker());
        match told() {
            true => Poll::Ready(Woken::Told),
            false => Poll::Pending,
        }
    })
    .await
}

/// The connections open now, to find one to close when at the cap.
struct Registry {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

impl Registry {
    fn open(self: &Arc<Self>) -> Registered {
        let conn = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            head_started: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
            websocket: Mutex::new(None),
            signal: AtomicWaker::new(),
            evicted: AtomicBool::new(false),
            task: AtomicWaker::new(),
            polling: AtomicBool::new(false),
            again: AtomicBool::new(false),
        });
        self.lock().insert(conn.id, conn.clone());
        Registered {
            conn,
            registry: self.clone(),
        }
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Tells the connection idle the longest to close; false when every
    /// connection is busy.
    fn evict_one(&self) -> bool {
        let open = self.lock();
        let victim = open
            .values()
            .filter(|c| !c.is_busy() && !c.evicted.load(Ordering::Relaxed))
            .min_by_key(|c| c.idle_since.load(Ordering::Relaxed));
        match victim {
            Some(conn) => {
                conn.close();
                true
            }
            None => false,
        }
    }

    /// Tells every connection that is not busy to close: at the end of the
    /// grace period, for clients holding half a request.
    fn evict_idle(&self) {
        for conn in self.lock().values().filter(|c| !c.is_busy()) {
            conn.close();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connection in the registry; leaves it when dropped.
struct Registered {
    conn: Arc<Connection>,
    registry: Arc<Registry>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.conn.id);
    }
}

/// The stream a connection reads and writes, noting when a request head
/// begins so the header deadline can run.
struct Watched<IO> {
    io: IO,
    conn: Arc<Connection>,
    /// Read before the stream: what the call loop read and hands to hyper.
    unread: Bytes,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if !self.unread.is_empty() {
            let n = self.unread.len().min(buf.remaining());
            buf.put_slice(&self.unread.split_to(n));
            if self.unread.is_empty() {
                // Lets the call loop's buffer go.
                self.unread = Bytes::new();
            }
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.on_read();
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The TCP stream under a WebSocket served on plain TCP, and what hyper
/// read past the handshake; the upgraded stream back when it is not one
/// (TLS), or not served by [`serve`]. The stream's [`Watched`] wrapper is
/// left behind: it only notes request heads, which a WebSocket has none of.
pub fn plain_tcp(
    upgraded: hyper::upgrade::Upgraded,
) -> Result<(TcpStream, Bytes), hyper::upgrade::Upgraded> {
    upgraded
        .downcast::<TokioIo<Watched<TcpStream>>>()
        .map(|parts| {
            let watched = parts.io.into_inner();
            // hyper's unread bytes came before those it never read.
            let read = match watched.unread.is_empty() {
                true => parts.read_buf,
                false => [parts.read_buf, watched.unread].concat().into(),
            };
            (watched.io, read)
        })
}

/// What every connection task shares.
struct Shared {
    app: Router,
    /// The calls answered before the router.
    direct: Direct,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    registry: Arc<Registry>,
    /// Turns true when the server stops accepting; each connection is
    /// signalled then.
    closing: AtomicBool,
}

/// Serves `listener` until `stopped` resolves, then stops accepting, lets
/// calls in flight finish for the grace period, calls `end_waits` and
/// returns at most [`LAST_WORDS`] later, whatever the clients do.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    direct: Direct,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    stopped: impl std::future::Future<Output = ()>,
    end_waits: impl FnOnce(),
) {
    let shared = Arc::new(Shared {
        app,
        direct,
        limits,
        tls: tls.map(TlsAcceptor::from),
        registry: Arc::new(Registry {
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }),
        closing: AtomicBool::new(false),
    });
    let mut tasks = JoinSet::new();
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = tasks.join_next() => continue,
            _ = &mut stopped => break,
        };
        match accepted {
            Ok((stream, client)) => {
                if shared.registry.len() >= shared.limits.max_connections
                    && !shared.registry.evict_one()
                {
                    tracing::warn!(client = %client.ip(), max = shared.limits.max_connections, "connection refused: every connection is busy");
                    drop(stream);
                    continue;
                }
                let registered = shared.registry.open();
                tasks.spawn(connection(shared.clone(), registered, stream, client));
            }
            Err(e) => {
                // Out of file descriptors (or a client gone before accept):
                // free one by closing the connection idle the longest.
                tracing::warn!("cannot accept a connection: {e}");
                shared.registry.evict_one();
                tokio::time::sleep(FD_PAUSE).await;
            }
        }
    }
    drop(listener);
    shared.closing.store(true, Ordering::Release);
    for conn in shared.registry.lock().values() {
        conn.signal.wake();
    }
    let finished = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(shared.limits.shutdown_grace, finished)
        .await
        .is_err()
    {
        tracing::info!(
            open = tasks.len(),
            "grace period over: ending waits, closing connections"
        );
        end_waits();
        shared.registry.evict_idle();
        let finished = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(LAST_WORDS, finished).await.is_err() {
            for conn in shared.registry.lock().values() {
                tracing::debug!(
                    busy = conn.busy.load(Ordering::Relaxed),
                    upgraded = conn.upgraded.load(Ordering::Relaxed),
                    "connection still open at exit"
                );
            }
            tasks.abort_all();
        }
    }
}

/// One connection, from TLS handshake to close.
async fn connection(
    shared: Arc<Shared>,
    registered: Registered,
    stream: TcpStream,
    client: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    let conn = registered.conn.clone();
    // Boxed, so that what the task keeps for a WebSocket's life is sized
    // for the WebSocket alone, not for hyper's connection or a TLS stream.
    let websocket = match &shared.tls {
        None => Box::pin(serve_http(&shared, conn.clone(), stream, client)).await,
        Some(acceptor) => {
            Box::pin(serve_tls(&shared, acceptor, conn.clone(), stream, client)).await
        }
    };
    if let Some(session) = websocket {
        serve_websocket(&shared, &conn, *session, client).await;
    }
    drop(registered);
}

/// The TLS handshake, then HTTP over it.
async fn serve_tls(
    shared: &Arc<Shared>,
    acceptor: &TlsAcceptor,
    conn: Arc<Connection>,
    stream: TcpStream,
    client: SocketAddr,
) -> Option<Box<Session>> {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let tls = tokio::select! {
        tls = handshake => tls,
        _ = conn.told_to_close(&shared.closing) => return None,
    };
    match tls {
        Ok(Ok(tls)) => return serve_http(shared, conn, tls, client).await,
        Ok(Err(e)) => tracing::debug!(client = %client.ip(), "TLS handshake failed: {e}"),
        Err(_) => tracing::debug!(client = %client.ip(), "TLS handshake timed out"),
    }
    None
}

/// When a connection's task looks at its deadlines next: at the deadline,
/// or a quarter of the header timeout from now, whichever is sooner. Reads
/// and requests never wake the task (that would cost on every call), so a
/// request head begun since is noticed at most that much late.
fn next_look(conn: &Connection, limits: &Limits) -> Instant {
    conn.deadline(limits)
        .min(Instant::now() + limits.header_read_timeout / 4)
}

/// A request the direct path does not answer, through the router.
async fn routed(
    app: &Router,
    mut request: hyper::Request<Body>,
    client: SocketAddr,
    activity: Activity,
) -> axum::response::Response {
    request
        .extensions_mut()
        .insert(ConnectInfo(ClientAddr(client)));
    // Only JSON-RPC looks at it (WebSockets, subscriptions).
    if request.uri().path() == "/jsonrpc" {
        request.extensions_mut().insert(activity);
    }
    match app.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// HTTP/1.1 on one connection, until the client leaves, a deadline
/// passes, it is evicted or the server stops; or until it becomes a
/// WebSocket, which it returns. The calls every robot makes are read and
/// answered by [`serve_calls`]; at the first request it leaves alone, the
/// connection goes to hyper for the rest of its life.
async fn serve_http<IO>(
    shared: &Arc<Shared>,
    conn: Arc<Connection>,
    io: IO,
    client: SocketAddr,
) -> Option<Box<Session>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut io = Watched {
        io,
        conn: conn.clone(),
        unread: Bytes::new(),
    };
    // Boxed: its future is as large as a keyword call's.
    let mut calls = Box::pin(serve_calls(shared, &conn, &mut io, client));
    // Told to stop: a call being answered ends the loop once it is out.
    let unread = match watch(shared, &conn, client, &mut calls, |_| !conn.is_busy()).await? {
        Ok(Served::HandOver(unread)) => unread,
        Ok(Served::Ended) => return None,
        Err(e) => {
            tracing::debug!(client = %client.ip(), "connection ended: {e}");
            return None;
        }
    };
    drop(calls);
    io.unread = unread;
    // Borrowed, not cloned per request: `shared` is one object every
    // worker thread's requests share, and an `Arc` clone and drop per
    // request were two writes to its count from both threads.
    let shared_ref: &Shared = shared;
    let conn_ref: &Arc<Connection> = &conn;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let (shared, conn) = (shared_ref, conn_ref);
        async move {
            // Busy from the first poll: hyper takes a pipelined request
            // before it has written the previous answer, and polls it only
            // once that answer is out, which a client that stopped reading
            // never lets happen.
            let busy = conn.busy_in_task();
            let request = match Direct::route(&request) {
                Some(route) => match shared.direct.answer(route, request, client).await {
                    Handled::Answered(response) => return Ok(response),
                    Handled::ForRouter(request) => request,
                },
                None => request.map(Body::new),
            };
            // Made here, not per request: the direct path needs none.
            let activity = Activity { conn: conn.clone() };
            let response = routed(&shared.app, request, client, activity).await;
            if response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
                conn.upgraded.store(true, Ordering::Relaxed);
            }
            drop(busy);
            Ok::<_, Infallible>(response.map(AnyBody::Router))
        }
    });
    let http = hyper::server::conn::http1::Builder::new()
        // Our own deadlines below: hyper's would also close idle
        // keep-alive connections after the header timeout.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    // Boxed so it can be dropped before the WebSocket phase: it holds a
    // stop handle the WebSocket's end is awaited on.
    let mut http = Box::pin(http);
    let graceful = watch(shared, &conn, client, &mut http, |http| {
        http.as_mut().graceful_shutdown();
        false
    });
    if let Err(e) = graceful.await? {
        tracing::debug!(client = %client.ip(), "connection ended: {e}");
    }
    drop(http);
    let session = conn
        .websocket
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    session.filter(|_| conn.upgraded.load(Ordering::Relaxed))
}

/// Polls `work`, a connection's HTTP phase, until it ends (`Some`) or the
/// connection is to be closed (`None`): a deadline passed, or it was
/// evicted while not busy. When the server starts stopping, `stop` is
/// called once; it closes the connection at once by returning true.
async fn watch<F: Future + Unpin>(
    shared: &Shared,
    conn: &Arc<Connection>,
    client: SocketAddr,
    work: &mut F,
    mut stop: impl FnMut(&mut F) -> bool,
) -> Option<F::Output> {
    let mut stopping = false;
    loop {
        let look_at = next_look(conn, &shared.limits);
        let told = || conn.told(&shared.closing, stopping);
        match attend(work, conn, look_at, told).await {
            Woken::Done(done) => return Some(done),
            Woken::Look => {
                if conn.deadline(&shared.limits) <= Instant::now() {
                    tracing::debug!(client = %client.ip(), "connection closed: header or idle deadline");
                    return None;
                }
            }
            Woken::Told => {
                if shared.closing.load(Ordering::Acquire) && !stopping {
                    stopping = true;
                    if stop(work) {
                        return None;
                    }
                }
                if conn.evicted.load(Ordering::Acquire) {
                    // A request may have begun since it was picked: it is
                    // answered, and the connection may be picked again.
                    if conn.is_busy() && !stopping {
                        conn.evicted.store(false, Ordering::Relaxed);
                        continue;
                    }
                    tracing::debug!(client = %client.ip(), "connection closed to make room");
                    return None;
                }
            }
        }
    }
}

/// How [`serve_calls`] ended.
enum Served {
    /// At a request it leaves to hyper: the bytes read and not answered.
    HandOver(Bytes),
    /// The client left, or a call was answered while the server stops.
    Ended,
}

/// What the call loop's read buffer starts with, and grows by: a robot's
/// call is a few hundred bytes.
const CALL_BUFFER: usize = 4 * 1024;

/// Reads and answers the calls every robot makes ([`crate::http1`]) in
/// the connection's task, with no request or header objects: one read
/// and one write a call when it arrives whole. Returns at the first
/// request it leaves to hyper, with what it read of it.
async fn serve_calls<IO>(
    shared: &Shared,
    conn: &Arc<Connection>,
    io: &mut Watched<IO>,
    client: SocketAddr,
) -> std::io::Result<Served>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let direct = &shared.direct;
    let mut read = Vec::with_capacity(CALL_BUFFER);
    // Sized by the first answer: a WebSocket's handshake needs none.
    let mut out = Vec::new();
    loop {
        let call = match http1::parse(&read, direct.body.max_bytes) {
            http1::Parsed::Call(call) => call,
            http1::Parsed::Other => return Ok(Served::HandOver(read.into())),
            http1::Parsed::Partial => match read_into(io, &mut read).await? {
                true => continue,
                false => return Ok(Served::Ended),
            },
            http1::Parsed::Unfinished { route, len } => {
                // Busy from the head on, as with hyper: the body's own
                // timeout runs, not the head's.
                let busy = conn.busy_in_task();
                let Err(refused) = read_rest(io, &mut read, len, &direct.body).await? else {
                    continue;
                };
                drop(busy);
                // As hyper does, the connection ends: the rest of the
                // body is not read.
                write_response(&mut out, refusal(route, refused), true).await;
                send(io, &out, true).await?;
                return Ok(Served::Ended);
            }
        };
        let busy = conn.busy_in_task();
        let identity = match &direct.auth {
            None => None,
            Some(auth) => {
                let header = call.authorization.clone().map(|range| &read[range]);
                let Ok(header) = header.map(HeaderValue::from_bytes).transpose() else {
                    return Ok(Served::HandOver(read.into()));
                };
                match auth.authenticate_value(client.ip(), header.as_ref()) {
                    Ok(identity) => Some(identity),
                    Err(refused) => {
                        drop(busy);
                        let end = shared.closing.load(Ordering::Acquire);
                        write_response(&mut out, refused.into_response(), end).await;
                        send(io, &out, end).await?;
                        if end {
                            return Ok(Served::Ended);
                        }
                        read.drain(..call.len);
                        continue;
                    }
                }
            }
        };
        let body = &read[call.body.clone()];
        let Some(answer) = direct
            .answer_read(call.route, identity.as_ref(), body)
            .await
        else {
            return Ok(Served::HandOver(read.into()));
        };
        // Not busy while the answer is written: a client that does not
        // read it is closed at the idle deadline, as with hyper.
        drop(busy);
        let end = shared.closing.load(Ordering::Acquire);
        out.clear();
        let content_type = [("content-type", answer.content_type.as_bytes())];
        http1::write_head(
            &mut out,
            answer.status,
            content_type,
            answer.body.len(),
            end,
        );
        out.extend_from_slice(&answer.body);
        send(io, &out, end).await?;
        if end {
            return Ok(Served::Ended);
        }
        read.drain(..call.len);
    }
}

/// Writes an answer out (flushed: a TLS stream may hold it otherwise);
/// one that ends the connection is followed by a shutdown (a TLS
/// close_notify), as hyper ends one.
async fn send<IO: AsyncWrite + Unpin>(io: &mut IO, out: &[u8], end: bool) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    io.write_all(out).await?;
    io.flush().await?;
    if end {
        io.shutdown().await?;
    }
    Ok(())
}

/// Reads into `read`'s free room, made when none is left: false when the
/// client left.
async fn read_into<IO: AsyncRead + Unpin>(
    io: &mut Watched<IO>,
    read: &mut Vec<u8>,
) -> std::io::Result<bool> {
    use tokio::io::AsyncReadExt;
    if read.len() == read.capacity() {
        read.reserve(CALL_BUFFER);
    }
    Ok(io.read_buf(read).await? > 0)
}

/// Reads until `read` holds `len` bytes, within the body timeout and the
/// server's stop, as hyper's `read_body` does; the timer is set only when
/// the rest has not arrived already.
async fn read_rest<IO: AsyncRead + Unpin>(
    io: &mut Watched<IO>,
    read: &mut Vec<u8>,
    len: usize,
    limits: &BodyLimits,
) -> std::io::Result<Result<(), Refused>> {
    use tokio::io::AsyncReadExt;
    read.reserve(len.saturating_sub(read.len()));
    let mut rest = std::pin::pin!(async {
        while read.len() < len {
            if io.read_buf(&mut *read).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    });
    let ready = rest.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    if let Poll::Ready(done) = ready {
        return done.map(Ok);
    }
    tokio::select! {
        done = tokio::time::timeout(limits.read_timeout, rest) => match done {
            Ok(done) => done.map(Ok),
            Err(_) => Ok(Err(Refused::late(limits))),
        },
        _ = limits.stopping.stopped() => Ok(Err(Refused::stopping())),
    }
}

/// A response from outside the call loop (a refusal), whole into `out`.
async fn write_response<B>(out: &mut Vec<u8>, response: hyper::Response<B>, end: bool)
where
    B: hyper::body::Body,
{
    use http_body_util::BodyExt;
    let (parts, body) = response.into_parts();
    // A refusal's body is a few bytes, in memory.
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != axum::http::header::CONTENT_LENGTH)
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    out.clear();
    http1::write_head(out, parts.status, headers, body.len(), end);
    out.extend_from_slice(&body);
}

/// A WebSocket, served in the connection's task (crate::jsonrpc::ws), told
/// to close when idle, evicted or stopping.
async fn serve_websocket(
    shared: &Shared,
    conn: &Arc<Connection>,
    session: Session,
    client: SocketAddr,
) {
    let close = Notify::new();
    // Boxed: moved into place, it would be stored twice in this task.
    let mut websocket = Box::pin(session.serve(&close));
    loop {
        // Its deadline only, not `next_look`'s quarter of the header
        // timeout: a WebSocket has no request head to time (`on_read`
        // marks none once upgraded), and its deadline only moves later
        // (a subscription or call ending), so a look at the old one is
        // never late. At 10,000 subscribers the quarter-timeout looks were
        // 4,000 wakes a second (`bench/subscribers.sh`).
        let look_at = conn.deadline(&shared.limits);
        let told = || conn.told(&shared.closing, false);
        match attend(&mut websocket, conn, look_at, told).await {
            Woken::Done(()) => return,
            Woken::Look => {
                if conn.deadline(&shared.limits) <= Instant::now() {
                    tracing::debug!(client = %client.ip(), "WebSocket closed: idle without a subscription");
                    break;
                }
            }
            Woken::Told => break,
        }
    }
    close.notify_one();
    // A client that does not read its close frame is not waited for long.
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, websocket).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    /// Counts the wakes of a task.
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// What a [`Work`] shows the test.
    #[derive(Default)]
    struct Seen {
        polls: AtomicUsize,
        kept: Mutex<Option<Waker>>,
    }

    /// Pending twice, then ready: wakes itself during its first poll, as
    /// hyper's body channel does when a body is taken, and keeps the
    /// waker of its second poll, as an I/O registration does.
    struct Work(Arc<Seen>);

    impl Future for Work {
        type Output = usize;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            let polls = self.0.polls.fetch_add(1, Ordering::SeqCst) + 1;
            match polls {
                1 => cx.waker().wake_by_ref(),
                2 => *self.0.kept.lock().unwrap() = Some(cx.waker().clone()),
                polls => return Poll::Ready(polls),
            }
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn a_wake_during_the_poll_polls_again_a_wake_after_it_wakes_the_task() {
        let registry = Arc::new(Registry {
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let registered = registry.open();
        let task = Arc::new(Task(AtomicUsize::new(0)));
        let task_waker = Waker::from(task.clone());
        let mut cx = Context::from_waker(&task_waker);
        let seen = Arc::new(Seen::default());
        let mut work = Work(seen.clone());
        let look_at = Instant::now() + Duration::from_secs(3600);
        let conn = &registered.conn;
        let mut attending = std::pin::pin!(attend(&mut work, conn, look_at, || false));

        assert!(attending.as_mut().poll(&mut cx).is_pending());
        // The wake during the poll was a second poll at once, not a wake
        // of the task.
        assert_eq!(seen.polls.load(Ordering::SeqCst), 2);
        assert_eq!(task.0.load(Ordering::SeqCst), 0);

        // A wake after the poll wakes the task, which then polls the work.
        let kept = seen.kept.lock().unwrap().take().unwrap();
        kept.wake();
        assert_eq!(task.0.load(Ordering::SeqCst), 1);
        match attending.as_mut().poll(&mut cx) {
            Poll::Ready(Woken::Done(polls)) => assert_eq!(polls, 3),
            _ => panic!("the work is done"),
        }
    }
}
