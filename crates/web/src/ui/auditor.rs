//! The auditor's page: search the log by user, subject, action or time; account for a
//! subject; the anomaly review; verify the whole log. Each runs the audit API's own handler.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Chrome, fragment, page};
use crate::AppState;
use crate::api::audit::{
    self, AccountingQuery, Anomalies, AnomalyQuery, EntriesQuery, VerifyReport,
};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::ApiQuery;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auditor", get(auditor))
        .route("/auditor/verify", post(verify))
}

/// The page's form: which report, and its filters (times as the browser's `datetime-local`,
/// read as UTC).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditorQuery {
    report: Option<String>,
    actor: Option<String>,
    subject: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<i64>,
}

#[derive(Template)]
#[template(path = "auditor.html")]
struct AuditorPage {
    chrome: Chrome,
    report: String,
    actor: String,
    subject: String,
    action: String,
    from: String,
    to: String,
    error: Option<String>,
    entries: Vec<EntryRow>,
    next: Option<String>,
    earlier: Option<String>,
    accounting: Option<AccountingView>,
    anomalies: Option<Anomalies>,
}

struct EntryRow {
    seq: u64,
    at: String,
    user: String,
    role: String,
    action: String,
    outcome: String,
    target: String,
    subjects: Vec<String>,
    caller: String,
    purpose: String,
    result: String,
    json: String,
}

struct AccountingView {
    subject: String,
    accesses: Vec<(u64, String, String, String, String, String, String)>,
    disclosures: Vec<(u64, String, String, String, String)>,
    by_user: Vec<(String, u64)>,
    by_agency: Vec<(String, u64)>,
    truncated: bool,
}

fn at(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(super::when)
        .unwrap_or_else(|_| ms.to_string())
}

