//! Who is asking, and may they: sessions, CSRF, the access table of every route, and the audit
//! entry every access leaves.
//!
//! [`guard`] runs before every API handler. It finds the route in [`access`] (a route missing
//! from the table is refused: deny by default), checks the session cookie (ended, expired after
//! 12 hours, locked after 30 minutes idle), the CSRF header on every request that changes
//! something, and the role's permission; then it writes the audit entry of the access before
//! the handler runs, so an access that cannot be audited does not happen. Handlers that know
//! more (lookups, dispositions, logons) write their own, richer entry instead.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use switchboard_accounts::policy::{self, SessionState};
use switchboard_accounts::{Permission, allows, password, totp};
use switchboard_audit::{Actor, Entry, Outcome};
use switchboard_domain::{Role, User, Username};
use switchboard_store::SessionRow;

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::ApiJson;

/// The session cookie's name.
pub const COOKIE: &str = "sb_session";
/// The header that must carry the session's CSRF token on every request that changes state.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Anyone (logon, the API description).
    Public,
    /// Any logged-on user.
    Session,
    /// A logged-on user whose session may be idle-locked (to unlock it).
    LockedSession,
    /// A user whose role holds the permission.
    Perm(Permission),
}

/// How an access is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audit {
    /// [`guard`] writes the entry before the handler runs.
    Request,
    /// The handler writes a richer entry itself (before anything is disclosed or changed).
    Handler,
    /// Aggregates and live feeds that name no one: not audited per request.
    Quiet,
}

