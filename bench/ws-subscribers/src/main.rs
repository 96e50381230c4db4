//! Many WebSocket subscribers to one rpa-mfa server's live TOTP codes
//! (`subscribe_totp`), spread over a few secrets, and what the server pays
//! for them: resident memory per subscriber, CPU time around a period
//! boundary, and how long after the boundary each subscriber has its new
//! code. Run by `bench/subscribers.sh`, which starts the server.
//!
//! Usage: ws-subscribers --port PORT --pid PID [--subscribers N]
//!        [--secrets K] [--period SECONDS] [--connecting C]
//!
//! Loopback only; every wait is bounded. Exits 1 when a subscriber
//! failed or missed the boundary's code.

mod arrival;
mod proc;
mod subscriber;

use std::time::Duration;

use serde_json::json;
use subscriber::{now, Event};
use tokio::sync::mpsc;
use tokio::time::timeout;

/// How long all subscribers may take to subscribe.
const SUBSCRIBE_WITHIN: Duration = Duration::from_secs(300);
/// How long after the boundary the last code may take.
const CODES_WITHIN: Duration = Duration::from_secs(10);
/// How long the subscribers stay open after the figures.
const LINGER: Duration = Duration::from_secs(1);
/// CPU is read this long before the boundary (and after the last code).
const CPU_LEAD: f64 = 0.5;

struct Args {
    port: u16,
    pid: u32,
    subscribers: usize,
    secrets: usize,
    period: u64,
    /// Connections being opened at once.
    connecting: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        pid: 0,
        subscribers: 10_000,
        secrets: 4,
        period: 30,
        connecting: 256,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--port" => args.port = number(&value)? as u16,
            "--pid" => args.pid = number(&value)? as u32,
            "--subscribers" => args.subscribers = number(&value)? as usize,
            "--secrets" => args.secrets = number(&value)?.clamp(1, 26) as usize,
            "--period" => args.period = number(&value)?.max(2),
            "--connecting" => args.connecting = number(&value)?.max(1) as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.port == 0 || args.pid == 0 {
        return Err("--port and --pid are needed".into());
    }
    Ok(args)
}

/// Secret `k`: 32 base32 characters (20 bytes), distinct in the last one.
fn secret(k: usize) -> String {
    let last = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"[k] as char;
    format!("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PX{last}")
}

fn namespace(k: usize) -> String {
    format!("live-bench-{k}")
}

/// Sets each namespace's TOTP secret with the bench's period.
async fn set_secrets(url: &str, args: &Args) -> Result<(), String> {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    for k in 0..args.secrets {
        let params = json!({
            "name": "Set Time Based OTP",
            "args": [secret(k)],
            "kwargs": {"period": args.period},
            "namespace": namespace(k),
        });
        let result = subscriber::call(&mut socket, "run_keyword", params).await?;
        if result["status"] != "PASS" {
            return Err(format!("Set Time Based OTP: {result}"));
        }
    }
    Ok(())
}

/// Opens every subscriber, `connecting` at a time; returns how many
/// subscribed.
async fn subscribe_all(
    url: &str,
    args: &Args,
    events: &mut mpsc::UnboundedReceiver<Event>,
    sender: &mpsc::UnboundedSender<Event>,
) -> Result<usize, String> {
    let mut started = 0;
    let mut subscribed = 0;
    let spawn = |i: usize| {
        let ns = namespace(i % args.secrets);
        tokio::spawn(subscriber::run(url.to_owned(), ns, sender.clone()));
    };
    while started < args.subscribers.min(args.connecting) {
        spawn(started);
        started += 1;
    }
    let deadline = tokio::time::Instant::now() + SUBSCRIBE_WITHIN;
    while subscribed < args.subscribers {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| format!("only {subscribed} subscribed in {SUBSCRIBE_WITHIN:?}"))?;
        match event {
            Some(Event::Subscribed) => subscribed += 1,
            Some(Event::Failed(e)) => return Err(format!("subscriber {subscribed}: {e}")),
            Some(Event::Code { .. }) => continue,
            None => return Err("every subscriber ended".into()),
        }
        if started < args.subscribers {
            spawn(started);
            started += 1;
        }
    }
    Ok(subscribed)
}

