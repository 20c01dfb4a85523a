//! Calls into the center, read-only here: intake (today the demo's simulated callers, later
//! SIP and the ACD) writes them.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use switchboard_domain::{Call, CallId, Inquiry};
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Paged, page_request, path_id};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::ApiQuery;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CallQuery {
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    after: Option<Uuid>,
}

/// List calls, newest first.
#[utoipa::path(get, path = "/calls", tag = "calls", params(CallQuery),
    responses((status = 200, body = Paged<Call>), (status = 400, body = ErrorBody)))]
pub async fn list_calls(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<CallQuery>,
) -> ApiResult<Json<Paged<Call>>> {
    let page = page_request(q.limit, q.after)?;
    Ok(Json(Paged::from_page(
        app.store.list_calls(page).await?,
        |c| c,
    )))
}

/// A call with the inquiries made on it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub call: Call,
    pub inquiries: Vec<Inquiry>,
}

/// Read one call.
#[utoipa::path(get, path = "/calls/{id}", tag = "calls", params(("id" = Uuid, Path)),
    responses((status = 200, body = CallDetail), (status = 404, body = ErrorBody)))]
pub async fn get_call(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<CallDetail>> {
    let id: CallId = path_id(&id)?;
    let call = app.store.call(id).await?;
    let inquiries = app.store.inquiries_for_call(id).await?;
    Ok(Json(CallDetail { call, inquiries }))
}
