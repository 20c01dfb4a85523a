//! The partner channel: agencies send the subject ahead, in JSON or in the Nlets IAQ text, and
//! the cross-check is ready when the officer calls.
//!
//! Partners authenticate with a per-agency API key (`Authorization: Bearer sbk_…`; only its
//! SHA-256 is stored; administrators issue, list and revoke keys) and name the officer of that
//! agency the request is for (`X-Officer-Badge`). The agency's agreement limits what it may
//! ask (the rules' partner-scope check: a jail-enforcement or warrant-service partner only
//! about people in its custody). Each agency has a request budget per minute; beyond it a
//! request gets 429 with `Retry-After`. Every request, refused or not, is audited like a call,
//! the partner officer as the caller.
//!
//! A partner reads back only its own inquiries, and only the status and, once a call-taker
//! has recorded a disposition, the text the center gives the caller: never a record, never a
//! candidate, so nothing about a minor's whereabouts or a protected (8 U.S.C. 1367) matter can
//! reach it.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchboard_audit::{Actor, Entry};
use switchboard_domain::{
    Agency, AgencyId, Agreement, BadgeNumber, E164, Officer, Subject, assess_caller,
};
use switchboard_matching::index::{LookupOptions, Query};
use switchboard_rules::{Caller, Claims, Facts, Location, Outcome, evaluate};
use switchboard_store::{OfficerFilter, PageRequest, PartnerInquiryRow, PartnerKeyRow};
use uuid::Uuid;

use crate::AppState;
use crate::auth::{ClientAddr, Principal, random, token_key};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;

/// The header naming the officer a partner request is for.
pub const OFFICER_HEADER: &str = "x-officer-badge";

/// Requests per minute each agency may make, by default.
pub const DEFAULT_PER_MINUTE: u32 = 120;

/// How far back a call from an officer's number looks for an inquiry they sent ahead.
pub const POP_WINDOW: time::Duration = time::Duration::hours(4);

// --- Rate limits -------------------------------------------------------------------------------

/// A token bucket per agency: `per_minute` requests a minute, as a burst or spread out.
#[derive(Debug)]
pub struct RateLimits {
    per_minute: u32,
    buckets: Mutex<HashMap<AgencyId, (f64, i64)>>,
}

impl RateLimits {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from the agency's budget at `now_ms`, or says in how many seconds
    /// the next one is allowed.
    pub fn take(&self, agency: AgencyId, now_ms: i64) -> Result<(), u64> {
        let cap = f64::from(self.per_minute);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets.entry(agency).or_insert((cap, now_ms));
        let elapsed = (now_ms - *at) as f64 / 1000.0;
        *at = now_ms;
        crate::admission::take_token(tokens, elapsed, cap / 60.0, cap)
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(DEFAULT_PER_MINUTE)
    }
}

// --- Keys (administrators) ---------------------------------------------------------------------

/// A key to issue.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for (1 to 60 characters), to tell keys apart.
    #[schema(min_length = 1)]
    pub label: String,
}

/// A partner key as administrators see it (never the key itself after it is issued).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: Uuid,
    pub agency_id: Uuid,
    /// The key's first characters.
    pub prefix: String,
    pub label: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>)]
    pub revoked_at: Option<time::OffsetDateTime>,
}

impl From<&PartnerKeyRow> for KeyView {
    fn from(k: &PartnerKeyRow) -> Self {
        Self {
            id: k.id,
            agency_id: k.agency_id.as_uuid(),
            prefix: k.prefix.clone(),
            label: k.label.clone(),
            created_by: k.created_by.clone(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just issued: the secret is shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: KeyView,
    /// Send as `Authorization: Bearer <secret>`. Not stored: keep it safe.
    pub secret: String,
}

fn agency_id(raw: &str) -> ApiResult<AgencyId> {
    super::path_id(raw)
}

/// Issue an API key for a partner agency (to rotate: issue a new one, then revoke the old).
#[utoipa::path(post, path = "/agencies/{id}/partner-keys", tag = "partner", params(("id" = Uuid, Path)),
    request_body = NewKey,
    responses((status = 201, body = IssuedKey), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create_key(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<IssuedKey>)> {
    let agency = app.store.agency(agency_id(&id)?).await?;
    let label = body.label.trim();
    if label.is_empty() || label.chars().count() > 60 || label.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "label",
            "say what the key is for (1 to 60 characters)",
        ));
    }
    let secret = format!("sbk_{}", crate::auth::hex(&random::<24>()));
    let key = PartnerKeyRow {
        id: Uuid::now_v7(),
        agency_id: agency.id,
        key_hash: token_key(&secret),
        prefix: secret[..12].to_owned(),
        label: label.to_owned(),
        created_by: who.username().to_owned(),
        created_at: app.now(),
        revoked_at: None,
    };
    let entry = Entry::new("partner_key.create", who.actor(), app.now_ms())
        .with_target(format!("agency:{} key:{}", agency.id, key.id))
        .with_note(format!("{} ({})", key.label, key.prefix));
    app.record(entry).await?;
    app.store.insert_partner_key(&key).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            key: KeyView::from(&key),
            secret,
        }),
    ))
}