/// The value at quantile `q` of sorted `values`.
fn quantile(values: &[f64], q: f64) -> f64 {
    let i = ((values.len() as f64 - 1.0) * q).round() as usize;
    values[i.min(values.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("ws-subscribers: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = measure(&args).await {
        eprintln!("ws-subscribers: {e}");
        std::process::exit(1);
    }
}

async fn measure(args: &Args) -> Result<(), String> {
    let url = format!("ws://127.0.0.1:{}/jsonrpc", args.port);
    set_secrets(&url, args).await?;
    let rss_before = proc::rss_kib(args.pid).ok_or("cannot read the server's VmRSS")?;
    let anon_before = proc::rss_anon_kib(args.pid).ok_or("cannot read the server's RssAnon")?;
    let (sender, mut events) = mpsc::unbounded_channel();
    let opening = now();
    let subscribed = subscribe_all(&url, args, &mut events, &sender).await?;
    let opened_in = now() - opening;
    let rss_after = proc::rss_kib(args.pid).ok_or("cannot read the server's VmRSS")?;
    let anon_after = proc::rss_anon_kib(args.pid).ok_or("cannot read the server's RssAnon")?;

    // The next boundary at least a second away, so CPU is read before it.
    let period = args.period as f64;
    let mut boundary = ((now() / period).floor() + 1.0) * period;
    if boundary - now() < 1.0 + CPU_LEAD {
        boundary += period;
    }
    eprintln!(
        "{subscribed} subscribed in {opened_in:.1} s; waiting {:.1} s for the boundary",
        boundary - now()
    );
    // Codes of the current period (a late first one) are not the boundary's.
    let before_cpu = boundary - CPU_LEAD - now();
    tokio::time::sleep(Duration::from_secs_f64(before_cpu.max(0.0))).await;
    while events.try_recv().is_ok() {}
    let cpu_before = (proc::cpu_ns(args.pid), proc::cpu_seconds(args.pid));

    // Milliseconds after the boundary: when each code reached the client's
    // socket (the server's delay), and when the client had read it.
    let mut latencies = Vec::with_capacity(subscribed);
    let mut read_latencies = Vec::with_capacity(subscribed);
    let wait = Duration::from_secs_f64(boundary - now()) + CODES_WITHIN;
    let all_codes = async {
        while latencies.len() < subscribed {
            match events.recv().await {
                Some(Event::Code {
                    period_start,
                    arrived,
                    read,
                }) if period_start as f64 == boundary => {
                    latencies.push((arrived - boundary) * 1000.0);
                    read_latencies.push((read - boundary) * 1000.0);
                }
                Some(Event::Failed(e)) => return Err(e),
                Some(_) => {}
                None => return Err("every subscriber ended".into()),
            }
        }
        Ok(())
    };
    let finished = timeout(wait, all_codes).await;
    let cpu_after = (proc::cpu_ns(args.pid), proc::cpu_seconds(args.pid));
    let received = latencies.len();
    if let Ok(Err(e)) = finished {
        return Err(format!("a subscriber failed: {e}"));
    }

    latencies.sort_by(f64::total_cmp);
    read_latencies.sort_by(f64::total_cmp);
    let cpu_ms = match (cpu_before, cpu_after) {
        ((Some(a), _), (Some(b), _)) => (b - a) as f64 / 1e6,
        ((_, Some(a)), (_, Some(b))) => (b - a) * 1000.0,
        _ => f64::NAN,
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "subscribers            {subscribed} over {} secrets, period {} s",
        args.secrets, args.period
    );
    println!("opened in              {opened_in:.1} s");
    println!(
        "server RSS             {:.1} MiB before, {:.1} MiB after ({:+.1} MiB)",
        mib(rss_before),
        mib(rss_after),
        mib(rss_after) - mib(rss_before)
    );
    println!(
        "memory per subscriber  {:.2} KiB",
        (rss_after as f64 - rss_before as f64) / subscribed as f64
    );
    println!(
        "server RssAnon         {:.1} MiB before, {:.1} MiB after ({:.2} KiB per subscriber)",
        mib(anon_before),
        mib(anon_after),
        (anon_after as f64 - anon_before as f64) / subscribed as f64
    );
    println!(
        "server CPU at boundary {cpu_ms:.1} ms (from {:.1} s before the boundary to the last code)",
        CPU_LEAD
    );
    if received > 0 {
        let summary = |values: &[f64]| {
            format!(
                "first {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                values[0],
                quantile(values, 0.5),
                quantile(values, 0.99),
                values[values.len() - 1]
            )
        };
        println!(
            "code after boundary    {} ({received} of {subscribed}; in the client's socket, the kernel's stamp)",
            summary(&latencies)
        );
        println!(
            "code read by client    {} (when the client had read and parsed it)",
            summary(&read_latencies)
        );
    }
    // A code in the client's socket before its period began was sent early.
    let early = latencies.iter().filter(|&&ms| ms < 0.0).count();
    if early > 0 {
        return Err(format!("{early} codes arrived before their period began"));
    }
    if received < subscribed {
        return Err(format!(
            "{} subscribers had no code of the boundary's period within {CODES_WITHIN:?}",
            subscribed - received
        ));
    }
    // The sockets stay open a moment after the figures are printed, so a
    // profiler stopped on them sees no teardown.
    tokio::time::sleep(LINGER).await;
    Ok(())
}
