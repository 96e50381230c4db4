//! Live TOTP codes: a namespace's code as each period begins, for
//! dashboards and bots that hold a connection open instead of polling.
//!
//! [`TotpFeed`] yields the current code at once, then the next one at
//! every period boundary, and at once again whenever the namespace's
//! secret is replaced. The boundaries come from [`LiveCodes`]: one timer
//! per secret and period, which computes each code once and hands it to
//! every feed of that secret, however many there are. Time comes from the
//! [`Clock`] seam and waits from tokio's timer, so a test on tokio's
//! paused clock sees boundaries pass instantly and exactly.
//!
//! A feed given a [`TickSink`] ([`TotpFeed::deliver_to`]) has its codes
//! handed to the sink instead, the boundary codes from the timer's own
//! task: a server then writes each subscriber's code without waking the
//! subscriber's task (with 10,000 subscribers, that wake and poll was
//! most of the CPU a boundary cost).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::keywords::current_key;
use super::{Kind, OtpKey};
use crate::clock::Clock;
use crate::state::{Change, Namespace, Space};
use crate::KeywordError;

/// One code and the period it belongs to.
#[derive(Clone, PartialEq, Serialize)]
pub struct TotpTick {
    /// The code, with its leading zeros.
    pub code: String,
    /// Seconds per code.
    pub period: u64,
    /// Unix time the code became valid.
    pub period_start: u64,
    /// Unix time the code stops being valid (the next period's start).
    pub period_end: u64,
    /// Seconds the code stays valid from when it was computed.
    pub seconds_left: f64,
}

/// Debug output ends up in logs and panics: the code is left out.
impl fmt::Debug for TotpTick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TotpTick(code hidden, {}..{}, {:.3} s left)",
            self.period_start, self.period_end, self.seconds_left
        )
    }
}

impl TotpTick {
    /// The tick of the period starting at `period_start`, whose `code`
    /// was computed beforehand, published at Unix time `now`.
    fn starting(key: &OtpKey, period_start: u64, code: String, now: f64) -> TotpTick {
        TotpTick {
            code,
            period: key.period,
            period_start,
            period_end: period_start + key.period,
            seconds_left: seconds_left(period_start + key.period, now),
        }
    }

    /// The tick for `key` at Unix time `now`.
    pub fn at(key: &OtpKey, now: f64) -> TotpTick {
        let second = now.max(0.0).floor() as u64;
        let period_start = second - second % key.period;
        TotpTick {
            code: key.code_at_time(second),
            period: key.period,
            period_start,
            period_end: period_start + key.period,
            seconds_left: seconds_left(period_start + key.period, now),
        }
    }
}

/// Seconds from `now` to `period_end`, to the millisecond (plenty for a
/// countdown).
fn seconds_left(period_end: u64, now: f64) -> f64 {
    ((period_end as f64 - now) * 1000.0).round().max(0.0) / 1000.0
}

/// How early a timer is armed before a period boundary, in seconds:
/// tokio's timer tick (1 ms), by which it rounds deadlines up.
const ARM_LEAD: f64 = 0.001;

/// The longest a timer yields in wait for a boundary before it sleeps.
const SPIN_FOR: Duration = Duration::from_millis(3);

/// The codes of one secret, as its timer publishes them.
type Codes = watch::Sender<Arc<TotpTick>>;

/// Where a feed's codes go when they are not returned by
/// [`TotpFeed::next`]: called from the timer's task at each boundary, and
/// from the feed's own task for its first code and a new secret's.
/// Calls for one feed never overlap and come in period order, each period
/// once; the last call comes before the feed's drop returns.
pub trait TickSink: Send + Sync {
    /// Takes one code; must not wait (it runs on the timer's task, which
    /// serves every follower of the secret in turn).
    fn deliver(&self, tick: &Arc<TotpTick>);
}

/// A sink following one timer until its feed moves to another secret or
/// ends: then the sink is taken out, under the lock every delivery holds,
/// so nothing reaches it afterwards.
struct Follower {
    sink: Mutex<Option<Following>>,
}

struct Following {
    sink: Arc<dyn TickSink>,
    /// The period start of the code delivered last (0 before the first).
    last: u64,
}

