//! The partner registry: agencies, 287(g) agreements and officers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use switchboard_domain::{
    Agency, AgencyId, AgencyKind, Agreement, AgreementId, AgreementModel, AgreementStatus,
    BadgeNumber, CertificationStatus, E164, Name, NewAgency, NewAgreement, NewOfficer, Officer,
    OfficerId, Ori, StateCode,
};
use switchboard_store::{AgencyFilter, AgreementFilter, OfficerFilter, StoreError};
use time::Date;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Paged, check_version, page_request, path_id, present, search_text};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};

/// An agency, with the state its ORI names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgencyView {
    #[serde(flatten)]
    pub agency: Agency,
    pub state: StateCode,
}

impl From<Agency> for AgencyView {
    fn from(agency: Agency) -> Self {
        Self {
            state: agency.state(),
            agency,
        }
    }
}

/// An agreement, with where it stands today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgreementView {
    #[serde(flatten)]
    pub agreement: Agreement,
    pub status: AgreementStatus,
}

impl AgreementView {
    pub fn on(agreement: Agreement, today: Date) -> Self {
        Self {
            status: agreement.status_on(today),
            agreement,
        }
    }
}

/// An officer, with where their certification stands today.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OfficerView {
    #[serde(flatten)]
    pub officer: Officer,
    pub certification_status: CertificationStatus,
}

impl OfficerView {
    pub fn on(officer: Officer, today: Date) -> Self {
        Self {
            certification_status: officer.certification_on(today),
            officer,
        }
    }
}

fn created<T: Serialize>(location: String, body: T) -> (StatusCode, HeaderMap, Json<T>) {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    (StatusCode::CREATED, h, Json(body))
}

/// Resolves an agency a request refers to; a missing one is the request's fault (400).
async fn referenced_agency(app: &AppState, id: AgencyId, field: &str) -> ApiResult<Agency> {
    match app.store.agency(id).await {
        Ok(a) => Ok(a),
        Err(StoreError::NotFound { .. }) => Err(ApiError::invalid(
            "unknown_reference",
            format!("no agency with id {id}"),
        )
        .with_field(field)),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Agencies

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgencyQuery {
    /// Only agencies of this kind.
    kind: Option<AgencyKind>,
    /// Only agencies of this state (two-letter code).
    state: Option<StateCode>,
    /// Case-insensitive part of the name.
    #[param(max_length = 100)]
    q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The `next` cursor of the previous page.
    after: Option<Uuid>,
}

/// List agencies, filtered and paged.
#[utoipa::path(get, path = "/agencies", tag = "registry", params(AgencyQuery),
    responses((status = 200, body = Paged<AgencyView>), (status = 400, body = ErrorBody)))]
pub async fn list_agencies(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AgencyQuery>,
) -> ApiResult<Json<Paged<AgencyView>>> {
    let page = page_request(q.limit, q.after)?;
    let filter = AgencyFilter {
        kind: q.kind,
        state: q.state,
        name_contains: search_text(q.q)?,
    };
    let p = app.store.list_agencies(&filter, page).await?;
    Ok(Json(Paged::from_page(p, AgencyView::from)))
}

/// Register an agency.
#[utoipa::path(post, path = "/agencies", tag = "registry", request_body = NewAgency,
    responses((status = 201, body = AgencyView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn create_agency(
    State(app): State<AppState>,
    ApiJson(new): ApiJson<NewAgency>,
) -> ApiResult<(StatusCode, HeaderMap, Json<AgencyView>)> {
    let a = Agency::create(new, app.now());
    app.store.insert_agency(&a).await?;
    tracing::info!(agency = %a.id, ori = %a.ori, "agency registered");
    Ok(created(format!("/api/v1/agencies/{}", a.id), a.into()))
}

/// Read one agency.
#[utoipa::path(get, path = "/agencies/{id}", tag = "registry", params(("id" = Uuid, Path)),
    responses((status = 200, body = AgencyView), (status = 404, body = ErrorBody)))]
pub async fn get_agency(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AgencyView>> {
    let id: AgencyId = path_id(&id)?;
    Ok(Json(app.store.agency(id).await?.into()))
}

/// Fields of an agency that may change. An agency's kind is what it is: register a new
/// agency rather than change it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgencyPatch {
    /// The version read (required): the update is refused if the agency changed since.
    #[schema(required = true, value_type = i64)]
    version: Option<i64>,
    ori: Option<Ori>,
    name: Option<Name>,
}

