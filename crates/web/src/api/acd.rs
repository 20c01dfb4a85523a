//! The call distributor: queues, agents and calls, live; calls injected over the API (until SIP
//! brings real ones); agent actions; interval statistics; and a server-sent event stream.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use switchboard_acd::{
    AgentId, AgentStatus, CallId, CallView, Command, Counters, Event, EventError, Measures,
    QueueId, QueueStatus, Requested, Scope,
};
use switchboard_acd_host::{AcdHost, HostError};
use switchboard_domain::Call;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use uuid::Uuid;

use switchboard_accounts::Permission;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};

fn host(app: &AppState) -> ApiResult<Arc<AcdHost>> {
    app.acd.clone().ok_or_else(|| {
        ApiError::unavailable("acd_not_running", "the call distributor is not running")
    })
}

impl From<HostError> for ApiError {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Refused(e) => refused(e),
            HostError::Store(e) => {
                tracing::error!(error = %e, "ACD log write failed");
                ApiError::unavailable(
                    "acd_log_unavailable",
                    "the event could not be recorded durably and was not applied; retry",
                )
            }
            HostError::Corrupt(e) => ApiError::internal(e),
        }
    }
}

fn refused(e: EventError) -> ApiError {
    let message = e.to_string();
    match e {
        EventError::UnknownCall(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_call", "not_found", message)
        }
        EventError::UnknownAgent(_) => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_agent", "not_found", message)
        }
        EventError::NotOffered { .. } => ApiError::conflict("not_offered", message),
        EventError::NotWaiting(_) => ApiError::conflict("not_waiting", message),
        EventError::DuplicateCall(_) => ApiError::conflict("duplicate_call", message),
        EventError::BadReason => ApiError::invalid_field("reason", message),
        EventError::Config(_) => ApiError::invalid("invalid_configuration", message),
        EventError::TimeWentBack { .. } => ApiError::internal(message),
    }
}

/// What the edges were asked to do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Commands {
    #[schema(value_type = Vec<Object>)]
    pub commands: Vec<Command>,
}

/// Every queue, live: calls waiting, longest wait, staff, and the current interval's and
/// today's figures (service level, ASA, abandonment, AHT, occupancy).
#[utoipa::path(get, path = "/acd/queues", tag = "acd",
    responses((status = 200, body = Vec<QueueStatus>), (status = 503, body = ErrorBody)))]
pub async fn queues(State(app): State<AppState>) -> ApiResult<Json<Vec<QueueStatus>>> {
    let host = host(&app)?;
    Ok(Json(host.read(|acd, now| acd.queue_status(now)).await))
}

/// Every agent, live, with today's figures.
#[utoipa::path(get, path = "/acd/agents", tag = "acd",
    responses((status = 200, body = Vec<AgentStatus>), (status = 503, body = ErrorBody)))]
pub async fn agents(State(app): State<AppState>) -> ApiResult<Json<Vec<AgentStatus>>> {
    let host = host(&app)?;
    Ok(Json(host.read(|acd, now| acd.agent_status(now)).await))
}

/// A call the ACD holds, with the store's record of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AcdCall {
    #[serde(flatten)]
    pub call: CallView,
    pub record: Option<Uuid>,
}

/// Every call the ACD holds, in arrival order.
#[utoipa::path(get, path = "/acd/calls", tag = "acd",
    responses((status = 200, body = Vec<AcdCall>), (status = 503, body = ErrorBody)))]
pub async fn calls(State(app): State<AppState>) -> ApiResult<Json<Vec<AcdCall>>> {
    let host = host(&app)?;
    Ok(Json(
        host.calls()
            .await
            .into_iter()
            .map(|(call, record)| AcdCall { call, record })
            .collect(),
    ))
}

