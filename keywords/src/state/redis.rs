//! `redis://HOST:PORT/DB`, `rediss://` (TLS) and `redis+cluster://` /
//! `rediss+cluster://` (Redis Cluster) — state shared by a fleet of servers.
//!
//! Every operation is one command or one Lua script, so it is atomic on the
//! Redis side however many servers call at once: counters are `INCR`,
//! compare-and-swap, leases and namespace expiry are scripts. Keys are
//! `PREFIX:SPACE:KEY`; namespace records and the namespace index carry the
//! hash tag `{ns}` so that the namespace script touches one cluster slot,
//! while counters, marks and leases spread over the cluster's masters.
//! Writes publish `SPACE:KEY` on `PREFIX:changes`, so a server follows a
//! secret set through another. Values are stored as the layer above hands
//! them over: it seals every secret before it gets here.
//!
//! Failures are bounded: a connection attempt gives up after
//! [`CONNECT_TIMEOUT`], an operation after [`OPERATION_TIMEOUT`], both
//! under the 5 s a keyword may wait for its `StateError`. The connection
//! manager (the cluster connection for a cluster) reconnects on its own,
//! so calls succeed again as soon as Redis is back.

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, Script, ScriptInvocation,
    TlsCertificates, Value,
};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::store::{
    Admit, Change, CounterSet, Expect, Space, StateError, StateResult, StateStore, Versioned,
};

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one operation may take, reconnecting included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(4500);
/// How long Redis may take to answer one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause between attempts of the change feed to subscribe again.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(1);
/// The key prefix when none is configured.
pub const DEFAULT_PREFIX: &str = "rpa-mfa";

/// What a `redis://` store needs besides its URL.
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    /// Key prefix (and channel prefix); [`DEFAULT_PREFIX`] when None.
    pub prefix: Option<String>,
    /// PEM CA certificates to trust for `rediss://` instead of the system
    /// roots.
    pub ca_pem: Option<Vec<u8>>,
}

/// A checked `--state redis://...` with its settings; Debug shows it
/// without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSpec {
    url: String,
    shown: String,
    prefix: Option<String>,
    ca: Option<PathBuf>,
}

impl fmt::Debug for RedisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSpec")
            .field("url", &self.shown)
            .field("prefix", &self.prefix)
            .field("ca", &self.ca)
            .finish()
    }
}

impl RedisSpec {
    pub fn parse(spec: &str) -> StateResult<RedisSpec> {
        Ok(RedisSpec {
            shown: parse_target(spec)?.shown,
            url: spec.to_owned(),
            prefix: None,
            ca: None,
        })
    }

    /// `--state-redis-prefix` and `--state-redis-ca`.
    pub fn with_settings(self, prefix: Option<String>, ca: Option<PathBuf>) -> RedisSpec {
        RedisSpec { prefix, ca, ..self }
    }

    /// The store, reading the CA file now so that a bad one stops the
    /// server's start.
    pub fn open(&self) -> StateResult<RedisStore> {
        let ca_pem = match &self.ca {
            Some(path) => {
                let fail = |why: String| {
                    StateError::new(format!("--state-redis-ca {}: {why}", path.display()))
                };
                let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
                if !pem
                    .windows(CERTIFICATE_PEM.len())
                    .any(|w| w == CERTIFICATE_PEM)
                {
                    return Err(fail("no PEM certificate in it".to_owned()));
                }
                Some(pem)
            }
            None => None,
        };
        let options = RedisOptions {
            prefix: self.prefix.clone(),
            ca_pem,
        };
        RedisStore::new(&self.url, options)
    }
}

const CERTIFICATE_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// A parsed spec: the nodes to connect to and how to show them.
struct Target {
    /// `redis://...` URLs, one per node given (one unless a cluster).
    urls: Vec<String>,
    cluster: bool,
    tls: bool,
    /// `HOST:PORT[,HOST:PORT...]`, for messages (never credentials).
    addresses: String,
    /// The spec without credentials.
    shown: String,
}

/// Whether `spec` names a Redis store (any of the four schemes).
pub fn is_redis_spec(spec: &str) -> bool {
    scheme_of(spec).is_some()
}

