//! The `switchboard` binary: reads configuration, sets up logging, opens the store and runs a
//! subcommand. It owns wiring only; behaviour lives in the library crates.

#![forbid(unsafe_code)]

mod audit_cmd;
mod bench_file;
mod bench_load;
mod bench_matching;
mod bench_pages;
mod bench_records;
mod bench_sip;
mod config;
mod link_cmd;
mod records_cmd;
mod simulate;
mod simulate_cmd;
mod staffing_cmd;
mod synth_cmd;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use switchboard_acd_host::AcdHost;
use switchboard_domain::{AgreementStatus, CertificationStatus, assess_caller};
use switchboard_store::Store;
use switchboard_store_postgres::PgStore;
use switchboard_store_sqlite::SqliteStore;
use switchboard_synth::registry::{self, Registry, RegistrySpec};
use switchboard_web::AppState;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::config::{Config, LogFormat, Overrides};

/// Switchboard: the platform of a 24/7 law-enforcement support center.
#[derive(Debug, Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    /// Configuration file; missing is fine, unreadable is an error.
    #[arg(long, global = true, default_value = "switchboard.toml")]
    config: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); overrides SWITCHBOARD_DATABASE_URL.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Folder for the embedded database; overrides SWITCHBOARD_DATA_DIR.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log filter, e.g. `info` or `debug`; overrides SWITCHBOARD_LOG.
    #[arg(long, global = true)]
    log: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server on the configured database (migrations are applied first).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// The newcomer's tour: a fresh SQLite database with a made-up registry, and the server.
    ///
    /// Deletes and recreates `demo.db` in the data folder every time, seeds it, places
    /// simulated calls, starts the server and prints the address to open and numbers to try.
    /// A database configured in switchboard.toml or SWITCHBOARD_DATABASE_URL is never touched;
    /// only --database-url on this command line sends the demo elsewhere.
    Demo {
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Seed of the generated registry: the same seed gives the same agencies and officers.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Number of agencies to generate (1 to 2,000).
        #[arg(long, default_value_t = 36)]
        agencies: usize,
        /// Simulated calls per hour (0 for none). The real center takes about 270 an hour on
        /// average; the default is livelier so there is something to see.
        #[arg(long, default_value_t = 600.0)]
        calls_per_hour: f64,
        /// Mean seconds a simulated caller waits before hanging up.
        #[arg(long, default_value_t = 90.0)]
        patience_secs: f64,
        /// Mean seconds a simulated call-taker talks.
        #[arg(long, default_value_t = 120.0)]
        handle_secs: f64,
        /// People whose records (in the six record systems) are generated into the demo
        /// database (0 for none).
        #[arg(long, default_value_t = 100_000)]
        people: u64,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Add a generated registry to the configured database and exit.
    Seed {
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, default_value_t = 36)]
        agencies: usize,
    },
    /// Generate a synthetic data set as CSV: people (the truth), their records in six record
    /// systems with realistic errors, and the truth file mapping every record to its person.
    Synth(synth_cmd::SynthArgs),
    /// Print the effective configuration (after file, environment and flags) and exit.
    Config,
    /// Link two CSV files with a model described in TOML; writes scored pairs.
    ///
    /// The model is trained on the files themselves (u from random pairs, m by EM), and the
    /// strong threshold is chosen without labels and printed.
    Link(link_cmd::LinkArgs),
    /// Find the rows of one CSV file that are the same entity; writes scored pairs.
    Dedupe(link_cmd::DedupeArgs),
    /// Score a pairs file against a truth file: precision, recall, F1, false positives and
    /// false negatives.
    Eval(link_cmd::EvalArgs),
    /// Simulate days of calls through the real call distributor and report service level,
    /// ASA, abandonment and occupancy per interval and for the run.
    Simulate(simulate_cmd::SimulateArgs),
    /// How many call-takers each interval needs (Erlang C, or Erlang A with --patience), the
    /// staff to schedule with shrinkage, a shift schedule, CSV export, and a simulated check.
    Staffing(staffing_cmd::StaffingArgs),
    /// Measure a part of the system and print the figures (release build recommended).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The tamper-evident audit log: verify it end to end, prove an entry's inclusion, print
    /// the public key.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Live records: import a file of records into the configured database (a running
    /// server's index picks them up within a second).
    #[command(subcommand)]
    Records(records_cmd::RecordsCommand),
    /// Create a user account (the first administrator, say). The password is read from
    /// SWITCHBOARD_NEW_PASSWORD or, when that is unset, from the first line of standard input;
    /// the second factor's secret is printed once, to enrol in an authenticator app.
    AddUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// call_taker, supervisor, juvenile_liaison, legal_reviewer, auditor, administrator or
        /// planner.
        #[arg(long)]
        role: String,
    },
    /// Break glass: end the lock failed logons put on an account, on the server's machine (a
    /// lock also ends by itself after 15 minutes, and an administrator can end it on the
    /// admin page). Audited as done by the command line; safe while a server runs.
    UnlockUser {
        #[arg(long)]
        username: String,
    },
    /// Print the current one-time code for a TOTP secret (for trying the API from a shell;
    /// people use an authenticator app).
    Totp {
        /// The Base32 secret printed when the account was made.
        secret: String,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Identity resolution: index build, lookup latency and accuracy against the truth.
    Matching(bench_matching::MatchingBench),
    /// The audit log: durable appends per second from concurrent actions, and verifying a
    /// log of a million entries, on a temporary SQLite file.
    Audit(audit_cmd::AuditBench),
    /// Telephony: sipp callers at 100 setups/s with RTP through the whole center, agents'
    /// phones answering; failed calls, concurrency, INVITE-to-agent latency, memory.
    Sip(bench_sip::SipBench),
    /// The desktops: server time of every page and page action with a million people in the
    /// records (generated into a temporary SQLite database).
    Pages(bench_pages::PagesBench),
    /// Admission control under many connections: admitted requests a second and their
    /// latency, and how fast the excess is refused (503/429).
    Load(bench_load::LoadBench),
    /// Due process over the whole file, on the demo's data: how many adults with a final order
    /// and no protective record can be confirmed (and why the others cannot), and whether a
    /// court order left out of the chosen records still blocks.
    File(bench_file::FileBench),
    /// Live records: record accepted -> searchable under a steady feed while lookups run,
    /// lookup latency without and with the feed, the snapshot's size and times, a restart.
    Records(bench_records::RecordsBench),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } | Command::Demo { listen, .. } => *listen,
        _ => None,
    };
    let overrides = Overrides {
        listen,
        database_url: cli.database_url.clone(),
        data_dir: cli.data_dir.clone(),
        log: cli.log.clone(),
    };
    let config = Config::load(&cli.config, &overrides)
        .with_context(|| format!("reading configuration (file {})", cli.config.display()))?;
    init_tracing(&config)?;
    // The demo writes made-up data, so it only ever uses a database named on its own command
    // line, never one configured for real use by file or environment.
    let demo_database = cli.database_url.clone();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli.command, config, demo_database))
}