/// A call to inject, as if it had come in over SIP.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAcdCall {
    /// The queue (desk) the number dialled leads to.
    pub queue: u64,
    /// 0 (default) to 9; higher is offered first within the queue.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 9)]
    pub priority: u8,
    /// The calling number as signalled (E.164 for a registered officer; anything else is an
    /// unknown caller).
    #[schema(max_length = 128)]
    pub ani: String,
}

/// The injected call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Injected {
    #[schema(value_type = u64)]
    pub call: CallId,
    pub record: Call,
    #[schema(value_type = Vec<Object>)]
    pub commands: Vec<Command>,
}

/// Inject a call into a queue: the caller is identified, the call recorded and queued.
#[utoipa::path(post, path = "/acd/calls", tag = "acd", request_body = NewAcdCall,
    responses((status = 201, body = Injected), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn inject(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<NewAcdCall>,
) -> ApiResult<(StatusCode, Json<Injected>)> {
    let host = host(&app)?;
    if body.priority > 9 {
        return Err(ApiError::invalid_field("priority", "must be 0 to 9"));
    }
    if body.ani.chars().count() > Call::MAX_ANI_RAW {
        return Err(ApiError::invalid_field(
            "ani",
            format!("must be at most {} characters", Call::MAX_ANI_RAW),
        ));
    }
    let queue = QueueId(body.queue);
    if host.read(|acd, _| acd.is_open(queue)).await.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_queue",
            "not_found",
            format!("queue {} is not configured", body.queue),
        )
        .with_field("queue"));
    }
    let a = host.arrive(&body.ani, queue, body.priority).await?;
    Ok((
        StatusCode::CREATED,
        Json(Injected {
            call: a.call,
            record: a.record,
            commands: a.commands,
        }),
    ))
}

/// The caller hangs up (a waiting callback: the caller cancels it).
#[utoipa::path(post, path = "/acd/calls/{call}/hangup", tag = "acd", params(("call" = u64, Path)),
    responses((status = 200, body = Commands), (status = 404, body = ErrorBody)))]
pub async fn hangup(
    State(app): State<AppState>,
    Path(call): Path<u64>,
) -> ApiResult<Json<Commands>> {
    submit(&app, Event::CallerHungUp { call: CallId(call) }).await
}

/// The caller accepts a callback: their line is freed, the call keeps its place.
#[utoipa::path(post, path = "/acd/calls/{call}/callback", tag = "acd", params(("call" = u64, Path)),
    responses((status = 200, body = Commands), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn callback(
    State(app): State<AppState>,
    Path(call): Path<u64>,
) -> ApiResult<Json<Commands>> {
    submit(&app, Event::CallbackRequested { call: CallId(call) }).await
}

/// The call ends (the agent hung up, or it was withdrawn).
#[utoipa::path(post, path = "/acd/calls/{call}/end", tag = "acd", params(("call" = u64, Path)),
    responses((status = 200, body = Commands), (status = 404, body = ErrorBody)))]
pub async fn end(
    State(app): State<AppState>,
    who: Principal,
    Path(call): Path<u64>,
) -> ApiResult<Json<Commands>> {
    let agent = host(&app)?
        .read(|acd, _| {
            acd.calls().into_iter().find_map(|c| match c.phase {
                switchboard_acd::Phase::Connected { agent } if c.call == CallId(call) => {
                    Some(agent)
                }
                _ => None,
            })
        })
        .await;
    match agent {
        Some(agent) => may_act_as(&app, &who, agent.0, false).await?,
        None if who.can(Permission::AgentSupervise) => {}
        None => {
            return Err(ApiError::conflict(
                "not_connected",
                format!("call {call} is not connected to an agent"),
            ));
        }
    }
    submit(&app, Event::CallEnded { call: CallId(call) }).await
}