/// An agency's keys, newest first (prefixes only).
#[utoipa::path(get, path = "/agencies/{id}/partner-keys", tag = "partner", params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<KeyView>), (status = 404, body = ErrorBody)))]
pub async fn list_keys(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    let agency = app.store.agency(agency_id(&id)?).await?;
    let keys = app.store.partner_keys_of(agency.id).await?;
    Ok(Json(keys.iter().map(KeyView::from).collect()))
}

/// Revoke a key: it never works again.
#[utoipa::path(delete, path = "/partner-keys/{id}", tag = "partner", params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: Uuid = super::path_id(&id)?;
    let entry = Entry::new("partner_key.revoke", who.actor(), app.now_ms())
        .with_target(format!("key:{id}"));
    app.record(entry).await?;
    if let Err(e) = app.store.revoke_partner_key(id, app.now()).await {
        let mut failed = Entry::new("partner_key.revoke", who.actor(), app.now_ms())
            .with_target(format!("key:{id}"));
        failed.outcome = switchboard_audit::Outcome::Failed;
        failed.note = Some(e.to_string());
        app.record(failed).await?;
        return Err(e.into());
    }
    Ok(StatusCode::NO_CONTENT)
}

// --- The partner caller ------------------------------------------------------------------------

/// A partner request's caller: the key, its agency, the named officer.
struct Partner {
    agency: Agency,
    officer: Officer,
    agreements: Vec<Agreement>,
    key_prefix: String,
}

impl Partner {
    fn actor(&self, address: Option<String>) -> Actor {
        Actor {
            user: None,
            username: format!(
                "partner:{}/{}",
                self.agency.ori,
                self.officer.badge.as_str()
            ),
            role: Some("partner".to_owned()),
            session: Some(self.key_prefix.clone()),
            address,
        }
    }

    fn caller(&self, phone: &E164) -> switchboard_audit::Caller {
        switchboard_audit::Caller {
            call: None,
            officer: Some(self.officer.id.to_string()),
            ori: Some(self.agency.ori.to_string()),
            phone: Some(phone.to_string()),
            verified: "partner_key".into(),
        }
    }
}

fn unauthorised(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, "unauthorized", message)
}

