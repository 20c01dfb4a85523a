//! Legal determinations: a legal reviewer's finding on a question the rules put to legal (is
//! the subject in an injunction's class; does a pending asylum application or motion to reopen
//! bar removal; which foreign country is the birthplace when the records disagree), approved
//! by a second legal reviewer.
//!
//! A determination is made from a disposition (its inquiry names the subject): the server
//! gathers the subject's whole file again, live, and accepts only a question the rules raise on
//! it. The determination keeps the digest of every record of that file; the rules take its
//! finding as a fact only while it is approved, unexpired and the file unchanged (any record
//! new, changed or gone reopens it). Every step is audited with the file's records.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_audit::Entry;
use switchboard_rules::determination::{
    Determination, DeterminationError, Finding, Matter, RecordState, raised,
};
use switchboard_store::DeterminationRow;
use uuid::Uuid;

use super::dispositions::{Assessed, facts, inquiry_of, record_digest};
use super::{Paged, page_request, path_id};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};

/// The longest written reason.
const MAX_REASON: usize = 2_000;

impl From<DeterminationError> for ApiError {
    fn from(e: DeterminationError) -> Self {
        match e {
            DeterminationError::SamePerson => ApiError::conflict("two_person_rule", e.to_string()),
            DeterminationError::WrongState(_) => ApiError::conflict("wrong_state", e.to_string()),
            DeterminationError::NoReason => ApiError::invalid_field("reason", e.to_string()),
            DeterminationError::NoBasis => ApiError::invalid_field("basis", e.to_string()),
            DeterminationError::FindingDoesNotFit(..) => {
                ApiError::invalid_field("finding", e.to_string())
            }
            DeterminationError::EmptyFile => ApiError::conflict("empty_file", e.to_string()),
        }
    }
}

/// A determination to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDetermination {
    /// The disposition whose inquiry names the subject (typically one waiting for legal
    /// review).
    pub disposition: Uuid,
    /// `{"kind": "class_membership", "order_id": "CLS-0002"}`, `{"kind": "pending",
    /// "record_id": "…", "item": "motion_to_reopen"}` or `{"kind": "birthplace"}`.
    #[schema(value_type = Object)]
    pub matter: Matter,
    /// `{"finding": "not_in_class"}` (or `in_class`, `bars_removal`,
    /// `does_not_bar_removal`, `{"finding": "born_in", "country": "MX"}`).
    #[schema(value_type = Object)]
    pub finding: Finding,
    /// Why (20 to 2,000 characters).
    pub reason: String,
    /// The legal basis (3 to 500 characters).
    pub basis: String,
}

/// A determination as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeterminationView {
    pub id: Uuid,
    pub state: String,
    #[schema(value_type = Object)]
    pub determination: Determination,
    pub version: i64,
}

fn view(row: &DeterminationRow) -> ApiResult<DeterminationView> {
    Ok(DeterminationView {
        id: row.id,
        state: row.state.clone(),
        determination: document(row)?,
        version: row.version,
    })
}

fn document(row: &DeterminationRow) -> ApiResult<Determination> {
    serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("determination {}: {e}", row.id)))
}

fn state_name(d: &Determination) -> String {
    serde_json::to_value(d.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn check_text(field: &str, text: &str) -> ApiResult<()> {
    if text.chars().count() > MAX_REASON || text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid_field(
            field,
            format!("at most {MAX_REASON} characters, without control characters"),
        ));
    }
    Ok(())
}

