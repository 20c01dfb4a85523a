//! Admission control: what the server takes on before any handler runs, so that a flood is
//! shed at once instead of slowing everyone.
//!
//! - At most [`AdmissionLimits::max_in_flight`] requests are worked on at once; one more is
//!   answered 503 with `Retry-After` at once (the browser's event streams count apart, up to
//!   [`AdmissionLimits::max_streams`]). `/healthz`, `/readyz` and `/metrics` are always
//!   answered.
//! - Every read (GET, HEAD) has [`AdmissionLimits::request_timeout`]: past it the handler is
//!   dropped (its work cancelled at the next await) and the answer is 503 `timeout`; changes
//!   run to their end, so none is left half done after its audit entry.
//! - Each source address may send [`AdmissionLimits::source_rate`] requests a second (bursts
//!   up to `source_burst`), and each session besides `session_rate` (`session_burst`);
//!   beyond, 429 with `Retry-After`.
//! - Every error the server answers is in the JSON error shape, whoever produced it (an
//!   extractor's rejection, a body limit): a text error from below is rewritten.
//!
//! [`RefusalSummaries`] lets refusals of unauthenticated callers be audited as one entry a
//! source a minute with their count, instead of one entry a request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::ApiError;

/// The bounds of [`admit`]; [`Default`] gives the documented ones.
#[derive(Debug, Clone)]
pub struct AdmissionLimits {
    pub max_in_flight: usize,
    pub max_streams: usize,
    pub request_timeout: Duration,
    pub session_rate: f64,
    pub session_burst: f64,
    pub source_rate: f64,
    pub source_burst: f64,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            max_streams: 2_000,
            request_timeout: Duration::from_secs(30),
            session_rate: 50.0,
            session_burst: 200.0,
            source_rate: 100.0,
            source_burst: 400.0,
        }
    }
}

/// Token buckets by key, bounded: keys idle long enough to be full again are forgotten first.
#[derive(Debug, Default)]
struct Buckets {
    map: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Keys remembered at most per bucket map.
const MAX_KEYS: usize = 100_000;

impl Buckets {
    /// Takes a token for `key`; `Err(seconds)` to wait when there is none.
    fn take(&self, key: &str, rate: f64, burst: f64) -> Result<(), u64> {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let (tokens, at) = map.entry(key.to_owned()).or_insert((burst, now));
        let elapsed = now.duration_since(*at).as_secs_f64();
        *at = now;
        take_token(tokens, elapsed, rate, burst)
    }
}

/// One step of a token bucket: refills `tokens` for `elapsed_s` seconds at `rate` a second
/// (up to `burst`) and takes one; `Err(seconds)` to wait when there is none. The partner
/// channel's per-agency budget and the admission buckets both use it.
pub(crate) fn take_token(
    tokens: &mut f64,
    elapsed_s: f64,
    rate: f64,
    burst: f64,
) -> Result<(), u64> {
    *tokens = (*tokens + elapsed_s.max(0.0) * rate).min(burst);
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        Ok(())
    } else {
        Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
    }
}

/// The server's admission state.
#[derive(Debug)]
pub struct Admission {
    pub limits: AdmissionLimits,
    in_flight: Arc<Semaphore>,
    streams: Arc<Semaphore>,
    sessions: Buckets,
    sources: Buckets,
}

impl Admission {
    pub fn new(limits: AdmissionLimits) -> Self {
        Self {
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight)),
            streams: Arc::new(Semaphore::new(limits.max_streams)),
            sessions: Buckets::default(),
            sources: Buckets::default(),
            limits,
        }
    }
}

impl Default for Admission {
    fn default() -> Self {
        Self::new(AdmissionLimits::default())
    }
}

fn saturated() -> Response {
    metrics::counter!("switchboard_requests_shed_total", "why" => "saturated").increment(1);
    let mut e = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        "unavailable",
        "the server is at its limit of requests in progress; retry in a moment",
    );
    e.retry_after = Some(1);
    e.into_response()
}

fn rate_limited(what: &str, wait: u64) -> Response {
    metrics::counter!("switchboard_requests_shed_total", "why" => "rate").increment(1);
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "rate_limited",
        format!("too many requests from this {what}; retry in {wait} s"),
    );
    e.retry_after = Some(wait);
    e.into_response()
}

/// The session cookie's value, hashed (the key of its bucket; the token itself is not kept).
fn session_key(req: &Request) -> Option<String> {
    use sha2::{Digest, Sha256};
    let cookie = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == crate::auth::COOKIE)
        .map(|(_, v)| v.trim().to_owned())?;
    let digest = Sha256::digest(cookie.as_bytes());
    Some(digest[..12].iter().map(|b| format!("{b:02x}")).collect())
}

