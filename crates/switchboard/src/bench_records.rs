//! `switchboard bench records`: live records measured.
//!
//! With a million people's records in a temporary SQLite database and the server's own index
//! follower keeping the index (as `serve` does): how long from a batch's commit (the moment the
//! feed's request is acknowledged) until the index answers with it, under a steady feed while
//! lookups run; lookup latency without and with the feed; the snapshot's size and write time;
//! and a restart: a second follower on the same database, from the snapshot, to ready and
//! caught up. `--snapshot-only` builds the index in memory (no database) and times writing and
//! reading its snapshot, for sizes whose database would take long to generate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use switchboard_domain::records::{IdentityRecord, SourceRecord};
use switchboard_matching::index::{LookupOptions, Query, RecordIndex};
use switchboard_store::{RecordBatch, Store};
use switchboard_store_sqlite::SqliteStore;
use switchboard_synth::noise::NoiseSpec;
use switchboard_synth::people::{PeopleSpec, people};
use switchboard_synth::records::{RecordSpec, records_for};
use switchboard_web::lookup_index::{IndexSlot, LiveOptions, follow};
use time::{Date, OffsetDateTime};

#[derive(Debug, Args)]
pub struct RecordsBench {
    /// People generated into the records.
    #[arg(long, default_value_t = 1_000_000)]
    people: u64,
    /// Records the feed sends per second (in ten batches a second).
    #[arg(long, default_value_t = 100)]
    rate: u64,
    /// Seconds of each phase: lookups alone, then lookups with the feed.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Only time the snapshot of an index built in memory (no database, no feed).
    #[arg(long)]
    snapshot_only: bool,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn summary(label: &str, mut v: Vec<Duration>) {
    v.sort_unstable();
    println!(
        "{label}: n {}, p50 {}, p95 {}, p99 {}, max {}",
        v.len(),
        ms(percentile(&v, 0.5)),
        ms(percentile(&v, 0.95)),
        ms(percentile(&v, 0.99)),
        ms(v.last().copied().unwrap_or_default())
    );
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn run(args: &RecordsBench) -> anyhow::Result<()> {
    if args.people == 0 || args.people > 20_000_000 {
        bail!("--people must be 1 to 20,000,000, got {}", args.people);
    }
    if !(1..=10_000).contains(&args.rate) || !(1..=3_600).contains(&args.seconds) {
        bail!("--rate must be 1 to 10,000 and --seconds 1 to 3,600");
    }
    let today = OffsetDateTime::now_utc().date();
    let pspec = PeopleSpec::new(args.seed, args.people, today);
    let rspec = RecordSpec {
        seed: args.seed,
        noise: NoiseSpec::default(),
        today,
    };
    if args.snapshot_only {
        let seed = args.seed;
        return tokio::task::spawn_blocking(move || snapshot_only(pspec, rspec, seed)).await?;
    }
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("bench.db")).await?);
    let started = Instant::now();
    let s =
        crate::synth_cmd::generate(pspec, rspec.clone(), None, Some(store.clone()), false).await?;
    println!(
        "generated {} people, {} records into SQLite in {:.1} s",
        s.people,
        s.records,
        started.elapsed().as_secs_f64()
    );
    // The queries: people on file with an identity record, described from it.
    let stride = (args.people / 2_000).max(1);
    let queries: Vec<Query> = people(pspec)
        .filter(|p| p.id % stride == 0)
        .filter_map(|p| {
            let r = records_for(&rspec, &p);
            let i = r.identity.first()?;
            Some(Query {
                given: i.given_name.clone(),
                family: i.family_name.clone(),
                dob: i.dob,
                a_number: Some(i.a_number.clone()),
                ..Query::default()
            })
        })
        .collect();

    let snapshot = dir.path().join("index.snapshot");
    let opts = LiveOptions {
        seed: 1,
        snapshot: Some(snapshot.clone()),
        snapshot_every: Duration::from_secs(3_600),
        rebuild_after_changes: usize::MAX,
        retrain_every: None,
    };
    let slot = Arc::new(IndexSlot::default());
    let now: Arc<dyn Fn() -> OffsetDateTime + Send + Sync> = Arc::new(OffsetDateTime::now_utc);
    let built = Instant::now();
    let follower = tokio::spawn(follow(
        slot.clone(),
        store.clone(),
        opts.clone(),
        now.clone(),
        Arc::new(|_| {}),
    ));
    while slot.live_status().snapshot_position.is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let live = slot.live_status();
    println!(
        "index: {} records, built in {:.1} s; snapshot {:.1} MiB written in {:.2} s",
        slot.records().unwrap_or(0),
        live.ready_seconds
            .max(built.elapsed().as_secs_f64() - live.snapshot_seconds.unwrap_or(0.0)),
        live.snapshot_bytes.unwrap_or(0) as f64 / 1_048_576.0,
        live.snapshot_seconds.unwrap_or(0.0)
    );

    // Phase 1: lookups alone.
    let phase = Duration::from_secs(args.seconds);
    let alone = lookups(&slot, &queries, today, phase).await;
    summary("lookups without the feed", alone);

    // Phase 2: lookups with the feed.
    let feeding = tokio::spawn(feed(store.clone(), slot.clone(), args.rate, phase, today));
    let with = lookups(&slot, &queries, today, phase).await;
    let (latencies, sent) = feeding.await??;
    summary("lookups with the feed", with);
    println!(
        "feed: {sent} records in {} batches ({} a second)",
        latencies.len(),
        args.rate
    );
    summary("record accepted -> searchable", latencies);

