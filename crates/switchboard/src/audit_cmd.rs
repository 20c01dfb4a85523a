//! `switchboard audit verify|prove|key` and `switchboard bench audit`: the audit log from the
//! command line, against the configured database and key.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use switchboard_audit::{VerifyingKey, parse_public_key, public_key};
use switchboard_audit_host::{AuditConfig, AuditLog, Verification, hex, prove, verify_store};
use switchboard_store::Store;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole log: every entry, every checkpoint's signature, consistency between
    /// checkpoints. Exits 1 and names the first inconsistency when there is one.
    Verify(KeyArgs),
    /// Produce and check the inclusion proof of one entry against the newest signed
    /// checkpoint that covers it.
    Prove {
        /// The entry's sequence number.
        #[arg(long)]
        seq: u64,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Print the log's public key (what verifiers are given), from the signing key file.
    Key,
}

#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The log's Ed25519 public key, 64 hex digits; by default derived from the configured
    /// signing key file. A verifier outside the center passes the published key here.
    #[arg(long)]
    public_key: Option<String>,
}

/// Reads the signing seed, creating the file with a fresh random key (readable by its owner
/// only) when `create` and it does not exist.
pub fn signing_seed(path: &Path, create: bool) -> anyhow::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => switchboard_audit::hash_from_hex(&text).with_context(|| {
            format!(
                "{} must hold the audit signing key as 64 hex digits",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            write_private(path, &hex(&seed))
                .with_context(|| format!("writing the audit key {}", path.display()))?;
            tracing::info!(path = %path.display(), "created a new audit signing key");
            Ok(seed)
        }
        Err(e) => Err(e).with_context(|| format!("reading the audit key {}", path.display())),
    }
}

pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

fn verifying_key(args: &KeyArgs, key_file: &Path) -> anyhow::Result<VerifyingKey> {
    match &args.public_key {
        Some(hex) => parse_public_key(hex)
            .context("--public-key must be 64 hex digits of an Ed25519 public key"),
        None => Ok(public_key(&signing_seed(key_file, false)?)),
    }
}

