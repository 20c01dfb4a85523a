//! Dispositions and the juvenile-liaison cases they open.
//!
//! The facts the rules judge are assembled here, on the server, from the store and the record
//! index — never taken from the client: the chosen records must be candidates of the subject's
//! lookup (their band and corroboration come from it), their contents come from the store, the
//! caller's authorisation from the registry, the injunctions from the court-order registry. A
//! disposition is evaluated again on live data at every approval, so a final "confirm" has
//! always passed the gate on current records.
//!
//! Until accounts exist (issue 8) the acting user is named in the request (`by`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_domain::{CallId, Subject, assess_caller, stored_precision};
use switchboard_matching::index::{LookupOptions, Query};
use switchboard_rules::disclosure::caller_response;
use switchboard_rules::disposition::{Disposition, GateError, Kind, allowed};
use switchboard_rules::juvenile::{Case, Progress};
use switchboard_rules::{Caller, Chosen, Claims, Facts, Hit, Location, Outcome, evaluate, has};
use switchboard_store::{DispositionRow, LiaisonCaseRow};
use uuid::Uuid;

use super::{Paged, page_request, path_id};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};

const MAX_CHOSEN: usize = 20;

/// What the call-taker states about an inquiry; everything else the server looks up.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inquiry {
    /// The call the inquiry is made on: its caller is assessed against the registry.
    pub call: Uuid,
    /// The subject as the officer describes it.
    pub subject: Subject,
    /// Record ids the call-taker chose as the subject's, from the lookup's candidates.
    pub chosen: Vec<String>,
    #[serde(default)]
    pub claims: ClaimsBody,
    #[schema(value_type = String, example = "field")]
    pub location: Location,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimsBody {
    #[serde(default)]
    pub us_citizen: bool,
    #[serde(default)]
    pub us_citizen_parent: bool,
    #[serde(default)]
    pub minor: bool,
    #[serde(default)]
    pub uac: bool,
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> Self {
        match e {
            GateError::NotAllowed { .. } => ApiError::conflict("blocked_by_rules", e.to_string()),
            GateError::SamePerson => ApiError::conflict("two_person_rule", e.to_string()),
            GateError::WrongState(_) => ApiError::conflict("wrong_state", e.to_string()),
            GateError::NoReason => ApiError::invalid_field("reason", e.to_string()),
            GateError::NotOverridable(_) | GateError::UnknownRule(_) => {
                ApiError::conflict("not_overridable", e.to_string())
            }
        }
    }
}

fn check_user(by: &str) -> ApiResult<()> {
    let n = by.trim().chars().count();
    if n == 0 || n > 64 || by.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "by",
            "name the acting user (1 to 64 characters)",
        ));
    }
    Ok(())
}

/// Builds the facts from the store and the index.
async fn facts(app: &AppState, q: &Inquiry) -> ApiResult<Facts> {
    q.subject.validate()?;
    if q.chosen.len() > MAX_CHOSEN {
        return Err(ApiError::invalid_field(
            "chosen",
            format!("at most {MAX_CHOSEN} records"),
        ));
    }
    let today = app.today();
    // The caller.
    let call = app.store.call(CallId::from_uuid(q.call)).await?;
    let assessment = match call.officer_id {
        Some(id) => {
            let officer = app.store.officer(id).await?;
            let agency = app.store.agency(officer.agency_id).await?;
            let agreements = app.store.agreements_of(agency.id).await?;
            let a = assess_caller(Some((&officer, &agency, &agreements)), today);
            (a, Some(agency.kind))
        }
        None => (assess_caller(None, today), None),
    };
    let caller = Caller {
        authorised: assessment.0.authorised,
        problems: assessment
            .0
            .problems
            .iter()
            .map(|p| p.code().to_owned())
            .collect(),
        agency_kind: assessment.1,
        models: assessment.0.active_models.clone(),
    };
    // The chosen records, as candidates of this subject's lookup.
    let mut chosen = Vec::new();
    if !q.chosen.is_empty() {
        let index = app.index.get().ok_or_else(|| {
            ApiError::unavailable("index_not_ready", "the record index is not loaded yet")
        })?;
        let query = Query::from_subject(&q.subject);
        let opts = LookupOptions {
            limit: 100,
            ..LookupOptions::default()
        };
        let res = tokio::task::spawn_blocking(move || index.lookup(&query, today, &opts))
            .await
            .map_err(|e| ApiError::internal(format!("lookup task failed: {e}")))?;
        let records = app.store.source_records_by_id(&q.chosen).await?;
        for (i, id) in q.chosen.iter().enumerate() {
            let candidate = res
                .candidates
                .iter()
                .find(|c| &c.record.record_id == id)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        format!("chosen[{i}]"),
                        format!("record {id} is not a candidate for this subject"),
                    )
                })?;
            let record = records
                .iter()
                .find(|r| r.record_id() == id)
                .cloned()
                .ok_or_else(|| ApiError::not_found(&format!("record {id}")))?;
            chosen.push(Chosen {
                record,
                band: candidate.band.into(),
                corroborated: candidate.corroborated,
            });
        }
    }
    Ok(Facts {
        today,
        max_age_days: app.max_record_age_days,
        chosen,
        claims: Claims {
            us_citizen: q.claims.us_citizen,
            us_citizen_parent: q.claims.us_citizen_parent,
            minor: q.claims.minor,
            uac: q.claims.uac,
            dob: q.subject.date_of_birth,
        },
        caller,
        in_custody: q.subject.in_custody.unwrap_or(false),
        location: q.location,
        injunctions: app.store.class_injunctions().await?,
    })
}