/// The access rule of every API route (paths as under `/api/v1`). A route that is not here is
/// refused, and a test checks that every route of the OpenAPI document is here.
pub fn access(method: &Method, path: &str) -> Option<(Gate, Audit)> {
    use Audit::*;
    use Gate::*;
    use Permission as P;
    let m = method.as_str();
    Some(match (m, path) {
        ("GET", "/openapi.json") => (Public, Quiet),
        ("POST", "/session") => (Public, Handler),
        ("GET", "/session") => (Session, Quiet),
        ("DELETE", "/session") => (Session, Handler),
        ("POST", "/session/unlock") => (LockedSession, Handler),

        ("GET", "/agencies" | "/agencies/{id}" | "/agreements" | "/agreements/{id}")
        | ("GET", "/officers" | "/officers/{id}") => (Perm(P::RegistryRead), Request),
        ("POST", "/agencies" | "/agreements" | "/officers")
        | ("PATCH", "/agencies/{id}" | "/agreements/{id}" | "/officers/{id}") => {
            (Perm(P::RegistryWrite), Request)
        }
        ("GET", "/callers/{e164}") => (Perm(P::CallerLookup), Request),
        ("GET", "/calls" | "/calls/{id}") => (Perm(P::CallsRead), Request),
        ("POST", "/lookups") => (Perm(P::RecordsQuery), Handler),

        ("GET", "/acd/queues" | "/acd/agents" | "/acd/intervals" | "/acd/events") => {
            (Perm(P::AcdView), Quiet)
        }
        ("GET", "/acd/calls") => (Perm(P::AcdView), Request),
        ("POST", "/acd/calls" | "/acd/calls/{call}/hangup" | "/acd/calls/{call}/callback") => {
            (Perm(P::TelephonyEdge), Request)
        }
        ("POST", "/acd/calls/{call}/end")
        | ("POST", "/acd/agents/{agent}/answer" | "/acd/agents/{agent}/reject")
        | ("POST", "/acd/agents/{agent}/state") => (Perm(P::AgentControl), Request),

        ("GET", "/staffing") => (Perm(P::Staffing), Quiet),

        ("POST", "/dispositions/evaluate") => (Perm(P::DispositionWrite), Handler),
        ("POST", "/dispositions") => (Perm(P::DispositionWrite), Handler),
        ("GET", "/dispositions" | "/dispositions/{id}") => (Perm(P::DispositionRead), Request),
        ("POST", "/dispositions/{id}/approve" | "/dispositions/{id}/refuse") => {
            (Perm(P::DispositionReview), Handler)
        }
        ("POST", "/dispositions/{id}/override") => (Perm(P::RuleOverride), Handler),
        ("POST", "/determinations")
        | ("POST", "/determinations/{id}/approve" | "/determinations/{id}/refuse") => {
            (Perm(P::Determine), Handler)
        }
        ("GET", "/determinations" | "/determinations/{id}") => {
            (Perm(P::DeterminationRead), Request)
        }
        ("GET", "/liaison-cases" | "/liaison-cases/{id}") => (Perm(P::LiaisonRead), Request),
        ("PATCH", "/liaison-cases/{id}") => (Perm(P::LiaisonWrite), Request),

        ("GET", "/users" | "/users/{id}") => (Perm(P::UserAdmin), Request),
        ("POST", "/users" | "/users/{id}/unlock") | ("PATCH", "/users/{id}") => {
            (Perm(P::UserAdmin), Handler)
        }
        ("GET", "/role-requests") => (Perm(P::UserAdmin), Request),
        ("POST", "/role-requests/{id}/approve" | "/role-requests/{id}/refuse") => {
            (Perm(P::UserAdmin), Handler)
        }

        ("POST", "/agencies/{id}/partner-keys") | ("DELETE", "/partner-keys/{id}") => {
            (Perm(P::RegistryWrite), Handler)
        }
        ("GET", "/agencies/{id}/partner-keys") => (Perm(P::RegistryWrite), Request),
        // Partners authenticate with their agency's key, checked (and audited) by the handler.
        ("POST", "/partner/inquiries" | "/partner/iaq")
        | ("GET", "/partner/inquiries" | "/partner/inquiries/{reference}")
        | ("GET", "/partner/inquiries/{reference}/iar") => (Public, Handler),

        // Record feeds authenticate with their feed key, checked (and audited) by the handler.
        ("POST", "/records") => (Public, Handler),
        ("POST", "/record-feeds") | ("DELETE", "/record-feeds/{id}") => {
            (Perm(P::RecordFeeds), Handler)
        }
        ("GET", "/record-feeds" | "/records/status") => (Perm(P::RecordFeeds), Request),
        ("POST", "/records/retrain") => (Perm(P::RecordFeeds), Request),

        ("GET", "/audit/entries" | "/audit/accounting" | "/audit/anomalies")
        | ("GET", "/audit/checkpoints" | "/audit/proofs/inclusion" | "/audit/proofs/consistency")
        | ("POST", "/audit/verify") => (Perm(P::AuditRead), Request),
        _ => return None,
    })
}

/// The logged-on user of a request, put there by [`guard`].
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The hash of the session token (the store's key).
    pub session: String,
    /// The short public name of the session.
    pub reference: String,
    pub csrf: String,
    pub address: Option<String>,
}

impl Principal {
    pub fn role(&self) -> Role {
        self.user.role
    }

    pub fn username(&self) -> &str {
        self.user.username.as_str()
    }

    pub fn can(&self, p: Permission) -> bool {
        allows(self.user.role, p)
    }

    /// Who acted, for the audit log.
    /// The audit entry of an action refused because the role lacks `missing`.
    pub fn refusal(
        &self,
        action: impl Into<String>,
        target: &str,
        missing: Permission,
        at_ms: i64,
    ) -> Entry {
        Entry::new(action, self.actor(), at_ms)
            .with_target(target)
            .refused(format!(
                "the role {} lacks {}",
                self.role().as_str(),
                missing.as_str()
            ))
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user: Some(self.user.id.to_string()),
            username: self.username().to_owned(),
            role: Some(self.user.role.as_str().to_owned()),
            session: Some(self.reference.clone()),
            address: self.address.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(not_authenticated)
    }
}

