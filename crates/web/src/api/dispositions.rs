//! Dispositions and the juvenile-liaison cases they open.
//!
//! The facts the rules judge are assembled here, on the server, from the store and the record
//! index — never taken from the client. The rules judge the subject's whole file
//! ([`switchboard_rules::file`]): every record the call-taker chose (each must be a candidate
//! of the subject's lookup), every strong or probable candidate, and every record sharing an
//! identifier with one of those or with an identifier the officer gave, transitively, read
//! from the store at the moment of judging. The call-taker can add records, never remove one;
//! a candidate marked "not this person" (with a written reason, shown to every reviewer) is
//! left out only if no identifier ties it in. The caller's authorisation comes from the
//! registry, the injunctions from the court-order registry, the legal determinations made on
//! this file from the store, each judged by the rules for whether it still stands. A
//! disposition is evaluated again on live data at every approval, so a final "confirm" has
//! always passed the gate on current records.
//!
//! The acting user is the session's. Inquiries and dispositions are made on the user's own
//! call while it is connected or in its after-call work (supervisors on any call that is);
//! only supervisors act on second review, only legal reviewers on legal review. Call-takers
//! and liaisons see only the dispositions they recorded; the details of 8 U.S.C.
//! 1367-protected matters are shown to legal reviewers only (others see that a protected
//! matter blocks the confirmation, not what it is). Every evaluation, disposition and review
//! is audited, with its rule hits and the records judged, before it takes effect.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::{CallId, Subject, assess_caller, stored_precision};
use switchboard_matching::index::{LookupOptions, Query};
use switchboard_rules::disclosure::caller_response;
use switchboard_rules::disposition::{Disposition, GateError, Kind, allowed};
use switchboard_rules::juvenile::{Case, Progress};

use switchboard_domain::records::{KeyKind, RecordKey, SourceRecord};
use switchboard_rules::determination::{Determination, Judged, Matter, raised};
use switchboard_rules::file::{FileError, Gatherer, MAX_FILE, Ranked};
use switchboard_rules::{
    Caller, Claims, Excluded, Facts, Hit, Location, Match, Outcome, evaluate, has,
};
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
/// The most "not this person" marks on one inquiry.
const MAX_MARKS: usize = 20;
/// The longest written reason of a mark.
const MAX_MARK_REASON: usize = 500;
/// The most rounds of identifier look-ups that gather one file (each round follows the
/// identifiers the previous one brought in).
const MAX_ROUNDS: usize = 16;

/// A candidate the call-taker believes is another person's.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// The record id (a strong or probable candidate of the lookup).
    pub record: String,
    /// Why it is not this person (20 to 500 characters): shown to the second person and to
    /// legal review.
    pub reason: String,
}

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
    /// Record ids the call-taker chose as the subject's, from the lookup's candidates. The
    /// server adds every other record of the subject's file.
    pub chosen: Vec<String>,
    /// Candidates marked "not this person", each with a written reason.
    #[serde(default)]
    pub not_this_person: Vec<Mark>,
    #[serde(default)]
    pub claims: ClaimsBody,
    #[schema(value_type = String, example = "field", pattern = "^(jail|field|courthouse|protected_place)$")]
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

/// The audit entry of an action on an inquiry: who, for whom, why, which records were judged
/// (the whole file), which were marked "not this person" and why, which hits.
fn inquiry_entry(
    app: &AppState,
    who: &Principal,
    action: &str,
    q: &Inquiry,
    hits: &[Hit],
    caller: switchboard_audit::Caller,
    file: &FileView,
) -> ApiResult<Entry> {
    let mut e = Entry::new(action, who.actor(), app.now_ms());
    e.purpose = Some(q.purpose.audited()?);
    e.query = super::subject_keys(&q.subject);
    e.caller = Some(caller);
    e.records = file.records.iter().map(|r| r.record_id.clone()).collect();
    e.records
        .extend(file.excluded.iter().map(|x| x.record_id.clone()));
    e.rule_hits = rule_hits(hits);
    e.records_position = Some(file.position);
    if !file.excluded.is_empty() {
        e.note = Some(
            file.excluded
                .iter()
                .map(|x| format!("not this person: {} ({})", x.record_id, x.reason))
                .collect::<Vec<_>>()
                .join("; "),
        );
    }
    Ok(e)
}

/// Call-takers and liaisons see only their own dispositions: another's is "not found", so an
/// id cannot be probed.
fn may_read(who: &Principal, author: &str) -> bool {
    !matches!(who.role(), Role::CallTaker | Role::JuvenileLiaison) || who.username() == author
}

