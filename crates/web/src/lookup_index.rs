//! The record index behind lookups, kept current while the center runs.
//!
//! At start the index is read from its snapshot (seconds) or, when there is none or it cannot
//! be used, built from the store (minutes at ten million people) while the server already
//! answers everything else. From then on [`follow`] reads the store's change log by position
//! and applies every insert, update and delete to the index in place; a wake-up (PostgreSQL
//! LISTEN/NOTIFY, SQLite a local signal and polling) says when to look, the position says what
//! to read, so nothing is missed across reconnects or restarts. Every so often the index is
//! written back to its snapshot; when enough has changed (or on a schedule, or on demand) a
//! new index is built and trained in the background and swapped in whole, lookups never
//! pausing.
//!
//! Everything that touches the index in place runs in the one follower task, in order: apply,
//! snapshot, swap. A snapshot is written under a read lock, so lookups go on while it is
//! written and no writer can queue behind it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use switchboard_domain::records::SourceRecord;
use switchboard_matching::{Change, Lookup, LookupOptions, Query, RecordIndex};
use switchboard_store::{RecordChange, Store};
use time::Date;

use crate::error::ApiError;

/// Where lookups find the index: empty until the first build or snapshot is ready.
#[derive(Debug)]
pub struct IndexSlot {
    index: RwLock<Option<RecordIndex>>,
    state: RwLock<IndexState>,
    /// The change-log position the installed index reflects.
    position: tokio::sync::watch::Sender<i64>,
    retrain: tokio::sync::Notify,
    live: Mutex<LiveStatus>,
    /// With a follower: when it last read the change log to its end (`None`: not yet).
    followed: Mutex<Option<Option<time::OffsetDateTime>>>,
}

impl Default for IndexSlot {
    fn default() -> Self {
        Self {
            index: RwLock::default(),
            state: RwLock::default(),
            position: tokio::sync::watch::channel(0).0,
            retrain: tokio::sync::Notify::new(),
            live: Mutex::default(),
            followed: Mutex::default(),
        }
    }
}

/// What the slot is doing, as `/readyz` and the lookup errors report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IndexState {
    #[default]
    NotStarted,
    Loading {
        records: u64,
    },
    Ready {
        records: u64,
    },
    Failed(String),
}

/// How the live index has been kept, for the admin page and `/metrics`.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct LiveStatus {
    /// Where the index came from at start: `snapshot`, `built`, or why the snapshot was not used.
    pub started_from: String,
    /// Seconds from start to ready.
    pub ready_seconds: f64,
    /// Changes applied in place since start.
    pub applied: u64,
    /// Seconds from a change's commit to its being searchable, for the newest batch applied.
    pub last_apply_lag_seconds: f64,
    /// The newest snapshot written: its position, bytes and seconds to write.
    pub snapshot_position: Option<i64>,
    pub snapshot_bytes: Option<u64>,
    pub snapshot_seconds: Option<f64>,
    /// Rebuilds since start, and the newest one's strong threshold before and after.
    pub rebuilds: u64,
    pub threshold: Option<f64>,
    pub previous_threshold: Option<f64>,
    /// Why the newest rebuild failed, if it did.
    pub rebuild_error: Option<String>,
}