fn not_authenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
        "unauthorized",
        "log on first (POST /api/v1/session)",
    )
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", "forbidden", message)
}

/// The client's address, when the server was started with connection info.
#[derive(Debug)]
pub struct ClientAddr(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(address(&parts.extensions)))
    }
}

fn address(parts: &axum::http::Extensions) -> Option<String> {
    parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub use switchboard_audit::to_hex as hex;

/// Random bytes from the operating system.
pub fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system provides random numbers");
    b
}

/// The store key of a session token: its SHA-256, so a database reader cannot use a session.
pub fn token_key(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Runs before every API handler: see the module's documentation.
pub async fn guard(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let Some(path) = path else {
        // No route matched: the fallback answers 404.
        return next.run(req).await;
    };
    let path = path.strip_prefix("/api/v1").unwrap_or(&path).to_owned();
    let method = req.method().clone();
    let Some((gate, audit)) = access(&method, &path) else {
        return ApiError::internal(format!("route {method} {path} has no access rule"))
            .into_response();
    };
    if gate == Gate::Public {
        return next.run(req).await;
    }
    let token = cookie_token(req.headers());
    let client = address(req.extensions());
    let principal = match authenticate(
        &app,
        token,
        client.clone(),
        gate == Gate::LockedSession,
        true,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            if e.status == StatusCode::UNAUTHORIZED {
                audit_unauthenticated(&app, &format!("{method} {path}"), client, &e).await;
            }
            return e.into_response();
        }
    };
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && !csrf_ok(req.headers(), &principal) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "forbidden",
            format!("send the session's CSRF token in the {CSRF_HEADER} header"),
        )
        .into_response();
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if let Gate::Perm(p) = gate
        && !principal.can(p)
    {
        let entry = principal.refusal(format!("{method} {path}"), &target, p, app.now_ms());
        if let Err(e) = app.record(entry).await {
            tracing::error!(error = ?e, "could not audit a refused access");
        }
        return forbidden(format!(
            "your role ({}) may not do this",
            principal.role().as_str()
        ))
        .into_response();
    }
    let action = format!("{method} {path}");
    // A change's entry is written before it is made and stays open until its answer: one cut
    // off (the client leaves, the server stops or crashes) gets its "failed" entry.
    let mut open = None;
    if audit == Audit::Request {
        let entry = Entry::new(&action, principal.actor(), app.now_ms()).with_target(&target);
        let written = if changes {
            app.begin(entry).await.map(|a| open = Some(a))
        } else {
            app.record(entry).await.map(drop)
        };
        if let Err(e) = written {
            return e.into_response();
        }
    }
    let actor = principal.actor();
    req.extensions_mut().insert(principal);
    let response = next.run(req).await;
    if audit == Audit::Request
        && (response.status().is_client_error() || response.status().is_server_error())
    {
        let mut entry = Entry::new(&action, actor, app.now_ms()).with_target(&target);
        entry.outcome = Outcome::Failed;
        entry.note = Some(format!("answered {}", response.status().as_u16()));
        let written = match open {
            Some(a) => a.failed(entry).await.map(drop).map_err(|e| e.to_string()),
            None => app
                .record(entry)
                .await
                .map(drop)
                .map_err(|e| e.body.message),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "could not audit a failed action");
        }
    } else if let Some(a) = open {
        a.done();
    }
    response
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The session of a page request (its cookie), for the browser pages' own guard: an
/// idle-locked session too (the page then offers the unlock), with where it stands. A request
/// that is not the user's doing (a live stream connecting again) does not count as activity
/// (`touch` false), so it cannot keep a session from locking.
pub async fn page_principal(
    app: &AppState,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    touch: bool,
) -> ApiResult<(Principal, PageSession)> {
    let p = authenticate(app, cookie_token(headers), address(extensions), true, touch).await?;
    let state = page_session(app, &p).await;
    Ok((p, state))
}