/// A record of the file as the desk, the review pages and the API show it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileRecord {
    pub record_id: String,
    pub system: String,
    /// `strong`, `probable`, `possible` or `unlikely` in this inquiry's lookup; absent when the
    /// lookup did not rank it.
    pub band: Option<String>,
    pub corroborated: bool,
    /// Added by the server (not chosen by the call-taker).
    pub added_by_server: bool,
    /// Why it is in the file.
    pub why: String,
    /// It joined by its match alone, so the call-taker may mark it "not this person".
    #[serde(default)]
    pub markable: bool,
    #[schema(value_type = String, format = Date)]
    pub updated_on: time::Date,
}

/// A legal determination made on this file, with whether it stands.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeterminationNote {
    pub id: String,
    pub matter: String,
    pub finding: String,
    pub standing: String,
}

/// The subject's whole file, as judged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileView {
    pub records: Vec<FileRecord>,
    /// Candidates marked "not this person", with the reason; not judged.
    #[schema(value_type = Vec<Object>)]
    pub excluded: Vec<Excluded>,
    /// False when the file grew past its bound (the answer is then "unable to confirm").
    #[serde(default = "yes")]
    pub complete: bool,
    pub determinations: Vec<DeterminationNote>,
    /// The record systems' change-log position the file was judged at (0 before positions
    /// were kept).
    #[serde(default)]
    pub position: i64,
}

fn yes() -> bool {
    true
}

/// The facts of an inquiry, as the rules judge them, with the caller as the audit log names
/// them and the file as shown.
pub(crate) struct Assessed {
    pub facts: Facts,
    pub caller: switchboard_audit::Caller,
    pub file: FileView,
}