/// The log filter of `log`. The SIP stack logs whole messages (digest `Authorization`
/// headers included) at `info`: it is held to `warn` unless the filter names it itself.
fn log_filter(log: &str) -> anyhow::Result<tracing_subscriber::EnvFilter> {
    let mut filter = tracing_subscriber::EnvFilter::try_new(log)
        .with_context(|| format!("invalid log filter {log:?}"))?;
    if !log.contains("rsipstack") {
        filter = filter.add_directive("rsipstack=warn".parse()?);
    }
    Ok(filter)
}

fn init_tracing(config: &Config) -> anyhow::Result<()> {
    let filter = log_filter(&config.log)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

async fn run(
    command: Command,
    config: Config,
    demo_database: Option<String>,
) -> anyhow::Result<()> {
    match command {
        Command::Serve { .. } => {
            let acd = config.acd_config()?;
            let store = open_store(&config.database_url()).await?;
            let host = open_acd(store.clone(), acd).await?;
            let sip = config.sip.clone().map(|mut s| {
                s.cdr_file
                    .get_or_insert_with(|| config.data_dir.join("cdr.jsonl"));
                s
            });
            serve(store, host, &config, sip, None).await
        }
        Command::Demo {
            seed,
            agencies,
            calls_per_hour,
            patience_secs,
            handle_secs,
            people,
            ..
        } => {
            let spec = registry_spec(seed, agencies)?;
            if !(0.0..=360_000.0).contains(&calls_per_hour)
                || !(0.1..=86_400.0).contains(&patience_secs)
                || !(0.1..=86_400.0).contains(&handle_secs)
            {
                bail!(
                    "--calls-per-hour must be 0 to 360000, --patience-secs and --handle-secs \
                     0.1 to 86400"
                );
            }
            let acd = config.acd_config()?;
            let url = match demo_database {
                Some(url) => url,
                None => {
                    let path = config.data_dir.join("demo.db");
                    remove_sqlite_files(&path)?;
                    config::sqlite_url(&path)
                }
            };
            let store = open_store(&url).await?;
            let reg = registry::generate(
                spec,
                switchboard_domain::stored_precision(OffsetDateTime::now_utc()),
            );
            seed_registry(store.as_ref(), &reg).await?;
            let mut sample_subject = None;
            if people > 0 {
                let today = OffsetDateTime::now_utc().date();
                let people_spec =
                    switchboard_synth::people::PeopleSpec::new(seed, people.min(10_000_000), today);
                let record_spec = switchboard_synth::records::RecordSpec {
                    seed,
                    noise: switchboard_synth::noise::NoiseSpec::default(),
                    today,
                };
                let s = synth_cmd::generate(
                    people_spec,
                    record_spec.clone(),
                    None,
                    Some(store.clone()),
                    false,
                )
                .await?;
                tracing::info!(
                    people = s.people,
                    records = s.records,
                    seconds = s.seconds,
                    "demo records generated"
                );
                sample_subject = demo_subject(people_spec, &record_spec);
            }
            let sim = simulate::CallerSim {
                known: reg
                    .officers
                    .iter()
                    .flat_map(|o| o.phones.iter().cloned())
                    .collect(),
                calls_per_hour,
                mean_patience: Duration::from_secs_f64(patience_secs),
                mean_handle: Duration::from_secs_f64(handle_secs),
                seed,
                reserved: vec!["ct24".to_owned(), "jl03".to_owned()],
            };
            let host = open_acd(store.clone(), acd).await?;
            let sip = Some(config.sip.clone().unwrap_or_else(|| demo_sip(&config)));
            let people = tokio::spawn(sim.run(host.clone()));
            // Record systems change while calls flow: a stay, a status change, a new
            // citizenship record, one every 20 s.
            let feed = tokio::spawn(records_cmd::demo_feed(
                store.clone(),
                Duration::from_secs(20),
                seed,
            ));
            // The demo's own snapshot: never the one of a database configured for real use.
            let mut config = config;
            if config.records.snapshot.is_none() {
                config.records.snapshot = Some(config.data_dir.join("demo.index.snapshot"));
            }
            let served = serve(store, host, &config, sip, Some((reg, sample_subject))).await;
            people.abort();
            feed.abort();
            served
        }
        Command::Migrate => {
            let store = open_store(&config.database_url()).await?;
            println!("{} database is migrated", store.backend());
            Ok(())
        }
        Command::Seed { seed, agencies } => {
            let spec = registry_spec(seed, agencies)?;
            let store = open_store(&config.database_url()).await?;
            let reg = registry::generate(
                spec,
                switchboard_domain::stored_precision(OffsetDateTime::now_utc()),
            );
            seed_registry(store.as_ref(), &reg).await?;
            println!(
                "added {} agencies, {} agreements, {} officers",
                reg.agencies.len(),
                reg.agreements.len(),
                reg.officers.len()
            );
            Ok(())
        }
        Command::Config => {
            print!("{}", toml_of(&config));
            Ok(())
        }
        Command::Synth(args) => {
            let store = if args.database() {
                Some(open_store(&config.database_url()).await?)
            } else {
                None
            };
            synth_cmd::run(&args, store).await
        }
        Command::Staffing(args) => {
            let acd = config.acd_config()?;
            let tz = acd.validate()?;
            let store = if args.needs_store() {
                Some(open_store(&config.database_url()).await?)
            } else {
                None
            };
            staffing_cmd::run(&args, store, tz).await
        }
        Command::Simulate(args) => {
            tokio::task::spawn_blocking(move || simulate_cmd::run(&args)).await?
        }
        Command::Link(args) => tokio::task::spawn_blocking(move || link_cmd::link(&args)).await?,
        Command::Dedupe(args) => {
            tokio::task::spawn_blocking(move || link_cmd::dedupe(&args)).await?
        }
        Command::Eval(args) => tokio::task::spawn_blocking(move || link_cmd::eval(&args)).await?,
        Command::Bench(BenchCommand::Audit(args)) => audit_cmd::bench(&args).await,
        Command::Bench(BenchCommand::Sip(args)) => bench_sip::run(&args).await,
        Command::Bench(BenchCommand::Pages(args)) => bench_pages::run(&args).await,
        Command::Bench(BenchCommand::Load(args)) => bench_load::run(&args).await,
        Command::Bench(BenchCommand::File(args)) => bench_file::run(&args).await,
        Command::Bench(BenchCommand::Records(args)) => bench_records::run(&args).await,
        Command::Totp { secret } => {
            let now = OffsetDateTime::now_utc().unix_timestamp() as u64;
            let code = switchboard_accounts::totp::code_at(secret.trim(), now)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{code}");
            Ok(())
        }
        Command::AddUser {
            username,
            display_name,
            role,
        } => {
            let password = match std::env::var("SWITCHBOARD_NEW_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let store = open_store(&config.database_url()).await?;
            let audit = open_audit(store.clone(), &config).await?;
            let sealing = open_sealing(store.as_ref(), &config).await?;
            let new = switchboard_domain::NewUser {
                username: switchboard_domain::Username::parse(&username)
                    .map_err(|e| anyhow::anyhow!("--username: {e}"))?,
                display_name: switchboard_domain::Name::parse(&display_name)
                    .map_err(|e| anyhow::anyhow!("--display-name: {e}"))?,
                role: switchboard_domain::Role::parse(&role)
                    .map_err(|e| anyhow::anyhow!("--role: {e}"))?,
            };
            let e = add_user(
                store.as_ref(),
                &audit,
                &sealing,
                new,
                &password,
                "command line",
            )
            .await?;
            println!(
                "user {} created ({})",
                e.user.username,
                e.user.role.as_str()
            );
            println!(
                "second factor secret (enrol it now; it is not shown again): {}",
                e.totp_secret
            );
            println!("  {}", e.otpauth_uri);
            audit.checkpoint().await?;
            Ok(())
        }
        Command::UnlockUser { username } => {
            let name = switchboard_domain::Username::parse(&username)
                .map_err(|e| anyhow::anyhow!("--username: {e}"))?;
            let store = open_store(&config.database_url()).await?;
            let user = store
                .user_by_username(&name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("there is no user {name}"))?;
            let creds = store
                .credentials(user.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("user {name} has no credentials"))?;
            let audit = open_audit(store.clone(), &config).await?;
            let now = switchboard_domain::stored_precision(OffsetDateTime::now_utc());
            let actor = switchboard_audit::Actor {
                username: "system:command line".to_owned(),
                ..Default::default()
            };
            // Audit first: an unlock that cannot be audited does not happen.
            audit
                .append(
                    switchboard_audit::Entry::new(
                        "user.unlock",
                        actor,
                        (now.unix_timestamp_nanos() / 1_000_000) as i64,
                    )
                    .with_target(format!("user:{} ({})", user.id, user.username)),
                )
                .await?;
            let was_locked = creds.locked_at.is_some() || !creds.failures.is_empty();
            let mut next = creds.clone();
            next.locked_at = None;
            next.failures.clear();
            next.version += 1;
            next.updated_at = now;
            store.update_credentials(&next, creds.version).await?;
            audit.checkpoint().await?;
            if was_locked {
                println!("user {name} unlocked (its failed logons forgotten)");
            } else {
                println!("user {name} was not locked");
            }
            Ok(())
        }
        Command::Records(records_cmd::RecordsCommand::Import(args)) => {
            let store = open_store(&config.database_url()).await?;
            records_cmd::import(store, &args).await
        }
        Command::Audit(cmd) => {
            let store = open_store(&config.database_url()).await?;
            let ok =
                audit_cmd::run(&cmd, store, &config.audit_origin, &config.audit_key_path()).await?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Matching(args)) => {
            tokio::task::spawn_blocking(move || bench_matching::run(&args)).await?
        }
    }
}

/// Seed of the index's training samples: the same records always give the same model.
const INDEX_SEED: u64 = 2026;

fn registry_spec(seed: u64, agencies: usize) -> anyhow::Result<RegistrySpec> {
    if !(1..=registry::MAX_AGENCIES).contains(&agencies) {
        bail!(
            "--agencies must be between 1 and {}, got {agencies}",
            registry::MAX_AGENCIES
        );
    }
    Ok(RegistrySpec { seed, agencies })
}

/// Every setting in force, as TOML, secrets redacted: the database URL's password and the
/// softphone accounts' passwords (key files are named, never read).
fn toml_of(config: &Config) -> String {
    let mut value = match toml::Value::try_from(config) {
        Ok(v) => v,
        Err(e) => return format!("# the configuration cannot be shown: {e}\n"),
    };
    if let Some(t) = value.as_table_mut() {
        t.insert(
            "database_url".to_owned(),
            toml::Value::String(redact(&config.database_url())),
        );
        if let Some(accounts) = t
            .get_mut("sip")
            .and_then(|s| s.get_mut("accounts"))
            .and_then(|a| a.as_array_mut())
        {
            for a in accounts {
                if let Some(p) = a.get_mut("password") {
                    *p = toml::Value::String("***".to_owned());
                }
            }
        }
    }
    toml::to_string(&value)
        .unwrap_or_else(|e| format!("# the configuration cannot be shown: {e}\n"))
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn open_store(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let shown = redact(url);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let s = PgStore::connect(url)
            .await
            .with_context(|| format!("opening {shown}"))?;
        Ok(Arc::new(s))
    } else if url.starts_with("sqlite:") {
        // An empty file is not a database that lost nothing: it is a truncated or mistaken
        // one. Starting an empty center on it would hide that.
        let path = url
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:")
            .split('?')
            .next()
            .unwrap_or("");
        if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            bail!(
                "the database file {path} is empty (0 bytes): it is not a Switchboard database. \
                 Restore your backup, or remove the file to start a new, empty center"
            );
        }
        let s = SqliteStore::open_url(url)
            .await
            .with_context(|| format!("opening {shown}"))?;
        Ok(Arc::new(s))
    } else {
        bail!("unsupported database URL {shown}: use sqlite://PATH or postgres://…")
    }
}

fn remove_sqlite_files(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", p.display())),
        }
    }
    Ok(())
}

