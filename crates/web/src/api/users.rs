//! User accounts, for administrators: create (with a password and a second factor, both
//! required for every role), change role or name, disable (which ends every session at once),
//! and unlock after failed logons. Every call is audited by the guard.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_accounts::{needs_second_administrator, password, totp};
use switchboard_domain::{Name, NewUser, Role, User, UserId};
use switchboard_store::{Credentials, RoleRequest};

use switchboard_audit::Entry;

use super::{Paged, page_request, path_id};
use crate::AppState;
use crate::auth::{Principal, random};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{ApiJson, ApiQuery};

/// A new account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub username: switchboard_domain::Username,
    pub display_name: Name,
    pub role: Role,
    /// The initial password (8 to 128 characters, not a common one, not the username).
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// The new account and its second factor, shown once: enrol the secret in an authenticator
/// app (or open the `otpauth://` URI).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    pub user: User,
    pub totp_secret: String,
    pub otpauth_uri: String,
    /// A privileged role: the request a second administrator must approve (`POST
    /// /role-requests/{id}/approve`); the account stays disabled until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_request: Option<uuid::Uuid>,
}

/// Makes a user's credentials: the password hashed with Argon2id, a fresh TOTP secret.
pub async fn new_credentials(
    user: &User,
    pw: &str,
    now: time::OffsetDateTime,
) -> ApiResult<Credentials> {
    password::check(pw, user.username.as_str())
        .map_err(|e| ApiError::invalid_field("password", e.to_string()))?;
    let salt = random::<16>();
    let pw = pw.to_owned();
    let hash = tokio::task::spawn_blocking(move || password::hash(&pw, &salt))
        .await
        .map_err(ApiError::internal)?;
    Ok(Credentials {
        user_id: user.id,
        password_hash: hash,
        totp_secret: totp::secret_from_bytes(random::<{ totp::SECRET_BYTES }>()),
        totp_last_step: 0,
        failures: Vec::new(),
        locked_at: None,
        version: 1,
        updated_at: now,
    })
}

/// Creates an account: checks the password, hashes it, makes a second-factor secret, audits
/// the creation (by `actor`) and stores the user and credentials. The administrators' API and
/// `switchboard add-user` both come here. With `requested_by` (an administrator using the
/// API), an account of a privileged role is created disabled, with a role request another
/// administrator must approve before it can log on; the command line on the server's machine
/// (the first administrator) creates it at once.
/// Where an enrolment is kept: the store, the audit log, and the key the seed is sealed with.
#[derive(Clone, Copy)]
pub struct Keepers<'a> {
    pub store: &'a dyn switchboard_store::Store,
    pub audit: &'a switchboard_audit_host::AuditLog,
    pub sealing: &'a switchboard_accounts::sealed::SealingKey,
}

impl std::fmt::Debug for Keepers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keepers")
            .field("store", &self.store.backend())
            .finish_non_exhaustive()
    }
}

pub async fn enrol(
    keepers: Keepers<'_>,
    actor: switchboard_audit::Actor,
    new: NewUser,
    password: &str,
    now: time::OffsetDateTime,
    requested_by: Option<UserId>,
) -> ApiResult<Enrolment> {
    let Keepers {
        store,
        audit,
        sealing,
    } = keepers;
    let mut user = User::create(new, now);
    let pending = requested_by.filter(|_| needs_second_administrator(user.role));
    if pending.is_some() {
        user.active = false;
    }
    let creds = new_credentials(&user, password, now).await?;
    if store.user_by_username(&user.username).await?.is_some() {
        return Err(
            ApiError::conflict("already_exists", "this username is taken").with_field("username"),
        );
    }
    let at = (now.unix_timestamp_nanos() / 1_000_000) as i64;
    audit
        .append(
            Entry::new("user.create", actor, at)
                .with_target(format!("user:{} ({})", user.id, user.username))
                .with_note(if pending.is_some() {
                    format!(
                        "role {}, disabled until a second administrator approves it",
                        user.role.as_str()
                    )
                } else {
                    format!("role {}", user.role.as_str())
                }),
        )
        .await
        .map_err(crate::audit_failed)?;
    // The seed is stored sealed; the plain one goes back to the enrolling person only.
    let mut stored = creds.clone();
    stored.totp_secret = sealing.seal(&user.id.to_string(), &creds.totp_secret, random());
    store.insert_user(&user).await?;
    store.insert_credentials(&stored).await?;
    let role_request = match pending {
        Some(by) => {
            let r = RoleRequest {
                id: uuid::Uuid::now_v7(),
                user_id: user.id,
                role: user.role,
                activates: true,
                requested_by: by,
                requested_at: now,
                decided_by: None,
                decided_at: None,
                outcome: None,
            };
            store.insert_role_request(&r).await?;
            Some(r.id)
        }
        None => None,
    };
    let otpauth_uri = totp::otpauth_uri(&creds.totp_secret, user.username.as_str())
        .map_err(ApiError::internal)?;
    Ok(Enrolment {
        user,
        totp_secret: creds.totp_secret,
        otpauth_uri,
        role_request,
    })
}

