//! `switchboard records import`: records from a file into the configured database, through
//! the change log, while a server may be running on it (its index picks them up within a
//! second); and the demo's record feed.
//!
//! A file is read whole and checked before anything is written: every bad record is named by
//! file, line and field, and a file with any problem imports nothing. A good file is written in
//! batches of 1,000, each one transaction; a batch refused by the database (a record id held by
//! another system) stops the import, and the output says exactly what was written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use switchboard_domain::records::{
    CitizenshipRecord, CourtOrderRecord, CriminalHistoryRecord, CustodyRecord, IdentityRecord,
    ImmigrationCaseRecord, SourceRecord, System, read_record,
};
use switchboard_store::{RecordBatch, Store};
use time::{Date, OffsetDateTime};

/// Records written per transaction.
const BATCH: usize = 1_000;
/// Problems printed before the rest are only counted.
const SHOWN: usize = 50;

#[derive(Debug, clap::Subcommand)]
pub enum RecordsCommand {
    /// Import records into the configured database: CSV in the generator's format (one file
    /// per system, named after it, e.g. court_order.csv, or --system), or JSON lines (one record
    /// a line, each with its "system"). Upserts by record id.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The file to import (.csv or .jsonl).
    #[arg(long)]
    pub input: PathBuf,
    /// The record system of a CSV file (default: the file's name, e.g. identity.csv).
    #[arg(long)]
    pub system: Option<String>,
}

/// Reads one CSV row of `system` into a record.
fn csv_record(
    system: System,
    row: &csv::StringRecord,
    headers: &csv::StringRecord,
) -> Result<SourceRecord, csv::Error> {
    Ok(match system {
        System::Identity => {
            SourceRecord::Identity(row.deserialize::<IdentityRecord>(Some(headers))?)
        }
        System::ImmigrationCase => {
            SourceRecord::ImmigrationCase(row.deserialize::<ImmigrationCaseRecord>(Some(headers))?)
        }
        System::Custody => SourceRecord::Custody(row.deserialize::<CustodyRecord>(Some(headers))?),
        System::CourtOrder => {
            SourceRecord::CourtOrder(row.deserialize::<CourtOrderRecord>(Some(headers))?)
        }
        System::CriminalHistory => {
            SourceRecord::CriminalHistory(row.deserialize::<CriminalHistoryRecord>(Some(headers))?)
        }
        System::Citizenship => {
            SourceRecord::Citizenship(row.deserialize::<CitizenshipRecord>(Some(headers))?)
        }
    })
}

/// Every record of the file, or every problem found (`file:line: field: message`).
pub fn read_file(
    path: &Path,
    system: Option<&str>,
    today: Date,
) -> anyhow::Result<Result<Vec<SourceRecord>, Vec<String>>> {
    let name = path.display().to_string();
    let text = std::fs::read(path).with_context(|| format!("reading {name}"))?;
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"));
    if is_json {
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            let n = i + 1;
            let Ok(line) = std::str::from_utf8(line) else {
                problems.push(format!("{name}:{n}: the line is not UTF-8"));
                continue;
            };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(line) {
                Err(e) => problems.push(format!("{name}:{n}: not JSON: {e}")),
                Ok(v) => match read_record(&v, today) {
                    Ok(r) => records.push((n, r)),
                    Err(ps) => problems.extend(
                        ps.into_iter()
                            .map(|p| format!("{name}:{n}: {}: {}", p.field, p.message)),
                    ),
                },
            }
        }
    } else {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let label = system.unwrap_or(stem);
        let Some(system) = System::parse(label) else {
            bail!(
                "{name}: say which record system the file holds (--system; one of identity, \
                 immigration_case, custody, court_order, criminal_history, citizenship), or name \
                 the file after it"
            );
        };
        let mut rdr = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(text.as_slice());
        let headers = rdr
            .headers()
            .with_context(|| format!("{name}: the header line"))?
            .clone();
        for row in rdr.records() {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    let n = e.position().map_or(0, |p| p.line());
                    problems.push(format!("{name}:{n}: {e}"));
                    continue;
                }
            };
            let n = row.position().map_or(0, |p| p.line()) as usize;
            match csv_record(system, &row, &headers) {
                Err(e) => {
                    let field = match e.kind() {
                        csv::ErrorKind::Deserialize { err, .. } => err
                            .field()
                            .and_then(|i| headers.get(i as usize))
                            .map(|h| format!("{h}: "))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    problems.push(format!("{name}:{n}: {field}{e}"));
                }
                Ok(r) => {
                    let ps = r.problems(today);
                    if ps.is_empty() {
                        records.push((n, r));
                    } else {
                        problems.extend(
                            ps.into_iter()
                                .map(|p| format!("{name}:{n}: {}: {}", p.field, p.message)),
                        );
                    }
                }
            }
        }
    }
    let mut first = std::collections::HashMap::new();
    for (n, r) in &records {
        if let Some(before) = first.insert(r.record_id().to_owned(), *n) {
            problems.push(format!(
                "{name}:{n}: record_id: record {} is already on line {before}",
                r.record_id()
            ));
        }
    }
    Ok(if problems.is_empty() {
        Ok(records.into_iter().map(|(_, r)| r).collect())
    } else {
        Err(problems)
    })
}