/// The rules' verdict on an inquiry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Verdict {
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<Hit>,
    /// The dispositions the hits allow.
    #[schema(value_type = Vec<String>)]
    pub allowed: Vec<Kind>,
}

/// Evaluate the rules on an inquiry: every hit with its reason, and the dispositions allowed.
#[utoipa::path(post, path = "/dispositions/evaluate", tag = "dispositions", request_body = Inquiry,
    responses((status = 200, body = Verdict), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn evaluate_inquiry(
    State(app): State<AppState>,
    ApiJson(q): ApiJson<Inquiry>,
) -> ApiResult<Json<Verdict>> {
    let f = facts(&app, &q).await?;
    let hits = evaluate(&f);
    Ok(Json(Verdict {
        allowed: allowed(&hits),
        hits,
    }))
}

/// The stored document: the disposition and the inquiry it judged (to judge it again live).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Document {
    disposition: Disposition,
    inquiry: Inquiry,
}

/// A disposition as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DispositionView {
    pub id: Uuid,
    pub call: Option<Uuid>,
    #[schema(value_type = String)]
    pub kind: Kind,
    pub state: String,
    pub author: String,
    /// What the caller was told (never record fields).
    pub disclosed: String,
    #[schema(value_type = Vec<Object>)]
    pub hits: Vec<Hit>,
    #[schema(value_type = Vec<Object>)]
    pub overrides: Vec<switchboard_rules::disposition::Override>,
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<switchboard_rules::disposition::Step>,
    pub version: i64,
    /// The liaison case this disposition opened.
    pub liaison_case: Option<Uuid>,
}

fn view(row: &DispositionRow, doc: &Document, liaison_case: Option<Uuid>) -> DispositionView {
    let d = &doc.disposition;
    DispositionView {
        id: row.id,
        call: row.call_id.map(|c| c.as_uuid()),
        kind: d.kind(),
        state: row.state.clone(),
        author: d.author().to_owned(),
        disclosed: row.disclosed.clone(),
        hits: d.hits().to_vec(),
        overrides: d.overrides().to_vec(),
        history: d.history().to_vec(),
        version: row.version,
        liaison_case,
    }
}