/// Who is asking: the key, the officer, the budget. Every refusal is audited.
async fn partner(
    app: &AppState,
    headers: &HeaderMap,
    address: Option<String>,
    action: &str,
) -> ApiResult<Partner> {
    let refuse = async |e: ApiError, who: String| -> ApiResult<Partner> {
        let mut why = e.body.message.clone();
        if who == "partner:unknown" {
            // No known key: one entry a source a minute with the count, so a flood of
            // keyless requests cannot grow the audit log one entry a request.
            metrics::counter!("switchboard_partner_unauthenticated_total").increment(1);
            let source = crate::logon_throttle::source_key(address.as_deref());
            match app
                .refusals
                .note(&format!("partner {source}"), app.now_ms())
            {
                Some(0) => {}
                Some(n) => {
                    why = format!(
                        "{why} ({n} earlier refusals from this address not audited one by one)"
                    );
                }
                None => return Err(e),
            }
        }
        let actor = Actor {
            username: who,
            role: Some("partner".to_owned()),
            address: address.clone(),
            ..Actor::default()
        };
        app.record(Entry::new(action, actor, app.now_ms()).refused(why))
            .await?;
        Err(e)
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|t| t.starts_with("sbk_")) else {
        return refuse(
            unauthorised(
                "partner_key_missing",
                "send the agency's API key as Authorization: Bearer sbk_…",
            ),
            "partner:unknown".into(),
        )
        .await;
    };
    let Some(key) = app.store.partner_key_by_hash(&token_key(token)).await? else {
        return refuse(
            unauthorised("partner_key_invalid", "this API key is not known"),
            "partner:unknown".into(),
        )
        .await;
    };
    let agency = app.store.agency(key.agency_id).await?;
    let tag = format!("partner:{}", agency.ori);
    if key.revoked_at.is_some() {
        return refuse(
            unauthorised(
                "partner_key_revoked",
                "this API key has been revoked; ask the center for a new one",
            ),
            tag,
        )
        .await;
    }
    if let Err(wait) = app.partner_limits.take(agency.id, app.now_ms()) {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "rate_limited",
            format!("this agency's request budget is spent; retry in {wait} s"),
        );
        e.retry_after = Some(wait);
        return refuse(e, tag).await;
    }
    let badge = headers
        .get(OFFICER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(BadgeNumber::parse);
    let badge = match badge {
        Some(Ok(b)) => b,
        _ => {
            return refuse(
                ApiError::invalid_field(
                    OFFICER_HEADER,
                    "name the agency's officer the request is for by badge number",
                ),
                tag,
            )
            .await;
        }
    };
    let found = app
        .store
        .list_officers(
            &OfficerFilter {
                agency_id: Some(agency.id),
                badge: Some(badge.clone()),
                ..OfficerFilter::default()
            },
            PageRequest {
                limit: 1,
                after: None,
            },
        )
        .await?;
    let Some(officer) = found.items.into_iter().next().filter(|o| o.active) else {
        return refuse(
            ApiError::new(
                StatusCode::FORBIDDEN,
                "officer_not_of_agency",
                "forbidden",
                format!(
                    "no active officer of this agency has badge {}",
                    badge.as_str()
                ),
            ),
            tag,
        )
        .await;
    };
    let agreements = app.store.agreements_of(agency.id).await?;
    Ok(Partner {
        agency,
        officer,
        agreements,
        key_prefix: key.prefix,
    })
}

// --- Inquiries ---------------------------------------------------------------------------------

/// An inquiry sent ahead in JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerInquiry {
    /// Why the records are queried (required).
    pub purpose: super::Purpose,
    pub subject: Subject,
    /// The number the officer will call from, if not their first registered one (it must be
    /// one of theirs).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Option<E164>,
}

/// The acknowledgement: the reference to quote on the call.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub reference: String,
    /// `checked`: the cross-check is done and waits for the call.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub received_at: time::OffsetDateTime,
}

/// What a partner may read of its inquiry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InquiryStatus {
    pub reference: String,
    /// `checked` (waiting for the call) or `answered`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub received_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub updated_at: time::OffsetDateTime,
    /// What the center tells the caller, once a disposition is recorded.
    pub response: Option<String>,
    /// The same as IAR text.
    pub iar: String,
}

/// The stored document of an inquiry: what was asked and the cross-check made at once. Read
/// only by the center (the call-taker's screen); a partner sees [`InquiryStatus`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentAhead {
    /// `json` or `iaq`.
    pub source: String,
    /// The IAQ text as received.
    #[serde(default)]
    pub text: Option<String>,
    pub purpose: super::Purpose,
    pub subject: Subject,
    /// The inquiring officer as the IAQ names them (`ATN`).
    #[serde(default)]
    pub attention: Option<String>,
    pub cross_check: CrossCheck,
    /// What the center tells the caller, once a disposition is recorded.
    #[serde(default)]
    pub response: Option<String>,
}

/// The cross-check of an inquiry sent ahead: the ranked candidates, as a lookup gives them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CrossCheck {
    pub candidates: Vec<CandidateSummary>,
    pub compared: usize,
    /// Milliseconds from acceptance to the cross-check being ready.
    pub ready_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CandidateSummary {
    pub record_id: String,
    pub system: String,
    pub name: String,
    pub date_of_birth: Option<String>,
    pub band: String,
    pub probability: f64,
    pub warnings: Vec<String>,
}

