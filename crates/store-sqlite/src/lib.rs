//! The embedded SQLite backend of [`Store`].
//!
//! It owns the SQLite schema (its `migrations/`) and every SQL statement run against SQLite.
//! The database is one file, opened in WAL mode with `synchronous=FULL` so that a write the
//! store has acknowledged survives a crash or a power cut, with foreign keys enforced.
//! It must never be used by the domain or the web layer except through [`Store`].

#![forbid(unsafe_code)]

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, SqlitePool};
use switchboard_domain::records::{ClassInjunction, RecordKey, SourceRecord, System};
use switchboard_domain::{
    Agency, AgencyId, Agreement, AgreementId, Call, CallId, CallState, E164, Inquiry, InquiryId,
    Officer, OfficerId, Ori, User, UserId, Username, fold_for_search,
};
use switchboard_store::rows::{
    self, AgencyRow, AgreementRow, CallRow, InquiryRow, OfficerRow, RawDeterminationRow,
    RawDispositionRow, RawFeedKeyRow, RawLiaisonCaseRow, RawPartnerInquiryRow, RawPartnerKeyRow,
    UserRow, stored_instant, subject_json,
};
use switchboard_store::{
    ACD_SNAPSHOTS_KEPT, AUDIT_HASHES_MAX_LIMIT, AUDIT_MAX_LIMIT, AcdLogEntry, AcdSnapshot,
    AgencyFilter, AgreementFilter, AuditFilter, AuditRow, CheckpointRow, Credentials,
    DeterminationRow, DispositionRow, FeedKeyRow, FeedState, LiaisonCaseRow, NewAuditRow,
    OPEN_CALLS_MAX_LIMIT, OfficerFilter, Page, PageRequest, PartnerInquiryRow, PartnerKeyRow,
    RECORD_CHANGES_MAX_LIMIT, RecordBatch, RecordBatchOutcome, RecordChange, Result, RoleRequest,
    SessionRow, Store, StoreError, acd_log_limit, audit_limit, check_source_record_ids,
    check_source_record_keys,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// A record another one points at: named in [`StoreError::MissingReference`] when a foreign
/// key fails (SQLite does not say which key failed, so each statement says what it refers to).
#[derive(Clone, Copy)]
struct Refers(&'static str, &'static str);

const NO_REFS: Refers = Refers("id", "record");

fn db_error(e: sqlx::Error, refers: Refers) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        match d.kind() {
            sqlx::error::ErrorKind::UniqueViolation => {
                return StoreError::unique_violation(d.message());
            }
            sqlx::error::ErrorKind::ForeignKeyViolation => {
                return StoreError::MissingReference {
                    field: refers.0,
                    entity: refers.1,
                };
            }
            _ => {}
        }
    }
    StoreError::Backend(Box::new(e))
}

fn backend(e: sqlx::Error) -> StoreError {
    db_error(e, NO_REFS)
}

/// Whether a connection given back to the pool may be used again: only when it is outside
/// any transaction. A COMMIT that fails on a full disk (or an I/O error) makes SQLite roll the
/// transaction back by itself; sqlx then still counts it open, its own ROLLBACK fails, and the
/// connection's next transaction would begin as a SAVEPOINT whose failure rolls back only to
/// the savepoint: the connection would sit in the pool holding the write lock, and every
/// write would wait out the busy timeout until a restart. Such a connection is closed instead
/// (closing ends whatever SQLite still holds), and the pool opens a fresh one.
async fn release_check(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // The rollback a dropped transaction queued runs first.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "a database connection was left inside a transaction after an error; closing it"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Switchboard's store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// Signalled after every committed change of the record systems, for followers in this
    /// process (see [`Store::wait_for_record_change`]).
    records_changed: std::sync::Arc<tokio::sync::Notify>,
}

impl SqliteStore {
    /// Opens (creating if missing, with its folder) the database file at `path` and applies
    /// pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        Self::connect(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a `sqlite:` URL (for example `sqlite://data/switchboard.db`).
    pub async fn open_url(url: &str) -> Result<Self> {
        let opts = SqliteConnectOptions::from_str(url).map_err(backend)?;
        if let Some(dir) = opts
            .get_filename()
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(Box::new(e)))?;
        }
        Self::connect(opts).await
    }

    async fn connect(opts: SqliteConnectOptions) -> Result<Self> {
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB of page cache per connection (the default is 2 MiB): bulk loads of source
            // records insert at random points of the record-id index and thrash a small cache.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(|conn, _| Box::pin(release_check(conn)))
            .connect_with(opts)
            .await
            .map_err(backend)?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        tracing::debug!("sqlite store ready");
        Ok(Self {
            pool,
            records_changed: Default::default(),
        })
    }

    /// Closes every connection, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the database really runs in WAL mode (for tests and `readyz` diagnostics).
    pub async fn journal_mode(&self) -> Result<String> {
        let row: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(row.0)
    }

    async fn exists(&self, table: Table, id: Uuid) -> Result<bool> {
        let sql = match table {
            Table::Agencies => "SELECT 1 FROM agencies WHERE id = ?1",
            Table::Agreements => "SELECT 1 FROM agreements WHERE id = ?1",
            Table::Officers => "SELECT 1 FROM officers WHERE id = ?1",
            Table::Calls => "SELECT 1 FROM calls WHERE id = ?1",
            Table::Dispositions => "SELECT 1 FROM dispositions WHERE id = ?1",
            Table::LiaisonCases => "SELECT 1 FROM liaison_cases WHERE id = ?1",
            Table::Users => "SELECT 1 FROM users WHERE id = ?1",
            Table::Credentials => "SELECT 1 FROM credentials WHERE user_id = ?1",
            Table::PartnerInquiries => "SELECT 1 FROM partner_inquiries WHERE id = ?1",
            Table::Determinations => "SELECT 1 FROM legal_determinations WHERE id = ?1",
        };
        let found = self
            .pool
            .fetch_optional(sqlx::query(sql).bind(id))
            .await
            .map_err(backend)?;
        Ok(found.is_some())
    }

    /// After an update touched no row: was the record missing, or changed by someone else?
    async fn missing_or_stale(
        &self,
        table: Table,
        entity: &'static str,
        id: Uuid,
        expected: i64,
    ) -> StoreError {
        match self.exists(table, id).await {
            Ok(true) => StoreError::Stale {
                entity,
                id: id.to_string(),
                since: format!("version {expected}"),
            },
            Ok(false) => StoreError::not_found(entity, id),
            Err(e) => e,
        }
    }
}

#[derive(Clone, Copy)]
enum Table {
    Determinations,
    Agencies,
    Agreements,
    Officers,
    Calls,
    Dispositions,
    LiaisonCases,
    Users,
    Credentials,
    PartnerInquiries,
}