fn state_name(d: &Disposition) -> String {
    serde_json::to_value(d.state())
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn kind_name(k: Kind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A disposition to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDisposition {
    pub inquiry: Inquiry,
    #[schema(value_type = String, example = "unable_to_confirm")]
    pub kind: Kind,
    /// The call-taker recording it.
    pub by: String,
    /// Submit a confirmation blocked only by overridable rules, for a second person to
    /// override and approve.
    #[serde(default)]
    pub for_override: bool,
}

/// Record a disposition: the rules are evaluated on live data and the disposition must be one
/// they allow. A referral to the juvenile-liaison desk opens a liaison case.
#[utoipa::path(post, path = "/dispositions", tag = "dispositions", request_body = NewDisposition,
    responses((status = 201, body = DispositionView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<NewDisposition>,
) -> ApiResult<(StatusCode, Json<DispositionView>)> {
    check_user(&body.by)?;
    let f = facts(&app, &body.inquiry).await?;
    let hits = evaluate(&f);
    let now = app.now();
    let d = if body.for_override {
        Disposition::submit_for_override(body.kind, hits.clone(), body.by.trim(), now)?
    } else {
        Disposition::submit(body.kind, hits.clone(), body.by.trim(), now)?
    };
    let disclosed = caller_response(d.kind()).text;
    let doc = Document {
        disposition: d,
        inquiry: body.inquiry,
    };
    let row = DispositionRow {
        id: Uuid::now_v7(),
        call_id: Some(CallId::from_uuid(doc.inquiry.call)),
        kind: kind_name(doc.disposition.kind()),
        state: state_name(&doc.disposition),
        author: body.by.trim().to_owned(),
        document: serde_json::to_value(&doc).map_err(ApiError::internal)?,
        disclosed,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    app.store.insert_disposition(&row).await?;
    let mut case_id = None;
    if doc.disposition.kind() == Kind::ReferJuvenileLiaison && has(&hits, Outcome::JuvenileWorkflow)
    {
        let custody = f.in_custody.then_some(now);
        let case = LiaisonCaseRow {
            id: Uuid::now_v7(),
            disposition_id: row.id,
            call_id: row.call_id,
            document: serde_json::to_value(Case::open(now, custody)).map_err(ApiError::internal)?,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        app.store.insert_liaison_case(&case).await?;
        case_id = Some(case.id);
    }
    Ok((StatusCode::CREATED, Json(view(&row, &doc, case_id))))
}

async fn load(app: &AppState, id: &str) -> ApiResult<(DispositionRow, Document)> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::invalid_field("id", format!("{id:?} is not a valid id (a UUID)")))?;
    let row = app.store.disposition(id).await?;
    let doc: Document = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("disposition {id}: {e}")))?;
    Ok((row, doc))
}

async fn save(
    app: &AppState,
    mut row: DispositionRow,
    doc: &Document,
) -> ApiResult<DispositionView> {
    let expected = row.version;
    row.version += 1;
    row.state = state_name(&doc.disposition);
    row.document = serde_json::to_value(doc).map_err(ApiError::internal)?;
    row.updated_at = stored_precision(app.now());
    app.store.update_disposition(&row, expected).await?;
    Ok(view(&row, doc, None))
}

/// Read a disposition with its history.
#[utoipa::path(get, path = "/dispositions/{id}", tag = "dispositions", params(("id" = Uuid, Path)),
    responses((status = 200, body = DispositionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<DispositionView>> {
    let (row, doc) = load(&app, &id).await?;
    Ok(Json(view(&row, &doc, None)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pending_second_review`, `pending_legal_review`, `final`, `overridden`, `refused`.
    state: Option<String>,
    limit: Option<u32>,
    after: Option<Uuid>,
}

/// List dispositions, newest first (a state filter gives the review queues).
#[utoipa::path(get, path = "/dispositions", tag = "dispositions", params(ListQuery),
    responses((status = 200, body = Paged<DispositionView>), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Paged<DispositionView>>> {
    if let Some(s) = &q.state
        && ![
            "pending_second_review",
            "pending_legal_review",
            "final",
            "overridden",
            "refused",
        ]
        .contains(&s.as_str())
    {
        return Err(ApiError::invalid_field(
            "state",
            format!("{s:?} is not a disposition state"),
        ));
    }
    let page = app
        .store
        .list_dispositions(q.state.as_deref(), page_request(q.limit, q.after)?)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for row in &page.items {
        let doc: Document = serde_json::from_value(row.document.clone())
            .map_err(|e| ApiError::internal(format!("disposition {}: {e}", row.id)))?;
        items.push(view(row, &doc, None));
    }
    Ok(Json(Paged {
        items,
        next: page.next,
    }))
}

/// A reviewer's action.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub by: String,
    /// Required to refuse or override.
    pub reason: Option<String>,
    /// The rule to override.
    pub rule: Option<String>,
}

/// A second person (or legal reviewer) approves; the rules are evaluated again on live data.
#[utoipa::path(post, path = "/dispositions/{id}/approve", tag = "dispositions", params(("id" = Uuid, Path)),
    request_body = Review,
    responses((status = 200, body = DispositionView), (status = 409, body = ErrorBody)))]
pub async fn approve(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Review>,
) -> ApiResult<Json<DispositionView>> {
    check_user(&r.by)?;
    let (row, mut doc) = load(&app, &id).await?;
    let live = evaluate(&facts(&app, &doc.inquiry).await?);
    doc.disposition.approve(r.by.trim(), live, app.now())?;
    Ok(Json(save(&app, row, &doc).await?))
}

/// A reviewer refuses, with a reason.
#[utoipa::path(post, path = "/dispositions/{id}/refuse", tag = "dispositions", params(("id" = Uuid, Path)),
    request_body = Review,
    responses((status = 200, body = DispositionView), (status = 409, body = ErrorBody)))]
pub async fn refuse(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Review>,
) -> ApiResult<Json<DispositionView>> {
    check_user(&r.by)?;
    let reason = r
        .reason
        .filter(|x| !x.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field("reason", "say why"))?;
    let (row, mut doc) = load(&app, &id).await?;
    doc.disposition
        .refuse(r.by.trim(), reason.trim(), app.now())?;
    Ok(Json(save(&app, row, &doc).await?))
}

/// A second person overrides an overridable rule, with a written reason.
#[utoipa::path(post, path = "/dispositions/{id}/override", tag = "dispositions", params(("id" = Uuid, Path)),
    request_body = Review,
    responses((status = 200, body = DispositionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn override_rule(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Review>,
) -> ApiResult<Json<DispositionView>> {
    check_user(&r.by)?;
    let rule = r
        .rule
        .ok_or_else(|| ApiError::invalid_field("rule", "name the rule"))?;
    let (row, mut doc) = load(&app, &id).await?;
    doc.disposition.override_rule(
        &rule,
        r.by.trim(),
        r.reason.as_deref().unwrap_or(""),
        app.now(),
    )?;
    Ok(Json(save(&app, row, &doc).await?))
}

/// A liaison case as the API shows it: timers and checklist, no whereabouts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LiaisonView {
    pub id: Uuid,
    pub disposition: Uuid,
    pub call: Option<Uuid>,
    #[schema(value_type = Object)]
    pub case: Case,
    #[schema(value_type = Vec<Object>)]
    pub timers: Vec<switchboard_rules::juvenile::Timer>,
    pub version: i64,
}

fn liaison_view(app: &AppState, row: &LiaisonCaseRow) -> ApiResult<LiaisonView> {
    let case: Case = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("liaison case {}: {e}", row.id)))?;
    Ok(LiaisonView {
        id: row.id,
        disposition: row.disposition_id,
        call: row.call_id.map(|c| c.as_uuid()),
        timers: case.timers(app.now()),
        case,
        version: row.version,
    })
}

/// The juvenile-liaison desk's cases, newest first.
#[utoipa::path(get, path = "/liaison-cases", tag = "dispositions",
    responses((status = 200, body = Paged<LiaisonView>)))]
pub async fn list_cases(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Paged<LiaisonView>>> {
    if q.state.is_some() {
        return Err(ApiError::invalid_field(
            "state",
            "liaison cases have no state filter",
        ));
    }
    let page = app
        .store
        .list_liaison_cases(page_request(q.limit, q.after)?)
        .await?;
    let items = page
        .items
        .iter()
        .map(|r| liaison_view(&app, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(Paged {
        items,
        next: page.next,
    }))
}

/// One liaison case.
#[utoipa::path(get, path = "/liaison-cases/{id}", tag = "dispositions", params(("id" = Uuid, Path)),
    responses((status = 200, body = LiaisonView), (status = 404, body = ErrorBody)))]
pub async fn get_case(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<LiaisonView>> {
    let id: Uuid = path_id(&id)?;
    let row = app.store.liaison_case(id).await?;
    Ok(Json(liaison_view(&app, &row)?))
}

/// Welfare checklist and custody events to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseUpdate {
    pub version: i64,
    #[serde(default)]
    pub hhs_notified: bool,
    #[serde(default)]
    pub transferred: bool,
    #[serde(default)]
    pub released: bool,
    #[schema(value_type = Option<String>)]
    pub legal_representation: Option<Progress>,
    #[schema(value_type = Option<String>)]
    pub court_notice: Option<Progress>,
    #[schema(value_type = Option<String>)]
    pub sponsor_screening: Option<Progress>,
    #[schema(value_type = Option<String>)]
    pub trafficking_screening: Option<Progress>,
    #[schema(value_type = Option<String>)]
    pub child_welfare_referral: Option<Progress>,
}

/// Record welfare progress and custody events (now) on a liaison case.
#[utoipa::path(patch, path = "/liaison-cases/{id}", tag = "dispositions", params(("id" = Uuid, Path)),
    request_body = CaseUpdate,
    responses((status = 200, body = LiaisonView), (status = 409, body = ErrorBody)))]
pub async fn update_case(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(u): ApiJson<CaseUpdate>,
) -> ApiResult<Json<LiaisonView>> {
    let id: Uuid = path_id(&id)?;
    let mut row = app.store.liaison_case(id).await?;
    if row.version != u.version {
        return Err(ApiError::conflict(
            "version_conflict",
            format!(
                "the case is at version {}, not {}; fetch it again",
                row.version, u.version
            ),
        ));
    }
    let mut case: Case = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("liaison case {id}: {e}")))?;
    let now = app.now();
    if u.hhs_notified {
        case.hhs_notified_at.get_or_insert(now);
    }
    if u.transferred {
        case.transferred_at.get_or_insert(now);
    }
    if u.released {
        case.released_at.get_or_insert(now);
    }
    for (field, value) in [
        (&mut case.legal_representation, u.legal_representation),
        (&mut case.court_notice, u.court_notice),
        (&mut case.sponsor_screening, u.sponsor_screening),
        (&mut case.trafficking_screening, u.trafficking_screening),
        (&mut case.child_welfare_referral, u.child_welfare_referral),
    ] {
        if let Some(v) = value {
            *field = v;
        }
    }
    let expected = row.version;
    row.version += 1;
    row.document = serde_json::to_value(&case).map_err(ApiError::internal)?;
    row.updated_at = stored_precision(now);
    app.store.update_liaison_case(&row, expected).await?;
    Ok(Json(liaison_view(&app, &row)?))
}
