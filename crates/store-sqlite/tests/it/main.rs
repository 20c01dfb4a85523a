//! The shared story tests on SQLite, each on a fresh database file in a temporary folder.

use switchboard_store::Store;
use switchboard_store::story::Fixture;
use switchboard_store_sqlite::SqliteStore;

struct SqliteFixture {
    dir: tempfile::TempDir,
    store: SqliteStore,
}

impl SqliteFixture {
    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("nested").join("switchboard.db")
    }
}

impl Fixture for SqliteFixture {
    fn store(&self) -> &dyn Store {
        &self.store
    }

    async fn reopen(&mut self) {
        self.store.close().await;
        self.store = SqliteStore::open(&self.path()).await.expect("reopen");
    }
}

async fn fresh() -> SqliteFixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("nested").join("switchboard.db"))
        .await
        .expect("open sqlite");
    SqliteFixture { dir, store }
}

switchboard_store::story_tests!(fresh);

#[tokio::test]
async fn opens_in_wal_mode_and_creates_its_folder() {
    let fx = fresh().await;
    assert!(fx.path().exists());
    assert_eq!(fx.store.journal_mode().await.unwrap(), "wal");
}

#[tokio::test]
async fn opening_twice_applies_migrations_once() {
    let fx = fresh().await;
    let again = SqliteStore::open(&fx.path()).await.expect("second open");
    again.ping().await.unwrap();
}
