//! The juvenile-liaison desk: its cases, their statutory timers counting down, the welfare
//! checklist. Nothing here is a location: the desk tracks the child's welfare and legal status.

use std::collections::HashSet;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use switchboard_accounts::Permission;
use switchboard_audit::Entry;
use switchboard_rules::juvenile::{Progress, TimerState};
use uuid::Uuid;

use super::live::{Live, live};
use super::{Chrome, one_line, page, when, words};
use crate::AppState;
use crate::api::dispositions::case_list;
use crate::auth::Principal;
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/liaison", get(desk))
        .route("/liaison/stream", get(stream))
}

#[derive(Template)]
#[template(path = "liaison.html")]
struct LiaisonPage {
    chrome: Chrome,
    cases: String,
}

async fn desk(State(app): State<AppState>, who: Principal) -> Response {
    match Cases::default().render(&app, &who).await {
        Ok(mut f) => page(&LiaisonPage {
            chrome: Chrome::new(&app, &who, "/liaison"),
            cases: f.pop().map(|(_, h)| h).unwrap_or_default(),
        }),
        Err(e) => e.into_response(),
    }
}

async fn stream(State(app): State<AppState>, who: Principal) -> Response {
    live(app, who, Cases::default(), Duration::from_secs(3), false).into_response()
}

/// The cases a page has shown (each audited once).
#[derive(Default)]
struct Cases {
    shown: HashSet<Uuid>,
}

#[derive(Template)]
#[template(path = "liaison_cases.html")]
struct CasesFragment {
    cases: Vec<CaseRow>,
    may_work: bool,
}

struct CaseRow {
    id: String,
    version: i64,
    subject: String,
    referred_by: String,
    opened: String,
    custody_since: Option<String>,
    timers: Vec<TimerRow>,
    events: Vec<(&'static str, &'static str, Option<String>)>,
    checklist: Vec<ChecklistRow>,
}

struct TimerRow {
    name: String,
    due: String,
    due_ms: i64,
    running: bool,
    state: String,
    class: &'static str,
    basis: String,
}

struct ChecklistRow {
    field: &'static str,
    item: &'static str,
    progress: String,
    next: Vec<(&'static str, &'static str)>,
}

/// Each checklist item's field in the case update.
const FIELDS: [&str; 5] = [
    "legal_representation",
    "court_notice",
    "sponsor_screening",
    "trafficking_screening",
    "child_welfare_referral",
];

impl Live for Cases {
    async fn render(
        &mut self,
        app: &AppState,
        who: &Principal,
    ) -> Result<Vec<(&'static str, String)>, ApiError> {
        let items = case_list(app).await?;
        for it in &items {
            if self.shown.insert(it.view.id) {
                let mut entry = Entry::new("liaison desk case", who.actor(), app.now_ms())
                    .with_target(format!("liaison-case:{}", it.view.id));
                entry.query = it.keys.clone();
                entry.records = it.records.clone();
                app.record(entry).await?;
            }
        }
        let cases = items
            .into_iter()
            .map(|it| {
                let c = &it.view.case;
                CaseRow {
                    id: it.view.id.to_string(),
                    version: it.view.version,
                    subject: it.subject,
                    referred_by: it.author,
                    opened: when(c.opened_at),
                    custody_since: c.custody_since.map(when),
                    timers: it
                        .view
                        .timers
                        .iter()
                        .enumerate()
                        .map(|(i, t)| {
                            // The timers in the order Case::timers gives them, and the event
                            // that stops each.
                            let done = match i {
                                0 => c.hhs_notified_at,
                                1 => c.transferred_at,
                                _ => c.transferred_at.or(c.released_at),
                            }
                            .is_some();
                            let (state, class, running) = match t.state {
                                TimerState::Running { .. } => ("running".into(), "running", true),
                                TimerState::Met => ("met".into(), "met", false),
                                TimerState::Overdue { by_minutes } if done => {
                                    (format!("met {by_minutes} min late"), "overdue", false)
                                }
                                TimerState::Overdue { by_minutes } => {
                                    (format!("overdue by {by_minutes} min"), "overdue", false)
                                }
                            };
                            TimerRow {
                                name: t.name.clone(),
                                due: when(t.due),
                                due_ms: (t.due.unix_timestamp_nanos() / 1_000_000) as i64,
                                running,
                                state,
                                class,
                                basis: t.basis.clone(),
                            }
                        })
                        .collect(),
                    events: vec![
                        ("hhs_notified", "HHS notified", c.hhs_notified_at.map(when)),
                        (
                            "transferred",
                            "Transferred to HHS",
                            c.transferred_at.map(when),
                        ),
                        ("released", "Released", c.released_at.map(when)),
                    ],
                    checklist: c
                        .checklist()
                        .into_iter()
                        .zip(FIELDS)
                        .map(|((item, p), field)| ChecklistRow {
                            field,
                            item,
                            progress: words(&p),
                            next: [
                                (Progress::InProgress, "in_progress", "In progress"),
                                (Progress::Done, "done", "Done"),
                                (Progress::Concern, "concern", "Concern found"),
                            ]
                            .into_iter()
                            .filter(|(q, _, _)| *q != p)
                            .map(|(_, v, l)| (v, l))
                            .collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        let html = CasesFragment {
            cases,
            may_work: who.can(Permission::LiaisonWrite),
        }
        .render()
        .map_err(|e| ApiError::internal(format!("rendering the liaison desk: {e}")))?;
        Ok(vec![("cases", one_line(html))])
    }
}
