//! Dispositions and the juvenile-liaison cases they open.
//!
//! The facts the rules judge are assembled here, on the server, from the store and the record
//! index — never taken from the client: the chosen records must be candidates of the subject's
//! lookup (their band and corroboration come from it), their contents come from the store, the
//! caller's authorisation from the registry, the injunctions from the court-order registry. A
//! disposition is evaluated again on live data at every approval, so a final "confirm" has
//! always passed the gate on current records.
//!
//! The acting user is the session's. Call-takers and liaisons see only the dispositions they
//! recorded; the details of 8 U.S.C. 1367-protected matters are shown to legal reviewers
//! only (others see that a protected matter blocks the confirmation, not what it is). Every
//! evaluation, disposition and review is audited, with its rule hits, before it takes effect.

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
use switchboard_accounts::Permission;
use switchboard_audit::Entry;
use switchboard_domain::Role;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};

const MAX_CHOSEN: usize = 20;

/// What the call-taker states about an inquiry; everything else the server looks up.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inquiry {
    /// The call the inquiry is made on: its caller is assessed against the registry.
    pub call: Uuid,
    /// Why the records are queried (required).
    pub purpose: super::Purpose,
    /// The subject as the officer describes it.
    pub subject: Subject,
    /// Record ids the call-taker chose as the subject's, from the lookup's candidates.
    pub chosen: Vec<String>,
    #[serde(default)]
    pub claims: ClaimsBody,
    #[schema(value_type = String, example = "field")]
    pub location: Location,
    /// The reference of the inquiry the officer sent ahead, when this answers it: the
    /// disposition's caller response becomes the partner's answer.
    #[serde(default)]
    pub partner_reference: Option<String>,
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

/// What a user may see of the hits: the details of protected matters (8 U.S.C. 1367) only
/// with the permission for them.
fn redact(hits: &[Hit], who: &Principal) -> Vec<Hit> {
    let mut hits = hits.to_vec();
    if !who.can(Permission::ProtectedDetails) {
        for h in &mut hits {
            if h.rule == PROTECTED_RULE {
                h.reasons = vec![
                    "a protected matter is on file; its details are shown to legal reviewers only"
                        .to_owned(),
                ];
            }
        }
    }
    hits
}

/// The rule whose reasons name protected applications.
const PROTECTED_RULE: &str = "protected-application";

fn rule_hits(hits: &[Hit]) -> Vec<switchboard_audit::RuleHit> {
    hits.iter()
        .map(|h| switchboard_audit::RuleHit {
            rule: h.rule.clone(),
            version: h.version,
        })
        .collect()
}

/// The audit entry of an action on an inquiry: who, for whom, why, which records, which hits.
fn inquiry_entry(
    app: &AppState,
    who: &Principal,
    action: &str,
    q: &Inquiry,
    hits: &[Hit],
    caller: switchboard_audit::Caller,
) -> ApiResult<Entry> {
    let mut e = Entry::new(action, who.actor(), app.now_ms());
    e.purpose = Some(q.purpose.audited()?);
    e.query = super::subject_keys(&q.subject);
    e.caller = Some(caller);
    e.records = q.chosen.clone();
    e.rule_hits = rule_hits(hits);
    Ok(e)
}

/// Call-takers and liaisons see only their own dispositions: another's is "not found", so an
/// id cannot be probed.
fn may_read(who: &Principal, author: &str) -> bool {
    !matches!(who.role(), Role::CallTaker | Role::JuvenileLiaison) || who.username() == author
}

