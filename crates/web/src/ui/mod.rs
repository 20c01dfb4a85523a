//! The browser desktops: server-rendered pages (askama) with live fragments over server-sent
//! events (htmx and its SSE extension, vendored under `/assets`).
//!
//! Pages read and render. Every change a page makes is a call to the guarded JSON API (with
//! the session's CSRF token from the page's `<meta>`), so the API's permission checks, audit
//! entries and errors apply to the browser exactly as to any client; the few page actions that
//! answer with HTML (`/desk/lookup`, ...) run the API's own handler and render its answer.
//! What changes then reaches the page through its event stream ([`live`]), re-rendered by the
//! same templates, so no page needs a refresh and every name shown goes through askama's HTML
//! escaping.
//!
//! | page | for | permission |
//! |---|---|---|
//! | `/desk` | call-takers (and liaisons taking calls) | `acd_view` |
//! | `/wall` | supervisors, planners | `acd_view` |
//! | `/reviews` | supervisors, legal reviewers | `disposition_review` |
//! | `/liaison` | the juvenile-liaison desk | `liaison_read` |
//! | `/auditor` | auditors | `audit_read` |
//! | `/admin` | administrators | `user_admin` |

mod admin;
mod auditor;
mod desk;
mod liaison;
mod live;
mod wall;

pub use wall::DayPlan;

use askama::Template;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use switchboard_accounts::Permission;
use switchboard_audit::Entry;
use switchboard_domain::Role;

use crate::AppState;
use crate::auth::{self, PageSession, Principal};
use crate::error::ApiError;

const HTMX: &str = include_str!("../../assets/htmx.min.js");
const HTMX_SSE: &str = include_str!("../../assets/htmx-sse.js");
const APP_JS: &str = include_str!("../../assets/app.js");
const APP_CSS: &str = include_str!("../../assets/app.css");
const ICON: &str = include_str!("../../assets/icon.svg");

/// The pages and their assets.
pub fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(home))
        .merge(desk::routes())
        .merge(wall::routes())
        .merge(liaison::routes())
        .merge(auditor::routes())
        .merge(admin::routes())
        .route_layer(axum::middleware::from_fn_with_state(state, page_guard));
    let ui = Router::new()
        .route("/login", get(login))
        .route(
            "/assets/htmx.min.js",
            get(|| asset(HTMX, "text/javascript")),
        )
        .route(
            "/assets/htmx-sse.js",
            get(|| asset(HTMX_SSE, "text/javascript")),
        )
        .route("/assets/app.js", get(|| asset(APP_JS, "text/javascript")))
        .route("/assets/app.css", get(|| asset(APP_CSS, "text/css")))
        .route("/assets/icon.svg", get(|| asset(ICON, "image/svg+xml")))
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/assets/icon.svg") }),
        )
        .merge(pages);
    ui.layer(axum::middleware::from_fn(security_headers))
}

/// Who may open a page route (deny by default: a page route missing here answers 404).
fn page_permission(path: &str) -> Option<Option<Permission>> {
    use Permission as P;
    Some(match path {
        "/" => None,
        "/desk" | "/desk/stream" => Some(P::AcdView),
        "/desk/lookup" | "/desk/ahead" => Some(P::RecordsQuery),
        "/desk/evaluate" | "/desk/disposition" => Some(P::DispositionWrite),
        "/wall" | "/wall/stream" => Some(P::AcdView),
        "/reviews" | "/reviews/stream" => Some(P::DispositionReview),
        "/liaison" | "/liaison/stream" => Some(P::LiaisonRead),
        "/auditor" | "/auditor/verify" => Some(P::AuditRead),
        "/admin" => Some(P::UserAdmin),
        _ => return None,
    })
}

/// The page each role starts on.
fn home_of(role: Role) -> &'static str {
    match role {
        Role::CallTaker => "/desk",
        Role::Supervisor | Role::Planner => "/wall",
        Role::LegalReviewer => "/reviews",
        Role::JuvenileLiaison => "/liaison",
        Role::Auditor => "/auditor",
        Role::Administrator => "/admin",
    }
}

async fn home(who: Principal) -> Redirect {
    Redirect::to(home_of(who.role()))
}

/// Every UI response: no framing by another site, scripts and styles only from here, no
/// sniffing; pages (everything but the assets) never from a shared cache.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    (h, body).into_response()
}