pub(crate) async fn seed_registry(store: &dyn Store, reg: &Registry) -> anyhow::Result<()> {
    store
        .import_registry(&reg.agencies, &reg.agreements, &reg.officers)
        .await
        .context("seeding the registry")
}

/// The audit log on the store, signing with the configured key (created on first use: only
/// for a log with no entries yet; a log with entries and no key file refuses to open).
async fn open_audit(
    store: Arc<dyn Store>,
    config: &Config,
) -> anyhow::Result<switchboard_audit_host::AuditLog> {
    let path = config.audit_key_path();
    let empty = store.audit_leaf_hashes(0, 1).await?.is_empty();
    if !empty && !path.exists() {
        anyhow::bail!(
            "the audit log holds entries but its signing key file {} is missing: restore it \
             from your backup (a new key would not sign this log); nothing was changed",
            path.display()
        );
    }
    let seed = audit_cmd::signing_seed(&path, empty)?;
    let clock: switchboard_audit_host::Clock =
        Arc::new(|| (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64);
    switchboard_audit_host::AuditLog::open(
        store,
        switchboard_audit_host::AuditConfig::new(&config.audit_origin, seed),
        clock,
    )
    .await
    .context("opening the audit log")
}

/// The key the accounts' TOTP seeds are sealed with: the configured file, created with a
/// random key only while no account's seed is sealed (a missing file with sealed seeds is
/// refused: a new key would lock everyone out).
async fn open_sealing(
    store: &dyn Store,
    config: &Config,
) -> anyhow::Result<switchboard_accounts::sealed::SealingKey> {
    use switchboard_accounts::sealed::{KEY_BYTES, SealingKey, is_sealed};
    let path = config.totp_key_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return SealingKey::from_hex(&text).with_context(|| format!("{}", path.display()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut page = switchboard_store::PageRequest {
        limit: switchboard_store::PageRequest::MAX_LIMIT,
        after: None,
    };
    loop {
        let users = store.list_users(page).await?;
        for user in &users.items {
            if let Some(c) = store.credentials(user.id).await?
                && is_sealed(&c.totp_secret)
            {
                anyhow::bail!(
                    "the TOTP key file {} is missing, and the accounts' second factors are \
                     sealed with it: restore it from your backup (a new key would lock every \
                     account out); nothing was changed",
                    path.display()
                );
            }
        }
        match users.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    audit_cmd::write_private(&path, &text)
        .with_context(|| format!("writing the TOTP key {}", path.display()))?;
    tracing::info!(path = %path.display(), "created a new TOTP sealing key");
    Ok(SealingKey::from_bytes(bytes))
}

/// Creates a user with a password and a fresh second factor, audited as done by `by`.
async fn add_user(
    store: &dyn Store,
    audit: &switchboard_audit_host::AuditLog,
    sealing: &switchboard_accounts::sealed::SealingKey,
    new: switchboard_domain::NewUser,
    password: &str,
    by: &str,
) -> anyhow::Result<switchboard_web::api::users::Enrolment> {
    let actor = switchboard_audit::Actor {
        username: format!("system:{by}"),
        ..Default::default()
    };
    let now = switchboard_domain::stored_precision(OffsetDateTime::now_utc());
    let keepers = switchboard_web::api::users::Keepers {
        store,
        audit,
        sealing,
    };
    switchboard_web::api::users::enrol(keepers, actor, new, password, now, None)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.body.message))
}

/// The call distributor, restored from the store, with its ticker running.
async fn open_acd(
    store: Arc<dyn Store>,
    config: switchboard_acd::Config,
) -> anyhow::Result<Arc<AcdHost>> {
    let host = AcdHost::open(store, config, switchboard_acd_host::system_clock())
        .await
        .context("starting the call distributor")?;
    tokio::spawn(host.clone().run_ticker());
    Ok(host)
}

async fn serve(
    store: Arc<dyn Store>,
    host: Arc<AcdHost>,
    config: &Config,
    sip: Option<switchboard_sip::SipConfig>,
    demo: Option<(Registry, Option<String>)>,
) -> anyhow::Result<()> {
    let listen = config.listen;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let backend = store.backend();
    let audit = open_audit(store.clone(), config).await?;
    // Only the server does this: a command run beside it opens the same log.
    audit
        .fail_cut_off_actions()
        .await
        .context("recording the actions the last stop cut off")?;
    let sealing = open_sealing(store.as_ref(), config).await?;
    let demo_users = match &demo {
        Some(_) => demo_accounts(store.as_ref(), &audit, &sealing).await?,
        None => Vec::new(),
    };
    let mut state = AppState::new(store)
        .with_acd(host.clone())
        .with_audit(audit.clone());
    state.max_record_age_days = config.max_record_age_days;
    state.determination_days = config.determination_days;
    state.cookie_secure = config.cookie_secure;
    state.sealing = std::sync::Arc::new(sealing);
    state.metrics_token = config.metrics_token()?;
    state.admission = Some(std::sync::Arc::new(
        switchboard_web::admission::Admission::new(config.admission.limits()),
    ));
    state.partner_limits = std::sync::Arc::new(switchboard_web::api::partner::RateLimits::new(
        config.admission.partner_requests_per_minute,
    ));
    state.feed_max_lag_minutes = std::sync::Arc::new(config.feed_max_lag());
    // The record index starts in the background (from its snapshot, or built): everything but
    // lookups is served at once, and lookups answer 503 with the progress until it is ready.
    // Then it follows the change log for as long as the server runs.
    tokio::spawn(switchboard_web::lookup_index::follow(
        state.index.clone(),
        state.store.clone(),
        config.live_options(INDEX_SEED),
        std::sync::Arc::new(time::OffsetDateTime::now_utc),
        retrain_auditor(state.clone()),
    ));
    let mut telephony_off = None;
    let telephony = match sip {
        Some(cfg) => {
            let accounts: Vec<(String, Option<String>)> = cfg
                .accounts
                .iter()
                .map(|a| (a.user.clone(), a.password.clone()))
                .collect();
            match switchboard_sip::Telephony::start(cfg, host.clone()).await {
                Ok(t) => Some((t, accounts)),
                // The demo goes on without telephony (the port may be taken); a server
                // configured for it does not.
                Err(e) if demo.is_some() => {
                    tracing::warn!(error = %e, "telephony is off");
                    telephony_off = Some(e.to_string());
                    None
                }
                Err(e) => return Err(e).context("starting telephony"),
            }
        }
        None => None,
    };
    tracing::info!(%addr, database = backend, "switchboard listening");
    println!("Switchboard is up at http://{addr}/ ({backend} database)");
    if let Some((t, _)) = &telephony {
        println!("SIP (UDP) at {}", t.local_addr());
    }
    if let Some(why) = telephony_off {
        println!("Telephony is off: {why}");
    }
    if let Some((reg, subject)) = demo {
        print_demo_tour(addr, &reg, subject.as_deref(), &demo_users);
        if let Some((t, accounts)) = &telephony {
            print_softphone_tour(t.local_addr(), accounts);
        }
        // The last line: whoever reads the tour (a person, or a test waiting for this line)
        // has all of it.
        println!("Press Ctrl-C to stop.");
    }
    switchboard_web::serve(listener, state, shutdown_signal()).await?;
    if let Some((t, _)) = &telephony {
        t.shutdown().await;
    }
    // Sign whatever the log holds unsigned, so a verifier covers every entry.
    if let Err(e) = audit.checkpoint().await {
        tracing::warn!(error = %e, "final audit checkpoint failed");
    }
    // Not needed for correctness (the log holds everything), but the next start replays less.
    if let Err(e) = host.snapshot().await {
        tracing::warn!(error = %e, "ACD snapshot at shutdown failed");
    }
    tracing::info!("switchboard stopped");
    Ok(())
}

/// The demo's telephony: SIP on 127.0.0.1:5060, and softphone accounts for the two agents the
/// simulation leaves to people (ct24 on the inquiry desk, jl03 on the juvenile desk), each
/// with a fresh random password.
fn demo_sip(config: &Config) -> switchboard_sip::SipConfig {
    let password = || {
        let mut b = [0u8; 9];
        getrandom::fill(&mut b).expect("the operating system's random numbers");
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    };
    switchboard_sip::SipConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 5060)),
        domain: "switchboard.demo".to_owned(),
        cdr_file: Some(config.data_dir.join("cdr.jsonl")),
        accounts: ["ct24", "jl03"]
            .iter()
            .map(|u| switchboard_sip::SipAccount {
                user: (*u).to_owned(),
                password: Some(password()),
                contact: None,
            })
            .collect(),
        ..Default::default()
    }
}