/// (cluster, tls) for a Redis scheme.
fn scheme_of(spec: &str) -> Option<(bool, bool)> {
    let scheme = spec.split_once("://")?.0.to_ascii_lowercase();
    match scheme.as_str() {
        "redis" => Some((false, false)),
        "rediss" => Some((false, true)),
        "redis+cluster" => Some((true, false)),
        "rediss+cluster" => Some((true, true)),
        _ => None,
    }
}

fn parse_target(spec: &str) -> StateResult<Target> {
    let bad = |why: &str| {
        StateError::new(format!("{why}; expected redis://HOST:PORT/DB, rediss://HOST:PORT/DB or redis+cluster://HOST:PORT,HOST:PORT"))
    };
    let (cluster, tls) = scheme_of(spec).ok_or_else(|| bad("not a Redis URL"))?;
    let rest = &spec[spec.find("://").unwrap_or(0) + 3..];
    if rest.contains(['?', '#']) {
        return Err(bad("query strings and fragments are not supported"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (credentials, hosts) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let db: u32 = match path {
        "" => 0,
        db => db
            .parse()
            .map_err(|_| bad("the database must be a number"))?,
    };
    if cluster && db != 0 {
        return Err(bad("Redis Cluster has only database 0"));
    }
    let mut nodes = Vec::new();
    for node in hosts.split(',') {
        let (host, port) = match node.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad("a bad port"))?)
            }
            _ => (node, 6379),
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err(bad("a host is missing"));
        }
        nodes.push((host.to_owned(), port));
    }
    if nodes.len() > 1 && !cluster {
        return Err(bad("several hosts need redis+cluster://"));
    }
    let scheme = if tls { "rediss" } else { "redis" };
    let userinfo = credentials.map(|c| format!("{c}@")).unwrap_or_default();
    let urls = nodes
        .iter()
        .map(|(h, p)| format!("{scheme}://{userinfo}{h}:{p}/{db}"))
        .collect();
    let addresses = nodes
        .iter()
        .map(|(h, p)| format!("{h}:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let shown = match cluster {
        true => format!("{scheme}+cluster://{addresses}"),
        false => format!("{scheme}://{addresses}/{db}"),
    };
    Ok(Target {
        urls,
        cluster,
        tls,
        addresses,
        shown,
    })
}

/// A key prefix must not hold a hash tag of its own (it would put every
/// key in one slot, or split the namespace keys over several) nor spaces.
fn valid_prefix(prefix: &str) -> bool {
    (1..=100).contains(&prefix.len())
        && !prefix
            .chars()
            .any(|c| c == '{' || c == '}' || c.is_whitespace() || c.is_control())
}

/// One connection that either a single server or a cluster stands behind.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

/// How the store reaches Redis.
enum Link {
    /// Connects lazily and reconnects on its own.
    Single(ConnectionManager),
    /// Connected on first use (a cluster connection must see a node to
    /// learn the slots); it then follows the cluster on its own.
    Cluster(Box<LazyCluster>),
}

struct LazyCluster {
    client: ClusterClient,
    connection: Mutex<Option<ClusterConnection>>,
}

/// The Lua scripts, hashed once.
struct Scripts {
    put: Script,
    delete: Script,
    set_counter: Script,
    lock: Script,
    unlock: Script,
    touch_namespace: Script,
    count_namespaces: Script,
    queue_push: Script,
}

/// A record is a hash: `v` its value, `n` its version. A new record's
/// version is Redis' clock in microseconds, so versions keep growing past
/// a deleted or expired record and a stale compare-and-swap never matches.
const PUT: &str = r"
local current = redis.call('HGET', KEYS[1], 'n')
if ARGV[2] == 'absent' and current then return false end
if ARGV[2] == 'version' and (not current or tonumber(current) ~= tonumber(ARGV[3])) then return false end
local version
if current then
  version = tonumber(current) + 1
else
  local now = redis.call('TIME')
  version = tonumber(now[1]) * 1000000 + tonumber(now[2])
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'n', string.format('%.0f', version))
if tonumber(ARGV[4]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
else
  redis.call('PERSIST', KEYS[1])
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return version
";

const DELETE: &str = r"
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('PUBLISH', ARGV[1], ARGV[2])
  return 1
end
return 0
";

/// Returns -1 when set, else the stored counter it refused to go below.
const SET_COUNTER: &str = r"
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) > tonumber(ARGV[1]) and ARGV[2] ~= 'force' then
  return tonumber(current)
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return -1
";

