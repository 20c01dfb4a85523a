//! Live records: record feeds send batches of changes (`POST /records`, authenticated by a
//! feed key scoped to the systems it may write), administrators issue and revoke feed keys,
//! see every feed's freshness and the index's state, and ask for retraining.
//!
//! A batch is read whole before anything is written: every bad record is named (its index and
//! field), and a batch with any problem writes nothing. An accepted batch is one transaction of
//! the store's change log, audited first; every server's index applies it within a second.

use std::collections::BTreeSet;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use switchboard_audit::{Actor, Entry, Outcome};
use switchboard_domain::records::{RECORD_ID_MAX, System, read_record};
use switchboard_store::{FeedKeyRow, RecordBatch, RecordBatchOutcome};
use uuid::Uuid;

use crate::auth::{ClientAddr, Principal, random, token_key};
use crate::error::{ApiError, ApiResult, ErrorBody, Problem};
use crate::extract::{ApiJson, parse_json};
use crate::lookup_index::LiveStatus;
use crate::{AppState, FeedFreshness};

/// The most changes (upserts and deletions) one batch may carry.
pub const BATCH_MAX: usize = 1_000;
/// The largest batch body, in bytes.
pub const BATCH_BODY_MAX: usize = 4 * 1024 * 1024;

/// A batch of changes from a record feed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// Records to insert or replace (by record id), each in the stored JSON shape: its
    /// `system` and that system's fields.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub upserts: Vec<serde_json::Value>,
    /// Records to delete.
    #[serde(default)]
    pub deletes: Vec<Deletion>,
    /// Systems the feed vouches are current now even with nothing to send (a heartbeat).
    #[serde(default)]
    pub current: Vec<String>,
}

/// A record to delete: its system (which the key must be allowed to write) and id.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Deletion {
    pub system: String,
    pub record_id: String,
}

/// What a batch did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Applied {
    /// The change log's position after the batch: a lookup whose `index_position` is at least
    /// this sees every change of the batch.
    pub position: i64,
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Deletions of records that were not there.
    pub absent: u64,
}

impl From<RecordBatchOutcome> for Applied {
    fn from(o: RecordBatchOutcome) -> Self {
        Self {
            position: o.position,
            inserted: o.inserted,
            updated: o.updated,
            deleted: o.deleted,
            absent: o.absent,
        }
    }
}

fn unauthorised(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, "unauthorized", message)
}

fn feed_actor(key: Option<&FeedKeyRow>, address: Option<String>) -> Actor {
    Actor {
        user: None,
        username: key.map_or_else(|| "feed:unknown".to_owned(), |k| format!("feed:{}", k.name)),
        role: Some("record_feed".to_owned()),
        session: key.map(|k| k.prefix.clone()),
        address,
    }
}

