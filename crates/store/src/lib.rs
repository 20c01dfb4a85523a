//! The storage boundary.
//!
//! This crate owns the [`Store`] trait that every backend implements, the error type callers
//! match on, paging and filters, the plain row shapes both SQL backends decode into (so the
//! row-to-domain conversion exists once), and, behind the `story` feature, the story test
//! suite that every backend must pass unchanged.
//!
//! It must never contain SQL or talk to a database: that is the job of `store-sqlite` and
//! `store-postgres`.

#![forbid(unsafe_code)]

pub mod rows;
#[cfg(feature = "story")]
pub mod story;

pub use rows::{
    AcdLogEntry, AcdSnapshot, AuditFilter, AuditRow, CheckpointRow, Credentials, DeterminationRow,
    DispositionRow, LiaisonCaseRow, NewAuditRow, PartnerInquiryRow, PartnerKeyRow, RoleRequest,
    SessionRow,
};

use async_trait::async_trait;
use switchboard_domain::records::{ClassInjunction, RecordKey, SourceRecord, System};
use switchboard_domain::{
    Agency, AgencyId, AgencyKind, Agreement, AgreementId, AgreementModel, BadgeNumber, Call,
    CallId, CallState, E164, Inquiry, InquiryId, Officer, OfficerId, Ori, StateCode, User, UserId,
    Username,
};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong in storage, in terms the layers above can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// A uniqueness rule would be broken (an ORI already registered, a phone number already
    /// assigned to another officer).
    #[error("{field}: {message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    /// Optimistic concurrency: the record changed since the caller read it.
    #[error("{entity} {id} was changed by someone else since {since}")]
    Stale {
        entity: &'static str,
        id: String,
        /// What the writer last saw: `version 3`, `state queued`.
        since: String,
    },
    /// A record names another that does not exist.
    #[error("{field}: no such {entity}")]
    MissingReference {
        field: &'static str,
        entity: &'static str,
    },
    /// The database holds something our types reject: a bug or tampering, never user input.
    #[error("stored {entity} is invalid: {message}")]
    Corrupt {
        entity: &'static str,
        message: String,
    },
    /// The database could not be reached or failed.
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }
}

/// One page of a listing, in a stable order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (clamped to 1..=[`PageRequest::MAX_LIMIT`]).
    pub limit: u32,
    /// Continue after this id (the `next` cursor of the previous page).
    pub after: Option<Uuid>,
}

impl PageRequest {
    pub const MAX_LIMIT: u32 = 500;
    pub const DEFAULT_LIMIT: u32 = 50;

    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }

    /// The limit actually used.
    pub fn clamped_limit(&self) -> u32 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }

    /// What backends fetch: one more than the limit, to learn whether a next page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.clamped_limit()) + 1
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self::first(Self::DEFAULT_LIMIT)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor for the next page, when there is one.
    pub next: Option<Uuid>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched items, the extra one only signalling that
    /// more exist.
    pub fn from_fetched(mut items: Vec<T>, req: PageRequest, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = req.clamped_limit() as usize;
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(&id)
        } else {
            None
        };
        Self { items, next }
    }
}

/// The most ACD log entries one [`Store::acd_log_after`] call returns.
pub const ACD_LOG_MAX_LIMIT: u32 = 10_000;

/// How many ACD snapshots the store keeps: the newest, and two to fall back on.
pub const ACD_SNAPSHOTS_KEPT: u32 = 3;

/// The most record ids one [`Store::source_records_by_id`] call accepts.
pub const SOURCE_RECORDS_BY_ID_MAX: usize = 1_000;

/// Refuses more than [`SOURCE_RECORDS_BY_ID_MAX`] ids, with the error both backends return.
///
/// There is no invalid-input variant of [`StoreError`] yet; [`StoreError::Conflict`] on `ids`
/// is the closest: the request, not the database, is at fault, and retrying it cannot help.
pub fn check_source_record_ids(ids: &[String]) -> Result<()> {
    if ids.len() > SOURCE_RECORDS_BY_ID_MAX {
        return Err(StoreError::Conflict {
            field: "ids",
            message: format!(
                "at most {SOURCE_RECORDS_BY_ID_MAX} record ids may be looked up at once, not {}",
                ids.len()
            ),
        });
    }
    Ok(())
}