/// Send an inquiry ahead, in JSON.
#[utoipa::path(post, path = "/partner/inquiries", tag = "partner", request_body = PartnerInquiry,
    params(("x-officer-badge" = switchboard_domain::BadgeNumber, Header, description = "the badge of the agency's officer the request is for")),
    responses((status = 202, body = Accepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn send_json(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Accepted>)> {
    // Who is asking comes first: nothing about the body is said to an unknown caller.
    let p = partner(&app, &headers, address.clone(), "partner.inquiry").await?;
    let body: PartnerInquiry = match crate::extract::parse_checked_json(&body) {
        Ok(b) => b,
        Err(e) => {
            app.record(
                Entry::new("partner.inquiry", p.actor(address), app.now_ms())
                    .refused(e.body.message.clone()),
            )
            .await?;
            return Err(e);
        }
    };
    let row = accept(
        &app,
        &p,
        address,
        body.purpose,
        body.subject,
        body.phone,
        None,
        None,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted(&row))))
}

fn accepted(row: &PartnerInquiryRow) -> Accepted {
    Accepted {
        reference: row.reference.clone(),
        status: row.status.clone(),
        received_at: row.created_at,
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Send an inquiry ahead as an Nlets IAQ message (`text/plain`). The answer is text too: an
/// acknowledgement with the reference, or one `REJ/` line per problem.
#[utoipa::path(post, path = "/partner/iaq", tag = "partner", request_body(content = String, content_type = "text/plain"),
    params(("x-officer-badge" = switchboard_domain::BadgeNumber, Header, description = "the badge of the agency's officer the request is for")),
    responses((status = 202, body = String, content_type = "text/plain"), (status = 400, description = "The IAQ does not parse (text, as IAQs are), or a header is missing (JSON)", content((String = "text/plain"), (ErrorBody = "application/json"))),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn send_iaq(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let p = partner(&app, &headers, address.clone(), "partner.iaq").await?;
    let refuse = async |status: StatusCode, lines: String, why: String| -> ApiResult<Response> {
        app.record(Entry::new("partner.iaq", p.actor(address.clone()), app.now_ms()).refused(why))
            .await?;
        Ok(text(status, lines))
    };
    let Ok(message) = std::str::from_utf8(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "REJ/message/bad_character: the message is not text\n".into(),
            "not text".into(),
        )
        .await;
    };
    let q = match switchboard_iaq::parse(message, app.today()) {
        Ok(q) => q,
        Err(errors) => {
            let lines: String = errors
                .iter()
                .map(|e| format!("REJ/{}/{}: {}\n", e.field, e.code, e.message))
                .collect();
            let why = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.code))
                .collect::<Vec<_>>()
                .join(", ");
            return refuse(
                StatusCode::BAD_REQUEST,
                lines,
                format!("malformed IAQ: {why}"),
            )
            .await;
        }
    };
    if q.ori != p.agency.ori {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "REJ/header/ori_mismatch: the message names {}, the key is {}'s\n",
                q.ori, p.agency.ori
            ),
            "ORI of the message is not the key's agency".into(),
        )
        .await;
    }
    let purpose = super::Purpose {
        code: q.purpose,
        reason: format!("IAQ from {}", q.attention),
        case_number: None,
    };
    if !p.officer.phones.contains(&q.phone) {
        return refuse(
            StatusCode::BAD_REQUEST,
            format!(
                "REJ/PHN/not_officers_number: {} is not a registered number of officer {}; the call from it would not find this inquiry\n",
                q.phone,
                p.officer.badge.as_str()
            ),
            "PHN is not the officer's".into(),
        )
        .await;
    }
    let phone = Some(q.phone.clone());
    let row = accept(
        &app,
        &p,
        address,
        purpose,
        q.subject,
        phone,
        Some(message.to_owned()),
        Some(q.attention),
    )
    .await?;
    Ok(text(
        StatusCode::ACCEPTED,
        format!(
            "ACK.{}.AX.\nREF/{}.STS/{}.\n",
            p.agency.ori,
            row.reference,
            row.status.to_ascii_uppercase()
        ),
    ))
}

