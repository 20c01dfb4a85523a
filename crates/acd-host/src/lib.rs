//! The ACD at work.
//!
//! [`AcdHost`] owns the pure [`Acd`] engine behind a lock and gives it what it lacks on
//! purpose: the clock, a ticker that wakes it when something falls due, persistence, and a live
//! feed. Every event that changed something is appended to the store's ACD log (with the
//! commands it produced) before the caller hears about it; on start the host loads the newest
//! snapshot and replays the log after it, so calls waiting and agent states survive a restart
//! exactly (the engine is deterministic). A snapshot is written every
//! [`SNAPSHOT_EVERY`] log entries.
//!
//! The host also keeps the store's call records (what the desktops and the calls API show) in
//! step with the engine: offered, connected, ended, abandoned.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_acd::{
    Acd, AgentId, CallId, CloseReason, Command, Config, Event, EventError, Millis, QueueId,
    Snapshot,
};
use switchboard_domain::{Call, CallState, E164, NewCall, stored_precision};
use switchboard_store::{AcdLogEntry, AcdSnapshot, Store, StoreError};
use time::OffsetDateTime;
use tokio::sync::{Mutex, Notify, broadcast};
use uuid::Uuid;

/// A snapshot every this many log entries.
pub const SNAPSHOT_EVERY: i64 = 2_000;
/// Log entries read per page when replaying.
const REPLAY_PAGE: u32 = 5_000;

/// Milliseconds since the Unix epoch, from the system clock or a test's.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    })
}

/// One entry of the ACD log: the event as the engine took it, the call record it concerns (for
/// an arrival) and what the engine answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Uuid>,
    #[serde(default)]
    pub commands: Vec<Command>,
}

/// What the live feed carries: every logged entry, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItem {
    pub seq: i64,
    pub at: Millis,
    pub event: Event,
    pub commands: Vec<Command>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct HostSnapshot {
    acd: Snapshot,
    records: Vec<(CallId, Uuid)>,
    next_call: u64,
    /// The call record each agent answered last (absent in snapshots before it was kept).
    #[serde(default)]
    handled: Vec<(AgentId, Uuid)>,
}

/// Why the host could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The engine refused the event (it changed nothing).
    #[error(transparent)]
    Refused(#[from] EventError),
    /// The event could not be made durable: it is not acknowledged, and the engine is reloaded
    /// from the store before the next one.
    #[error("the ACD log could not be written: {0}")]
    Store(#[from] StoreError),
    #[error("the stored ACD log cannot be read back: {0}")]
    Corrupt(String),
}

struct Inner {
    acd: Acd,
    seq: i64,
    snapshot_seq: i64,
    records: HashMap<CallId, Uuid>,
    /// The call record each agent answered last: the call of its after-call work.
    handled: HashMap<AgentId, Uuid>,
    next_call: u64,
    /// Persistence failed after the engine moved: reload before the next event.
    broken: bool,
}

/// The hosted ACD.
pub struct AcdHost {
    inner: Mutex<Inner>,
    store: Arc<dyn Store>,
    clock: Clock,
    feed: broadcast::Sender<Arc<FeedItem>>,
    wake: Notify,
}

impl std::fmt::Debug for AcdHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcdHost")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

/// The agent working a call, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallWork {
    pub agent: AgentId,
    /// The user the agent belongs to, when it is a person's.
    pub user: Option<String>,
    /// In after-call work on it (the call is over); otherwise connected.
    pub after_call: bool,
}

/// What [`AcdHost::arrive`] did with a new call.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub call: CallId,
    pub record: Call,
    pub commands: Vec<Command>,
}

impl AcdHost {
    /// Restores the ACD from the store (newest snapshot, then the log after it), then applies
    /// `config` if it differs from the stored one (a logged configuration change, refused if it
    /// would drop a queue that holds calls or an agent who is logged in).
    pub async fn open(
        store: Arc<dyn Store>,
        config: Config,
        clock: Clock,
    ) -> Result<Arc<Self>, HostError> {
        config
            .validate()
            .map_err(|e| HostError::Refused(e.into()))?;
        let inner = load(store.as_ref()).await?;
        let (feed, _) = broadcast::channel(1024);
        let host = Arc::new(Self {
            inner: Mutex::new(inner),
            store,
            clock,
            feed,
            wake: Notify::new(),
        });
        let differs = host.inner.lock().await.acd.config() != &config;
        if differs {
            host.submit(Event::ConfigChanged { config }).await?;
        }
        host.reconcile_calls().await?;
        Ok(host)
    }

