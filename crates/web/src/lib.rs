//! Switchboard's HTTP face.
//!
//! This crate owns the axum routes: the JSON API under `/api/v1` (partner registry, caller
//! lookup, calls, lookups, the call distributor with its event stream, staffing,
//! dispositions, sessions, users and the audit log), `/healthz`, `/readyz`, `/metrics`
//! (Prometheus) and the OpenAPI document at `/api/v1/openapi.json`, which is generated from
//! the same handlers it describes, and the browser desktops ([`ui`]). Every API route passes [`auth::guard`]: session, CSRF,
//! permission and the audit entry, before the handler runs.
//!
//! It must hold no business rule of its own (those live in `domain`) and no SQL (that lives in
//! the store backends); it parses input at the boundary, calls the domain and the [`Store`],
//! and maps every error to the stable `{code, message, type, field?}` JSON shape.

#![forbid(unsafe_code)]

pub mod admission;
pub mod api;
pub mod api_doc;
pub mod auth;
pub mod error;
pub mod extract;
pub mod logon_throttle;
pub mod lookup_index;
mod ops;
pub mod ui;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use switchboard_domain::records::System;
use switchboard_store::Store;
use time::{Date, OffsetDateTime};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;

/// Where "now" comes from: the system clock in production, a fixed instant in tests.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The default age beyond which a record is stale for the rules.
pub const DEFAULT_MAX_RECORD_AGE_DAYS: i64 = 180;

/// How far behind a record system's feed may be, unless configured: a day.
pub const DEFAULT_FEED_MAX_LAG_MINUTES: i64 = 24 * 60;

