//! Operational endpoints and cross-cutting layers: health, readiness, Prometheus metrics,
//! request metrics, and the answer to a panic.

use std::any::Any;
use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;

static METRICS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once; later calls reuse it.
pub fn install_metrics() -> &'static PrometheusHandle {
    METRICS.get_or_init(|| {
        PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ])
            .expect("bucket list is not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve requests: its database answers. The record index is reported beside
/// it (lookups wait for it; everything else does not).
async fn readyz(State(app): State<AppState>) -> Response {
    use crate::lookup_index::IndexState;
    let position = app.index.position();
    let index = match app.index.state() {
        IndexState::NotStarted => json!({ "state": "not_started" }),
        IndexState::Loading { records } => json!({ "state": "loading", "records": records }),
        IndexState::Ready { records } => {
            json!({ "state": "ready", "records": records, "position": position })
        }
        IndexState::Failed(why) => json!({ "state": "failed", "reason": why }),
    };
    match app.store.ping().await {
        Ok(()) => Json(json!({
            "status": "ready",
            "database": app.store.backend(),
            "record_index": index,
        }))
        .into_response(),
        Err(e) => {
            tracing::warn!(error = ?e, "readiness check failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "unavailable",
                "the database does not answer",
            )
            .into_response()
        }
    }
}

async fn metrics_text(State(app): State<AppState>) -> Response {
    let handle = install_metrics();
    // The live records' gauges, as of this scrape.
    if let Ok(feeds) = app.feeds().await {
        for f in feeds {
            let system = f.system.clone();
            if let Some(m) = f.minutes_behind {
                metrics::gauge!("switchboard_record_feed_lag_seconds", "system" => system.clone())
                    .set((m * 60) as f64);
            }
            if let Some(m) = f.max_minutes {
                metrics::gauge!("switchboard_record_feed_max_lag_seconds", "system" => system.clone())
                    .set((m * 60) as f64);
            }
            metrics::gauge!("switchboard_record_feed_stale", "system" => system)
                .set(f64::from(u8::from(f.stale)));
        }
    }
    if let Ok(head) = app.store.record_position().await {
        metrics::gauge!("switchboard_record_changes_position").set(head as f64);
    }
    if let Some(p) = app.index.position() {
        metrics::gauge!("switchboard_index_position").set(p as f64);
    }
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Counts every request and times it, labelled by route template (never by raw path, which
/// would carry ids and phone numbers into the metrics).
pub async fn record_http_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

pub fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal",
        "an internal error occurred; it has been logged",
    )
    .into_response()
}