async fn insert_phones(
    tx: &mut sqlx::SqliteConnection,
    officer: OfficerId,
    phones: &[E164],
) -> Result<()> {
    for (position, phone) in phones.iter().enumerate() {
        let id = officer.as_uuid();
        let phone = phone.as_str();
        let position = position as i64;
        sqlx::query!(
            "INSERT INTO officer_phones (phone, officer_id, position) VALUES (?1, ?2, ?3)",
            phone,
            id,
            position
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

async fn put_agency(conn: &mut sqlx::SqliteConnection, a: &Agency) -> Result<()> {
    let (id, ori, name, kind) = (
        a.id.as_uuid(),
        a.ori.as_str(),
        a.name.as_str(),
        a.kind.as_str(),
    );
    let search = a.search_key();
    sqlx::query!(
        "INSERT INTO agencies (id, ori, name, kind, version, created_at, updated_at, search_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        id,
        ori,
        name,
        kind,
        a.version,
        a.created_at,
        a.updated_at,
        search
    )
    .execute(&mut *conn)
    .await
    .map_err(backend)?;
    Ok(())
}

async fn put_agreement(conn: &mut sqlx::SqliteConnection, a: &Agreement) -> Result<()> {
    let (id, agency, model, office) = (
        a.id.as_uuid(),
        a.agency_id.as_uuid(),
        a.model.as_str(),
        a.supervising_office_id.as_uuid(),
    );
    let max = i64::from(a.max_certified_officers);
    sqlx::query!(
        "INSERT INTO agreements (id, agency_id, model, signed_on, expires_on, terminated_on,
             supervising_office_id, max_certified_officers, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        id,
        agency,
        model,
        a.signed_on,
        a.expires_on,
        a.terminated_on,
        office,
        max,
        a.version,
        a.created_at,
        a.updated_at
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| db_error(e, Refers("agency_id or supervising_office_id", "agency")))?;
    Ok(())
}

async fn put_officer(conn: &mut sqlx::SqliteConnection, o: &Officer) -> Result<()> {
    let (id, agency) = (o.id.as_uuid(), o.agency_id.as_uuid());
    let (given, family, badge) = (
        o.given_name.as_str(),
        o.family_name.as_str(),
        o.badge.as_str(),
    );
    let search = o.search_key();
    sqlx::query!(
        "INSERT INTO officers (id, agency_id, given_name, family_name, badge, certified_on,
             certification_expires_on, active, version, created_at, updated_at, search_name)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        id,
        agency,
        given,
        family,
        badge,
        o.certified_on,
        o.certification_expires_on,
        o.active,
        o.version,
        o.created_at,
        o.updated_at,
        search
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| db_error(e, Refers("agency_id", "agency")))?;
    insert_phones(conn, o.id, &o.phones).await
}

fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query(
            "INSERT INTO write_probe (id, at_ms) VALUES (1, ?1)
             ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
        )
        .bind(OffsetDateTime::now_utc().unix_timestamp() * 1000)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn insert_agency(&self, a: &Agency) -> Result<()> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        put_agency(&mut c, a).await
    }

    async fn agency(&self, id: AgencyId) -> Result<Agency> {
        let uid = id.as_uuid();
        sqlx::query_as!(
            AgencyRow,
            r#"SELECT id AS "id: Uuid", ori, name, kind, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM agencies WHERE id = ?1"#,
            uid
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("agency", id))?
        .try_into()
    }

    async fn agency_by_ori(&self, ori: &Ori) -> Result<Option<Agency>> {
        let ori = ori.as_str();
        sqlx::query_as!(
            AgencyRow,
            r#"SELECT id AS "id: Uuid", ori, name, kind, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM agencies WHERE ori = ?1"#,
            ori
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(Agency::try_from)
        .transpose()
    }

    async fn list_agencies(&self, f: &AgencyFilter, page: PageRequest) -> Result<Page<Agency>> {
        let kind = f.kind.map(|k| k.as_str());
        let state = f.state.as_ref().map(|s| s.as_str().to_owned());
        let name = f.name_contains.as_deref().map(fold_for_search);
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            AgencyRow,
            r#"SELECT id AS "id: Uuid", ori, name, kind, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM agencies
               WHERE (?1 IS NULL OR id > ?1)
                 AND (?2 IS NULL OR kind = ?2)
                 AND (?3 IS NULL OR substr(ori, 1, 2) = ?3)
                 AND (?4 IS NULL OR instr(search_name, ?4) > 0)
               ORDER BY id
               LIMIT ?5"#,
            page.after,
            kind,
            state,
            name,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(convert(rows)?, page, |a: &Agency| {
            a.id.as_uuid()
        }))
    }

    async fn update_agency(&self, a: &Agency) -> Result<Agency> {
        let (id, ori, name, kind) = (
            a.id.as_uuid(),
            a.ori.as_str(),
            a.name.as_str(),
            a.kind.as_str(),
        );
        let search = a.search_key();
        let done = sqlx::query!(
            "UPDATE agencies SET ori = ?1, name = ?2, kind = ?3, updated_at = ?4, search_name = ?7,
                 version = version + 1
             WHERE id = ?5 AND version = ?6",
            ori,
            name,
            kind,
            a.updated_at,
            id,
            a.version,
            search
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(Table::Agencies, "agency", id, a.version)
                .await);
        }
        Ok(Agency {
            version: a.version + 1,
            ..a.clone()
        })
    }

    async fn insert_agreement(&self, a: &Agreement) -> Result<()> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        put_agreement(&mut c, a).await
    }

    async fn agreement(&self, id: AgreementId) -> Result<Agreement> {
        let uid = id.as_uuid();
        sqlx::query_as!(
            AgreementRow,
            r#"SELECT id AS "id: Uuid", agency_id AS "agency_id: Uuid", model,
                      signed_on AS "signed_on: Date", expires_on AS "expires_on: Date",
                      terminated_on AS "terminated_on?: Date",
                      supervising_office_id AS "supervising_office_id: Uuid", max_certified_officers, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM agreements WHERE id = ?1"#,
            uid
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("agreement", id))?
        .try_into()
    }

    async fn list_agreements(
        &self,
        f: &AgreementFilter,
        page: PageRequest,
    ) -> Result<Page<Agreement>> {
        let agency = f.agency_id.map(|a| a.as_uuid());
        let model = f.model.map(|m| m.as_str());
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            AgreementRow,
            r#"SELECT id AS "id: Uuid", agency_id AS "agency_id: Uuid", model,
                      signed_on AS "signed_on: Date", expires_on AS "expires_on: Date",
                      terminated_on AS "terminated_on?: Date",
                      supervising_office_id AS "supervising_office_id: Uuid", max_certified_officers, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM agreements
               WHERE (?1 IS NULL OR id > ?1)
                 AND (?2 IS NULL OR agency_id = ?2)
                 AND (?3 IS NULL OR model = ?3)
                 AND (?4 IS NULL OR (signed_on <= ?4 AND expires_on >= ?4
                                     AND (terminated_on IS NULL OR terminated_on > ?4)))
               ORDER BY id
               LIMIT ?5"#,
            page.after,
            agency,
            model,
            f.in_effect_on,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(convert(rows)?, page, |a: &Agreement| {
            a.id.as_uuid()
        }))
    }

    async fn agreements_of(&self, agency: AgencyId) -> Result<Vec<Agreement>> {
        let agency = agency.as_uuid();
        let rows = sqlx::query_as!(
            AgreementRow,
            r#"SELECT id AS "id: Uuid", agency_id AS "agency_id: Uuid", model,
                      signed_on AS "signed_on: Date", expires_on AS "expires_on: Date",
                      terminated_on AS "terminated_on?: Date",
                      supervising_office_id AS "supervising_office_id: Uuid", max_certified_officers, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM agreements WHERE agency_id = ?1 ORDER BY id"#,
            agency
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert(rows)
    }

    async fn update_agreement(&self, a: &Agreement) -> Result<Agreement> {
        let (id, agency, model, office) = (
            a.id.as_uuid(),
            a.agency_id.as_uuid(),
            a.model.as_str(),
            a.supervising_office_id.as_uuid(),
        );
        let max = i64::from(a.max_certified_officers);
        let done = sqlx::query!(
            "UPDATE agreements SET agency_id = ?1, model = ?2, signed_on = ?3, expires_on = ?4,
                 terminated_on = ?5, supervising_office_id = ?6, max_certified_officers = ?7,
                 updated_at = ?8, version = version + 1
             WHERE id = ?9 AND version = ?10",
            agency,
            model,
            a.signed_on,
            a.expires_on,
            a.terminated_on,
            office,
            max,
            a.updated_at,
            id,
            a.version
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("agency_id or supervising_office_id", "agency")))?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(Table::Agreements, "agreement", id, a.version)
                .await);
        }
        Ok(Agreement {
            version: a.version + 1,
            ..a.clone()
        })
    }

    async fn insert_officer(&self, o: &Officer) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        put_officer(&mut tx, o).await?;
        tx.commit().await.map_err(backend)
    }

    async fn import_registry(
        &self,
        agencies: &[Agency],
        agreements: &[Agreement],
        officers: &[Officer],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for a in agencies {
            put_agency(&mut tx, a).await?;
        }
        for a in agreements {
            put_agreement(&mut tx, a).await?;
        }
        for o in officers {
            put_officer(&mut tx, o).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn officer(&self, id: OfficerId) -> Result<Officer> {
        let uid = id.as_uuid();
        sqlx::query_as!(
            OfficerRow,
            r#"SELECT o.id AS "id: Uuid", o.agency_id AS "agency_id: Uuid", o.given_name, o.family_name, o.badge,
                      (SELECT group_concat(p.phone, ',' ORDER BY p.position) FROM officer_phones p
                        WHERE p.officer_id = o.id) AS "phones?: String",
                      o.certified_on AS "certified_on?: Date",
                      o.certification_expires_on AS "certification_expires_on?: Date",
                      o.active AS "active: bool", o.version,
                      o.created_at AS "created_at: OffsetDateTime", o.updated_at AS "updated_at: OffsetDateTime"
               FROM officers o WHERE o.id = ?1"#,
            uid
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("officer", id))?
        .try_into()
    }

    async fn officer_by_phone(&self, phone: &E164) -> Result<Option<Officer>> {
        let phone = phone.as_str();
        sqlx::query_as!(
            OfficerRow,
            r#"SELECT o.id AS "id: Uuid", o.agency_id AS "agency_id: Uuid", o.given_name, o.family_name, o.badge,
                      (SELECT group_concat(p.phone, ',' ORDER BY p.position) FROM officer_phones p
                        WHERE p.officer_id = o.id) AS "phones?: String",
                      o.certified_on AS "certified_on?: Date",
                      o.certification_expires_on AS "certification_expires_on?: Date",
                      o.active AS "active: bool", o.version,
                      o.created_at AS "created_at: OffsetDateTime", o.updated_at AS "updated_at: OffsetDateTime"
               FROM officer_phones ph JOIN officers o ON o.id = ph.officer_id
               WHERE ph.phone = ?1"#,
            phone
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(Officer::try_from)
        .transpose()
    }

    async fn list_officers(&self, f: &OfficerFilter, page: PageRequest) -> Result<Page<Officer>> {
        let agency = f.agency_id.map(|a| a.as_uuid());
        let badge = f.badge.as_ref().map(|b| b.as_str().to_owned());
        let name = f.name_contains.as_deref().map(fold_for_search);
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            OfficerRow,
            r#"SELECT o.id AS "id: Uuid", o.agency_id AS "agency_id: Uuid", o.given_name, o.family_name, o.badge,
                      (SELECT group_concat(p.phone, ',' ORDER BY p.position) FROM officer_phones p
                        WHERE p.officer_id = o.id) AS "phones?: String",
                      o.certified_on AS "certified_on?: Date",
                      o.certification_expires_on AS "certification_expires_on?: Date",
                      o.active AS "active: bool", o.version,
                      o.created_at AS "created_at: OffsetDateTime", o.updated_at AS "updated_at: OffsetDateTime"
               FROM officers o
               WHERE (?1 IS NULL OR o.id > ?1)
                 AND (?2 IS NULL OR o.agency_id = ?2)
                 AND (?3 IS NULL OR instr(o.search_name, ?3) > 0)
                 AND (?4 IS NULL OR o.badge = ?4)
                 AND (?5 IS NULL OR o.active = ?5)
               ORDER BY o.id
               LIMIT ?6"#,
            page.after,
            agency,
            name,
            badge,
            f.active,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(convert(rows)?, page, |o: &Officer| {
            o.id.as_uuid()
        }))
    }

    async fn update_officer(&self, o: &Officer) -> Result<Officer> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let (id, agency) = (o.id.as_uuid(), o.agency_id.as_uuid());
        let (given, family, badge) = (
            o.given_name.as_str(),
            o.family_name.as_str(),
            o.badge.as_str(),
        );
        let search = o.search_key();
        let done = sqlx::query!(
            "UPDATE officers SET agency_id = ?1, given_name = ?2, family_name = ?3, badge = ?4,
                 certified_on = ?5, certification_expires_on = ?6, active = ?7, updated_at = ?8,
                 search_name = ?11, version = version + 1
             WHERE id = ?9 AND version = ?10",
            agency,
            given,
            family,
            badge,
            o.certified_on,
            o.certification_expires_on,
            o.active,
            o.updated_at,
            id,
            o.version,
            search
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error(e, Refers("agency_id", "agency")))?;
        if done.rows_affected() == 0 {
            drop(tx);
            return Err(self
                .missing_or_stale(Table::Officers, "officer", id, o.version)
                .await);
        }
        sqlx::query!("DELETE FROM officer_phones WHERE officer_id = ?1", id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        insert_phones(&mut tx, o.id, &o.phones).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Officer {
            version: o.version + 1,
            ..o.clone()
        })
    }

    async fn count_certified_officers(&self, agency: AgencyId, day: Date) -> Result<u32> {
        let agency = agency.as_uuid();
        let n = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM officers
               WHERE agency_id = ?1 AND active = TRUE
                 AND certified_on <= ?2 AND certification_expires_on >= ?2"#,
            agency,
            day
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    async fn insert_user(&self, u: &User) -> Result<()> {
        let (id, username, display, role) = (
            u.id.as_uuid(),
            u.username.as_str(),
            u.display_name.as_str(),
            u.role.as_str(),
        );
        sqlx::query!(
            "INSERT INTO users (id, username, display_name, role, active, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            id,
            username,
            display,
            role,
            u.active,
            u.version,
            u.created_at,
            u.updated_at
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<User> {
        let uid = id.as_uuid();
        sqlx::query_as!(
            UserRow,
            r#"SELECT id AS "id: Uuid", username, display_name, role, active AS "active: bool", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM users WHERE id = ?1"#,
            uid
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("user", id))?
        .try_into()
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            UserRow,
            r#"SELECT id AS "id: Uuid", username, display_name, role, active AS "active: bool", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM users WHERE (?1 IS NULL OR id > ?1) ORDER BY id LIMIT ?2"#,
            page.after,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(convert(rows)?, page, |u: &User| {
            u.id.as_uuid()
        }))
    }

    async fn user_by_username(&self, username: &Username) -> Result<Option<User>> {
        let name = username.as_str();
        sqlx::query_as!(
            UserRow,
            r#"SELECT id AS "id: Uuid", username, display_name, role, active AS "active: bool", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM users WHERE username = ?1"#,
            name
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(User::try_from)
        .transpose()
    }

    async fn update_user(&self, u: &User) -> Result<User> {
        let (id, display, role) = (u.id.as_uuid(), u.display_name.as_str(), u.role.as_str());
        let done = sqlx::query!(
            "UPDATE users SET display_name = ?1, role = ?2, active = ?3, updated_at = ?4,
                 version = version + 1
             WHERE id = ?5 AND version = ?6",
            display,
            role,
            u.active,
            u.updated_at,
            id,
            u.version
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(Table::Users, "user", id, u.version)
                .await);
        }
        Ok(User {
            version: u.version + 1,
            ..u.clone()
        })
    }

    async fn insert_credentials(&self, c: &Credentials) -> Result<()> {
        let id = c.user_id.as_uuid();
        let failures = rows::failures_to_json(&c.failures);
        let locked = c.locked_at.map(stored_instant);
        let updated = stored_instant(c.updated_at);
        sqlx::query!(
            "INSERT INTO credentials (user_id, password_hash, totp_secret, totp_last_step, failures,
                 locked_at, version, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            id,
            c.password_hash,
            c.totp_secret,
            c.totp_last_step,
            failures,
            locked,
            c.version,
            updated
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("user_id", "user")))?;
        Ok(())
    }

    async fn credentials(&self, user: UserId) -> Result<Option<Credentials>> {
        let id = user.as_uuid();
        let row = sqlx::query!(
            r#"SELECT password_hash, totp_secret, totp_last_step AS "totp_last_step!: i64",
                      failures AS "failures!: String", locked_at AS "locked_at?: OffsetDateTime",
                      version AS "version!: i64", updated_at AS "updated_at!: OffsetDateTime"
               FROM credentials WHERE user_id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(Credentials {
                user_id: user,
                password_hash: r.password_hash,
                totp_secret: r.totp_secret,
                totp_last_step: r.totp_last_step,
                failures: rows::failures_from_json(&r.failures)?,
                locked_at: r.locked_at,
                version: r.version,
                updated_at: r.updated_at,
            })
        })
        .transpose()
    }

    async fn update_credentials(&self, c: &Credentials, expected_version: i64) -> Result<()> {
        let id = c.user_id.as_uuid();
        let failures = rows::failures_to_json(&c.failures);
        let locked = c.locked_at.map(stored_instant);
        let updated = stored_instant(c.updated_at);
        let done = sqlx::query!(
            "UPDATE credentials SET password_hash = ?1, totp_secret = ?2, totp_last_step = ?3,
                 failures = ?4, locked_at = ?5, version = ?6, updated_at = ?7
             WHERE user_id = ?8 AND version = ?9",
            c.password_hash,
            c.totp_secret,
            c.totp_last_step,
            failures,
            locked,
            c.version,
            updated,
            id,
            expected_version
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(Table::Credentials, "credentials", id, expected_version)
                .await);
        }
        Ok(())
    }

    async fn insert_session(&self, s: &SessionRow) -> Result<()> {
        let user = s.user_id.as_uuid();
        let (created, seen) = (stored_instant(s.created_at), stored_instant(s.last_seen_at));
        let ended = s.ended_at.map(stored_instant);
        sqlx::query!(
            "INSERT INTO sessions (id, ref, user_id, csrf_token, address, created_at, last_seen_at,
                 ended_at, end_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            s.id,
            s.reference,
            user,
            s.csrf_token,
            s.address,
            created,
            seen,
            ended,
            s.end_reason
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("user_id", "user")))?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query!(
            r#"SELECT id AS "id!: String", ref AS "reference!: String", user_id AS "user_id!: Uuid",
                      csrf_token, address, created_at AS "created_at!: OffsetDateTime",
                      last_seen_at AS "last_seen_at!: OffsetDateTime",
                      ended_at AS "ended_at?: OffsetDateTime", end_reason
               FROM sessions WHERE id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(row.map(|r| SessionRow {
            id: r.id,
            reference: r.reference,
            user_id: UserId::from_uuid(r.user_id),
            csrf_token: r.csrf_token,
            address: r.address,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            ended_at: r.ended_at,
            end_reason: r.end_reason,
        }))
    }

    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        let at = stored_instant(at);
        sqlx::query!(
            "UPDATE sessions SET last_seen_at = ?1 WHERE id = ?2 AND ended_at IS NULL",
            at,
            id
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn end_session(&self, id: &str, at: OffsetDateTime, reason: &str) -> Result<bool> {
        let at = stored_instant(at);
        let done = sqlx::query!(
            "UPDATE sessions SET ended_at = ?1, end_reason = ?2 WHERE id = ?3 AND ended_at IS NULL",
            at,
            reason,
            id
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn end_user_sessions(
        &self,
        user: UserId,
        at: OffsetDateTime,
        reason: &str,
    ) -> Result<u64> {
        let (user, at) = (user.as_uuid(), stored_instant(at));
        let done = sqlx::query!(
            "UPDATE sessions SET ended_at = ?1, end_reason = ?2
             WHERE user_id = ?3 AND ended_at IS NULL",
            at,
            reason,
            user
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(done.rows_affected())
    }

    async fn insert_role_request(&self, r: &RoleRequest) -> Result<()> {
        let (user, by) = (r.user_id.as_uuid(), r.requested_by.as_uuid());
        let (role, at) = (r.role.as_str(), stored_instant(r.requested_at));
        sqlx::query!(
            "INSERT INTO role_requests (id, user_id, role, activates, requested_by, requested_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            r.id,
            user,
            role,
            r.activates,
            by,
            at
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("user_id", "user")))?;
        Ok(())
    }

    async fn role_request(&self, id: Uuid) -> Result<Option<RoleRequest>> {
        let row = sqlx::query!(
            r#"SELECT id AS "id: Uuid", user_id AS "user_id: Uuid", role, activates AS "activates: bool", requested_by AS "requested_by: Uuid", requested_at AS "requested_at: OffsetDateTime", decided_by AS "decided_by: Uuid", decided_at AS "decided_at: OffsetDateTime", outcome FROM role_requests WHERE id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            rows::role_request_from(
                r.id,
                r.user_id,
                &r.role,
                r.activates,
                r.requested_by,
                r.requested_at,
                r.decided_by,
                r.decided_at,
                r.outcome,
            )
        })
        .transpose()
    }

    async fn open_role_requests(&self) -> Result<Vec<RoleRequest>> {
        let found = sqlx::query!(
            r#"SELECT id AS "id: Uuid", user_id AS "user_id: Uuid", role, activates AS "activates: bool", requested_by AS "requested_by: Uuid", requested_at AS "requested_at: OffsetDateTime", decided_by AS "decided_by: Uuid", decided_at AS "decided_at: OffsetDateTime", outcome FROM role_requests WHERE outcome IS NULL ORDER BY requested_at, id LIMIT 1000"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        found
            .into_iter()
            .map(|r| {
                rows::role_request_from(
                    r.id,
                    r.user_id,
                    &r.role,
                    r.activates,
                    r.requested_by,
                    r.requested_at,
                    r.decided_by,
                    r.decided_at,
                    r.outcome,
                )
            })
            .collect()
    }

    async fn decide_role_request(
        &self,
        id: Uuid,
        by: UserId,
        at: OffsetDateTime,
        approved: bool,
        user: Option<&User>,
    ) -> Result<bool> {
        let (by, at) = (by.as_uuid(), stored_instant(at));
        let outcome = if approved { "approved" } else { "refused" };
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let done = sqlx::query!(
            "UPDATE role_requests SET decided_by = ?1, decided_at = ?2, outcome = ?3
             WHERE id = ?4 AND outcome IS NULL",
            by,
            at,
            outcome,
            id
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(u) = user.filter(|_| approved) {
            let (uid, role) = (u.id.as_uuid(), u.role.as_str());
            let changed = sqlx::query!(
                "UPDATE users SET role = ?1, active = ?2, updated_at = ?3, version = version + 1
                 WHERE id = ?4 AND version = ?5",
                role,
                u.active,
                u.updated_at,
                uid,
                u.version
            )
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::Stale {
                    entity: "user",
                    id: uid.to_string(),
                    since: format!("version {}", u.version),
                });
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn logged_on_from(
        &self,
        user: UserId,
        address: &str,
        since: OffsetDateTime,
    ) -> Result<bool> {
        let (user, since) = (user.as_uuid(), stored_instant(since));
        let found = sqlx::query_scalar!(
            r#"SELECT 1 AS "one!: i32" FROM sessions
             WHERE user_id = ?1 AND address = ?2 AND created_at >= ?3 LIMIT 1"#,
            user,
            address,
            since
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(found.is_some())
    }

    async fn insert_call(&self, c: &Call) -> Result<()> {
        let id = c.id.as_uuid();
        let ani = c.ani.as_ref().map(|a| a.as_str());
        let officer = c.officer_id.map(|o| o.as_uuid());
        let state = c.state.as_str();
        sqlx::query!(
            "INSERT INTO calls (id, ani_raw, ani, officer_id, state, arrived_at, answered_at, ended_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            id,
            c.ani_raw,
            ani,
            officer,
            state,
            c.arrived_at,
            c.answered_at,
            c.ended_at
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("officer_id", "officer")))?;
        Ok(())
    }

    async fn call(&self, id: CallId) -> Result<Call> {
        let uid = id.as_uuid();
        sqlx::query_as!(
            CallRow,
            r#"SELECT id AS "id: Uuid", ani_raw, ani, officer_id AS "officer_id?: Uuid", state,
                      arrived_at AS "arrived_at: OffsetDateTime", answered_at AS "answered_at?: OffsetDateTime",
                      ended_at AS "ended_at?: OffsetDateTime"
               FROM calls WHERE id = ?1"#,
            uid
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("call", id))?
        .try_into()
    }

    async fn update_call(&self, c: &Call, expected: CallState) -> Result<()> {
        let id = c.id.as_uuid();
        let officer = c.officer_id.map(|o| o.as_uuid());
        let (state, expected) = (c.state.as_str(), expected.as_str());
        let done = sqlx::query!(
            "UPDATE calls SET officer_id = ?1, state = ?2, answered_at = ?3, ended_at = ?4
             WHERE id = ?5 AND state = ?6",
            officer,
            state,
            c.answered_at,
            c.ended_at,
            id,
            expected
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("officer_id", "officer")))?;
        if done.rows_affected() == 0 {
            return Err(match self.exists(Table::Calls, id).await? {
                true => StoreError::Stale {
                    entity: "call",
                    id: id.to_string(),
                    since: format!("state {expected}"),
                },
                false => StoreError::not_found("call", id),
            });
        }
        Ok(())
    }

    async fn list_calls(&self, page: PageRequest) -> Result<Page<Call>> {
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            CallRow,
            r#"SELECT id AS "id: Uuid", ani_raw, ani, officer_id AS "officer_id?: Uuid", state,
                      arrived_at AS "arrived_at: OffsetDateTime", answered_at AS "answered_at?: OffsetDateTime",
                      ended_at AS "ended_at?: OffsetDateTime"
               FROM calls WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2"#,
            page.after,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(convert(rows)?, page, |c: &Call| {
            c.id.as_uuid()
        }))
    }

    async fn open_calls(&self, limit: u32) -> Result<Vec<Call>> {
        let limit = i64::from(limit.clamp(1, OPEN_CALLS_MAX_LIMIT));
        let rows = sqlx::query_as!(
            CallRow,
            r#"SELECT id AS "id: Uuid", ani_raw, ani, officer_id AS "officer_id?: Uuid", state,
                      arrived_at AS "arrived_at: OffsetDateTime", answered_at AS "answered_at?: OffsetDateTime",
                      ended_at AS "ended_at?: OffsetDateTime"
               FROM calls WHERE state NOT IN ('ended', 'abandoned')
               ORDER BY arrived_at, id LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert(rows)
    }

    async fn insert_inquiry(&self, i: &Inquiry) -> Result<()> {
        let id = i.id.as_uuid();
        let call = i.call_id.map(|c| c.as_uuid());
        let officer = i.officer_id.map(|o| o.as_uuid());
        let subject = subject_json(&i.subject);
        let (purpose, reason) = (i.purpose.as_str(), i.reason.as_str());
        let case_number = i.case_number.as_ref().map(|c| c.as_str());
        sqlx::query!(
            "INSERT INTO inquiries (id, call_id, officer_id, subject, purpose, reason, case_number, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            id,
            call,
            officer,
            subject,
            purpose,
            reason,
            case_number,
            i.created_at
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("call_id or officer_id", "call or officer")))?;
        Ok(())
    }

    async fn inquiry(&self, id: InquiryId) -> Result<Inquiry> {
        let uid = id.as_uuid();
        sqlx::query_as!(
            InquiryRow,
            r#"SELECT id AS "id: Uuid", call_id AS "call_id?: Uuid", officer_id AS "officer_id?: Uuid",
                      subject, purpose, reason, case_number, created_at AS "created_at: OffsetDateTime"
               FROM inquiries WHERE id = ?1"#,
            uid
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("inquiry", id))?
        .try_into()
    }

    async fn inquiries_for_call(&self, call: CallId) -> Result<Vec<Inquiry>> {
        let uid = call.as_uuid();
        let rows = sqlx::query_as!(
            InquiryRow,
            r#"SELECT id AS "id: Uuid", call_id AS "call_id?: Uuid", officer_id AS "officer_id?: Uuid",
                      subject, purpose, reason, case_number, created_at AS "created_at: OffsetDateTime"
               FROM inquiries WHERE call_id = ?1 ORDER BY id"#,
            uid
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert(rows)
    }

    async fn insert_disposition(&self, d: &DispositionRow) -> Result<()> {
        let call = d.call_id.map(|c| c.as_uuid());
        let document = rows::json_text(&d.document);
        let (created, updated) = (stored_instant(d.created_at), stored_instant(d.updated_at));
        sqlx::query!(
            "INSERT INTO dispositions (id, call_id, kind, state, author, document, disclosed,
                 version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            d.id,
            call,
            d.kind,
            d.state,
            d.author,
            document,
            d.disclosed,
            d.version,
            created,
            updated
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("call_id", "call")))?;
        Ok(())
    }

    async fn disposition(&self, id: Uuid) -> Result<DispositionRow> {
        sqlx::query_as!(
            RawDispositionRow,
            r#"SELECT id AS "id: Uuid", call_id AS "call_id?: Uuid", kind, state, author,
                      document AS "document!: String", disclosed, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM dispositions WHERE id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("disposition", id))?
        .try_into()
    }

    async fn update_disposition(&self, d: &DispositionRow, expected_version: i64) -> Result<()> {
        let document = rows::json_text(&d.document);
        let updated = stored_instant(d.updated_at);
        let done = sqlx::query!(
            "UPDATE dispositions SET kind = ?1, state = ?2, document = ?3, disclosed = ?4,
                 version = ?5, updated_at = ?6
             WHERE id = ?7 AND version = ?8",
            d.kind,
            d.state,
            document,
            d.disclosed,
            d.version,
            updated,
            d.id,
            expected_version
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(Table::Dispositions, "disposition", d.id, expected_version)
                .await);
        }
        Ok(())
    }

    async fn list_dispositions(
        &self,
        state: Option<&str>,
        author: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<DispositionRow>> {
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            RawDispositionRow,
            r#"SELECT id AS "id: Uuid", call_id AS "call_id?: Uuid", kind, state, author,
                      document AS "document!: String", disclosed, version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM dispositions
               WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR state = ?2)
                 AND (?4 IS NULL OR author = ?4)
               ORDER BY id DESC
               LIMIT ?3"#,
            page.after,
            state,
            limit,
            author
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(
            convert(rows)?,
            page,
            |d: &DispositionRow| d.id,
        ))
    }

    async fn insert_liaison_case(&self, c: &LiaisonCaseRow) -> Result<()> {
        let call = c.call_id.map(|c| c.as_uuid());
        let document = rows::json_text(&c.document);
        let (created, updated) = (stored_instant(c.created_at), stored_instant(c.updated_at));
        sqlx::query!(
            "INSERT INTO liaison_cases (id, disposition_id, call_id, document, version,
                 created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            c.id,
            c.disposition_id,
            call,
            document,
            c.version,
            created,
            updated
        )
        .execute(&self.pool)
        .await
        .map_err(|e| {
            db_error(
                e,
                Refers("disposition_id or call_id", "disposition or call"),
            )
        })?;
        Ok(())
    }

    async fn liaison_case(&self, id: Uuid) -> Result<LiaisonCaseRow> {
        sqlx::query_as!(
            RawLiaisonCaseRow,
            r#"SELECT id AS "id: Uuid", disposition_id AS "disposition_id: Uuid",
                      call_id AS "call_id?: Uuid", document AS "document!: String", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM liaison_cases WHERE id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("liaison case", id))?
        .try_into()
    }

    async fn update_liaison_case(&self, c: &LiaisonCaseRow, expected_version: i64) -> Result<()> {
        let document = rows::json_text(&c.document);
        let updated = stored_instant(c.updated_at);
        let done = sqlx::query!(
            "UPDATE liaison_cases SET document = ?1, version = ?2, updated_at = ?3
             WHERE id = ?4 AND version = ?5",
            document,
            c.version,
            updated,
            c.id,
            expected_version
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(Table::LiaisonCases, "liaison case", c.id, expected_version)
                .await);
        }
        Ok(())
    }

    async fn list_liaison_cases(&self, page: PageRequest) -> Result<Page<LiaisonCaseRow>> {
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            RawLiaisonCaseRow,
            r#"SELECT id AS "id: Uuid", disposition_id AS "disposition_id: Uuid",
                      call_id AS "call_id?: Uuid", document AS "document!: String", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM liaison_cases WHERE (?1 IS NULL OR id < ?1) ORDER BY id DESC LIMIT ?2"#,
            page.after,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(
            convert(rows)?,
            page,
            |c: &LiaisonCaseRow| c.id,
        ))
    }

    async fn insert_partner_key(&self, k: &PartnerKeyRow) -> Result<()> {
        let agency = k.agency_id.as_uuid();
        let created = stored_instant(k.created_at);
        let revoked = k.revoked_at.map(stored_instant);
        sqlx::query!(
            "INSERT INTO partner_keys (id, agency_id, key_hash, prefix, label, created_by,
                 created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            k.id,
            agency,
            k.key_hash,
            k.prefix,
            k.label,
            k.created_by,
            created,
            revoked
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("agency_id", "agency")))?;
        Ok(())
    }

    async fn partner_key_by_hash(&self, key_hash: &str) -> Result<Option<PartnerKeyRow>> {
        sqlx::query_as!(
            RawPartnerKeyRow,
            r#"SELECT id AS "id: Uuid", agency_id AS "agency_id: Uuid", key_hash, prefix, label,
                      created_by, created_at AS "created_at: OffsetDateTime",
                      revoked_at AS "revoked_at?: OffsetDateTime"
               FROM partner_keys WHERE key_hash = ?1"#,
            key_hash
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn partner_keys_of(&self, agency: AgencyId) -> Result<Vec<PartnerKeyRow>> {
        let agency = agency.as_uuid();
        let rows = sqlx::query_as!(
            RawPartnerKeyRow,
            r#"SELECT id AS "id: Uuid", agency_id AS "agency_id: Uuid", key_hash, prefix, label,
                      created_by, created_at AS "created_at: OffsetDateTime",
                      revoked_at AS "revoked_at?: OffsetDateTime"
               FROM partner_keys WHERE agency_id = ?1 ORDER BY id DESC"#,
            agency
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert(rows)
    }

    async fn revoke_partner_key(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        let at = stored_instant(at);
        let done = sqlx::query!(
            "UPDATE partner_keys SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
            at,
            id
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("partner key", id));
        }
        Ok(())
    }

    async fn insert_partner_inquiry(&self, q: &PartnerInquiryRow) -> Result<()> {
        let (agency, officer) = (q.agency_id.as_uuid(), q.officer_id.as_uuid());
        let document = rows::json_text(&q.document);
        let (created, updated) = (stored_instant(q.created_at), stored_instant(q.updated_at));
        sqlx::query!(
            "INSERT INTO partner_inquiries (id, reference, agency_id, officer_id, phone, status,
                 document, disposition_id, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            q.id,
            q.reference,
            agency,
            officer,
            q.phone,
            q.status,
            document,
            q.disposition_id,
            q.version,
            created,
            updated
        )
        .execute(&self.pool)
        .await
        .map_err(|e| {
            db_error(
                e,
                Refers(
                    "agency_id, officer_id or disposition_id",
                    "agency, officer or disposition",
                ),
            )
        })?;
        Ok(())
    }

    async fn partner_inquiry(&self, reference: &str) -> Result<PartnerInquiryRow> {
        sqlx::query_as!(
            RawPartnerInquiryRow,
            r#"SELECT id AS "id: Uuid", reference, agency_id AS "agency_id: Uuid",
                      officer_id AS "officer_id: Uuid", phone, status, document AS "document!: String",
                      disposition_id AS "disposition_id?: Uuid", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM partner_inquiries WHERE reference = ?1"#,
            reference
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("partner inquiry", reference))?
        .try_into()
    }

    async fn partner_inquiry_for_phone(
        &self,
        phone: &str,
        since: OffsetDateTime,
    ) -> Result<Option<PartnerInquiryRow>> {
        let since = stored_instant(since);
        sqlx::query_as!(
            RawPartnerInquiryRow,
            r#"SELECT id AS "id: Uuid", reference, agency_id AS "agency_id: Uuid",
                      officer_id AS "officer_id: Uuid", phone, status, document AS "document!: String",
                      disposition_id AS "disposition_id?: Uuid", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM partner_inquiries WHERE phone = ?1 AND created_at >= ?2
               ORDER BY id DESC LIMIT 1"#,
            phone,
            since
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn update_partner_inquiry(
        &self,
        q: &PartnerInquiryRow,
        expected_version: i64,
    ) -> Result<()> {
        let document = rows::json_text(&q.document);
        let updated = stored_instant(q.updated_at);
        let done = sqlx::query!(
            "UPDATE partner_inquiries SET status = ?1, document = ?2, disposition_id = ?3,
                 version = ?4, updated_at = ?5
             WHERE id = ?6 AND version = ?7",
            q.status,
            document,
            q.disposition_id,
            q.version,
            updated,
            q.id,
            expected_version
        )
        .execute(&self.pool)
        .await
        .map_err(|e| db_error(e, Refers("disposition_id", "disposition")))?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(
                    Table::PartnerInquiries,
                    "partner inquiry",
                    q.id,
                    expected_version,
                )
                .await);
        }
        Ok(())
    }

    async fn list_partner_inquiries(
        &self,
        agency: AgencyId,
        page: PageRequest,
    ) -> Result<Page<PartnerInquiryRow>> {
        let agency = agency.as_uuid();
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            RawPartnerInquiryRow,
            r#"SELECT id AS "id: Uuid", reference, agency_id AS "agency_id: Uuid",
                      officer_id AS "officer_id: Uuid", phone, status, document AS "document!: String",
                      disposition_id AS "disposition_id?: Uuid", version,
                      created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM partner_inquiries WHERE agency_id = ?1 AND (?2 IS NULL OR id < ?2)
               ORDER BY id DESC LIMIT ?3"#,
            agency,
            page.after,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(
            convert(rows)?,
            page,
            |q: &PartnerInquiryRow| q.id,
        ))
    }

    async fn apply_record_batch(&self, b: &RecordBatch) -> Result<RecordBatchOutcome> {
        let (upserts, deletes) = rows::batch_json(b)?;
        let systems = rows::batch_systems(b);
        let at = stored_instant(b.at);
        let origin = b.origin.as_str();
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // A write first: the transaction holds the database's write lock from here on, so what
        // it reads below cannot change under it, and positions are drawn in commit order.
        sqlx::query!(
            "INSERT INTO record_changes (record_id, system, deleted, origin, changed_at)
             SELECT j.value ->> '$.record_id', j.value ->> '$.system', 0, ?2, ?3
             FROM json_each(?1) AS j",
            upserts,
            origin,
            at
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let foreign = sqlx::query!(
            r#"SELECT j.value ->> '$.record_id' AS "record_id!: String", s.system AS "stored!: String",
                      j.value ->> '$.system' AS "named!: String"
               FROM json_each(?1) AS j JOIN source_records s ON s.record_id = j.value ->> '$.record_id'
               WHERE s.system <> j.value ->> '$.system'
               UNION ALL
               SELECT j.value ->> '$.record_id', s.system, j.value ->> '$.system'
               FROM json_each(?2) AS j JOIN source_records s ON s.record_id = j.value ->> '$.record_id'
               WHERE s.system <> j.value ->> '$.system'
               LIMIT 1"#,
            upserts,
            deletes
        )
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(f) = foreign {
            return Err(StoreError::Conflict {
                field: "records",
                message: format!(
                    "record {} belongs to the {} system, not {}",
                    f.record_id, f.stored, f.named
                ),
            });
        }
        let updated = sqlx::query_scalar!(
            r#"SELECT COUNT(*) AS "n!: i64" FROM json_each(?1) AS j
               WHERE EXISTS (SELECT 1 FROM source_records s WHERE s.record_id = j.value ->> '$.record_id')"#,
            upserts
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query!(
            r#"INSERT INTO source_records (record_id, system, updated_on, data)
               SELECT j.value ->> '$.record_id', j.value ->> '$.system', j.value ->> '$.updated_on', json(j.value -> '$.data')
               FROM json_each(?1) AS j
               WHERE true
               ON CONFLICT (record_id) DO UPDATE SET
                   system = excluded.system, updated_on = excluded.updated_on, data = excluded.data"#,
            upserts
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query!(
            "INSERT INTO record_changes (record_id, system, deleted, origin, changed_at)
             SELECT j.value ->> '$.record_id', j.value ->> '$.system', 1, ?2, ?3
             FROM json_each(?1) AS j
             WHERE EXISTS (SELECT 1 FROM source_records s WHERE s.record_id = j.value ->> '$.record_id')",
            deletes,
            origin,
            at
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let deleted = sqlx::query!(
            "DELETE FROM source_records WHERE record_id IN (SELECT j.value ->> '$.record_id' FROM json_each(?1) AS j)",
            deletes
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        let position = sqlx::query_scalar!(
            r#"SELECT COALESCE(MAX(position), 0) AS "p!: i64" FROM record_changes"#
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query!(
            "INSERT INTO record_feed_state (system, as_of, position)
             SELECT j.value, ?2, ?3 FROM json_each(?1) AS j
             WHERE true
             ON CONFLICT (system) DO UPDATE SET
                 as_of = excluded.as_of, position = excluded.position",
            systems,
            at,
            position
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        self.records_changed.notify_waiters();
        let updated = updated as u64;
        Ok(RecordBatchOutcome {
            position,
            inserted: b.upserts.len() as u64 - updated.min(b.upserts.len() as u64),
            updated,
            deleted,
            absent: b.deletes.len() as u64 - deleted.min(b.deletes.len() as u64),
        })
    }

    async fn record_changes(&self, after: i64, limit: u32) -> Result<Vec<RecordChange>> {
        let limit = i64::from(limit.min(RECORD_CHANGES_MAX_LIMIT));
        let rows = sqlx::query!(
            r#"SELECT c.position AS "position!: i64", c.record_id, c.system, c.deleted AS "deleted!: bool",
                      c.changed_at AS "changed_at!: OffsetDateTime", s.data AS "data?: String"
               FROM record_changes c LEFT JOIN source_records s ON s.record_id = c.record_id AND c.deleted = 0
               WHERE c.position > ?1 ORDER BY c.position LIMIT ?2"#,
            after,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|r| {
                rows::record_change(
                    r.position,
                    r.record_id,
                    &r.system,
                    r.deleted,
                    r.changed_at,
                    r.data.as_deref(),
                )
            })
            .collect()
    }

    async fn record_position(&self) -> Result<i64> {
        sqlx::query_scalar!(r#"SELECT COALESCE(MAX(position), 0) AS "p!: i64" FROM record_changes"#)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn record_log_id(&self) -> Result<String> {
        sqlx::query_scalar!(r#"SELECT id AS "id!: String" FROM record_log"#)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn wait_for_record_change(&self, after: i64, timeout: Duration) -> Result<()> {
        // Another process (an import) writes without signalling: poll at most every 250 ms.
        let woken = self.records_changed.notified();
        if self.record_position().await? > after {
            return Ok(());
        }
        let _ = tokio::time::timeout(timeout.min(Duration::from_millis(250)), woken).await;
        Ok(())
    }

    async fn record_feed_state(&self) -> Result<Vec<FeedState>> {
        let rows = sqlx::query!(
            r#"SELECT system, as_of AS "as_of!: OffsetDateTime", position FROM record_feed_state ORDER BY system"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|r| rows::feed_state(&r.system, r.as_of, r.position))
            .collect()
    }

    async fn insert_feed_key(&self, k: &FeedKeyRow) -> Result<()> {
        let systems = rows::feed_key_systems(k);
        let created = stored_instant(k.created_at);
        let revoked = k.revoked_at.map(stored_instant);
        sqlx::query!(
            "INSERT INTO record_feed_keys (id, name, systems, key_hash, prefix, created_by, created_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            k.id,
            k.name,
            systems,
            k.key_hash,
            k.prefix,
            k.created_by,
            created,
            revoked
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn feed_key_by_hash(&self, key_hash: &str) -> Result<Option<FeedKeyRow>> {
        sqlx::query_as!(
            RawFeedKeyRow,
            r#"SELECT id AS "id: Uuid", name, systems AS "systems!: String", key_hash, prefix, created_by,
                      created_at AS "created_at: OffsetDateTime", revoked_at AS "revoked_at?: OffsetDateTime"
               FROM record_feed_keys WHERE key_hash = ?1"#,
            key_hash
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .map(TryInto::try_into)
        .transpose()
    }

    async fn feed_keys(&self) -> Result<Vec<FeedKeyRow>> {
        let rows = sqlx::query_as!(
            RawFeedKeyRow,
            r#"SELECT id AS "id: Uuid", name, systems AS "systems!: String", key_hash, prefix, created_by,
                      created_at AS "created_at: OffsetDateTime", revoked_at AS "revoked_at?: OffsetDateTime"
               FROM record_feed_keys ORDER BY id DESC"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert(rows)
    }

    async fn revoke_feed_key(&self, id: Uuid, at: OffsetDateTime) -> Result<()> {
        let at = stored_instant(at);
        let done = sqlx::query!(
            "UPDATE record_feed_keys SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
            at,
            id
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("feed key", id));
        }
        Ok(())
    }

    async fn source_records(
        &self,
        system: Option<System>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, SourceRecord)>> {
        let system = system.map(System::as_str);
        let limit = i64::from(limit);
        let rows = sqlx::query!(
            r#"SELECT seq AS "seq!: i64", data AS "data!: String" FROM source_records
               WHERE (?1 IS NULL OR system = ?1) AND (?2 IS NULL OR seq > ?2)
               ORDER BY seq LIMIT ?3"#,
            system,
            after,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|r| Ok((r.seq, rows::source_record(&r.data)?)))
            .collect()
    }

    async fn source_records_by_id(&self, ids: &[String]) -> Result<Vec<SourceRecord>> {
        check_source_record_ids(ids)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The ids go in as one JSON array; `j.key` is each id's place in it.
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let rows = sqlx::query_scalar!(
            r#"SELECT s.data AS "data!: String"
               FROM json_each(?1) AS j JOIN source_records s ON s.record_id = j.value
               ORDER BY j.key"#,
            ids
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|d| rows::source_record(d)).collect()
    }

    async fn source_records_by_keys(
        &self,
        keys: &[RecordKey],
        limit: u32,
    ) -> Result<Vec<SourceRecord>> {
        check_source_record_keys(keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(
            &keys
                .iter()
                .map(|k| [k.kind.as_str(), k.value.as_str()])
                .collect::<Vec<_>>(),
        )
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let limit = i64::from(limit);
        let rows = sqlx::query_scalar!(
            r#"SELECT s.data AS "data!: String" FROM source_records s
               WHERE s.a_number_key IN (SELECT j.value ->> '$[1]' FROM json_each(?1) AS j WHERE j.value ->> '$[0]' = 'a_number')
                  OR s.fin_key IN (SELECT j.value ->> '$[1]' FROM json_each(?1) AS j WHERE j.value ->> '$[0]' = 'fin')
                  OR s.fbi_key IN (SELECT j.value ->> '$[1]' FROM json_each(?1) AS j WHERE j.value ->> '$[0]' = 'fbi')
                  OR s.state_id_key IN (SELECT j.value ->> '$[1]' FROM json_each(?1) AS j WHERE j.value ->> '$[0]' = 'state_id')
                  OR s.document_key IN (SELECT j.value ->> '$[1]' FROM json_each(?1) AS j WHERE j.value ->> '$[0]' = 'document')
               LIMIT ?2"#,
            keys,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|d| rows::source_record(d)).collect()
    }

    async fn count_source_records(&self) -> Result<Vec<(System, u64)>> {
        let rows = sqlx::query!(r#"SELECT system AS "system!: String", COUNT(*) AS "n!: i64" FROM source_records GROUP BY system ORDER BY system"#)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows::system_counts(rows.into_iter().map(|r| (r.system, r.n)).collect())
    }

    async fn put_class_injunctions(&self, orders: &[ClassInjunction]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for o in orders {
            let data = serde_json::to_string(o).map_err(|e| StoreError::Backend(Box::new(e)))?;
            sqlx::query!(
                "INSERT INTO class_injunctions (order_id, data) VALUES (?1, ?2)
                 ON CONFLICT (order_id) DO UPDATE SET data = excluded.data",
                o.order_id,
                data
            )
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn class_injunctions(&self) -> Result<Vec<ClassInjunction>> {
        let rows = sqlx::query_scalar!(
            r#"SELECT data AS "data!: String" FROM class_injunctions ORDER BY order_id"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(|d| rows::class_injunction(d)).collect()
    }

    async fn insert_determination(&self, d: &DeterminationRow) -> Result<()> {
        let document = rows::json_text(&d.document);
        let ids =
            serde_json::to_string(&d.record_ids).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let (created, updated) = (stored_instant(d.created_at), stored_instant(d.updated_at));
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query!(
            "INSERT INTO legal_determinations (id, state, document, record_ids, version, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            d.id,
            d.state,
            document,
            ids,
            d.version,
            created,
            updated
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query!(
            "INSERT OR IGNORE INTO legal_determination_records (record_id, determination_id)
             SELECT j.value, ?2 FROM json_each(?1) AS j",
            ids,
            d.id
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn determination(&self, id: Uuid) -> Result<DeterminationRow> {
        sqlx::query_as!(
            RawDeterminationRow,
            r#"SELECT id AS "id: Uuid", state, document AS "document!: String", record_ids AS "record_ids!: String",
                      version, created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM legal_determinations WHERE id = ?1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("determination", id))?
        .try_into()
    }

    async fn update_determination(
        &self,
        d: &DeterminationRow,
        expected_version: i64,
    ) -> Result<()> {
        let document = rows::json_text(&d.document);
        let updated = stored_instant(d.updated_at);
        let done = sqlx::query!(
            "UPDATE legal_determinations SET state = ?1, document = ?2, version = ?3, updated_at = ?4
             WHERE id = ?5 AND version = ?6",
            d.state,
            document,
            d.version,
            updated,
            d.id,
            expected_version
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(self
                .missing_or_stale(
                    Table::Determinations,
                    "determination",
                    d.id,
                    expected_version,
                )
                .await);
        }
        Ok(())
    }

    async fn determinations_for_records(&self, ids: &[String]) -> Result<Vec<DeterminationRow>> {
        check_source_record_ids(ids)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let rows = sqlx::query_as!(
            RawDeterminationRow,
            r#"SELECT id AS "id: Uuid", state, document AS "document!: String", record_ids AS "record_ids!: String",
                      version, created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM legal_determinations
               WHERE id IN (SELECT r.determination_id FROM json_each(?1) AS j
                            JOIN legal_determination_records r ON r.record_id = j.value)
               ORDER BY id"#,
            ids
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        convert(rows)
    }

    async fn list_determinations(
        &self,
        state: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<DeterminationRow>> {
        let limit = page.fetch_limit();
        let rows = sqlx::query_as!(
            RawDeterminationRow,
            r#"SELECT id AS "id: Uuid", state, document AS "document!: String", record_ids AS "record_ids!: String",
                      version, created_at AS "created_at: OffsetDateTime", updated_at AS "updated_at: OffsetDateTime"
               FROM legal_determinations
               WHERE (?1 IS NULL OR id < ?1) AND (?2 IS NULL OR state = ?2)
               ORDER BY id DESC LIMIT ?3"#,
            page.after,
            state,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(Page::from_fetched(
            convert(rows)?,
            page,
            |d: &DeterminationRow| d.id,
        ))
    }

    async fn append_acd_log(&self, entries: &[AcdLogEntry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // One statement per entry inside one transaction: SQLite runs them in-process, and the
        // commit (WAL, synchronous=FULL) is the one fsync of the batch.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for e in entries {
            let entry = rows::acd_json_text(&e.entry);
            sqlx::query!(
                "INSERT INTO acd_log (seq, at_ms, entry) VALUES (?1, ?2, ?3)",
                e.seq,
                e.at_ms,
                entry
            )
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn acd_log_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AcdLogEntry>> {
        let limit = acd_log_limit(limit);
        let rows = sqlx::query!(
            r#"SELECT seq AS "seq!: i64", at_ms AS "at_ms!: i64", entry AS "entry!: String"
               FROM acd_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"#,
            after_seq,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|r| {
                Ok(AcdLogEntry {
                    seq: r.seq,
                    at_ms: r.at_ms,
                    entry: rows::acd_json(&r.entry, "ACD log entry")?,
                })
            })
            .collect()
    }

    async fn last_acd_seq(&self) -> Result<i64> {
        sqlx::query_scalar!(r#"SELECT COALESCE(MAX(seq), 0) AS "seq!: i64" FROM acd_log"#)
            .fetch_one(&self.pool)
            .await
            .map_err(backend)
    }

    async fn put_acd_snapshot(&self, snapshot: &AcdSnapshot) -> Result<()> {
        let state = rows::acd_json_text(&snapshot.state);
        let kept = i64::from(ACD_SNAPSHOTS_KEPT);
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query!(
            "INSERT INTO acd_snapshots (seq, at_ms, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (seq) DO UPDATE SET
                 at_ms = excluded.at_ms, state = excluded.state, taken_at = excluded.taken_at",
            snapshot.seq,
            snapshot.at_ms,
            state
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query!(
            "DELETE FROM acd_snapshots
             WHERE seq NOT IN (SELECT seq FROM acd_snapshots ORDER BY seq DESC LIMIT ?1)",
            kept
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn latest_acd_snapshot(&self) -> Result<Option<AcdSnapshot>> {
        let row = sqlx::query!(
            r#"SELECT seq AS "seq!: i64", at_ms AS "at_ms!: i64", state AS "state!: String"
               FROM acd_snapshots ORDER BY seq DESC LIMIT 1"#
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| {
            Ok(AcdSnapshot {
                seq: r.seq,
                at_ms: r.at_ms,
                state: rows::acd_json(&r.state, "ACD snapshot")?,
            })
        })
        .transpose()
    }

    async fn acd_snapshot_seqs(&self) -> Result<Vec<i64>> {
        sqlx::query_scalar!(r#"SELECT seq AS "seq!: i64" FROM acd_snapshots ORDER BY seq DESC"#)
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn append_audit(&self, entries: &[NewAuditRow]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // Multi-row INSERTs of bound values, a few hundred rows a statement, in one
        // transaction: statements, not rows, are what cost through sqlx, and the commit is the
        // batch's one fsync. The statement text has a fixed shape per row count (so it is
        // prepared once and cached) and never contains data; this is the one place the
        // backend builds SQL at run time rather than checking it at compile time, because a
        // row count is not known at compile time (see ARCHITECTURE.md).
        const ROWS_PER_STATEMENT: usize = 500;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for chunk in entries.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO audit_log (seq, at_ms, action, actor, entry, leaf_hash) ",
            );
            q.push_values(chunk, |mut b, e| {
                let r = &e.row;
                b.push_bind(r.seq)
                    .push_bind(r.at_ms)
                    .push_bind(r.action.as_str())
                    .push_bind(r.actor.as_str())
                    .push_bind(r.entry.as_str())
                    .push_bind(r.leaf_hash.as_slice());
            });
            q.build().execute(&mut *tx).await.map_err(backend)?;
        }
        let keys: Vec<(&str, i64)> = entries
            .iter()
            .flat_map(|e| e.subjects.iter().map(|k| (k.as_str(), e.row.seq)))
            .collect();
        for chunk in keys.chunks(ROWS_PER_STATEMENT * 2) {
            let mut q =
                sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO audit_subjects (key, seq) ");
            q.push_values(chunk, |mut b, (k, seq)| {
                b.push_bind(*k).push_bind(*seq);
            });
            q.build().execute(&mut *tx).await.map_err(backend)?;
        }
        let opens: Vec<i64> = entries
            .iter()
            .filter(|e| e.opens)
            .map(|e| e.row.seq)
            .collect();
        if !opens.is_empty() {
            let opens = seq_list(&opens);
            sqlx::query!(
                "INSERT INTO audit_open_actions (seq) SELECT value FROM json_each(?1)",
                opens
            )
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        let closes: Vec<i64> = entries
            .iter()
            .flat_map(|e| e.closes.iter().copied())
            .collect();
        if !closes.is_empty() {
            close_actions(&mut tx, &closes).await?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn open_audit_actions(&self, limit: u32) -> Result<Vec<AuditRow>> {
        let limit = audit_limit(limit, AUDIT_MAX_LIMIT);
        sqlx::query_as!(
            AuditRow,
            r#"SELECT l.seq AS "seq!: i64", l.at_ms AS "at_ms!: i64", l.action, l.actor, l.entry,
                      l.leaf_hash AS "leaf_hash!: Vec<u8>"
               FROM audit_open_actions o JOIN audit_log l ON l.seq = o.seq
               ORDER BY o.seq LIMIT ?1"#,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn close_audit_actions(&self, seqs: &[i64]) -> Result<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(backend)?;
        close_actions(&mut tx, seqs).await?;
        tx.commit().await.map_err(backend)
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRow>> {
        let limit = audit_limit(limit, AUDIT_MAX_LIMIT);
        sqlx::query_as!(
            AuditRow,
            r#"SELECT seq AS "seq!: i64", at_ms AS "at_ms!: i64", action, actor, entry,
                      leaf_hash AS "leaf_hash!: Vec<u8>"
               FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"#,
            after_seq,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn audit_leaf_hashes(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, Vec<u8>)>> {
        let limit = audit_limit(limit, AUDIT_HASHES_MAX_LIMIT);
        let rows = sqlx::query!(
            r#"SELECT seq AS "seq!: i64", leaf_hash AS "leaf_hash!: Vec<u8>"
               FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"#,
            after_seq,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        Ok(rows.into_iter().map(|r| (r.seq, r.leaf_hash)).collect())
    }

    async fn search_audit(
        &self,
        f: &AuditFilter,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRow>> {
        let limit = audit_limit(limit, AUDIT_MAX_LIMIT);
        sqlx::query_as!(
            AuditRow,
            r#"SELECT l.seq AS "seq!: i64", l.at_ms AS "at_ms!: i64", l.action, l.actor, l.entry,
                      l.leaf_hash AS "leaf_hash!: Vec<u8>"
               FROM audit_log l
               WHERE l.seq > ?1
                 AND (?2 IS NULL OR l.actor = ?2)
                 AND (?3 IS NULL OR l.action = ?3)
                 AND (?4 IS NULL OR l.at_ms >= ?4)
                 AND (?5 IS NULL OR l.at_ms < ?5)
                 AND (?6 IS NULL OR l.seq IN (SELECT s.seq FROM audit_subjects s WHERE s.key = ?6))
               ORDER BY l.seq LIMIT ?7"#,
            after_seq,
            f.actor,
            f.action,
            f.from_ms,
            f.to_ms,
            f.subject,
            limit
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }

    async fn put_audit_checkpoint(&self, c: &CheckpointRow) -> Result<()> {
        sqlx::query!(
            "INSERT INTO audit_checkpoints (size, at_ms, origin, root, signature)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            c.size,
            c.at_ms,
            c.origin,
            c.root,
            c.signature
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn audit_checkpoints(&self) -> Result<Vec<CheckpointRow>> {
        sqlx::query_as!(
            CheckpointRow,
            r#"SELECT size AS "size!: i64", at_ms AS "at_ms!: i64", origin,
                      root AS "root!: Vec<u8>", signature AS "signature!: Vec<u8>"
               FROM audit_checkpoints ORDER BY size"#
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)
    }
}

/// `seqs` as the JSON array `json_each` reads.
fn seq_list(seqs: &[i64]) -> String {
    serde_json::to_string(seqs).expect("integers serialise")
}

/// Removes the open marks of `seqs` inside `tx`.
async fn close_actions(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, seqs: &[i64]) -> Result<()> {
    let seqs = seq_list(seqs);
    sqlx::query!(
        "DELETE FROM audit_open_actions WHERE seq IN (SELECT value FROM json_each(?1))",
        seqs
    )
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}