const LOCK: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
";

/// Shared by the two namespace scripts: drops namespaces whose idle
/// deadline (the index score, in Redis milliseconds) has passed, with their
/// records. Record keys are built here from ARGV[1] (`PREFIX:{ns}:`) and
/// the per-namespace spaces in ARGV[2] (space-separated); they share the
/// index's hash tag, so they live in its slot.
const SWEEP: &str = r"
local function now_ms()
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
end
local function drop(name)
  redis.call('ZREM', KEYS[1], name)
  for space in string.gmatch(ARGV[2], '%S+') do
    redis.call('DEL', ARGV[1] .. space .. ':' .. name)
  end
end
local function sweep(now)
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
    drop(name)
  end
end
";

/// KEYS[1] the index; ARGV[3] the name, ARGV[4] idle ms ('' never
/// expires), ARGV[5] the cap ('' none). Returns existing, created or full.
const TOUCH_NAMESPACE: &str = r"
local now = now_ms()
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[3])
local admit = 'created'
if deadline and tonumber(deadline) > now then
  admit = 'existing'
elseif deadline then
  drop(ARGV[3])
end
-- The cap counts only namespaces that expire: exempt ones score +inf.
local function counted() return redis.call('ZCOUNT', KEYS[1], '-inf', '(+inf') end
if admit == 'created' and ARGV[5] ~= '' and counted() >= tonumber(ARGV[5]) then
  sweep(now)
  if counted() >= tonumber(ARGV[5]) then return 'full' end
end
if ARGV[4] == '' then
  redis.call('ZADD', KEYS[1], '+inf', ARGV[3])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
end
return admit
";

/// KEYS[1] the queue (a list); ARGV[1] the item, ARGV[2] the cap, ARGV[3]
/// the queue's lifetime in ms. Returns how many items were dropped. An
/// item already queued is not queued again: a push retried after a lost
/// connection must not make one message two.
const QUEUE_PUSH: &str = r"
if redis.call('LPOS', KEYS[1], ARGV[1]) then return 0 end
local length = redis.call('RPUSH', KEYS[1], ARGV[1])
local dropped = math.max(length - tonumber(ARGV[2]), 0)
if dropped > 0 then
  redis.call('LTRIM', KEYS[1], dropped, -1)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return dropped
";

const COUNT_NAMESPACES: &str = r"
sweep(now_ms())
return redis.call('ZCARD', KEYS[1])
";

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            put: Script::new(PUT),
            delete: Script::new(DELETE),
            set_counter: Script::new(SET_COUNTER),
            lock: Script::new(LOCK),
            unlock: Script::new(UNLOCK),
            touch_namespace: Script::new(&format!("{SWEEP}{TOUCH_NAMESPACE}")),
            count_namespaces: Script::new(&format!("{SWEEP}{COUNT_NAMESPACES}")),
            queue_push: Script::new(QUEUE_PUSH),
        }
    }
}

/// The `redis://` store.
pub struct RedisStore {
    link: Link,
    scripts: Scripts,
    prefix: String,
    /// `PREFIX:changes`, the pub/sub channel of writes.
    channel: String,
    /// `HOST:PORT`, for failure messages.
    addresses: String,
    cluster: bool,
    shown: String,
    changes: broadcast::Sender<Change>,
    feed: Feed,
}

/// The change feed's task, started by the first `subscribe` (so that
/// subscriber sees the feed's first `Change::Any`) and ended with the store.
struct Feed {
    runtime: tokio::runtime::Handle,
    clients: Vec<redis::Client>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.feed.task).take() {
            task.abort();
        }
    }
}