/// Imports a file; prints what was written.
pub async fn import(store: Arc<dyn Store>, args: &ImportArgs) -> anyhow::Result<()> {
    let today = OffsetDateTime::now_utc().date();
    let records = match read_file(&args.input, args.system.as_deref(), today)? {
        Ok(r) => r,
        Err(problems) => {
            for p in problems.iter().take(SHOWN) {
                eprintln!("{p}");
            }
            if problems.len() > SHOWN {
                eprintln!("… and {} more", problems.len() - SHOWN);
            }
            bail!(
                "{} problem(s) in {}: nothing was imported",
                problems.len(),
                args.input.display()
            );
        }
    };
    let origin = format!(
        "import:{}",
        args.input
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("file")
    );
    let (mut inserted, mut updated, mut position) = (0, 0, 0);
    for (k, chunk) in records.chunks(BATCH).enumerate() {
        let batch = RecordBatch {
            upserts: chunk.to_vec(),
            origin: origin.clone(),
            ..RecordBatch::new(OffsetDateTime::now_utc())
        };
        match store.apply_record_batch(&batch).await {
            Ok(o) => {
                inserted += o.inserted;
                updated += o.updated;
                position = o.position;
            }
            Err(e) => bail!(
                "{e}: the first {} record(s) were imported (up to position {position}), the \
                 remaining {} were not",
                k * BATCH,
                records.len() - k * BATCH
            ),
        }
    }
    println!(
        "imported {} record(s) from {}: {inserted} new, {updated} updated; change log at position {position}",
        records.len(),
        args.input.display()
    );
    Ok(())
}

/// The demo's record feed: every `every`, one change a record system would really send — a
/// new stay of removal, a case's status changing, a new citizenship record — for a person
/// already on file, and a heartbeat for every system, so the demo's feeds stay fresh.
pub async fn demo_feed(store: Arc<dyn Store>, every: Duration, seed: u64) {
    let mut rng = seed ^ 0xfeed;
    let mut next = move || {
        rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    for n in 0u64.. {
        tick.tick().await;
        let now = OffsetDateTime::now_utc();
        let today = now.date();
        let mut batch = RecordBatch {
            current: System::ALL.to_vec(),
            origin: "demo".to_owned(),
            ..RecordBatch::new(now)
        };
        let pick = |system, after| {
            let store = store.clone();
            async move {
                store
                    .source_records(Some(system), Some(after), 1)
                    .await
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .map(|(_, r)| r)
            }
        };
        // Sequence numbers of a bulk load run from 1 to about the number of records.
        let total: u64 = store
            .count_source_records()
            .await
            .map(|c| c.iter().map(|(_, n)| n).sum())
            .unwrap_or(0);
        let after = (next() % total.max(1)) as i64;
        match n % 3 {
            0 => {
                if let Some(SourceRecord::Identity(i)) = pick(System::Identity, after).await {
                    batch
                        .upserts
                        .push(SourceRecord::CourtOrder(CourtOrderRecord {
                            record_id: format!("ORD-LIVE-{:012X}", next() & 0xffff_ffff_ffff),
                            order_kind: "stay_of_removal".to_owned(),
                            court: "Board of Immigration Appeals".to_owned(),
                            docket: format!("{}-{:05}", today.year() % 100, next() % 100_000),
                            a_number: Some(i.a_number.clone()),
                            family_name: i.family_name.clone(),
                            given_name: i.given_name.clone(),
                            dob: i.dob,
                            issued_on: today,
                            expires_on: None,
                            updated_on: today,
                        }));
                }
            }
            1 => {
                if let Some(SourceRecord::ImmigrationCase(mut c)) =
                    pick(System::ImmigrationCase, after).await
                {
                    // A final order under a motion to reopen, or a case moving on to one.
                    if c.status == "final_order" {
                        c.motion_to_reopen_pending = !c.motion_to_reopen_pending;
                    } else {
                        c.status = "final_order".to_owned();
                        c.final_order_on = Some(today);
                        c.next_hearing_on = None;
                    }
                    c.updated_on = today;
                    batch.upserts.push(SourceRecord::ImmigrationCase(c));
                }
            }
            _ => {
                if let Some(SourceRecord::Identity(i)) = pick(System::Identity, after).await {
                    batch
                        .upserts
                        .push(SourceRecord::Citizenship(CitizenshipRecord {
                            record_id: format!("CIT-LIVE-{:012X}", next() & 0xffff_ffff_ffff),
                            kind: "naturalization_certificate".to_owned(),
                            document_number: format!("{:08}", next() % 100_000_000),
                            family_name: i.family_name.clone(),
                            given_name: i.given_name.clone(),
                            dob: i.dob,
                            place_of_birth: i.place_of_birth.clone(),
                            issued_on: today,
                            updated_on: today,
                        }));
                }
            }
        }
        match store.apply_record_batch(&batch).await {
            Ok(o) => tracing::info!(
                position = o.position,
                records = batch.upserts.len(),
                "demo feed: records changed"
            ),
            Err(e) => tracing::warn!(error = %e, "demo feed: batch refused"),
        }
    }
}
