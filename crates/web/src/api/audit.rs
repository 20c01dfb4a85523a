//! The auditor's view of the log: search by user, subject, action and time; per-subject
//! accounting of accesses and disclosures; the anomaly review; checkpoints, inclusion and
//! consistency proofs; and verification of the whole stored log. Read-only.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchboard_audit::Entry;
use switchboard_audit_host::{AuditError, Verification, hex, verify_store};
use switchboard_store::{AUDIT_MAX_LIMIT, AuditFilter};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiQuery;

fn log(app: &AppState) -> ApiResult<&switchboard_audit_host::AuditLog> {
    app.audit
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("audit_unavailable", "the audit log is not open"))
}

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::BadRequest(m) => ApiError::invalid("invalid_proof_request", m),
            other => {
                tracing::error!(error = ?other, "audit log failure");
                ApiError::unavailable("audit_unavailable", "the audit log could not be read")
            }
        }
    }
}

fn time_ms(field: &str, raw: &Option<String>) -> ApiResult<Option<i64>> {
    raw.as_deref()
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .map_err(|_| {
                    ApiError::invalid_field(
                        field,
                        "give an RFC 3339 instant, e.g. 2026-11-21T08:00:00Z",
                    )
                })
        })
        .transpose()
}

fn short(field: &str, v: Option<String>) -> ApiResult<Option<String>> {
    match v {
        Some(s) if s.chars().count() > 200 || s.chars().any(char::is_control) => Err(
            ApiError::invalid_field(field, "at most 200 characters, no control characters"),
        ),
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other.map(|s| s.trim().to_owned())),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// The acting username.
    #[param(max_length = 200)]
    pub actor: Option<String>,
    /// A subject key: `a_number:A012345678`, `name:garcia lopez maria|1990-04-12`,
    /// `record:IDN-00000001`.
    #[param(max_length = 200)]
    pub subject: Option<String>,
    /// An action: `logon`, `lookup`, `disposition.create`, `GET /calls/{id}`, …
    #[param(max_length = 200)]
    pub action: Option<String>,
    /// At or after this instant (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Before this instant (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// Entries after this sequence number (the `next` of the previous page).
    pub after: Option<i64>,
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// A page of entries, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntriesPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Entry>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<i64>,
}

fn filter(
    actor: Option<String>,
    subject: Option<String>,
    action: Option<String>,
    from: &Option<String>,
    to: &Option<String>,
) -> ApiResult<AuditFilter> {
    Ok(AuditFilter {
        actor: short("actor", actor)?,
        subject: short("subject", subject)?,
        action: short("action", action)?,
        from_ms: time_ms("from", from)?,
        to_ms: time_ms("to", to)?,
    })
}

fn parse(row: &switchboard_store::AuditRow) -> ApiResult<Entry> {
    Entry::from_bytes(row.entry.as_bytes())
        .map_err(|e| ApiError::internal(format!("audit entry {} does not parse: {e}", row.seq)))
}

/// Search the audit log.
#[utoipa::path(get, path = "/audit/entries", tag = "audit", params(EntriesQuery),
    responses((status = 200, body = EntriesPage), (status = 400, body = ErrorBody)))]
pub async fn entries(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<EntriesQuery>,
) -> ApiResult<Json<EntriesPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 1000",
        ));
    }
    let f = filter(q.actor, q.subject, q.action, &q.from, &q.to)?;
    let rows = app
        .store
        .search_audit(&f, q.after.unwrap_or(0), limit + 1)
        .await?;
    let more = rows.len() > limit as usize;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(parse)
        .collect::<ApiResult<Vec<_>>>()?;
    let next = more.then(|| items.last().map(|e| e.seq as i64)).flatten();
    Ok(Json(EntriesPage { items, next }))
}

/// Reads every entry matching `f`, up to `cap`; whether the cap cut it short.
async fn scan(app: &AppState, f: &AuditFilter, cap: usize) -> ApiResult<(Vec<Entry>, bool)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let rows = app.store.search_audit(f, after, AUDIT_MAX_LIMIT).await?;
        let Some(last) = rows.last() else {
            return Ok((out, false));
        };
        after = last.seq;
        for r in &rows {
            if out.len() >= cap {
                return Ok((out, true));
            }
            out.push(parse(r)?);
        }
    }
}