/// Create an account (administrators). An administrator, supervisor, legal reviewer or
/// auditor account is created disabled until a second administrator approves its role.
#[utoipa::path(post, path = "/users", tag = "accounts", request_body = CreateUser,
    responses((status = 201, body = Enrolment), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(app): State<AppState>,
    who: Principal,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<Enrolment>)> {
    let audit = app.audit.as_ref().ok_or_else(crate::audit_unavailable)?;
    let new = NewUser {
        username: body.username,
        display_name: body.display_name,
        role: body.role,
    };
    let keepers = Keepers {
        store: app.store.as_ref(),
        audit,
        sealing: &app.sealing,
    };
    let enrolment = enrol(
        keepers,
        who.actor(),
        new,
        &body.password,
        app.now(),
        Some(who.user.id),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(enrolment)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    after: Option<uuid::Uuid>,
}

/// Every account, in creation order.
#[utoipa::path(get, path = "/users", tag = "accounts", params(ListQuery),
    responses((status = 200, body = Paged<User>)))]
pub async fn list(
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Paged<User>>> {
    let page = app
        .store
        .list_users(page_request(q.limit, q.after)?)
        .await?;
    Ok(Json(Paged::from_page(page, |u| u)))
}

/// An account, with whether it is locked (against sources it has not logged on from) and
/// until when; a lock ends by itself.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: User,
    pub locked: bool,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub locked_until: Option<time::OffsetDateTime>,
}

/// One account.
#[utoipa::path(get, path = "/users/{id}", tag = "accounts", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<UserView>> {
    let id = UserId::from_uuid(path_id(&id)?);
    let user = app.store.user(id).await?;
    let now = app.now();
    let locked_until = app
        .store
        .credentials(id)
        .await?
        .and_then(|c| c.locked_at)
        .filter(|at| {
            switchboard_accounts::policy::lock_holds(
                Some(crate::auth::ms(*at)),
                crate::auth::ms(now),
            )
        })
        .map(|at| at + time::Duration::milliseconds(switchboard_accounts::policy::LOCK_MS));
    Ok(Json(UserView {
        user,
        locked: locked_until.is_some(),
        locked_until,
    }))
}

/// Changes to an account; absent fields stay.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub version: i64,
    pub display_name: Option<Name>,
    pub role: Option<Role>,
    /// `false` disables the account: its sessions end at once and it cannot log on.
    pub active: Option<bool>,
}