    // A restart: a second follower on the same database, from the snapshot.
    follower.abort();
    let head = store.record_position().await?;
    let second = Arc::new(IndexSlot::default());
    let restarted = Instant::now();
    let _f = tokio::spawn(follow(
        second.clone(),
        store.clone(),
        opts,
        now,
        Arc::new(|_| {}),
    ));
    while second.position().is_none_or(|p| p < head) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let caught = restarted.elapsed();
    println!(
        "restart: ready from the snapshot and caught up with {} changes in {:.2} s ({})",
        head - live.snapshot_position.unwrap_or(0),
        caught.as_secs_f64(),
        second.live_status().started_from
    );
    if let Some(rss) = peak_rss_mib() {
        println!("peak RSS {rss:.0} MiB");
    }
    Ok(())
}

/// Lookups back to back for `phase`; their latencies.
async fn lookups(
    slot: &Arc<IndexSlot>,
    queries: &[Query],
    today: Date,
    phase: Duration,
) -> Vec<Duration> {
    let started = Instant::now();
    let mut out = Vec::new();
    let mut k = 0;
    while started.elapsed() < phase {
        let q = queries[k % queries.len()].clone();
        k += 1;
        let t = Instant::now();
        if slot
            .lookup(q, today, LookupOptions::default())
            .await
            .is_ok()
        {
            out.push(t.elapsed());
        }
    }
    out
}

/// Sends `rate` records a second for `phase` (new people, and some of them changed again),
/// ten batches a second; for each batch, how long after its commit the index answered with it.
async fn feed(
    store: Arc<dyn Store>,
    slot: Arc<IndexSlot>,
    rate: u64,
    phase: Duration,
    today: Date,
) -> anyhow::Result<(Vec<Duration>, u64)> {
    let per_batch = rate.div_ceil(10).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let started = Instant::now();
    let mut waiters = Vec::new();
    let mut n = 0u64;
    while started.elapsed() < phase {
        tick.tick().await;
        let upserts: Vec<SourceRecord> = (0..per_batch)
            .map(|i| {
                // Every fifth record is a new version of one sent a second earlier.
                let k = if (n + i) % 5 == 4 && n + i >= 10 * per_batch {
                    n + i - 10 * per_batch
                } else {
                    n + i
                };
                SourceRecord::Identity(IdentityRecord {
                    record_id: format!("IDN-FEED-{k:010}"),
                    a_number: format!("{:09}", 900_000_000 + k),
                    fin: String::new(),
                    family_name: format!("Feedwright{}", k % 1_013),
                    given_name: format!("Live{}", k % 997),
                    aliases: String::new(),
                    dob: Date::from_ordinal_date(1950 + (k % 50) as i32, 1 + (k % 365) as u16).ok(),
                    sex: Some(if k % 2 == 0 { "F" } else { "M" }.to_owned()),
                    country_of_birth: Some("GT".to_owned()),
                    place_of_birth: None,
                    updated_on: today,
                    entered_on: None,
                    entry_place: None,
                    admission_class: None,
                })
            })
            .collect();
        n += per_batch;
        let batch = RecordBatch {
            upserts,
            origin: "bench".to_owned(),
            ..RecordBatch::new(OffsetDateTime::now_utc())
        };
        let outcome = store.apply_record_batch(&batch).await?;
        let committed = Instant::now();
        let slot = slot.clone();
        waiters.push(tokio::spawn(async move {
            slot.caught_up(outcome.position, Duration::from_secs(30))
                .await
                .then(|| committed.elapsed())
        }));
    }
    let mut out = Vec::new();
    for w in waiters {
        match w.await? {
            Some(d) => out.push(d),
            None => bail!("a batch was not searchable within 30 s"),
        }
    }
    Ok((out, n))
}

fn snapshot_only(pspec: PeopleSpec, rspec: RecordSpec, seed: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let records = people(pspec).flat_map(|p| {
        let mut recs = records_for(&rspec, &p);
        let mut out: Vec<SourceRecord> = Vec::new();
        recs.drain_into(&mut out);
        out
    });
    let index = RecordIndex::build(records, seed);
    println!(
        "index: {} records, {:.0} MiB, generated, built and trained in {:.1} s",
        index.len(),
        index.bytes() as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.snapshot");
    let t = Instant::now();
    {
        use std::io::Write;
        let file = std::fs::File::create(&path)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        switchboard_matching::snapshot::write(&index, "bench", &mut w)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    let wrote = t.elapsed();
    let bytes = std::fs::metadata(&path)?.len();
    let len = index.len();
    drop(index);
    let t = Instant::now();
    let file = std::fs::File::open(&path)?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let (back, _) = switchboard_matching::snapshot::read(&mut r)?;
    let read = t.elapsed();
    if back.len() != len {
        bail!("the snapshot read back {} records, not {len}", back.len());
    }
    println!(
        "snapshot: {:.1} MiB; written and synced in {:.2} s; read and checked in {:.2} s",
        bytes as f64 / 1_048_576.0,
        wrote.as_secs_f64(),
        read.as_secs_f64()
    );
    if let Some(rss) = peak_rss_mib() {
        println!("peak RSS {rss:.0} MiB");
    }
    Ok(())
}
