//! Staffing: how many call-takers each interval needs, from a planned volume or the stored call
//! history, with an optional shift schedule; JSON or CSV.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_acd::{TimeZone, Timestamp};
use switchboard_staffing::forecast::Observation;
use switchboard_staffing::report::{self, Request, Volume};
use switchboard_staffing::{StaffingError, Targets};
use switchboard_store::{PageRequest, Store, StoreError};
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;

impl From<StaffingError> for ApiError {
    fn from(e: StaffingError) -> Self {
        let field = match &e {
            StaffingError::Shrinkage(_) => Some("shrinkage"),
            StaffingError::NoTarget => Some("service_level"),
            StaffingError::AbandonmentNeedsPatience => Some("patience"),
            StaffingError::TooLarge { name, .. } => Some(match *name {
                "planned daily volume" => "calls_per_day",
                "patience (seconds)" => "patience",
                "handle time (seconds)" => "aht",
                _ => "calls_per_day",
            }),
            _ => None,
        };
        let err = ApiError::invalid("invalid_staffing_request", e.to_string());
        match field {
            Some(f) => err.with_field(f),
            None => err,
        }
    }
}

/// Every call in the store, placed in the center's local calendar (day number, weekday,
/// interval), with its talk time when it was answered and ended.
pub async fn history(
    store: &dyn Store,
    tz: &TimeZone,
    slot_minutes: u32,
) -> Result<Vec<Observation>, StoreError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_calls(PageRequest {
                limit: PageRequest::MAX_LIMIT,
                after,
            })
            .await?;
        for c in &page.items {
            let ms = (c.arrived_at.unix_timestamp_nanos() / 1_000_000) as i64;
            let Ok(ts) = Timestamp::from_millisecond(ms) else {
                continue;
            };
            let z = ts.to_zoned(tz.clone());
            let minute = u32::from(z.hour() as u8) * 60 + u32::from(z.minute() as u8);
            let handle = match (c.answered_at, c.ended_at) {
                (Some(a), Some(e)) if e > a => Some((e - a).as_seconds_f64()),
                _ => None,
            };
            out.push(Observation {
                day: i64::from(
                    z.date()
                        .since(switchboard_acd::civil::date(1970, 1, 1))
                        .map_or(0, |s| s.get_days()),
                ),
                weekday: z.weekday().to_monday_zero_offset() as u8,
                slot: (minute / slot_minutes) as u16,
                handle_seconds: handle,
            });
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(out)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StaffingQuery {
    /// Planned calls per day (give this, or `from_history=true`).
    calls_per_day: Option<f64>,
    /// Forecast from the stored call history instead.
    #[serde(default)]
    from_history: bool,
    /// The local day to forecast from history, `YYYY-MM-DD` (default: tomorrow).
    day: Option<String>,
    /// Mean handle time, seconds (planned volume; default 300).
    aht: Option<f64>,
    /// `flat` (default) or `daytime`.
    curve: Option<String>,
    /// Interval minutes: 15, 30 (default) or 60.
    interval: Option<u32>,
    /// Service-level target (default 0.8).
    service_level: Option<f64>,
    /// Service-level threshold, seconds (default 20).
    threshold: Option<f64>,
    asa: Option<f64>,
    abandonment: Option<f64>,
    max_occupancy: Option<f64>,
    /// Mean caller patience, seconds: Erlang A instead of Erlang C.
    patience: Option<f64>,
    /// Default 0.3.
    shrinkage: Option<f64>,
    /// The desk's hours, `08:00-17:00` (default: around the clock).
    hours: Option<String>,
    /// Also build a shift schedule.
    #[serde(default)]
    schedule: bool,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// Staffing requirement per interval (Erlang C, or Erlang A with `patience`), scheduled staff
/// with shrinkage, the day's totals, and optionally a shift schedule with its cost against a
/// lower bound.
#[utoipa::path(get, path = "/staffing", tag = "staffing", params(StaffingQuery),
    responses((status = 200, body = report::Response), (status = 400, body = ErrorBody)))]
pub async fn staffing(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<StaffingQuery>,
) -> ApiResult<Response> {
    let slot_minutes = q.interval.unwrap_or(30);
    if ![15, 30, 60].contains(&slot_minutes) {
        return Err(ApiError::invalid_field("interval", "must be 15, 30 or 60"));
    }
    let slots = (1_440 / slot_minutes) as usize;
    let volume = match (q.calls_per_day, q.from_history) {
        (Some(_), true) => {
            return Err(ApiError::invalid_field(
                "from_history",
                "give calls_per_day or from_history, not both",
            ));
        }
        (None, false) => {
            return Err(ApiError::invalid_field(
                "calls_per_day",
                "give calls_per_day, or from_history=true",
            ));
        }
        (Some(calls_per_day), false) => Volume::Planned {
            calls_per_day,
            curve: match q.curve.as_deref() {
                None | Some("flat") => Vec::new(),
                Some("daytime") => switchboard_acd::sim::daytime_curve(slots),
                Some(other) => {
                    return Err(ApiError::invalid_field(
                        "curve",
                        format!("{other:?} is not flat or daytime"),
                    ));
                }
            },
            aht_seconds: q.aht.unwrap_or(300.0),
        },
        (None, true) => {
            let tz = match &app.acd {
                Some(host) => host.read(|acd, _| acd.time_zone().clone()).await,
                None => TimeZone::UTC,
            };
            let now = Timestamp::now().to_zoned(tz.clone()).date();
            let day = match &q.day {
                Some(d) => d.parse::<switchboard_acd::civil::Date>().map_err(|_| {
                    ApiError::invalid_field("day", format!("{d:?} is not a YYYY-MM-DD date"))
                })?,
                None => now
                    .tomorrow()
                    .map_err(|_| ApiError::internal("no tomorrow"))?,
            };
            let observations = history(app.store.as_ref(), &tz, slot_minutes).await?;
            Volume::History {
                observations,
                day: day
                    .since(switchboard_acd::civil::date(1970, 1, 1))
                    .map_or(0, |s| i64::from(s.get_days())),
                weekday: day.weekday().to_monday_zero_offset() as u8,
            }
        }
    };
    let open = match &q.hours {
        Some(h) => Some(
            report::parse_hours(h, slot_minutes)
                .map_err(|e| ApiError::invalid_field("hours", e.to_string()))?,
        ),
        None => None,
    };
    let request = Request {
        volume,
        slot_minutes,
        targets: Targets {
            service_level: Some(q.service_level.unwrap_or(0.8)),
            threshold_seconds: q.threshold.unwrap_or(20.0),
            asa_seconds: q.asa,
            abandonment: q.abandonment,
            max_occupancy: q.max_occupancy,
        },
        patience_seconds: q.patience,
        shrinkage: q.shrinkage.unwrap_or(0.3),
        open,
        schedule: q.schedule,
    };
    // Bounded inputs keep this to well under a second; off the async workers all the same.
    let answer = tokio::task::spawn_blocking(move || report::answer(&request))
        .await
        .map_err(ApiError::internal)??;
    match q.format.as_deref() {
        None | Some("json") => Ok(axum::Json(answer).into_response()),
        Some("csv") => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"staffing.csv\"",
                ),
            ],
            answer.csv(),
        )
            .into_response()),
        Some(other) => Err(ApiError::invalid_field(
            "format",
            format!("{other:?} is not json or csv"),
        )),
    }
}