/// The middleware: bounds, rate limits and a deadline, before anything else runs.
pub async fn admit(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let Some(adm) = app.admission.clone() else {
        return json_errors(next.run(req).await).await;
    };
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return next.run(req).await;
    }
    let stream = matches!(
        path,
        "/desk/stream"
            | "/wall/stream"
            | "/reviews/stream"
            | "/liaison/stream"
            | "/api/v1/acd/events"
    );
    // Rate: every request by its source address; one with a session cookie by its session
    // too (a made-up cookie buys nothing: the address's budget still applies).
    let source = req
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| crate::logon_throttle::source_key(Some(&c.0.ip().to_string())))
        .unwrap_or_else(|| "unknown".to_owned());
    let limited = adm
        .sources
        .take(&source, adm.limits.source_rate, adm.limits.source_burst)
        .map_err(|w| ("address", w))
        .and_then(|()| match session_key(&req) {
            Some(key) => adm
                .sessions
                .take(&key, adm.limits.session_rate, adm.limits.session_burst)
                .map_err(|w| ("session", w)),
            None => Ok(()),
        });
    if let Err((what, wait)) = limited {
        return rate_limited(what, wait);
    }
    if stream {
        let Ok(permit) = adm.streams.clone().try_acquire_owned() else {
            return saturated();
        };
        let res = next.run(req).await;
        // The permit lives as long as the stream's body (until it ends or the client leaves).
        let (parts, body) = res.into_parts();
        let body = Body::from_stream(futures_util::StreamExt::map(
            body.into_data_stream(),
            move |chunk| {
                let _held = &permit;
                chunk
            },
        ));
        return Response::from_parts(parts, body);
    }
    let Ok(_permit) = adm.in_flight.clone().try_acquire_owned() else {
        return saturated();
    };
    // The deadline cuts reads short; a change runs to its end (it is bounded by its own
    // limits), so that nothing is left half done with its audit entry written.
    let reads = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if !reads {
        return json_errors(next.run(req).await).await;
    }
    match tokio::time::timeout(adm.limits.request_timeout, next.run(req)).await {
        Ok(res) => json_errors(res).await,
        Err(_) => {
            metrics::counter!("switchboard_requests_shed_total", "why" => "timeout").increment(1);
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "unavailable",
                format!(
                    "the request took longer than {} s and was stopped",
                    adm.limits.request_timeout.as_secs()
                ),
            )
            .into_response()
        }
    }
}

/// An error answered in another shape than the JSON one (a rejection's text, an empty 413),
/// rewritten into it; the pages' HTML and every JSON answer pass as they are.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let kind = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if kind.starts_with("application/json") || kind.starts_with("text/html") {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (code, kind) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("body_too_large", "invalid_request"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "invalid_request"),
        StatusCode::NOT_FOUND => ("not_found", "not_found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "invalid_request"),
        s if s.is_server_error() => ("internal_error", "internal"),
        _ => ("invalid_request", "invalid_request"),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request was refused")
            .to_owned()
    } else {
        text
    };
    let mut out = ApiError::new(status, code, kind, message).into_response();
    // The other headers stay (Allow, WWW-Authenticate, Retry-After…).
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// Refusals of callers not yet known (no session, no valid key), counted per source and
/// audited as one entry a source a minute.
#[derive(Debug, Default)]
pub struct RefusalSummaries {
    map: Mutex<HashMap<String, (i64, u64)>>,
}

impl RefusalSummaries {
    /// Notes a refusal of `source` at `now_ms`: `Some(n)` when it is to be audited (the first
    /// of its minute), `n` the refusals since the last audited one that were not.
    pub fn note(&self, source: &str, now_ms: i64) -> Option<u64> {
        let minute = now_ms.div_euclid(60_000);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS && !map.contains_key(source) {
            map.retain(|_, (m, _)| *m >= minute);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
        }
        let entry = map.entry(source.to_owned()).or_insert((minute - 1, 0));
        if entry.0 < minute {
            let skipped = entry.1;
            *entry = (minute, 0);
            Some(skipped)
        } else {
            entry.1 += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let b = Buckets::default();
        for _ in 0..5 {
            assert_eq!(b.take("k", 1.0, 5.0), Ok(()));
        }
        assert_eq!(b.take("k", 1.0, 5.0), Err(1));
        assert_eq!(b.take("other", 1.0, 5.0), Ok(()));
    }

    #[test]
    fn refusals_are_summarised_a_minute_at_a_time() {
        let s = RefusalSummaries::default();
        assert_eq!(s.note("a", 0), Some(0));
        for i in 1..50 {
            assert_eq!(s.note("a", i * 1000), None);
        }
        assert_eq!(s.note("b", 1000), Some(0));
        assert_eq!(s.note("a", 60_000), Some(49));
        assert_eq!(s.note("a", 60_001), None);
    }
}