/// Record a determination on the subject's whole file, gathered live; it waits for a second
/// legal reviewer.
#[utoipa::path(post, path = "/determinations", tag = "determinations", request_body = NewDetermination,
    responses((status = 201, body = DeterminationView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<NewDetermination>,
) -> ApiResult<(StatusCode, Json<DeterminationView>)> {
    let id = Uuid::now_v7();
    let mut entry = Entry::new("determination.record", who.actor(), app.now_ms())
        .with_target(format!("determination:{id}"));
    // Every refusal below is audited before it is answered.
    let refuse =
        async |entry: Entry, e: ApiError| -> ApiResult<(StatusCode, Json<DeterminationView>)> {
            app.record(entry.refused(e.body.message.clone())).await?;
            Err(e)
        };
    let ids_ok = match &body.matter {
        Matter::ClassMembership { order_id: id } | Matter::Pending { record_id: id, .. } => {
            id.len() <= 64
        }
        Matter::Birthplace => true,
    } && !matches!(&body.finding, Finding::BornIn { country } if country.len() > 2);
    let checked = check_text("reason", &body.reason)
        .and(check_text("basis", &body.basis))
        .and(if ids_ok {
            Ok(())
        } else {
            Err(ApiError::invalid_field(
                "matter",
                "a record or order id of at most 64 characters",
            ))
        });
    if let Err(e) = checked {
        // The refusal is audited without the oversized text.
        return refuse(entry, e).await;
    }
    // What was asked, in the audit entry (every part bounded by now).
    entry.note = Some(format!(
        "{}: {} — {} ({})",
        body.matter.describe(),
        body.finding.describe(),
        body.reason.trim(),
        body.basis.trim()
    ));
    let inquiry = match inquiry_of(&app, &who, &body.disposition.to_string()).await {
        Ok(q) => q,
        Err(e) => return refuse(entry, e).await,
    };
    entry.purpose = inquiry.purpose.audited().ok();
    entry.query = super::subject_keys(&inquiry.subject);
    let Assessed { facts: f, file, .. } = match facts(&app, &inquiry).await {
        Ok(a) => a,
        Err(e) => return refuse(entry, e).await,
    };
    entry.records = file.records.iter().map(|r| r.record_id.clone()).collect();
    if !raised(&f).contains(&body.matter) {
        let message = format!(
            "the rules do not put {} to legal on this subject's file",
            body.matter.describe()
        );
        return refuse(entry, ApiError::conflict("not_raised", message)).await;
    }
    let mut d = match Determination::record(
        id.to_string(),
        body.matter,
        body.finding,
        &body.reason,
        &body.basis,
        who.username(),
        app.now(),
        file_states(&f),
    ) {
        Ok(d) => d,
        Err(e) => return refuse(entry, e.into()).await,
    };
    d.disposition = Some(body.disposition.to_string());
    entry.result = Some("pending_approval".to_owned());
    app.record(entry).await?;
    let now = switchboard_domain::stored_precision(app.now());
    let row = DeterminationRow {
        id,
        state: state_name(&d),
        record_ids: d.records.iter().map(|r| r.record_id.clone()).collect(),
        document: serde_json::to_value(&d).map_err(ApiError::internal)?,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = app.store.insert_determination(&row).await {
        super::audit_failure(
            &app,
            &who,
            "determination.record",
            format!("determination:{id}"),
            e.to_string(),
        )
        .await;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, Json(view(&row)?)))
}

/// Each record of a file as a determination keeps it.
fn file_states(f: &switchboard_rules::Facts) -> Vec<RecordState> {
    f.records
        .iter()
        .map(|c| RecordState {
            record_id: c.record.record_id().to_owned(),
            digest: record_digest(&c.record),
        })
        .collect()
}

/// A second legal reviewer's action.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Second {
    /// Required to refuse (20 characters at least).
    #[serde(default)]
    pub reason: Option<String>,
}

async fn second(
    app: &AppState,
    who: &Principal,
    id: &str,
    action: &str,
    reason: Option<String>,
) -> ApiResult<Json<DeterminationView>> {
    let id: Uuid = path_id(id)?;
    let mut row = app.store.determination(id).await?;
    let mut d = document(&row)?;
    let mut entry =
        Entry::new(action, who.actor(), app.now_ms()).with_target(format!("determination:{id}"));
    entry.records = row.record_ids.clone();
    entry.approvers = vec![d.recorded_by.clone()];
    if who.username() != d.recorded_by {
        entry.approvers.push(who.username().to_owned());
    }
    entry.note = reason.clone();
    if let Some(r) = &reason
        && let Err(e) = check_text("reason", r)
    {
        app.record(entry.refused(e.body.message.clone())).await?;
        return Err(e);
    }
    let done = match action {
        "determination.approve" => {
            // The file is gathered again: the question must still be put to legal, and the
            // determination must stand on the file as it is now (nothing new, changed or gone).
            if let Err(e) = still_stands(app, who, &d).await {
                app.record(entry.refused(e.body.message.clone())).await?;
                return Err(e);
            }
            d.approve(
                who.username(),
                app.now(),
                time::Duration::days(app.determination_days),
            )
        }
        _ => d.refuse(who.username(), reason.as_deref().unwrap_or(""), app.now()),
    };
    if let Err(e) = done {
        app.record(entry.refused(e.to_string())).await?;
        return Err(e.into());
    }
    entry.result = Some(state_name(&d));
    app.record(entry).await?;
    let expected = row.version;
    row.version += 1;
    row.state = state_name(&d);
    row.document = serde_json::to_value(&d).map_err(ApiError::internal)?;
    row.updated_at = switchboard_domain::stored_precision(app.now());
    if let Err(e) = app.store.update_determination(&row, expected).await {
        super::audit_failure(
            app,
            who,
            action,
            format!("determination:{id}"),
            e.to_string(),
        )
        .await;
        return Err(e.into());
    }
    Ok(Json(view(&row)?))
}