/// The most entries one report reads.
const REPORT_CAP: usize = 2_000_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountingQuery {
    /// The subject key (see `/audit/entries`), at most 200 characters.
    #[param(min_length = 1, max_length = 200)]
    pub subject: String,
}

/// One access to a subject.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Access {
    pub seq: u64,
    pub at_ms: i64,
    pub action: String,
    pub user: String,
    pub role: Option<String>,
    /// The caller's agency, when the access was made for a caller.
    pub ori: Option<String>,
    pub purpose: Option<String>,
    pub case_number: Option<String>,
    pub result: Option<String>,
}

/// Something disclosed about a subject.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DisclosureLine {
    pub seq: u64,
    pub at_ms: i64,
    pub by: String,
    pub to: String,
    pub text: String,
}

/// Who looked at a subject, when, why, and what was disclosed to whom.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accounting {
    pub subject: String,
    pub accesses: Vec<Access>,
    pub disclosures: Vec<DisclosureLine>,
    /// Accesses per user.
    pub by_user: BTreeMap<String, u64>,
    /// Accesses per caller agency (ORI).
    pub by_agency: BTreeMap<String, u64>,
    /// The report stopped at its cap.
    pub truncated: bool,
}

/// Per-subject accounting of accesses and disclosures.
#[utoipa::path(get, path = "/audit/accounting", tag = "audit", params(AccountingQuery),
    responses((status = 200, body = Accounting), (status = 400, body = ErrorBody)))]
pub async fn accounting(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AccountingQuery>,
) -> ApiResult<Json<Accounting>> {
    let subject = short("subject", Some(q.subject))?
        .ok_or_else(|| ApiError::invalid_field("subject", "name a subject key"))?;
    let f = AuditFilter {
        subject: Some(subject.clone()),
        ..AuditFilter::default()
    };
    let (found, truncated) = scan(&app, &f, REPORT_CAP).await?;
    let mut out = Accounting {
        subject,
        accesses: Vec::new(),
        disclosures: Vec::new(),
        by_user: BTreeMap::new(),
        by_agency: BTreeMap::new(),
        truncated,
    };
    for e in found {
        let ori = e.caller.as_ref().and_then(|c| c.ori.clone());
        *out.by_user.entry(e.actor.username.clone()).or_default() += 1;
        if let Some(o) = &ori {
            *out.by_agency.entry(o.clone()).or_default() += 1;
        }
        if let Some(d) = &e.disclosed {
            out.disclosures.push(DisclosureLine {
                seq: e.seq,
                at_ms: e.at_ms,
                by: e.actor.username.clone(),
                to: d.to.clone(),
                text: d.text.clone(),
            });
        }
        out.accesses.push(Access {
            seq: e.seq,
            at_ms: e.at_ms,
            action: e.action,
            user: e.actor.username,
            role: e.actor.role,
            ori,
            purpose: e
                .purpose
                .as_ref()
                .map(|p| format!("{}: {}", p.code, p.reason)),
            case_number: e.purpose.and_then(|p| p.case_number),
            result: e.result,
        });
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnomalyQuery {
    /// Start (RFC 3339); default seven days before `to`.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// End (RFC 3339), exclusive; default now (inclusive).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// A user querying more distinct subjects than this is listed (default 50).
    pub many_subjects: Option<u32>,
    /// One user looking up one subject this many times or more is listed (default 3).
    pub repeated: Option<u32>,
}

/// A user and how often.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserCount {
    pub user: String,
    pub count: u64,
    /// Up to ten entries to look at.
    pub examples: Vec<u64>,
}

/// One user's repeated lookups of one subject.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Repeated {
    pub user: String,
    pub subject: String,
    pub count: u64,
    pub examples: Vec<u64>,
}

/// The weekly anomaly review.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Anomalies {
    pub from_ms: i64,
    pub to_ms: i64,
    pub entries_read: u64,
    /// Record queries with no case or incident number, per user.
    pub queries_without_case_number: Vec<UserCount>,
    /// Users who queried more distinct subjects than the threshold.
    pub many_subjects: Vec<UserCount>,
    /// The same user looking up the same subject again and again.
    pub repeated_lookups: Vec<Repeated>,
    /// Accesses by day roles (administrator, planner, auditor, juvenile liaison) outside
    /// 07:00–19:00 on weekdays in the center's time zone.
    pub out_of_hours: Vec<UserCount>,
    /// The time zone the hours were read in.
    pub time_zone: String,
    pub truncated: bool,
}