    /// Brings the store's call records that are not over in step with the engine, as a crash
    /// can leave them: a call recorded but never logged (the kill fell between the two), or
    /// logged but its record not updated. A call the engine holds takes the engine's state; a
    /// call it does not hold is over: ended if it was answered, abandoned otherwise. How many
    /// records changed.
    pub async fn reconcile_calls(&self) -> Result<usize, HostError> {
        use switchboard_acd::Phase;
        let live: HashMap<Uuid, CallState> = self
            .calls()
            .await
            .into_iter()
            .filter_map(|(view, record)| {
                let state = match view.phase {
                    Phase::Waiting => CallState::Queued,
                    Phase::Ringing { .. } => CallState::Offered,
                    Phase::Connected { .. } => CallState::Connected,
                };
                record.map(|r| (r, state))
            })
            .collect();
        let mut changed = 0;
        // Calls the engine holds stay open, so a round that changes nothing is the last.
        loop {
            let open = self
                .store
                .open_calls(switchboard_store::OPEN_CALLS_MAX_LIMIT)
                .await?;
            let full = open.len() as u32 == switchboard_store::OPEN_CALLS_MAX_LIMIT;
            let mut round = 0;
            for mut call in open {
                let before = call.state;
                let target = live.get(&call.id.as_uuid()).copied().unwrap_or(
                    if before == CallState::Connected {
                        CallState::Ended
                    } else {
                        CallState::Abandoned
                    },
                );
                if before == target {
                    continue;
                }
                let now = stored_precision(OffsetDateTime::now_utc());
                let path: &[CallState] = match (before, target) {
                    (CallState::Arriving | CallState::Queued, CallState::Connected) => {
                        &[CallState::Queued, CallState::Offered, CallState::Connected]
                    }
                    (CallState::Arriving, CallState::Offered) => {
                        &[CallState::Queued, CallState::Offered]
                    }
                    _ => std::slice::from_ref(&target),
                };
                let mut moved = true;
                for step in path {
                    if *step != call.state && call.transition(*step, now).is_err() {
                        moved = false;
                        break;
                    }
                }
                if !moved {
                    tracing::warn!(call = %call.id, from = %before, to = %target, "call record cannot follow the ACD");
                    continue;
                }
                self.store.update_call(&call, before).await?;
                round += 1;
            }
            changed += round;
            if full && round == 0 {
                tracing::warn!(
                    limit = switchboard_store::OPEN_CALLS_MAX_LIMIT,
                    "the call distributor holds a page of calls or more; records after it are not checked"
                );
            }
            if !full || round == 0 {
                break;
            }
        }
        if changed > 0 {
            tracing::warn!(
                calls = changed,
                "call records brought in step with the ACD after a restart"
            );
        }
        Ok(changed)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> Millis {
        (self.clock)()
    }

    /// Every logged entry from now on (a slow reader that falls 1,024 entries behind is told
    /// it lagged and should re-read the state).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedItem>> {
        self.feed.subscribe()
    }

    /// Reads the engine's state.
    pub async fn read<R>(&self, f: impl FnOnce(&Acd, Millis) -> R) -> R {
        let inner = self.inner.lock().await;
        let now = self.now().max(inner.acd.now());
        f(&inner.acd, now)
    }