/// How to call the demo from a real softphone.
fn print_softphone_tour(sip: SocketAddr, accounts: &[(String, Option<String>)]) {
    println!();
    println!("Telephony: call the center from a softphone (baresip, linphone) on this machine.");
    println!("  Numbers: sip:1000@{sip} (inquiry desk), sip:1001@{sip} (juvenile liaison).");
    for (user, password) in accounts {
        if let Some(p) = password {
            println!(
                "  Agent phone: register as {user}@switchboard.demo, password {p}, registrar {sip}"
            );
        }
    }
    println!(
        "  Log the agent in (POST /api/v1/acd/agents/24/state {{\"state\":\"log_in\"}}) and the ACD rings \
         the registered phone; see the README's \"Calling the center\" for baresip."
    );
}

/// Shows a newcomer where to look and which numbers demonstrate each caller situation.
/// A subject from the demo's records, as JSON for a lookup: the first person with an A-file,
/// described with the A-number so the answer is a strong match.
fn demo_subject(
    people: switchboard_synth::people::PeopleSpec,
    records: &switchboard_synth::records::RecordSpec,
) -> Option<String> {
    switchboard_synth::people::people(people)
        .take(1_000)
        .find_map(|p| {
            let r = switchboard_synth::records::records_for(records, &p);
            let idn = r.identity.first()?.clone();
            let dob = idn.dob?;
            Some(serde_json::json!({
                "purpose": {"code": "C", "reason": "demo: identity check at booking", "case_number": "DEMO-1"},
                "subject": {
                    "family_names": [idn.family_name],
                    "given_names": [idn.given_name],
                    "date_of_birth": dob.to_string(),
                    "a_number": format!("A{}", idn.a_number),
                }
            }))
        })
        .map(|v| v.to_string())
}

