//! The audit log on real databases: appends from many tasks, checkpoints, proofs, restart, a
//! failed write, and every kind of tampering an insider with database access could try,
//! done with SQL on the real file and caught by `verify_store`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sqlx::{Connection, Executor, SqliteConnection};
use switchboard_audit::{Actor, Checkpoint, Entry, public_key};
use switchboard_audit_host::{
    AuditConfig, AuditError, AuditLog, Clock, Verification, VerifyError, prove, verify_store,
};
use switchboard_store::Store;
use switchboard_store_sqlite::SqliteStore;

const ORIGIN: &str = "switchboard-test";
const SEED: [u8; 32] = [7; 32];
const T0: i64 = 1_795_442_400_000;

fn clock() -> (Arc<AtomicI64>, Clock) {
    let t = Arc::new(AtomicI64::new(T0));
    let c = t.clone();
    (t, Arc::new(move || c.load(Ordering::SeqCst)))
}

fn entry(i: u64) -> Entry {
    let mut e = Entry::new(
        "lookup",
        Actor {
            user: Some(format!("u{}", i % 3)),
            username: format!("ct.{}", i % 3),
            role: Some("call_taker".into()),
            session: Some("s1".into()),
            address: Some("127.0.0.1".into()),
        },
        T0 + i as i64,
    );
    e.query = vec![format!("name:subject {}", i % 5)];
    e.records = vec![format!("R{}", i % 7)];
    e
}

struct Fx {
    store: Arc<SqliteStore>,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    Fx {
        store,
        path,
        _dir: dir,
    }
}

impl Fx {
    async fn log(&self, every: u64) -> AuditLog {
        let mut config = AuditConfig::new(ORIGIN, SEED);
        config.checkpoint_every = every;
        AuditLog::open(self.store.clone(), config, clock().1)
            .await
            .unwrap()
    }

    /// A raw connection, as an insider with the database file would have.
    async fn sql(&self, statements: &str) {
        let url = format!("sqlite://{}", self.path.display());
        let mut c = SqliteConnection::connect(&url).await.unwrap();
        c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(statements.to_owned())))
            .await
            .unwrap();
        c.close().await.unwrap();
    }

    async fn verify(&self) -> Verification {
        verify_store(self.store.as_ref(), ORIGIN, &public_key(&SEED))
            .await
            .unwrap()
    }

    /// Forty entries with checkpoints at 10, 20, 30 and 40.
    async fn filled(&self) {
        let log = self.log(10).await;
        for i in 1..=40 {
            log.append(entry(i)).await.unwrap();
        }
        log.checkpoint().await.unwrap();
        assert_eq!(log.checkpoints().len(), 4);
    }
}

const UNLOCK: &str = "PRAGMA foreign_keys = OFF; DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;";

fn bad(v: Verification) -> VerifyError {
    match v {
        Verification::Bad(e) => e,
        Verification::Good(g) => panic!("tampering not detected: {g:?}"),
    }
}