/// Whether a request carries the session's CSRF token.
pub fn csrf_ok(headers: &HeaderMap, who: &Principal) -> bool {
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    constant_time_eq(given.as_bytes(), who.csrf.as_bytes())
}

/// Where a page's session stands now (its live stream stops unless it is active).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageSession {
    Active,
    /// Idle-locked: the page offers the unlock (password and a fresh code).
    Locked,
    /// Logged off, expired, or the account disabled: log on again.
    Over,
}

/// Where a page's session stands. Reads only; never extends it.
pub async fn page_session(app: &AppState, who: &Principal) -> PageSession {
    let Ok(Some(s)) = app.store.session(&who.session).await else {
        return PageSession::Over;
    };
    let state = session_state(&s, app.now());
    if !matches!(app.store.user(s.user_id).await, Ok(u) if u.active) {
        return PageSession::Over;
    }
    match state {
        SessionState::Active => PageSession::Active,
        SessionState::IdleLocked => PageSession::Locked,
        _ => PageSession::Over,
    }
}

/// Audits a request refused for want of a session as a counted summary: one entry a source
/// address a minute, saying how many refusals since the last one were not written one by one,
/// so a flood without a session cannot grow the audit log an entry a request.
async fn audit_unauthenticated(app: &AppState, action: &str, client: Option<String>, e: &ApiError) {
    metrics::counter!("switchboard_unauthenticated_total").increment(1);
    let source = crate::logon_throttle::source_key(client.as_deref());
    let Some(skipped) = app
        .refusals
        .note(&format!("session {source}"), app.now_ms())
    else {
        return;
    };
    let mut why = format!("no session: {}", e.body.code);
    if skipped > 0 {
        why =
            format!("{why} ({skipped} earlier refusals from this address not audited one by one)");
    }
    let actor = Actor {
        // Not a username anyone can have (usernames hold no colon).
        username: "session:none".to_owned(),
        address: client,
        ..Actor::default()
    };
    if let Err(err) = app
        .record(Entry::new(action, actor, app.now_ms()).refused(why))
        .await
    {
        tracing::error!(error = ?err, "could not audit a refusal without a session");
    }
}

/// Finds and checks the request's session.
async fn authenticate(
    app: &AppState,
    token: Option<String>,
    client: Option<String>,
    allow_locked: bool,
    touch: bool,
) -> ApiResult<Principal> {
    let token = token.ok_or_else(not_authenticated)?;
    let key = token_key(&token);
    let session = app
        .store
        .session(&key)
        .await?
        .ok_or_else(not_authenticated)?;
    let now = app.now();
    let state = session_state(&session, now);
    match state {
        SessionState::Active => {}
        SessionState::IdleLocked if allow_locked => {}
        SessionState::IdleLocked => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_locked",
                "unauthorized",
                "the session locked after 30 minutes without activity; unlock it with your password and code (POST /api/v1/session/unlock)",
            ));
        }
        SessionState::Expired => {
            app.store.end_session(&key, now, "expired").await?;
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_expired",
                "unauthorized",
                "sessions end 12 hours after logon; log on again",
            ));
        }
        SessionState::Ended => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_ended",
                "unauthorized",
                "this session has ended; log on again",
            ));
        }
    }
    let user = app.store.user(session.user_id).await?;
    if !user.active {
        app.store.end_session(&key, now, "account disabled").await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_ended",
            "unauthorized",
            "this account is disabled",
        ));
    }
    if touch
        && state == SessionState::Active
        && ms(now) - ms(session.last_seen_at) >= policy::TOUCH_EVERY_MS
    {
        app.store.touch_session(&key, now).await?;
    }
    Ok(Principal {
        user,
        session: key,
        reference: session.reference,
        csrf: session.csrf_token,
        address: client,
    })
}

