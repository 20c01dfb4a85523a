//! The administrator's page: agencies and their agreements, officers, users and roles, the
//! call distributor's queues, skills, hours and agents, and every rule with its basis
//! (read-only: rules change only with a new release, reviewed).

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use switchboard_store::{AgencyFilter, OfficerFilter, PageRequest};
use uuid::Uuid;

use super::{Chrome, label, page, words};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::ApiQuery;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/admin", get(admin))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminQuery {
    section: Option<String>,
    after: Option<Uuid>,
}

const SECTIONS: [(&str, &str); 6] = [
    ("agencies", "Agencies and agreements"),
    ("officers", "Officers"),
    ("users", "Users and roles"),
    ("acd", "Queues, skills, hours"),
    ("rules", "Rules"),
    ("records", "Record feeds"),
];

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    chrome: Chrome,
    section: String,
    sections: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    next: Option<String>,
    agencies: Vec<AgencyRow>,
    officers: Vec<OfficerRow>,
    users: Vec<UserRow>,
    queues: Vec<QueueRow>,
    agents: Vec<AgentRow>,
    rules: Vec<RuleRow>,
    time_zone: String,
    feeds: Vec<FeedRow>,
    feed_keys: Vec<FeedKeyRow>,
    index: Vec<(String, String)>,
}

struct FeedRow {
    system: String,
    as_of: String,
    behind: String,
    limit: String,
    stale: bool,
}

struct FeedKeyRow {
    name: String,
    prefix: String,
    systems: String,
    created: String,
    revoked: Option<String>,
}

