//! `switchboard bench sip`: real SIP load from sipp through the whole center (SQLite store,
//! the ACD host, the B2BUA and its RTP relay) and the figures the telephony issue asks for.
//!
//! sipp (Debian `sip-tester`) places calls at `--rate` per second, each talking RTP for
//! `--talk-ms` (so rate × talk is the concurrency); a second sipp answers every agent's
//! phone (one fixed contact per agent) and echoes its RTP. Printed: calls made and failed,
//! the most calls in progress, p50/p99/max from the caller's INVITE to the agent's INVITE
//! (measured inside the server), and the server's resident memory before, at peak and after.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use switchboard_acd::{
    AgentConfig, AgentId, Config, Event, QueueConfig, QueueId, Requested, SkillId,
};
use switchboard_acd_host::AcdHost;
use switchboard_sip::{SipAccount, SipConfig, Telephony};
use switchboard_store::Store;
use switchboard_store_sqlite::SqliteStore;

const CALLER: &str = include_str!("../../sip/tests/sipp/caller_load.xml");
const AGENT: &str = include_str!("../../sip/tests/sipp/agent_answers.xml");

#[derive(Debug, Args)]
pub struct SipBench {
    /// Call setups per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Calls in all.
    #[arg(long, default_value_t = 6_000)]
    calls: u32,
    /// How long each call talks (RTP both ways), in milliseconds.
    #[arg(long, default_value_t = 3_000)]
    talk_ms: u32,
    /// Agents (each has a phone; more than the concurrency so one is always free).
    #[arg(long, default_value_t = 400)]
    agents: u64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn write_scenario(
    dir: &Path,
    name: &str,
    text: &str,
    keys: &[(&str, String)],
) -> anyhow::Result<std::path::PathBuf> {
    let mut t = text.to_owned();
    for (k, v) in keys {
        t = t.replace(&format!("[{k}]"), v);
    }
    let path = dir.join(name);
    std::fs::write(&path, t)?;
    Ok(path)
}

pub async fn run(args: &SipBench) -> anyhow::Result<()> {
    if args.rate == 0 || args.calls == 0 || args.agents == 0 {
        bail!("--rate, --calls and --agents must be at least 1");
    }
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).await?);
    let mut queue = QueueConfig::new(QueueId(1), "inquiry desk", SkillId(1));
    queue.ring_timeout = 10_000;
    let acd = Config {
        queues: vec![queue],
        agents: (1..=args.agents)
            .map(|i| AgentConfig {
                id: AgentId(i),
                name: format!("agent {i}"),
                skills: vec![(SkillId(1), 5)],
                after_call_limit: 0,
                user: Some(format!("a{i}")),
            })
            .collect(),
        ..Config::default()
    };
    let host = AcdHost::open(store.clone(), acd, switchboard_acd_host::system_clock()).await?;
    let ticker = tokio::spawn(host.clone().run_ticker());
    let phones = free_port()?;
    let cfg = SipConfig {
        listen: "127.0.0.1:0".parse()?,
        domain: "bench.test".to_owned(),
        max_calls: (args.rate * args.talk_ms / 1000 * 2).max(100) as usize,
        accounts: (1..=args.agents)
            .map(|i| SipAccount {
                user: format!("a{i}"),
                password: None,
                contact: Some(format!("sip:a{i}@127.0.0.1:{phones}")),
            })
            .collect(),
        ..SipConfig::default()
    };
    let tel = Telephony::start(cfg, host.clone()).await?;
    for i in 1..=args.agents {
        host.submit(Event::AgentStateChanged {
            agent: AgentId(i),
            to: Requested::LogIn,
            forced: false,
        })
        .await?;
    }
    let sip = tel.local_addr();
    let tone: Vec<u8> = switchboard_media::tone::tone(&[1_000.0], 0.3, 3_000)
        .into_iter()
        .map(switchboard_media::g711::ulaw_encode)
        .collect();
    let tone_path = dir.path().join("tone.ulaw");
    std::fs::write(&tone_path, tone)?;
    let agent_xml = write_scenario(
        dir.path(),
        "agent.xml",
        AGENT,
        &[("center", sip.to_string())],
    )?;
    let caller_xml = write_scenario(
        dir.path(),
        "caller.xml",
        CALLER,
        &[
            ("caller", "+12025550100".to_owned()),
            ("rtp_file", tone_path.display().to_string()),
            ("talk", args.talk_ms.to_string()),
        ],
    )?;
    let sipp = |xml: &Path, extra: Vec<String>| -> anyhow::Result<tokio::process::Child> {
        tokio::process::Command::new("sipp")
            .arg("-sf")
            .arg(xml)
            .args(["-i", "127.0.0.1", "-nostdin", "-m", &args.calls.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("running sipp (Debian package sip-tester)")
    };
    let mut agents = sipp(
        &agent_xml,
        vec![
            "-p".into(),
            phones.to_string(),
            "-mp".into(),
            free_port()?.to_string(),
            "-rtp_echo".into(),
        ],
    )?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib();
    let started = Instant::now();
    let concurrency = (args.rate * args.talk_ms / 1000 + 50).to_string();
    let mut callers = sipp(
        &caller_xml,
        vec![
            sip.to_string(),
            "-s".into(),
            "1000".into(),
            "-r".into(),
            args.rate.to_string(),
            "-l".into(),
            concurrency,
            "-p".into(),
            free_port()?.to_string(),
            "-mp".into(),
            free_port()?.to_string(),
            "-trace_stat".into(),
            "-stf".into(),
            dir.path().join("stat.csv").display().to_string(),
            "-fd".into(),
            "1".into(),
            "-trace_err".into(),
            "-error_file".into(),
            dir.path().join("errors.log").display().to_string(),
        ],
    )?;
    let (mut peak_calls, mut peak_rss) = (0, rss_before);
    let status = loop {
        if let Some(s) = callers.try_wait()? {
            break s;
        }
        let s = tel.stats();
        peak_calls = peak_calls.max(s.calls);
        peak_rss = peak_rss.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let elapsed = started.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(10), agents.wait()).await;
    let _ = agents.kill().await;
    let mut released = tel.stats();
    for _ in 0..100 {
        released = tel.stats();
        if released.calls == 0 && released.media_legs == 0 && released.dialogs == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_after = rss_kib();
    let failed = last_stat(&dir.path().join("stat.csv"), "FailedCall(C)");
    let ok = last_stat(&dir.path().join("stat.csv"), "SuccessfulCall(C)");
    let mut lat = tel.take_offer_latencies();
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |v| f64::from(*v) / 1000.0)
    };
    println!(
        "sipp: {} calls at {}/s, {} ms of RTP each, {} agents",
        args.calls, args.rate, args.talk_ms, args.agents
    );
    println!(
        "sipp exit: {status}; successful {ok:?}, failed {failed:?}; {:.1} s",
        elapsed.as_secs_f64()
    );
    println!("most calls in progress at once: {peak_calls}");
    println!(
        "INVITE to agent INVITE ({} calls): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "server RSS: {} MiB before, {} MiB at peak, {} MiB after",
        rss_before / 1024,
        peak_rss / 1024,
        rss_after / 1024
    );
    println!("left after the run: {released:?}");
    if failed.unwrap_or(0) > 0 {
        // Why they failed: sipp's failure counters, then the start of its error log.
        let stat = dir.path().join("stat.csv");
        for column in failure_columns(&stat) {
            if let Some(n) = last_stat(&stat, &column).filter(|n| *n > 0) {
                println!("  {column}: {n}");
            }
        }
        let errors = std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
        for line in errors.lines().take(20) {
            println!("  sipp: {line}");
        }
    }
    tel.shutdown().await;
    ticker.abort();
    Ok(())
}

/// The cumulative failure columns of sipp's statistics file.
fn failure_columns(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .next()
        .unwrap_or_default()
        .split(';')
        .filter(|h| h.starts_with("Failed") && h.ends_with("(C)") && *h != "FailedCall(C)")
        .map(str::to_owned)
        .collect()
}

/// The last value of a column of sipp's statistics file.
fn last_stat(path: &Path, column: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let i = header.iter().position(|h| *h == column)?;
    lines.last()?.split(';').nth(i)?.trim().parse().ok()
}