fn session_state(s: &SessionRow, now: time::OffsetDateTime) -> SessionState {
    switchboard_accounts::session_state(
        ms(s.created_at),
        ms(s.last_seen_at),
        s.ended_at.is_some(),
        ms(now),
    )
}

/// A logon.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Logon {
    pub username: String,
    pub password: String,
    /// The 6-digit code of the authenticator app.
    pub totp: String,
}

/// The logged-on session.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub user: User,
    /// Send it in the `x-csrf-token` header of every request that changes something.
    pub csrf_token: String,
    /// The session's public reference (as the audit log names it).
    pub session: String,
    /// When the session ends, whatever happens (12 hours after logon).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub expires_at: time::OffsetDateTime,
    /// Seconds without activity after which the session locks.
    pub idle_lock_seconds: i64,
}

fn session_cookie(app: &AppState, token: &str, max_age: i64) -> HeaderValue {
    let secure = if app.cookie_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("a hex token makes a valid header")
}

fn logon_failed() -> ApiError {
    // One answer for every wrong part and for a locked account, so a guesser learns nothing
    // about which was wrong or whether the name exists.
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "logon_failed",
        "unauthorized",
        "the username, password or one-time code is wrong (after 5 failed logons an account \
         is locked for 15 minutes, except from the places it usually logs on from)",
    )
}

fn account_locked() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "account_locked",
        "forbidden",
        "this account is locked after 5 failed logons; it opens again after 15 minutes, or \
         when an administrator unlocks it",
    )
}

fn too_many_logons(wait_ms: i64) -> ApiError {
    let seconds = (wait_ms.max(1) as u64).div_ceil(1000);
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_logons",
        "rate_limited",
        format!("too many failed logons from this address; try again in {seconds} s"),
    );
    e.retry_after = Some(seconds);
    e
}

/// Checks password and code against the credentials; on failure, counts it (and locks at the
/// fifth in 15 minutes). `Err(why)` inside when they do not match. A lock in force refuses
/// only a source the account is not `familiar` with, and only after the password was checked
/// (so a locked account answers in the time a wrong password does). A replayed code with the
/// right password is refused but not counted: it is the owner logging on twice in one step.
async fn check_secrets(
    app: &AppState,
    user: &User,
    password: &str,
    code: &str,
    familiar: bool,
) -> ApiResult<Result<(), &'static str>> {
    let creds = app
        .store
        .credentials(user.id)
        .await?
        .ok_or_else(|| ApiError::internal(format!("user {} has no credentials", user.id)))?;
    let now = app.now();
    let lock_holds = policy::lock_holds(creds.locked_at.map(ms), ms(now));
    let password_ok = {
        let (pw, hash) = (password.to_owned(), creds.password_hash.clone());
        // Argon2id takes tens of milliseconds of CPU: off the async workers.
        tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
            .await
            .map_err(ApiError::internal)?
    };
    if lock_holds && !familiar {
        return Ok(Err("account locked"));
    }
    let owner = user.id.to_string();
    let secret = app.sealing.open(&owner, &creds.totp_secret).map_err(|e| {
        ApiError::internal(format!(
            "the second factor of user {} does not open with the configured TOTP key: {e}",
            user.id
        ))
    })?;
    let step = if password_ok {
        totp::check(
            &secret,
            code,
            now.unix_timestamp().max(0) as u64,
            creds.totp_last_step.max(0) as u64,
        )
    } else {
        Err(totp::TotpProblem::Wrong)
    };
    let mut next = creds.clone();
    next.version += 1;
    next.updated_at = now;
    // A secret stored before sealing existed is sealed the first time it is written back.
    if !switchboard_accounts::sealed::is_sealed(&next.totp_secret) {
        next.totp_secret = app.sealing.seal(&owner, &secret, random());
    }
    let outcome = match step {
        Ok(step) => {
            next.totp_last_step = step as i64;
            next.failures.clear();
            next.locked_at = None;
            Ok(())
        }
        Err(totp::TotpProblem::Replayed) if password_ok => {
            return Ok(Err("one-time code replayed"));
        }
        Err(problem) => {
            let (failures, locks) = policy::note_failure(&creds.failures, ms(now));
            next.failures = failures;
            let newly = locks && !lock_holds;
            if newly {
                next.locked_at = Some(now);
            }
            Err(match (password_ok, problem, newly) {
                (_, _, true) => "locked by this failure",
                (false, _, _) => "wrong password",
                (true, _, _) => "wrong one-time code",
            })
        }
    };
    match app.store.update_credentials(&next, creds.version).await {
        Ok(()) => Ok(outcome),
        // Another attempt on the same account at the same moment: this one is refused like
        // any failed logon (never a distinct answer that would confirm the name).
        Err(switchboard_store::StoreError::Stale { .. }) => Ok(Err("concurrent logon attempt")),
        Err(e) => Err(e.into()),
    }
}