/// Checks what the agency may ask, runs the cross-check at once, stores and audits the
/// inquiry.
#[allow(clippy::too_many_arguments)]
async fn accept(
    app: &AppState,
    p: &Partner,
    address: Option<String>,
    purpose: super::Purpose,
    subject: Subject,
    phone: Option<E164>,
    text: Option<String>,
    attention: Option<String>,
) -> ApiResult<PartnerInquiryRow> {
    let started = std::time::Instant::now();
    let action = if text.is_some() {
        "partner.iaq"
    } else {
        "partner.inquiry"
    };
    let mut entry = Entry::new(action, p.actor(address), app.now_ms());
    let phone = match phone {
        Some(ph) if p.officer.phones.contains(&ph) => Ok(ph),
        Some(_) => Err(ApiError::invalid_field(
            "phone",
            "the number must be one of the officer's registered numbers",
        )),
        None => p.officer.phones.first().cloned().ok_or_else(|| {
            ApiError::conflict(
                "officer_has_no_phone",
                "the officer has no registered number to call from",
            )
        }),
    };
    let phone = match phone {
        Ok(ph) => ph,
        Err(e) => {
            app.record(entry.refused(e.body.message.clone())).await?;
            return Err(e);
        }
    };
    entry.caller = Some(p.caller(&phone));
    entry.query = super::subject_keys(&subject);
    let audited = match purpose.audited() {
        Ok(x) => x,
        Err(e) => {
            app.record(entry.refused(e.body.message.clone())).await?;
            return Err(e);
        }
    };
    entry.purpose = Some(audited);
    if let Err(e) = subject.validate() {
        app.record(entry.refused(e.to_string())).await?;
        return Err(e.into());
    }
    // What the agreement lets this agency ask: the rules' partner-scope check.
    let today = app.today();
    let assessment = assess_caller(Some((&p.officer, &p.agency, &p.agreements)), today);
    let in_custody = subject.in_custody.unwrap_or(false);
    let facts = Facts {
        today,
        max_age_days: app.max_record_age_days,
        records: Vec::new(),
        excluded: Vec::new(),
        file_complete: true,
        claims: Claims {
            dob: subject.date_of_birth,
            ..Claims::default()
        },
        caller: Caller {
            authorised: assessment.authorised,
            problems: assessment
                .problems
                .iter()
                .map(|x| x.code().to_owned())
                .collect(),
            agency_kind: Some(p.agency.kind),
            models: assessment.active_models.clone(),
        },
        in_custody,
        location: if in_custody {
            Location::Jail
        } else {
            Location::Field
        },
        injunctions: Vec::new(),
        // The scope check judges no records.
        stale_feeds: Vec::new(),
        determinations: Vec::new(),
    };
    let refusals: Vec<String> = evaluate(&facts)
        .into_iter()
        .filter(|h| h.outcomes.contains(&Outcome::Reject))
        .flat_map(|h| h.reasons)
        .collect();
    if !refusals.is_empty() {
        let why = refusals.join("; ");
        app.record(entry.refused(why.clone())).await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "outside_agreement",
            "forbidden",
            format!("the agency may not ask this: {why}"),
        ));
    }
    // The cross-check, at once.
    let query = Query::from_subject(&subject);
    let opts = LookupOptions {
        limit: 10,
        ..LookupOptions::default()
    };
    let res = match app.index.lookup(query, today, opts).await {
        Ok((res, _)) => res,
        Err(e) => {
            app.record(entry.refused(e.body.message.clone())).await?;
            return Err(e);
        }
    };
    let candidates: Vec<CandidateSummary> = res
        .candidates
        .iter()
        .map(|c| CandidateSummary {
            record_id: c.record.record_id.clone(),
            system: c.record.system.as_str().to_owned(),
            name: format!("{}, {}", c.record.family_name, c.record.given_name),
            date_of_birth: c.record.date_of_birth.clone(),
            band: crate::ui::label(&c.band),
            probability: c.probability,
            warnings: c.warnings.iter().map(|w| w.message.clone()).collect(),
        })
        .collect();
    let now = app.now();
    let reference = format!("IAQ-{}", reference_code());
    entry.systems = switchboard_domain::records::System::ALL
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    entry.records = candidates.iter().map(|c| c.record_id.clone()).collect();
    entry.result = Some(
        candidates
            .first()
            .map_or_else(|| "no_candidates".to_owned(), |c| c.band.clone()),
    );
    entry.target = Some(format!("partner-inquiry:{reference}"));
    let doc = SentAhead {
        source: if text.is_some() { "iaq" } else { "json" }.to_owned(),
        text,
        purpose,
        subject,
        attention,
        cross_check: CrossCheck {
            candidates,
            compared: res.compared,
            ready_ms: started.elapsed().as_secs_f64() * 1000.0,
        },
        response: None,
    };
    let row = PartnerInquiryRow {
        id: Uuid::now_v7(),
        reference,
        agency_id: p.agency.id,
        officer_id: p.officer.id,
        phone: phone.to_string(),
        status: "checked".to_owned(),
        document: serde_json::to_value(&doc).map_err(ApiError::internal)?,
        disposition_id: None,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    // Audited before it is stored: an inquiry that cannot be audited is not accepted.
    let failed = Entry::new(action, entry.actor.clone(), app.now_ms())
        .with_target(format!("partner-inquiry:{}", row.reference));
    app.record(entry).await?;
    if let Err(e) = app.store.insert_partner_inquiry(&row).await {
        let mut failed = failed;
        failed.outcome = switchboard_audit::Outcome::Failed;
        failed.note = Some(e.to_string());
        if let Err(e) = app.record(failed).await {
            tracing::error!(error = ?e, "could not audit a failed partner inquiry");
        }
        return Err(e.into());
    }
    metrics::histogram!("switchboard_partner_ready_seconds")
        .record(started.elapsed().as_secs_f64());
    Ok(row)
}