/// Pages need a session: without one the browser goes to the logon page (a stream answers
/// with one `session` event saying so; an action answers 401).
/// An idle-locked session gets the unlock form. A page action needs the CSRF token like any
/// API change. Each page needs its permission ([`page_permission`]); a refusal is audited, and
/// so is each page view (streams audit what they disclose themselves).
async fn page_guard(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let Some(needed) = page_permission(&path) else {
        return (StatusCode::NOT_FOUND, Html("<!doctype html><title>Not found</title><p>No such page. <a href=\"/\">Home</a>.</p>")).into_response();
    };
    let stream = path.ends_with("/stream");
    let action = req.method() != Method::GET;
    let away = |code| -> Response {
        if action {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                code,
                "unauthorized",
                "the session has locked or ended; unlock it or log on again",
            )
            .into_response()
        } else {
            Redirect::to("/login").into_response()
        }
    };
    // A stream tells a locked or ended session so in one event (the page closes its stream on
    // it) rather than failing, which the browser would retry forever.
    let told = |over: PageSession| live::session_event(over).into_response();
    let principal = match auth::page_principal(&app, req.headers(), req.extensions(), !stream).await
    {
        Ok((p, PageSession::Active)) => p,
        Ok((_, state)) if stream => return told(state),
        Err(_) if stream => return told(PageSession::Over),
        Ok((p, PageSession::Locked)) if !action => {
            return page(&Locked {
                chrome: Chrome::new(&app, &p, ""),
            });
        }
        Ok((_, PageSession::Locked)) => return away("session_locked"),
        Ok((_, PageSession::Over)) | Err(_) => return away("not_authenticated"),
    };
    if action && !auth::csrf_ok(req.headers(), &principal) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "forbidden",
            format!(
                "send the session's CSRF token in the {} header",
                auth::CSRF_HEADER
            ),
        )
        .into_response();
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    if let Some(p) = needed
        && !principal.can(p)
    {
        let entry = principal.refusal(format!("page {path}"), &target, p, app.now_ms());
        if let Err(e) = app.record(entry).await {
            return e.into_response();
        }
        if action {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "forbidden",
                format!("your role ({}) may not do this", principal.role().as_str()),
            )
            .into_response();
        }
        let home = home_of(principal.role());
        return (
            StatusCode::FORBIDDEN,
            Html(format!("<!doctype html><title>Not for your role</title><p>Your role may not use this page. <a href=\"{home}\">Your desktop</a> · <a href=\"/login\">Log on as someone else</a>.</p>")),
        )
            .into_response();
    }
    // Page views are audited; actions and streams audit what they do and disclose themselves.
    if !stream && !action {
        let entry =
            Entry::new(format!("page {path}"), principal.actor(), app.now_ms()).with_target(target);
        if let Err(e) = app.record(entry).await {
            return e.into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// The frame of every page: who is logged on, the session's rules, the pages the role may use.
pub(crate) struct Chrome {
    pub csrf: String,
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub session: String,
    pub idle_lock_seconds: i64,
    pub idle_lock_minutes: i64,
    pub nav: Vec<NavLink>,
    /// The server's clock (epoch ms), so the page's timers count from it, not the browser's.
    pub server_now: i64,
}

pub(crate) struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

impl Chrome {
    pub fn new(app: &AppState, who: &Principal, here: &str) -> Self {
        let idle = switchboard_accounts::policy::IDLE_LOCK_MS / 1000;
        let nav = [
            ("/desk", "Desk", Permission::AcdView),
            ("/wall", "Wallboard", Permission::AcdView),
            ("/reviews", "Reviews", Permission::DispositionReview),
            ("/liaison", "Liaison desk", Permission::LiaisonRead),
            ("/auditor", "Audit", Permission::AuditRead),
            ("/admin", "Administration", Permission::UserAdmin),
        ]
        .into_iter()
        .filter(|(_, _, p)| who.can(*p))
        .map(|(href, label, _)| NavLink {
            href,
            label,
            current: href == here,
        })
        .collect();
        Self {
            csrf: who.csrf.clone(),
            username: who.username().to_owned(),
            display_name: who.user.display_name.as_str().to_owned(),
            role: who.role().as_str(),
            session: who.reference.clone(),
            idle_lock_seconds: idle,
            idle_lock_minutes: idle / 60,
            nav,
            server_now: app.now_ms(),
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login;

async fn login() -> Response {
    page(&Login)
}

/// The page an idle-locked session sees: unlock with password and a fresh code.
#[derive(Template)]
#[template(path = "locked.html")]
struct Locked {
    chrome: Chrome,
}

pub(crate) fn page(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(format!("rendering a page: {e}")).into_response(),
    }
}

/// A fragment rendered for a page action (or an error as the API gives it).
pub(crate) fn fragment(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(one_line(html)).into_response(),
        Err(e) => ApiError::internal(format!("rendering a fragment: {e}")).into_response(),
    }
}

/// An SSE data field ends at a newline: a fragment is sent as one line (HTML does not mind).
pub(crate) fn one_line(html: String) -> String {
    html.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value's serialised form as text (codes and identifiers serialise as strings).
pub(crate) fn label<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// A code as words: `final_order` → `final order`.
pub(crate) fn words<T: serde::Serialize>(v: &T) -> String {
    label(v).replace('_', " ")
}

/// Milliseconds as `m:ss` (or `h:mm:ss`).
pub(crate) fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A share as a whole percentage, or a dash.
pub(crate) fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |v| format!("{:.0}%", v * 100.0))
}

/// A UTC instant as the pages show it.
pub(crate) fn when(t: time::OffsetDateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        t.date(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_clocks() {
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(61_000), "1:01");
        assert_eq!(duration(3_723_000), "1:02:03");
    }

    #[test]
    fn every_role_has_a_home_it_may_open() {
        for &role in Role::ALL {
            let home = home_of(role);
            let needed = page_permission(home).expect("a page");
            assert!(
                needed.is_none_or(|p| switchboard_accounts::allows(role, p)),
                "{role:?} starts on {home}, which it may not open"
            );
        }
    }

    #[test]
    fn unknown_pages_are_refused() {
        assert_eq!(page_permission("/desk/other"), None);
        assert_eq!(page_permission("/api/v1/lookups"), None);
    }
}