/// A record system's feed as the admin page, `/metrics` and the rules see it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FeedFreshness {
    pub system: String,
    /// When a feed last vouched for the system's records (a change or a heartbeat), or when
    /// this server's index last read the change log to its end, whichever is older.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub as_of: Option<OffsetDateTime>,
    pub minutes_behind: Option<i64>,
    /// The most it may be behind; none: no limit.
    pub max_minutes: Option<i64>,
    /// Behind its limit (or never heard from): evaluations are "unable to confirm".
    pub stale: bool,
}
/// How long an approved legal determination stands, unless the file changes first.
pub const DEFAULT_DETERMINATION_DAYS: i64 = 90;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// The record index lookups use; filled once it is built.
    pub index: Arc<lookup_index::IndexSlot>,
    /// The call distributor, when the server runs one.
    pub acd: Option<Arc<switchboard_acd_host::AcdHost>>,
    /// Records last updated longer ago than this are stale: they cannot support a confirmation.
    pub max_record_age_days: i64,
    /// How long an approved legal determination stands (days), unless the file changes first.
    pub determination_days: i64,
    /// The audit log every access is written to; without it every audited action fails.
    pub audit: Option<switchboard_audit_host::AuditLog>,
    /// Whether session cookies carry `Secure`.
    pub cookie_secure: bool,
    /// Each partner agency's request budget.
    pub partner_limits: Arc<api::partner::RateLimits>,
    /// Each source address's failed logons.
    pub logon_throttle: Arc<logon_throttle::LogonThrottle>,
    /// Admission control (in-flight bound, deadline, rate limits); `None`: none (in-process
    /// benchmarks).
    pub admission: Option<Arc<admission::Admission>>,
    /// Refusals of callers not yet known, audited a source a minute.
    pub refusals: Arc<admission::RefusalSummaries>,
    /// The token that opens `/metrics` to other machines (loopback clients need none).
    pub metrics_token: Option<String>,
    /// How far behind each record system's feed may be (minutes) before evaluations are
    /// "unable to confirm"; a system not named has no limit (the default names every system
    /// with [`DEFAULT_FEED_MAX_LAG_MINUTES`]).
    pub feed_max_lag_minutes: Arc<Vec<(System, i64)>>,
    /// The wallboard's staffing plan for the center's current day, made once a day from the
    /// call history (the local day's number, when it was made, and the plan or why there is
    /// none; a failure is tried again after a minute).
    pub(crate) day_plan: Arc<tokio::sync::Mutex<Option<(i64, std::time::Instant, ui::DayPlan)>>>,
    /// The key TOTP seeds are sealed with at rest (`totp_key_file`; a random one when none is
    /// given, for tests and benchmarks whose accounts live no longer than the process).
    pub sealing: Arc<switchboard_accounts::sealed::SealingKey>,
    /// The readiness check's last write probe (when, and whether the database took it): at
    /// most one a second, however often `/readyz` is asked.
    pub(crate) database_probe: Arc<tokio::sync::Mutex<Option<(std::time::Instant, bool)>>>,
    clock: Clock,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_clock(store, Arc::new(OffsetDateTime::now_utc))
    }

    pub fn with_clock(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self {
            store,
            index: Arc::default(),
            acd: None,
            max_record_age_days: DEFAULT_MAX_RECORD_AGE_DAYS,
            determination_days: DEFAULT_DETERMINATION_DAYS,
            audit: None,
            cookie_secure: true,
            partner_limits: Arc::default(),
            logon_throttle: Arc::default(),
            admission: Some(Arc::default()),
            refusals: Arc::default(),
            metrics_token: None,
            feed_max_lag_minutes: Arc::new(
                System::ALL
                    .iter()
                    .map(|s| (*s, DEFAULT_FEED_MAX_LAG_MINUTES))
                    .collect(),
            ),
            day_plan: Arc::default(),
            database_probe: Arc::default(),
            sealing: Arc::new(switchboard_accounts::sealed::SealingKey::from_bytes(
                auth::random(),
            )),
            clock,
        }
    }

    /// With the audit log.
    pub fn with_audit(mut self, audit: switchboard_audit_host::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Each record system's feed: when it last vouched for its records, how far behind that
    /// is now, and the most it may be.
    pub async fn feeds(&self) -> Result<Vec<FeedFreshness>, ApiError> {
        let state = self.store.record_feed_state().await?;
        let now = self.now();
        // On this server a feed is only as current as the index that serves its records.
        let index = self.index.current_as_of();
        Ok(System::ALL
            .iter()
            .map(|s| {
                let as_of = state
                    .iter()
                    .find(|f| f.system == *s)
                    .map(|f| index.map_or(f.as_of, |i| f.as_of.min(i)));
                let max = self
                    .feed_max_lag_minutes
                    .iter()
                    .find(|(x, _)| x == s)
                    .map(|(_, m)| *m);
                let behind = as_of.map(|t| (now - t).whole_minutes().max(0));
                FeedFreshness {
                    system: s.as_str().to_owned(),
                    as_of,
                    minutes_behind: behind,
                    max_minutes: max,
                    stale: max.is_some_and(|m| behind.is_none_or(|b| b > m)),
                }
            })
            .collect())
    }

    /// The record systems whose feed is behind its limit, for the rules.
    pub async fn stale_feeds(&self) -> Result<Vec<switchboard_rules::StaleFeed>, ApiError> {
        Ok(self
            .feeds()
            .await?
            .into_iter()
            .filter(|f| f.stale)
            .filter_map(|f| {
                Some(switchboard_rules::StaleFeed {
                    system: System::parse(&f.system)?,
                    minutes_behind: f.minutes_behind,
                    max_minutes: f.max_minutes?,
                })
            })
            .collect())
    }

    /// Now in milliseconds since the Unix epoch (audit entries).
    pub fn now_ms(&self) -> i64 {
        (self.now().unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Writes an audit entry durably; an error means the action must not happen.
    pub async fn record(&self, entry: switchboard_audit::Entry) -> Result<u64, ApiError> {
        let log = self.audit.as_ref().ok_or_else(audit_unavailable)?;
        log.append(entry).await.map_err(audit_failed)
    }

    /// Writes the entry that begins a change (before it is made), marked open until the
    /// returned action is ended: one a crash cuts off gets its "failed" entry at the next
    /// start, one whose request is abandoned gets it at once.
    pub async fn begin(
        &self,
        entry: switchboard_audit::Entry,
    ) -> Result<switchboard_audit_host::OpenAction, ApiError> {
        let log = self.audit.as_ref().ok_or_else(audit_unavailable)?;
        log.begin(entry).await.map_err(audit_failed)
    }

    /// With a budget of `per_minute` partner requests per agency.
    pub fn with_partner_rate(mut self, per_minute: u32) -> Self {
        self.partner_limits = Arc::new(api::partner::RateLimits::new(per_minute));
        self
    }

    /// With the call distributor behind the `/acd` routes.
    pub fn with_acd(mut self, acd: Arc<switchboard_acd_host::AcdHost>) -> Self {
        self.acd = Some(acd);
        self
    }

    /// Now, at the microsecond precision every backend stores.
    pub fn now(&self) -> OffsetDateTime {
        switchboard_domain::stored_precision((self.clock)())
    }

    /// The center's calendar day, which decides whether agreements and certifications are in
    /// effect. It is the UTC day for now; see ARCHITECTURE.md.
    pub fn today(&self) -> Date {
        self.now().date()
    }
}

/// The answer when there is no audit log to write to.
pub fn audit_unavailable() -> ApiError {
    ApiError::unavailable(
        "audit_unavailable",
        "the audit log is not available, so nothing can be done; retry shortly",
    )
}

/// The answer when an audit entry could not be written: the action was not done.
pub fn audit_failed(e: switchboard_audit_host::AuditError) -> ApiError {
    tracing::error!(error = ?e, "audit write failed; the action is refused");
    ApiError::unavailable(
        "audit_unavailable",
        "the action could not be audited, so it was not done; retry shortly",
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        description = "The JSON API of Switchboard, the law-enforcement support center platform. Errors always have the shape {code, message, type, field?}.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "registry", description = "Partner agencies, 287(g) agreements and officers"),
        (name = "callers", description = "Caller identification by phone number"),
        (name = "calls", description = "Calls into the center"),
        (name = "lookups", description = "Identity resolution: the subject against the record systems"),
        (name = "acd", description = "The call distributor: queues, agents, calls, statistics, live events"),
        (name = "staffing", description = "Staffing requirements, Erlang C and A, shift schedules"),
        (name = "dispositions", description = "Hard checks, dispositions and their review, juvenile-liaison cases"),
        (name = "accounts", description = "Logon with a second factor, sessions, users and roles"),
        (name = "audit", description = "The tamper-evident audit log: search, per-subject accounting, anomalies, proofs, verification")
    )
)]
struct ApiDoc;

/// The API routes and the OpenAPI document that describes them.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    use api::{
        acd, audit, callers, calls, determinations, dispositions, lookups, partner, records,
        registry, staffing, users,
    };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(registry::list_agencies, registry::create_agency))
        .routes(routes!(registry::get_agency, registry::patch_agency))
        .routes(routes!(
            registry::list_agreements,
            registry::create_agreement
        ))
        .routes(routes!(registry::get_agreement, registry::patch_agreement))
        .routes(routes!(registry::list_officers, registry::create_officer))
        .routes(routes!(registry::get_officer, registry::patch_officer))
        .routes(routes!(callers::lookup_caller))
        .routes(routes!(calls::list_calls))
        .routes(routes!(calls::get_call))
        .routes(routes!(lookups::lookup))
        .routes(routes!(acd::queues))
        .routes(routes!(acd::agents))
        .routes(routes!(acd::calls, acd::inject))
        .routes(routes!(acd::hangup))
        .routes(routes!(acd::callback))
        .routes(routes!(acd::end))
        .routes(routes!(acd::answer))
        .routes(routes!(acd::reject))
        .routes(routes!(acd::set_state))
        .routes(routes!(acd::intervals))
        .routes(routes!(acd::events))
        .routes(routes!(staffing::staffing))
        .routes(routes!(dispositions::evaluate_inquiry))
        .routes(routes!(dispositions::list, dispositions::create))
        .routes(routes!(dispositions::get))
        .routes(routes!(dispositions::approve))
        .routes(routes!(dispositions::refuse))
        .routes(routes!(dispositions::override_rule))
        .routes(routes!(determinations::list, determinations::create))
        .routes(routes!(determinations::get))
        .routes(routes!(determinations::approve))
        .routes(routes!(determinations::refuse))
        .routes(routes!(dispositions::list_cases))
        .routes(routes!(dispositions::get_case, dispositions::update_case))
        .routes(routes!(auth::logon, auth::current, auth::logoff))
        .routes(routes!(auth::unlock))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::patch))
        .routes(routes!(users::unlock))
        .routes(routes!(users::role_requests))
        .routes(routes!(users::approve_role))
        .routes(routes!(users::refuse_role))
        .routes(routes!(audit::entries))
        .routes(routes!(audit::accounting))
        .routes(routes!(audit::anomalies))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::checkpoints))
        .routes(routes!(audit::inclusion))
        .routes(routes!(audit::consistency))
        .routes(routes!(partner::create_key, partner::list_keys))
        .routes(routes!(partner::revoke_key))
        .routes(routes!(partner::send_json, partner::list))
        .routes(routes!(partner::send_iaq))
        .routes(routes!(partner::status))
        .routes(routes!(partner::status_iar))
        .routes(routes!(records::ingest))
        .routes(routes!(records::create_feed_key, records::list_feed_keys))
        .routes(routes!(records::revoke_feed_key))
        .routes(routes!(records::status))
        .routes(routes!(records::retrain))
        .split_for_parts()
}

/// The OpenAPI document, as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = serde_json::to_value(openapi_base()).expect("the document serialises");
    api_doc::complete(&mut doc);
    serde_json::from_value(doc).expect("the completed document is an OpenAPI document")
}

/// The document as the handlers' annotations make it, before [`api_doc::complete`].
fn openapi_base() -> utoipa::openapi::OpenApi {
    let mut doc = api().1;
    doc.servers = Some(vec![utoipa::openapi::Server::new("/api/v1")]);
    doc
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let (api, _) = api();
    // Every API route passes the guard: session, CSRF, permission, audit.
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::guard,
    ));
    let doc = openapi();
    let api = api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move { axum::Json(doc) }
        }),
    );
    Router::new()
        .nest("/api/v1", api)
        .merge(ops::routes())
        .merge(ui::routes(state.clone()))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "route_not_found",
                "not_found",
                "no such route",
            )
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "invalid_request",
                "this route does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admission::admit,
        ))
        .layer(axum::middleware::from_fn(ops::record_http_metrics))
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(ops::panic_response))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    ops::install_metrics();
    // Connection info gives the client's address to the audit log.
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