/// Update an agency.
#[utoipa::path(patch, path = "/agencies/{id}", tag = "registry", params(("id" = Uuid, Path)), request_body = AgencyPatch,
    responses((status = 200, body = AgencyView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn patch_agency(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<AgencyPatch>,
) -> ApiResult<Json<AgencyView>> {
    let id: AgencyId = path_id(&id)?;
    let mut a = app.store.agency(id).await?;
    check_version(p.version, a.version, "agency")?;
    if p.ori.is_none() && p.name.is_none() {
        // Nothing to change: the version stays.
        return Ok(Json(a.into()));
    }
    if let Some(ori) = p.ori {
        a.ori = ori;
    }
    if let Some(name) = p.name {
        a.name = name;
    }
    a.updated_at = app.now();
    Ok(Json(app.store.update_agency(&a).await?.into()))
}

// ---------------------------------------------------------------------------------------------
// Agreements

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AgreementQuery {
    /// Only this agency's agreements.
    agency_id: Option<AgencyId>,
    model: Option<AgreementModel>,
    /// Only agreements in effect on this day (YYYY-MM-DD).
    in_effect_on: Option<Date>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    after: Option<Uuid>,
}

/// List 287(g) agreements, filtered and paged.
#[utoipa::path(get, path = "/agreements", tag = "registry", params(AgreementQuery),
    responses((status = 200, body = Paged<AgreementView>), (status = 400, body = ErrorBody)))]
pub async fn list_agreements(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AgreementQuery>,
) -> ApiResult<Json<Paged<AgreementView>>> {
    let page = page_request(q.limit, q.after)?;
    let filter = AgreementFilter {
        agency_id: q.agency_id,
        model: q.model,
        in_effect_on: q.in_effect_on,
    };
    let today = app.today();
    let p = app.store.list_agreements(&filter, page).await?;
    Ok(Json(Paged::from_page(p, |a| AgreementView::on(a, today))))
}

/// Record a 287(g) agreement between a partner agency and a supervising federal field office.
#[utoipa::path(post, path = "/agreements", tag = "registry", request_body = NewAgreement,
    responses((status = 201, body = AgreementView), (status = 400, body = ErrorBody)))]
pub async fn create_agreement(
    State(app): State<AppState>,
    ApiJson(new): ApiJson<NewAgreement>,
) -> ApiResult<(StatusCode, HeaderMap, Json<AgreementView>)> {
    let a = Agreement::create(new, app.now())?;
    let partner = referenced_agency(&app, a.agency_id, "agency_id").await?;
    let office = referenced_agency(&app, a.supervising_office_id, "supervising_office_id").await?;
    a.check_parties(&partner, &office)?;
    app.store.insert_agreement(&a).await?;
    tracing::info!(agreement = %a.id, ori = %partner.ori, model = %a.model, "agreement recorded");
    Ok(created(
        format!("/api/v1/agreements/{}", a.id),
        AgreementView::on(a, app.today()),
    ))
}

/// Read one agreement.
#[utoipa::path(get, path = "/agreements/{id}", tag = "registry", params(("id" = Uuid, Path)),
    responses((status = 200, body = AgreementView), (status = 404, body = ErrorBody)))]
pub async fn get_agreement(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AgreementView>> {
    let id: AgreementId = path_id(&id)?;
    Ok(Json(AgreementView::on(
        app.store.agreement(id).await?,
        app.today(),
    )))
}

/// Fields of an agreement that may change (renewal, amendment, termination). The partner
/// agency is fixed: a different agency means a different agreement.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementPatch {
    /// The version read (required): the update is refused if the agreement changed since.
    #[schema(required = true, value_type = i64)]
    version: Option<i64>,
    model: Option<AgreementModel>,
    signed_on: Option<Date>,
    expires_on: Option<Date>,
    /// Set to a day to terminate the agreement from that day; null to clear a termination.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Date>)]
    terminated_on: Option<Option<Date>>,
    supervising_office_id: Option<AgencyId>,
    max_certified_officers: Option<u32>,
}

/// Amend, renew or terminate an agreement.
#[utoipa::path(patch, path = "/agreements/{id}", tag = "registry", params(("id" = Uuid, Path)), request_body = AgreementPatch,
    responses((status = 200, body = AgreementView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn patch_agreement(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<AgreementPatch>,
) -> ApiResult<Json<AgreementView>> {
    let id: AgreementId = path_id(&id)?;
    let mut a = app.store.agreement(id).await?;
    check_version(p.version, a.version, "agreement")?;
    if let Some(v) = p.model {
        a.model = v;
    }
    if let Some(v) = p.signed_on {
        a.signed_on = v;
    }
    if let Some(v) = p.expires_on {
        a.expires_on = v;
    }
    if let Some(v) = p.terminated_on {
        a.terminated_on = v;
    }
    if let Some(v) = p.max_certified_officers {
        a.max_certified_officers = v;
    }
    if let Some(office) = p.supervising_office_id {
        a.supervising_office_id = office;
        let partner = referenced_agency(&app, a.agency_id, "agency_id").await?;
        let office = referenced_agency(&app, office, "supervising_office_id").await?;
        a.check_parties(&partner, &office)?;
    }
    a.validate()?;
    a.updated_at = app.now();
    Ok(Json(AgreementView::on(
        app.store.update_agreement(&a).await?,
        app.today(),
    )))
}

// ---------------------------------------------------------------------------------------------
// Officers

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OfficerQuery {
    agency_id: Option<AgencyId>,
    /// Case-insensitive part of the officer's name.
    #[param(max_length = 100)]
    q: Option<String>,
    badge: Option<BadgeNumber>,
    active: Option<bool>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    after: Option<Uuid>,
}

/// List officers, filtered and paged.
#[utoipa::path(get, path = "/officers", tag = "registry", params(OfficerQuery),
    responses((status = 200, body = Paged<OfficerView>), (status = 400, body = ErrorBody)))]
