//! User accounts, for administrators: create (with a password and a second factor, both
//! required for every role), change role or name, disable (which ends every session at once),
//! and unlock after failed logons. Every call is audited by the guard.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_accounts::{password, totp};
use switchboard_domain::{Name, NewUser, Role, User, UserId};
use switchboard_store::Credentials;

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
    pub password: String,
}

/// The new account and its second factor, shown once: enrol the secret in an authenticator
/// app (or open the `otpauth://` URI).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    pub user: User,
    pub totp_secret: String,
    pub otpauth_uri: String,
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
/// `switchboard add-user` both come here.
pub async fn enrol(
    store: &dyn switchboard_store::Store,
    audit: &switchboard_audit_host::AuditLog,
    actor: switchboard_audit::Actor,
    new: NewUser,
    password: &str,
    now: time::OffsetDateTime,
) -> ApiResult<Enrolment> {
    let user = User::create(new, now);
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
                .with_note(format!("role {}", user.role.as_str())),
        )
        .await
        .map_err(crate::audit_failed)?;
    store.insert_user(&user).await?;
    store.insert_credentials(&creds).await?;
    let otpauth_uri = totp::otpauth_uri(&creds.totp_secret, user.username.as_str())
        .map_err(ApiError::internal)?;
    Ok(Enrolment {
        user,
        totp_secret: creds.totp_secret,
        otpauth_uri,
    })
}

/// Create an account (administrators).
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
    let enrolment = enrol(
        app.store.as_ref(),
        audit,
        who.actor(),
        new,
        &body.password,
        app.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(enrolment)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
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

/// An account, with whether it is locked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[serde(flatten)]
    pub user: User,
    pub locked: bool,
}

/// One account.
#[utoipa::path(get, path = "/users/{id}", tag = "accounts", params(("id" = uuid::Uuid, Path)),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub async fn get(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<UserView>> {
    let id = UserId::from_uuid(path_id(&id)?);
    let user = app.store.user(id).await?;
    let locked = app
        .store
        .credentials(id)
        .await?
        .is_some_and(|c| c.locked_at.is_some());
    Ok(Json(UserView { user, locked }))
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
#[utoipa::path(patch, path = "/users/{id}", tag = "accounts", params(("id" = uuid::Uuid, Path)),
    request_body = UserPatch,
    responses((status = 200, body = User), (status = 409, body = ErrorBody)))]
pub async fn patch(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
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
    let role_changed = body.role.is_some_and(|r| r != user.role);
    let mut changes = Vec::new();
    if let Some(r) = body.role.filter(|_| role_changed) {
        changes.push(format!("role {} -> {}", user.role.as_str(), r.as_str()));
    }
    if let Some(a) = body.active.filter(|a| *a != user.active) {
        changes.push(if a {
            "enabled".to_owned()
        } else {
            "disabled".to_owned()
        });
    }
    if body.display_name.is_some() {
        changes.push("display name".to_owned());
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
    if let Some(n) = body.display_name {
        user.display_name = n;
    }
    if let Some(r) = body.role {
        user.role = r;
    }
    if let Some(a) = body.active {
        user.active = a;
    }
    user.updated_at = app.now();
    let user = app.store.update_user(&user).await?;
    if disabling || role_changed {
        // A disabled account, or one whose privileges changed, keeps no session.
        let why = if disabling {
            "account disabled"
        } else {
            "role changed"
        };
        app.store.end_user_sessions(id, app.now(), why).await?;
    }
    Ok(Json(user))
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
    }))
}
