//! `switchboard synth`: writes a synthetic data set (people, their records in six systems, and
//! the truth) as CSV files and, on request, into the store; streaming, with a progress bar on
//! a terminal. `seed_records` is the same generator writing only to the store (the demo).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use switchboard_domain::records::SourceRecord;
use switchboard_store::PageRequest;
use switchboard_store::Store;
use switchboard_synth::noise::{Noise, NoiseSpec};
use switchboard_synth::output::{CsvSink, FILES, REGISTRY_FILES, write_registry};
use switchboard_synth::people::{PeopleSpec, people};
use switchboard_synth::records::{RecordSpec, class_injunctions, records_for};
use switchboard_synth::registry::{self, RegistrySpec};
use time::{Date, OffsetDateTime};

/// The most people one run generates.
const MAX_PEOPLE: u64 = 100_000_000;

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// How many people to generate (1 to 100,000,000).
    #[arg(long, default_value_t = 100_000, allow_negative_numbers = true)]
    people: u64,
    /// Seed: the same seed and options give the same data.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Folder for the CSV files; created if missing, files in it replaced.
    #[arg(long, default_value = "data/synth")]
    out: PathBuf,
    /// Also write the registry and the records into the configured database (SQLite by
    /// default). A database that already has agencies keeps its registry.
    #[arg(long)]
    database: bool,
    /// Partner and federal agencies in the generated registry (1 to 2,000).
    #[arg(long, default_value_t = 1_100, allow_negative_numbers = true)]
    agencies: usize,
    /// The day ages and record dates are counted from, YYYY-MM-DD (default: today, UTC).
    #[arg(long, value_parser = parse_day)]
    today: Option<Date>,
    /// Share of people under 18 (0 to 0.6).
    #[arg(long, allow_negative_numbers = true)]
    minor_share: Option<f64>,
    /// Share of children born in the United States (0 to 1).
    #[arg(long, allow_negative_numbers = true)]
    us_born_child_share: Option<f64>,
    /// Share of households with twins (0 to 1).
    #[arg(long, allow_negative_numbers = true)]
    twin_share: Option<f64>,
    /// Share of households with a son named after his father (0 to 1).
    #[arg(long, allow_negative_numbers = true)]
    namesake_share: Option<f64>,
    /// Share of households whose head has an unrelated look-alike (0 to 1).
    #[arg(long, allow_negative_numbers = true)]
    doppelganger_share: Option<f64>,
    /// Multiplies every noise rate (0 gives records identical to the truth).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    noise_scale: f64,
    /// Sets one noise rate after scaling, e.g. `--noise typo=0.1`; repeatable. Kinds: typo,
    /// phonetic, drop_second_surname, swap_surnames, swap_given_family, drop_accents,
    /// transliteration, nickname, dob_day_month_swap, dob_digit_off, id_transposition,
    /// blank_field, stale, conflicting_birthplace.
    #[arg(long = "noise", value_name = "KIND=RATE")]
    noise: Vec<String>,
}

fn parse_day(s: &str) -> Result<Date, String> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("{s:?} is not a day in YYYY-MM-DD form"))
}

impl SynthArgs {
    pub fn database(&self) -> bool {
        self.database
    }

    fn specs(&self) -> anyhow::Result<(PeopleSpec, RecordSpec)> {
        if !(1..=MAX_PEOPLE).contains(&self.people) {
            bail!(
                "--people must be between 1 and {MAX_PEOPLE}, got {}",
                self.people
            );
        }
        let today = self
            .today
            .unwrap_or_else(|| OffsetDateTime::now_utc().date());
        let mut p = PeopleSpec::new(self.seed, self.people, today);
        for (value, slot) in [
            (self.minor_share, &mut p.minor_share),
            (self.us_born_child_share, &mut p.us_born_child_share),
            (self.twin_share, &mut p.twin_share),
            (self.namesake_share, &mut p.namesake_share),
            (self.doppelganger_share, &mut p.doppelganger_share),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        p.validate()
            .map_err(|e| anyhow::anyhow!("--{}", e.replace('_', "-")))?;
        let mut noise = NoiseSpec::default()
            .scaled(self.noise_scale)
            .map_err(|e| anyhow::anyhow!("--noise-scale: {e}"))?;
        for item in &self.noise {
            let (kind, rate) = item
                .split_once('=')
                .with_context(|| format!("--noise {item:?}: write KIND=RATE, e.g. typo=0.1"))?;
            let kind = Noise::parse(kind.trim())
                .with_context(|| format!("--noise {item:?}: unknown kind {kind:?}"))?;
            let rate: f64 = rate
                .trim()
                .parse()
                .with_context(|| format!("--noise {item:?}: {rate:?} is not a number"))?;
            noise
                .set(kind, rate)
                .map_err(|e| anyhow::anyhow!("--noise {item:?}: {e}"))?;
        }
        Ok((
            p,
            RecordSpec {
                seed: self.seed,
                noise,
                today,
            },
        ))
    }
}

fn open_files(dir: &Path) -> anyhow::Result<[BufWriter<File>; 9]> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the output folder {}", dir.display()))?;
    let mut out = Vec::with_capacity(FILES.len());
    for name in FILES {
        let path = dir.join(name);
        let f = File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        out.push(BufWriter::with_capacity(1 << 20, f));
    }
    Ok(out.try_into().expect("one writer per file"))
}