/// How [`follow`] keeps the index.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The training seed.
    pub seed: u64,
    /// The snapshot file; none: always build at start and never write one.
    pub snapshot: Option<PathBuf>,
    /// A snapshot is written this long after the previous one, if anything changed.
    pub snapshot_every: Duration,
    /// A rebuild (and retraining) follows once this many rows were filed or dropped in place.
    pub rebuild_after_changes: usize,
    /// And at least this often (none: only when changes or a request call for it).
    pub retrain_every: Option<Duration>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        Self {
            seed: 1,
            snapshot: None,
            snapshot_every: Duration::from_secs(600),
            rebuild_after_changes: 1_000_000,
            retrain_every: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

/// What a rebuild changed, for the audit log.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub records: usize,
    pub previous_threshold: f64,
    pub threshold: f64,
    pub reason: &'static str,
    pub seconds: f64,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl IndexSlot {
    pub fn state(&self) -> IndexState {
        read(&self.state).clone()
    }

    fn set_state(&self, s: IndexState) {
        *write(&self.state) = s;
    }

    /// The change-log position of the index, once there is one.
    pub fn position(&self) -> Option<i64> {
        read(&self.index).as_ref().map(RecordIndex::position)
    }

    /// Records in the index, once there is one.
    pub fn records(&self) -> Option<usize> {
        read(&self.index).as_ref().map(RecordIndex::len)
    }

    pub fn live_status(&self) -> LiveStatus {
        self.live.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn update_live(&self, f: impl FnOnce(&mut LiveStatus)) {
        f(&mut self.live.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// How current the index is known to be: when its follower last read the change log to its
    /// end (the Unix epoch before it first has). `None` without a follower (an index installed
    /// whole, as tests do). Every feed is only as current, on this server, as this.
    pub fn current_as_of(&self) -> Option<time::OffsetDateTime> {
        let f = *self.followed.lock().unwrap_or_else(|e| e.into_inner());
        f.map(|at| at.unwrap_or(time::OffsetDateTime::UNIX_EPOCH))
    }

    fn set_current_as_of(&self, at: Option<time::OffsetDateTime>) {
        *self.followed.lock().unwrap_or_else(|e| e.into_inner()) = Some(at);
    }

    /// Asks the follower for a rebuild and retraining now.
    pub fn request_retrain(&self) {
        self.retrain.notify_one();
    }

    /// Installs an index (tests, a start, a rebuild).
    pub fn install(&self, index: RecordIndex) {
        let (records, position) = (index.len() as u64, index.position());
        *write(&self.index) = Some(index);
        self.position.send_replace(position);
        self.set_state(IndexState::Ready { records });
    }

    /// Why lookups cannot be answered now, as the one error every lookup path gives.
    pub fn not_ready(&self) -> ApiError {
        let what = match self.state() {
            IndexState::Loading { records } => {
                format!("the record index is being built ({records} records read so far)")
            }
            IndexState::Failed(why) => {
                format!("the record index could not be built (it is tried again): {why}")
            }
            _ => "the record index is not loaded yet".to_owned(),
        };
        ApiError::unavailable("index_not_ready", what)
    }

    /// A lookup, off the async workers; with the records in the index.
    pub async fn lookup(
        self: &Arc<Self>,
        query: Query,
        today: Date,
        opts: LookupOptions,
    ) -> Result<(Lookup, usize), ApiError> {
        let slot = self.clone();
        tokio::task::spawn_blocking(move || {
            let guard = read(&slot.index);
            guard
                .as_ref()
                .map(|index| (index.lookup(&query, today, &opts), index.len()))
        })
        .await
        .map_err(|e| ApiError::internal(format!("lookup task failed: {e}")))?
        .ok_or_else(|| self.not_ready())
    }

    /// Waits until the index reflects at least `position`; false if it does not within
    /// `timeout`.
    pub async fn caught_up(&self, position: i64, timeout: Duration) -> bool {
        let mut rx = self.position.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Builds the index from every record in the store and installs it (tests and tools;
    /// the server uses [`follow`]).
    pub async fn load(&self, store: Arc<dyn Store>, seed: u64) -> anyhow::Result<()> {
        self.set_state(IndexState::Loading { records: 0 });
        match build(&store, seed, Some(self)).await {
            Ok(index) => {
                self.install(index);
                Ok(())
            }
            Err(e) => {
                self.set_state(IndexState::Failed(format!("{e:#}")));
                Err(e)
            }
        }
    }

    /// Applies changes read from the change log to the installed index, in place.
    fn apply(&self, changes: &[RecordChange]) {
        let Some(last) = changes.last() else { return };
        let mut guard = write(&self.index);
        let Some(index) = guard.as_mut() else { return };
        index.apply(
            changes.iter().map(|c| match &c.record {
                Some(r) => Change::Upsert(r),
                None => Change::Delete(&c.record_id),
            }),
            last.position,
        );
        let (records, position) = (index.len() as u64, index.position());
        drop(guard);
        self.position.send_replace(position);
        self.set_state(IndexState::Ready { records });
    }
}

/// Builds an index from every record in the store, streaming pages to a builder thread so the
/// records are never all in memory twice. Its position is the change log's newest position
/// read before the first page: every change after it is applied again (harmlessly) on top.
pub async fn build(
    store: &Arc<dyn Store>,
    seed: u64,
    progress: Option<&IndexSlot>,
) -> anyhow::Result<RecordIndex> {
    const PAGE: u32 = 5_000;
    let position = store.record_position().await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<SourceRecord>>(4);
    let builder = tokio::task::spawn_blocking(move || {
        let records = std::iter::from_fn(move || rx.blocking_recv()).flatten();
        RecordIndex::build(records, seed)
    });
    let mut after = None;
    let mut loaded = 0u64;
    let outcome: anyhow::Result<()> = async {
        loop {
            let page = store.source_records(None, after, PAGE).await?;
            let Some((last, _)) = page.last() else { break };
            after = Some(*last);
            loaded += page.len() as u64;
            if let Some(slot) = progress {
                slot.set_state(IndexState::Loading { records: loaded });
            }
            let done = page.len() < PAGE as usize;
            if tx
                .send(page.into_iter().map(|(_, r)| r).collect())
                .await
                .is_err()
            {
                anyhow::bail!("the index builder stopped early");
            }
            if done {
                break;
            }
        }
        Ok(())
    }
    .await;
    drop(tx);
    // A failed read leaves the builder with part of the records: wait for it to stop, but
    // never use what it made.
    let built = builder
        .await
        .map_err(|e| anyhow::anyhow!("the index builder failed: {e}"));
    match (outcome, built) {
        (Ok(()), Ok(mut index)) => {
            index.set_position(position);
            Ok(index)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Reads the snapshot; `Err` says why it cannot be used: none, damaged, another format, or
/// from further along the change log than the store now is. The caller still checks the
/// change log it names ([`change_log_mark`]).
fn read_snapshot(path: &Path, head: i64) -> Result<(RecordIndex, String), String> {
    let file = std::fs::File::open(path).map_err(|e| format!("no snapshot ({e})"))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let (index, of) = switchboard_matching::snapshot::read(&mut r).map_err(|e| e.to_string())?;
    if index.position() > head {
        return Err(format!(
            "the snapshot is at position {} but the database only at {head}",
            index.position()
        ));
    }
    Ok((index, of))
}

/// What a snapshot at `position` records of the change log it was made from: the log's id
/// (a new or re-seeded database has another) and the change at that position (its time and
/// record). A database restored from a backup keeps its log id, and feeds may since have taken
/// it past the snapshot's position with other changes; the change at the position then differs,
/// and the snapshot is not used.
async fn change_log_mark(
    store: &Arc<dyn Store>,
    log: &str,
    position: i64,
) -> anyhow::Result<String> {
    if position == 0 {
        return Ok(format!("{log} 0"));
    }
    let at = store
        .record_changes(position - 1, 1)
        .await?
        .into_iter()
        .find(|c| c.position == position);
    Ok(match at {
        Some(c) => format!(
            "{log} {position} {} {}",
            c.changed_at.unix_timestamp_nanos(),
            c.record_id
        ),
        None => format!("{log} {position} missing"),
    })
}

/// Writes the snapshot beside its place and moves it there once it is durable, so a crash
/// mid-write leaves the previous snapshot whole. Returns its size.
fn write_snapshot(index: &RecordIndex, log: &str, path: &Path) -> std::io::Result<u64> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("snapshot.partial");
    let file = std::fs::File::create(&tmp)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    switchboard_matching::snapshot::write(index, log, &mut w)?;
    w.flush()?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(bytes)
}

/// Writes the installed index's snapshot (lookups go on meanwhile). Only the follower task
/// applies changes, so the position does not move while it writes.
async fn snapshot_now(slot: &Arc<IndexSlot>, store: &Arc<dyn Store>, log: &str, path: &Path) {
    let Some(position) = slot.position() else {
        return;
    };
    let mark = match change_log_mark(store, log, position).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "the record index snapshot was not written"
            );
            return;
        }
    };
    let (slot2, path2) = (slot.clone(), path.to_owned());
    let started = Instant::now();
    let written = tokio::task::spawn_blocking(move || {
        let guard = read(&slot2.index);
        guard
            .as_ref()
            .filter(|index| index.position() == position)
            .map(|index| write_snapshot(index, &mark, &path2).map(|b| (b, index.position())))
    })
    .await;
    match written {
        Ok(Some(Ok((bytes, position)))) => {
            let seconds = started.elapsed().as_secs_f64();
            tracing::info!(bytes, position, seconds, "record index snapshot written");
            metrics::gauge!("switchboard_index_snapshot_bytes").set(bytes as f64);
            metrics::gauge!("switchboard_index_snapshot_seconds").set(seconds);
            slot.update_live(|l| {
                l.snapshot_position = Some(position);
                l.snapshot_bytes = Some(bytes);
                l.snapshot_seconds = Some(seconds);
            });
        }
        Ok(Some(Err(e))) => tracing::warn!(error = %e, "the record index snapshot was not written"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "the snapshot task failed"),
    }
}

/// Reads the change log after the index's position and applies it; how many were applied.
async fn catch_up(
    slot: &Arc<IndexSlot>,
    store: &Arc<dyn Store>,
    now: &(dyn Fn() -> time::OffsetDateTime + Send + Sync),
) -> anyhow::Result<usize> {
    let mut applied = 0;
    loop {
        let Some(from) = slot.position() else {
            return Ok(applied);
        };
        let asked = now();
        let changes = store.record_changes(from, 2_000).await?;
        let Some(newest) = changes.last().map(|c| c.changed_at) else {
            slot.set_current_as_of(Some(asked));
            return Ok(applied);
        };
        let n = changes.len();
        let slot2 = slot.clone();
        tokio::task::spawn_blocking(move || slot2.apply(&changes)).await?;
        applied += n;
        let lag = (now() - newest).as_seconds_f64().max(0.0);
        metrics::histogram!("switchboard_index_apply_lag_seconds").record(lag);
        metrics::counter!("switchboard_index_changes_applied_total").increment(n as u64);
        slot.update_live(|l| {
            l.applied += n as u64;
            l.last_apply_lag_seconds = lag;
        });
        if n < 2_000 {
            slot.set_current_as_of(Some(asked));
            return Ok(applied);
        }
    }
}

/// Keeps the index current for as long as the server runs: start (snapshot or build, tried
/// again every 30 s until it works), then follow the change log, write snapshots, and rebuild
/// when due. `rebuilt` hears of every rebuild (the server audits the threshold change).
pub async fn follow(
    slot: Arc<IndexSlot>,
    store: Arc<dyn Store>,
    opts: LiveOptions,
    now: Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>,
    rebuilt: Arc<dyn Fn(Rebuilt) + Send + Sync>,
) {
    let started = Instant::now();
    slot.set_current_as_of(None);
    // Which change log this is, and how far it goes: a snapshot must be of this one.
    let (log, head) = loop {
        match async { anyhow::Ok((store.record_log_id().await?, store.record_position().await?)) }
            .await
        {
            Ok(x) => break x,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    "cannot read the change log; trying again in 5 s"
                );
                slot.set_state(IndexState::Failed(format!("{e:#}")));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    // Start.
    let mut from_snapshot = false;
    if let Some(path) = &opts.snapshot {
        slot.set_state(IndexState::Loading { records: 0 });
        let p = path.clone();
        let read = match tokio::task::spawn_blocking(move || read_snapshot(&p, head)).await {
            Ok(Ok((index, of))) => match change_log_mark(&store, &log, index.position()).await {
                Ok(mark) if mark == of => Ok(Ok(index)),
                Ok(_) => Ok(Err(if of.split(' ').next() == Some(log.as_str()) {
                    "the snapshot holds changes this database does not (restored from a backup?)"
                        .to_owned()
                } else {
                    "the snapshot was made from another database".to_owned()
                })),
                Err(e) => Ok(Err(format!("cannot read the change log: {e:#}"))),
            },
            other => other.map(|r| r.map(|(index, _)| index)),
        };
        match read {
            Ok(Ok(index)) => {
                tracing::info!(
                    records = index.len(),
                    position = index.position(),
                    "record index read from its snapshot"
                );
                slot.update_live(|l| l.started_from = "snapshot".into());
                slot.install(index);
                from_snapshot = true;
            }
            Ok(Err(why)) => {
                tracing::info!(%why, "the record index snapshot cannot be used: building from the store");
                slot.update_live(|l| l.started_from = format!("built ({why})"));
            }
            Err(e) => tracing::warn!(error = %e, "reading the snapshot failed"),
        }
    }
    if !from_snapshot {
        loop {
            slot.set_state(IndexState::Loading { records: 0 });
            match build(&store, opts.seed, Some(&slot)).await {
                Ok(index) => {
                    tracing::info!(
                        records = index.len(),
                        seconds = started.elapsed().as_secs_f64(),
                        threshold = index.strong_threshold(),
                        "record index built"
                    );
                    if slot.live_status().started_from.is_empty() {
                        slot.update_live(|l| l.started_from = "built".into());
                    }
                    slot.install(index);
                    break;
                }
                Err(e) => {
                    tracing::error!(
                        error = format!("{e:#}"),
                        "the record index could not be built; trying again in 30 s"
                    );
                    slot.set_state(IndexState::Failed(format!("{e:#}")));
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
            }
        }
    }
    if let Err(e) = catch_up(&slot, &store, &*now).await {
        tracing::warn!(
            error = format!("{e:#}"),
            "catching up with the change log failed"
        );
    }
    slot.update_live(|l| l.ready_seconds = started.elapsed().as_secs_f64());
    let mut snapshot_at = slot.position().unwrap_or(0);
    let mut last_snapshot = Instant::now();
    if !from_snapshot && let Some(path) = &opts.snapshot {
        snapshot_now(&slot, &store, &log, path).await;
        snapshot_at = slot.position().unwrap_or(0);
    }
    let mut last_build = Instant::now();
    let mut last_head_check = Instant::now();
    let mut building: Option<(
        tokio::task::JoinHandle<anyhow::Result<RecordIndex>>,
        &'static str,
        Instant,
    )> = None;
    let mut failures = 0u32;
    loop {
        match catch_up(&slot, &store, &*now).await {
            Ok(_) => failures = 0,
            Err(e) => {
                failures += 1;
                tracing::warn!(
                    error = format!("{e:#}"),
                    "reading the change log failed; trying again"
                );
                tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(20)))).await;
                continue;
            }
        }
        // A rebuild that finished: bring it up to date outside the lock, then swap it in.
        if building.as_ref().is_some_and(|(h, _, _)| h.is_finished())
            && let Some((handle, reason, began)) = building.take()
        {
            match handle.await {
                Ok(Ok(mut fresh)) => {
                    let caught = async {
                        loop {
                            let changes = store.record_changes(fresh.position(), 2_000).await?;
                            let Some(last) = changes.last().map(|c| c.position) else {
                                return anyhow::Ok(fresh);
                            };
                            fresh = tokio::task::spawn_blocking(move || {
                                fresh.apply(
                                    changes.iter().map(|c| match &c.record {
                                        Some(r) => Change::Upsert(r),
                                        None => Change::Delete(&c.record_id),
                                    }),
                                    last,
                                );
                                fresh
                            })
                            .await?;
                        }
                    }
                    .await;
                    match caught {
                        Ok(fresh) => {
                            let previous = {
                                let guard = read(&slot.index);
                                guard
                                    .as_ref()
                                    .map_or(f64::NAN, RecordIndex::strong_threshold)
                            };
                            let report = Rebuilt {
                                records: fresh.len(),
                                previous_threshold: previous,
                                threshold: fresh.strong_threshold(),
                                reason,
                                seconds: began.elapsed().as_secs_f64(),
                            };
                            // The last few changes are applied under the lock, by the next
                            // catch-up: the swapped-in index is at most one batch behind.
                            slot.install(fresh);
                            slot.update_live(|l| {
                                l.rebuilds += 1;
                                l.previous_threshold = Some(report.previous_threshold);
                                l.threshold = Some(report.threshold);
                                l.rebuild_error = None;
                            });
                            tracing::info!(
                                records = report.records,
                                threshold = report.threshold,
                                previous = report.previous_threshold,
                                reason,
                                "record index rebuilt and retrained"
                            );
                            rebuilt(report);
                            snapshot_at = -1;
                        }
                        Err(e) => slot.update_live(|l| l.rebuild_error = Some(format!("{e:#}"))),
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "rebuilding the record index failed"
                    );
                    slot.update_live(|l| l.rebuild_error = Some(format!("{e:#}")));
                }
                Err(e) => slot.update_live(|l| l.rebuild_error = Some(e.to_string())),
            }
            last_build = Instant::now();
            continue;
        }
        // Start a rebuild when one is due.
        if building.is_none() {
            let grown = {
                let guard = read(&slot.index);
                guard.as_ref().map_or(0, |i| {
                    let (a, d) = i.changes_since_build();
                    a + d
                })
            };
            let scheduled = opts
                .retrain_every
                .is_some_and(|every| last_build.elapsed() >= every);
            // A database restored from a backup while the server runs ends before the index:
            // what the index holds past the end is gone, so rebuild from what is there.
            let behind = if last_head_check.elapsed() >= Duration::from_secs(30) {
                last_head_check = Instant::now();
                store
                    .record_position()
                    .await
                    .is_ok_and(|head| head < slot.position().unwrap_or(0))
            } else {
                false
            };
            let reason = if behind {
                tracing::warn!("the change log ends before the index: rebuilding");
                Some("the database went back")
            } else if grown >= opts.rebuild_after_changes {
                Some("changes")
            } else if scheduled {
                Some("schedule")
            } else {
                None
            };
            if let Some(reason) = reason {
                let (store2, seed) = (store.clone(), opts.seed);
                building = Some((
                    tokio::spawn(async move { build(&store2, seed, None).await }),
                    reason,
                    Instant::now(),
                ));
            }
        }
        // A snapshot when one is due.
        if let Some(path) = &opts.snapshot {
            let at = slot.position().unwrap_or(0);
            if at != snapshot_at && last_snapshot.elapsed() >= opts.snapshot_every {
                snapshot_now(&slot, &store, &log, path).await;
                snapshot_at = at;
                last_snapshot = Instant::now();
            }
        }
        let at = slot.position().unwrap_or(0);
        tokio::select! {
            r = store.wait_for_record_change(at, Duration::from_secs(1)) => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "waiting for record changes failed");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
            () = slot.retrain.notified(), if building.is_none() => {
                let (store2, seed) = (store.clone(), opts.seed);
                building = Some((
                    tokio::spawn(async move { build(&store2, seed, None).await }),
                    "request",
                    Instant::now(),
                ));
            }
            () = tokio::time::sleep(Duration::from_millis(200)), if building.is_some() => {}
        }
    }
}
