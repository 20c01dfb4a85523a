//! The supervisor's wallboard: queues, agents, calls in progress, today's volume and service
//! level by interval against the staffing plan, and the review queue. The reviewers' page
//! (`/reviews`) is the review queue alone.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchboard_accounts::Permission;
use switchboard_acd::{AgentState, Counters, Phase, QueueStatus, Scope};
use switchboard_audit::Entry;
use switchboard_domain::Role;
use switchboard_staffing::Targets;
use switchboard_staffing::plan::Plan;
use switchboard_staffing::report::{self, Request, Volume};
use uuid::Uuid;

use super::live::{Live, live};
use super::{Chrome, duration, one_line, page, percent, when, words};
use crate::AppState;
use crate::api::acd::jiff_date;
use crate::api::dispositions::review_queue;
use crate::auth::Principal;
use crate::error::ApiError;

/// The day's plan, or why there is none.
pub type DayPlan = Arc<Result<Plan, String>>;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/wall", get(wall))
        .route("/wall/stream", get(wall_stream))
        .route("/reviews", get(reviews))
        .route("/reviews/stream", get(reviews_stream))
}

#[derive(Template)]
#[template(path = "wall.html")]
struct WallPage {
    chrome: Chrome,
    fragments: Vec<(&'static str, String)>,
    title: &'static str,
    stream: &'static str,
}

impl WallPage {
    fn get(&self, name: &str) -> &str {
        self.fragments
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, h)| h.as_str())
    }

    fn has(&self, name: &str) -> bool {
        self.fragments.iter().any(|(n, _)| *n == name)
    }
}

async fn wall(State(app): State<AppState>, who: Principal) -> Response {
    show(
        app,
        who,
        Board::wall(),
        "/wall",
        "Wallboard",
        "/wall/stream",
    )
    .await
}

async fn reviews(State(app): State<AppState>, who: Principal) -> Response {
    show(
        app,
        who,
        Board::reviews(),
        "/reviews",
        "Reviews",
        "/reviews/stream",
    )
    .await
}

async fn show(
    app: AppState,
    who: Principal,
    mut board: Board,
    here: &str,
    title: &'static str,
    stream: &'static str,
) -> Response {
    if board.acd && app.acd.is_none() {
        return no_acd().into_response();
    }
    match board.render(&app, &who).await {
        Ok(fragments) => page(&WallPage {
            chrome: Chrome::new(&app, &who, here),
            fragments,
            title,
            stream,
        }),
        Err(e) => e.into_response(),
    }
}

async fn wall_stream(State(app): State<AppState>, who: Principal) -> Response {
    if app.acd.is_none() {
        return no_acd().into_response();
    }
    live(app, who, Board::wall(), Duration::from_secs(5), true).into_response()
}

async fn reviews_stream(State(app): State<AppState>, who: Principal) -> Response {
    live(app, who, Board::reviews(), Duration::from_secs(3), false).into_response()
}

fn no_acd() -> ApiError {
    ApiError::unavailable(
        "acd_unavailable",
        "this server runs no call distributor, so the wallboard has nothing to show",
    )
}

/// What a wallboard (or the reviews page) shows, and the dispositions it has shown (each is
/// audited once, when it first appears).
struct Board {
    acd: bool,
    shown: HashSet<Uuid>,
    /// The review queue as last rendered, and when: it is read every few seconds, not on
    /// every refresh the distributor's feed causes.
    reviews: Option<(std::time::Instant, String)>,
}

/// How often a board re-reads the review queue.
const REVIEWS_EVERY: Duration = Duration::from_secs(3);

impl Board {
    fn wall() -> Self {
        Self {
            acd: true,
            shown: HashSet::new(),
            reviews: None,
        }
    }

    fn reviews() -> Self {
        Self {
            acd: false,
            shown: HashSet::new(),
            reviews: None,
        }
    }
}