/// Whether a determination about to be approved would stand on the subject's file as it is
/// now, and the rules still put its question to legal.
async fn still_stands(app: &AppState, who: &Principal, d: &Determination) -> ApiResult<()> {
    let Some(disposition) = &d.disposition else {
        return Err(ApiError::conflict(
            "file_unknown",
            "the determination names no disposition to gather the file from; record it again",
        ));
    };
    let inquiry = inquiry_of(app, who, disposition).await?;
    let Assessed { facts: f, .. } = facts(app, &inquiry).await?;
    if !raised(&f).contains(&d.matter) {
        return Err(ApiError::conflict(
            "not_raised",
            format!(
                "the rules no longer put {} to legal on this subject's file",
                d.matter.describe()
            ),
        ));
    }
    let now = file_states(&f);
    let mut changed: Vec<String> = now
        .iter()
        .filter(|r| !d.records.contains(r))
        .map(|r| r.record_id.clone())
        .collect();
    changed.extend(
        d.records
            .iter()
            .filter(|r| !now.iter().any(|x| x.record_id == r.record_id))
            .map(|r| r.record_id.clone()),
    );
    if changed.is_empty() {
        Ok(())
    } else {
        Err(ApiError::conflict(
            "file_changed",
            format!(
                "the subject's file changed since the determination was recorded ({}): record it again on the file as it is",
                changed.join(", ")
            ),
        ))
    }
}

/// A second legal reviewer approves: the determination stands (for the configured number of
/// days, while the file is unchanged).
#[utoipa::path(post, path = "/determinations/{id}/approve", tag = "determinations",
    params(("id" = Uuid, Path)), request_body = Second,
    responses((status = 200, body = DeterminationView), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(_): ApiJson<Second>,
) -> ApiResult<Json<DeterminationView>> {
    second(&app, &who, &id, "determination.approve", None).await
}

/// A second legal reviewer refuses, with a reason.
#[utoipa::path(post, path = "/determinations/{id}/refuse", tag = "determinations",
    params(("id" = Uuid, Path)), request_body = Second,
    responses((status = 200, body = DeterminationView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn refuse(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<Second>,
) -> ApiResult<Json<DeterminationView>> {
    // A missing or short reason is refused (and audited) by the determination itself.
    second(&app, &who, &id, "determination.refuse", b.reason).await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pending_approval`, `approved` or `refused`.
    #[param(pattern = "^(pending_approval|approved|refused)$")]
    state: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    after: Option<Uuid>,
}

/// Determinations, newest first.
#[utoipa::path(get, path = "/determinations", tag = "determinations", params(ListQuery),
    responses((status = 200, body = Paged<DeterminationView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Paged<DeterminationView>>> {
    if let Some(s) = &q.state
        && !["pending_approval", "approved", "refused"].contains(&s.as_str())
    {
        return Err(ApiError::invalid_field(
            "state",
            format!("{s:?} is not a determination state"),
        ));
    }
    let page = app
        .store
        .list_determinations(q.state.as_deref(), page_request(q.limit, q.after)?)
        .await?;
    Ok(Json(Paged {
        items: page.items.iter().map(view).collect::<ApiResult<_>>()?,
        next: page.next,
    }))
}

/// One determination.
#[utoipa::path(get, path = "/determinations/{id}", tag = "determinations", params(("id" = Uuid, Path)),
    responses((status = 200, body = DeterminationView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DeterminationView>> {
    let id: Uuid = path_id(&id)?;
    Ok(Json(view(&app.store.determination(id).await?)?))
}