impl RedisStore {
    /// A store for `spec`. Connects lazily: a Redis that is down now makes
    /// calls fail until it is up, not the server's start. Must be called
    /// inside a Tokio runtime (the change feed will run as a task on it).
    pub fn new(spec: &str, options: RedisOptions) -> StateResult<RedisStore> {
        let target = parse_target(spec)?;
        let prefix = options.prefix.unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        if !valid_prefix(&prefix) {
            return Err(StateError::new(
                "--state-redis-prefix: 1 to 100 characters without spaces, '{' or '}'",
            ));
        }
        if options.ca_pem.is_some() && !target.tls {
            return Err(StateError::new(
                "--state-redis-ca is for rediss:// (TLS); the --state URL is plain redis://",
            ));
        }
        if target.tls {
            // The redis crate builds its TLS config from the process's
            // default provider; reqwest's aws-lc-rs and the server's ring
            // are both linked, so none is picked on its own.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let certificates = || TlsCertificates {
            client_tls: None,
            root_cert: options.ca_pem.clone(),
        };
        let config_error = |e: RedisError| StateError::new(format!("--state: {e}"));
        let node_client = |url: &str| match options.ca_pem {
            Some(_) => redis::Client::build_with_tls(url, certificates()),
            None => redis::Client::open(url),
        };
        let link = if target.cluster {
            let mut builder = ClusterClient::builder(target.urls.clone())
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(RESPONSE_TIMEOUT)
                .retries(1);
            if options.ca_pem.is_some() {
                builder = builder.certs(certificates());
            }
            Link::Cluster(Box::new(LazyCluster {
                client: builder.build().map_err(config_error)?,
                connection: Mutex::new(None),
            }))
        } else {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_number_of_retries(0);
            let client = node_client(&target.urls[0]).map_err(config_error)?;
            Link::Single(
                ConnectionManager::new_lazy_with_config(client, config).map_err(config_error)?,
            )
        };
        // Classic pub/sub reaches every node of a cluster: one node's
        // subscription hears the whole cluster's writes.
        let feed = Feed {
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|_| StateError::new("the Redis store needs a Tokio runtime"))?,
            clients: target
                .urls
                .iter()
                .map(|url| node_client(url))
                .collect::<Result<Vec<_>, _>>()
                .map_err(config_error)?,
            task: Mutex::new(None),
        };
        Ok(RedisStore {
            link,
            scripts: Scripts::new(),
            channel: format!("{prefix}:changes"),
            prefix,
            addresses: target.addresses,
            cluster: target.cluster,
            shown: target.shown,
            changes: broadcast::channel(256).0,
            feed,
        })
    }

    fn key(&self, space: Space, key: &str) -> String {
        if space.is_per_namespace() {
            format!("{}:{{ns}}:{}:{key}", self.prefix, space.as_str())
        } else {
            format!("{}:{}:{key}", self.prefix, space.as_str())
        }
    }

    fn namespace_index(&self) -> String {
        format!("{}:{{ns}}:index", self.prefix)
    }

    /// The arguments the namespace scripts need to find a namespace's
    /// records: `PREFIX:{ns}:` and the per-namespace spaces.
    fn namespace_record_args(&self) -> (String, String) {
        let spaces = Space::ALL
            .into_iter()
            .filter(|s| s.is_per_namespace())
            .map(Space::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        (format!("{}:{{ns}}:", self.prefix), spaces)
    }

    async fn connection(&self) -> Result<Connection, RedisError> {
        match &self.link {
            Link::Single(manager) => Ok(Connection::Single(manager.clone())),
            Link::Cluster(cluster) => {
                let LazyCluster { client, connection } = &**cluster;
                if let Some(c) = lock(connection).clone() {
                    return Ok(Connection::Cluster(c));
                }
                // Not under the lock: callers while the cluster is down
                // each fail on their own attempt instead of queueing.
                let fresh = client.get_async_connection().await?;
                Ok(Connection::Cluster(
                    lock(connection).get_or_insert(fresh).clone(),
                ))
            }
        }
    }

    /// Runs `op` on a connection within [`OPERATION_TIMEOUT`], turning a
    /// Redis failure into a `StateError` that names the server.
    ///
    /// A connection found refused or dropped is tried once more: the
    /// manager reports the failure of its last attempt before it
    /// reconnects, so without this the first call after Redis is back
    /// would fail. A retried command that had reached Redis can at worst
    /// skip a counter value or see its own mark; it never hands one out
    /// twice.
    async fn run<T, F>(&self, op: impl Fn(Connection) -> F) -> StateResult<T>
    where
        F: std::future::Future<Output = Result<T, RedisError>>,
    {
        let attempt = async {
            let once = async { op(self.connection().await?).await };
            match once.await {
                Err(e) if e.is_connection_refusal() || e.is_connection_dropped() => {
                    op(self.connection().await?).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(OPERATION_TIMEOUT, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failure(&e)),
            Err(_) => Err(self.unreachable("timed out")),
        }
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> StateResult<T> {
        self.run(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    async fn invoke<T: FromRedisValue>(&self, script: &ScriptInvocation<'_>) -> StateResult<T> {
        self.run(|mut c| async move { script.invoke_async(&mut c).await })
            .await
    }

    fn unreachable(&self, why: &str) -> StateError {
        let what = if self.cluster {
            "Redis Cluster"
        } else {
            "Redis"
        };
        StateError::new(format!(
            "{what} at {} is unreachable ({why})",
            self.addresses
        ))
    }

    /// A failure message: what happened, never a key or a value (Redis'
    /// own errors name neither).
    fn failure(&self, e: &RedisError) -> StateError {
        if e.is_connection_refusal() {
            self.unreachable("connection refused")
        } else if e.is_timeout() {
            self.unreachable("timed out")
        } else if e.is_connection_dropped() {
            self.unreachable("connection lost")
        } else if e.is_io_error() || e.kind() == redis::ErrorKind::ClusterConnectionNotFound {
            self.unreachable(&e.to_string())
        } else {
            let what = if self.cluster {
                "Redis Cluster"
            } else {
                "Redis"
            };
            StateError::new(format!("{what} at {} failed: {e}", self.addresses))
        }
    }

    fn change_message(space: Space, key: &str) -> String {
        format!("{}:{key}", space.as_str())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Subscribes to the change channel and forwards what it hears, for as
/// long as the store lives. After every (re)subscription it says
/// `Change::Any`: whatever happened while it was deaf may have changed
/// anything.
async fn follow_changes(
    clients: Vec<redis::Client>,
    channel: String,
    changes: broadcast::Sender<Change>,
) {
    for client in clients.iter().cycle() {
        let subscribed = tokio::time::timeout(OPERATION_TIMEOUT, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, RedisError>(pubsub)
        })
        .await;
        if let Ok(Ok(pubsub)) = subscribed {
            let _ = changes.send(Change::Any);
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                if let Some(change) = parse_change(message.get_payload_bytes()) {
                    let _ = changes.send(change);
                }
            }
            tracing::debug!("the Redis change feed lost its connection");
        }
        tokio::time::sleep(RESUBSCRIBE_EVERY).await;
    }
}

/// `SPACE:KEY` as published by the scripts.
fn parse_change(payload: &[u8]) -> Option<Change> {
    let text = std::str::from_utf8(payload).ok()?;
    let (space, key) = text.split_once(':')?;
    Some(Change::Key(Space::parse(space)?, key.to_owned()))
}

#[async_trait]
impl StateStore for RedisStore {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    async fn get(&self, space: Space, key: &str) -> StateResult<Option<Versioned>> {
        let mut hmget = redis::cmd("HMGET");
        hmget.arg(self.key(space, key)).arg("v").arg("n");
        let (value, version): (Option<Vec<u8>>, Option<u64>) = self.query(&hmget).await?;
        Ok(match (value, version) {
            (Some(value), Some(version)) => Some(Versioned { value, version }),
            _ => None,
        })
    }

    async fn put(
        &self,
        space: Space,
        key: &str,
        value: &[u8],
        expect: Expect,
        ttl: Option<Duration>,
    ) -> StateResult<Option<u64>> {
        let (expect, version) = match expect {
            Expect::Any => ("any", 0),
            Expect::Absent => ("absent", 0),
            Expect::Version(v) => ("version", v),
        };
        let ttl_ms = ttl.map_or(0, |t| t.as_millis().max(1) as u64);
        let mut put = self.scripts.put.key(self.key(space, key));
        put.arg(value).arg(expect).arg(version).arg(ttl_ms);
        put.arg(&self.channel).arg(Self::change_message(space, key));
        self.invoke(&put).await
    }

    async fn delete(&self, space: Space, key: &str) -> StateResult<bool> {
        let mut delete = self.scripts.delete.key(self.key(space, key));
        delete
            .arg(&self.channel)
            .arg(Self::change_message(space, key));
        self.invoke(&delete).await
    }

    /// One `INCR`: Redis hands each value out once however many servers
    /// ask. Durable as far as Redis is: with `appendfsync always` (or
    /// replicas and `WAIT`) a crash of Redis itself cannot hand one out
    /// again.
    async fn next_counter(&self, key: &str) -> StateResult<u64> {
        let mut incr = redis::cmd("INCR");
        incr.arg(self.key(Space::Counter, key));
        let next: u64 = self.query(&incr).await?;
        Ok(next - 1)
    }

    async fn peek_counter(&self, key: &str) -> StateResult<Option<u64>> {
        let mut get = redis::cmd("GET");
        get.arg(self.key(Space::Counter, key));
        self.query(&get).await
    }

    async fn set_counter(&self, key: &str, value: u64, force: bool) -> StateResult<CounterSet> {
        let mut set = self.scripts.set_counter.key(self.key(Space::Counter, key));
        set.arg(value).arg(if force { "force" } else { "" });
        set.arg(&self.channel)
            .arg(Self::change_message(Space::Counter, key));
        let below: i64 = self.invoke(&set).await?;
        Ok(match u64::try_from(below) {
            Ok(current) => CounterSet::Below { current },
            Err(_) => CounterSet::Set,
        })
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> StateResult<bool> {
        let mut lock = self.scripts.lock.key(self.key(Space::Lock, name));
        lock.arg(owner).arg(ttl.as_millis().max(1) as u64);
        lock.arg(&self.channel)
            .arg(Self::change_message(Space::Lock, name));
        self.invoke(&lock).await
    }

    async fn unlock(&self, name: &str, owner: &str) -> StateResult<bool> {
        let mut unlock = self.scripts.unlock.key(self.key(Space::Lock, name));
        unlock.arg(owner);
        unlock
            .arg(&self.channel)
            .arg(Self::change_message(Space::Lock, name));
        self.invoke(&unlock).await
    }

    async fn touch_namespace(
        &self,
        name: &str,
        idle: Option<Duration>,
        cap: Option<usize>,
    ) -> StateResult<Admit> {
        let (records, spaces) = self.namespace_record_args();
        let mut touch = self.scripts.touch_namespace.key(self.namespace_index());
        touch.arg(records).arg(spaces).arg(name);
        touch.arg(idle.map_or(String::new(), |t| t.as_millis().max(1).to_string()));
        touch.arg(cap.map_or(String::new(), |c| c.to_string()));
        let admit: String = self.invoke(&touch).await?;
        match admit.as_str() {
            "existing" => Ok(Admit::Existing),
            "created" => Ok(Admit::Created),
            "full" => Ok(Admit::Full),
            other => Err(StateError::new(format!(
                "Redis at {} answered '{other}' to a namespace touch",
                self.addresses
            ))),
        }
    }

    async fn namespace_count(&self) -> StateResult<usize> {
        let (records, spaces) = self.namespace_record_args();
        let mut count = self.scripts.count_namespaces.key(self.namespace_index());
        count.arg(records).arg(spaces);
        self.invoke(&count).await
    }

    async fn queue_push(
        &self,
        space: Space,
        key: &str,
        item: &[u8],
        cap: usize,
        ttl: Duration,
    ) -> StateResult<usize> {
        let mut push = self.scripts.queue_push.key(self.key(space, key));
        push.arg(item).arg(cap).arg(ttl.as_millis().max(1) as u64);
        push.arg(&self.channel)
            .arg(Self::change_message(space, key));
        self.invoke(&push).await
    }

    async fn queue_items(&self, space: Space, key: &str) -> StateResult<Vec<Vec<u8>>> {
        let mut range = redis::cmd("LRANGE");
        range.arg(self.key(space, key)).arg(0).arg(-1);
        self.query(&range).await
    }

    /// One `LREM`: of two servers removing the same item, one removes it.
    async fn queue_remove(&self, space: Space, key: &str, item: &[u8]) -> StateResult<bool> {
        let mut remove = redis::cmd("LREM");
        remove.arg(self.key(space, key)).arg(1).arg(item);
        let removed: u64 = self.query(&remove).await?;
        Ok(removed == 1)
    }

    /// Redis is read on every call: other servers write it too.
    fn stamp(&self) -> StateResult<Option<u64>> {
        Ok(None)
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        let receiver = self.changes.subscribe();
        let mut task = lock(&self.feed.task);
        if task.is_none() {
            *task = Some(self.feed.runtime.spawn(follow_changes(
                self.feed.clients.clone(),
                self.channel.clone(),
                self.changes.clone(),
            )));
        }
        receiver
    }

    async fn ping(&self) -> StateResult<()> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Against real redis-server processes (scripts/install-test-deps.sh
    //! installs them), each on its own free loopback port.

    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::process::{Child, Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    fn free_port() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }

    /// One redis-server child, killed when dropped.
    struct TestRedis {
        child: Child,
        port: u16,
        _dir: tempfile::TempDir,
    }

    impl TestRedis {
        fn start(extra: &[&str]) -> TestRedis {
            (0..5)
                .find_map(|_| TestRedis::start_on(free_port(), extra))
                .expect("redis-server did not start on any of 5 free ports")
        }

        /// None if it exited (the port was taken meanwhile).
        fn start_on(port: u16, extra: &[&str]) -> Option<TestRedis> {
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is not installed: run scripts/install-test-deps.sh");
            let mut redis = TestRedis {
                child,
                port,
                _dir: dir,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if redis.child.try_wait().unwrap().is_some() {
                    return None;
                }
                if redis.command("PING").starts_with("+PONG") {
                    return Some(redis);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("redis-server on port {port} gave no PONG within 10 s");
        }

        /// One inline command's raw answer, empty if it could not connect.
        fn command(&self, line: &str) -> String {
            let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
                return String::new();
            };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let _ = stream.write_all(format!("{line}\r\n").as_bytes());
            let mut answer = vec![0; 65536];
            let n = stream.read(&mut answer).unwrap_or(0);
            String::from_utf8_lossy(&answer[..n]).into_owned()
        }

        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/0", self.port)
        }
    }

    impl Drop for TestRedis {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn store(spec: &str, prefix: &str) -> RedisStore {
        let options = RedisOptions {
            prefix: Some(prefix.to_owned()),
            ca_pem: None,
        };
        RedisStore::new(spec, options).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_store_conforms() {
        let redis = TestRedis::start(&[]);
        super::super::conformance::all(Arc::new(store(&redis.url(), "t"))).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cluster_store_conforms() {
        let nodes: Vec<TestRedis> = (0..3)
            .map(|_| {
                let bus = free_port().to_string();
                TestRedis::start(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-port",
                    &bus,
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli is not installed: run scripts/install-test-deps.sh");
        assert!(created.status.success(), "{created:?}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !nodes
            .iter()
            .all(|n| n.command("CLUSTER INFO").contains("cluster_state:ok"))
        {
            assert!(
                Instant::now() < deadline,
                "the cluster is not ok after 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Two seeds are enough; the client learns the third node.
        let spec = format!("redis+cluster://{},{}", addresses[0], addresses[1]);
        let cluster = Arc::new(store(&spec, "t"));
        super::super::conformance::all(cluster.clone()).await;
        // Counters really spread over the masters, and each one's keys
        // stayed where the slots say (a wrong slot would have failed).
        for i in 0..30 {
            cluster.next_counter(&format!("spread-{i}")).await.unwrap();
        }
        let holding = nodes
            .iter()
            .filter(|n| !n.command("DBSIZE").starts_with(":0"))
            .count();
        assert_eq!(holding, 3, "keys on {holding} of 3 masters");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_redis_fails_within_the_bound_and_recovery_follows() {
        let port = free_port();
        let store = store(&format!("redis://127.0.0.1:{port}/0"), "t");
        let failure = tokio::time::timeout(Duration::from_secs(5), store.next_counter("c"))
            .await
            .expect("a failure within 5 s")
            .unwrap_err();
        assert_eq!(
            failure.to_string(),
            format!("Redis at 127.0.0.1:{port} is unreachable (connection refused)")
        );
        assert!(store.ping().await.is_err());
        let redis = TestRedis::start_on(port, &[]).expect("the port is still free");
        // The first call after Redis is back succeeds.
        assert_eq!(store.next_counter("c").await.unwrap(), 0);
        store.ping().await.unwrap();
        // Redis restarted under a live connection: the next call reconnects.
        drop(redis);
        let _redis = TestRedis::start_on(port, &[]).expect("the port is still free");
        assert_eq!(
            store.next_counter("c").await.unwrap(),
            0,
            "a new, empty Redis"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_through_one_server_reaches_the_others_subscribers() {
        let redis = TestRedis::start(&[]);
        let (writer, reader) = (store(&redis.url(), "t"), store(&redis.url(), "t"));
        let mut changes = reader.subscribe();
        // The feed says Any once it has subscribed; from then on it hears.
        let first = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .expect("subscribed within 5 s")
            .unwrap();
        assert_eq!(first, Change::Any);
        writer
            .put(Space::Namespace, "robot a", b"x", Expect::Any, None)
            .await
            .unwrap();
        let change = tokio::time::timeout(Duration::from_secs(5), changes.recv())
            .await
            .expect("a change within 5 s")
            .unwrap();
        assert_eq!(change, Change::Key(Space::Namespace, "robot a".into()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn versions_keep_growing_past_a_deleted_record() {
        let redis = TestRedis::start(&[]);
        let store = store(&redis.url(), "t");
        let old = store
            .put(Space::Session, "s", b"1", Expect::Absent, None)
            .await
            .unwrap()
            .unwrap();
        assert!(store.delete(Space::Session, "s").await.unwrap());
        let new = store
            .put(Space::Session, "s", b"2", Expect::Absent, None)
            .await
            .unwrap()
            .unwrap();
        assert!(new > old, "{new} after {old}");
        let stale = store
            .put(Space::Session, "s", b"3", Expect::Version(old), None)
            .await
            .unwrap();
        assert_eq!(stale, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_carry_the_prefix_and_prefixes_keep_fleets_apart() {
        let redis = TestRedis::start(&[]);
        let (a, b) = (
            store(&redis.url(), "fleet-a"),
            store(&redis.url(), "fleet-b"),
        );
        assert_eq!(a.next_counter("c").await.unwrap(), 0);
        assert_eq!(a.next_counter("c").await.unwrap(), 1);
        assert_eq!(b.next_counter("c").await.unwrap(), 0);
        a.touch_namespace("n", None, None).await.unwrap();
        a.put(Space::Namespace, "n", b"x", Expect::Any, None)
            .await
            .unwrap();
        let keys = redis.command("KEYS *");
        for key in [
            "fleet-a:counter:c",
            "fleet-b:counter:c",
            "fleet-a:{ns}:index",
            "fleet-a:{ns}:ns:n",
        ] {
            assert!(keys.contains(key), "{key} not in {keys}");
        }
        assert_eq!(redis.command("DBSIZE").trim(), ":4");
    }

    #[test]
    fn specs_are_parsed_and_shown_without_credentials() {
        let t = parse_target("redis://:pw@127.0.0.1:6380/2").unwrap();
        assert_eq!(t.urls, ["redis://:pw@127.0.0.1:6380/2"]);
        assert_eq!(
            (t.shown.as_str(), t.addresses.as_str()),
            ("redis://127.0.0.1:6380/2", "127.0.0.1:6380")
        );
        let t = parse_target("rediss://redis.example").unwrap();
        assert!(t.tls && !t.cluster);
        assert_eq!(t.urls, ["rediss://redis.example:6379/0"]);
        let t = parse_target("redis+cluster://u:p@10.0.0.1:7000,10.0.0.2:7001").unwrap();
        assert!(t.cluster);
        assert_eq!(
            t.urls,
            ["redis://u:p@10.0.0.1:7000/0", "redis://u:p@10.0.0.2:7001/0"]
        );
        assert_eq!(t.shown, "redis+cluster://10.0.0.1:7000,10.0.0.2:7001");
        for (bad, why) in [
            ("redis://h:p/0", "a bad port"),
            ("redis://h:1/x", "the database must be a number"),
            ("redis://a:1,b:2/0", "several hosts need redis+cluster://"),
            ("redis+cluster://a:1/3", "Redis Cluster has only database 0"),
            ("redis://h:1/0#insecure", "query strings and fragments"),
            ("redis:///0", "a host is missing"),
            ("http://h:1", "not a Redis URL"),
        ] {
            let error = parse_target(bad).err().unwrap().to_string();
            assert!(error.contains(why), "{bad}: {error}");
        }
        for prefix in ["", "a{b}", "a b", &"x".repeat(101)] {
            assert!(!valid_prefix(prefix), "{prefix:?}");
        }
        assert!(valid_prefix("rpa-mfa:prod"));
    }
}
