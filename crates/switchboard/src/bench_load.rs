//! `switchboard bench load`: the server under many connections with admission control on.
//! A server on a temporary SQLite database (loopback, a port of its own), a number of
//! call-taker sessions, and `--connections` clients each on a connection of its own sending
//! audited requests (`GET /api/v1/agencies`) as fast as they are answered for `--seconds`.
//! Reported: admitted requests a second and their latency (p50, p99), and the requests shed
//! (503 at the in-flight bound, 429 over a session's rate) with the latency of the refusal.
//! A client that is refused waits as `Retry-After` says before its next request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use switchboard_domain::{Name, NewUser, Role, Username};
use switchboard_store::Store;
use switchboard_store_sqlite::SqliteStore;
use switchboard_web::AppState;
use time::OffsetDateTime;

#[derive(Debug, Args)]
pub struct LoadBench {
    /// Client connections, each sending one request at a time.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds of load (after a 2-second warm-up).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Sessions the connections share (each logs on once).
    #[arg(long, default_value_t = 32)]
    sessions: usize,
}

const PASSWORD: &str = "loadbench-tamale-77";

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub async fn run(args: &LoadBench) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&args.connections),
        "--connections must be 1 to 10000"
    );
    anyhow::ensure!(
        (1..=600).contains(&args.seconds),
        "--seconds must be 1 to 600"
    );
    anyhow::ensure!(
        (1..=500).contains(&args.sessions),
        "--sessions must be 1 to 500"
    );
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("load.db")).await?);
    let clock: switchboard_audit_host::Clock =
        Arc::new(|| (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64);
    let audit = switchboard_audit_host::AuditLog::open(
        store.clone(),
        switchboard_audit_host::AuditConfig::new("switchboard-bench", [7; 32]),
        clock,
    )
    .await?;
    let mut secrets = Vec::new();
    let mut key = [0u8; switchboard_accounts::sealed::KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    let sealing = switchboard_accounts::sealed::SealingKey::from_bytes(key);
    for i in 0..args.sessions {
        let actor = switchboard_audit::Actor {
            username: "system:bench".to_owned(),
            ..Default::default()
        };
        let new = NewUser {
            username: Username::parse(&format!("load{i:03}"))?,
            display_name: Name::parse("Load Bench")?,
            role: Role::CallTaker,
        };
        let now = switchboard_domain::stored_precision(OffsetDateTime::now_utc());
        let keepers = switchboard_web::api::users::Keepers {
            store: store.as_ref(),
            audit: &audit,
            sealing: &sealing,
        };
        let e = switchboard_web::api::users::enrol(keepers, actor, new, PASSWORD, now, None)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.body.message))?;
        secrets.push((e.user.username.to_string(), e.totp_secret));
    }
    let mut state = AppState::new(store.clone()).with_audit(audit);
    state.cookie_secure = false;
    state.sealing = std::sync::Arc::new(sealing);
    let limits = state
        .admission
        .as_ref()
        .map(|a| a.limits.clone())
        .context("admission control is on by default")?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard_web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");

    // Log the sessions on (each from an address of its own, so that the logon throttle of one
    // address is not what is measured).
    let mut cookies = Vec::new();
    for (i, (user, secret)) in secrets.iter().enumerate() {
        let ip: std::net::IpAddr = format!("127.0.{}.{}", 1 + i / 200, 10 + i % 200).parse()?;
        let client = reqwest::Client::builder().local_address(ip).build()?;
        let code = switchboard_accounts::totp::code_at(
            secret,
            OffsetDateTime::now_utc().unix_timestamp() as u64,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let res = client
            .post(format!("{base}/api/v1/session"))
            .json(&json!({"username": user, "password": PASSWORD, "totp": code}))
            .send()
            .await?;
        anyhow::ensure!(
            res.status().as_u16() == 201,
            "logon of {user}: {}",
            res.status()
        );
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        cookies.push(cookie);
    }

    let warm = Duration::from_secs(2);
    let run_for = Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let cookie = cookies[c % cookies.len()].clone();
        let url = format!("{base}/api/v1/agencies");
        let ip: std::net::IpAddr = format!("127.0.{}.{}", 10 + c / 200, 10 + c % 200).parse()?;
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .local_address(ip)
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a client");
            let mut out: Vec<(u16, f64)> = Vec::new();
            loop {
                let t = Instant::now();
                if t.duration_since(started) >= warm + run_for {
                    break;
                }
                let (status, retry) = match client.get(&url).header("cookie", &cookie).send().await
                {
                    Ok(res) => {
                        let s = res.status().as_u16();
                        let retry = res
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<u64>().ok());
                        let _ = res.bytes().await;
                        (s, retry)
                    }
                    Err(_) => (0, None),
                };
                if t.duration_since(started) >= warm {
                    out.push((status, t.elapsed().as_secs_f64() * 1000.0));
                }
                if status == 429 || status == 503 {
                    // A client told to retry later does, as Retry-After says.
                    tokio::time::sleep(Duration::from_secs(retry.unwrap_or(1).clamp(1, 5))).await;
                }
            }
            out
        }));
    }
    let mut ok = Vec::new();
    let mut shed_503 = Vec::new();
    let mut shed_429 = Vec::new();
    let mut other = 0usize;
    for t in tasks {
        for (s, ms) in t.await? {
            match s {
                200 => ok.push(ms),
                503 => shed_503.push(ms),
                429 => shed_429.push(ms),
                _ => other += 1,
            }
        }
    }
    let _ = stop.send(());
    let _ = server.await;
    for v in [&mut ok, &mut shed_503, &mut shed_429] {
        v.sort_by(f64::total_cmp);
    }
    let secs = args.seconds as f64;
    println!(
        "connections {}, sessions {}, {} s (limits: {} in flight, {}/s per session, burst {})",
        args.connections,
        cookies.len(),
        args.seconds,
        limits.max_in_flight,
        limits.session_rate,
        limits.session_burst
    );
    println!(
        "admitted: {} ({:.0}/s), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ok.len(),
        ok.len() as f64 / secs,
        pct(&ok, 0.5),
        pct(&ok, 0.99),
        ok.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "shed 503: {} ({:.0}/s), p99 {:.2} ms; shed 429: {} ({:.0}/s), p99 {:.2} ms; other (errors, timeouts): {other}",
        shed_503.len(),
        shed_503.len() as f64 / secs,
        pct(&shed_503, 0.99),
        shed_429.len(),
        shed_429.len() as f64 / secs,
        pct(&shed_429, 0.99),
    );
    Ok(())
}
