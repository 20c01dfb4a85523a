//! Caller identification: who is on the line, and may the center serve them?

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use switchboard_domain::{AgreementModel, CallerProblem, E164, assess_caller};

use super::registry::{AgencyView, AgreementView, OfficerView};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// One reason the caller is not authorised, with the text shown to the call-taker.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemView {
    #[serde(flatten)]
    pub problem: CallerProblem,
    pub message: String,
}

/// The caller's card: what the call-taker sees when the phone rings.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallerCard {
    /// The number looked up, in E.164 form.
    pub phone: E164,
    /// True only when nothing below is a problem.
    pub authorised: bool,
    /// Every reason the caller is not authorised; empty when authorised.
    pub problems: Vec<ProblemView>,
    /// The 287(g) models the caller may act under today.
    pub active_models: Vec<AgreementModel>,
    pub officer: Option<OfficerView>,
    pub agency: Option<AgencyView>,
    /// All of the agency's agreements, with their status today.
    pub agreements: Vec<AgreementView>,
}

/// Identify a caller by phone number.
///
/// Answers 200 for any well-formed number: an unknown number is a finding
/// (`authorised: false`, problem `unknown_number`), not an error.
#[utoipa::path(get, path = "/callers/{e164}", tag = "callers",
    params(("e164" = switchboard_domain::E164, Path, description = "The calling number in E.164 form, e.g. +15125550123 (URL-encode the + as %2B if your client rewrites it)")),
    responses((status = 200, body = CallerCard), (status = 400, body = ErrorBody)))]
pub async fn lookup_caller(
    State(app): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<CallerCard>> {
    let phone = E164::parse(&raw).map_err(|e| ApiError::from_parse("e164", e))?;
    Ok(Json(caller_card(&app, &phone).await?))
}

/// The caller's card for `phone` (also what the call-taker's desk shows).
pub async fn caller_card(app: &AppState, phone: &E164) -> ApiResult<CallerCard> {
    let phone = phone.clone();
    let today = app.today();
    let found = match app.store.officer_by_phone(&phone).await? {
        None => None,
        Some(officer) => {
            let agency = app.store.agency(officer.agency_id).await?;
            let agreements = app.store.agreements_of(agency.id).await?;
            Some((officer, agency, agreements))
        }
    };
    let assessment = assess_caller(
        found.as_ref().map(|(o, a, ag)| (o, a, ag.as_slice())),
        today,
    );
    let outcome = match (&found, assessment.authorised) {
        (None, _) => "unknown",
        (Some(_), true) => "authorised",
        (Some(_), false) => "unauthorised",
    };
    metrics::counter!("switchboard_caller_lookups_total", "outcome" => outcome).increment(1);
    let problems = assessment
        .problems
        .into_iter()
        .map(|p| ProblemView {
            message: p.message(),
            problem: p,
        })
        .collect();
    let (officer, agency, agreements) = match found {
        Some((o, a, ag)) => (
            Some(OfficerView::on(o, today)),
            Some(AgencyView::from(a)),
            ag.into_iter()
                .map(|x| AgreementView::on(x, today))
                .collect(),
        ),
        None => (None, None, Vec::new()),
    };
    Ok(CallerCard {
        phone,
        authorised: assessment.authorised,
        problems,
        active_models: assessment.active_models,
        officer,
        agency,
        agreements,
    })
}