/// Roles that work business hours only; their access at night or on weekends is unusual.
const DAY_ROLES: [&str; 4] = ["administrator", "planner", "auditor", "juvenile_liaison"];

fn counts(map: BTreeMap<String, (u64, Vec<u64>)>, min: u64) -> Vec<UserCount> {
    let mut v: Vec<UserCount> = map
        .into_iter()
        .filter(|(_, (n, _))| *n >= min)
        .map(|(user, (count, examples))| UserCount {
            user,
            count,
            examples,
        })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.user.cmp(&b.user)));
    v
}

fn note(map: &mut BTreeMap<String, (u64, Vec<u64>)>, key: &str, seq: u64) {
    let e = map.entry(key.to_owned()).or_default();
    e.0 += 1;
    if e.1.len() < 10 {
        e.1.push(seq);
    }
}

/// The anomaly review: queries without a case number, one user running many subjects,
/// repeated lookups of one subject, out-of-hours access.
#[utoipa::path(get, path = "/audit/anomalies", tag = "audit", params(AnomalyQuery),
    responses((status = 200, body = Anomalies), (status = 400, body = ErrorBody)))]
pub async fn anomalies(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<AnomalyQuery>,
) -> ApiResult<Json<Anomalies>> {
    // By default up to and including now.
    let to_ms = time_ms("to", &q.to)?.unwrap_or_else(|| app.now_ms() + 1);
    let from_ms = time_ms("from", &q.from)?.unwrap_or(to_ms - 7 * 24 * 3_600_000);
    if from_ms >= to_ms {
        return Err(ApiError::invalid_field("from", "must be before `to`"));
    }
    let many = u64::from(q.many_subjects.unwrap_or(50));
    let repeated_min = u64::from(q.repeated.unwrap_or(3).max(2));
    let tz = match &app.acd {
        Some(host) => host.read(|acd, _| acd.time_zone().clone()).await,
        None => switchboard_acd::TimeZone::UTC,
    };
    let f = AuditFilter {
        from_ms: Some(from_ms),
        to_ms: Some(to_ms),
        ..AuditFilter::default()
    };
    let (found, truncated) = scan(&app, &f, REPORT_CAP).await?;
    let mut no_case = BTreeMap::new();
    let mut subjects: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut subject_examples = BTreeMap::new();
    let mut pairs: BTreeMap<(String, String), (u64, Vec<u64>)> = BTreeMap::new();
    let mut night = BTreeMap::new();
    for e in &found {
        let user = e.actor.username.as_str();
        if e.action == "lookup" {
            if e.purpose.as_ref().is_none_or(|p| p.case_number.is_none()) {
                note(&mut no_case, user, e.seq);
            }
            // A lookup's subject: its first query key (the name and birth date, or the
            // identifier when only that was given).
            if let Some(s) = e.query.first() {
                subjects
                    .entry(user.to_owned())
                    .or_default()
                    .insert(s.clone());
                note(&mut subject_examples, user, e.seq);
                let p = pairs.entry((user.to_owned(), s.clone())).or_default();
                p.0 += 1;
                if p.1.len() < 10 {
                    p.1.push(e.seq);
                }
            }
        }
        if e.actor
            .role
            .as_deref()
            .is_some_and(|r| DAY_ROLES.contains(&r))
            && let Ok(ts) = switchboard_acd::Timestamp::from_millisecond(e.at_ms)
        {
            let local = ts.to_zoned(tz.clone());
            let weekend = matches!(
                local.weekday(),
                switchboard_acd::civil::Weekday::Saturday | switchboard_acd::civil::Weekday::Sunday
            );
            if weekend || !(7..19).contains(&local.hour()) {
                note(&mut night, user, e.seq);
            }
        }
    }
    let many_subjects = subjects
        .into_iter()
        .filter(|(_, s)| s.len() as u64 > many)
        .map(|(user, s)| UserCount {
            examples: subject_examples
                .get(&user)
                .map(|e: &(u64, Vec<u64>)| e.1.clone())
                .unwrap_or_default(),
            user,
            count: s.len() as u64,
        })
        .collect();
    let mut repeated_lookups: Vec<Repeated> = pairs
        .into_iter()
        .filter(|(_, (n, _))| *n >= repeated_min)
        .map(|((user, subject), (count, examples))| Repeated {
            user,
            subject,
            count,
            examples,
        })
        .collect();
    repeated_lookups.sort_by_key(|r| std::cmp::Reverse(r.count));
    Ok(Json(Anomalies {
        from_ms,
        to_ms,
        entries_read: found.len() as u64,
        queries_without_case_number: counts(no_case, 1),
        many_subjects,
        repeated_lookups,
        out_of_hours: counts(night, 1),
        time_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        truncated,
    }))
}