impl Live for Board {
    async fn render(
        &mut self,
        app: &AppState,
        who: &Principal,
    ) -> Result<Vec<(&'static str, String)>, ApiError> {
        let mut out = Vec::new();
        if self.acd {
            out.extend(acd_fragments(app, who).await?);
        }
        if who.can(Permission::DispositionReview) {
            let html = match &self.reviews {
                Some((at, html)) if at.elapsed() < REVIEWS_EVERY => html.clone(),
                _ => {
                    let html = self.review_fragment(app, who).await?;
                    self.reviews = Some((std::time::Instant::now(), html.clone()));
                    html
                }
            };
            out.push(("reviews", html));
        }
        Ok(out)
    }
}

fn rendered(t: impl Template) -> Result<String, ApiError> {
    t.render()
        .map(one_line)
        .map_err(|e| ApiError::internal(format!("rendering the wallboard: {e}")))
}

#[derive(Template)]
#[template(path = "wall_tiles.html")]
struct Tiles {
    tiles: Vec<(String, &'static str, String)>,
}

#[derive(Template)]
#[template(path = "wall_queues.html")]
struct Queues {
    rows: Vec<QueueRow>,
}

struct QueueRow {
    name: String,
    open: bool,
    waiting: u32,
    longest: String,
    ringing: u32,
    connected: u32,
    staffed: u32,
    available: u32,
    offered: u64,
    service_level: String,
    threshold: String,
    asa: String,
    abandonment: String,
    interval_sl: String,
}

#[derive(Template)]
#[template(path = "wall_agents.html")]
struct Agents {
    rows: Vec<AgentRow>,
    may_force: bool,
}

struct AgentRow {
    id: u64,
    name: String,
    state: String,
    class: &'static str,
    since: Option<u64>,
    answered: u64,
    missed: u64,
    occupancy: String,
    logged_in: bool,
    /// A forced change would end the agent's call.
    on_call: bool,
}

#[derive(Template)]
#[template(path = "wall_calls.html")]
struct Calls {
    rows: Vec<CallRow>,
}

struct CallRow {
    call: u64,
    queue: String,
    phase: String,
    agent: String,
    arrived: u64,
    callback: bool,
}

#[derive(Template)]
#[template(path = "wall_charts.html")]
struct Charts {
    volume: Chart,
    service: Chart,
    plan_note: String,
    slot_minutes: u64,
}

/// A bar chart of today's intervals with the plan as a line (SVG, no script, no style).
struct Chart {
    label: String,
    bars: Vec<ChartBar>,
    plan: String,
    target_y: Option<f64>,
    ticks: Vec<(f64, String)>,
    top: String,
}

struct ChartBar {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    title: String,
}

const CHART_W: f64 = 720.0;
const CHART_H: f64 = 140.0;

async fn acd_fragments(
    app: &AppState,
    who: &Principal,
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let host = app.acd.clone().ok_or_else(no_acd)?;
    let (queues, agents, calls, intervals, tz, slot_ms, now, day) = host
        .read(|acd, now| {
            let tz = acd.time_zone().clone();
            let date = jiff_date::local_date(&tz, now);
            // Every interval of the local day, those without calls too.
            let slot = acd.config().interval.max(1);
            let intervals = jiff_date::bounds(&tz, date)
                .map(|(from, to)| {
                    let have = acd.intervals(Scope::Center, from, to.saturating_sub(1), now);
                    // The distributor's intervals are aligned to the epoch: the first is the
                    // one holding local midnight (not on a boundary in every time zone).
                    let first = from / slot * slot;
                    (0..to.saturating_sub(first).div_ceil(slot))
                        .map(|i| {
                            let start = first + i * slot;
                            let c = have
                                .iter()
                                .find(|(s, _)| *s == start)
                                .map(|(_, c)| *c)
                                .unwrap_or_default();
                            (start, c)
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            (
                acd.queue_status(now),
                acd.agent_status(now),
                acd.calls(),
                intervals,
                tz,
                acd.config().interval,
                now,
                date,
            )
        })
        .await;
    let queue_name = |q| {
        queues
            .iter()
            .find(|s| s.queue == q)
            .map_or_else(|| "queue".to_owned(), |s| s.name.clone())
    };
    let agent_name = |a| {
        agents
            .iter()
            .find(|s| s.agent == a)
            .map_or_else(|| "agent".to_owned(), |s| s.name.clone())
    };

    let mut today = Counters::default();
    for q in &queues {
        today.add(&q.today);
    }
    let m = today.measures();
    let waiting: u32 = queues.iter().map(|q| q.waiting).sum();
    let longest = queues.iter().filter_map(|q| q.longest_wait_ms).max();
    let staffed = agents.iter().filter(|a| a.state.is_staffed()).count();
    let available = agents
        .iter()
        .filter(|a| matches!(a.state, AgentState::Available { .. }))
        .count();
    let tiles = Tiles {
        tiles: vec![
            ("Waiting now".into(), "waiting", waiting.to_string()),
            (
                "Longest wait".into(),
                "longest",
                longest.map_or_else(|| "–".into(), duration),
            ),
            (
                "Service level today".into(),
                "service-level",
                percent(m.service_level),
            ),
            (
                "ASA today".into(),
                "asa",
                m.asa_seconds
                    .map_or_else(|| "–".into(), |s| format!("{s:.0} s")),
            ),
            (
                "Abandoned today".into(),
                "abandonment",
                format!("{} ({})", today.abandoned, percent(m.abandonment)),
            ),
            (
                "Offered / answered".into(),
                "offered",
                format!("{} / {}", m.offered, today.answered),
            ),
            (
                "Agents staffed / available".into(),
                "agents",
                format!("{staffed} / {available}"),
            ),
        ],
    };

    let queue_rows = Queues {
        rows: queues.iter().map(queue_row).collect(),
    };
    let agent_rows = Agents {
        may_force: who.can(Permission::AgentSupervise),
        rows: agents
            .iter()
            .map(|a| {
                let (state, class) = state_name(&a.state);
                AgentRow {
                    id: a.agent.0,
                    name: a.name.clone(),
                    state,
                    class,
                    since: a.state.since(),
                    answered: a.today.answered,
                    missed: a.today.missed,
                    occupancy: percent(a.today_occupancy),
                    logged_in: !matches!(a.state, AgentState::LoggedOut),
                    on_call: matches!(a.state, AgentState::OnCall { .. }),
                }
            })
            .collect(),
    };
    let call_rows = Calls {
        rows: calls
            .iter()
            .map(|c| {
                let (phase, agent) = match c.phase {
                    Phase::Waiting => (
                        c.position
                            .map_or_else(|| "waiting".into(), |p| format!("waiting, {p} in line")),
                        String::new(),
                    ),
                    Phase::Ringing { agent, .. } => ("ringing".into(), agent_name(agent)),
                    Phase::Connected { agent } => ("connected".into(), agent_name(agent)),
                };
                CallRow {
                    call: c.call.0,
                    queue: queue_name(c.queue),
                    phase,
                    agent,
                    arrived: c.arrived,
                    callback: c.callback,
                }
            })
            .collect(),
    };

    let slot_minutes = (slot_ms / 60_000).max(1);
    let day_number = day
        .since(switchboard_acd::civil::date(1970, 1, 1))
        .map_or(0, |s| i64::from(s.get_days()));
    let plan = day_plan(
        app,
        &tz,
        day_number,
        day.weekday().to_monday_zero_offset() as u8,
        slot_minutes as u32,
    )
    .await;
    let charts = charts(&intervals, &plan, slot_minutes, now, &tz);

    Ok(vec![
        ("tiles", rendered(tiles)?),
        ("queues", rendered(queue_rows)?),
        ("agents", rendered(agent_rows)?),
        ("calls", rendered(call_rows)?),
        ("charts", rendered(charts)?),
    ])
}

fn state_name(s: &AgentState) -> (String, &'static str) {
    match s {
        AgentState::LoggedOut => ("logged out".into(), "out"),
        AgentState::Available { .. } => ("available".into(), "available"),
        AgentState::Offered { .. } => ("call offered".into(), "offered"),
        AgentState::OnCall { .. } => ("on a call".into(), "oncall"),
        AgentState::AfterCallWork { .. } => ("after-call work".into(), "acw"),
        AgentState::Break { reason, .. } => (format!("break ({reason})"), "break"),
    }
}

fn queue_row(q: &QueueStatus) -> QueueRow {
    let tm = &q.today_measures;
    QueueRow {
        name: q.name.clone(),
        open: q.open,
        waiting: q.waiting,
        longest: q.longest_wait_ms.map_or_else(|| "–".into(), duration),
        ringing: q.ringing,
        connected: q.connected,
        staffed: q.staffed,
        available: q.available,
        offered: tm.offered,
        service_level: percent(tm.service_level),
        threshold: format!("{} s", q.service_level_threshold_ms / 1000),
        asa: tm
            .asa_seconds
            .map_or_else(|| "–".into(), |s| format!("{s:.0} s")),
        abandonment: percent(tm.abandonment),
        interval_sl: percent(q.interval_measures.service_level),
    }
}

/// The day's staffing plan: forecast from the call history and planned against the center's
/// default targets (80% in 20 s, 30% shrinkage), made once per local day.
async fn day_plan(
    app: &AppState,
    tz: &switchboard_acd::TimeZone,
    day: i64,
    weekday: u8,
    slot_minutes: u32,
) -> DayPlan {
    let mut cached = app.day_plan.lock().await;
    if let Some((d, at, p)) = cached.as_ref()
        && *d == day
        && (p.is_ok() || at.elapsed() < Duration::from_secs(60))
    {
        return p.clone();
    }
    let plan = match crate::api::staffing::history(app.store.as_ref(), tz, slot_minutes).await {
        Err(e) => Err(format!("the call history could not be read: {e}")),
        Ok(observations) if observations.is_empty() => {
            Err("no call history yet to forecast from".to_owned())
        }
        Ok(observations) => report::answer(&Request {
            volume: Volume::History {
                observations,
                day,
                weekday,
            },
            slot_minutes,
            targets: Targets {
                service_level: Some(0.8),
                threshold_seconds: 20.0,
                asa_seconds: None,
                abandonment: None,
                max_occupancy: None,
            },
            patience_seconds: None,
            shrinkage: 0.3,
            open: None,
            schedule: false,
        })
        .map(|r| r.plan)
        .map_err(|e| format!("no plan: {e}")),
    };
    let plan: DayPlan = Arc::new(plan);
    *cached = Some((day, std::time::Instant::now(), plan.clone()));
    plan
}

fn charts(
    intervals: &[(u64, Counters)],
    plan: &DayPlan,
    slot_minutes: u64,
    now: u64,
    tz: &switchboard_acd::TimeZone,
) -> Charts {
    let n = intervals.len().max(1);
    let w = CHART_W / n as f64;
    // Each interval's local time of day: its label, and the plan's row for it (the plan's
    // rows are by minute of the local day, so on a day the clocks change the hour repeated
    // or skipped shares or misses a row).
    let local = |i: usize| {
        intervals.get(i).map_or((0, 0), |(start, _)| {
            let z = switchboard_acd::Timestamp::from_millisecond(*start as i64)
                .unwrap_or(switchboard_acd::Timestamp::UNIX_EPOCH)
                .to_zoned(tz.clone());
            (z.hour() as u64, z.minute() as u64)
        })
    };
    let rows = plan.as_ref().as_ref().ok().map(|p| &p.rows);
    let planned = |i: usize| {
        let (h, m) = local(i);
        let minute = (h * 60 + m) as u32;
        rows.and_then(|r| {
            r.iter().find(|p| {
                (p.minute_of_day..p.minute_of_day + slot_minutes as u32).contains(&minute)
            })
        })
    };
    let offered = |c: &Counters| c.answered + c.abandoned;
    let mut top = intervals
        .iter()
        .map(|(_, c)| offered(c) as f64)
        .fold(1.0, f64::max);
    if let Some(r) = rows {
        top = r.iter().map(|p| p.calls).fold(top, f64::max);
    }
    let top = top * 1.1;
    let y_of = |v: f64, max: f64| CHART_H - (v / max).clamp(0.0, 1.0) * CHART_H;
    let line = |f: &dyn Fn(usize) -> Option<f64>, max: f64| {
        (0..n)
            .filter_map(|i| {
                f(i).map(|v| format!("{:.1},{:.1}", i as f64 * w + w / 2.0, y_of(v, max)))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let time_of = |i: usize| {
        let (h, m) = local(i);
        format!("{h:02}:{m:02}")
    };
    let ticks: Vec<(f64, String)> = (0..n)
        .step_by(((180 / slot_minutes.max(1)) as usize).max(1))
        .map(|i| (i as f64 * w, time_of(i)))
        .collect();
    let volume = Chart {
        label: "Calls offered by interval today, against the plan".into(),
        bars: intervals
            .iter()
            .enumerate()
            .filter(|(_, (start, _))| *start <= now)
            .map(|(i, (_, c))| {
                let v = offered(c) as f64;
                let plan =
                    planned(i).map_or_else(String::new, |p| format!(", plan {:.0}", p.calls));
                ChartBar {
                    x: i as f64 * w + 1.0,
                    y: y_of(v, top),
                    w: (w - 2.0).max(1.0),
                    h: CHART_H - y_of(v, top),
                    title: format!("{}: {} offered{plan}", time_of(i), offered(c)),
                }
            })
            .collect(),
        plan: line(&|i| planned(i).map(|p| p.calls), top),
        target_y: None,
        ticks: ticks.clone(),
        top: format!("{top:.0}"),
    };
    let service = Chart {
        label: "Service level by interval today, against the 80% target and the plan".into(),
        bars: intervals
            .iter()
            .enumerate()
            .filter_map(|(i, (_, c))| {
                let sl = c.measures().service_level?;
                Some(ChartBar {
                    x: i as f64 * w + 1.0,
                    y: y_of(sl, 1.0),
                    w: (w - 2.0).max(1.0),
                    h: CHART_H - y_of(sl, 1.0),
                    title: format!("{}: {:.0}% answered in time", time_of(i), sl * 100.0),
                })
            })
            .collect(),
        plan: line(&|i| planned(i).map(|p| p.performance.service_level), 1.0),
        target_y: Some(y_of(0.8, 1.0)),
        ticks,
        top: "100%".into(),
    };
    Charts {
        volume,
        service,
        plan_note: match plan.as_ref() {
            Ok(p) => format!(
                "Plan: {:.0} calls forecast from the call history, peak {} agents on calls.",
                p.totals.calls, p.totals.peak_required
            ),
            Err(why) => format!("No staffing plan to compare with: {why}."),
        },
        slot_minutes,
    }
}

#[derive(Template)]
#[template(path = "wall_reviews.html")]
struct Reviews {
    items: Vec<ReviewRow>,
    state: &'static str,
    may_override: bool,
    /// Legal reviewers record determinations and approve each other's.
    legal: bool,
    determinations: Vec<DeterminationRow>,
}

/// A legal determination waiting for a second legal reviewer.
struct DeterminationRow {
    id: String,
    matter: String,
    finding: String,
    reason: String,
    basis: String,
    by: String,
    records: Vec<String>,
}

struct ReviewRow {
    id: String,
    kind: String,
    author: String,
    created: String,
    subject: String,
    purpose: String,
    records: Vec<String>,
    hits: Vec<(String, String, Vec<String>, bool, bool)>,
    disclosed: String,
    file: crate::api::dispositions::FileView,
    /// The questions legal may determine: (matter as JSON, in words, the findings that answer
    /// it as (JSON, words)).
    matters: Vec<MatterChoice>,
}

/// A question for legal as JSON, in words, and the findings that answer it (JSON, words).
type MatterChoice = (String, String, Vec<(String, String)>);

/// A question the rules put to legal, for the determination form (a birthplace is chosen among
/// the countries the file names).
fn matter_choice(
    m: &switchboard_rules::determination::Matter,
    countries: &[String],
) -> MatterChoice {
    use switchboard_rules::determination::Matter;
    let json = |v: serde_json::Value| v.to_string();
    let findings = match m {
        Matter::ClassMembership { .. } => vec![
            (
                json(serde_json::json!({"finding": "not_in_class"})),
                "not in the class".to_owned(),
            ),
            (
                json(serde_json::json!({"finding": "in_class"})),
                "in the class".to_owned(),
            ),
        ],
        Matter::Pending { .. } => vec![
            (
                json(serde_json::json!({"finding": "does_not_bar_removal"})),
                "does not bar removal".to_owned(),
            ),
            (
                json(serde_json::json!({"finding": "bars_removal"})),
                "bars removal".to_owned(),
            ),
        ],
        Matter::Birthplace => countries
            .iter()
            .map(|c| {
                (
                    json(serde_json::json!({"finding": "born_in", "country": c})),
                    format!("born in {c}"),
                )
            })
            .collect(),
    };
    (
        serde_json::to_string(m).unwrap_or_default(),
        m.describe(),
        findings,
    )
}

impl Board {
    /// The review queue this reviewer works: supervisors the second reviews, legal reviewers
    /// the legal reviews.
    async fn review_fragment(
        &mut self,
        app: &AppState,
        who: &Principal,
    ) -> Result<String, ApiError> {
        let state = if who.role() == Role::LegalReviewer {
            "pending_legal_review"
        } else {
            "pending_second_review"
        };
        let items = review_queue(app, who, state).await?;
        for it in &items {
            // Each disposition a reviewer is shown is audited, once per page.
            if self.shown.insert(it.view.id) {
                let mut entry = Entry::new("review queue", who.actor(), app.now_ms())
                    .with_target(format!("disposition:{}", it.view.id));
                entry.query = it.keys.clone();
                entry.records = it.records.clone();
                app.record(entry).await?;
            }
        }
        let legal = who.can(Permission::Determine);
        let mut determinations = Vec::new();
        if legal {
            let page = app
                .store
                .list_determinations(
                    Some("pending_approval"),
                    switchboard_store::PageRequest::first(
                        switchboard_store::PageRequest::MAX_LIMIT,
                    ),
                )
                .await?;
            for row in page.items {
                let d: switchboard_rules::determination::Determination =
                    serde_json::from_value(row.document.clone()).map_err(|e| {
                        ApiError::internal(format!("determination {}: {e}", row.id))
                    })?;
                determinations.push(DeterminationRow {
                    id: row.id.to_string(),
                    matter: d.matter.describe(),
                    finding: d.finding.describe(),
                    reason: d.reason,
                    basis: d.basis,
                    by: d.recorded_by,
                    records: row.record_ids,
                });
            }
        }
        rendered(Reviews {
            legal,
            determinations,
            state: if state == "pending_legal_review" {
                "legal review"
            } else {
                "second review"
            },
            may_override: who.can(Permission::RuleOverride),
            items: items
                .into_iter()
                .map(|it| {
                    let done: HashSet<&str> =
                        it.view.overrides.iter().map(|o| o.rule.as_str()).collect();
                    ReviewRow {
                        id: it.view.id.to_string(),
                        kind: words(&it.view.kind),
                        author: it.view.author.clone(),
                        created: when(it.created_at),
                        subject: it.subject,
                        purpose: it.purpose,
                        records: it.records,
                        hits: it
                            .view
                            .hits
                            .iter()
                            .map(|h| {
                                (
                                    h.rule.clone(),
                                    h.text.clone(),
                                    h.reasons.clone(),
                                    h.overridable,
                                    done.contains(h.rule.as_str()),
                                )
                            })
                            .collect(),
                        disclosed: it.view.disclosed,
                        matters: it
                            .raised
                            .iter()
                            .map(|m| matter_choice(m, &it.birth_countries))
                            .collect(),
                        file: it.file,
                    }
                })
                .collect(),
        })
    }
}