/// The demo's accounts, one per role, all with the same fresh password.
async fn demo_accounts(
    store: &dyn Store,
    audit: &switchboard_audit_host::AuditLog,
    sealing: &switchboard_accounts::sealed::SealingKey,
) -> anyhow::Result<Vec<(switchboard_web::api::users::Enrolment, String)>> {
    use switchboard_domain::{Name, NewUser, Role, Username};
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    let password = format!(
        "demo-{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut out = Vec::new();
    // ct24 and jl03 are agents of the ACD configuration that the simulated call-takers leave
    // alone (see simulate.rs), so a person can work them.
    for (name, display, role) in [
        ("ct24", "Demo Call-Taker", Role::CallTaker),
        ("sup01", "Demo Supervisor", Role::Supervisor),
        ("jl03", "Demo Juvenile Liaison", Role::JuvenileLiaison),
        ("legal01", "Demo Legal Reviewer", Role::LegalReviewer),
        ("audit01", "Demo Auditor", Role::Auditor),
        ("admin01", "Demo Administrator", Role::Administrator),
        ("plan01", "Demo Planner", Role::Planner),
    ] {
        let new = NewUser {
            username: Username::parse(name).expect("a valid username"),
            display_name: Name::parse(display).expect("a valid name"),
            role,
        };
        out.push((
            add_user(store, audit, sealing, new, &password, "demo").await?,
            password.clone(),
        ));
    }
    Ok(out)
}

fn print_demo_tour(
    addr: SocketAddr,
    reg: &Registry,
    subject: Option<&str>,
    users: &[(switchboard_web::api::users::Enrolment, String)],
) {
    let today = OffsetDateTime::now_utc().date();
    println!(
        "Demo registry: {} agencies, {} agreements, {} officers (all made up).",
        reg.agencies.len(),
        reg.agreements.len(),
        reg.officers.len()
    );
    if let Some((_, password)) = users.first() {
        println!(
            "Demo accounts (password {password} for all; every logon also needs the one-time code):"
        );
        for (e, _) in users {
            println!(
                "  {:<8} {:<17} TOTP secret {}",
                e.user.username.as_str(),
                e.user.role.as_str(),
                e.totp_secret
            );
        }
    }
    let Some((ct, password)) = users.first() else {
        return;
    };
    println!(
        "In a browser: open http://{addr}/ and log on (the code: `cargo run -q -p switchboard -- totp SECRET`); each role lands on its desktop: ct24 the call-taker's desk, sup01 and plan01 the wallboard, jl03 the juvenile-liaison desk, legal01 the reviews, audit01 the audit log, admin01 administration."
    );
    let sb = format!("http://{addr}/api/v1");
    println!("Log on as the call-taker (the session cookie goes to /tmp/sb.jar):");
    println!(
        "  CSRF=$(curl -s -c /tmp/sb.jar {sb}/session -H 'content-type: application/json' -d '{{\"username\":\"{}\",\"password\":\"{password}\",\"totp\":\"'$(cargo run -q -p switchboard -- totp {})'\"}}' | sed -E 's/.*\"csrf_token\":\"([^\"]+)\".*/\\1/')",
        ct.user.username, ct.totp_secret
    );
    println!("Try:");
    println!(
        "  curl -b /tmp/sb.jar {sb}/calls?limit=5        # simulated calls, identified and queued"
    );
    println!("  curl -b /tmp/sb.jar {sb}/agencies?limit=5");
    println!("  curl {sb}/openapi.json");
    let mut shown = Vec::new();
    for o in &reg.officers {
        let Some(agency) = reg.agencies.iter().find(|a| a.id == o.agency_id) else {
            continue;
        };
        let verdict = assess_caller(Some((o, agency, &reg.agreements)), today);
        let label = match verdict.problems.first() {
            None => "authorised caller",
            Some(p) => p.code(),
        };
        if shown.contains(&label) || o.phones.is_empty() {
            continue;
        }
        shown.push(label);
        println!(
            "  curl -b /tmp/sb.jar {sb}/callers/{}   # {label}",
            o.phones[0]
        );
    }
    println!("  curl -b /tmp/sb.jar {sb}/callers/+15555550100   # unknown_number");
    let active = reg
        .agreements
        .iter()
        .filter(|a| a.status_on(today) == AgreementStatus::Active)
        .count();
    let certified = reg
        .officers
        .iter()
        .filter(|o| o.certification_on(today) == CertificationStatus::Current)
        .count();
    let supervisor = users
        .iter()
        .find(|(e, _)| e.user.role == switchboard_domain::Role::Supervisor);
    if let (Some(subject), Some((sup, _))) = (subject, supervisor) {
        println!(
            "Look a subject up in the record systems as the supervisor (a call-taker looks up on their own call, from the desk; the index builds in the background; 503 until it is ready):"
        );
        println!(
            "  SCSRF=$(curl -s -c /tmp/sup.jar {sb}/session -H 'content-type: application/json' -d '{{\"username\":\"{}\",\"password\":\"{password}\",\"totp\":\"'$(cargo run -q -p switchboard -- totp {})'\"}}' | sed -E 's/.*\"csrf_token\":\"([^\"]+)\".*/\\1/')",
            sup.user.username, sup.totp_secret
        );
        println!(
            "  curl -s -b /tmp/sup.jar -X POST {sb}/lookups -H \"x-csrf-token: $SCSRF\" -H 'content-type: application/json' -d '{subject}'"
        );
    }
    println!(
        "Every access above is in the audit log: log on as audit01 and GET {sb}/audit/entries, or run `cargo run -p switchboard -- audit verify --database-url sqlite://data/demo.db` after stopping."
    );
    println!("({active} agreements in effect, {certified} officers currently certified.)");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Audits every rebuild of the record index with its change of strong threshold.
fn retrain_auditor(
    app: AppState,
) -> std::sync::Arc<dyn Fn(switchboard_web::lookup_index::Rebuilt) + Send + Sync> {
    std::sync::Arc::new(move |r| {
        let app = app.clone();
        tokio::spawn(async move {
            let actor = switchboard_audit::Actor {
                username: "system".to_owned(),
                role: Some("system".to_owned()),
                ..Default::default()
            };
            let entry = switchboard_audit::Entry::new("records.retrain", actor, app.now_ms())
                .with_target("record_index")
                .with_note(format!(
                    "rebuilt and retrained ({}) on {} records in {:.1} s: strong threshold {:.6} -> {:.6}",
                    r.reason, r.records, r.seconds, r.previous_threshold, r.threshold
                ));
            if let Err(e) = app.record(entry).await {
                tracing::warn!(error = %e.body.message, "the retraining could not be audited");
            }
        });
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sip_stack_never_logs_whole_messages_by_default() {
        let f = super::log_filter("info").unwrap().to_string();
        assert!(f.contains("rsipstack=warn"), "{f}");
        let f = super::log_filter("info,rsipstack=debug")
            .unwrap()
            .to_string();
        assert!(!f.contains("rsipstack=warn"), "{f}");
    }

    use super::redact;

    #[test]
    fn passwords_never_print() {
        assert_eq!(
            redact("postgres://sb:secret@db:5432/x"),
            "postgres://sb:***@db:5432/x"
        );
        assert_eq!(redact("postgres://sb@db/x"), "postgres://sb@db/x");
        assert_eq!(
            redact("sqlite://data/switchboard.db"),
            "sqlite://data/switchboard.db"
        );
    }
}