/// What verifying the stored log found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// `verified` or `failed`.
    pub status: &'static str,
    pub entries: Option<u64>,
    pub checkpoints: Option<usize>,
    pub unsigned_tail: Option<u64>,
    /// The first inconsistency, precisely.
    pub problem: Option<String>,
    pub seconds: f64,
}

/// Verify the whole stored log: every entry, every checkpoint signature, consistency.
#[utoipa::path(post, path = "/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyReport), (status = 503, body = ErrorBody)))]
pub async fn verify(State(app): State<AppState>) -> ApiResult<Json<VerifyReport>> {
    let log = log(&app)?;
    let started = std::time::Instant::now();
    let found = verify_store(app.store.as_ref(), log.origin(), &log.public_key()).await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Json(match found {
        Verification::Good(v) => VerifyReport {
            status: "verified",
            entries: Some(v.entries),
            checkpoints: Some(v.checkpoints),
            unsigned_tail: Some(v.unsigned_tail),
            problem: None,
            seconds,
        },
        Verification::Bad(e) => VerifyReport {
            status: "failed",
            entries: None,
            checkpoints: None,
            unsigned_tail: None,
            problem: Some(e.to_string()),
            seconds,
        },
    }))
}

/// A signed checkpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub at_ms: u64,
    pub signature: String,
}

/// The log's checkpoints and the public key that verifies them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Checkpoints {
    pub origin: String,
    pub public_key: String,
    pub size: u64,
    pub checkpoints: Vec<CheckpointView>,
}

/// Every signed checkpoint, with the public key.
#[utoipa::path(get, path = "/audit/checkpoints", tag = "audit",
    responses((status = 200, body = Checkpoints)))]
pub async fn checkpoints(State(app): State<AppState>) -> ApiResult<Json<Checkpoints>> {
    let log = log(&app)?;
    Ok(Json(Checkpoints {
        origin: log.origin().to_owned(),
        public_key: hex(log.public_key().as_bytes()),
        size: log.size(),
        checkpoints: log
            .checkpoints()
            .into_iter()
            .map(|c| CheckpointView {
                origin: c.origin,
                size: c.size,
                root: hex(&c.root),
                at_ms: c.at_ms,
                signature: hex(&c.signature),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    seq: u64,
    /// The tree size; default the newest checkpoint's.
    size: Option<u64>,
}

/// An inclusion proof, hex-encoded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InclusionView {
    pub seq: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub path: Vec<String>,
    /// Checked by the server with the RFC 9162 algorithm.
    pub verified: bool,
}

/// The inclusion proof of an entry.
#[utoipa::path(get, path = "/audit/proofs/inclusion", tag = "audit", params(InclusionQuery),
    responses((status = 200, body = InclusionView), (status = 400, body = ErrorBody)))]
pub async fn inclusion(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<InclusionView>> {
    let p = log(&app)?.inclusion_proof(q.seq, q.size)?;
    Ok(Json(InclusionView {
        seq: p.seq,
        tree_size: p.tree_size,
        leaf_hash: hex(&p.leaf),
        root: hex(&p.root),
        path: p.path.iter().map(|h| hex(h)).collect(),
        verified: p.verify(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    from: u64,
    to: u64,
}

/// A consistency proof, hex-encoded.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsistencyView {
    pub from: u64,
    pub to: u64,
    pub from_root: String,
    pub to_root: String,
    pub path: Vec<String>,
    pub verified: bool,
}

/// The consistency proof between two tree sizes.
#[utoipa::path(get, path = "/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery),
    responses((status = 200, body = ConsistencyView), (status = 400, body = ErrorBody)))]
pub async fn consistency(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyView>> {
    let p = log(&app)?.consistency_proof(q.from, q.to)?;
    Ok(Json(ConsistencyView {
        from: p.from,
        to: p.to,
        from_root: hex(&p.from_root),
        to_root: hex(&p.to_root),
        path: p.path.iter().map(|h| hex(h)).collect(),
        verified: p.verify(),
    }))
}