    /// Who works a call record now: the agent it is connected to, or the agent in after-call
    /// work on it (the call that agent answered last). `None` when the call is waiting,
    /// ringing, or over and wrapped up.
    pub async fn work_on(&self, record: Uuid) -> Option<CallWork> {
        let inner = self.inner.lock().await;
        let agent_user = |agent: AgentId| {
            inner
                .acd
                .config()
                .agents
                .iter()
                .find(|a| a.id == agent)
                .and_then(|a| a.user.clone())
        };
        for (call, r) in &inner.records {
            if *r == record
                && let Some(view) = inner.acd.call(*call)
                && let switchboard_acd::Phase::Connected { agent } = view.phase
            {
                return Some(CallWork {
                    agent,
                    user: agent_user(agent),
                    after_call: false,
                });
            }
        }
        inner
            .handled
            .iter()
            .filter(|(_, r)| **r == record)
            .find(|(a, _)| {
                matches!(
                    inner.acd.agent_state(**a),
                    Some(switchboard_acd::AgentState::AfterCallWork { .. })
                )
            })
            .map(|(a, _)| CallWork {
                agent: *a,
                user: agent_user(*a),
                after_call: true,
            })
    }

    /// Every call the ACD holds, in arrival order, with the store's record of it.
    pub async fn calls(&self) -> Vec<(switchboard_acd::CallView, Option<Uuid>)> {
        let inner = self.inner.lock().await;
        inner
            .acd
            .calls()
            .into_iter()
            .map(|c| {
                let record = inner.records.get(&c.call).copied();
                (c, record)
            })
            .collect()
    }

    /// Hands one event to the engine, makes it durable, publishes it, and answers with the
    /// commands for the edges.
    pub async fn submit(&self, event: Event) -> Result<Vec<Command>, HostError> {
        let (commands, mirror) = {
            let mut inner = self.inner.lock().await;
            self.submit_locked(&mut inner, event, None).await?
        };
        self.mirror(mirror).await;
        Ok(commands)
    }

    /// A call reaches the center: the caller's number is looked up in the partner registry, the
    /// call is recorded, and it is queued.
    pub async fn arrive(
        &self,
        ani_raw: &str,
        queue: QueueId,
        priority: u8,
    ) -> Result<Arrival, HostError> {
        self.arrive_numbered(ani_raw, queue, priority, |_| {}).await
    }

    /// [`AcdHost::arrive`], telling `numbered` the ACD's number for the call before the
    /// commands for it reach any subscriber, so an edge that owns the call (telephony) can
    /// find it when they do. If the arrival then fails, the number may be given again.
    pub async fn arrive_numbered(
        &self,
        ani_raw: &str,
        queue: QueueId,
        priority: u8,
        numbered: impl FnOnce(CallId) + Send,
    ) -> Result<Arrival, HostError> {
        let officer = match E164::parse(ani_raw) {
            Ok(phone) => self.store.officer_by_phone(&phone).await?,
            Err(_) => None,
        };
        let now = stored_precision(OffsetDateTime::now_utc());
        let mut record = Call::arrive(
            NewCall {
                ani_raw: ani_raw.to_owned(),
                officer_id: officer.map(|o| o.id),
            },
            now,
        );
        // Recorded already queued: one durable write rather than an insert and an update
        // (the time from a caller's INVITE to the agent's phone ringing is two fsyncs).
        record
            .transition(CallState::Queued, now)
            .expect("a new call can queue");
        self.store.insert_call(&record).await?;
        let (call, commands, mirror) = {
            let mut inner = self.inner.lock().await;
            // After a failed write the state is reloaded first, so the number is a fresh one.
            if inner.broken {
                *inner = load(self.store.as_ref()).await?;
            }
            let call = CallId(inner.next_call);
            numbered(call);
            let event = Event::CallArrived {
                call,
                queue,
                priority,
            };
            let (commands, mirror) = self
                .submit_locked(&mut inner, event, Some(record.id.as_uuid()))
                .await?;
            (call, commands, mirror)
        };
        self.mirror(mirror).await;
        Ok(Arrival {
            call,
            record,
            commands,
        })
    }

    /// Sends a tick if something has fallen due.
    pub async fn tick(&self) -> Result<Vec<Command>, HostError> {
        let due = {
            let inner = self.inner.lock().await;
            inner.acd.next_deadline().is_some_and(|d| d <= self.now())
        };
        if due {
            self.submit(Event::Tick).await
        } else {
            Ok(Vec::new())
        }
    }