/// Records sent to the store per transaction.
const BATCH: usize = 5_000;

/// What a generation run produced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub people: u64,
    pub records: u64,
    pub seconds: f64,
}

/// Generates people and records on a blocking thread, writing CSV there (when `csv` is given)
/// and streaming batches of records to `store` (when given) through a bounded channel, so
/// memory stays flat whatever the size.
pub async fn generate(
    people_spec: PeopleSpec,
    record_spec: RecordSpec,
    csv: Option<CsvSink<BufWriter<File>>>,
    store: Option<Arc<dyn Store>>,
    progress: bool,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SourceRecord>>(4);
    let want_db = store.is_some();
    let orders = class_injunctions(record_spec.seed, record_spec.today);
    let orders_for_csv = orders.clone();
    let producer = tokio::task::spawn_blocking(move || -> anyhow::Result<Summary> {
        let bar = if progress {
            ProgressBar::new(people_spec.people)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {human_pos}/{human_len} people [{bar:40}] {per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        let mut csv = csv;
        let mut batch = Vec::with_capacity(BATCH + 16);
        let mut summary = Summary::default();
        for p in people(people_spec) {
            let mut r = records_for(&record_spec, &p);
            summary.records += r.len() as u64;
            if let Some(sink) = csv.as_mut() {
                sink.person(&p, &r).context("writing CSV")?;
            }
            if want_db {
                r.drain_into(&mut batch);
                if batch.len() >= BATCH
                    && tx
                        .blocking_send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(BATCH + 16),
                        ))
                        .is_err()
                {
                    break; // The writer failed; its error is reported below.
                }
            }
            summary.people += 1;
            if summary.people.is_multiple_of(10_000) {
                bar.set_position(summary.people);
            }
        }
        if want_db && !batch.is_empty() {
            let _ = tx.blocking_send(batch);
        }
        if let Some(mut sink) = csv {
            sink.class_injunctions(&orders_for_csv)?;
            sink.finish().context("writing CSV")?;
        }
        bar.finish_and_clear();
        Ok(summary)
    });
    let mut written: anyhow::Result<()> = Ok(());
    while let Some(batch) = rx.recv().await {
        if let (Some(store), Ok(())) = (&store, &written) {
            written = store
                .put_source_records(&batch)
                .await
                .context("writing records to the database");
            if written.is_err() {
                rx.close();
            }
        }
    }
    let mut summary = producer.await??;
    written?;
    if let Some(store) = &store {
        store
            .put_class_injunctions(&orders)
            .await
            .context("writing class injunctions to the database")?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

pub async fn run(args: &SynthArgs, store: Option<Arc<dyn Store>>) -> anyhow::Result<()> {
    let (people_spec, record_spec) = args.specs()?;
    if !(1..=registry::MAX_AGENCIES).contains(&args.agencies) {
        bail!(
            "--agencies must be between 1 and {}, got {}",
            registry::MAX_AGENCIES,
            args.agencies
        );
    }
    if args.database && store.is_none() {
        bail!("--database needs a database to write to");
    }
    let sink = CsvSink::new(open_files(&args.out)?);
    // Registry timestamps at the start of `today`, so a seed and a day give the same files.
    let now = record_spec.today.midnight().assume_utc();
    let reg = registry::generate(
        RegistrySpec {
            seed: args.seed,
            agencies: args.agencies,
        },
        now,
    );
    let mut files = Vec::new();
    for name in REGISTRY_FILES {
        let path = args.out.join(name);
        files.push(BufWriter::new(
            File::create(&path).with_context(|| format!("cannot write {}", path.display()))?,
        ));
    }
    write_registry(&reg, files.try_into().expect("three registry files"))
        .context("writing the registry CSV")?;
    if let Some(store) = store.as_ref().filter(|_| args.database) {
        let existing = store
            .list_agencies(&Default::default(), PageRequest::first(1))
            .await?;
        if existing.items.is_empty() {
            crate::seed_registry(store.as_ref(), &reg).await?;
        } else {
            println!("the database already has a registry; left as it is");
        }
    }
    let s = generate(
        people_spec,
        record_spec,
        Some(sink),
        store.filter(|_| args.database),
        true,
    )
    .await?;
    println!(
        "wrote {} agencies, {} people and {} records to {}{} in {:.1} s ({:.0} people/s); truth in truth.csv",
        reg.agencies.len(),
        s.people,
        s.records,
        args.out.display(),
        if args.database {
            " and the database"
        } else {
            ""
        },
        s.seconds,
        s.people as f64 / s.seconds.max(1e-9)
    );
    Ok(())
}