/// The digest by which a determination notices a record changed.
pub(crate) fn record_digest(r: &SourceRecord) -> String {
    use sha2::Digest;
    let bytes = serde_json::to_vec(r).unwrap_or_default();
    let d = sha2::Sha256::digest(&bytes);
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn band_name(m: Match) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The identifiers the officer gave, in the store's normal form.
fn officer_keys(s: &Subject) -> Vec<RecordKey> {
    let mut keys = Vec::new();
    if let Some(a) = &s.a_number {
        keys.extend(RecordKey::normal(KeyKind::ANumber, a.as_str()));
    }
    if let Some(f) = &s.fbi_number {
        keys.extend(RecordKey::normal(KeyKind::Fbi, f.as_str()));
    }
    if let Some(x) = &s.state_id {
        keys.extend(RecordKey::normal(KeyKind::StateId, x.as_str()));
    }
    keys
}

fn file_error(e: FileError) -> ApiError {
    let field = match &e {
        FileError::ChosenAndMarked(_) => "not_this_person",
        FileError::MarkRefused { .. } => "not_this_person",
        FileError::MarkNotInFile(_) => "not_this_person",
        FileError::MarkReason(_) => "not_this_person",
    };
    ApiError::invalid_field(field, e.to_string())
}

/// Gathers the subject's whole file from the store: see the module documentation.
async fn gather(
    app: &AppState,
    q: &Inquiry,
    today: time::Date,
) -> ApiResult<(switchboard_rules::file::File, i64)> {
    let query = Query::from_subject(&q.subject);
    let opts_limit = 200;
    let opts = LookupOptions {
        limit: opts_limit,
        ..LookupOptions::default()
    };
    let (res, _) = app.index.lookup(query, today, opts).await?;
    let position = res.position;
    // Strong or probable candidates may go on past the lookup's limit: the file is then not
    // known to be whole.
    // (Candidates come in order of their weight before any cap, so the last one's uncapped
    // band bounds every candidate after it.)
    let cut_short = res.candidates.len() >= opts_limit
        && res.candidates.last().is_some_and(|c| {
            matches!(
                Match::from(c.band_before_checks),
                Match::Strong | Match::Probable | Match::Possible
            )
        });
    for (i, id) in q.chosen.iter().enumerate() {
        if !res.candidates.iter().any(|c| &c.record.record_id == id) {
            return Err(ApiError::invalid_field(
                format!("chosen[{i}]"),
                format!("record {id} is not a candidate for this subject"),
            ));
        }
    }
    let ranked: BTreeMap<String, Ranked> = res
        .candidates
        .iter()
        .map(|c| {
            (
                c.record.record_id.clone(),
                Ranked {
                    band: c.band.into(),
                    corroborated: c.corroborated,
                    protective: matches!(
                        c.record.system,
                        switchboard_domain::records::System::CourtOrder
                            | switchboard_domain::records::System::Citizenship
                    ),
                },
            )
        })
        .collect();
    let marks: BTreeMap<String, String> = q
        .not_this_person
        .iter()
        .map(|m| (m.record.clone(), m.reason.clone()))
        .collect();
    let mut g = Gatherer::new(officer_keys(&q.subject), ranked, &q.chosen, marks, MAX_FILE)
        .map_err(file_error)?;
    let seeds = g.seeds();
    let seeded = app.store.source_records_by_id(&seeds).await?;
    for id in &q.chosen {
        if !seeded.iter().any(|r| r.record_id() == id) {
            return Err(ApiError::not_found(&format!("record {id}")));
        }
    }
    g.seeded(seeded);
    for _ in 0..MAX_ROUNDS {
        let keys = g.wanted();
        if keys.is_empty() {
            break;
        }
        let mut found = Vec::new();
        let mut more = false;
        for chunk in keys.chunks(switchboard_store::SOURCE_RECORDS_BY_KEYS_MAX) {
            let got = app
                .store
                .source_records_by_keys(chunk, MAX_FILE as u32 + 1)
                .await?;
            more |= got.len() > MAX_FILE;
            found.extend(got);
        }
        g.found(found, more);
    }
    if cut_short || !g.wanted().is_empty() {
        // Still growing after every round, or more candidates than the lookup returned: not
        // the whole file.
        g.found(Vec::new(), true);
    }
    Ok((g.finish().map_err(file_error)?, position))
}

/// The legal determinations made on any record of the file, each judged for whether it stands.
async fn determinations(app: &AppState, file: &[SourceRecord]) -> ApiResult<Vec<Judged>> {
    let ids: Vec<String> = file.iter().map(|r| r.record_id().to_owned()).collect();
    let rows = app.store.determinations_for_records(&ids).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut live: BTreeMap<String, Option<String>> = file
        .iter()
        .map(|r| (r.record_id().to_owned(), Some(record_digest(r))))
        .collect();
    let docs = rows
        .iter()
        .map(|r| {
            serde_json::from_value::<Determination>(r.document.clone())
                .map_err(|e| ApiError::internal(format!("determination {}: {e}", r.id)))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    // The records a determination was made on that are not in this file: read them live.
    let missing: Vec<String> = docs
        .iter()
        .flat_map(|d| d.records.iter().map(|r| r.record_id.clone()))
        .filter(|id| !live.contains_key(id))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(switchboard_store::SOURCE_RECORDS_BY_ID_MAX)
        .collect();
    let fetched = app.store.source_records_by_id(&missing).await?;
    for id in missing {
        let d = fetched
            .iter()
            .find(|r| r.record_id() == id)
            .map(record_digest);
        live.insert(id, d);
    }
    let now = app.now();
    Ok(docs
        .into_iter()
        .map(|d| Judged {
            standing: d.standing(now, &ids, &live),
            determination: d,
        })
        .collect())
}

/// [`facts`], with a refusal (a mark the file refuses, a record that is no candidate, a subject
/// that does not validate, …) written to the audit log before it is answered.
pub(crate) async fn audited_facts(
    app: &AppState,
    who: &Principal,
    action: &str,
    q: &Inquiry,
) -> ApiResult<Assessed> {
    match facts(app, q).await {
        Ok(a) => Ok(a),
        Err(e) if e.status.is_client_error() => {
            let mut entry = Entry::new(action, who.actor(), app.now_ms())
                .with_target(format!("call:{}", q.call));
            entry.purpose = q.purpose.audited().ok();
            entry.query = super::subject_keys(&q.subject);
            entry.records = q.chosen.clone();
            entry
                .records
                .extend(q.not_this_person.iter().map(|m| m.record.clone()));
            entry.caller = super::caller_of(app, q.call).await.ok();
            app.record(entry.refused(e.body.message.clone())).await?;
            Err(e)
        }
        Err(e) => Err(e),
    }
}

/// Builds the facts from the store and the index (the subject's whole file), and the caller as
/// the audit log names them.
pub(crate) async fn facts(app: &AppState, q: &Inquiry) -> ApiResult<Assessed> {
    q.subject.validate()?;
    if q.chosen.len() > MAX_CHOSEN {
        return Err(ApiError::invalid_field(
            "chosen",
            format!("at most {MAX_CHOSEN} records"),
        ));
    }
    if q.not_this_person.len() > MAX_MARKS {
        return Err(ApiError::invalid_field(
            "not_this_person",
            format!("at most {MAX_MARKS} records"),
        ));
    }
    for (i, m) in q.not_this_person.iter().enumerate() {
        let n = m.reason.trim().chars().count();
        if n > MAX_MARK_REASON || m.reason.chars().any(char::is_control) || m.record.len() > 64 {
            return Err(ApiError::invalid_field(
                format!("not_this_person[{i}].reason"),
                format!(
                    "a reason of 20 to {MAX_MARK_REASON} characters, without control characters"
                ),
            ));
        }
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
    let (file, position) = gather(app, q, today).await?;
    let records: Vec<SourceRecord> = file.records.iter().map(|c| c.record.clone()).collect();
    let judged = determinations(app, &records).await?;
    let view = FileView {
        records: file
            .records
            .iter()
            .map(|c| FileRecord {
                record_id: c.record.record_id().to_owned(),
                system: c.record.system().as_str().to_owned(),
                band: c.band.map(band_name),
                corroborated: c.corroborated,
                added_by_server: c.why.added_by_server(),
                why: c.why.describe(),
                markable: c.why == switchboard_rules::Inclusion::Candidate,
                updated_on: c.record.updated_on(),
            })
            .collect(),
        excluded: file.excluded.clone(),
        complete: file.complete,
        position,
        determinations: judged
            .iter()
            .map(|j| DeterminationNote {
                id: j.determination.id.clone(),
                matter: j.determination.matter.describe(),
                finding: j.determination.finding.describe(),
                standing: j.standing.describe(),
            })
            .collect(),
    };
    let facts = Facts {
        today,
        max_age_days: app.max_record_age_days,
        records: file.records,
        excluded: file.excluded,
        file_complete: file.complete,
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
        determinations: judged,
        stale_feeds: app.stale_feeds().await?,
    };
    Ok(Assessed {
        facts,
        caller: audited,
        file: view,
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
    /// Every record judged and why it is in the file; the marked ones; determinations.
    pub file: FileView,
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
    super::on_live_call(&app, &who, q.call, "disposition.evaluate").await?;
    let a = audited_facts(&app, &who, "disposition.evaluate", &q).await?;
    let hits = evaluate(&a.facts);
    let mut entry = inquiry_entry(
        &app,
        &who,
        "disposition.evaluate",
        &q,
        &hits,
        a.caller,
        &a.file,
    )?;
    entry.result = Some(format!("{} rule hits", hits.len()));
    app.record(entry).await?;
    Ok(Json(Verdict {
        allowed: allowed(&hits),
        hits: redact(&hits, &who),
        file: a.file,
    }))
}

/// The stored document: the disposition and the inquiry it judged (to judge it again live).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Document {
    disposition: Disposition,
    inquiry: Inquiry,
    /// The file as judged when it was recorded (documents from before files were gathered
    /// have none).
    #[serde(default)]
    file: FileView,
    /// The questions the rules put to legal on that file (what a determination may settle).
    #[serde(default)]
    raised: Vec<Matter>,
    /// The countries its birthplaces name (what a birthplace determination chooses among).
    #[serde(default)]
    birth_countries: Vec<String>,
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
    /// The subject's file as judged when it was recorded.
    pub file: FileView,
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
        file: doc.file.clone(),
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
    #[schema(
        value_type = String,
        example = "unable_to_confirm",
        pattern = "^(no_record_found|status_information_only|unable_to_confirm|confirm_enforcement_action|decline|refer_legal_review|refer_citizenship_investigation|refer_juvenile_liaison|hit_confirmation_requested)$"
    )]
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
    super::on_live_call(&app, &who, body.inquiry.call, "disposition.create").await?;
    let Assessed {
        facts: f,
        caller,
        file,
    } = audited_facts(&app, &who, "disposition.create", &body.inquiry).await?;
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
        file,
        raised: raised(&f),
        birth_countries: switchboard_rules::birth_countries(&f),
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
        &doc.file,
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

/// The inquiry a disposition judged (for a legal determination on its subject's file).
pub(crate) async fn inquiry_of(app: &AppState, who: &Principal, id: &str) -> ApiResult<Inquiry> {
    Ok(load(app, who, id).await?.1.inquiry)
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
    if let Err(e) = app.store.update_disposition(&row, expected).await {
        // The review was audited before this write: say that it did not take effect.
        let action = doc
            .disposition
            .history()
            .last()
            .map_or("disposition.review".to_owned(), |s| {
                format!("disposition.{}", s.action)
            });
        super::audit_failure(
            app,
            who,
            &action,
            format!("disposition:{}", row.id),
            e.to_string(),
        )
        .await;
        return Err(e.into());
    }
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
    #[param(pattern = "^(pending_second_review|pending_legal_review|final|overridden|refused)$")]
    state: Option<String>,
    #[param(minimum = 1, maximum = 500)]
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
    // Who may act on it is settled before any work is done for them.
    let caller = super::caller_of(&app, doc.inquiry.call).await?;
    let hits = doc.disposition.hits().to_vec();
    let first = review_entry(&app, &who, "disposition.approve", &row, &doc, &hits, caller)?;
    may_review(&app, &who, &doc, first.clone()).await?;
    // The approval judges records at least as new as the ones the evaluation saw.
    if let Err(e) = caught_up(&app, doc.file.position).await {
        app.record(first.refused(e.body.message.clone())).await?;
        return Err(e);
    }
    let a = match facts(&app, &doc.inquiry).await {
        Ok(a) => a,
        Err(e) => {
            app.record(first.refused(e.body.message.clone())).await?;
            return Err(e);
        }
    };
    let live = evaluate(&a.facts);
    doc.file = a.file;
    doc.raised = raised(&a.facts);
    doc.birth_countries = switchboard_rules::birth_countries(&a.facts);
    let mut entry = review_entry(
        &app,
        &who,
        "disposition.approve",
        &row,
        &doc,
        &live,
        a.caller,
    )?;
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

/// Waits (briefly) for this server's record index to reach `position`.
async fn caught_up(app: &AppState, position: i64) -> ApiResult<()> {
    if app
        .index
        .caught_up(position, std::time::Duration::from_secs(2))
        .await
    {
        return Ok(());
    }
    Err(ApiError::unavailable(
        "index_behind",
        format!(
            "this server's record index is behind the records the evaluation saw (position {position}, index at {}); try again in a moment",
            app.index.position().unwrap_or(0)
        ),
    ))
}

/// Only supervisors act on second review, only legal reviewers on legal review (the details
/// legal judges are hidden from supervisors); anything else is refused and audited.
async fn may_review(
    app: &AppState,
    who: &Principal,
    doc: &Document,
    entry: Entry,
) -> ApiResult<()> {
    use switchboard_rules::disposition::State;
    let refusal = match doc.disposition.state() {
        State::PendingLegalReview if who.role() != Role::LegalReviewer => Some((
            "legal_review_only",
            "only a legal reviewer acts on a disposition waiting for legal review",
        )),
        State::PendingSecondReview if who.role() != Role::Supervisor => Some((
            "second_review_only",
            "only a supervisor acts on a disposition waiting for second review",
        )),
        _ => None,
    };
    match refusal {
        None => Ok(()),
        Some((code, message)) => {
            app.record(entry.refused(message)).await?;
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                code,
                "forbidden",
                message,
            ))
        }
    }
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
    let mut e = inquiry_entry(app, who, action, &doc.inquiry, hits, caller, &doc.file)?;
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
    may_review(&app, &who, &doc, entry.clone()).await?;
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
    may_review(&app, &who, &doc, entry.clone()).await?;
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
    #[schema(value_type = Option<String>, pattern = "^(not_started|in_progress|done|concern)$")]
    pub legal_representation: Option<Progress>,
    #[schema(value_type = Option<String>, pattern = "^(not_started|in_progress|done|concern)$")]
    pub court_notice: Option<Progress>,
    #[schema(value_type = Option<String>, pattern = "^(not_started|in_progress|done|concern)$")]
    pub sponsor_screening: Option<Progress>,
    #[schema(value_type = Option<String>, pattern = "^(not_started|in_progress|done|concern)$")]
    pub trafficking_screening: Option<Progress>,
    #[schema(value_type = Option<String>, pattern = "^(not_started|in_progress|done|concern)$")]
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
    /// The file as last judged, and the questions it puts to legal.
    pub file: FileView,
    pub raised: Vec<Matter>,
    pub birth_countries: Vec<String>,
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
            records: judged_records(&doc),
            purpose: doc.inquiry.purpose.reason.clone(),
            file: doc.file.clone(),
            raised: doc.raised.clone(),
            birth_countries: doc.birth_countries.clone(),
        });
    }
    Ok(items)
}

/// The records a disposition judged (its file, or the chosen ones for a document from before
/// files were gathered).
fn judged_records(doc: &Document) -> Vec<String> {
    if doc.file.records.is_empty() {
        doc.inquiry.chosen.clone()
    } else {
        doc.file
            .records
            .iter()
            .map(|r| r.record_id.clone())
            .collect()
    }
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
            records: judged_records(&doc),
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