/// Builds the facts from the store and the index, and the caller as the audit log names them.
async fn facts(app: &AppState, q: &Inquiry) -> ApiResult<(Facts, switchboard_audit::Caller)> {
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
    let (assessment, ori) = match call.officer_id {
        Some(id) => {
            let officer = app.store.officer(id).await?;
            let agency = app.store.agency(officer.agency_id).await?;
            let agreements = app.store.agreements_of(agency.id).await?;
            let a = assess_caller(Some((&officer, &agency, &agreements)), today);
            ((a, Some(agency.kind)), Some(agency.ori))
        }
        None => ((assess_caller(None, today), None), None),
    };
    let audited = super::audit_caller(&call, ori.as_ref());
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
    let facts = Facts {
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
    };
    Ok((facts, audited))
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
    who: Principal,
    ApiJson(q): ApiJson<Inquiry>,
) -> ApiResult<Json<Verdict>> {
    q.purpose.audited()?;
    let (f, caller) = facts(&app, &q).await?;
    let hits = evaluate(&f);
    let mut entry = inquiry_entry(&app, &who, "disposition.evaluate", &q, &hits, caller)?;
    entry.result = Some(format!("{} rule hits", hits.len()));
    app.record(entry).await?;
    Ok(Json(Verdict {
        allowed: allowed(&hits),
        hits: redact(&hits, &who),
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

fn view(
    row: &DispositionRow,
    doc: &Document,
    liaison_case: Option<Uuid>,
    who: &Principal,
) -> DispositionView {
    let d = &doc.disposition;
    DispositionView {
        id: row.id,
        call: row.call_id.map(|c| c.as_uuid()),
        kind: d.kind(),
        state: row.state.clone(),
        author: d.author().to_owned(),
        disclosed: row.disclosed.clone(),
        hits: redact(d.hits(), who),
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
    who: Principal,
    ApiJson(body): ApiJson<NewDisposition>,
) -> ApiResult<(StatusCode, Json<DispositionView>)> {
    body.inquiry.purpose.audited()?;
    let (f, caller) = facts(&app, &body.inquiry).await?;
    if let Some(r) = &body.inquiry.partner_reference {
        sent_for_this_call(&app, r, body.inquiry.call).await?;
    }
    let hits = evaluate(&f);
    let now = app.now();
    let by = who.username();
    let d = if body.for_override {
        Disposition::submit_for_override(body.kind, hits.clone(), by, now)?
    } else {
        Disposition::submit(body.kind, hits.clone(), by, now)?
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
        author: by.to_owned(),
        document: serde_json::to_value(&doc).map_err(ApiError::internal)?,
        disclosed: disclosed.clone(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    // Audit first: a disposition that cannot be audited is not recorded.
    let mut entry = inquiry_entry(
        &app,
        &who,
        "disposition.create",
        &doc.inquiry,
        &hits,
        caller,
    )?;
    entry.target = Some(format!("disposition:{}", row.id));
    entry.result = Some(format!("{} ({})", row.kind, row.state));
    let to = entry
        .caller
        .as_ref()
        .map(|c| match (&c.ori, &c.officer) {
            (Some(ori), Some(officer)) => format!("officer {officer} of {ori}"),
            _ => format!(
                "unidentified caller {}",
                c.phone.as_deref().unwrap_or("(no number)")
            ),
        })
        .unwrap_or_default();
    entry.disclosed = Some(switchboard_audit::Disclosure {
        to,
        text: disclosed,
    });
    app.record(entry).await?;
    if let Err(e) = app.store.insert_disposition(&row).await {
        let mut failed = Entry::new("disposition.create", who.actor(), app.now_ms())
            .with_target(format!("disposition:{}", row.id));
        failed.outcome = switchboard_audit::Outcome::Failed;
        failed.note = Some(e.to_string());
        if let Err(e) = app.record(failed).await {
            tracing::error!(error = ?e, "could not audit a failed disposition");
        }
        return Err(e.into());
    }
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
    // A partner hears the answer only once it is final (a confirmation waiting for a second
    // person is not an answer yet). The disposition and any liaison case stand whatever
    // happens here.
    if let Some(r) = &doc.inquiry.partner_reference
        && is_final(&doc.disposition)
    {
        crate::api::partner::answer(&app, &who, r, row.id, &row.disclosed).await;
    }
    Ok((StatusCode::CREATED, Json(view(&row, &doc, case_id, &who))))
}

async fn load(app: &AppState, who: &Principal, id: &str) -> ApiResult<(DispositionRow, Document)> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::invalid_field("id", format!("{id:?} is not a valid id (a UUID)")))?;
    let row = app.store.disposition(id).await?;
    if !may_read(who, &row.author) {
        return Err(ApiError::not_found(&format!("disposition {id}")));
    }
    let doc: Document = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("disposition {id}: {e}")))?;
    Ok((row, doc))
}

async fn save(
    app: &AppState,
    who: &Principal,
    mut row: DispositionRow,
    doc: &Document,
) -> ApiResult<DispositionView> {
    let expected = row.version;
    row.version += 1;
    row.state = state_name(&doc.disposition);
    row.document = serde_json::to_value(doc).map_err(ApiError::internal)?;
    row.updated_at = stored_precision(app.now());
    app.store.update_disposition(&row, expected).await?;
    Ok(view(&row, doc, None, who))
}

/// Read a disposition with its history.
#[utoipa::path(get, path = "/dispositions/{id}", tag = "dispositions", params(("id" = Uuid, Path)),
    responses((status = 200, body = DispositionView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<DispositionView>> {
    let (row, doc) = load(&app, &who, &id).await?;
    Ok(Json(view(&row, &doc, None, &who)))
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
    who: Principal,
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
    // Call-takers and liaisons list only their own.
    let own = (!may_read(&who, "")).then(|| who.username().to_owned());
    let page = app
        .store
        .list_dispositions(
            q.state.as_deref(),
            own.as_deref(),
            page_request(q.limit, q.after)?,
        )
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for row in &page.items {
        let doc: Document = serde_json::from_value(row.document.clone())
            .map_err(|e| ApiError::internal(format!("disposition {}: {e}", row.id)))?;
        items.push(view(row, &doc, None, &who));
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
    who: Principal,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Review>,
) -> ApiResult<Json<DispositionView>> {
    let (row, mut doc) = load(&app, &who, &id).await?;
    let (f, caller) = facts(&app, &doc.inquiry).await?;
    let live = evaluate(&f);
    let mut entry = review_entry(&app, &who, "disposition.approve", &row, &doc, &live, caller)?;
    entry.note = r.reason.filter(|x| !x.trim().is_empty());
    if let Err(e) = doc.disposition.approve(who.username(), live, app.now()) {
        app.record(entry.refused(e.to_string())).await?;
        return Err(e.into());
    }
    app.record(entry).await?;
    let (id, disclosed) = (row.id, row.disclosed.clone());
    let saved = save(&app, &who, row, &doc).await?;
    if let Some(r) = &doc.inquiry.partner_reference
        && is_final(&doc.disposition)
    {
        crate::api::partner::answer(&app, &who, r, id, &disclosed).await;
    }
    Ok(Json(saved))
}

/// The audit entry of a second person's action on a disposition.
fn review_entry(
    app: &AppState,
    who: &Principal,
    action: &str,
    row: &DispositionRow,
    doc: &Document,
    hits: &[Hit],
    caller: switchboard_audit::Caller,
) -> ApiResult<Entry> {
    let mut e = inquiry_entry(app, who, action, &doc.inquiry, hits, caller)?;
    e.target = Some(format!("disposition:{}", row.id));
    e.approvers = vec![who.username().to_owned()];
    e.result = Some(row.kind.clone());
    Ok(e)
}

/// A reviewer refuses, with a reason.
#[utoipa::path(post, path = "/dispositions/{id}/refuse", tag = "dispositions", params(("id" = Uuid, Path)),
    request_body = Review,
    responses((status = 200, body = DispositionView), (status = 409, body = ErrorBody)))]
pub async fn refuse(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Review>,
) -> ApiResult<Json<DispositionView>> {
    let reason = r
        .reason
        .filter(|x| !x.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field("reason", "say why"))?;
    let (row, mut doc) = load(&app, &who, &id).await?;
    let hits = doc.disposition.hits().to_vec();
    let caller = super::caller_of(&app, doc.inquiry.call).await?;
    let entry = review_entry(&app, &who, "disposition.refuse", &row, &doc, &hits, caller)?
        .with_note(reason.trim());
    if let Err(e) = doc
        .disposition
        .refuse(who.username(), reason.trim(), app.now())
    {
        app.record(entry.refused(e.to_string())).await?;
        return Err(e.into());
    }
    app.record(entry).await?;
    Ok(Json(save(&app, &who, row, &doc).await?))
}

/// A second person overrides an overridable rule, with a written reason.
#[utoipa::path(post, path = "/dispositions/{id}/override", tag = "dispositions", params(("id" = Uuid, Path)),
    request_body = Review,
    responses((status = 200, body = DispositionView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn override_rule(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(r): ApiJson<Review>,
) -> ApiResult<Json<DispositionView>> {
    let rule = r
        .rule
        .ok_or_else(|| ApiError::invalid_field("rule", "name the rule"))?;
    let (row, mut doc) = load(&app, &who, &id).await?;
    let hits = doc.disposition.hits().to_vec();
    let reason = r.reason.as_deref().unwrap_or("");
    // An override is a privileged action (CJIS AC-6(9)): audited with its written reason.
    let caller = super::caller_of(&app, doc.inquiry.call).await?;
    let entry = review_entry(&app, &who, "rule.override", &row, &doc, &hits, caller)?
        .with_target(format!("disposition:{} rule:{rule}", row.id))
        .with_note(reason);
    if let Err(e) = doc
        .disposition
        .override_rule(&rule, who.username(), reason, app.now())
    {
        app.record(entry.refused(e.to_string())).await?;
        return Err(e.into());
    }
    app.record(entry).await?;
    Ok(Json(save(&app, &who, row, &doc).await?))
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

/// A disposition waiting for a reviewer, with what the reviewer needs to judge it.
pub(crate) struct ReviewItem {
    pub view: DispositionView,
    pub created_at: time::OffsetDateTime,
    /// The subject as the officer described it (names and birth date).
    pub subject: String,
    /// The subject's audit keys (names with birth date, identifiers).
    pub keys: Vec<String>,
    pub records: Vec<String>,
    pub purpose: String,
}

/// The dispositions in `state`, oldest first (the order they are worked), as `who` may see
/// them (protected details redacted for anyone but legal reviewers).
pub(crate) async fn review_queue(
    app: &AppState,
    who: &Principal,
    state: &str,
) -> ApiResult<Vec<ReviewItem>> {
    // Every waiting disposition (newest first from the store), worked oldest first.
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .list_dispositions(
                Some(state),
                None,
                switchboard_store::PageRequest {
                    limit: switchboard_store::PageRequest::MAX_LIMIT,
                    after,
                },
            )
            .await?;
        rows.extend(page.items);
        match page.next {
            Some(n) if rows.len() < MAX_QUEUE => after = Some(n),
            _ => break,
        }
    }
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        let doc: Document = serde_json::from_value(row.document.clone())
            .map_err(|e| ApiError::internal(format!("disposition {}: {e}", row.id)))?;
        let subject = subject_line(&doc.inquiry.subject);
        items.push(ReviewItem {
            view: view(row, &doc, None, who),
            created_at: row.created_at,
            subject,
            keys: super::subject_keys(&doc.inquiry.subject),
            records: doc.inquiry.chosen.clone(),
            purpose: doc.inquiry.purpose.reason.clone(),
        });
    }
    Ok(items)
}

/// The most items a review queue or the liaison desk reads at once.
const MAX_QUEUE: usize = 5_000;

/// A subject as one line: family names, given names, birth date, A-number.
pub(crate) fn subject_line(s: &Subject) -> String {
    let names =
        |n: &[switchboard_domain::Name]| n.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ");
    let mut parts = Vec::new();
    if !s.family_names.is_empty() || !s.given_names.is_empty() {
        parts.push(format!(
            "{}, {}",
            names(&s.family_names),
            names(&s.given_names)
        ));
    }
    if let Some(d) = s.date_of_birth {
        parts.push(format!("born {d}"));
    }
    if let Some(a) = &s.a_number {
        parts.push(format!("A-number {a}"));
    }
    parts.join(", ")
}

/// A liaison case as its desk works it: the case, its timers, and whom it is about.
pub(crate) struct CaseItem {
    pub view: LiaisonView,
    pub subject: String,
    /// The subject's audit keys and the records the disposition chose.
    pub keys: Vec<String>,
    pub records: Vec<String>,
    pub author: String,
}

/// The liaison desk's open and recent cases, newest first.
pub(crate) async fn case_list(app: &AppState) -> ApiResult<Vec<CaseItem>> {
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .store
            .list_liaison_cases(switchboard_store::PageRequest {
                limit: switchboard_store::PageRequest::MAX_LIMIT,
                after,
            })
            .await?;
        rows.extend(page.items);
        match page.next {
            Some(n) if rows.len() < MAX_QUEUE => after = Some(n),
            _ => break,
        }
    }
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let view = liaison_view(app, row)?;
        let d = app.store.disposition(row.disposition_id).await?;
        let doc: Document = serde_json::from_value(d.document)
            .map_err(|e| ApiError::internal(format!("disposition {}: {e}", d.id)))?;
        items.push(CaseItem {
            view,
            subject: subject_line(&doc.inquiry.subject),
            keys: super::subject_keys(&doc.inquiry.subject),
            records: doc.inquiry.chosen.clone(),
            author: d.author,
        });
    }
    // Open cases first, the soonest deadline first; closed cases after, newest first.
    let soonest = |c: &CaseItem| {
        let open = c.view.case.transferred_at.is_none() && c.view.case.released_at.is_none();
        let due = c
            .view
            .timers
            .iter()
            .filter(|t| {
                matches!(
                    t.state,
                    switchboard_rules::juvenile::TimerState::Running { .. }
                )
            })
            .map(|t| t.due)
            .min();
        (
            !open,
            due.is_none(),
            due,
            std::cmp::Reverse(c.view.case.opened_at),
        )
    };
    items.sort_by_key(soonest);
    Ok(items)
}

/// Final: the answer stands (with or without an overridden rule).
fn is_final(d: &Disposition) -> bool {
    matches!(
        d.state(),
        switchboard_rules::disposition::State::Final
            | switchboard_rules::disposition::State::Overridden
    )
}

/// A disposition answers an inquiry sent ahead only on a call from the officer who sent it,
/// and only once: an inquiry already answered is not answered again.
async fn sent_for_this_call(app: &AppState, reference: &str, call: Uuid) -> ApiResult<()> {
    let bad = |why: &str| ApiError::invalid_field("inquiry.partner_reference", why.to_owned());
    let q = match app
        .store
        .partner_inquiry(&reference.to_ascii_uppercase())
        .await
    {
        Ok(q) => q,
        Err(switchboard_store::StoreError::NotFound { .. }) => {
            return Err(bad("no inquiry was sent ahead with this reference"));
        }
        Err(e) => return Err(e.into()),
    };
    if q.status == "answered" {
        return Err(bad("this inquiry sent ahead has already been answered"));
    }
    let call = app.store.call(CallId::from_uuid(call)).await?;
    match call.officer_id {
        None => Err(bad(
            "the call's number is not a registered officer's, so it cannot answer an inquiry sent ahead",
        )),
        Some(o) if o != q.officer_id => Err(bad(
            "the inquiry was sent by another officer than this call's caller",
        )),
        Some(_) => Ok(()),
    }
}