/// Reads a batch against the key's scope: the records, or every problem found.
fn read_batch(
    batch: Batch,
    key: &FeedKeyRow,
    today: time::Date,
) -> Result<RecordBatch, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut out = RecordBatch::new(time::OffsetDateTime::UNIX_EPOCH);
    let changes = batch.upserts.len() + batch.deletes.len();
    if changes > BATCH_MAX {
        problems.push(Problem {
            field: "upserts".into(),
            code: "too_many".into(),
            message: format!("a batch carries at most {BATCH_MAX} changes, not {changes}"),
        });
        return Err(problems);
    }
    let allowed = |field: String, system: System, problems: &mut Vec<Problem>| {
        if !key.systems.contains(&system) {
            problems.push(Problem {
                field,
                code: "system_not_allowed".into(),
                message: format!("this feed key may not write {} records", system.as_str()),
            });
        }
    };
    let mut seen = BTreeSet::new();
    for (i, v) in batch.upserts.iter().enumerate() {
        match read_record(v, today) {
            Ok(r) => {
                allowed(format!("upserts[{i}].system"), r.system(), &mut problems);
                if !seen.insert(r.record_id().to_owned()) {
                    problems.push(Problem {
                        field: format!("upserts[{i}].record_id"),
                        code: "duplicate".into(),
                        message: format!("record {} comes twice in this batch", r.record_id()),
                    });
                }
                out.upserts.push(r);
            }
            Err(ps) => problems.extend(ps.into_iter().map(|p| Problem {
                field: format!("upserts[{i}].{}", p.field),
                code: p.code.into(),
                message: p.message,
            })),
        }
    }
    for (i, d) in batch.deletes.iter().enumerate() {
        let Some(system) = System::parse(&d.system) else {
            problems.push(Problem {
                field: format!("deletes[{i}].system"),
                code: "unknown_system".into(),
                message: format!("{:?} is not a record system", d.system),
            });
            continue;
        };
        allowed(format!("deletes[{i}].system"), system, &mut problems);
        let id = d.record_id.as_str();
        if id.is_empty()
            || id.chars().count() > RECORD_ID_MAX
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            problems.push(Problem {
                field: format!("deletes[{i}].record_id"),
                code: "record_id".into(),
                message: format!(
                    "a record id is 1 to {RECORD_ID_MAX} letters, digits, '-', '_', '.' or ':'"
                ),
            });
        } else if !seen.insert(id.to_owned()) {
            problems.push(Problem {
                field: format!("deletes[{i}].record_id"),
                code: "duplicate".into(),
                message: format!("record {id} comes twice in this batch"),
            });
        }
        out.deletes.push((system, d.record_id.clone()));
    }
    for (i, s) in batch.current.iter().enumerate() {
        match System::parse(s) {
            Some(system) => {
                allowed(format!("current[{i}]"), system, &mut problems);
                if !out.current.contains(&system) {
                    out.current.push(system);
                }
            }
            None => problems.push(Problem {
                field: format!("current[{i}]"),
                code: "unknown_system".into(),
                message: format!("{s:?} is not a record system"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Send a batch of changes to the record systems (a record feed, with its key).
///
/// Upserts replace a record with the same id; deletions remove one; `current` vouches for a
/// system with nothing new. The whole batch is read first: any bad record, a system the key
/// may not write, or a record id already held by another system refuses the whole batch, and
/// every problem is named in `errors`. At most 1,000 changes and 4 MiB a batch.
#[utoipa::path(post, path = "/records", tag = "records", request_body = Batch,
    responses((status = 200, body = Applied), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn ingest(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Applied>> {
    let refuse = async |e: ApiError, key: Option<&FeedKeyRow>| -> ApiResult<Json<Applied>> {
        let entry = Entry::new(
            "records.ingest",
            feed_actor(key, address.clone()),
            app.now_ms(),
        )
        .refused(e.body.message.clone());
        app.record(entry).await?;
        Err(e)
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| t.starts_with("sbf_")) else {
        return refuse(
            unauthorised(
                "feed_key_missing",
                "send the feed's key as Authorization: Bearer sbf_…",
            ),
            None,
        )
        .await;
    };
    let Some(key) = app.store.feed_key_by_hash(&token_key(token)).await? else {
        return refuse(
            unauthorised("feed_key_invalid", "this feed key is not known"),
            None,
        )
        .await;
    };
    if key.revoked_at.is_some() {
        return refuse(
            unauthorised("feed_key_revoked", "this feed key has been revoked"),
            Some(&key),
        )
        .await;
    }
    let bytes = match axum::body::to_bytes(body, BATCH_BODY_MAX).await {
        Ok(b) => b,
        Err(_) => {
            return refuse(
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "invalid_request",
                    format!("a batch body is at most {BATCH_BODY_MAX} bytes"),
                ),
                Some(&key),
            )
            .await;
        }
    };
    let batch: Batch = match parse_json(&bytes) {
        Ok(b) => b,
        Err(e) => return refuse(e, Some(&key)).await,
    };
    let mut records = match read_batch(batch, &key, app.today()) {
        Ok(r) => r,
        Err(problems) => {
            let mut e = ApiError::invalid(
                "invalid_batch",
                format!(
                    "{} problem(s) in the batch; nothing was applied",
                    problems.len()
                ),
            );
            e.body.field = problems.first().map(|p| p.field.clone());
            e.body.errors = Some(problems.into_boxed_slice());
            return refuse(e, Some(&key)).await;
        }
    };
    records.origin = format!("feed:{}", key.id);
    records.at = app.now();
    let mut entry = Entry::new(
        "records.ingest",
        feed_actor(Some(&key), address.clone()),
        app.now_ms(),
    );
    entry.systems = records
        .systems()
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    entry.records = records
        .upserts
        .iter()
        .map(|r| r.record_id().to_owned())
        .chain(records.deletes.iter().map(|(_, id)| id.clone()))
        .collect();
    entry.note = Some(format!(
        "{} upsert(s), {} deletion(s), vouched: {}",
        records.upserts.len(),
        records.deletes.len(),
        entry.systems.join(", ")
    ));
    // Audit first: the batch is applied only once its entry is durable.
    app.record(entry.clone()).await?;
    match app.store.apply_record_batch(&records).await {
        Ok(outcome) => {
            metrics::counter!("switchboard_records_ingested_total")
                .increment(records.upserts.len() as u64 + records.deletes.len() as u64);
            Ok(Json(outcome.into()))
        }
        Err(e) => {
            let mut failed = entry;
            failed.outcome = Outcome::Failed;
            failed.note = Some(format!("nothing was applied: {e}"));
            app.record(failed).await?;
            Err(e.into())
        }
    }
}

// --- Feed keys (administrators) -----------------------------------------------------------------

/// A feed key to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFeedKey {
    /// What the feed is (1 to 60 characters): the source system's name.
    #[schema(min_length = 1)]
    pub name: String,
    /// The record systems it may write (at least one).
    #[schema(value_type = Vec<switchboard_domain::records::System>, min_items = 1)]
    pub systems: Vec<String>,
}

/// A feed key as administrators see it (never the key itself after it is issued).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedKeyView {
    pub id: Uuid,
    pub name: String,
    pub systems: Vec<String>,
    /// The key's first characters.
    pub prefix: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<time::OffsetDateTime>,
}

impl From<&FeedKeyRow> for FeedKeyView {
    fn from(k: &FeedKeyRow) -> Self {
        Self {
            id: k.id,
            name: k.name.clone(),
            systems: k.systems.iter().map(|s| s.as_str().to_owned()).collect(),
            prefix: k.prefix.clone(),
            created_by: k.created_by.clone(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A feed key just issued: the secret is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedFeedKey {
    #[serde(flatten)]
    pub key: FeedKeyView,
    /// Send as `Authorization: Bearer <secret>`. Not stored: keep it safe.
    pub secret: String,
}

/// Issue a key for a record feed, scoped to the systems it may write.
#[utoipa::path(post, path = "/record-feeds", tag = "records", request_body = NewFeedKey,
    responses((status = 201, body = IssuedFeedKey), (status = 400, body = ErrorBody)))]
pub async fn create_feed_key(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<NewFeedKey>,
) -> ApiResult<(StatusCode, Json<IssuedFeedKey>)> {
    let name = body.name.trim();
    if name.is_empty()
        || name.chars().count() > 60
        || name
            .chars()
            .any(switchboard_domain::records::is_control_or_bidi)
    {
        return Err(ApiError::invalid_field(
            "name",
            "say what the feed is (1 to 60 characters)",
        ));
    }
    let mut systems = Vec::new();
    for (i, s) in body.systems.iter().enumerate() {
        let Some(system) = System::parse(s) else {
            return Err(ApiError::invalid_field(
                format!("systems[{i}]"),
                format!("{s:?} is not a record system"),
            ));
        };
        if !systems.contains(&system) {
            systems.push(system);
        }
    }
    if systems.is_empty() {
        return Err(ApiError::invalid_field(
            "systems",
            "name at least one record system the feed may write",
        ));
    }
    let secret = format!("sbf_{}", crate::auth::hex(&random::<24>()));
    let key = FeedKeyRow {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        systems,
        key_hash: token_key(&secret),
        prefix: secret[..12].to_owned(),
        created_by: who.username().to_owned(),
        created_at: app.now(),
        revoked_at: None,
    };
    let view = FeedKeyView::from(&key);
    let entry = Entry::new("feed_key.create", who.actor(), app.now_ms())
        .with_target(format!("feed_key:{}", key.id))
        .with_note(format!(
            "{} ({}) for {}",
            key.name,
            key.prefix,
            view.systems.join(", ")
        ));
    app.record(entry).await?;
    app.store.insert_feed_key(&key).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedFeedKey { key: view, secret }),
    ))
}

/// Every feed key, newest first (prefixes only).
#[utoipa::path(get, path = "/record-feeds", tag = "records",
    responses((status = 200, body = Vec<FeedKeyView>)))]
pub async fn list_feed_keys(State(app): State<AppState>) -> ApiResult<Json<Vec<FeedKeyView>>> {
    let keys = app.store.feed_keys().await?;
    Ok(Json(keys.iter().map(FeedKeyView::from).collect()))
}

/// Revoke a feed key: it never works again.
#[utoipa::path(delete, path = "/record-feeds/{id}", tag = "records", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke_feed_key(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: Uuid = super::path_id(&id)?;
    let entry = Entry::new("feed_key.revoke", who.actor(), app.now_ms())
        .with_target(format!("feed_key:{id}"));
    app.record(entry.clone()).await?;
    if let Err(e) = app.store.revoke_feed_key(id, app.now()).await {
        let mut failed = entry;
        failed.outcome = Outcome::Failed;
        failed.note = Some(e.to_string());
        app.record(failed).await?;
        return Err(e.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The live records' state: every feed's freshness and the index's.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecordsStatus {
    pub feeds: Vec<FeedFreshness>,
    /// The change log's newest position.
    pub position: i64,
    /// The index's position (behind `position` by the changes not applied yet).
    pub index_position: Option<i64>,
    pub index_records: Option<usize>,
    pub index: LiveStatus,
}

/// Every feed's freshness, and how the record index is kept.
#[utoipa::path(get, path = "/records/status", tag = "records",
    responses((status = 200, body = RecordsStatus)))]
pub async fn status(State(app): State<AppState>) -> ApiResult<Json<RecordsStatus>> {
    Ok(Json(RecordsStatus {
        feeds: app.feeds().await?,
        position: app.store.record_position().await?,
        index_position: app.index.position(),
        index_records: app.index.records(),
        index: app.index.live_status(),
    }))
}

/// Rebuild and retrain the record index now, in the background (lookups go on; the new index
/// is swapped in whole, and the change of threshold is audited).
#[utoipa::path(post, path = "/records/retrain", tag = "records",
    responses((status = 202), (status = 503, body = ErrorBody)))]
pub async fn retrain(State(app): State<AppState>) -> ApiResult<StatusCode> {
    if app.index.position().is_none() {
        return Err(app.index.not_ready());
    }
    app.index.request_retrain();
    Ok(StatusCode::ACCEPTED)
}
