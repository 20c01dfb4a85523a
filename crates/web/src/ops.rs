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

/// The process can serve requests: its database takes a write, its audit writer runs (without it
/// every audited action fails) and its record index has not failed (it is rebuilt every 30 s
/// until it works; while it loads, everything but lookups is served). Each part is reported.
async fn readyz(State(app): State<AppState>) -> Response {
    use crate::lookup_index::IndexState;
    let position = app.index.position();
    let (index, index_ok) = match app.index.state() {
        IndexState::NotStarted => (json!({ "state": "not_started" }), true),
        IndexState::Loading { records } => {
            (json!({ "state": "loading", "records": records }), true)
        }
        IndexState::Ready { records } => (
            json!({ "state": "ready", "records": records, "position": position }),
            true,
        ),
        IndexState::Failed(why) => (json!({ "state": "failed", "reason": why }), false),
    };
    let audit_ok = app.audit.as_ref().is_some_and(|a| a.is_running());
    let database_ok = database_takes_writes(&app).await;
    let acd = app.acd.as_ref().map(|_| "running");
    let parts = json!({
        "database": { "backend": app.store.backend(), "ok": database_ok },
        "audit_writer": if audit_ok { "running" } else { "stopped" },
        "record_index": index,
        "acd": acd,
    });
    if database_ok && audit_ok && index_ok {
        let mut body = parts;
        body["status"] = json!("ready");
        body["database"] = json!(app.store.backend());
        return Json(body).into_response();
    }
    let (code, message) = if !database_ok {
        ("database_unavailable", "the database does not take writes")
    } else if !audit_ok {
        (
            "audit_unavailable",
            "the audit writer is not running: audited actions would fail",
        )
    } else {
        (
            "record_index_failed",
            "the record index could not be built; it is tried again every 30 s",
        )
    };
    let mut res = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        "unavailable",
        message,
    )
    .into_response();
    // The parts, beside the error, for the operator.
    if let Ok(v) = axum::http::HeaderValue::from_str(&parts.to_string()) {
        res.headers_mut().insert("x-readiness", v);
    }
    res
}

/// Whether the database takes a write, probed at most once a second (callers within the
/// second share the answer, so a flood of `/readyz` costs no more than one write a second).
async fn database_takes_writes(app: &AppState) -> bool {
    let mut last = app.database_probe.lock().await;
    if let Some((at, ok)) = *last
        && at.elapsed() < std::time::Duration::from_secs(1)
    {
        return ok;
    }
    let ok = match tokio::time::timeout(std::time::Duration::from_secs(5), app.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = ?e, "readiness check: the database refused a write");
            false
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not take a write within 5 s");
            false
        }
    };
    *last = Some((std::time::Instant::now(), ok));
    ok
}

/// Whether `/metrics` answers: a loopback client, or the configured token.
fn metrics_allowed(loopback: bool, token: Option<&str>, bearer: Option<&str>) -> bool {
    loopback
        || match (token, bearer) {
            (Some(t), Some(b)) => crate::auth::constant_time_eq(t.as_bytes(), b.trim().as_bytes()),
            _ => false,
        }
}

/// The metrics, for this machine's collector (a loopback client) or for whoever sends the
/// configured token (`Authorization: Bearer …`); anyone else gets 403.
async fn metrics_text(State(app): State<AppState>, req: axum::extract::Request) -> Response {
    let loopback = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_none_or(|c| c.0.ip().is_loopback());
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !metrics_allowed(loopback, app.metrics_token.as_deref(), bearer) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "metrics_forbidden",
            "forbidden",
            "metrics are served to this machine, or with the configured metrics token",
        )
        .into_response();
    }
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
    metrics::gauge!("switchboard_logon_sources_throttled")
        .set(app.logon_throttle.throttled(app.now_ms()) as f64);
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

#[cfg(test)]
mod tests {
    use super::metrics_allowed;

    #[test]
    fn metrics_answer_this_machine_or_the_token_only() {
        assert!(metrics_allowed(true, None, None));
        assert!(!metrics_allowed(false, None, None));
        assert!(!metrics_allowed(false, None, Some("anything")));
        assert!(!metrics_allowed(
            false,
            Some("s3cret-token"),
            Some("s3cret-tokeN")
        ));
        assert!(!metrics_allowed(false, Some("s3cret-token"), None));
        assert!(metrics_allowed(
            false,
            Some("s3cret-token"),
            Some("s3cret-token")
        ));
    }
}
