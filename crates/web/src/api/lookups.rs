//! Subject lookups: who, in the record systems, is the person the officer asks about?

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_domain::Subject;
use switchboard_matching::index::{Candidate, LookupOptions, Query};

use switchboard_audit::Entry;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;

/// A lookup: the subject as the officer describes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub subject: Subject,
    /// Why the query is made (required).
    pub purpose: super::Purpose,
    /// The call the query is made on: required of call-takers and liaisons (their own call,
    /// connected or in after-call work); its caller is recorded in the audit log.
    #[serde(default)]
    pub call: Option<uuid::Uuid>,
    /// At most this many candidates (1 to 100, default 20).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// Ranked candidate records, each with its probability, band, evidence and warnings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LookupResponse {
    pub candidates: Vec<Candidate>,
    /// Records compared to the subject.
    pub compared: usize,
    /// The probability at or above which a candidate with no conflicting data, no rival file
    /// and an agreeing identifier is a strong match (chosen without labels).
    pub strong_threshold: f64,
    /// Records in the index.
    pub index_records: usize,
    /// The change-log position of the records the lookup saw.
    pub index_position: i64,
}

/// Look a subject up in every record system.
///
/// A candidate is `strong` only when its probability reaches the strong threshold, nothing on
/// file conflicts with what the officer said, no other file fits as well, and an identifier
/// the officer gave agrees. Everything that kept a candidate from being strong is in its
/// `warnings`. Answers 503 while the index is still being built.
#[utoipa::path(post, path = "/lookups", tag = "lookups",
    request_body = LookupRequest,
    responses((status = 200, body = LookupResponse), (status = 400, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn lookup(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(req): ApiJson<LookupRequest>,
) -> ApiResult<Json<LookupResponse>> {
    let mut entry = Entry::new("lookup", who.actor(), app.now_ms());
    entry.query = super::subject_keys(&req.subject);
    let purpose = match req.purpose.audited() {
        Ok(p) => p,
        Err(e) => {
            app.record(entry.refused(e.body.message.clone())).await?;
            return Err(e);
        }
    };
    entry.purpose = Some(purpose);
    match req.call {
        Some(call) => {
            super::on_live_call(&app, &who, call, "lookup").await?;
            entry.caller = Some(super::caller_of(&app, call).await?);
        }
        // Call-takers and liaisons query only on their own call; supervisors and legal
        // reviewers may look a subject up for a review.
        None if matches!(
            who.role(),
            switchboard_domain::Role::CallTaker | switchboard_domain::Role::JuvenileLiaison
        ) =>
        {
            let message = "name the call the query is made on (your own call, connected or in after-call work)";
            app.record(entry.refused(message)).await?;
            return Err(ApiError::invalid_field("call", message));
        }
        None => {}
    }
    req.subject.validate()?;
    let limit = req.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be between 1 and 100, got {limit}"),
        ));
    }
    let query = Query::from_subject(&req.subject);
    let today = app.today();
    let opts = LookupOptions {
        limit: limit as usize,
        ..LookupOptions::default()
    };
    let started = std::time::Instant::now();
    let (res, records) = app.index.lookup(query, today, opts).await?;
    metrics::histogram!("switchboard_lookup_seconds").record(started.elapsed().as_secs_f64());
    entry.systems = switchboard_domain::records::System::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    entry.records = res
        .candidates
        .iter()
        .map(|c| c.record.record_id.clone())
        .collect();
    entry.result = Some(result_class(&res.candidates).to_owned());
    entry.records_position = Some(res.position);
    // Nothing is shown until the access is durably audited.
    app.record(entry).await?;
    Ok(Json(LookupResponse {
        compared: res.compared,
        strong_threshold: res.strong_threshold,
        candidates: res.candidates,
        index_records: records,
        index_position: res.position,
    }))
}

/// The class of a lookup's result, for the audit log: the best candidate's band, or none.
fn result_class(c: &[Candidate]) -> &'static str {
    use switchboard_matching::Band;
    match c.first().map(|b| b.band) {
        None => "no_candidates",
        Some(Band::Strong) => "strong",
        Some(Band::Probable) => "probable",
        Some(Band::Possible) => "possible",
        Some(Band::Unlikely) => "unlikely",
    }
}