#[tokio::test]
async fn concurrent_appends_get_unique_consecutive_seqs_and_verify() {
    let fx = fx().await;
    let log = fx.log(100).await;
    let mut tasks = Vec::new();
    for t in 0..20u64 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..25 {
                seqs.push(log.append(entry(t * 100 + i)).await.unwrap());
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (1..=500).collect::<Vec<_>>());
    log.checkpoint().await.unwrap();
    match fx.verify().await {
        Verification::Good(v) => {
            assert_eq!(v.entries, 500);
            assert_eq!(v.unsigned_tail, 0);
            assert!(v.checkpoints >= 4, "{v:?}");
        }
        Verification::Bad(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn proofs_hold_and_a_restart_continues_the_same_tree() {
    let fx = fx().await;
    fx.filled().await;
    let key = public_key(&SEED);
    let (e, cp, proof, good) = prove(fx.store.as_ref(), ORIGIN, &key, 17).await.unwrap();
    assert!(good);
    assert_eq!((e.seq, cp.size, proof.tree_size), (17, 40, 40));

    // Reopen: the log continues after 40, its proofs and consistency hold across the restart.
    let log = fx.log(10).await;
    assert_eq!(log.size(), 40);
    assert_eq!(log.append(entry(41)).await.unwrap(), 41);
    log.checkpoint().await.unwrap();
    let p = log.inclusion_proof(41, None).unwrap();
    assert!(p.verify());
    for (from, to) in [(10, 41), (1, 41), (40, 41), (41, 41), (17, 30)] {
        assert!(
            log.consistency_proof(from, to).unwrap().verify(),
            "{from}..{to}"
        );
    }
    assert!(matches!(
        log.inclusion_proof(42, Some(42)),
        Err(AuditError::BadRequest(_))
    ));
    assert!(matches!(fx.verify().await, Verification::Good(_)));
}

#[tokio::test]
async fn a_failed_write_is_not_acknowledged_and_advances_nothing() {
    let fx = fx().await;
    let log = fx.log(1_000).await;
    assert_eq!(log.append(entry(1)).await.unwrap(), 1);
    fx.sql("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(FAIL, 'disk full'); END;")
        .await;
    assert!(matches!(
        log.append(entry(2)).await,
        Err(AuditError::Write(_))
    ));
    assert_eq!(log.size(), 1);
    fx.sql("DROP TRIGGER refuse;").await;
    // The next entry takes the number the failed one could not.
    assert_eq!(log.append(entry(3)).await.unwrap(), 2);
    log.checkpoint().await.unwrap();
    assert!(matches!(fx.verify().await, Verification::Good(_)));
}

#[tokio::test]
async fn entries_another_process_appended_are_taken_in_and_the_server_goes_on() {
    let fx = fx().await;
    let server = fx.log(1_000).await;
    assert_eq!(server.append(entry(1)).await.unwrap(), 1);
    // A command on the server's machine opens the same log and writes (and signs) two.
    let command = fx.log(1_000).await;
    assert_eq!(command.append(entry(2)).await.unwrap(), 2);
    assert_eq!(command.append(entry(3)).await.unwrap(), 3);
    command.checkpoint().await.unwrap();
    drop(command);
    // The server's next entries follow them; nothing is refused.
    assert_eq!(server.append(entry(4)).await.unwrap(), 4);
    assert_eq!(server.size(), 4);
    assert_eq!(server.append(entry(5)).await.unwrap(), 5);
    server.checkpoint().await.unwrap();
    match fx.verify().await {
        Verification::Good(v) => assert_eq!((v.entries, v.unsigned_tail), (5, 0)),
        Verification::Bad(e) => panic!("{e}"),
    }
    assert!(server.inclusion_proof(2, None).unwrap().verify());
}

#[tokio::test]
async fn entries_put_in_by_hand_are_never_taken_in_or_signed() {
    let fx = fx().await;
    let server = fx.log(1_000).await;
    assert_eq!(server.append(entry(1)).await.unwrap(), 1);
    // Another process appends but never signs (or an insider writes a row): the server's next
    // write fails closed rather than signing what it cannot vouch for.
    let other = fx.log(1_000).await;
    assert_eq!(other.append(entry(2)).await.unwrap(), 2);
    std::mem::forget(other);
    assert!(server.append(entry(3)).await.is_err());
    assert_eq!(server.size(), 1);
}

#[tokio::test]
async fn entries_left_unsigned_are_signed_when_the_log_is_opened() {
    let fx = fx().await;
    // A writer that has appended and not yet signed (as a crash would leave it).
    let crashed = fx.log(1_000).await;
    for i in 1..=5 {
        crashed.append(entry(i)).await.unwrap();
    }
    match fx.verify().await {
        Verification::Good(v) => assert_eq!(v.unsigned_tail, 5),
        Verification::Bad(e) => panic!("{e}"),
    }
    // The next start signs them at once.
    let started = fx.log(1_000).await;
    assert_eq!(started.checkpoints().last().map(|c| c.size), Some(5));
    match fx.verify().await {
        Verification::Good(v) => assert_eq!((v.entries, v.unsigned_tail), (5, 0)),
        Verification::Bad(e) => panic!("{e}"),
    }
    drop(crashed);
}

#[tokio::test]
async fn the_store_refuses_updates_and_deletes() {
    let fx = fx().await;
    fx.filled().await;
    let url = format!("sqlite://{}", fx.path.display());
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    for sql in [
        "UPDATE audit_log SET actor = 'x' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 3",
    ] {
        let err = c.execute(sql).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}

#[tokio::test]
async fn a_flipped_byte_is_found() {
    let fx = fx().await;
    fx.filled().await;
    // In the entry's text only: the stored hash no longer matches.
    fx.sql(&format!(
        "{UNLOCK} UPDATE audit_log SET entry = replace(entry, 'ct.1', 'ct.2') WHERE seq = 13;"
    ))
    .await;
    assert_eq!(
        bad(fx.verify().await),
        VerifyError::LeafMismatch { seq: 13 }
    );
}

#[tokio::test]
async fn a_changed_entry_with_its_hash_recomputed_breaks_the_signed_root() {
    let fx = fx().await;
    fx.filled().await;
    // An insider edits entry 13 and recomputes its leaf hash (HASH(0x00 || entry)); the
    // checkpoint at 20 no longer matches.
    let url = format!("sqlite://{}", fx.path.display());
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    c.execute(UNLOCK).await.unwrap();
    let (text,): (String,) = sqlx::query_as("SELECT entry FROM audit_log WHERE seq = 13")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let forged = text.replace("ct.1", "ct.2");
    let h = switchboard_audit::leaf_hash(forged.as_bytes()).to_vec();
    sqlx::query("UPDATE audit_log SET entry = ?1, leaf_hash = ?2 WHERE seq = 13")
        .bind(&forged)
        .bind(h)
        .execute(&mut c)
        .await
        .unwrap();
    match bad(fx.verify().await) {
        VerifyError::Merkle(switchboard_audit::Inconsistency::RootMismatch { size, .. }) => {
            assert_eq!(size, 20)
        }
        other => panic!("{other}"),
    }
    // And the server refuses to start on it.
    let config = AuditConfig::new(ORIGIN, SEED);
    assert!(matches!(
        AuditLog::open(fx.store.clone(), config, clock().1).await,
        Err(AuditError::Inconsistent(_))
    ));
}

#[tokio::test]
async fn a_deleted_entry_is_found() {
    let fx = fx().await;
    fx.filled().await;
    fx.sql(&format!(
        "{UNLOCK} DELETE FROM audit_subjects WHERE seq = 22; DELETE FROM audit_log WHERE seq = 22;"
    ))
    .await;
    assert_eq!(
        bad(fx.verify().await),
        VerifyError::Missing {
            expected: 22,
            found: 23
        }
    );
}

#[tokio::test]
async fn reordered_entries_are_found() {
    let fx = fx().await;
    fx.filled().await;
    // Swap the contents of entries 5 and 6 (hashes moved with them).
    fx.sql(&format!(
        "{UNLOCK}
         UPDATE audit_log SET seq = -5 WHERE seq = 5;
         UPDATE audit_log SET seq = 5 WHERE seq = 6;
         UPDATE audit_log SET seq = 6 WHERE seq = -5;"
    ))
    .await;
    assert!(matches!(
        bad(fx.verify().await),
        VerifyError::Renumbered { seq: 5, says: 6 }
    ));
}

#[tokio::test]
async fn renumbered_and_rehashed_entries_still_break_the_root() {
    let fx = fx().await;
    fx.filled().await;
    // Swap 5 and 6 and rewrite the seq inside each entry and its hash: only the signed root
    // can tell, and it does.
    let url = format!("sqlite://{}", fx.path.display());
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    c.execute(UNLOCK).await.unwrap();
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, entry FROM audit_log WHERE seq IN (5, 6)")
            .fetch_all(&mut c)
            .await
            .unwrap();
    for (seq, text) in rows {
        let mut e = Entry::from_bytes(text.as_bytes()).unwrap();
        let new_seq: i64 = if seq == 5 { 6 } else { 5 };
        e.seq = new_seq as u64;
        let bytes = e.to_bytes();
        sqlx::query("UPDATE audit_log SET seq = ?1, entry = ?2, leaf_hash = ?3 WHERE seq = ?4")
            .bind(-new_seq)
            .bind(String::from_utf8(bytes.clone()).unwrap())
            .bind(switchboard_audit::leaf_hash(&bytes).to_vec())
            .bind(seq)
            .execute(&mut c)
            .await
            .unwrap();
    }
    c.execute("UPDATE audit_log SET seq = -seq WHERE seq < 0")
        .await
        .unwrap();
    assert!(matches!(
        bad(fx.verify().await),
        VerifyError::Merkle(switchboard_audit::Inconsistency::RootMismatch { size: 10, .. })
    ));
}

#[tokio::test]
async fn truncation_is_found() {
    let fx = fx().await;
    fx.filled().await;
    fx.sql(&format!(
        "{UNLOCK} DELETE FROM audit_subjects WHERE seq > 35; DELETE FROM audit_log WHERE seq > 35;"
    ))
    .await;
    assert!(matches!(
        bad(fx.verify().await),
        VerifyError::Merkle(switchboard_audit::Inconsistency::Truncated {
            size: 40,
            have: 35,
            ..
        })
    ));
}

#[tokio::test]
async fn a_history_re_signed_with_another_key_is_found() {
    let fx = fx().await;
    fx.filled().await;
    // The insider rewrites entry 3 and re-signs every checkpoint with a key of their own.
    let url = format!("sqlite://{}", fx.path.display());
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    c.execute(UNLOCK).await.unwrap();
    let (text,): (String,) = sqlx::query_as("SELECT entry FROM audit_log WHERE seq = 3")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let forged = text.replace("lookup", "logon");
    sqlx::query("UPDATE audit_log SET entry = ?1, leaf_hash = ?2 WHERE seq = 3")
        .bind(&forged)
        .bind(switchboard_audit::leaf_hash(forged.as_bytes()).to_vec())
        .execute(&mut c)
        .await
        .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT entry FROM audit_log ORDER BY seq")
        .fetch_all(&mut c)
        .await
        .unwrap();
    let leaves: Vec<_> = rows
        .iter()
        .map(|(t,)| switchboard_audit::leaf_hash(t.as_bytes()))
        .collect();
    let other_seed = [9u8; 32];
    for size in [10usize, 20, 30, 40] {
        let cp = Checkpoint::sign(
            ORIGIN,
            size as u64,
            switchboard_audit::merkle::root(&leaves[..size]),
            1,
            &other_seed,
        );
        sqlx::query("UPDATE audit_checkpoints SET root = ?1, signature = ?2 WHERE size = ?3")
            .bind(cp.root.to_vec())
            .bind(cp.signature.to_vec())
            .bind(size as i64)
            .execute(&mut c)
            .await
            .unwrap();
    }
    assert!(matches!(
        bad(fx.verify().await),
        VerifyError::Merkle(switchboard_audit::Inconsistency::BadSignature { index: 0, .. })
    ));
}

#[tokio::test]
async fn a_deleted_checkpoint_does_not_hide_a_change_signed_later() {
    let fx = fx().await;
    fx.filled().await;
    // Deleting checkpoints cannot help either: the remaining ones still sign the original
    // entries.
    fx.sql(&format!(
        "{UNLOCK} DELETE FROM audit_checkpoints WHERE size < 40;
         UPDATE audit_log SET entry = replace(entry, 'ct.0', 'ct.1'), leaf_hash = leaf_hash WHERE seq = 9;"
    ))
    .await;
    assert_eq!(bad(fx.verify().await), VerifyError::LeafMismatch { seq: 9 });
}

#[tokio::test]
async fn appends_on_postgres_verify() {
    use switchboard_store_postgres::PgStore;
    let admin = std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("sb_audit_{}", std::process::id());
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    ))))
    .await
    .unwrap();
    c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name}"
    ))))
    .await
    .unwrap();
    let base = admin.rsplit_once('/').unwrap().0;
    let store: Arc<dyn Store> =
        Arc::new(PgStore::connect(&format!("{base}/{name}")).await.unwrap());
    {
        let mut config = AuditConfig::new(ORIGIN, SEED);
        config.checkpoint_every = 7;
        let log = AuditLog::open(store.clone(), config, clock().1)
            .await
            .unwrap();
        let seqs = log.append_all((1..=30).map(entry).collect()).await.unwrap();
        assert_eq!(seqs, (1..=30).collect::<Vec<_>>());
        log.checkpoint().await.unwrap();
        let found = verify_store(store.as_ref(), ORIGIN, &public_key(&SEED))
            .await
            .unwrap();
        assert!(
            matches!(found, Verification::Good(ref v) if v.entries == 30),
            "{found:?}"
        );
        let (_, _, _, good) = prove(store.as_ref(), ORIGIN, &public_key(&SEED), 12)
            .await
            .unwrap();
        assert!(good);
    }
    drop(store);
    c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    ))))
    .await
    .unwrap();
}