/// Ten characters from an alphabet without look-alikes (no 0/O, 1/I/L), easy to read out on a
/// call: about 49 bits.
fn reference_code() -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    random::<10>()
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The partner's own inquiry, or 404 (another agency's reference is not found either).
async fn own(
    app: &AppState,
    headers: &HeaderMap,
    address: Option<String>,
    reference: &str,
) -> ApiResult<(Partner, PartnerInquiryRow)> {
    let p = partner(app, headers, address.clone(), "partner.status").await?;
    let reference = reference.trim().to_ascii_uppercase();
    let reference = reference.as_str();
    let row = match app.store.partner_inquiry(reference).await {
        Ok(r) if r.agency_id == p.agency.id => r,
        Ok(_) | Err(switchboard_store::StoreError::NotFound { .. }) => {
            let e = ApiError::not_found(&format!("inquiry {reference}"));
            app.record(
                Entry::new("partner.status", p.actor(address), app.now_ms())
                    .with_target(format!("partner-inquiry:{reference}"))
                    .refused("no such inquiry of this agency"),
            )
            .await?;
            return Err(e);
        }
        Err(e) => return Err(e.into()),
    };
    let mut entry = Entry::new("partner.status", p.actor(address), app.now_ms())
        .with_target(format!("partner-inquiry:{reference}"));
    entry.result = Some(row.status.clone());
    // What the partner reads is a disclosure: on record with its text.
    if let Some(text) = row.document["response"].as_str() {
        entry.disclosed = Some(switchboard_audit::Disclosure {
            to: format!("officer {} of {}", p.officer.badge.as_str(), p.agency.ori),
            text: text.to_owned(),
        });
    }
    app.record(entry).await?;
    Ok((p, row))
}

fn status_of(p: &Partner, row: &PartnerInquiryRow) -> ApiResult<InquiryStatus> {
    let doc: SentAhead = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("partner inquiry {}: {e}", row.reference)))?;
    let iar = switchboard_iaq::iar(&switchboard_iaq::Reply {
        ori: &p.agency.ori,
        reference: &row.reference,
        status: &row.status.to_ascii_uppercase(),
        subject: &doc.subject,
        response: doc.response.as_deref(),
    });
    Ok(InquiryStatus {
        reference: row.reference.clone(),
        status: row.status.clone(),
        received_at: row.created_at,
        updated_at: row.updated_at,
        response: doc.response,
        iar,
    })
}

