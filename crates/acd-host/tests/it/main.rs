//! The hosted ACD on real databases: a fresh SQLite file, and a PostgreSQL database created for
//! each test and dropped after it (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). The clock is the test's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, Executor, PgConnection};
use switchboard_acd::{
    AgentConfig, AgentId, AgentState, CallId, CallView, Command, Config, Event, Millis,
    QueueConfig, QueueId, Requested, SkillId,
};
use switchboard_acd_host::{AcdHost, Clock};
use switchboard_domain::CallState;
use switchboard_store::Store;
use switchboard_store_postgres::PgStore;
use switchboard_store_sqlite::SqliteStore;

const INQUIRY: QueueId = QueueId(1);
const JUVENILE: QueueId = QueueId(2);
/// 2026-11-23 14:00 UTC (09:00 in New York).
const T0: Millis = 1_795_442_400_000;

fn config() -> Config {
    let mut inquiry = QueueConfig::new(INQUIRY, "inquiry desk", SkillId(1));
    inquiry.ring_timeout = 20_000;
    let juvenile = QueueConfig::new(JUVENILE, "juvenile liaison", SkillId(2));
    Config {
        queues: vec![inquiry, juvenile],
        agents: (1..=3)
            .map(|i| AgentConfig {
                id: AgentId(i),
                name: format!("call-taker {i}"),
                skills: vec![(SkillId(1), 5)],
                after_call_limit: 30_000,
                user: None,
            })
            .collect(),
        ..Config::default()
    }
}

struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> (Self, Clock) {
        let t = Arc::new(AtomicU64::new(T0));
        let c = t.clone();
        (Self(t), Arc::new(move || c.load(Ordering::SeqCst)))
    }
    fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    fn clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || c.load(Ordering::SeqCst))
    }
}

async fn set_state(host: &AcdHost, agent: u64, to: Requested) -> Vec<Command> {
    host.submit(Event::AgentStateChanged {
        agent: AgentId(agent),
        to,
        forced: false,
    })
    .await
    .unwrap()
}

type Seen = (Vec<CallView>, Vec<(AgentId, AgentState)>);

async fn seen(host: &AcdHost) -> Seen {
    host.read(|acd, now| {
        (
            acd.calls(),
            acd.agent_status(now)
                .into_iter()
                .map(|a| (a.agent, a.state))
                .collect(),
        )
    })
    .await
}

/// Calls waiting, a call ringing, a call connected and agents in every state survive a
/// restart, through the snapshot and the log after it; the restored ACD carries on.
async fn restart_story(open: impl AsyncFn() -> Arc<dyn Store>) {
    let (time, clock) = TestClock::new();
    let store = open().await;
    let host = AcdHost::open(store.clone(), config(), clock).await.unwrap();
    set_state(&host, 1, Requested::LogIn).await;
    set_state(
        &host,
        2,
        Requested::Break {
            reason: "training".into(),
        },
    )
    .await;
    let first = host.arrive("+12025550123", INQUIRY, 0).await.unwrap();
    assert!(first.commands.contains(&Command::OfferCall {
        call: first.call,
        agent: AgentId(1),
        queue: INQUIRY,
        callback: false
    }));
    time.advance(3_000);
    host.submit(Event::AgentAnswered {
        agent: AgentId(1),
        call: first.call,
    })
    .await
    .unwrap();
    // The snapshot holds what came before; the rest is replayed from the log.
    host.snapshot().await.unwrap();
    let second = host.arrive("anonymous", INQUIRY, 0).await.unwrap();
    let third = host.arrive("+12025550199", INQUIRY, 5).await.unwrap();
    let fourth = host.arrive("+12025550100", JUVENILE, 0).await.unwrap();
    set_state(&host, 3, Requested::LogIn).await; // gets the priority-5 call
    let before = seen(&host).await;
    assert_eq!(before.0.len(), 4);
    let record = store.call(third.record.id).await.unwrap();
    assert_eq!(
        record.state,
        CallState::Offered,
        "the call record follows the ACD"
    );
    let record = store.call(first.record.id).await.unwrap();
    assert_eq!(record.state, CallState::Connected);
    drop(host);

    // The server restarts.
    let store = open().await;
    let host = AcdHost::open(store.clone(), config(), time.clock())
        .await
        .unwrap();
    assert_eq!(seen(&host).await, before);
    let waiting = host.read(|acd, _| acd.waiting(INQUIRY)).await;
    assert_eq!(waiting, vec![second.call]);
    assert_eq!(
        host.read(|acd, _| acd.waiting(JUVENILE)).await,
        vec![fourth.call]
    );
    // It carries on: call 3 rings out on agent 3 (not ready now), the first call ends,
    // after-call work runs out, and the best waiting call (priority 5) is offered.
    time.advance(60_000);
    host.submit(Event::CallEnded { call: first.call })
        .await
        .unwrap();
    time.advance(30_000);
    let out = host.tick().await.unwrap();
    assert!(
        out.contains(&Command::OfferCall {
            call: third.call,
            agent: AgentId(1),
            queue: INQUIRY,
            callback: false
        }),
        "{out:?}"
    );
    assert!(matches!(
        host.read(|acd, _| acd.agent_state(AgentId(3)).cloned())
            .await,
        Some(AgentState::Break { .. })
    ));
    assert_eq!(
        store.call(first.record.id).await.unwrap().state,
        CallState::Ended
    );
    // New calls keep numbering after the restored ones.
    let fifth = host.arrive("+12025550142", INQUIRY, 0).await.unwrap();
    assert_eq!(fifth.call, CallId(fourth.call.0 + 1));
    let today = host
        .read(|acd, now| acd.queue_status(now))
        .await
        .into_iter()
        .find(|q| q.queue == INQUIRY)
        .unwrap()
        .today;
    assert_eq!((today.entered, today.answered, today.handled), (4, 1, 1));
    drop(host);

    // Once more, with no snapshot after the first: everything replays.
    let store = open().await;
    let after = {
        let host = AcdHost::open(store.clone(), config(), time.clock())
            .await
            .unwrap();
        seen(&host).await
    };
    let host = AcdHost::open(store, config(), time.clock()).await.unwrap();
    assert_eq!(seen(&host).await, after);
}