/// The open marks left in the store, by `seq`.
async fn open_marks(store: &SqliteStore) -> Vec<i64> {
    store
        .open_audit_actions(100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect()
}

/// Waits (bounded) until the open marks are `want`: ends not awaited land a moment later.
async fn wait_for_marks(store: &SqliteStore, want: &[i64]) {
    for _ in 0..200 {
        if open_marks(store).await == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(open_marks(store).await, want);
}

async fn entries(store: &SqliteStore) -> Vec<Entry> {
    store
        .audit_after(0, 1_000)
        .await
        .unwrap()
        .iter()
        .map(|r| Entry::from_bytes(r.entry.as_bytes()).unwrap())
        .collect()
}

#[tokio::test]
async fn every_action_begun_is_ended_and_one_a_crash_cut_off_fails_at_the_next_start() {
    use switchboard_audit::Outcome;
    use switchboard_audit_host::{CUT_OFF_BY_CLIENT, CUT_OFF_BY_STOP};
    let fx = fx().await;
    let log = fx.log(1_000).await;
    let mut change = entry(1);
    change.action = "POST /api/v1/agencies".into();

    // Carried out: the mark goes and no entry is added.
    let done = log.begin(change.clone()).await.unwrap();
    assert_eq!(open_marks(&fx.store).await, [1]);
    done.done();
    wait_for_marks(&fx.store, &[]).await;
    assert_eq!(log.size(), 1);

    // Failed: its "failed" entry ends it in the same commit.
    let failed = log.begin(change.clone()).await.unwrap();
    let mut answer = change.clone();
    answer.outcome = Outcome::Failed;
    assert_eq!(failed.failed(answer).await.unwrap(), 3);
    assert!(open_marks(&fx.store).await.is_empty());

    // Abandoned (the request's future dropped): it writes its own "failed" entry.
    let abandoned = log.begin(change.clone()).await.unwrap();
    assert_eq!(abandoned.seq(), 4);
    drop(abandoned);
    wait_for_marks(&fx.store, &[]).await;
    let e = entries(&fx.store).await.pop().unwrap();
    assert_eq!((e.seq, e.outcome), (5, Outcome::Failed));
    assert!(e.note.unwrap().starts_with(CUT_OFF_BY_CLIENT));

    // Cut off by a crash: nothing ends it while the server runs ...
    let crashed = log.begin(change.clone()).await.unwrap();
    assert_eq!(crashed.seq(), 6);
    std::mem::forget(crashed);
    assert_eq!(open_marks(&fx.store).await, [6]);
    // A command opening the log beside the running server leaves it alone ...
    let command = fx.log(1_000).await;
    assert_eq!(open_marks(&fx.store).await, [6]);
    assert_eq!(command.size(), 6);
    drop(command);
    // ... and the server's next start writes its "failed" entry, the actor's, naming the
    // entry.
    let started = fx.log(1_000).await;
    assert_eq!(started.fail_cut_off_actions().await.unwrap(), 1);
    assert!(open_marks(&fx.store).await.is_empty());
    let all = entries(&fx.store).await;
    assert_eq!(all.len(), 7);
    let last = &all[6];
    assert_eq!(last.outcome, Outcome::Failed);
    assert_eq!((&last.action, &last.actor), (&change.action, &change.actor));
    let note = last.note.clone().unwrap();
    assert!(note.starts_with(CUT_OFF_BY_STOP), "{note}");
    assert!(note.contains("(entry 6)"), "{note}");
    // Opening again writes nothing more; the log verifies.
    drop(started);
    let again = fx.log(1_000).await;
    assert_eq!(again.fail_cut_off_actions().await.unwrap(), 0);
    assert_eq!(again.size(), 7);
    match fx.verify().await {
        Verification::Good(v) => assert_eq!(v.entries, 7),
        Verification::Bad(e) => panic!("{e}"),
    }
    drop(log);
}