/// `2026-12-02T05:30` (a `datetime-local` value) as RFC 3339 in UTC; anything else as given.
fn instant(v: &Option<String>) -> Option<String> {
    let v = v.as_deref().map(str::trim).filter(|v| !v.is_empty())?;
    let local = v.len() == 16 && v.as_bytes().get(10) == Some(&b'T');
    Some(if local {
        format!("{v}:00Z")
    } else {
        v.to_owned()
    })
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

async fn auditor(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(q): ApiQuery<AuditorQuery>,
) -> Response {
    let report = q.report.clone().unwrap_or_else(|| "search".to_owned());
    let mut p = AuditorPage {
        chrome: Chrome::new(&app, &who, "/auditor"),
        report: report.clone(),
        actor: q.actor.clone().unwrap_or_default(),
        subject: q.subject.clone().unwrap_or_default(),
        action: q.action.clone().unwrap_or_default(),
        from: q.from.clone().unwrap_or_default(),
        to: q.to.clone().unwrap_or_default(),
        error: None,
        entries: Vec::new(),
        next: None,
        earlier: None,
        accounting: None,
        anomalies: None,
    };
    let outcome = match report.as_str() {
        "search" => search(&app, &q, &mut p).await,
        "accounting" => match given(&q.subject) {
            Some(subject) => {
                audit::accounting(State(app.clone()), ApiQuery(AccountingQuery { subject }))
                    .await
                    .map(|Json(a)| {
                        p.accounting = Some(AccountingView {
                            subject: a.subject,
                            accesses: a
                                .accesses
                                .into_iter()
                                .map(|x| {
                                    (
                                        x.seq,
                                        at(x.at_ms),
                                        x.action,
                                        format!("{} ({})", x.user, x.role.unwrap_or_default()),
                                        x.ori.unwrap_or_default(),
                                        format!(
                                            "{}{}",
                                            x.purpose.unwrap_or_default(),
                                            x.case_number
                                                .map(|c| format!(" · case {c}"))
                                                .unwrap_or_default()
                                        ),
                                        x.result.unwrap_or_default(),
                                    )
                                })
                                .collect(),
                            disclosures: a
                                .disclosures
                                .into_iter()
                                .map(|d| (d.seq, at(d.at_ms), d.by, d.to, d.text))
                                .collect(),
                            by_user: a.by_user.into_iter().collect(),
                            by_agency: a.by_agency.into_iter().collect(),
                            truncated: a.truncated,
                        });
                    })
            }
            None => Err(ApiError::invalid_field(
                "subject",
                "give a subject key to account for (for example a_number:A012345678)",
            )),
        },
        "anomalies" => audit::anomalies(
            State(app.clone()),
            ApiQuery(AnomalyQuery {
                from: instant(&q.from),
                to: instant(&q.to),
                many_subjects: None,
                repeated: None,
            }),
        )
        .await
        .map(|Json(a)| p.anomalies = Some(a)),
        other => Err(ApiError::invalid_field(
            "report",
            format!("{other:?} is not search, accounting or anomalies"),
        )),
    };
    if let Err(e) = outcome {
        p.error = Some(e.body.message.clone());
    }
    page(&p)
}

async fn search(app: &AppState, q: &AuditorQuery, p: &mut AuditorPage) -> Result<(), ApiError> {
    // Without a filter the page opens on the latest entries, not the oldest.
    let unfiltered = [&q.actor, &q.subject, &q.action, &q.from, &q.to]
        .iter()
        .all(|v| given(v).is_none());
    let after = q.after.or_else(|| {
        unfiltered
            .then(|| {
                app.audit
                    .as_ref()
                    .map(|a| a.size().saturating_sub(100) as i64)
            })
            .flatten()
    });
    if let Some(a) = after.filter(|a| *a > 0) {
        p.earlier = Some(link(p, a.saturating_sub(100)));
    }
    let Json(page) = audit::entries(
        State(app.clone()),
        ApiQuery(EntriesQuery {
            actor: given(&q.actor),
            subject: given(&q.subject),
            action: given(&q.action),
            from: instant(&q.from),
            to: instant(&q.to),
            after,
            limit: Some(100),
        }),
    )
    .await?;
    p.next = page.next.map(|n| link(p, n));
    p.entries = page
        .items
        .into_iter()
        .map(|e| EntryRow {
            seq: e.seq,
            at: at(e.at_ms),
            user: e.actor.username.clone(),
            role: e.actor.role.clone().unwrap_or_default(),
            action: e.action.clone(),
            outcome: super::label(&e.outcome),
            target: e.target.clone().unwrap_or_default(),
            subjects: e.query.iter().chain(&e.records).cloned().collect(),
            caller: e
                .caller
                .as_ref()
                .map(|c| {
                    [c.ori.as_deref(), c.officer.as_deref(), c.phone.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" · ")
                })
                .unwrap_or_default(),
            purpose: e
                .purpose
                .as_ref()
                .map(|p| {
                    format!(
                        "{}: {}{}",
                        p.code,
                        p.reason,
                        p.case_number
                            .as_ref()
                            .map(|c| format!(" (case {c})"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default(),
            result: e.result.clone().unwrap_or_default(),
            json: serde_json::to_string_pretty(&e).unwrap_or_default(),
        })
        .collect();
    Ok(())
}

/// This search from entry `after` on.
fn link(p: &AuditorPage, after: i64) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("report", "search"),
        ("actor", p.actor.as_str()),
        ("subject", p.subject.as_str()),
        ("action", p.action.as_str()),
        ("from", p.from.as_str()),
        ("to", p.to.as_str()),
    ] {
        url.append_pair(k, v);
    }
    url.append_pair("after", &after.to_string());
    format!("/auditor?{}", url.finish())
}

#[derive(Template)]
#[template(path = "verify.html")]
struct Verified {
    r: VerifyReport,
}

/// Verifies the whole stored log (the API's handler) and renders the report.
async fn verify(State(app): State<AppState>, who: Principal) -> Result<Response, ApiError> {
    // Audited like the API's POST /audit/verify.
    let entry = switchboard_audit::Entry::new("POST /audit/verify", who.actor(), app.now_ms())
        .with_target("/auditor/verify");
    app.record(entry).await?;
    let Json(r) = audit::verify(State(app)).await?;
    Ok(fragment(&Verified { r }))
}
