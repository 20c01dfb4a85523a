//! The browser desktops: server-rendered pages (askama) with live fragments over server-sent
//! events (htmx and its SSE extension, vendored under `/assets`).
//!
//! Pages only read and render; every action a page offers is a call to the guarded JSON API
//! (with the session's CSRF token from the page's `<meta>`), so the API's permission checks,
//! audit entries and errors apply to the browser exactly as to any client. What changes then
//! reaches the page through its event stream, re-rendered by the same templates, so no page
//! needs a refresh and every name shown goes through askama's HTML escaping.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use futures_util::Stream;
use switchboard_accounts::Permission;
use switchboard_acd::{AgentState, AgentStatus, CallView, Phase, QueueStatus};
use switchboard_audit::Entry;
use switchboard_domain::E164;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;
use crate::api::callers::{CallerCard, caller_card};
use crate::auth::{self, Principal};
use crate::error::ApiError;

const HTMX: &str = include_str!("../assets/htmx.min.js");
const HTMX_SSE: &str = include_str!("../assets/htmx-sse.js");
const APP_JS: &str = include_str!("../assets/app.js");
const APP_CSS: &str = include_str!("../assets/app.css");
const ICON: &str = include_str!("../assets/icon.svg");

/// The pages and their assets.
pub fn routes(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/desk", get(desk))
        .route("/desk/stream", get(desk_stream))
        .route_layer(axum::middleware::from_fn_with_state(state, page_guard));
    let ui = Router::new()
        .route("/", get(|| async { Redirect::to("/desk") }))
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

/// Pages need a session: without one the browser goes to the logon page (and a stream
/// answers 204, which tells the browser's EventSource to stop reconnecting). The desk needs
/// the permission to watch the call distributor. Each page view is audited; the stream audits
/// each caller card it discloses (see [`Cards`]).
async fn page_guard(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let stream = path.ends_with("/stream");
    let principal = match auth::page_principal(&app, req.headers(), req.extensions()).await {
        Ok(p) => p,
        Err(_) if stream => return StatusCode::NO_CONTENT.into_response(),
        Err(_) => return Redirect::to("/login").into_response(),
    };
    if !principal.can(Permission::AcdView) {
        let entry = principal.refusal(
            format!("page {path}"),
            &path,
            Permission::AcdView,
            app.now_ms(),
        );
        if let Err(e) = app.record(entry).await {
            return e.into_response();
        }
        return (
            StatusCode::FORBIDDEN,
            Html("<!doctype html><title>Not for your role</title><p>Your role may not use the call-taker's desk. <a href=\"/login\">Log on as someone else</a>.</p>"),
        )
            .into_response();
    }
    if !stream {
        let entry =
            Entry::new(format!("page {path}"), principal.actor(), app.now_ms()).with_target(&path);
        if let Err(e) = app.record(entry).await {
            return e.into_response();
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

#[derive(Template)]
#[template(path = "login.html")]
struct Login;

async fn login() -> Response {
    page(&Login)
}

fn page(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ApiError::internal(format!("rendering a page: {e}")).into_response(),
    }
}

#[derive(Template)]
#[template(path = "desk.html")]
struct Desk {
    csrf: String,
    username: String,
    display_name: String,
    role: &'static str,
    session: String,
    idle_lock_seconds: i64,
    idle_lock_minutes: i64,
    has_agent: bool,
    agent: String,
    clock: String,
    offer: String,
    queues: String,
}

/// The call-taker's desk.
async fn desk(State(app): State<AppState>, who: Principal) -> Response {
    let view = match DeskView::read(&app, &who, &mut Cards::default()).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let idle = switchboard_accounts::policy::IDLE_LOCK_MS / 1000;
    let Ok(fragments) = view.render() else {
        return ApiError::internal("rendering the desk").into_response();
    };
    page(&Desk {
        csrf: who.csrf.clone(),
        username: who.username().to_owned(),
        display_name: who.user.display_name.as_str().to_owned(),
        role: who.role().as_str(),
        session: who.reference.clone(),
        idle_lock_seconds: idle,
        idle_lock_minutes: idle / 60,
        has_agent: view.agent.is_some(),
        agent: fragments.agent,
        clock: fragments.clock,
        offer: fragments.offer,
        queues: fragments.queues,
    })
}

/// The desk's fragments, re-sent whenever the call distributor logs something.
async fn desk_stream(
    State(app): State<AppState>,
    who: Principal,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let host = app.acd.clone().ok_or_else(no_acd)?;
    let rx = host.subscribe();
    // The clocks on the desk (time in state, waits) move even when nothing is logged.
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = DeskStream {
        app,
        who,
        rx,
        every,
        pending: Vec::new(),
        cards: Cards::default(),
        last: None,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(e) = st.pending.pop() {
                return Some((Ok(e), st));
            }
            if st.ended {
                return None;
            }
            st.wait().await?;
            // A session that has ended or locked sees nothing more; the page says so.
            if !auth::still_active(&st.app, &st.who).await {
                st.pending
                    .push(SseEvent::default().event("session").data(SESSION_OVER));
                st.ended = true;
                continue;
            }
            let view = DeskView::read(&st.app, &st.who, &mut st.cards).await.ok()?;
            let f = view.render().ok()?;
            // Only what changed is sent: a redraw would take the focus off a button.
            let before = st.last.take();
            let b = before.as_ref();
            st.pending.extend(
                [
                    changed("queues", &f.queues, b.map(|x| &x.queues)),
                    changed("clock", &f.clock, b.map(|x| &x.clock)),
                    changed("offer", &f.offer, b.map(|x| &x.offer)),
                    changed("agent", &f.agent, b.map(|x| &x.agent)),
                ]
                .into_iter()
                .flatten(),
            );
            st.last = Some(f);
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

const SESSION_OVER: &str = "<p class=\"error\" role=\"alert\">Your session has locked or ended, so nothing more is shown. <a href=\"/login\">Log on again</a>.</p>";

/// The event for a fragment, if it differs from what the page has.
fn changed(name: &str, now: &str, then: Option<&String>) -> Option<SseEvent> {
    (then.map(String::as_str) != Some(now)).then(|| SseEvent::default().event(name).data(now))
}

/// What a desk's stream keeps between refreshes.
struct DeskStream {
    app: AppState,
    who: Principal,
    rx: tokio::sync::broadcast::Receiver<std::sync::Arc<switchboard_acd_host::FeedItem>>,
    every: tokio::time::Interval,
    pending: Vec<SseEvent>,
    cards: Cards,
    last: Option<Fragments>,
    ended: bool,
}

impl DeskStream {
    /// Until the next refresh: a tick, or whatever the call distributor logged (a burst is one
    /// refresh). `None` when the distributor is gone.
    async fn wait(&mut self) -> Option<()> {
        tokio::select! {
            _ = self.every.tick() => {}
            item = self.rx.recv() => match item {
                Ok(_) | Err(RecvError::Lagged(_)) => while self.rx.try_recv().is_ok() {},
                Err(RecvError::Closed) => return None,
            },
        }
        Some(())
    }
}

/// The caller cards a desk has shown, by ACD call: each is read (and audited, as a caller
/// lookup by that user) once, not on every refresh.
#[derive(Default)]
struct Cards(HashMap<u64, std::sync::Arc<CardPanel>>);

fn no_acd() -> ApiError {
    ApiError::unavailable(
        "acd_unavailable",
        "this server runs no call distributor, so the desk has nothing to show",
    )
}

/// What the desk shows, read from the call distributor and the store.
struct DeskView {
    agent: Option<AgentPanel>,
    offer: Option<OfferPanel>,
    queues: Vec<QueueRow>,
    /// How long the agent has been in its state, and how long the offered call has waited.
    in_state: Option<String>,
    waited: Option<String>,
}

struct Fragments {
    agent: String,
    clock: String,
    offer: String,
    queues: String,
}

#[derive(Template)]
#[template(path = "agent.html")]
struct AgentFragment<'a> {
    agent: &'a Option<AgentPanel>,
}

#[derive(Template)]
#[template(path = "clock.html")]
struct ClockFragment<'a> {
    in_state: &'a Option<String>,
    waited: &'a Option<String>,
}

#[derive(Template)]
#[template(path = "offer.html")]
struct OfferFragment<'a> {
    offer: &'a Option<OfferPanel>,
}

#[derive(Template)]
#[template(path = "queues.html")]
struct QueuesFragment<'a> {
    queues: &'a [QueueRow],
}

struct AgentPanel {
    id: u64,
    state: String,
    state_class: &'static str,
    pending: Option<String>,
    answered: u64,
}

struct OfferPanel {
    call: u64,
    agent: u64,
    phase: &'static str,
    phase_class: &'static str,
    ringing: bool,
    connected: bool,
    queue: String,
    card: std::sync::Arc<CardPanel>,
}

/// The caller's card as text (every field escaped by the template).
struct CardPanel {
    number: String,
    /// False when the user's role may not see caller cards (then only the number shows).
    visible: bool,
    authorised: bool,
    problems: Vec<String>,
    officer: Option<String>,
    agency: Option<String>,
    ori: Option<String>,
    agreements: Vec<String>,
}

struct QueueRow {
    name: String,
    waiting: u32,
    longest: String,
    available: u32,
}

impl Cards {
    /// The card of ACD call `call` (store record `record`), read and audited the first time.
    async fn get(
        &mut self,
        app: &AppState,
        who: &Principal,
        call: u64,
        record: Option<uuid::Uuid>,
    ) -> Result<std::sync::Arc<CardPanel>, ApiError> {
        if let Some(c) = self.0.get(&call) {
            return Ok(c.clone());
        }
        let ani = match record {
            Some(id) => Some(
                app.store
                    .call(switchboard_domain::CallId::from_uuid(id))
                    .await?
                    .ani_raw,
            ),
            None => None,
        };
        let target = format!("/acd/calls/{call}");
        let card = if who.can(Permission::CallerLookup) {
            // Shown to this user: audited like the API's caller lookup, once per call.
            let mut entry =
                Entry::new("desk caller card", who.actor(), app.now_ms()).with_target(&target);
            entry.note = ani.clone();
            app.record(entry).await?;
            card_panel(app, ani.as_deref()).await?
        } else {
            CardPanel {
                visible: false,
                ..unknown_card(ani.unwrap_or_else(|| "number not known".to_owned()))
            }
        };
        let card = std::sync::Arc::new(card);
        // A desk sees a handful of calls an hour: keep the last few dozen.
        if self.0.len() >= 64 {
            self.0.clear();
        }
        self.0.insert(call, card.clone());
        Ok(card)
    }
}

impl DeskView {
    async fn read(app: &AppState, who: &Principal, cards: &mut Cards) -> Result<Self, ApiError> {
        let host = app.acd.clone().ok_or_else(no_acd)?;
        let username = who.username().to_owned();
        let (me, calls, queues, now) = host
            .read(|acd, now| {
                let me = acd
                    .config()
                    .agents
                    .iter()
                    .find(|a| a.user.as_deref() == Some(username.as_str()))
                    .map(|a| a.id);
                let status: Option<AgentStatus> =
                    me.and_then(|id| acd.agent_status(now).into_iter().find(|s| s.agent == id));
                (status, acd.calls(), acd.queue_status(now), now)
            })
            .await;
        let queue_name = |q: switchboard_acd::QueueId| {
            queues
                .iter()
                .find(|s| s.queue == q)
                .map_or_else(|| format!("queue {}", q.0), |s| s.name.clone())
        };
        let mut offer = None;
        let mut waited = None;
        if let Some(me) = &me
            && let Some(c) = calls.iter().find(|c| mine(c, me.agent))
        {
            let record = host
                .calls()
                .await
                .into_iter()
                .find(|(v, _)| v.call == c.call)
                .and_then(|(_, r)| r);
            let card = cards.get(app, who, c.call.0, record).await?;
            let ringing = matches!(c.phase, Phase::Ringing { .. });
            waited = Some(duration(now.saturating_sub(c.arrived)));
            offer = Some(OfferPanel {
                call: c.call.0,
                agent: me.agent.0,
                phase: if ringing {
                    "Offered to you"
                } else {
                    "Connected"
                },
                phase_class: if ringing { "ringing" } else { "connected" },
                ringing,
                connected: !ringing,
                queue: queue_name(c.queue),
                card,
            });
        }
        Ok(Self {
            in_state: me.as_ref().and_then(|s| s.in_state_ms).map(duration),
            agent: me.map(|s| agent_panel(&s)),
            offer,
            waited,
            queues: queues.iter().map(queue_row).collect(),
        })
    }

    fn render(&self) -> Result<Fragments, askama::Error> {
        Ok(Fragments {
            agent: one_line(AgentFragment { agent: &self.agent }.render()?),
            clock: one_line(
                ClockFragment {
                    in_state: &self.in_state,
                    waited: &self.waited,
                }
                .render()?,
            ),
            offer: one_line(OfferFragment { offer: &self.offer }.render()?),
            queues: one_line(
                QueuesFragment {
                    queues: &self.queues,
                }
                .render()?,
            ),
        })
    }
}

/// An SSE data field ends at a newline: a fragment is sent as one line (HTML does not mind).
fn one_line(html: String) -> String {
    html.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn mine(c: &CallView, agent: switchboard_acd::AgentId) -> bool {
    match c.phase {
        Phase::Ringing { agent: a, .. } | Phase::Connected { agent: a } => a == agent,
        Phase::Waiting => false,
    }
}

fn agent_panel(s: &AgentStatus) -> AgentPanel {
    let (state, class) = match &s.state {
        AgentState::LoggedOut => ("Logged out".to_owned(), "out"),
        AgentState::Available { .. } => ("Available".to_owned(), "available"),
        AgentState::Offered { .. } => ("Call offered".to_owned(), "offered"),
        AgentState::OnCall { .. } => ("On a call".to_owned(), "oncall"),
        AgentState::AfterCallWork { .. } => ("After-call work".to_owned(), "acw"),
        AgentState::Break { reason, .. } => (format!("Break ({reason})"), "break"),
    };
    AgentPanel {
        id: s.agent.0,
        state,
        state_class: class,
        pending: s.pending.as_ref().map(|p| match p {
            switchboard_acd::Requested::LogIn => "log in".to_owned(),
            switchboard_acd::Requested::Available => "available".to_owned(),
            switchboard_acd::Requested::Break { reason } => format!("break ({reason})"),
            switchboard_acd::Requested::LogOut => "log out".to_owned(),
        }),
        answered: s.today.answered,
    }
}

fn queue_row(q: &QueueStatus) -> QueueRow {
    QueueRow {
        name: q.name.clone(),
        waiting: q.waiting,
        longest: q.longest_wait_ms.map_or_else(|| "–".to_owned(), duration),
        available: q.available,
    }
}

/// The caller's card for a calling number as signalled (anything that is not E.164 is an
/// unknown caller, shown as it came).
async fn card_panel(app: &AppState, ani: Option<&str>) -> Result<CardPanel, ApiError> {
    let Some(raw) = ani else {
        return Ok(unknown_card("number not known".to_owned()));
    };
    let Ok(phone) = E164::parse(raw) else {
        return Ok(unknown_card(raw.to_owned()));
    };
    let card: CallerCard = caller_card(app, &phone).await?;
    Ok(CardPanel {
        number: phone.as_str().to_owned(),
        visible: true,
        authorised: card.authorised,
        problems: card.problems.into_iter().map(|p| p.message).collect(),
        officer: card.officer.as_ref().map(|o| {
            format!(
                "{} {} (badge {})",
                o.officer.given_name.as_str(),
                o.officer.family_name.as_str(),
                label(&o.officer.badge)
            )
        }),
        agency: card
            .agency
            .as_ref()
            .map(|a| a.agency.name.as_str().to_owned()),
        ori: card.agency.as_ref().map(|a| label(&a.agency.ori)),
        agreements: card
            .agreements
            .iter()
            .map(|a| {
                format!(
                    "{} ({})",
                    label(&a.agreement.model),
                    label(&a.status).replace('_', " ")
                )
            })
            .collect(),
    })
}

fn unknown_card(number: String) -> CardPanel {
    CardPanel {
        number,
        visible: true,
        authorised: false,
        problems: vec!["The calling number is not registered to any partner officer.".to_owned()],
        officer: None,
        agency: None,
        ori: None,
        agreements: Vec::new(),
    }
}

/// A value's serialised form as text (codes and identifiers serialise as strings).
fn label<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// Milliseconds as `m:ss` (or `h:mm:ss`).
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
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
    fn fragments_are_one_line_and_escape_names() {
        let card = unknown_card("<script>alert(1)</script>".to_owned());
        let offer = Some(OfferPanel {
            call: 1,
            agent: 2,
            phase: "Offered to you",
            phase_class: "ringing",
            ringing: true,
            connected: false,
            queue: "Inquiry <b>desk</b>".to_owned(),
            card: std::sync::Arc::new(card),
        });
        let html = one_line(OfferFragment { offer: &offer }.render().unwrap());
        assert!(!html.contains('\n'));
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>desk"), "{html}");
    }
}