impl Follower {
    /// Delivers `tick` unless it is not newer than the last delivered (a
    /// late timer's copy of the period the feed's first code is from).
    fn offer(&self, tick: &Arc<TotpTick>) {
        let mut following = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = following.as_mut().filter(|f| tick.period_start > f.last) {
            f.last = tick.period_start;
            f.sink.deliver(tick);
        }
    }

    fn end(&self) {
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner()).take();
        // Dropped outside the lock: it may hold a socket.
        drop(sink);
    }
}

/// One secret's timer, as its feeds see it.
struct Timer {
    codes: Codes,
    /// The sinks the timer's task delivers to itself, oldest first; an
    /// entry whose feed has let go of it (only this list holds it) is
    /// removed at the next boundary, or when the list would grow.
    direct: Mutex<Vec<Arc<Follower>>>,
}

impl Timer {
    fn direct(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Follower>>> {
        self.direct.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `sink` to the timer's deliveries. A boundary whose followers
    /// were copied before this misses it: the caller reads the clock after
    /// this, so its own first code is that boundary's or a later one.
    fn join(&self, sink: Arc<dyn TickSink>) -> Arc<Follower> {
        let follower = Arc::new(Follower {
            sink: Mutex::new(Some(Following { sink, last: 0 })),
        });
        let mut direct = self.direct();
        if direct.len() == direct.capacity() {
            direct.retain(|f| Arc::strong_count(f) > 1);
        }
        direct.push(follower.clone());
        follower
    }

    /// Delivers `tick` to every direct follower, in shares of
    /// [`DELIVERY_SHARE`] followers, each a task of its own but the last,
    /// which the timer's task delivers itself once the others are spawned:
    /// one task writing 10,000 codes in one poll cannot be shared by the
    /// runtime's workers, and while its thread is descheduled (a busy
    /// machine) every code after it waits; shares left in a queue are
    /// taken by an idle worker. The list itself stays in place (a feed
    /// joining or leaving waits only for the copy).
    fn deliver(&self, tick: &Arc<TotpTick>) {
        let mut shares: Vec<Vec<Arc<Follower>>> = {
            let mut direct = self.direct();
            direct.retain(|f| Arc::strong_count(f) > 1);
            direct.chunks(DELIVERY_SHARE).map(<[_]>::to_vec).collect()
        };
        let in_place = shares.pop();
        for share in shares {
            let tick = tick.clone();
            tokio::spawn(async move {
                for follower in share {
                    follower.offer(&tick);
                }
            });
        }
        for follower in in_place.into_iter().flatten() {
            follower.offer(tick);
        }
    }
}

/// Followers a timer's task (or one task it spawns) delivers a code to at
/// a time; see [`Timer::deliver`].
const DELIVERY_SHARE: usize = 256;

/// Timers by a hash of what makes the codes (collisions are told apart
/// with [`OtpKey::same_as`]): a secret's bytes are not kept again as a key.
type Timers = HashMap<u64, Vec<(Arc<OtpKey>, Arc<Timer>)>>;

/// One server's live-code timers: one task per secret and period while
/// any feed follows it, none otherwise.
pub struct LiveCodes {
    clock: Arc<dyn Clock>,
    timers: Mutex<Timers>,
    hasher: RandomState,
    /// Codes computed by the timers, for tests and benchmarks.
    computed: AtomicU64,
}

impl LiveCodes {
    pub fn new(clock: Arc<dyn Clock>) -> Arc<LiveCodes> {
        Arc::new(LiveCodes {
            clock,
            timers: Mutex::new(HashMap::new()),
            hasher: RandomState::new(),
            computed: AtomicU64::new(0),
        })
    }

    /// Timers running now: one per secret and period followed.
    pub fn timers(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Codes the timers have computed so far (each once per period).
    pub fn codes_computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timers> {
        self.timers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, key: &OtpKey) -> u64 {
        // Kind and algorithm are left to `same_as`.
        self.hasher
            .hash_one((key.digits, key.period, &key.secret[..]))
    }

    /// Follows `key`'s codes, starting its timer if none runs yet. The
    /// receiver keeps the timer running, whether it is read or not.
    fn follow(self: &Arc<Self>, key: &Arc<OtpKey>) -> (watch::Receiver<Arc<TotpTick>>, Arc<Timer>) {
        let slot = self.slot(key);
        // Subscribing under the lock: a timer leaving (no feed left)
        // checks under it too, so a new feed never joins a timer that ends.
        let mut timers = self.lock();
        let entries = timers.entry(slot).or_default();
        if let Some((_, timer)) = entries.iter().find(|(k, _)| k.same_as(key)) {
            return (timer.codes.subscribe(), timer.clone());
        }
        let first = Arc::new(TotpTick::at(key, self.clock.now()));
        let timer = Arc::new(Timer {
            codes: watch::Sender::new(first),
            direct: Mutex::new(Vec::new()),
        });
        let follower = timer.codes.subscribe();
        entries.push((key.clone(), timer.clone()));
        tokio::spawn(self.clone().run_timer(slot, key.clone(), timer.clone()));
        (follower, timer)
    }

    /// One secret's timer: at each period boundary publishes the code
    /// once for every feed; ends when no feed follows it any more.
    ///
    /// tokio's timer rounds a deadline up to its 1 ms tick and wakes a
    /// little after that, so a sleep armed for the boundary fires 1-2 ms
    /// late. This one is armed [`ARM_LEAD`] early, computes the next code
    /// meanwhile, and waits out the rest by yielding: the code goes out as
    /// the period begins, never before.
    async fn run_timer(self: Arc<Self>, slot: u64, key: Arc<OtpKey>, timer: Arc<Timer>) {
        let codes = &timer.codes;
        loop {
            let expires = codes.borrow().period_end;
            loop {
                // Subtracted last: `expires - now` is exact where the two
                // are close, which keeps paused-clock tests exact.
                let wait = (expires as f64 - self.clock.now()) - ARM_LEAD;
                if wait <= 0.0 {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                    _ = codes.closed() => {
                        if self.leave(slot, &timer) {
                            return;
                        }
                    }
                }
            }
            let code = key.code_at_time(expires);
            self.computed.fetch_add(1, Ordering::Relaxed);
            self.reach(expires as f64).await;
            let tick = Arc::new(TotpTick::starting(&key, expires, code, self.clock.now()));
            codes.send_replace(tick.clone());
            timer.deliver(&tick);
        }
    }

    /// Returns once the clock reads `boundary` or later: yields while it is
    /// at most [`ARM_LEAD`] away, for at most [`SPIN_FOR`] of real time
    /// (a clock that does not move meanwhile, as tokio's paused one in
    /// tests, or a worker held up, falls back to tokio's timer).
    async fn reach(&self, boundary: f64) {
        let spin_until = std::time::Instant::now() + SPIN_FOR;
        loop {
            let left = boundary - self.clock.now();
            if left <= 0.0 {
                return;
            }
            if left <= ARM_LEAD && std::time::Instant::now() < spin_until {
                tokio::task::yield_now().await;
            } else {
                // Whole microseconds: a hair of float error above a tick
                // would cost the timer a whole tick.
                let micros = (left * 1e6).floor().max(1.0);
                tokio::time::sleep(Duration::from_micros(micros as u64)).await;
            }
        }
    }

    /// Removes a timer no feed follows; false when one joined meanwhile.
    fn leave(&self, slot: u64, timer: &Arc<Timer>) -> bool {
        let mut timers = self.lock();
        if timer.codes.receiver_count() > 0 {
            return false;
        }
        if let Some(entries) = timers.get_mut(&slot) {
            entries.retain(|(_, t)| !Arc::ptr_eq(t, timer));
            if entries.is_empty() {
                timers.remove(&slot);
            }
        }
        true
    }
}

/// A wait for the namespace's next change, kept from one code to the
/// next: dropped and made again at every code, it left and rejoined the
/// store's change channel (a lock on it) per subscriber per boundary.
/// Gives the receiver back when a change comes.
type ChangeWait = Pin<Box<dyn Future<Output = broadcast::Receiver<Change>> + Send>>;

fn wait_for_change(ns: Arc<Namespace>, mut changes: broadcast::Receiver<Change>) -> ChangeWait {
    Box::pin(async move {
        ns.changed(&mut changes, Space::Namespace).await;
        changes
    })
}

/// A namespace's TOTP codes as they change.
pub struct TotpFeed {
    ns: Arc<Namespace>,
    live: Arc<LiveCodes>,
    /// The store's changes: a secret set through any server sharing the
    /// store reaches this feed.
    change: ChangeWait,
    /// The key the last code came from.
    key: Arc<OtpKey>,
    /// Its timer's codes (read unless the feed has a sink; held either
    /// way: it keeps the timer running).
    codes: watch::Receiver<Arc<TotpTick>>,
    timer: Arc<Timer>,
    /// The start of the period of the code sent last; None before the first.
    sent: Option<u64>,
    /// Where the codes go instead of [`TotpFeed::next`]'s result.
    sink: Option<Arc<dyn TickSink>>,
    /// The sink's place in the current timer's deliveries, once joined.
    follower: Option<Arc<Follower>>,
}

/// The sink gets nothing more once the feed is gone.
impl Drop for TotpFeed {
    fn drop(&mut self) {
        if let Some(follower) = &self.follower {
            follower.end();
        }
    }
}

impl TotpFeed {
    /// Starts a feed; fails with RPA.MFA's `TOTPNotSetError` when the
    /// namespace has no TOTP secret.
    pub async fn new(ns: Arc<Namespace>, live: &Arc<LiveCodes>) -> Result<TotpFeed, KeywordError> {
        let changes = ns.subscribe();
        let key = current_key(&ns, Kind::Totp).await?;
        let (codes, timer) = live.follow(&key);
        Ok(TotpFeed {
            change: wait_for_change(ns.clone(), changes),
            ns,
            live: live.clone(),
            key,
            codes,
            timer,
            sent: None,
            sink: None,
            follower: None,
        })
    }

    /// Hands every code to `sink` from now on, the boundary codes from the
    /// timer's task: [`TotpFeed::next`] then delivers the first code (and
    /// a new secret's) to the sink itself and returns only an error.
    pub fn deliver_to(&mut self, sink: Arc<dyn TickSink>) {
        self.sink = Some(sink);
    }

    /// [`TotpFeed::next`] with a sink: joins the timer, delivers the
    /// current code, and follows the namespace's secret until it is gone.
    async fn deliver(&mut self, sink: Arc<dyn TickSink>) -> KeywordError {
        loop {
            if self.follower.is_none() {
                let follower = self.timer.join(sink.clone());
                // After joining: see `Timer::join`.
                let tick = Arc::new(TotpTick::at(&self.key, self.live.clock.now()));
                follower.offer(&tick);
                self.follower = Some(follower);
            }
            let changes = (&mut self.change).await;
            self.change = wait_for_change(self.ns.clone(), changes);
            let key = match current_key(&self.ns, Kind::Totp).await {
                Ok(key) => key,
                Err(e) => return e,
            };
            if !key.same_as(&self.key) {
                // Ended before the new secret's first code goes out: the old
                // timer's next code never follows it.
                if let Some(follower) = self.follower.take() {
                    follower.end();
                }
                (self.codes, self.timer) = self.live.follow(&key);
                self.key = key;
            }
        }
    }

    /// The current code the first time; then waits for the next period
    /// boundary or a new secret, whichever comes first, and returns the
    /// code valid from then.
    pub async fn next(&mut self) -> Result<Arc<TotpTick>, KeywordError> {
        if let Some(sink) = self.sink.clone() {
            return Err(self.deliver(sink).await);
        }
        if let Some(sent) = self.sent {
            loop {
                tokio::select! {
                    // The codes first: at a boundary the code is taken
                    // without polling the change wait, each poll of which
                    // locks the store's change channel, shared by every feed.
                    biased;
                    changed = self.codes.changed() => {
                        if changed.is_err() {
                            // Not reached: a timer runs while followed.
                            (self.codes, self.timer) = self.live.follow(&self.key);
                            continue;
                        }
                        let tick = self.codes.borrow_and_update().clone();
                        if tick.period_start > sent {
                            self.sent = Some(tick.period_start);
                            return Ok(tick);
                        }
                    }
                    changes = &mut self.change => {
                        self.change = wait_for_change(self.ns.clone(), changes);
                        // Stores that cannot say what changed wake every
                        // feed: only a new secret ends the wait.
                        let key = current_key(&self.ns, Kind::Totp).await?;
                        if !key.same_as(&self.key) {
                            (self.codes, self.timer) = self.live.follow(&key);
                            self.key = key;
                            break;
                        }
                    }
                }
            }
        }
        // The first code, or the first of a new secret: as of now, with
        // its own countdown. The timer's copy of this period is skipped.
        self.codes.borrow_and_update();
        let tick = Arc::new(TotpTick::at(&self.key, self.live.clock.now()));
        self.sent = Some(tick.period_start);
        Ok(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TokioClock;
    use crate::otp::record::OtpState;
    use crate::otp::Options;
    use crate::state::Namespaces;

    // RFC 6238 Appendix B: the SHA1 and SHA256 seeds, 8 digits, 30 s.
    const SHA1_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const SHA256_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";

    fn key(secret: &str, algorithm: &str) -> Arc<OtpKey> {
        let options = Options {
            algorithm: super::super::Algorithm::parse(algorithm),
            digits: Some(8),
            period: Some(30),
        };
        Arc::new(OtpKey::parse(secret, Kind::Totp, options).unwrap())
    }

    async fn namespace() -> Arc<Namespace> {
        Namespaces::in_memory().get("dash").await.unwrap()
    }

    async fn set(ns: &Namespace, key: Arc<OtpKey>) {
        ns.update(|s: &OtpState| Some(s.with(key.clone())))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn codes_arrive_at_each_boundary() {
        let ns = namespace().await;
        set(&ns, key(SHA1_SEED, "SHA1")).await;
        // 1111111109 and 1111111111 straddle a boundary at 1111111110.
        let clock = Arc::new(TokioClock::starting_at(1_111_111_100.5));
        let mut feed = TotpFeed::new(ns, &LiveCodes::new(clock)).await.unwrap();
        let started = tokio::time::Instant::now();

        let first = feed.next().await.unwrap();
        assert_eq!(first.code, "07081804");
        assert_eq!(
            (first.period_start, first.period_end),
            (1_111_111_080, 1_111_111_110)
        );
        assert_eq!(first.seconds_left, 9.5);
        assert_eq!(started.elapsed(), Duration::ZERO);

        let second = feed.next().await.unwrap();
        assert_eq!(second.code, "14050471");
        assert_eq!(second.period_start, 1_111_111_110);
        assert_eq!(second.seconds_left, 30.0);
        assert_eq!(started.elapsed(), Duration::from_millis(9_500));

        let third = feed.next().await.unwrap();
        assert_eq!(third.period_start, 1_111_111_140);
        assert_eq!(started.elapsed(), Duration::from_millis(39_500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_secret_is_followed_at_once() {
        let ns = namespace().await;
        set(&ns, key(SHA1_SEED, "SHA1")).await;
        let clock = Arc::new(TokioClock::starting_at(1_111_111_100.0));
        let mut feed = TotpFeed::new(ns.clone(), &LiveCodes::new(clock))
            .await
            .unwrap();
        assert_eq!(feed.next().await.unwrap().code, "07081804");

        let started = tokio::time::Instant::now();
        let waiting = tokio::spawn(async move { feed.next().await });
        tokio::time::sleep(Duration::from_secs(2)).await;
        set(&ns, key(SHA256_SEED, "SHA256")).await;
        let changed = waiting.await.unwrap().unwrap();
        // RFC 6238's SHA256 code for 1111111109, sent two seconds in.
        assert_eq!(changed.code, "68084774");
        assert_eq!(changed.seconds_left, 8.0);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn no_secret_is_rpa_mfas_error() {
        let clock = Arc::new(TokioClock::starting_at(0.0));
        let err = TotpFeed::new(namespace().await, &LiveCodes::new(clock))
            .await
            .err()
            .unwrap();
        assert_eq!(err.name, "TOTPNotSetError");
    }

    #[tokio::test(start_paused = true)]
    async fn one_timer_per_secret_computes_each_code_once() {
        let clock = Arc::new(TokioClock::starting_at(1_111_111_100.0));
        let live = LiveCodes::new(clock);
        let namespaces = Namespaces::in_memory();
        let mut feeds = Vec::new();
        // 50 namespaces on one secret, 50 on another.
        for i in 0..100 {
            let ns = namespaces.get(&format!("dash-{i}")).await.unwrap();
            let seed = if i % 2 == 0 { SHA1_SEED } else { SHA256_SEED };
            set(&ns, key(seed, "SHA1")).await;
            let mut feed = TotpFeed::new(ns, &live).await.unwrap();
            feed.next().await.unwrap();
            feeds.push(feed);
        }
        assert_eq!(live.timers(), 2);
        let started = tokio::time::Instant::now();
        for feed in &mut feeds {
            let tick = feed.next().await.unwrap();
            assert_eq!(tick.period_start, 1_111_111_110);
        }
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        // One code per secret for the boundary, for all 100 feeds.
        assert_eq!(live.codes_computed(), 2);
        drop(feeds);
        // A timer nobody follows ends by the next boundary.
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(live.timers(), 0);
    }

    /// What a sink was given: period starts and codes.
    #[derive(Default)]
    struct Collected(Mutex<Vec<(u64, String)>>);

    impl TickSink for Collected {
        fn deliver(&self, tick: &Arc<TotpTick>) {
            let mut got = self.0.lock().unwrap();
            got.push((tick.period_start, tick.code.clone()));
        }
    }

    impl Collected {
        /// "PERIOD_START CODE" of each.
        fn got(&self) -> Vec<String> {
            let got = self.0.lock().unwrap();
            got.iter()
                .map(|(start, code)| format!("{start} {code}"))
                .collect()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_sink_gets_each_code_once_and_nothing_once_the_feed_is_gone() {
        let ns = namespace().await;
        set(&ns, key(SHA1_SEED, "SHA1")).await;
        let clock = Arc::new(TokioClock::starting_at(1_111_111_100.0));
        let live = LiveCodes::new(clock);
        let mut feed = TotpFeed::new(ns.clone(), &live).await.unwrap();
        let sink = Arc::new(Collected::default());
        feed.deliver_to(sink.clone());
        let following = tokio::spawn(async move { feed.next().await.err() });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(sink.got(), ["1111111080 07081804"]);

        // A new secret five seconds in: its code at once, then its timer's
        // (RFC 6238's SHA256 codes for 1111111109 and 1111111111); the old
        // secret's timer, still followed, gives the sink no more.
        let _old_followed = live.follow(&key(SHA1_SEED, "SHA1"));
        set(&ns, key(SHA256_SEED, "SHA256")).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(sink.got()[1..], ["1111111080 68084774"]);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(sink.got()[2..], ["1111111110 67062674"]);

        // The feed gone: nothing more, while its timer still runs.
        let _new_followed = live.follow(&key(SHA256_SEED, "SHA256"));
        following.abort();
        assert!(following.await.unwrap_err().is_cancelled());
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(sink.got().len(), 3, "{:?}", sink.got());
        assert_eq!(live.timers(), 2);
    }

    /// A timer late for a boundary sends the period a feed's first code
    /// was already from: the sink gets each period once, in order.
    #[test]
    fn a_follower_passes_on_each_period_once() {
        let sink = Arc::new(Collected::default());
        let timer = Timer {
            codes: watch::Sender::new(Arc::new(TotpTick::at(&key(SHA1_SEED, "SHA1"), 59.0))),
            direct: Mutex::new(Vec::new()),
        };
        let follower = timer.join(sink.clone());
        let sha1 = key(SHA1_SEED, "SHA1");
        // RFC 6238: 1111111109 and 1111111111, each offered twice.
        for at in [
            1_111_111_109.0,
            1_111_111_109.5,
            1_111_111_111.0,
            1_111_111_109.0,
        ] {
            follower.offer(&Arc::new(TotpTick::at(&sha1, at)));
        }
        timer.deliver(&Arc::new(TotpTick::at(&sha1, 1_111_111_111.0)));
        assert_eq!(sink.got(), ["1111111080 07081804", "1111111110 14050471"]);
    }

    #[test]
    fn debug_hides_the_code() {
        let tick = TotpTick::at(&key(SHA1_SEED, "SHA1"), 59.0);
        assert_eq!(tick.code, "94287082");
        assert!(!format!("{tick:?}").contains("94287082"));
    }
}