/// "3 h 12 min", "2 days 4 h".
fn minutes_words(m: i64) -> String {
    match (m / 1440, m % 1440 / 60, m % 60) {
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

struct AgencyRow {
    ori: String,
    name: String,
    kind: String,
    agreements: Vec<String>,
}

struct OfficerRow {
    name: String,
    badge: String,
    agency: String,
    phones: String,
    certification: String,
    active: bool,
}

struct UserRow {
    id: String,
    username: String,
    name: String,
    role: String,
    active: bool,
    version: i64,
    me: bool,
}

struct QueueRow {
    name: String,
    skill: u64,
    priority: u8,
    selection: String,
    ring_timeout: String,
    max_wait: String,
    hours: String,
    after_hours: String,
    threshold: String,
    callback_after: String,
}

struct AgentRow {
    name: String,
    user: String,
    skills: String,
    after_call: String,
}

struct RuleRow {
    id: &'static str,
    version: u32,
    trigger: String,
    outcomes: Vec<String>,
    text: &'static str,
    basis: &'static str,
    overridable: bool,
}

fn seconds(ms: u64) -> String {
    format!("{} s", ms / 1000)
}

async fn admin(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<AdminQuery>,
) -> Response {
    let section = q.section.clone().unwrap_or_else(|| "agencies".to_owned());
    let mut p = AdminPage {
        chrome: Chrome::new(&app, &who, "/admin"),
        section: section.clone(),
        sections: SECTIONS.to_vec(),
        error: None,
        next: None,
        agencies: Vec::new(),
        officers: Vec::new(),
        users: Vec::new(),
        queues: Vec::new(),
        agents: Vec::new(),
        rules: Vec::new(),
        time_zone: String::new(),
        feeds: Vec::new(),
        feed_keys: Vec::new(),
        index: Vec::new(),
    };
    if let Err(e) = fill(&app, &who, &q, &mut p).await {
        p.error = Some(e.body.message.clone());
    }
    page(&p)
}

async fn fill(
    app: &AppState,
    who: &Principal,
    q: &AdminQuery,
    p: &mut AdminPage,
) -> Result<(), ApiError> {
    let page_req = PageRequest {
        limit: 100,
        after: q.after,
    };
    let next =
        |section: &str, n: Option<Uuid>| n.map(|n| format!("/admin?section={section}&after={n}"));
    match p.section.as_str() {
        "agencies" => {
            let page = app
                .store
                .list_agencies(&AgencyFilter::default(), page_req)
                .await?;
            p.next = next("agencies", page.next);
            for a in page.items {
                let agreements = app.store.agreements_of(a.id).await?;
                p.agencies.push(AgencyRow {
                    ori: label(&a.ori),
                    name: a.name.as_str().to_owned(),
                    kind: words(&a.kind),
                    agreements: agreements
                        .iter()
                        .map(|g| {
                            format!(
                                "{}: {} to {}{} (up to {} certified officers)",
                                words(&g.model),
                                g.signed_on,
                                g.expires_on,
                                g.terminated_on
                                    .map(|t| format!(", terminated {t}"))
                                    .unwrap_or_default(),
                                g.max_certified_officers
                            )
                        })
                        .collect(),
                });
            }
        }
        "records" => {
            if !who.can(switchboard_accounts::Permission::RecordFeeds) {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    "forbidden",
                    "record feeds are for administrators",
                ));
            }
            p.feeds = app
                .feeds()
                .await?
                .into_iter()
                .map(|f| FeedRow {
                    system: f.system.replace('_', " "),
                    as_of: f
                        .as_of
                        .map_or_else(|| "never".to_owned(), |t| t.to_string()),
                    behind: f
                        .minutes_behind
                        .map_or_else(|| "—".to_owned(), minutes_words),
                    limit: f
                        .max_minutes
                        .map_or_else(|| "none".to_owned(), minutes_words),
                    stale: f.stale,
                })
                .collect();
            p.feed_keys = app
                .store
                .feed_keys()
                .await?
                .into_iter()
                .map(|k| FeedKeyRow {
                    name: k.name,
                    prefix: k.prefix,
                    systems: k
                        .systems
                        .iter()
                        .map(|s| s.as_str().replace('_', " "))
                        .collect::<Vec<_>>()
                        .join(", "),
                    created: format!("{} by {}", k.created_at.date(), k.created_by),
                    revoked: k.revoked_at.map(|t| t.to_string()),
                })
                .collect();
            let live = app.index.live_status();
            let head = app.store.record_position().await?;
            p.index = vec![
                ("Change log position".into(), head.to_string()),
                (
                    "Index position".into(),
                    app.index
                        .position()
                        .map_or_else(|| "not ready".to_owned(), |x| x.to_string()),
                ),
                (
                    "Records in the index".into(),
                    app.index
                        .records()
                        .map_or_else(|| "—".to_owned(), |x| x.to_string()),
                ),
                ("Started from".into(), live.started_from.clone()),
                (
                    "Changes applied since start".into(),
                    live.applied.to_string(),
                ),
                (
                    "Newest batch searchable after".into(),
                    format!("{:.0} ms", live.last_apply_lag_seconds * 1e3),
                ),
                (
                    "Newest snapshot".into(),
                    match (
                        live.snapshot_position,
                        live.snapshot_bytes,
                        live.snapshot_seconds,
                    ) {
                        (Some(at), Some(b), Some(s)) => format!(
                            "at position {at}, {:.1} MiB, written in {s:.2} s",
                            b as f64 / 1_048_576.0
                        ),
                        _ => "none yet".to_owned(),
                    },
                ),
                (
                    "Retrainings since start".into(),
                    match (live.previous_threshold, live.threshold) {
                        (Some(a), Some(b)) => {
                            format!("{} (strong threshold {a:.4} → {b:.4})", live.rebuilds)
                        }
                        _ => live.rebuilds.to_string(),
                    },
                ),
            ];
            if let Some(e) = live.rebuild_error {
                p.index.push(("Last retraining failed".into(), e));
            }
        }
        "officers" => {
            let page = app
                .store
                .list_officers(&OfficerFilter::default(), page_req)
                .await?;
            p.next = next("officers", page.next);
            let mut agencies = HashMap::new();
            for o in page.items {
                let agency = match agencies.get(&o.agency_id) {
                    Some(a) => a,
                    None => {
                        let a = app.store.agency(o.agency_id).await?;
                        let name = format!("{} ({})", a.name.as_str(), label(&a.ori));
                        agencies.entry(o.agency_id).or_insert(name)
                    }
                };
                p.officers.push(OfficerRow {
                    name: format!("{} {}", o.given_name.as_str(), o.family_name.as_str()),
                    badge: label(&o.badge),
                    agency: agency.clone(),
                    phones: o
                        .phones
                        .iter()
                        .map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    certification: match (o.certified_on, o.certification_expires_on) {
                        (Some(a), Some(b)) => format!("{a} to {b}"),
                        _ => "not certified".to_owned(),
                    },
                    active: o.active,
                });
            }
        }
        "users" => {
            let page = app.store.list_users(page_req).await?;
            p.next = next("users", page.next);
            p.users = page
                .items
                .into_iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    me: u.id == who.user.id,
                    username: u.username.as_str().to_owned(),
                    name: u.display_name.as_str().to_owned(),
                    role: u.role.as_str().replace('_', " "),
                    active: u.active,
                    version: u.version,
                })
                .collect();
        }
        "acd" => {
            let Some(host) = app.acd.clone() else {
                return Err(ApiError::unavailable(
                    "acd_unavailable",
                    "this server runs no call distributor",
                ));
            };
            let (config, tz) = host
                .read(|acd, _| {
                    (
                        acd.config().clone(),
                        acd.time_zone().iana_name().unwrap_or("UTC").to_owned(),
                    )
                })
                .await;
            p.time_zone = tz;
            let name_of = |id| {
                config
                    .queues
                    .iter()
                    .find(|q| q.id == id)
                    .map_or_else(|| "?".to_owned(), |q| q.name.clone())
            };
            p.queues = config
                .queues
                .iter()
                .map(|q| QueueRow {
                    name: q.name.clone(),
                    skill: q.skill.0,
                    priority: q.priority,
                    selection: words(&q.selection),
                    ring_timeout: seconds(q.ring_timeout),
                    max_wait: match (q.max_wait, q.overflow_to) {
                        (Some(w), Some(to)) => format!("{}, then {}", seconds(w), name_of(to)),
                        (Some(w), None) => seconds(w),
                        _ => "none".to_owned(),
                    },
                    hours: if q.hours.weekly.is_empty() {
                        "around the clock".to_owned()
                    } else {
                        serde_json::to_string(&q.hours.weekly).unwrap_or_default()
                    } + &if q.hours.holidays.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; closed {}",
                            q.hours
                                .holidays
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    },
                    after_hours: serde_json::to_string(&q.after_hours).unwrap_or_default(),
                    threshold: seconds(q.service_level_threshold),
                    callback_after: q.callback_after.map_or_else(|| "no".to_owned(), seconds),
                })
                .collect();
            p.agents = config
                .agents
                .iter()
                .map(|a| AgentRow {
                    name: a.name.clone(),
                    user: a.user.clone().unwrap_or_else(|| "–".to_owned()),
                    skills: a
                        .skills
                        .iter()
                        .map(|(s, l)| format!("skill {} ({l})", s.0))
                        .collect::<Vec<_>>()
                        .join(", "),
                    after_call: seconds(a.after_call_limit),
                })
                .collect();
        }
        "rules" => {
            p.rules = switchboard_rules::RULES
                .iter()
                .map(|r| RuleRow {
                    id: r.id,
                    version: r.version,
                    trigger: words(&r.trigger),
                    outcomes: r.outcomes.iter().map(words).collect(),
                    text: r.text,
                    basis: r.basis,
                    overridable: r.overridable,
                })
                .collect();
        }
        other => {
            return Err(ApiError::invalid_field(
                "section",
                format!("{other:?} is not a section of this page"),
            ));
        }
    }
    Ok(())
}
