//! The JSON API under `/api/v1`.

pub mod acd;
pub mod audit;
pub mod callers;
pub mod calls;
pub mod determinations;
pub mod dispositions;
pub mod lookups;
pub mod partner;
pub mod records;
pub mod registry;
pub mod staffing;
pub mod users;

use serde::{Deserialize, Deserializer, Serialize};
use switchboard_store::{Page, PageRequest};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Why a records query is made: required on every one (CJIS), refused without it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    /// `C` (criminal justice) or `F` (firearms), as on the IAQ.
    #[schema(value_type = String, example = "C", pattern = "^ *[CcFf] *$")]
    pub code: switchboard_domain::PurposeCode,
    /// Why, in the call-taker's words (3 to 500 characters).
    #[schema(
        min_length = 3,
        max_length = 500,
        pattern = "^ *[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069][^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]{1,498}[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069] *$"
    )]
    pub reason: String,
    /// The caller's case or incident number, where there is one (up to 40 letters, digits
    /// and `- / . #`).
    #[serde(default)]
    #[schema(pattern = "^ *[A-Za-z0-9/.#-]{0,40} *$")]
    pub case_number: Option<String>,
}

impl Purpose {
    /// Checks the free text; the audit form of the purpose.
    pub fn audited(&self) -> ApiResult<switchboard_audit::Purpose> {
        let reason = self.reason.trim();
        let n = reason.chars().count();
        if !(3..=500).contains(&n) || reason.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "purpose.reason",
                "say why the query is made (3 to 500 characters)",
            ));
        }
        let case_number = match self.case_number.as_deref().map(str::trim) {
            Some("") => None,
            Some(c)
                if c.chars().count() > 40
                    || !c
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "-/.#".contains(ch)) =>
            {
                return Err(ApiError::invalid_field(
                    "purpose.case_number",
                    "a case or incident number: up to 40 letters, digits and - / . #",
                ));
            }
            other => other.map(str::to_owned),
        };
        Ok(switchboard_audit::Purpose {
            code: self.code.as_str().to_owned(),
            reason: reason.to_owned(),
            case_number,
        })
    }
}