/// A configuration that would drop a queue holding calls is refused at start, and the stored
/// one stays in force; a harmless change is logged and applied.
async fn config_story(open: impl AsyncFn() -> Arc<dyn Store>) {
    let (_time, clock) = TestClock::new();
    let store = open().await;
    let host = AcdHost::open(store.clone(), config(), clock.clone())
        .await
        .unwrap();
    host.arrive("+12025550100", JUVENILE, 0).await.unwrap();
    drop(host);
    let mut without = config();
    without.queues.retain(|q| q.id != JUVENILE);
    let err = AcdHost::open(store.clone(), without, clock.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("still holds calls"), "{err}");
    let mut renamed = config();
    renamed.queues[0].name = "inquiry desk (24/7)".into();
    let host = AcdHost::open(store.clone(), renamed.clone(), clock.clone())
        .await
        .unwrap();
    assert_eq!(host.read(|acd, _| acd.config().clone()).await, renamed);
    drop(host);
    let host = AcdHost::open(store, renamed.clone(), clock).await.unwrap();
    assert_eq!(host.read(|acd, _| acd.config().clone()).await, renamed);
}

/// The live feed carries every logged entry in order, with its commands.
async fn feed_story(open: impl AsyncFn() -> Arc<dyn Store>) {
    let (_time, clock) = TestClock::new();
    let host = AcdHost::open(open().await, config(), clock).await.unwrap();
    let mut feed = host.subscribe();
    set_state(&host, 1, Requested::LogIn).await;
    let a = host.arrive("+12025550123", INQUIRY, 0).await.unwrap();
    let first = feed.recv().await.unwrap();
    let second = feed.recv().await.unwrap();
    assert_eq!(second.seq, first.seq + 1);
    assert!(matches!(second.event, Event::CallArrived { call, .. } if call == a.call));
    assert_eq!(second.commands, a.commands);
    // A refused event is not logged and not acknowledged.
    let err = host
        .submit(Event::CallEnded { call: CallId(999) })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not known"), "{err}");
    assert!(feed.try_recv().is_err());
}