/// The status of an inquiry this agency sent, and the center's response once there is one.
#[utoipa::path(get, path = "/partner/inquiries/{reference}", tag = "partner", params(("reference" = String, Path), ("x-officer-badge" = switchboard_domain::BadgeNumber, Header, description = "the badge of the agency's officer the request is for")),
    responses((status = 200, body = InquiryStatus), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn status(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> ApiResult<Json<InquiryStatus>> {
    let (p, row) = own(&app, &headers, address, &reference).await?;
    Ok(Json(status_of(&p, &row)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    after: Option<Uuid>,
}

/// This agency's inquiries, newest first (to find a reference again).
#[utoipa::path(get, path = "/partner/inquiries", tag = "partner", params(ListQuery, ("x-officer-badge" = switchboard_domain::BadgeNumber, Header, description = "the badge of the agency's officer the request is for")),
    responses((status = 200, body = super::Paged<InquiryStatus>), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<ListQuery>,
) -> ApiResult<Json<super::Paged<InquiryStatus>>> {
    let p = partner(&app, &headers, address.clone(), "partner.list").await?;
    let page = app
        .store
        .list_partner_inquiries(p.agency.id, super::page_request(q.limit, q.after)?)
        .await?;
    let mut entry = Entry::new("partner.list", p.actor(address), app.now_ms());
    entry.result = Some(format!("{} inquiries", page.items.len()));
    app.record(entry).await?;
    let items = page
        .items
        .iter()
        .map(|r| status_of(&p, r))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(super::Paged {
        items,
        next: page.next,
    }))
}

/// The same as IAR text.
#[utoipa::path(get, path = "/partner/inquiries/{reference}/iar", tag = "partner", params(("reference" = String, Path), ("x-officer-badge" = switchboard_domain::BadgeNumber, Header, description = "the badge of the agency's officer the request is for")),
    responses((status = 200, body = String, content_type = "text/plain"), (status = 404, body = ErrorBody)))]
pub async fn status_iar(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> ApiResult<Response> {
    let (p, row) = own(&app, &headers, address, &reference).await?;
    Ok(text(StatusCode::OK, status_of(&p, &row)?.iar + "\n"))
}

/// The inquiry an officer sent ahead, for the call from their number arriving now.
pub(crate) async fn sent_ahead(
    app: &AppState,
    phone: &str,
) -> ApiResult<Option<(PartnerInquiryRow, SentAhead)>> {
    let Some(row) = app
        .store
        .partner_inquiry_for_phone(phone, app.now() - POP_WINDOW)
        .await?
    else {
        return Ok(None);
    };
    // An inquiry already answered does not pop again.
    if row.status == "answered" {
        return Ok(None);
    }
    let doc: SentAhead = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("partner inquiry {}: {e}", row.reference)))?;
    Ok(Some((row, doc)))
}

/// Records the center's answer on an inquiry sent ahead (a final disposition recorded on the
/// call it was sent for), audited as a disclosure to the partner. The first final answer
/// stands. A failure is logged: the disposition it comes from stands whatever happens here.
pub(crate) async fn answer(
    app: &AppState,
    who: &Principal,
    reference: &str,
    disposition: Uuid,
    response: &str,
) {
    if let Err(e) = try_answer(app, who, reference, disposition, response).await {
        tracing::error!(reference, error = %e.body.message, "the partner's answer could not be recorded");
    }
}

async fn try_answer(
    app: &AppState,
    who: &Principal,
    reference: &str,
    disposition: Uuid,
    response: &str,
) -> ApiResult<()> {
    let reference = reference.trim().to_ascii_uppercase();
    let mut row = app.store.partner_inquiry(&reference).await?;
    if row.status == "answered" {
        return Ok(());
    }
    let agency = app.store.agency(row.agency_id).await?;
    let mut doc: SentAhead = serde_json::from_value(row.document.clone())
        .map_err(|e| ApiError::internal(format!("partner inquiry {reference}: {e}")))?;
    doc.response = Some(response.to_owned());
    let expected = row.version;
    row.version += 1;
    row.status = "answered".to_owned();
    row.disposition_id = Some(disposition);
    row.document = serde_json::to_value(&doc).map_err(ApiError::internal)?;
    row.updated_at = app.now();
    let mut entry = Entry::new("partner.answer", who.actor(), app.now_ms()).with_target(format!(
        "partner-inquiry:{reference} disposition:{disposition}"
    ));
    entry.query = super::subject_keys(&doc.subject);
    entry.disclosed = Some(switchboard_audit::Disclosure {
        to: format!("partner {}", agency.ori),
        text: response.to_owned(),
    });
    app.record(entry).await?;
    app.store.update_partner_inquiry(&row, expected).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refills_over_the_minute() {
        let limits = RateLimits::new(3);
        let a = AgencyId::new();
        let b = AgencyId::new();
        for _ in 0..3 {
            assert!(limits.take(a, 0).is_ok());
        }
        let wait = limits.take(a, 0).unwrap_err();
        assert_eq!(wait, 20, "one request every 20 s at 3 a minute");
        assert!(limits.take(b, 0).is_ok(), "budgets are per agency");
        assert!(limits.take(a, 19_000).is_err());
        assert!(limits.take(a, 20_500).is_ok());
        // Idle for long, the budget is full again, not more.
        for _ in 0..3 {
            assert!(limits.take(a, 3_600_000).is_ok());
        }
        assert!(limits.take(a, 3_600_000).is_err());
    }

    #[test]
    fn references_are_readable() {
        let r = reference_code();
        assert_eq!(r.len(), 10);
        assert!(r.chars().all(|c| !"01OIL".contains(c)), "{r}");
    }
}