/// The keys under which the audit log files a query about `s`: the name with the birth date,
/// and each identifier given. Auditors account for a subject by any of them.
pub fn subject_keys(s: &switchboard_domain::Subject) -> Vec<String> {
    use switchboard_domain::fold_for_search;
    let mut keys = Vec::new();
    let words = |names: &[switchboard_domain::Name]| {
        names
            .iter()
            .map(|n| fold_for_search(n.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !s.family_names.is_empty() {
        let dob = s
            .date_of_birth
            .map(|d| d.to_string())
            .unwrap_or_else(|| "?".to_owned());
        keys.push(format!(
            "name:{} {}|{dob}",
            words(&s.family_names),
            words(&s.given_names)
        ));
    }
    if let Some(a) = &s.a_number {
        keys.push(format!("a_number:{a}"));
    }
    if let Some(f) = &s.fbi_number {
        keys.push(format!("fbi:{}", fold_for_search(f.as_str())));
    }
    if let Some(x) = &s.state_id {
        keys.push(format!("state_id:{}", fold_for_search(x.as_str())));
    }
    keys
}

/// Inquiries and dispositions are made on a live call — connected, or in the after-call work
/// of the agent who took it: a call-taker's or liaison's own (the ACD agent configured for
/// their username), a supervisor's on any. Anything else is refused, and the refusal audited.
pub async fn on_live_call(
    app: &crate::AppState,
    who: &crate::auth::Principal,
    call: uuid::Uuid,
    action: &str,
) -> ApiResult<()> {
    use switchboard_domain::Role;
    let work = match &app.acd {
        Some(host) => host.work_on(call).await,
        None => None,
    };
    if work.is_none() {
        // An unknown call is "not found", not "not live".
        app.store
            .call(switchboard_domain::CallId::from_uuid(call))
            .await?;
    }
    let refusal = match (work, who.role()) {
        (None, _) => Some((
            axum::http::StatusCode::CONFLICT,
            "call_not_live",
            "the call is not connected or in after-call work: inquiries and dispositions are made on a live call",
        )),
        (Some(w), Role::CallTaker | Role::JuvenileLiaison)
            if w.user.as_deref() != Some(who.username()) =>
        {
            Some((
                axum::http::StatusCode::FORBIDDEN,
                "not_your_call",
                "the call is another agent's: inquiries and dispositions are made on your own call",
            ))
        }
        (Some(_), Role::CallTaker | Role::JuvenileLiaison | Role::Supervisor) => None,
        (Some(_), _) => Some((
            axum::http::StatusCode::FORBIDDEN,
            "not_your_call",
            "only the agent on the call, or a supervisor, makes inquiries on it",
        )),
    };
    let Some((status, code, message)) = refusal else {
        return Ok(());
    };
    let mut entry = switchboard_audit::Entry::new(action, who.actor(), app.now_ms())
        .with_target(format!("call:{call}"));
    entry.caller = caller_of(app, call).await.ok();
    app.record(entry.refused(message)).await?;
    Err(ApiError::new(status, code, "forbidden", message))
}

/// A second audit entry for an action whose first entry was written but whose write then
/// failed (a version conflict, the database): the log never shows an action that did not
/// happen as if it had.
pub async fn audit_failure(
    app: &crate::AppState,
    who: &crate::auth::Principal,
    action: &str,
    target: String,
    error: String,
) {
    let mut failed =
        switchboard_audit::Entry::new(action, who.actor(), app.now_ms()).with_target(target);
    failed.outcome = switchboard_audit::Outcome::Failed;
    failed.note = Some(error);
    if let Err(e) = app.record(failed).await {
        tracing::error!(error = ?e, action, "could not audit a failed write");
    }
}

/// For whom: the call's caller as the registry identified them.
pub async fn caller_of(
    app: &crate::AppState,
    call: uuid::Uuid,
) -> ApiResult<switchboard_audit::Caller> {
    let call = app
        .store
        .call(switchboard_domain::CallId::from_uuid(call))
        .await?;
    let ori = match call.officer_id {
        Some(id) => {
            let o = app.store.officer(id).await?;
            Some(app.store.agency(o.agency_id).await?.ori)
        }
        None => None,
    };
    Ok(audit_caller(&call, ori.as_ref()))
}

/// The audit form of a call's caller, given the agency of its identified officer.
pub fn audit_caller(
    call: &switchboard_domain::Call,
    ori: Option<&switchboard_domain::Ori>,
) -> switchboard_audit::Caller {
    let officer = call.officer_id.map(|id| id.to_string());
    switchboard_audit::Caller {
        call: Some(call.id.to_string()),
        verified: if officer.is_some() {
            "ani_registry".into()
        } else {
            "ani_unknown".into()
        },
        officer,
        ori: ori.map(|o| o.to_string()),
        phone: call.ani.as_ref().map(|a| a.to_string()),
    }
}

/// One page of a listing. Pass `next` back as `after` to get the following page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Cursor for the next page; absent on the last page.
    pub next: Option<Uuid>,
}

impl<T> Paged<T> {
    pub fn from_page<U>(p: Page<U>, f: impl FnMut(U) -> T) -> Self {
        Self {
            items: p.items.into_iter().map(f).collect(),
            next: p.next,
        }
    }
}

/// Checks a `limit` given by a client: absent means the default, out of range is an error
/// rather than silently clamped, so a client never misreads a short page.
pub fn page_request(limit: Option<u32>, after: Option<Uuid>) -> ApiResult<PageRequest> {
    let limit = limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
    if !(1..=PageRequest::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!(
                "must be between 1 and {}, got {limit}",
                PageRequest::MAX_LIMIT
            ),
        ));
    }
    Ok(PageRequest { limit, after })
}

/// The longest free-text search accepted.
pub const MAX_SEARCH_CHARS: usize = 100;

pub fn search_text(q: Option<String>) -> ApiResult<Option<String>> {
    match q.map(|s| s.trim().to_owned()) {
        Some(s) if s.chars().count() > MAX_SEARCH_CHARS => Err(ApiError::invalid_field(
            "q",
            format!("must be at most {MAX_SEARCH_CHARS} characters"),
        )),
        Some(s) if s.chars().any(char::is_control) => Err(ApiError::invalid_field(
            "q",
            "must not contain control characters",
        )),
        Some(s) if s.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Parses a path id, answering 400 (not 404) for something that is not an id at all.
pub fn path_id<T: std::str::FromStr>(raw: &str) -> ApiResult<T> {
    raw.parse()
        .map_err(|_| ApiError::invalid_field("id", format!("{raw:?} is not a valid id (a UUID)")))
}

/// For PATCH bodies: tells a field that is absent (`None`) from one set to null (`Some(None)`).
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A PATCH may carry the version the client read; a mismatch is refused before any write.
/// Every update names the version it was made from: without it a change would silently
/// overwrite one made meanwhile.
pub fn check_version(given: Option<i64>, current: i64, entity: &str) -> ApiResult<()> {
    match given {
        None => Err(ApiError::invalid_field(
            "version",
            format!("required: the {entity}'s version you read (it is at {current})"),
        )),
        Some(v) if v != current => Err(ApiError::conflict(
            "version_conflict",
            format!("the {entity} is at version {current}, not {v}; fetch it again and retry"),
        )),
        _ => Ok(()),
    }
}