/// Change, disable or re-enable an account (administrators, never their own role or access).
/// A privileged role (administrator, supervisor, legal reviewer, auditor) is not given at once:
/// the answer is 202 with a role request a second administrator approves or refuses; the
/// other changes apply.
#[utoipa::path(patch, path = "/users/{id}", tag = "accounts", params(("id" = uuid::Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = User), (status = 202, body = RoleRequestView),
        (status = 409, body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserPatch>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let id = UserId::from_uuid(path_id(&id)?);
    if id == who.user.id && (body.role.is_some() || body.active == Some(false)) {
        return Err(ApiError::conflict(
            "own_account",
            "administrators cannot change their own role or disable themselves (two-person rule)",
        ));
    }
    let mut user = app.store.user(id).await?;
    super::check_version(Some(body.version), user.version, "user")?;
    let disabling = body.active == Some(false) && user.active;
    let enabling = body.active == Some(true) && !user.active;
    let role_changed = body.role.is_some_and(|r| r != user.role);
    let role = body.role.unwrap_or(user.role);
    // Giving a privileged role, or enabling an account that holds one, waits for a second
    // administrator (whatever happened before: a refused request, a creation cut short).
    let grant = (needs_second_administrator(role) && (role_changed || enabling)).then_some(role);
    let open = if grant.is_some() {
        app.store
            .open_role_requests()
            .await?
            .into_iter()
            .find(|r| r.user_id == id)
    } else {
        None
    };
    let mut changes = Vec::new();
    if let Some(r) = body.role.filter(|_| role_changed) {
        changes.push(if grant.is_some() {
            format!(
                "role {} -> {} asked (for a second administrator's approval)",
                user.role.as_str(),
                r.as_str()
            )
        } else {
            format!("role {} -> {}", user.role.as_str(), r.as_str())
        });
    }
    if let Some(a) = body.active.filter(|a| *a != user.active) {
        changes.push(if a && grant.is_some() {
            "enabling asked (for a second administrator's approval)".to_owned()
        } else if a {
            "enabled".to_owned()
        } else {
            "disabled".to_owned()
        });
    }
    if body.display_name.is_some() {
        changes.push("display name".to_owned());
    }
    if open.is_some() {
        return Err(ApiError::conflict(
            "awaiting_approval",
            "this account already has a role request waiting for a second administrator",
        )
        .with_field(if role_changed { "role" } else { "active" }));
    }
    app.record(
        Entry::new("user.update", who.actor(), app.now_ms())
            .with_target(format!("user:{} ({})", user.id, user.username))
            .with_note(if changes.is_empty() {
                "no change".to_owned()
            } else {
                changes.join(", ")
            }),
    )
    .await?;
    if changes.is_empty() {
        // Nothing to change: the version stays.
        return Ok(Json(user).into_response());
    }
    let others = body.display_name.is_some() || disabling;
    if let Some(n) = body.display_name {
        user.display_name = n;
    }
    if let Some(r) = body.role.filter(|_| grant.is_none()) {
        user.role = r;
    }
    if let Some(a) = body.active.filter(|a| !(*a && grant.is_some())) {
        user.active = a;
    }
    user.updated_at = app.now();
    if grant.is_none() || others {
        user = app.store.update_user(&user).await?;
    }
    if disabling || (role_changed && grant.is_none()) {
        // A disabled account, or one whose privileges changed, keeps no session.
        let why = if disabling {
            "account disabled"
        } else {
            "role changed"
        };
        app.store.end_user_sessions(id, app.now(), why).await?;
    }
    if let Some(role) = grant {
        let r = RoleRequest {
            id: uuid::Uuid::now_v7(),
            user_id: id,
            role,
            activates: enabling,
            requested_by: who.user.id,
            requested_at: app.now(),
            decided_by: None,
            decided_at: None,
            outcome: None,
        };
        app.store.insert_role_request(&r).await?;
        return Ok((StatusCode::ACCEPTED, Json(view(&r, &user))).into_response());
    }
    Ok(Json(user).into_response())
}

/// A privileged role asked for an account, as administrators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RoleRequestView {
    pub id: uuid::Uuid,
    pub user: User,
    pub role: Role,
    /// Made with a new account, which the approval enables.
    pub activates: bool,
    pub requested_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    pub requested_at: time::OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<UserId>,
    /// `approved` or `refused` once decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

fn view(r: &RoleRequest, user: &User) -> RoleRequestView {
    RoleRequestView {
        id: r.id,
        user: user.clone(),
        role: r.role,
        activates: r.activates,
        requested_by: r.requested_by,
        requested_at: r.requested_at,
        decided_by: r.decided_by,
        outcome: r.outcome.clone(),
    }
}

