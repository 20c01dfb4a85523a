//! Live records: a feed's batches reach every lookup and evaluation within a second, on both
//! backends; bad batches change nothing; a stale feed is "unable to confirm"; a damaged
//! snapshot is rebuilt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_store::Store;
use switchboard_web::AppState;
use switchboard_web::lookup_index::{self, LiveOptions};

use super::{TestApp, assert_error, serve_state};

/// Starts the follower of `state`'s index (snapshot in `dir`) and waits until it is ready.
async fn follow(state: &AppState, snapshot: Option<std::path::PathBuf>) {
    let clock = state.clone();
    tokio::spawn(lookup_index::follow(
        state.index.clone(),
        state.store.clone(),
        LiveOptions {
            snapshot,
            ..LiveOptions::default()
        },
        Arc::new(move || clock.now()),
        Arc::new(|_| {}),
    ));
    let started = Instant::now();
    while state.index.position().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "index not ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The call-taker's evaluation of `person` on `call` (identity and case chosen).
async fn evaluate_clean(
    app: &TestApp,
    call: &str,
    person: &switchboard_synth::records::PersonRecords,
) -> Value {
    let q = super::dispositions::inquiry(call, person, json!({}));
    let (s, v) = app.post("/api/v1/dispositions/evaluate", q).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// Seeds `people` generated people's records (as of the app's day) into the store.
async fn seed(store: &dyn Store, people: u64) -> Vec<switchboard_synth::records::PersonRecords> {
    use switchboard_synth::noise::NoiseSpec;
    use switchboard_synth::people::{PeopleSpec, people as generate};
    use switchboard_synth::records::{RecordSpec, records_for};
    let today = super::NOW.date();
    let rspec = RecordSpec {
        seed: 9,
        noise: NoiseSpec::default(),
        today,
    };
    let mut kept = Vec::new();
    let mut all = Vec::new();
    for p in generate(PeopleSpec::new(9, people, today)) {
        let mut r = records_for(&rspec, &p);
        kept.push(r.clone());
        r.drain_into(&mut all);
    }
    store.put_source_records(&all).await.unwrap();
    kept
}

/// Issues a feed key for `systems`; its secret.
async fn feed_key(app: &TestApp, systems: &[&str]) -> (String, String) {
    app.act_as(Some(Role::Administrator));
    let (s, b) = app
        .post(
            "/api/v1/record-feeds",
            json!({"name": "county records", "systems": systems}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    app.act_as(None);
    (
        b["secret"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    )
}

async fn send(app: &TestApp, secret: &str, batch: Value) -> (StatusCode, Value) {
    app.send(
        app.http
            .post(app.url("/api/v1/records"))
            .header("authorization", format!("Bearer {secret}"))
            .json(&batch),
    )
    .await
}

fn newcomer(id: &str, dob: &str) -> Value {
    json!({
        "system": "identity", "record_id": id, "a_number": "208815672", "fin": "",
        "family_name": "Marlowe Ybarra", "given_name": "Quintessa", "aliases": "",
        "dob": dob, "sex": "F", "country_of_birth": "PE", "place_of_birth": "Cusco",
        "updated_on": super::NOW.date().to_string()
    })
}

/// The band of record `id` in a supervisor's lookup of the newcomer, with the index position.
async fn band_of(app: &TestApp, id: &str) -> (Option<String>, i64) {
    app.act_as(Some(Role::Supervisor));
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({
                "purpose": super::purpose(),
                "subject": {
                    "family_names": ["Marlowe Ybarra"], "given_names": ["Quintessa"],
                    "date_of_birth": "1987-06-14", "a_number": "A208815672"
                }
            }),
        )
        .await;
    app.act_as(None);
    assert_eq!(s, StatusCode::OK, "{b}");
    let band = b["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["record"]["record_id"] == id)
        .map(|c| c["band"].as_str().unwrap().to_owned());
    (band, b["index_position"].as_i64().unwrap())
}

/// Polls until the lookup's view of `id` satisfies `want`; the time it took.
async fn until(app: &TestApp, id: &str, want: impl Fn(&Option<String>) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let (band, _) = band_of(app, id).await;
        if want(&band) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{id}: still {band:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn position(app: &TestApp) -> i64 {
    app.act_as(Some(Role::Administrator));
    let (s, b) = app.get("/api/v1/records/status").await;
    app.act_as(None);
    assert_eq!(s, StatusCode::OK, "{b}");
    b["position"].as_i64().unwrap()
}

async fn fed_records_live(store: Arc<dyn Store>, dir: tempfile::TempDir) {
    seed(store.as_ref(), 300).await;
    let state = AppState::with_clock(store, Arc::new(|| super::NOW));
    follow(&state, Some(dir.path().join("index.snapshot"))).await;
    let app = serve_state(state, dir).await;
    let (secret, key_id) = feed_key(&app, &["identity"]).await;

    // A record filed while the server runs is found by the next lookups, within a second.
    assert_eq!(band_of(&app, "IDN-LIVE-0001").await.0, None);
    let (s, applied) = send(
        &app,
        &secret,
        json!({"upserts": [newcomer("IDN-LIVE-0001", "1987-06-14")]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{applied}");
    assert_eq!(applied["inserted"], 1);
    let took = until(&app, "IDN-LIVE-0001", |b| b.as_deref() == Some("strong")).await;
    assert!(took < Duration::from_secs(1), "searchable after {took:?}");
    let (_, seen_at) = band_of(&app, "IDN-LIVE-0001").await;
    assert!(seen_at >= applied["position"].as_i64().unwrap());

    // An update moves its band: the birth date now disagrees.
    let (s, b) = send(
        &app,
        &secret,
        json!({"upserts": [newcomer("IDN-LIVE-0001", "1941-02-27")]}),
    )
    .await;
    assert_eq!((s, b["updated"].as_i64()), (StatusCode::OK, Some(1)), "{b}");
    until(&app, "IDN-LIVE-0001", |b| {
        b.as_deref().is_some_and(|b| b != "strong")
    })
    .await;

    // A bad batch: every problem named, nothing applied.
    let before = position(&app).await;
    let mut bad = newcomer("IDN-LIVE-0002", "1990-01-01");
    bad["given_name"] = json!("Quin\u{1b}[31mtessa");
    bad["shoe_size"] = json!(9);
    let (s, b) = send(
        &app,
        &secret,
        json!({"upserts": [newcomer("IDN-LIVE-0003", "1990-01-01"), bad],
               "deletes": [{"system": "identity", "record_id": "IDN-LIVE-0001"}]}),
    )
    .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_batch",
        Some("upserts[1].shoe_size"),
    );
    let fields: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"upserts[1].given_name"), "{b}");
    assert_eq!(position(&app).await, before);
    // A system the key may not write, and a record id another system holds.
    let order = json!({
        "system": "court_order", "record_id": "IDN-LIVE-0001", "order_kind": "stay_of_removal",
        "court": "BIA", "docket": "26-1", "a_number": "208815672", "family_name": "Marlowe Ybarra",
        "given_name": "Quintessa", "dob": null, "issued_on": "2026-11-20", "expires_on": null,
        "updated_on": "2026-11-20"
    });
    let (s, b) = send(&app, &secret, json!({"upserts": [order.clone()]})).await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_batch",
        Some("upserts[0].system"),
    );
    let (orders, _) = feed_key(&app, &["court_order"]).await;
    let (s, b) = send(&app, &orders, json!({"upserts": [order]})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(position(&app).await, before);

    // A delete removes it.
    let (s, b) = send(
        &app,
        &secret,
        json!({"deletes": [{"system": "identity", "record_id": "IDN-LIVE-0001"}]}),
    )
    .await;
    assert_eq!((s, b["deleted"].as_i64()), (StatusCode::OK, Some(1)), "{b}");
    until(&app, "IDN-LIVE-0001", Option::is_none).await;

    // A revoked key never works again; no key, or a wrong one, is refused and audited.
    app.act_as(Some(Role::Administrator));
    let (s, _) = app.delete(&format!("/api/v1/record-feeds/{key_id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.act_as(None);
    let (s, b) = send(&app, &secret, json!({"current": ["identity"]})).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "feed_key_revoked", None);
    let (s, b) = send(&app, "sbf_0000", json!({})).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "feed_key_invalid", None);
    app.act_as(Some(Role::Auditor));
    let (s, b) = app
        .get("/api/v1/audit/entries?action=records.ingest&limit=50")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let outcomes: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    // Three batches applied, and one audited first and then refused by the store ("failed").
    assert_eq!(outcomes.iter().filter(|o| **o == "ok").count(), 4, "{b}");
    assert_eq!(
        outcomes.iter().filter(|o| **o == "failed").count(),
        1,
        "{b}"
    );
    assert!(
        outcomes.iter().filter(|o| **o == "refused").count() >= 4,
        "{b}"
    );
}

#[tokio::test]
async fn fed_records_are_found_changed_and_deleted_live_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = switchboard_store_sqlite::SqliteStore::open(&dir.path().join("t.db"))
        .await
        .unwrap();
    fed_records_live(Arc::new(store), dir).await;
}

#[tokio::test]
async fn fed_records_are_found_changed_and_deleted_live_on_postgres() {
    let db = super::pg::Database::create().await;
    let store = switchboard_store_postgres::PgStore::connect(&db.url)
        .await
        .unwrap();
    fed_records_live(Arc::new(store), tempfile::tempdir().unwrap()).await;
    drop(db);
}

#[tokio::test]
async fn a_stale_feed_makes_evaluations_unable_to_confirm_naming_it() {
    use super::dispositions::clean_person_on;
    let (dir, store, host) = super::store_with_acd(super::dispositions::desk()).await;
    // Three hours after the records were loaded (and vouched for).
    let later = Arc::new(|| time::OffsetDateTime::now_utc() + time::Duration::hours(3));
    let today = later().date();
    let mut state = AppState::with_clock(store.clone(), later).with_acd(host);
    state.feed_max_lag_minutes =
        Arc::new(vec![(switchboard_domain::records::System::CourtOrder, 60)]);
    let seeded = super::seed_records_on(&state, 3_000, today).await;
    let app = serve_state(state, dir).await;
    let person = clean_person_on(&seeded, today);
    let call = super::dispositions::federal_call(&app, app.store.as_ref()).await;
    let v = evaluate_clean(&app, &call, person).await;
    let why = super::dispositions::reasons_of(&v, "stale-or-missing").join(" | ");
    assert!(why.contains("court order feed last vouched"), "{v}");
    assert!(!super::dispositions::allows(
        &v,
        "confirm_enforcement_action"
    ));
    // The court-order feed says it is current: the rule no longer names it.
    let (orders, _) = feed_key(&app, &["court_order"]).await;
    let (s, b) = send(&app, &orders, json!({"current": ["court_order"]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v = evaluate_clean(&app, &call, person).await;
    let why = super::dispositions::reasons_of(&v, "stale-or-missing").join(" | ");
    assert!(!why.contains("feed"), "{v}");
    assert!(
        super::dispositions::allows(&v, "confirm_enforcement_action"),
        "{v}"
    );
}

#[tokio::test]
async fn a_stay_sent_by_a_feed_is_named_by_the_next_evaluation_within_a_second() {
    use super::dispositions::{clean_person, reasons_of};
    let (dir, store, host) = super::store_with_acd(super::dispositions::desk()).await;
    let state = AppState::with_clock(store.clone(), Arc::new(|| super::NOW)).with_acd(host);
    let seeded = seed(store.as_ref(), 3_000).await;
    follow(&state, None).await;
    let app = serve_state(state, dir).await;
    let person = clean_person(&seeded);
    let call = super::dispositions::federal_call(&app, app.store.as_ref()).await;
    let v = evaluate_clean(&app, &call, person).await;
    assert!(reasons_of(&v, "court-order").is_empty(), "{v}");

    let i = &person.identity[0];
    let stay = json!({
        "system": "court_order", "record_id": "ORD-LIVE-STAY-1", "order_kind": "stay_of_removal",
        "court": "Board of Immigration Appeals", "docket": "26-04417", "a_number": i.a_number,
        "family_name": i.family_name, "given_name": i.given_name, "dob": i.dob,
        "issued_on": super::NOW.date().to_string(), "expires_on": null,
        "updated_on": super::NOW.date().to_string()
    });
    let (orders, _) = feed_key(&app, &["court_order"]).await;
    let (s, b) = send(&app, &orders, json!({"upserts": [stay]})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let sent = Instant::now();
    loop {
        let v = evaluate_clean(&app, &call, person).await;
        if reasons_of(&v, "court-order")
            .iter()
            .any(|r| r.contains("ORD-LIVE-STAY-1"))
        {
            assert!(!super::dispositions::allows(
                &v,
                "confirm_enforcement_action"
            ));
            break;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(1),
            "the stay was not named within a second: {v}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_damaged_snapshot_is_rebuilt_from_the_store_never_misread() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        switchboard_store_sqlite::SqliteStore::open(&dir.path().join("t.db"))
            .await
            .unwrap(),
    );
    seed(store.as_ref(), 300).await;
    let path = dir.path().join("index.snapshot");
    let first = AppState::with_clock(store.clone(), Arc::new(|| super::NOW));
    follow(&first, Some(path.clone())).await;
    let records = first.index.records().unwrap();
    let started = Instant::now();
    while first.index.live_status().snapshot_position.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no snapshot written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(path.exists());
    assert_eq!(
        first.index.live_status().started_from,
        "built (no snapshot (No such file or directory (os error 2)))"
    );

    // A second server on the same database starts from the snapshot.
    let second = AppState::with_clock(store.clone(), Arc::new(|| super::NOW));
    follow(&second, Some(path.clone())).await;
    assert_eq!(second.index.live_status().started_from, "snapshot");
    assert_eq!(second.index.records(), Some(records));

    // One flipped byte in the middle: the third rebuilds, and says why.
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let third = AppState::with_clock(store.clone(), Arc::new(|| super::NOW));
    follow(&third, Some(path.clone())).await;
    let why = third.index.live_status().started_from;
    assert!(why.starts_with("built (damaged snapshot"), "{why}");
    assert_eq!(third.index.records(), Some(records));
    // And the rebuilt index wrote a good snapshot again.
    let started = Instant::now();
    while third.index.live_status().snapshot_position.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no snapshot written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fourth = AppState::with_clock(store, Arc::new(|| super::NOW));
    follow(&fourth, Some(path)).await;
    assert_eq!(fourth.index.live_status().started_from, "snapshot");
}

/// Deletes every record of `people` in one batch; how many.
async fn delete_all(
    store: &dyn Store,
    people: &[switchboard_synth::records::PersonRecords],
) -> usize {
    let mut records = Vec::new();
    for p in people {
        p.clone().drain_into(&mut records);
    }
    let batch = switchboard_store::RecordBatch {
        deletes: records
            .iter()
            .map(|r| (r.system(), r.record_id().to_owned()))
            .collect(),
        origin: "test".to_owned(),
        ..switchboard_store::RecordBatch::new(super::NOW)
    };
    store.apply_record_batch(&batch).await.unwrap();
    records.len()
}

#[tokio::test]
async fn a_snapshot_ahead_of_a_restored_backup_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let backup = dir.path().join("backup.db");
    let store: Arc<dyn Store> = Arc::new(
        switchboard_store_sqlite::SqliteStore::open(&db)
            .await
            .unwrap(),
    );
    let people = seed(store.as_ref(), 300).await;
    // The backup, taken now.
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("VACUUM INTO ?")
            .bind(backup.display().to_string())
            .execute(&mut c)
            .await
            .unwrap();
    }
    // Feeds go on: one person's records deleted; a server snapshots that.
    let gone = delete_all(store.as_ref(), &people[..1]).await;
    assert!(gone > 0);
    let path = dir.path().join("index.snapshot");
    let first = AppState::with_clock(store.clone(), Arc::new(|| super::NOW));
    follow(&first, Some(path.clone())).await;
    let started = Instant::now();
    while first.index.live_status().snapshot_position.is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "no snapshot");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The database is restored from the backup, and feeds take it past the snapshot's
    // position with other changes (two other people deleted).
    let restored: Arc<dyn Store> = Arc::new(
        switchboard_store_sqlite::SqliteStore::open(&backup)
            .await
            .unwrap(),
    );
    assert_eq!(
        restored.record_log_id().await.unwrap(),
        store.record_log_id().await.unwrap()
    );
    let other = delete_all(restored.as_ref(), &people[1..3]).await;
    assert!(restored.record_position().await.unwrap() >= first.index.position().unwrap());
    let second = AppState::with_clock(restored.clone(), Arc::new(|| super::NOW));
    follow(&second, Some(path)).await;
    let why = second.index.live_status().started_from;
    assert!(why.contains("restored from a backup"), "{why}");
    // The index holds what the restored database holds: the first person's records are back.
    let all: usize = people
        .iter()
        .map(|p| {
            let mut v = Vec::new();
            p.clone().drain_into(&mut v);
            v.len()
        })
        .sum();
    assert_eq!(second.index.records(), Some(all - other));
}

#[tokio::test]
async fn a_server_whose_index_stops_following_the_change_log_is_unable_to_confirm() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use switchboard_domain::records::System;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let store: Arc<dyn Store> = Arc::new(
        switchboard_store_sqlite::SqliteStore::open(&db)
            .await
            .unwrap(),
    );
    seed(store.as_ref(), 200).await;
    let minutes = Arc::new(AtomicI64::new(0));
    let m = minutes.clone();
    let clock = Arc::new(move || super::NOW + time::Duration::minutes(m.load(Ordering::SeqCst)));
    let mut state = AppState::with_clock(store.clone(), clock);
    state.feed_max_lag_minutes = Arc::new(vec![(System::CourtOrder, 60)]);
    // The court-order feed vouches for its records as of two hours from now.
    let batch = switchboard_store::RecordBatch {
        current: vec![System::CourtOrder],
        origin: "test".to_owned(),
        ..switchboard_store::RecordBatch::new(super::NOW + time::Duration::minutes(120))
    };
    store.apply_record_batch(&batch).await.unwrap();
    follow(&state, None).await;
    let until = |want: bool| {
        let state = state.clone();
        async move {
            let started = Instant::now();
            loop {
                let stale = state.stale_feeds().await.unwrap();
                if stale.iter().any(|f| f.system == System::CourtOrder) == want {
                    return stale;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "court order never {} stale: {stale:?}",
                    if want { "became" } else { "stopped being" }
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    until(false).await;

    // The change log cannot be read; two hours pass. The feed itself is current, but this
    // server's index is two hours behind it: unable to confirm, naming the system.
    let mut c = {
        use sqlx::Connection;
        sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap()
    };
    sqlx::query("ALTER TABLE record_changes RENAME TO record_changes_away")
        .execute(&mut c)
        .await
        .unwrap();
    minutes.store(120, Ordering::SeqCst);
    let stale = until(true).await;
    let f = stale
        .iter()
        .find(|f| f.system == System::CourtOrder)
        .unwrap();
    assert!(f.minutes_behind.is_some_and(|m| m >= 119), "{f:?}");

    // The change log is back: the follower reads it to its end and the feed is current again.
    sqlx::query("ALTER TABLE record_changes_away RENAME TO record_changes")
        .execute(&mut c)
        .await
        .unwrap();
    until(false).await;
}