/// The most change-log entries one [`Store::record_changes`] call returns.
pub const RECORD_CHANGES_MAX_LIMIT: u32 = 10_000;

/// A batch of changes to the record systems (see [`Store::apply_record_batch`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBatch {
    /// Records to insert or replace, by record id.
    pub upserts: Vec<SourceRecord>,
    /// Records to delete: (the system the sender says it belongs to, its record id).
    pub deletes: Vec<(System, String)>,
    /// Systems the sender vouches are current as of `at`, beyond those its records name (a
    /// heartbeat: a feed with nothing new still says it is alive).
    pub current: Vec<System>,
    /// Who sent it: `feed:<key id>`, `import:<file>`, `load`, `demo`.
    pub origin: String,
    pub at: OffsetDateTime,
}

impl RecordBatch {
    pub fn new(at: OffsetDateTime) -> Self {
        Self {
            upserts: Vec::new(),
            deletes: Vec::new(),
            current: Vec::new(),
            origin: String::new(),
            at,
        }
    }

    /// Every system the batch touches or vouches for, each once, in [`System::ALL`] order.
    pub fn systems(&self) -> Vec<System> {
        System::ALL
            .into_iter()
            .filter(|s| {
                self.current.contains(s)
                    || self.upserts.iter().any(|r| r.system() == *s)
                    || self.deletes.iter().any(|(d, _)| d == s)
            })
            .collect()
    }
}

/// What a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordBatchOutcome {
    /// The change log's newest position after the batch (every change of the batch is at or
    /// below it).
    pub position: i64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Deletions of records that were not there.
    pub absent: u64,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordChange {
    pub position: i64,
    pub system: System,
    pub record_id: String,
    /// The record as stored now; `None` when it is deleted now.
    pub record: Option<SourceRecord>,
    pub changed_at: OffsetDateTime,
}

/// When a record system was last vouched for.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedState {
    pub system: System,
    pub as_of: OffsetDateTime,
    /// The change-log position of the batch that last vouched for it.
    pub position: i64,
}

/// A record feed's key: like a partner key, only its SHA-256 is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedKeyRow {
    pub id: Uuid,
    /// What the feed is (a source system's name).
    pub name: String,
    /// The systems it may write.
    pub systems: Vec<System>,
    /// Lower-case hex SHA-256 of the key; unique.
    pub key_hash: String,
    /// The key's first characters, to tell keys apart on screen.
    pub prefix: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// The most identifiers one [`Store::source_records_by_keys`] call accepts.
pub const SOURCE_RECORDS_BY_KEYS_MAX: usize = 500;

/// Refuses more than [`SOURCE_RECORDS_BY_KEYS_MAX`] keys, like [`check_source_record_ids`].
pub fn check_source_record_keys(keys: &[RecordKey]) -> Result<()> {
    if keys.len() > SOURCE_RECORDS_BY_KEYS_MAX {
        return Err(StoreError::Conflict {
            field: "keys",
            message: format!(
                "at most {SOURCE_RECORDS_BY_KEYS_MAX} identifiers may be looked up at once, not {}",
                keys.len()
            ),
        });
    }
    Ok(())
}