/// After a crash the call records are brought in step with the ACD when it opens: a call
/// recorded but never logged is abandoned, a record the engine moved past follows it, a
/// record answered but gone from the engine is ended; the calls still live are untouched.
async fn reconcile_story(open: impl AsyncFn() -> Arc<dyn Store>) {
    use switchboard_domain::{Call, NewCall, stored_precision};
    let (_time, clock) = TestClock::new();
    let store = open().await;
    let host = AcdHost::open(store.clone(), config(), clock.clone())
        .await
        .unwrap();
    set_state(&host, 1, Requested::LogIn).await;
    let answered = host.arrive("+12025550123", INQUIRY, 0).await.unwrap();
    host.submit(Event::AgentAnswered {
        agent: AgentId(1),
        call: answered.call,
    })
    .await
    .unwrap();
    let waiting = host.arrive("+12025550124", INQUIRY, 0).await.unwrap();
    drop(host);
    // What a kill between two writes leaves: ...
    let now = stored_precision(time::OffsetDateTime::now_utc());
    let record = |state: &[CallState]| {
        let mut c = Call::arrive(
            NewCall {
                ani_raw: "+12025550125".into(),
                officer_id: None,
            },
            now,
        );
        for s in state {
            c.transition(*s, now).unwrap();
        }
        c
    };
    // ... a call recorded, never logged;
    let unlogged = record(&[CallState::Queued]);
    store.insert_call(&unlogged).await.unwrap();
    // ... a call answered whose end never reached its record;
    let unended = record(&[CallState::Queued, CallState::Offered, CallState::Connected]);
    store.insert_call(&unended).await.unwrap();
    // ... and a record left behind the engine (the answer logged, the record not updated).
    let mut behind = store.call(answered.record.id).await.unwrap();
    assert_eq!(behind.state, CallState::Connected);
    behind.state = CallState::Queued;
    behind.answered_at = None;
    store
        .update_call(&behind, CallState::Connected)
        .await
        .unwrap();

    let host = AcdHost::open(store.clone(), config(), clock).await.unwrap();
    let state = async |id| store.call(id).await.unwrap();
    assert_eq!(state(unlogged.id).await.state, CallState::Abandoned);
    assert!(state(unlogged.id).await.ended_at.is_some());
    assert_eq!(state(unended.id).await.state, CallState::Ended);
    let caught_up = state(answered.record.id).await;
    assert_eq!(caught_up.state, CallState::Connected);
    assert!(caught_up.answered_at.is_some());
    assert_eq!(state(waiting.record.id).await.state, CallState::Queued);
    assert_eq!(
        seen(&host).await.0.len(),
        2,
        "the engine's calls are untouched"
    );
    assert_eq!(
        host.reconcile_calls().await.unwrap(),
        0,
        "nothing left to do"
    );
}

// ----- SQLite -----

async fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(&dir.path().join("acd.db")).await.unwrap())
}

#[tokio::test]
async fn sqlite_restart_keeps_calls_and_agents() {
    let dir = tempfile::tempdir().unwrap();
    restart_story(async || sqlite(&dir).await).await;
}

#[tokio::test]
async fn sqlite_configuration_changes() {
    let dir = tempfile::tempdir().unwrap();
    config_story(async || sqlite(&dir).await).await;
}

#[tokio::test]
async fn sqlite_call_records_are_reconciled_at_start() {
    let dir = tempfile::tempdir().unwrap();
    reconcile_story(async || sqlite(&dir).await).await;
}

#[tokio::test]
async fn sqlite_feed() {
    let dir = tempfile::tempdir().unwrap();
    feed_story(async || sqlite(&dir).await).await;
}

// ----- PostgreSQL -----

fn admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    let base = admin.split('?').next().unwrap_or(&admin);
    let cut = base.rfind('/').expect("a postgres URL has a path");
    format!("{}/{db}", &base[..cut])
}

/// A database of its own, dropped when the test ends (even on failure).
struct PgDb(String);

impl PgDb {
    async fn create() -> Self {
        let db = format!("sb_acd_{}", uuid_like());
        let mut admin = PgConnection::connect(&admin_url())
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is needed at {} ({e})", admin_url()));
        admin
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE \"{db}\""
            ))))
            .await
            .expect("create test database");
        Self(db)
    }

    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(PgStore::connect(&url_for(&self.0)).await.unwrap())
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let db = std::mem::take(&mut self.0);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&admin_url()).await {
                    let _ = admin
                        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                        ))))
                        .await;
                }
            });
        })
        .join();
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

#[tokio::test]
async fn postgres_restart_keeps_calls_and_agents() {
    let db = PgDb::create().await;
    restart_story(async || db.open().await).await;
}

#[tokio::test]
async fn postgres_configuration_changes() {
    let db = PgDb::create().await;
    config_story(async || db.open().await).await;
}

#[tokio::test]
async fn postgres_call_records_are_reconciled_at_start() {
    let db = PgDb::create().await;
    reconcile_story(async || db.open().await).await;
}

#[tokio::test]
async fn postgres_feed() {
    let db = PgDb::create().await;
    feed_story(async || db.open().await).await;
}