pub async fn list_officers(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<OfficerQuery>,
) -> ApiResult<Json<Paged<OfficerView>>> {
    let page = page_request(q.limit, q.after)?;
    let filter = OfficerFilter {
        agency_id: q.agency_id,
        name_contains: search_text(q.q)?,
        badge: q.badge,
        active: q.active,
    };
    let today = app.today();
    let p = app.store.list_officers(&filter, page).await?;
    Ok(Json(Paged::from_page(p, |o| OfficerView::on(o, today))))
}

/// Refuses to certify an officer beyond what the agency's agreements allow: the largest
/// `max_certified_officers` among agreements in effect today. `counted` says whether the
/// officer is already among the certified officers in the store.
async fn check_certified_limit(
    app: &AppState,
    officer: &Officer,
    agency: &Agency,
    counted: bool,
) -> ApiResult<()> {
    let today = app.today();
    if agency.kind != AgencyKind::Partner287g
        || !officer.active
        || officer.certification_on(today) != CertificationStatus::Current
    {
        return Ok(());
    }
    let Some(max) = app
        .store
        .agreements_of(agency.id)
        .await?
        .iter()
        .filter(|a| a.status_on(today) == AgreementStatus::Active)
        .map(|a| a.max_certified_officers)
        .max()
    else {
        return Ok(());
    };
    let already = app.store.count_certified_officers(agency.id, today).await?;
    let with_this = if counted { already } else { already + 1 };
    if with_this > max {
        return Err(ApiError::conflict(
            "certified_officer_limit",
            format!(
                "{}'s agreement allows {max} certified officers and {already} are certified",
                agency.ori
            ),
        ));
    }
    Ok(())
}

/// Register an officer of an agency, with the numbers they call from.
#[utoipa::path(post, path = "/officers", tag = "registry", request_body = NewOfficer,
    responses((status = 201, body = OfficerView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_officer(
    State(app): State<AppState>,
    ApiJson(new): ApiJson<NewOfficer>,
) -> ApiResult<(StatusCode, HeaderMap, Json<OfficerView>)> {
    let o = Officer::create(new, app.now())?;
    let agency = referenced_agency(&app, o.agency_id, "agency_id").await?;
    check_certified_limit(&app, &o, &agency, false).await?;
    app.store.insert_officer(&o).await?;
    tracing::info!(officer = %o.id, ori = %agency.ori, "officer registered");
    Ok(created(
        format!("/api/v1/officers/{}", o.id),
        OfficerView::on(o, app.today()),
    ))
}

/// Read one officer.
#[utoipa::path(get, path = "/officers/{id}", tag = "registry", params(("id" = Uuid, Path)),
    responses((status = 200, body = OfficerView), (status = 404, body = ErrorBody)))]
pub async fn get_officer(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<OfficerView>> {
    let id: OfficerId = path_id(&id)?;
    Ok(Json(OfficerView::on(
        app.store.officer(id).await?,
        app.today(),
    )))
}

/// Fields of an officer that may change. `phones`, when given, replaces the whole list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerPatch {
    /// The version read (required): the update is refused if the officer changed since.
    #[schema(required = true, value_type = i64)]
    version: Option<i64>,
    given_name: Option<Name>,
    family_name: Option<Name>,
    badge: Option<BadgeNumber>,
    phones: Option<Vec<E164>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Date>)]
    certified_on: Option<Option<Date>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Date>)]
    certification_expires_on: Option<Option<Date>>,
    active: Option<bool>,
}

/// Update an officer: names, badge, numbers, certification, active flag.
#[utoipa::path(patch, path = "/officers/{id}", tag = "registry", params(("id" = Uuid, Path)), request_body = OfficerPatch,
    responses((status = 200, body = OfficerView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn patch_officer(
    State(app): State<AppState>,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<OfficerPatch>,
) -> ApiResult<Json<OfficerView>> {
    let id: OfficerId = path_id(&id)?;
    let mut o = app.store.officer(id).await?;
    check_version(p.version, o.version, "officer")?;
    let today = app.today();
    let counted = o.active && o.certification_on(today) == CertificationStatus::Current;
    if let Some(v) = p.given_name {
        o.given_name = v;
    }
    if let Some(v) = p.family_name {
        o.family_name = v;
    }
    if let Some(v) = p.badge {
        o.badge = v;
    }
    if let Some(v) = p.phones {
        o.phones = v;
    }
    if let Some(v) = p.certified_on {
        o.certified_on = v;
    }
    if let Some(v) = p.certification_expires_on {
        o.certification_expires_on = v;
    }
    if let Some(v) = p.active {
        o.active = v;
    }
    o.validate()?;
    let agency = app.store.agency(o.agency_id).await?;
    check_certified_limit(&app, &o, &agency, counted).await?;
    o.updated_at = app.now();
    Ok(Json(OfficerView::on(
        app.store.update_officer(&o).await?,
        today,
    )))
}