/// Runs an audit subcommand; `Ok(false)` when the log failed verification.
pub async fn run(
    command: &AuditCommand,
    store: Arc<dyn Store>,
    origin: &str,
    key_file: &Path,
) -> anyhow::Result<bool> {
    match command {
        AuditCommand::Key => {
            println!(
                "{}",
                hex(public_key(&signing_seed(key_file, false)?).as_bytes())
            );
            Ok(true)
        }
        AuditCommand::Verify(args) => {
            let key = verifying_key(args, key_file)?;
            let started = Instant::now();
            let found = verify_store(store.as_ref(), origin, &key).await?;
            let secs = started.elapsed().as_secs_f64();
            match found {
                Verification::Good(v) => {
                    println!(
                        "audit log {origin:?} verified: {} entries, {} checkpoints, {} entries not yet signed ({secs:.2} s)",
                        v.entries, v.checkpoints, v.unsigned_tail
                    );
                    Ok(true)
                }
                Verification::Bad(e) => {
                    println!("audit log {origin:?} FAILED verification: {e}");
                    Ok(false)
                }
            }
        }
        AuditCommand::Prove { seq, key } => {
            let key = verifying_key(key, key_file)?;
            let (entry, cp, proof, good) = prove(store.as_ref(), origin, &key, *seq).await?;
            println!(
                "entry {}: {} by {} at {} ms",
                entry.seq, entry.action, entry.actor.username, entry.at_ms
            );
            println!("leaf hash   {}", hex(&proof.leaf));
            println!(
                "checkpoint  size {} root {} signed at {} ms",
                cp.size,
                hex(&cp.root),
                cp.at_ms
            );
            println!("proof       {} hashes", proof.path.len());
            for h in &proof.path {
                println!("  {}", hex(h));
            }
            if good {
                println!("inclusion proof VERIFIED against the signed checkpoint");
                Ok(true)
            } else {
                println!(
                    "inclusion proof FAILED: the entry is not in the tree the checkpoint signed"
                );
                Ok(false)
            }
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditBench {
    /// Entries appended one per action by concurrent tasks (the throughput figure).
    #[arg(long, default_value_t = 100_000)]
    appends: u64,
    /// Tasks appending at once.
    #[arg(long, default_value_t = 256)]
    concurrency: u64,
    /// Entries in the log verified end to end (filled in bulk after the appends).
    #[arg(long, default_value_t = 1_000_000)]
    verify: u64,
}

/// A realistic entry: a lookup with purpose, caller, query keys and records.
fn bench_entry(i: u64) -> switchboard_audit::Entry {
    let mut e = switchboard_audit::Entry::new(
        "lookup",
        switchboard_audit::Actor {
            user: Some(format!("0193b0c4-7d2e-7000-8000-{:012x}", i % 40)),
            username: format!("ct.user{}", i % 40),
            role: Some("call_taker".into()),
            session: Some(format!("s{:08x}", i % 97)),
            address: Some("10.20.30.40".into()),
        },
        1_795_442_400_000 + i as i64,
    );
    e.caller = Some(switchboard_audit::Caller {
        call: Some(format!("0193b0c4-8000-7000-8000-{i:012x}")),
        officer: Some("0193b0c4-9000-7000-8000-000000000001".into()),
        ori: Some("TX1234500".into()),
        phone: Some("+15125550123".into()),
        verified: "ani_registry".into(),
    });
    e.purpose = Some(switchboard_audit::Purpose {
        code: "C".into(),
        reason: "booking, identity check".into(),
        case_number: Some(format!("24-{i:06}")),
    });
    e.query = vec![
        format!("name:garcia lopez maria {}", i % 1000),
        "dob:1990-04-12".into(),
    ];
    e.systems = vec!["identity".into(), "immigration_case".into()];
    e.records = vec![format!("IDN-{:08}", i % 5000)];
    e.result = Some("probable".into());
    e
}

pub async fn bench(args: &AuditBench) -> anyhow::Result<()> {
    if args.appends == 0 || args.concurrency == 0 || args.verify < args.appends {
        bail!("--appends and --concurrency must be positive and --verify at least --appends");
    }
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(
        switchboard_store_sqlite::SqliteStore::open(&dir.path().join("audit-bench.db")).await?,
    );
    let seed = [42u8; 32];
    let clock: switchboard_audit_host::Clock =
        Arc::new(|| time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000);
    let log = AuditLog::open(store.clone(), AuditConfig::new("bench", seed), clock).await?;

    println!(
        "appending {} entries, one per call, from {} concurrent tasks (SQLite, synchronous=FULL) ...",
        args.appends, args.concurrency
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    let per = args.appends / args.concurrency;
    let mut latencies = Vec::new();
    for t in 0..args.concurrency {
        let log = log.clone();
        let n = if t == args.concurrency - 1 {
            args.appends - per * (args.concurrency - 1)
        } else {
            per
        };
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(n as usize);
            for i in 0..n {
                let t0 = Instant::now();
                log.append(bench_entry(t * 1_000_000 + i)).await?;
                lat.push(t0.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok(lat)
        }));
    }
    for t in tasks {
        latencies.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let q = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "  {:.0} durable appends/s ({:.2} s); latency per append p50 {:.2} ms, p99 {:.2} ms",
        args.appends as f64 / secs,
        secs,
        q(0.5),
        q(0.99)
    );

    let rest = args.verify - args.appends;
    if rest > 0 {
        println!(
            "filling to {} entries in batches of 10,000 ...",
            args.verify
        );
        let started = Instant::now();
        let mut done = 0;
        while done < rest {
            let n = (rest - done).min(10_000);
            log.append_all((done..done + n).map(bench_entry).collect())
                .await?;
            done += n;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "  {:.0} appends/s in batches ({secs:.2} s)",
            rest as f64 / secs
        );
    }
    log.checkpoint().await?;
    let checkpoints = log.checkpoints().len();
    drop(log);

    let bytes = std::fs::metadata(dir.path().join("audit-bench.db"))?.len();
    println!(
        "verifying {} entries and {checkpoints} checkpoints end to end (database {:.0} MiB) ...",
        args.verify,
        bytes as f64 / 1048576.0
    );
    let started = Instant::now();
    let found = verify_store(store.as_ref(), "bench", &public_key(&seed)).await?;
    let secs = started.elapsed().as_secs_f64();
    match found {
        Verification::Good(v) => println!(
            "  verified {} entries, {} checkpoints in {secs:.2} s ({:.0} entries/s)",
            v.entries,
            v.checkpoints,
            v.entries as f64 / secs
        ),
        Verification::Bad(e) => bail!("the benchmark's own log failed verification: {e}"),
    }
    Ok(())
}