    /// Wakes the engine whenever something falls due (at least every second), until dropped.
    pub async fn run_ticker(self: Arc<Self>) {
        loop {
            let deadline = self.inner.lock().await.acd.next_deadline();
            let now = self.now();
            let wait = match deadline {
                Some(d) if d <= now => 0,
                Some(d) => (d - now).min(1_000),
                None => 1_000,
            };
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
                _ = self.wake.notified() => continue,
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "the ACD could not handle what fell due");
            }
        }
    }

    /// Writes a snapshot now (also done every [`SNAPSHOT_EVERY`] entries and on shutdown).
    pub async fn snapshot(&self) -> Result<(), HostError> {
        let mut inner = self.inner.lock().await;
        self.snapshot_locked(&mut inner).await
    }

    async fn snapshot_locked(&self, inner: &mut Inner) -> Result<(), HostError> {
        if inner.broken {
            return Ok(());
        }
        let state = HostSnapshot {
            acd: inner.acd.snapshot(),
            records: inner.records.iter().map(|(c, r)| (*c, *r)).collect(),
            next_call: inner.next_call,
            handled: inner.handled.iter().map(|(a, r)| (*a, *r)).collect(),
        };
        let state = serde_json::to_value(&state).map_err(|e| HostError::Corrupt(e.to_string()))?;
        self.store
            .put_acd_snapshot(&AcdSnapshot {
                seq: inner.seq,
                at_ms: inner.acd.now() as i64,
                state,
            })
            .await?;
        inner.snapshot_seq = inner.seq;
        Ok(())
    }

    async fn submit_locked(
        &self,
        inner: &mut Inner,
        event: Event,
        record: Option<Uuid>,
    ) -> Result<(Vec<Command>, Vec<(Uuid, Mirror)>), HostError> {
        if inner.broken {
            *inner = load(self.store.as_ref()).await?;
        }
        let now = self.now().max(inner.acd.now());
        let (commands, refused) = match inner.acd.handle(now, event.clone()) {
            Ok(c) => (c, None),
            Err(r) => (r.commands, Some(r.error)),
        };
        // A refused event changed nothing itself, but what fell due before it did: that is
        // logged as the tick it amounts to.
        let (logged, record) = match refused {
            None => (event, record),
            Some(_) => (Event::Tick, None),
        };
        let changed = !commands.is_empty() || !matches!(logged, Event::Tick);
        let mut mirror = Vec::new();
        if changed {
            let seq = inner.seq + 1;
            let entry = LogEntry {
                event: logged,
                record,
                commands,
            };
            let json =
                serde_json::to_value(&entry).map_err(|e| HostError::Corrupt(e.to_string()))?;
            if let Err(e) = self
                .store
                .append_acd_log(&[AcdLogEntry {
                    seq,
                    at_ms: now as i64,
                    entry: json,
                }])
                .await
            {
                inner.broken = true;
                return Err(e.into());
            }
            inner.seq = seq;
            mirror = track(inner, &entry);
            let _ = self.feed.send(Arc::new(FeedItem {
                seq,
                at: now,
                event: entry.event,
                commands: entry.commands.clone(),
            }));
            if inner.seq - inner.snapshot_seq >= SNAPSHOT_EVERY
                && let Err(e) = self.snapshot_locked(inner).await
            {
                tracing::warn!(error = %e, "ACD snapshot failed; the log still holds everything");
            }
            self.wake.notify_one();
            if let Some(error) = refused {
                return Err(error.into());
            }
            return Ok((entry.commands, mirror));
        }
        match refused {
            Some(error) => Err(error.into()),
            None => Ok((commands, mirror)),
        }
    }

    /// Brings the store's call records in step with what the engine did.
    async fn mirror(&self, changes: Vec<(Uuid, Mirror)>) {
        for (id, change) in changes {
            let next = match change {
                Mirror::Offered => CallState::Offered,
                Mirror::Requeued => CallState::Queued,
                Mirror::Connected => CallState::Connected,
                Mirror::Closed(CloseReason::Abandoned) => CallState::Abandoned,
                Mirror::Closed(_) => CallState::Ended,
            };
            let result = async {
                let mut call = self
                    .store
                    .call(switchboard_domain::CallId::from_uuid(id))
                    .await?;
                let before = call.state;
                if before == next
                    || call
                        .transition(next, stored_precision(OffsetDateTime::now_utc()))
                        .is_err()
                {
                    return Ok(());
                }
                self.store.update_call(&call, before).await
            }
            .await;
            if let Err(e) = result {
                tracing::debug!(call = %id, error = %e, "call record not updated");
            }
        }
    }
}