/// An Argon2id hash of a random password nobody knows, checked against when the username is
/// unknown (made once, on first use).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| password::hash(&hex(&random::<16>()), &random::<16>()))
}

/// Whether a refused check was (or made) the account locked.
fn is_lock(why: &str) -> bool {
    why.starts_with("locked") || why == "account locked"
}

fn logon_actor(username: &str, user: Option<&User>, address: Option<String>) -> Actor {
    Actor {
        user: user.map(|u| u.id.to_string()),
        username: username.chars().take(64).collect(),
        role: user.map(|u| u.role.as_str().to_owned()),
        session: None,
        address,
    }
}

/// Log on with username, password and the authenticator's code. Every role needs all three.
/// Five failures within 15 minutes lock the account for 15 minutes against every source it has
/// not logged on from in the last 90 days; each source address is slowed down after 5
/// failures (429 with `Retry-After`, growing). Unknown names, wrong secrets and locked accounts
/// get the same answer in the same time.
#[utoipa::path(post, path = "/session", tag = "accounts", request_body = Logon,
    responses((status = 201, body = SessionView), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub async fn logon(
    State(app): State<AppState>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<Logon>,
) -> ApiResult<Response> {
    let source = crate::logon_throttle::source_key(address.as_deref());
    if let crate::logon_throttle::Verdict::Wait { ms, audit } =
        app.logon_throttle.check(&source, app.now_ms())
    {
        metrics::counter!("switchboard_logons_throttled_total").increment(1);
        if let Some(unaudited) = audit {
            // One entry a throttling period, not one a request.
            let actor = logon_actor(&body.username, None, address.clone());
            let why = format!(
                "too many failed logons from {source}: refused for {} s ({unaudited} earlier refusals not audited one by one)",
                (ms as u64).div_ceil(1000)
            );
            app.record(Entry::new("logon.throttled", actor, app.now_ms()).refused(why))
                .await?;
        }
        return Err(too_many_logons(ms));
    }
    let user = match Username::parse(&body.username) {
        Ok(name) => app.store.user_by_username(&name).await?,
        Err(_) => None,
    };
    let actor = logon_actor(&body.username, user.as_ref(), address.clone());
    let refuse = |why: &str| Entry::new("logon", actor.clone(), app.now_ms()).refused(why);
    let failed = || {
        app.logon_throttle.failed(&source, app.now_ms());
        metrics::counter!("switchboard_logons_failed_total").increment(1);
    };
    let user = match user {
        Some(u) if u.active => u,
        other => {
            // Spend the time a password check takes, so that an unknown or disabled username
            // cannot be told from a wrong password by the answer's delay.
            let pw = body.password.clone();
            tokio::task::spawn_blocking(move || password::verify(&pw, dummy_hash()))
                .await
                .map_err(ApiError::internal)?;
            failed();
            let why = if other.is_some() {
                "account disabled"
            } else {
                "unknown username"
            };
            app.record(refuse(why)).await?;
            return Err(logon_failed());
        }
    };
    let familiar = match &address {
        Some(a) => {
            let since = app.now() - time::Duration::milliseconds(policy::FAMILIAR_MS);
            app.store.logged_on_from(user.id, a, since).await?
        }
        None => false,
    };
    if let Err(why) = check_secrets(&app, &user, &body.password, &body.totp, familiar).await? {
        if why != "one-time code replayed" {
            failed();
        }
        let why = if is_lock(why) {
            format!("{why} (for 15 minutes, against sources it has not logged on from)")
        } else {
            why.to_owned()
        };
        app.record(refuse(&why)).await?;
        return Err(logon_failed());
    }
    app.logon_throttle.succeeded(&source);
    let token = hex(&random::<32>());
    let now = app.now();
    let session = SessionRow {
        id: token_key(&token),
        reference: hex(&random::<6>()),
        user_id: user.id,
        csrf_token: hex(&random::<32>()),
        address: address.clone().unwrap_or_default(),
        created_at: now,
        last_seen_at: now,
        ended_at: None,
        end_reason: None,
    };
    let mut entry = Entry::new("logon", actor, app.now_ms());
    entry.actor.session = Some(session.reference.clone());
    // Audit first: a logon that cannot be audited does not happen.
    app.record(entry).await?;
    app.store.insert_session(&session).await?;
    let view = SessionView {
        user,
        csrf_token: session.csrf_token.clone(),
        session: session.reference.clone(),
        expires_at: now + time::Duration::milliseconds(policy::ABSOLUTE_MS),
        idle_lock_seconds: policy::IDLE_LOCK_MS / 1000,
    };
    let mut res = (StatusCode::CREATED, Json(view)).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&app, &token, policy::ABSOLUTE_MS / 1000),
    );
    Ok(res)
}