/// Role requests waiting for a second administrator, oldest first.
#[utoipa::path(get, path = "/role-requests", tag = "accounts",
    responses((status = 200, body = [RoleRequestView])))]
pub async fn role_requests(State(app): State<AppState>) -> ApiResult<Json<Vec<RoleRequestView>>> {
    let mut out = Vec::new();
    for r in app.store.open_role_requests().await? {
        let user = app.store.user(r.user_id).await?;
        out.push(view(&r, &user));
    }
    Ok(Json(out))
}

/// Approve a role request (an administrator other than the one who asked, never for their
/// own account): the role is given (and a new account enabled) at once, and the account's
/// sessions end.
#[utoipa::path(post, path = "/role-requests/{id}/approve", tag = "accounts",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RoleRequestView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn approve_role(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleRequestView>> {
    decide_role(app, who, id, true).await
}

/// Refuse a role request (an administrator other than the one who asked); a new account
/// stays disabled.
#[utoipa::path(post, path = "/role-requests/{id}/refuse", tag = "accounts",
    params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = RoleRequestView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn refuse_role(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<RoleRequestView>> {
    decide_role(app, who, id, false).await
}

async fn decide_role(
    app: AppState,
    who: Principal,
    id: String,
    approve: bool,
) -> ApiResult<Json<RoleRequestView>> {
    let id = path_id(&id)?;
    let mut r = app
        .store
        .role_request(id)
        .await?
        .ok_or_else(|| ApiError::not_found("role request"))?;
    if r.outcome.is_some() {
        return Err(ApiError::conflict(
            "already_decided",
            "this role request has already been decided",
        ));
    }
    if approve && r.requested_by == who.user.id {
        return Err(ApiError::conflict(
            "same_person",
            "the administrator who asked for a role cannot approve it (two-person rule)",
        ));
    }
    if r.user_id == who.user.id {
        return Err(ApiError::conflict(
            "own_account",
            "administrators cannot decide a role request for their own account",
        ));
    }
    let mut user = app.store.user(r.user_id).await?;
    let action = if approve {
        "user.role.approve"
    } else {
        "user.role.refuse"
    };
    app.record(
        Entry::new(action, who.actor(), app.now_ms())
            .with_target(format!("user:{} ({})", user.id, user.username))
            .with_note(format!(
                "role {} -> {}{}",
                user.role.as_str(),
                r.role.as_str(),
                if r.activates { ", new account" } else { "" }
            )),
    )
    .await?;
    let now = app.now();
    let mut next = user.clone();
    next.role = r.role;
    if r.activates {
        next.active = true;
    }
    next.updated_at = now;
    if !app
        .store
        .decide_role_request(id, who.user.id, now, approve, Some(&next))
        .await?
    {
        return Err(ApiError::conflict(
            "already_decided",
            "this role request has already been decided",
        ));
    }
    if approve {
        user = app.store.user(r.user_id).await?;
        app.store
            .end_user_sessions(user.id, now, "role changed")
            .await?;
    }
    r.decided_by = Some(who.user.id);
    r.decided_at = Some(now);
    r.outcome = Some(if approve { "approved" } else { "refused" }.to_owned());
    Ok(Json(view(&r, &user)))
}

/// Unlock an account locked by failed logons (administrators).
#[utoipa::path(post, path = "/users/{id}/unlock", tag = "accounts", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn unlock(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let id = UserId::from_uuid(path_id(&id)?);
    let user = app.store.user(id).await?;
    app.record(
        Entry::new("user.unlock", who.actor(), app.now_ms())
            .with_target(format!("user:{} ({})", user.id, user.username)),
    )
    .await?;
    let creds = app
        .store
        .credentials(id)
        .await?
        .ok_or_else(|| ApiError::not_found("credentials"))?;
    let mut next = creds.clone();
    next.locked_at = None;
    next.failures.clear();
    next.version += 1;
    next.updated_at = app.now();
    app.store.update_credentials(&next, creds.version).await?;
    Ok(Json(UserView {
        user,
        locked: false,
        locked_until: None,
    }))
}