/// The number of log entries backends fetch for a requested `limit` (clamped to
/// 1..=[`ACD_LOG_MAX_LIMIT`]).
pub fn acd_log_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, ACD_LOG_MAX_LIMIT))
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgencyFilter {
    pub kind: Option<AgencyKind>,
    pub state: Option<StateCode>,
    /// Substring of the name, ignoring case and accents.
    pub name_contains: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgreementFilter {
    pub agency_id: Option<AgencyId>,
    pub model: Option<AgreementModel>,
    /// Only agreements in effect on this day.
    pub in_effect_on: Option<Date>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfficerFilter {
    pub agency_id: Option<AgencyId>,
    /// Substring of "given family", ignoring case and accents.
    pub name_contains: Option<String>,
    pub badge: Option<BadgeNumber>,
    pub active: Option<bool>,
}

/// Everything Switchboard persists. Listings are ordered by id (creation order) ascending,
/// except calls, dispositions and liaison cases, newest first.
///
/// Updates are optimistic: the record passed carries the `version` that was read; the store
/// writes it as `version + 1` only if the stored version still matches, and otherwise returns
/// [`StoreError::Stale`]. Dispositions and liaison cases are the exception: their updates take
/// the version read as an argument and write the record's own (see
/// [`Store::update_disposition`]). Every method that returns `Ok` has made its write durable.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;
    /// Succeeds when the database takes a write (one row of a probe table rewritten): a full
    /// disk leaves reads working while every write fails.
    async fn ping(&self) -> Result<()>;

    async fn insert_agency(&self, agency: &Agency) -> Result<()>;
    async fn agency(&self, id: AgencyId) -> Result<Agency>;
    async fn agency_by_ori(&self, ori: &Ori) -> Result<Option<Agency>>;
    async fn list_agencies(&self, filter: &AgencyFilter, page: PageRequest)
    -> Result<Page<Agency>>;
    async fn update_agency(&self, agency: &Agency) -> Result<Agency>;

    async fn insert_agreement(&self, agreement: &Agreement) -> Result<()>;
    async fn agreement(&self, id: AgreementId) -> Result<Agreement>;
    async fn list_agreements(
        &self,
        filter: &AgreementFilter,
        page: PageRequest,
    ) -> Result<Page<Agreement>>;
    /// Every agreement of one agency, in any state.
    async fn agreements_of(&self, agency: AgencyId) -> Result<Vec<Agreement>>;
    async fn update_agreement(&self, agreement: &Agreement) -> Result<Agreement>;

    async fn insert_officer(&self, officer: &Officer) -> Result<()>;
    async fn officer(&self, id: OfficerId) -> Result<Officer>;
    async fn officer_by_phone(&self, phone: &E164) -> Result<Option<Officer>>;
    async fn list_officers(
        &self,
        filter: &OfficerFilter,
        page: PageRequest,
    ) -> Result<Page<Officer>>;
    /// Replaces every field, phone numbers included.
    async fn update_officer(&self, officer: &Officer) -> Result<Officer>;
    /// Active officers of the agency whose certification is current on `day`.
    async fn count_certified_officers(&self, agency: AgencyId, day: Date) -> Result<u32>;

    /// Inserts a whole registry in one transaction: all of it, or (on any error) none of it.
    async fn import_registry(
        &self,
        agencies: &[Agency],
        agreements: &[Agreement],
        officers: &[Officer],
    ) -> Result<()>;

    async fn insert_user(&self, user: &User) -> Result<()>;
    async fn user(&self, id: UserId) -> Result<User>;
    async fn list_users(&self, page: PageRequest) -> Result<Page<User>>;
    async fn user_by_username(&self, username: &Username) -> Result<Option<User>>;
    /// Writes display name, role and active (optimistic on `version`, like the registry).
    async fn update_user(&self, user: &User) -> Result<User>;

    /// Stores a new user's credentials; [`StoreError::Conflict`] if the user has some.
    async fn insert_credentials(&self, c: &Credentials) -> Result<()>;
    async fn credentials(&self, user: UserId) -> Result<Option<Credentials>>;
    /// Writes every field but `user_id`, only if the stored version is `expected_version`
    /// (else [`StoreError::Stale`]); `c.version` is written as given.
    async fn update_credentials(&self, c: &Credentials, expected_version: i64) -> Result<()>;

    async fn insert_session(&self, s: &SessionRow) -> Result<()>;
    /// The session whose token hashes to `id`, ended or not.
    async fn session(&self, id: &str) -> Result<Option<SessionRow>>;
    /// Records activity on a session that has not ended.
    async fn touch_session(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    /// Ends one session; false when it had already ended or does not exist.
    async fn end_session(&self, id: &str, at: OffsetDateTime, reason: &str) -> Result<bool>;
    /// Stores a new role request; [`StoreError::Conflict`] when the user has one still open.
    async fn insert_role_request(&self, r: &RoleRequest) -> Result<()>;
    async fn role_request(&self, id: Uuid) -> Result<Option<RoleRequest>>;
    /// The requests not yet decided, oldest first (at most 1,000).
    async fn open_role_requests(&self) -> Result<Vec<RoleRequest>>;
    /// Decides an open request; approving also writes `user` (its role and whether it is
    /// active; only if its stored version is `user.version`, else [`StoreError::Stale`]) in
    /// the same commit. False when the request was no longer open.
    async fn decide_role_request(
        &self,
        id: Uuid,
        by: UserId,
        at: OffsetDateTime,
        approved: bool,
        user: Option<&User>,
    ) -> Result<bool>;
    /// Whether the user logged on from `address` at or after `since` (a familiar source).
    async fn logged_on_from(
        &self,
        user: UserId,
        address: &str,
        since: OffsetDateTime,
    ) -> Result<bool>;
    /// Ends every open session of a user; how many were ended.
    async fn end_user_sessions(
        &self,
        user: UserId,
        at: OffsetDateTime,
        reason: &str,
    ) -> Result<u64>;

    async fn insert_call(&self, call: &Call) -> Result<()>;
    async fn call(&self, id: CallId) -> Result<Call>;
    /// Writes the call only if it is still in `expected` state.
    async fn update_call(&self, call: &Call, expected: CallState) -> Result<()>;
    /// Newest first.
    async fn list_calls(&self, page: PageRequest) -> Result<Page<Call>>;
    /// Calls not yet over (arriving, queued, offered or connected), oldest arrival first, at
    /// most `limit` (clamped to 1..=[`OPEN_CALLS_MAX_LIMIT`]): what the call distributor
    /// reconciles at start-up.
    async fn open_calls(&self, limit: u32) -> Result<Vec<Call>>;

    async fn insert_inquiry(&self, inquiry: &Inquiry) -> Result<()>;
    async fn inquiry(&self, id: InquiryId) -> Result<Inquiry>;
    async fn inquiries_for_call(&self, call: CallId) -> Result<Vec<Inquiry>>;

    /// Stores a new disposition. A `call_id` naming no stored call is
    /// [`StoreError::MissingReference`]; an id already stored is [`StoreError::Conflict`].
    /// Timestamps are kept in UTC to the microsecond.
    async fn insert_disposition(&self, d: &DispositionRow) -> Result<()>;
    /// The disposition with this id, or [`StoreError::NotFound`] (entity `"disposition"`).
    async fn disposition(&self, id: Uuid) -> Result<DispositionRow>;
    /// Writes `kind`, `state`, `document`, `disclosed`, `version` and `updated_at` of `d`, only
    /// if the stored version is still `expected_version`; otherwise [`StoreError::Stale`]
    /// (nothing written), or [`StoreError::NotFound`] when there is no such disposition.
    ///
    /// Unlike the registry's updates, the store writes `d.version` as given: the caller sets it
    /// to `expected_version + 1`. `id`, `call_id`, `author` and `created_at` never change.
    async fn update_disposition(&self, d: &DispositionRow, expected_version: i64) -> Result<()>;
    /// Dispositions newest first (by id, a UUIDv7), of one `state` or all, of one `author` or
    /// all; `page.after` is the `next` cursor of the previous page.
    async fn list_dispositions(
        &self,
        state: Option<&str>,
        author: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<DispositionRow>>;

    /// Stores a new juvenile-liaison case. A `disposition_id` or `call_id` naming no stored
    /// record is [`StoreError::MissingReference`]; an id already stored is
    /// [`StoreError::Conflict`].
    async fn insert_liaison_case(&self, c: &LiaisonCaseRow) -> Result<()>;
    /// The liaison case with this id, or [`StoreError::NotFound`] (entity `"liaison case"`).
    async fn liaison_case(&self, id: Uuid) -> Result<LiaisonCaseRow>;
    /// Writes `document`, `version` and `updated_at` of `c` under the same optimistic rule as
    /// [`Store::update_disposition`]; `disposition_id`, `call_id` and `created_at` never change.
    async fn update_liaison_case(&self, c: &LiaisonCaseRow, expected_version: i64) -> Result<()>;
    /// Liaison cases newest first (by id, a UUIDv7).
    async fn list_liaison_cases(&self, page: PageRequest) -> Result<Page<LiaisonCaseRow>>;

    /// Stores a partner API key. An `agency_id` naming no agency is
    /// [`StoreError::MissingReference`]; a hash or id already stored is [`StoreError::Conflict`].
    async fn insert_partner_key(&self, k: &PartnerKeyRow) -> Result<()>;
    /// The key with this hash, revoked or not.
    async fn partner_key_by_hash(&self, key_hash: &str) -> Result<Option<PartnerKeyRow>>;
    /// Every key of an agency, newest first.
    async fn partner_keys_of(&self, agency: AgencyId) -> Result<Vec<PartnerKeyRow>>;
    /// Revokes a key as of `at`; revoking it again changes nothing (it keeps its first
    /// revocation). [`StoreError::NotFound`] (entity `"partner key"`) when there is none.
    async fn revoke_partner_key(&self, id: Uuid, at: OffsetDateTime) -> Result<()>;

    /// Stores an inquiry sent ahead. An agency, officer or disposition that is not stored is
    /// [`StoreError::MissingReference`]; a reference or id already stored is
    /// [`StoreError::Conflict`].
    async fn insert_partner_inquiry(&self, q: &PartnerInquiryRow) -> Result<()>;
    /// The inquiry with this reference, or [`StoreError::NotFound`] (entity
    /// `"partner inquiry"`).
    async fn partner_inquiry(&self, reference: &str) -> Result<PartnerInquiryRow>;
    /// The newest inquiry sent from this number at or after `since` (what a call from it pops
    /// with).
    async fn partner_inquiry_for_phone(
        &self,
        phone: &str,
        since: OffsetDateTime,
    ) -> Result<Option<PartnerInquiryRow>>;
    /// Writes `status`, `document`, `disposition_id`, `version` and `updated_at` under the
    /// optimistic rule of [`Store::update_disposition`].
    async fn update_partner_inquiry(
        &self,
        q: &PartnerInquiryRow,
        expected_version: i64,
    ) -> Result<()>;
    /// An agency's inquiries, newest first (by id, a UUIDv7).
    async fn list_partner_inquiries(
        &self,
        agency: AgencyId,
        page: PageRequest,
    ) -> Result<Page<PartnerInquiryRow>>;

    /// Stores records of the record systems in one transaction, replacing any with the same
    /// record id (a source re-sending a record updates it): a bulk load, through the change log
    /// like every other write ([`Store::apply_record_batch`], origin `load`).
    async fn put_source_records(&self, records: &[SourceRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.apply_record_batch(&RecordBatch {
            upserts: records.to_vec(),
            origin: "load".into(),
            ..RecordBatch::new(OffsetDateTime::now_utc())
        })
        .await
        .map(|_| ())
    }
    /// Applies a batch of changes to the record systems in one transaction: upserts by record
    /// id, deletions, and the systems the sender vouches for. Every record written or deleted
    /// gets an entry in the change log, whose positions only grow and are committed in order
    /// (a reader that has seen position `p` never later finds a new entry below `p`). A record
    /// id that exists under another system than the batch names is
    /// [`StoreError::Conflict`] on `records` naming it, and nothing is applied; deleting a
    /// record that is not there is counted as `absent`. Ids must be unique within a batch.
    async fn apply_record_batch(&self, batch: &RecordBatch) -> Result<RecordBatchOutcome>;
    /// The change log after `after`, oldest first, at most `limit` entries
    /// (≤ [`RECORD_CHANGES_MAX_LIMIT`]), each with the record as it is stored now (`None` when
    /// it is deleted now).
    async fn record_changes(&self, after: i64, limit: u32) -> Result<Vec<RecordChange>>;
    /// The newest position of the change log (0 when it is empty).
    async fn record_position(&self) -> Result<i64>;
    /// This change log's identity, made when the database was: positions mean something only
    /// within one log.
    async fn record_log_id(&self) -> Result<String>;
    /// Waits until the change log may have grown past `after`, or `timeout` passes, whichever
    /// is first: a wake-up only (PostgreSQL LISTEN/NOTIFY, SQLite a local signal and polling),
    /// so callers always read by position.
    async fn wait_for_record_change(&self, after: i64, timeout: std::time::Duration) -> Result<()>;
    /// When each record system was last vouched for by a feed (a change or a heartbeat).
    async fn record_feed_state(&self) -> Result<Vec<FeedState>>;
    /// Stores a new record-feed key.
    async fn insert_feed_key(&self, k: &FeedKeyRow) -> Result<()>;
    /// The key with this hash, revoked or not.
    async fn feed_key_by_hash(&self, key_hash: &str) -> Result<Option<FeedKeyRow>>;
    /// Every feed key, newest first.
    async fn feed_keys(&self) -> Result<Vec<FeedKeyRow>>;
    /// Revokes a key (once: a second revocation keeps the first time).
    async fn revoke_feed_key(&self, id: Uuid, at: OffsetDateTime) -> Result<()>;
    /// Records in arrival order, of one system or all, after the sequence number `after`;
    /// each with its sequence number, the cursor for the next call.
    async fn source_records(
        &self,
        system: Option<System>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, SourceRecord)>>;
    /// The stored records (of any system) with these record ids, in the order of `ids`; ids
    /// with no record are skipped, and an id given twice yields its record twice. At most
    /// [`SOURCE_RECORDS_BY_ID_MAX`] ids: more is [`StoreError::Conflict`] on `ids` (see
    /// [`check_source_record_ids`]) and reads nothing.
    async fn source_records_by_id(&self, ids: &[String]) -> Result<Vec<SourceRecord>>;
    /// The stored records filed under any of these identifiers (each record once, in no
    /// particular order), at most `limit` of them. The store files every record under the
    /// normal form of each identifier it carries ([`SourceRecord::keys`], computed by the
    /// database itself on every write); `keys` must be in that form. At most
    /// [`SOURCE_RECORDS_BY_KEYS_MAX`] keys (see [`check_source_record_keys`]).
    async fn source_records_by_keys(
        &self,
        keys: &[RecordKey],
        limit: u32,
    ) -> Result<Vec<SourceRecord>>;
    /// How many records each system holds (systems with none are left out).
    async fn count_source_records(&self) -> Result<Vec<(System, u64)>>;

    /// Stores a new legal determination, filed under each record of the file it was made on.
    async fn insert_determination(&self, d: &DeterminationRow) -> Result<()>;
    async fn determination(&self, id: Uuid) -> Result<DeterminationRow>;
    /// Writes a changed determination if the stored one is still at `expected_version`
    /// ([`StoreError::Stale`] otherwise); its records do not change.
    async fn update_determination(&self, d: &DeterminationRow, expected_version: i64)
    -> Result<()>;
    /// Every determination made on a file holding any of these records, oldest first (at most
    /// [`SOURCE_RECORDS_BY_ID_MAX`] ids).
    async fn determinations_for_records(&self, ids: &[String]) -> Result<Vec<DeterminationRow>>;
    /// Determinations, newest first, optionally of one state.
    async fn list_determinations(
        &self,
        state: Option<&str>,
        page: PageRequest,
    ) -> Result<Page<DeterminationRow>>;
    /// Stores class injunctions, replacing any with the same order id.
    async fn put_class_injunctions(&self, orders: &[ClassInjunction]) -> Result<()>;
    async fn class_injunctions(&self) -> Result<Vec<ClassInjunction>>;

    /// Appends entries to the call distributor's event log, all of them in one transaction or
    /// none. An entry whose `seq` the log already holds (or that appears twice in `entries`)
    /// fails the whole call with [`StoreError::Conflict`] on `seq` and writes nothing. An empty
    /// slice is a no-op. Entries are never updated or deleted once appended.
    async fn append_acd_log(&self, entries: &[AcdLogEntry]) -> Result<()>;
    /// Log entries with `seq > after_seq`, in `seq` order, at most `limit` of them (clamped to
    /// 1..=[`ACD_LOG_MAX_LIMIT`]). Pass the last `seq` returned to read the next page; an empty
    /// result means the reader has caught up.
    async fn acd_log_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AcdLogEntry>>;
    /// The highest `seq` in the log, 0 when the log is empty.
    async fn last_acd_seq(&self) -> Result<i64>;
    /// Stores a snapshot of the call distributor (replacing one with the same `seq`), then
    /// keeps only the [`ACD_SNAPSHOTS_KEPT`] newest by `seq`, in one transaction. A snapshot
    /// older than all of those is therefore not kept. The log is never pruned.
    async fn put_acd_snapshot(&self, snapshot: &AcdSnapshot) -> Result<()>;
    /// The snapshot with the highest `seq`, if any.
    async fn latest_acd_snapshot(&self) -> Result<Option<AcdSnapshot>>;
    /// The `seq` of every snapshot kept, newest first (for diagnostics and the story tests).
    async fn acd_snapshot_seqs(&self) -> Result<Vec<i64>>;

    /// Appends audit entries and their subject keys in one transaction, all or none; a `seq`
    /// already held (or repeated) is [`StoreError::Conflict`] on `seq`. Never updated or
    /// deleted afterwards.
    async fn append_audit(&self, entries: &[NewAuditRow]) -> Result<()>;
    /// The entries of actions begun and not ended (appended with `opens`, not closed since),
    /// in `seq` order, at most `limit` (clamped to 1..=[`AUDIT_MAX_LIMIT`]).
    async fn open_audit_actions(&self, limit: u32) -> Result<Vec<AuditRow>>;
    /// Marks the actions begun by these entries ended; a `seq` not open is ignored.
    async fn close_audit_actions(&self, seqs: &[i64]) -> Result<()>;
    /// Entries with `seq > after_seq` in `seq` order, at most `limit` (clamped to
    /// 1..=[`AUDIT_MAX_LIMIT`]).
    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRow>>;
    /// `(seq, leaf_hash)` with `seq > after_seq`, in order, at most `limit` (clamped to
    /// 1..=[`AUDIT_HASHES_MAX_LIMIT`]): what the log writer loads at start.
    async fn audit_leaf_hashes(&self, after_seq: i64, limit: u32) -> Result<Vec<(i64, Vec<u8>)>>;
    /// Entries matching `filter` with `seq > after_seq`, in `seq` order, at most `limit`.
    async fn search_audit(
        &self,
        filter: &AuditFilter,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditRow>>;
    /// Stores a signed checkpoint; one already stored for that size is a
    /// [`StoreError::Conflict`].
    async fn put_audit_checkpoint(&self, c: &CheckpointRow) -> Result<()>;
    /// Every checkpoint, by size ascending.
    async fn audit_checkpoints(&self) -> Result<Vec<CheckpointRow>>;
}

/// The most open calls one read returns.
pub const OPEN_CALLS_MAX_LIMIT: u32 = 10_000;

/// The most audit entries one read returns.
pub const AUDIT_MAX_LIMIT: u32 = 10_000;
/// The most leaf hashes one read returns.
pub const AUDIT_HASHES_MAX_LIMIT: u32 = 100_000;

/// The row count backends fetch for an audit read.
pub fn audit_limit(limit: u32, max: u32) -> i64 {
    i64::from(limit.clamp(1, max))
}

impl StoreError {
    /// Names the conflict from a backend's unique-violation text (SQLite's message, such as
    /// `UNIQUE constraint failed: agencies.ori`, or PostgreSQL's constraint name, such as
    /// `agencies_ori_key`). Both backends use the same table and column names.
    pub fn unique_violation(text: &str) -> Self {
        let (field, message) = if text.contains("audit_log") || text.contains("audit_subjects") {
            (
                "seq",
                "the audit log already holds an entry with this sequence number",
            )
        } else if text.contains("audit_checkpoints") {
            ("size", "a checkpoint of this size is already stored")
        } else if text.contains("key_hash") {
            ("key_hash", "this key is already stored")
        } else if text.contains("reference") {
            (
                "reference",
                "an inquiry with this reference is already stored",
            )
        } else if text.contains("role_requests") {
            (
                "user_id",
                "this account already has a role request waiting for approval",
            )
        } else if text.contains("credentials") {
            ("user_id", "this user already has credentials")
        } else if text.contains("acd_log") {
            (
                "seq",
                "the ACD log already holds an entry with this sequence number",
            )
        } else if text.contains("officer_phones") {
            (
                "phones",
                "a number listed already identifies another officer",
            )
        } else if text.contains("badge") {
            (
                "badge",
                "another officer of this agency has this badge number",
            )
        } else if text.contains("agencies.ori") || text.contains("agencies_ori") {
            ("ori", "an agency with this ORI is already registered")
        } else if text.contains("username") {
            ("username", "this username is taken")
        } else {
            ("id", "a record with this id already exists")
        };
        Self::Conflict {
            field,
            message: message.to_owned(),
        }
    }
}