/// The current session.
#[utoipa::path(get, path = "/session", tag = "accounts",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn current(State(app): State<AppState>, p: Principal) -> ApiResult<Json<SessionView>> {
    let s = app
        .store
        .session(&p.session)
        .await?
        .ok_or_else(not_authenticated)?;
    Ok(Json(SessionView {
        user: p.user,
        csrf_token: p.csrf,
        session: p.reference,
        expires_at: s.created_at + time::Duration::milliseconds(policy::ABSOLUTE_MS),
        idle_lock_seconds: policy::IDLE_LOCK_MS / 1000,
    }))
}

/// Log off: the session ends on the server at once.
#[utoipa::path(delete, path = "/session", tag = "accounts",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logoff(State(app): State<AppState>, p: Principal) -> ApiResult<Response> {
    app.record(Entry::new("logoff", p.actor(), app.now_ms()))
        .await?;
    app.store
        .end_session(&p.session, app.now(), "logoff")
        .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&app, "", 0));
    Ok(res)
}

/// Re-authentication to unlock an idle-locked session.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Unlock {
    pub password: String,
    pub totp: String,
}

/// Unlock a session that locked after 30 minutes idle: password and a fresh code. Failures
/// count toward the account's lockout like failed logons.
#[utoipa::path(post, path = "/session/unlock", tag = "accounts", request_body = Unlock,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn unlock(
    State(app): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<Unlock>,
) -> ApiResult<Json<SessionView>> {
    // The session itself shows the source is the account's own; the fifth failure still
    // ends it.
    if let Err(why) = check_secrets(&app, &p.user, &body.password, &body.totp, true).await? {
        app.record(Entry::new("session.unlock", p.actor(), app.now_ms()).refused(why))
            .await?;
        if is_lock(why) {
            app.store
                .end_session(&p.session, app.now(), "account locked")
                .await?;
            return Err(account_locked());
        }
        return Err(logon_failed());
    }
    app.record(Entry::new("session.unlock", p.actor(), app.now_ms()))
        .await?;
    app.store.touch_session(&p.session, app.now()).await?;
    current(State(app), p).await
}
