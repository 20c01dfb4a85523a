//! The shared story tests on PostgreSQL, each in a database of its own that is created for the
//! test and dropped after it, even when the test fails.
//!
//! The server is taken from `SWITCHBOARD_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); the role needs the right to create databases.
//! There is no silent skip: without a reachable server these tests fail and say why.

use sqlx::{Connection, Executor, PgConnection};
use switchboard_store::Store;
use switchboard_store::story::Fixture;
use switchboard_store_postgres::PgStore;

fn admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `admin_url` with its database replaced by `db`.
fn url_for(db: &str) -> String {
    let admin = admin_url();
    let base = admin.split('?').next().unwrap_or(&admin);
    let cut = base.rfind('/').expect("a postgres URL has a path");
    format!("{}/{db}", &base[..cut])
}

struct PgFixture {
    db: String,
    store: Option<PgStore>,
}

impl Fixture for PgFixture {
    fn store(&self) -> &dyn Store {
        self.store.as_ref().expect("store is open")
    }

    async fn reopen(&mut self) {
        if let Some(s) = self.store.take() {
            s.close().await;
        }
        self.store = Some(
            PgStore::connect(&url_for(&self.db))
                .await
                .expect("reconnect"),
        );
    }
}

impl Drop for PgFixture {
    fn drop(&mut self) {
        // Drop runs outside async context (possibly while unwinding): close and drop the
        // database from a thread with its own small runtime.
        let db = std::mem::take(&mut self.db);
        let store = self.store.take();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                drop(store);
                let mut admin = PgConnection::connect(&admin_url())
                    .await
                    .expect("admin connection");
                admin
                    .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                    ))))
                    .await
                    .expect("drop test database");
            });
        })
        .join();
        if done.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database");
        }
    }
}

async fn fresh() -> PgFixture {
    let db = format!("sb_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is needed for these tests and was not reachable at {} ({e}); \
             set SWITCHBOARD_TEST_POSTGRES_URL to a server where this role may create databases",
                admin_url()
            )
        });
    admin
        .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE \"{db}\""
        ))))
        .await
        .expect("create test database");
    let store = PgStore::connect(&url_for(&db))
        .await
        .expect("connect to test database");
    PgFixture {
        db,
        store: Some(store),
    }
}

switchboard_store::story_tests!(fresh);

#[tokio::test]
async fn connecting_twice_applies_migrations_once() {
    let fx = fresh().await;
    let again = PgStore::connect(&url_for(&fx.db))
        .await
        .expect("second connect");
    again.ping().await.unwrap();
    again.close().await;
}