/// A call-taker acts only as the agent configured for their username; supervisors act as any
/// agent and alone may force a state.
async fn may_act_as(app: &AppState, who: &Principal, agent: u64, forced: bool) -> ApiResult<()> {
    if who.can(Permission::AgentSupervise) {
        return Ok(());
    }
    if forced {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "forbidden",
            "only a supervisor may force an agent's state",
        ));
    }
    let owner = host(app)?
        .read(|acd, _| {
            acd.config()
                .agents
                .iter()
                .find(|a| a.id == AgentId(agent))
                .map(|a| a.user.clone())
        })
        .await;
    match owner {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_agent",
            "not_found",
            format!("there is no agent {agent}"),
        )),
        Some(Some(user)) if user == who.username() => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_your_agent",
            "forbidden",
            format!("agent {agent} is not yours"),
        )),
    }
}

/// The call an agent acts on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentCall {
    pub call: u64,
}

/// The agent answers the call offered to them.
#[utoipa::path(post, path = "/acd/agents/{agent}/answer", tag = "acd", params(("agent" = u64, Path)),
    request_body = AgentCall,
    responses((status = 200, body = Commands), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn answer(
    State(app): State<AppState>,
    who: Principal,
    Path(agent): Path<u64>,
    ApiJson(body): ApiJson<AgentCall>,
) -> ApiResult<Json<Commands>> {
    may_act_as(&app, &who, agent, false).await?;
    let event = Event::AgentAnswered {
        agent: AgentId(agent),
        call: CallId(body.call),
    };
    submit(&app, event).await
}

/// The agent declines the call offered to them (it goes back to its place in line).
#[utoipa::path(post, path = "/acd/agents/{agent}/reject", tag = "acd", params(("agent" = u64, Path)),
    request_body = AgentCall,
    responses((status = 200, body = Commands), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn reject(
    State(app): State<AppState>,
    who: Principal,
    Path(agent): Path<u64>,
    ApiJson(body): ApiJson<AgentCall>,
) -> ApiResult<Json<Commands>> {
    may_act_as(&app, &who, agent, false).await?;
    let event = Event::AgentRejected {
        agent: AgentId(agent),
        call: CallId(body.call),
    };
    submit(&app, event).await
}

/// A state an agent asks for, or a supervisor forces.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// `log_in`, `available`, `break` or `log_out`.
    #[schema(pattern = "^(log_in|available|break|log_out)$")]
    pub state: String,
    /// The break's reason code (required for `break`).
    pub reason: Option<String>,
    /// A supervisor forcing the change: it applies at once, even mid-call.
    #[serde(default)]
    pub forced: bool,
}

/// Change an agent's state. A busy agent's request waits until the call is over, unless forced.
#[utoipa::path(post, path = "/acd/agents/{agent}/state", tag = "acd", params(("agent" = u64, Path)),
    request_body = StateChange,
    responses((status = 200, body = Commands), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_state(
    State(app): State<AppState>,
    who: Principal,
    Path(agent): Path<u64>,
    ApiJson(body): ApiJson<StateChange>,
) -> ApiResult<Json<Commands>> {
    may_act_as(&app, &who, agent, body.forced).await?;
    let to = match (body.state.as_str(), body.reason) {
        ("log_in", None) => Requested::LogIn,
        ("available", None) => Requested::Available,
        ("log_out", None) => Requested::LogOut,
        ("break", Some(reason)) => Requested::Break { reason },
        ("break", None) => {
            return Err(ApiError::invalid_field(
                "reason",
                "a break needs a reason code",
            ));
        }
        ("log_in" | "available" | "log_out", Some(_)) => {
            return Err(ApiError::invalid_field(
                "reason",
                "only a break takes a reason",
            ));
        }
        (other, _) => {
            return Err(ApiError::invalid_field(
                "state",
                format!("{other:?} is not one of log_in, available, break, log_out"),
            ));
        }
    };
    let event = Event::AgentStateChanged {
        agent: AgentId(agent),
        to,
        forced: body.forced,
    };
    submit(&app, event).await
}

async fn submit(app: &AppState, event: Event) -> ApiResult<Json<Commands>> {
    let host = host(app)?;
    let commands = host.submit(event).await?;
    Ok(Json(Commands { commands }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntervalQuery {
    /// A queue's id; absent for the whole center.
    queue: Option<u32>,
    /// The center's local date, `YYYY-MM-DD`; absent for today.
    #[param(format = Date)]
    day: Option<String>,
}

/// One interval's figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntervalFigures {
    /// Start of the interval, milliseconds since the Unix epoch.
    pub start: u64,
    pub counters: Counters,
    pub measures: Measures,
}

/// Interval statistics for a queue or the center over one local day.
#[utoipa::path(get, path = "/acd/intervals", tag = "acd", params(IntervalQuery),
    responses((status = 200, body = Vec<IntervalFigures>), (status = 400, body = ErrorBody)))]
pub async fn intervals(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<IntervalQuery>,
) -> ApiResult<Json<Vec<IntervalFigures>>> {
    let host = host(&app)?;
    let scope = match q.queue {
        Some(id) => Scope::Queue(QueueId(id.into())),
        None => Scope::Center,
    };
    let day = match q.day {
        Some(d) => Some(d.parse::<jiff_date::Date>().map_err(|_| {
            ApiError::invalid_field("day", format!("{d:?} is not a YYYY-MM-DD date"))
        })?),
        None => None,
    };
    let rows = host
        .read(|acd, now| {
            let tz = acd.time_zone().clone();
            let date = day.unwrap_or_else(|| jiff_date::local_date(&tz, now));
            let (from, to) = jiff_date::bounds(&tz, date)?;
            Some(acd.intervals(scope, from, to.saturating_sub(1), now))
        })
        .await
        .ok_or_else(|| ApiError::invalid_field("day", "that day is out of range"))?;
    Ok(Json(
        rows.into_iter()
            .map(|(start, c)| IntervalFigures {
                start,
                measures: c.measures(),
                counters: c,
            })
            .collect(),
    ))
}

/// Dates in the center's time zone.
pub(crate) mod jiff_date {
    pub use switchboard_acd::civil::Date;
    use switchboard_acd::{Millis, TimeZone, Timestamp};

    pub fn local_date(tz: &TimeZone, at: Millis) -> Date {
        Timestamp::from_millisecond(at as i64)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(tz.clone())
            .date()
    }

    /// The instants a local day starts and ends.
    pub fn bounds(tz: &TimeZone, date: Date) -> Option<(Millis, Millis)> {
        let start = date.to_zoned(tz.clone()).ok()?;
        let end = date.tomorrow().ok()?.to_zoned(tz.clone()).ok()?;
        Some((
            u64::try_from(start.timestamp().as_millisecond()).ok()?,
            u64::try_from(end.timestamp().as_millisecond()).ok()?,
        ))
    }
}

/// The live stream (server-sent events): `queues` (every queue's status) at once and every
/// five seconds, `entry` for each event the ACD logged with its commands, `lagged` when this
/// client fell too far behind (re-read the state).
#[utoipa::path(get, path = "/acd/events", tag = "acd",
    responses((status = 200, description = "text/event-stream"), (status = 503, body = ErrorBody)))]
pub async fn events(
    State(app): State<AppState>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let host = host(&app)?;
    let rx = host.subscribe();
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = futures_util::stream::unfold(
        (host, rx, every),
        |(host, mut rx, mut every)| async move {
            let event = tokio::select! {
                _ = every.tick() => {
                    let queues = host.read(|acd, now| acd.queue_status(now)).await;
                    SseEvent::default().event("queues").json_data(&queues).ok()?
                }
                item = rx.recv() => match item {
                    Ok(item) => SseEvent::default().event("entry").id(item.seq.to_string()).json_data(&*item).ok()?,
                    Err(RecvError::Lagged(n)) => SseEvent::default().event("lagged").data(n.to_string()),
                    Err(RecvError::Closed) => return None,
                },
            };
            Some((Ok(event), (host, rx, every)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