/// A change to mirror onto a call record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mirror {
    Offered,
    Requeued,
    Connected,
    Closed(CloseReason),
}

/// Keeps the host's bookkeeping (call records, next call number) in step with a logged entry,
/// and says which call records change.
fn track(inner: &mut Inner, entry: &LogEntry) -> Vec<(Uuid, Mirror)> {
    let mut out = Vec::new();
    if let Event::CallArrived { call, .. } = &entry.event {
        inner.next_call = inner.next_call.max(call.0 + 1);
        if let Some(r) = entry.record {
            inner.records.insert(*call, r);
        }
    }
    if let Event::AgentAnswered { call, agent } = &entry.event
        && let Some(r) = inner.records.get(call)
    {
        inner.handled.insert(*agent, *r);
        out.push((*r, Mirror::Connected));
    }
    for c in &entry.commands {
        let (call, m) = match c {
            Command::OfferCall { call, .. } => (call, Mirror::Offered),
            Command::CancelOffer { call, .. } => (call, Mirror::Requeued),
            Command::Close { call, reason } => (call, Mirror::Closed(*reason)),
            _ => continue,
        };
        if let Some(r) = inner.records.get(call) {
            out.push((*r, m));
        }
        if matches!(c, Command::Close { .. }) {
            inner.records.remove(call);
        }
    }
    out
}

/// Rebuilds the engine from the store: the newest snapshot, then every log entry after it.
async fn load(store: &dyn Store) -> Result<Inner, HostError> {
    let mut inner = match store.latest_acd_snapshot().await? {
        Some(s) => {
            let snap: HostSnapshot = serde_json::from_value(s.state)
                .map_err(|e| HostError::Corrupt(format!("snapshot {}: {e}", s.seq)))?;
            Inner {
                acd: Acd::restore(snap.acd)
                    .map_err(|e| HostError::Corrupt(format!("snapshot {}: {e}", s.seq)))?,
                seq: s.seq,
                snapshot_seq: s.seq,
                records: snap.records.into_iter().collect(),
                handled: snap.handled.into_iter().collect(),
                next_call: snap.next_call,
                broken: false,
            }
        }
        None => Inner {
            acd: Acd::new(Config::default()).expect("the default configuration is valid"),
            seq: 0,
            snapshot_seq: 0,
            records: HashMap::new(),
            handled: HashMap::new(),
            next_call: 1,
            broken: false,
        },
    };
    let mut replayed = 0u64;
    loop {
        let page = store.acd_log_after(inner.seq, REPLAY_PAGE).await?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        for e in page {
            let entry: LogEntry = serde_json::from_value(e.entry)
                .map_err(|err| HostError::Corrupt(format!("log entry {}: {err}", e.seq)))?;
            let at = e.at_ms.max(0) as Millis;
            let commands = match inner.acd.handle(at, entry.event.clone()) {
                Ok(c) => c,
                Err(r) => {
                    return Err(HostError::Corrupt(format!(
                        "log entry {} is refused on replay: {}",
                        e.seq, r.error
                    )));
                }
            };
            if commands != entry.commands {
                tracing::warn!(
                    seq = e.seq,
                    "replay answered differently from the original run (engine changed?)"
                );
            }
            track(&mut inner, &entry);
            inner.seq = e.seq;
            replayed += 1;
        }
        debug_assert!(inner.seq == last);
    }
    if replayed > 0 {
        tracing::info!(
            replayed,
            seq = inner.seq,
            calls = inner.acd.call_count(),
            "ACD restored from its log"
        );
    }
    Ok(inner)
}
