//! Accounts and authorisation over HTTP: logon with a second factor for every role, lockout,
//! idle lock, absolute timeout, logoff, disabling, CSRF, every route refusing a missing
//! session and the wrong role, and an action that fails when its audit entry cannot be
//! written.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Connection, Executor, SqliteConnection};
use switchboard_domain::Role;
use switchboard_store_sqlite::SqliteStore;
use switchboard_web::AppState;
use switchboard_web::auth::{CSRF_HEADER, Gate, access};
use time::OffsetDateTime;

use super::{NOW, PASSWORD, TestApp, assert_error, code, make_user, serve_state, spawn_app};

const ROLES: [Role; 7] = [
    Role::CallTaker,
    Role::Supervisor,
    Role::JuvenileLiaison,
    Role::LegalReviewer,
    Role::Auditor,
    Role::Administrator,
    Role::Planner,
];

/// A concrete path for a route template.
fn concrete(template: &str) -> String {
    let path: Vec<String> = template
        .split('/')
        .map(|seg| match seg {
            "{e164}" => "+15125550100".to_owned(),
            "{call}" | "{agent}" => "1".to_owned(),
            s if s.starts_with('{') => "0190aaaa-0000-7000-8000-000000000000".to_owned(),
            s => s.to_owned(),
        })
        .collect();
    format!("/api/v1{}", path.join("/"))
}

/// Every (method, template) of the OpenAPI document.
fn routes(app: &TestApp) -> Vec<(Method, String)> {
    let doc = serde_json::to_value(switchboard_web::openapi()).unwrap();
    let mut out = Vec::new();
    for t in &app.templates {
        for (m, _) in doc["paths"][t].as_object().unwrap() {
            let method = match m.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "patch" => Method::PATCH,
                "delete" => Method::DELETE,
                "put" => Method::PUT,
                _ => continue,
            };
            out.push((method, t.clone()));
        }
    }
    out
}

#[tokio::test]
async fn every_route_has_a_rule_and_refuses_a_missing_session_and_the_wrong_role() {
    let app = spawn_app().await;
    let routes = routes(&app);
    assert!(routes.len() > 50, "{}", routes.len());
    let mut refused = 0;
    for (method, template) in &routes {
        let (gate, _) = access(method, template)
            .unwrap_or_else(|| panic!("{method} {template} has no access rule"));
        let path = concrete(template);
        if gate == Gate::Public {
            continue;
        }
        // No session: 401, whatever the body.
        let (s, b) = app
            .send(
                app.http
                    .request(method.clone(), app.url(&path))
                    .json(&json!({})),
            )
            .await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "not_authenticated", None);
        // A garbage cookie is no session either.
        let (s, _) = app
            .send(
                app.http
                    .request(method.clone(), app.url(&path))
                    .header("cookie", format!("sb_session={}", "ab".repeat(32))),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {template}");
        let Gate::Perm(p) = gate else { continue };
        for role in ROLES.iter().filter(|r| !p.roles().contains(r)) {
            let session = app.session(*role).await;
            let (s, b) = app
                .send(
                    app.http
                        .request(method.clone(), app.url(&path))
                        .header("cookie", &session.cookie)
                        .header(CSRF_HEADER, &session.csrf)
                        .json(&json!({})),
                )
                .await;
            assert_eq!(
                (s, b["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("forbidden")),
                "{role:?} on {method} {template}: {b}"
            );
            refused += 1;
        }
    }
    assert!(refused > 150, "{refused}");
    // Each refusal is in the audit log.
    app.act_as(Some(Role::Auditor));
    let (s, b) = app.get("/api/v1/audit/entries?limit=1000").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let denied = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .count();
    assert!(denied >= 150, "{denied}");
}

#[tokio::test]
async fn a_change_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let s = app.session(Role::Administrator).await;
    for token in [None, Some("0".repeat(64))] {
        let mut req = app
            .http
            .post(app.url("/api/v1/agencies"))
            .header("cookie", &s.cookie)
            .json(&json!({"ori": "TX2270000", "name": "X", "kind": "partner_287g"}));
        if let Some(t) = token {
            req = req.header(CSRF_HEADER, t);
        }
        let (st, b) = app.send(req).await;
        assert_error(st, &b, StatusCode::FORBIDDEN, "csrf_token_invalid", None);
    }
    let (_, list) = app.get("/api/v1/agencies").await;
    assert_eq!(list["items"], json!([]), "nothing was created");
}

#[tokio::test]
async fn every_role_needs_password_and_a_fresh_code() {
    let app = spawn_app().await;
    for role in ROLES {
        let name = format!("mfa.{}", role.as_str());
        let (_, secret) = make_user(app.store.as_ref(), role, &name).await;
        let good = code(&secret, NOW);
        let wrong = if good == "000000" { "111111" } else { "000000" };
        for (pw, totp) in [
            (PASSWORD, ""),
            (PASSWORD, wrong),
            ("not-the-password", good.as_str()),
        ] {
            let (s, b, session) = app.logon(&name, pw, totp).await;
            assert_error(s, &b, StatusCode::UNAUTHORIZED, "logon_failed", None);
            assert!(session.is_none());
        }
        let (s, b, session) = app.logon(&name, PASSWORD, &good).await;
        assert_eq!(s, StatusCode::CREATED, "{role:?}: {b}");
        assert_eq!(b["user"]["role"], role.as_str());
        assert!(session.is_some());
        // The same code twice is a replay.
        let (s, b, _) = app.logon(&name, PASSWORD, &good).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "logon_failed", None);
    }
    let (s, b, _) = app.logon("nobody", PASSWORD, "123456").await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "logon_failed", None);
}

#[tokio::test]
async fn five_failures_lock_until_an_administrator_unlocks() {
    let app = spawn_app().await;
    // The sessions the test acts in, logged on before this address is slowed down.
    for role in [Role::Administrator, Role::Supervisor, Role::Auditor] {
        app.session(role).await;
    }
    let (user, secret) = make_user(app.store.as_ref(), Role::CallTaker, "ct.locked").await;
    for i in 1..=5 {
        let (s, b, _) = app.logon("ct.locked", "wrong-password-1", "000000").await;
        // The fifth locks, with the same answer as the four before.
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "logon_failed", None);
        let _ = i;
    }
    // This address is now slowed down, whatever the username.
    let (s, b, _) = app.logon("nobody.at.all", PASSWORD, "000000").await;
    assert_error(
        s,
        &b,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_logons",
        None,
    );
    // Locked: even the right secrets are refused, from anywhere it never logged on from, with
    // the answer an unknown name gets.
    let (s, b, _) = app
        .logon_from("127.0.0.3", "ct.locked", PASSWORD, &code(&secret, NOW))
        .await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "logon_failed", None);
    let (s2, b2, _) = app
        .logon_from("127.0.0.3", "no.such.user", PASSWORD, &code(&secret, NOW))
        .await;
    assert_eq!((s, &b), (s2, &b2), "locked and unknown answer alike");
    let (_, v) = app.get(&format!("/api/v1/users/{}", user.id)).await;
    assert_eq!(v["locked"], true, "{v}");
    // Only an administrator unlocks, and it is audited.
    app.act_as(Some(Role::Supervisor));
    let (s, _) = app
        .post(&format!("/api/v1/users/{}/unlock", user.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.act_as(None);
    let (s, b) = app
        .post(&format!("/api/v1/users/{}/unlock", user.id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["locked"], false);
    let (s, b, _) = app
        .logon_from("127.0.0.4", "ct.locked", PASSWORD, &code(&secret, NOW))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    app.act_as(Some(Role::Auditor));
    let (_, b) = app
        .get("/api/v1/audit/entries?action=POST%20/users/%7Bid%7D/unlock")
        .await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the refused unlock: {b}");
    assert_eq!(items[0]["outcome"], "refused");
    assert_eq!(items[0]["actor"]["username"], "t.supervisor");
    let (_, b) = app.get("/api/v1/audit/entries?action=user.unlock").await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    assert_eq!(items[0]["actor"]["username"], "t.administrator");
    assert!(
        items[0]["target"].as_str().unwrap().contains("ct.locked"),
        "{b}"
    );
    let (_, b) = app
        .get("/api/v1/audit/entries?actor=ct.locked&action=logon")
        .await;
    let outcomes: Vec<_> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        outcomes,
        [
            "refused", "refused", "refused", "refused", "refused", "refused", "ok"
        ]
    );
}

#[tokio::test]
async fn logoff_and_disabling_end_sessions_at_once() {
    let app = spawn_app().await;
    let (_, secret) = make_user(app.store.as_ref(), Role::Planner, "plan.a").await;
    let (_, _, s) = app.logon("plan.a", PASSWORD, &code(&secret, NOW)).await;
    let s = s.unwrap();
    let get = |cookie: String| {
        let req = app
            .http
            .get(app.url("/api/v1/session"))
            .header("cookie", cookie);
        app.send(req)
    };
    assert_eq!(get(s.cookie.clone()).await.0, StatusCode::OK);
    // Logoff needs the CSRF token too, and ends the session on the server.
    let (st, _) = app
        .send(
            app.http
                .delete(app.url("/api/v1/session"))
                .header("cookie", &s.cookie),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = app
        .send(
            app.http
                .delete(app.url("/api/v1/session"))
                .header("cookie", &s.cookie)
                .header(CSRF_HEADER, &s.csrf),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, b) = get(s.cookie.clone()).await;
    assert_error(st, &b, StatusCode::UNAUTHORIZED, "session_ended", None);

    // A second user is disabled by an administrator while logged on.
    let (user2, secret2) = make_user(app.store.as_ref(), Role::Planner, "plan.b").await;
    let (_, _, s2) = app.logon("plan.b", PASSWORD, &code(&secret2, NOW)).await;
    let s2 = s2.unwrap();
    assert_eq!(get(s2.cookie.clone()).await.0, StatusCode::OK);
    let (st, b) = app
        .patch(
            &format!("/api/v1/users/{}", user2.id),
            json!({"version": 1, "active": false}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    let (st, b) = get(s2.cookie.clone()).await;
    assert_error(st, &b, StatusCode::UNAUTHORIZED, "session_ended", None);
    let (st, b, _) = app.logon("plan.b", PASSWORD, "123456").await;
    assert_error(st, &b, StatusCode::UNAUTHORIZED, "logon_failed", None);
}

#[tokio::test]
async fn sessions_lock_when_idle_and_end_after_twelve_hours() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let t0 = NOW.unix_timestamp();
    let now = Arc::new(AtomicI64::new(t0));
    let n = now.clone();
    let state = AppState::with_clock(
        store,
        Arc::new(move || OffsetDateTime::from_unix_timestamp(n.load(Ordering::SeqCst)).unwrap()),
    );
    let app = serve_state(state, dir).await;
    let at = || OffsetDateTime::from_unix_timestamp(now.load(Ordering::SeqCst)).unwrap();
    let advance = |mins: i64| now.fetch_add(mins * 60, Ordering::SeqCst);
    let (_, secret) = make_user(app.store.as_ref(), Role::Supervisor, "sup.idle").await;
    let (_, _, s) = app.logon("sup.idle", PASSWORD, &code(&secret, at())).await;
    let s = s.unwrap();
    let who = || {
        let req = app
            .http
            .get(app.url("/api/v1/session"))
            .header("cookie", &s.cookie);
        app.send(req)
    };
    let unlock = |totp: String| {
        let req = app
            .http
            .post(app.url("/api/v1/session/unlock"))
            .header("cookie", &s.cookie)
            .header(CSRF_HEADER, &s.csrf)
            .json(&json!({"password": PASSWORD, "totp": totp}));
        app.send(req)
    };
    advance(29);
    assert_eq!(who().await.0, StatusCode::OK, "29 minutes idle: still open");
    advance(29);
    assert_eq!(who().await.0, StatusCode::OK, "activity keeps it open");
    advance(31);
    let (st, b) = who().await;
    assert_error(st, &b, StatusCode::UNAUTHORIZED, "session_locked", None);
    // Locked, other routes are refused too; unlocking needs the password and a fresh code.
    let (st, b) = unlock("000000".into()).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{b}");
    let (st, b) = unlock(code(&secret, at())).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(who().await.0, StatusCode::OK);
    // However active, the session ends 12 hours after logon.
    for _ in 0..24 {
        advance(25);
        assert_eq!(who().await.0, StatusCode::OK);
    }
    advance(35);
    let (st, b) = who().await;
    assert_error(st, &b, StatusCode::UNAUTHORIZED, "session_expired", None);
}

#[tokio::test]
async fn a_failed_audit_write_fails_the_action_and_changes_nothing() {
    let app = spawn_app().await;
    // Sessions first, while the log can be written.
    app.act_as(Some(Role::Administrator));
    app.session(Role::Administrator).await;
    app.session(Role::Auditor).await;
    let url = format!("sqlite://{}", app._dir.path().join("t.db").display());
    let mut c = SqliteConnection::connect(&url).await.unwrap();
    c.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(FAIL, 'disk full'); END;",
    )
    .await
    .unwrap();
    let (s, b) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "TX2270000", "name": "Bexley County Sheriff", "kind": "partner_287g"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        None,
    );
    let (s, b) = app.get("/api/v1/agencies").await;
    assert_error(
        s,
        &b,
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        None,
    );
    // A logon that cannot be audited does not happen either.
    let (_, secret) = make_user(app.store.as_ref(), Role::Planner, "plan.x").await;
    let (s, b, session) = app.logon("plan.x", PASSWORD, &code(&secret, NOW)).await;
    assert_error(
        s,
        &b,
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        None,
    );
    assert!(session.is_none());
    c.execute("DROP TRIGGER refuse;").await.unwrap();
    let (s, b) = app.get("/api/v1/agencies").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["items"],
        json!([]),
        "the unaudited agency was never created"
    );
    // And the log is whole.
    app.act_as(Some(Role::Auditor));
    let (s, b) = app.post("/api/v1/audit/verify", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "verified", "{b}");
}

#[tokio::test]
async fn administrators_manage_accounts_with_the_password_policy() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(
            "/api/v1/users",
            json!({"username": "ct.new", "display_name": "New Call-Taker", "role": "call_taker", "password": "password1"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("password"),
    );
    let (s, b) = app
        .post(
            "/api/v1/users",
            json!({"username": "ct.new", "display_name": "New Call-Taker", "role": "call_taker", "password": "short"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("password"),
    );
    let (s, b) = app
        .post(
            "/api/v1/users",
            json!({"username": "ct.new", "display_name": "New Call-Taker", "role": "call_taker", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let secret = b["totp_secret"].as_str().unwrap().to_owned();
    assert!(
        b["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let id = b["user"]["id"].as_str().unwrap().to_owned();
    // The seed is stored sealed: the database alone does not give the second factor.
    let user_id = switchboard_domain::UserId::from_uuid(id.parse().unwrap());
    let stored = app.store.credentials(user_id).await.unwrap().unwrap();
    assert!(
        switchboard_accounts::sealed::is_sealed(&stored.totp_secret)
            && !stored.totp_secret.contains(&secret),
        "{}",
        stored.totp_secret
    );
    let (s, b, _) = app.logon("ct.new", PASSWORD, &code(&secret, NOW)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // A seed stored before sealing existed (the harness's accounts) is sealed at its next
    // logon, and still works.
    let (planner, plain) = make_user(app.store.as_ref(), Role::Planner, "plan.legacy").await;
    assert_eq!(
        app.store
            .credentials(planner.id)
            .await
            .unwrap()
            .unwrap()
            .totp_secret,
        plain
    );
    let (s, b, _) = app.logon("plan.legacy", PASSWORD, &code(&plain, NOW)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let sealed = app
        .store
        .credentials(planner.id)
        .await
        .unwrap()
        .unwrap()
        .totp_secret;
    assert!(switchboard_accounts::sealed::is_sealed(&sealed), "{sealed}");
    // Administrators cannot take their own access away.
    let (_, me) = app.get("/api/v1/session").await;
    let my_id = me["user"]["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .patch(
            &format!("/api/v1/users/{my_id}"),
            json!({"version": 1, "active": false}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "own_account", None);
    // A supervisor's role is asked for, not given: a second administrator approves it.
    let (s, b) = app
        .patch(
            &format!("/api/v1/users/{id}"),
            json!({"version": 1, "role": "supervisor"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["user"]["role"], "call_taker");
    let request = b["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .post(
            &format!("/api/v1/role-requests/{request}/approve"),
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "same_person", None);
    let second = app.another(Role::Administrator, "adm.second").await;
    let (s, b) = app
        .post_with(
            &second,
            &format!("/api/v1/role-requests/{request}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (&b["user"]["role"], &b["outcome"]),
        (&json!("supervisor"), &json!("approved"))
    );
    let (_, list) = app.get("/api/v1/users").await;
    assert!(list["items"].as_array().unwrap().len() >= 2);
    // The secrets never appear in a listing.
    let text = list.to_string();
    assert!(
        !text.contains(&secret) && !text.contains("argon2"),
        "{text}"
    );
}

#[tokio::test]
async fn the_audit_log_serves_proofs_checkpoints_and_reports() {
    let app = spawn_app().await;
    // Some accesses to audit.
    for ori in ["TX2270000", "TX2280000"] {
        let (s, _) = app
            .post(
                "/api/v1/agencies",
                json!({"ori": ori, "name": "Agency", "kind": "partner_287g"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    app.state
        .audit
        .as_ref()
        .unwrap()
        .checkpoint()
        .await
        .unwrap();
    app.act_as(Some(Role::Auditor));
    let (s, cps) = app.get("/api/v1/audit/checkpoints").await;
    assert_eq!(s, StatusCode::OK, "{cps}");
    let size = cps["size"].as_u64().unwrap();
    assert!(size >= 4, "{cps}");
    assert_eq!(cps["public_key"].as_str().unwrap().len(), 64);
    let (s, p) = app
        .get(&format!("/api/v1/audit/proofs/inclusion?seq=2&size={size}"))
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["verified"], true);
    let (s, p) = app
        .get(&format!(
            "/api/v1/audit/proofs/consistency?from=1&to={size}"
        ))
        .await;
    assert_eq!((s, &p["verified"]), (StatusCode::OK, &json!(true)), "{p}");
    let (s, b) = app
        .get(&format!(
            "/api/v1/audit/proofs/inclusion?seq={}&size={size}",
            size + 5
        ))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_proof_request",
        None,
    );
    let (s, b) = app.get("/api/v1/audit/entries?from=yesterday").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("from"),
    );
    // Paging.
    let (_, first) = app.get("/api/v1/audit/entries?limit=2").await;
    let next = first["next"].as_i64().unwrap();
    let (_, second) = app
        .get(&format!("/api/v1/audit/entries?limit=2&after={next}"))
        .await;
    assert_eq!(second["items"][0]["seq"].as_i64().unwrap(), next + 1);
    let (s, b) = app.get("/api/v1/audit/anomalies").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["entries_read"].as_u64().unwrap() >= 4, "{b}");
}

#[tokio::test]
async fn a_call_taker_acts_only_as_their_own_agent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    // Agent 1 is the test call-taker's; agent 2 is someone else's.
    let mut config = super::acd::config();
    config.agents[0].user = Some("t.call_taker".to_owned());
    config.agents[1].user = Some("ct.other".to_owned());
    let host = switchboard_acd_host::AcdHost::open(
        store.clone(),
        config,
        switchboard_acd_host::system_clock(),
    )
    .await
    .unwrap();
    let app = serve_state(AppState::new(store).with_acd(host), dir).await;
    app.act_as(Some(Role::CallTaker));
    let (s, b) = app
        .post("/api/v1/acd/agents/1/state", json!({"state": "log_in"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .post("/api/v1/acd/agents/2/state", json!({"state": "log_in"}))
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "not_your_agent", None);
    let (s, b) = app
        .post(
            "/api/v1/acd/agents/1/state",
            json!({"state": "log_out", "forced": true}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden", None);
    app.act_as(Some(Role::Supervisor));
    let (s, b) = app
        .post(
            "/api/v1/acd/agents/2/state",
            json!({"state": "log_in", "forced": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn twenty_wrong_logons_from_one_address_leave_an_administrator_able_to_log_on_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let now = Arc::new(AtomicI64::new(NOW.unix_timestamp()));
    let n = now.clone();
    let state = AppState::with_clock(
        store,
        Arc::new(move || OffsetDateTime::from_unix_timestamp(n.load(Ordering::SeqCst)).unwrap()),
    );
    let app = serve_state(state, dir).await;
    let at = || OffsetDateTime::from_unix_timestamp(now.load(Ordering::SeqCst)).unwrap();
    let advance = |secs: i64| now.fetch_add(secs, Ordering::SeqCst);
    let (user, secret) = make_user(app.store.as_ref(), Role::Administrator, "adm.target").await;
    // The administrator's usual desk.
    let (s, b, _) = app
        .logon_from("127.0.0.2", "adm.target", PASSWORD, &code(&secret, at()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    advance(30);

    // Twenty wrong passwords from an attacker's address: five are tried, the rest are
    // refused at once with a growing Retry-After.
    let mut answers = Vec::new();
    for _ in 0..20 {
        let res = app
            .http_from("127.0.0.9")
            .post(app.url("/api/v1/session"))
            .json(&json!({"username": "adm.target", "password": "guess", "totp": "000000"}))
            .send()
            .await
            .unwrap();
        let retry = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        answers.push((res.status(), retry));
    }
    let refused = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let slowed = answers
        .iter()
        .filter(|(s, r)| *s == StatusCode::TOO_MANY_REQUESTS && r.is_some())
        .count();
    assert_eq!((refused, slowed), (5, 15), "{answers:?}");
    let (_, v) = app.get(&format!("/api/v1/users/{}", user.id)).await;
    assert_eq!(v["locked"], true, "{v}");

    // From the usual desk the administrator logs on, and that ends the lock.
    let (s, b, _) = app
        .logon_from("127.0.0.2", "adm.target", PASSWORD, &code(&secret, at()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (_, v) = app.get(&format!("/api/v1/users/{}", user.id)).await;
    assert_eq!(v["locked"], false, "{v}");
    advance(30);

    // Locked again from the attacker's side (after its wait), a new place is kept out...
    advance(15 * 60);
    for _ in 0..5 {
        let (s, _, _) = app
            .logon_from("127.0.0.10", "adm.target", "guess", "000000")
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _, _) = app
        .logon_from("127.0.0.11", "adm.target", PASSWORD, &code(&secret, at()))
        .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "a new place is kept out while locked"
    );
    // ...until the lock ends by itself, 15 minutes later.
    advance(15 * 60);
    let (s, b, _) = app
        .logon_from("127.0.0.11", "adm.target", PASSWORD, &code(&secret, at()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    // The throttling is in the audit log as one entry for the period, not one a request.
    app.act_as(Some(Role::Auditor));
    let (_, b) = app
        .get("/api/v1/audit/entries?action=logon.throttled")
        .await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    assert_eq!(items[0]["outcome"], "refused");
}

#[tokio::test]
async fn one_administrator_alone_cannot_make_a_privileged_account() {
    let app = spawn_app().await;
    let second = app.another(Role::Administrator, "adm.two").await;
    for role in ["administrator", "supervisor", "legal_reviewer", "auditor"] {
        let name = format!("new.{role}");
        let (s, b) = app
            .post(
                "/api/v1/users",
                json!({"username": name, "display_name": "New Account", "role": role, "password": PASSWORD}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["user"]["active"], false, "{b}");
        let secret = b["totp_secret"].as_str().unwrap().to_owned();
        let id = b["user"]["id"].as_str().unwrap().to_owned();
        let request = b["role_request"].as_str().unwrap().to_owned();
        // It cannot log on, and its creator can neither enable it nor approve it.
        let (s, _, _) = app.logon(&name, PASSWORD, &code(&secret, NOW)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{role}");
        let (s, b) = app
            .patch(
                &format!("/api/v1/users/{id}"),
                json!({"version": 1, "active": true}),
            )
            .await;
        assert_error(
            s,
            &b,
            StatusCode::CONFLICT,
            "awaiting_approval",
            Some("active"),
        );
        let (s, b) = app
            .post(
                &format!("/api/v1/role-requests/{request}/approve"),
                json!({}),
            )
            .await;
        assert_error(s, &b, StatusCode::CONFLICT, "same_person", None);
        let (_, open) = app.get("/api/v1/role-requests").await;
        assert!(
            open.as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == request.as_str()),
            "{open}"
        );
        if role == "auditor" {
            // Refused: it stays disabled, and the decision stands.
            let (s, b) = app
                .post_with(
                    &second,
                    &format!("/api/v1/role-requests/{request}/refuse"),
                    json!({}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            assert_eq!(b["user"]["active"], false);
            let (s, b) = app
                .post_with(
                    &second,
                    &format!("/api/v1/role-requests/{request}/approve"),
                    json!({}),
                )
                .await;
            assert_error(s, &b, StatusCode::CONFLICT, "already_decided", None);
            // Enabling it after the refusal is asked for again, not done.
            let (s, b) = app
                .patch(
                    &format!("/api/v1/users/{id}"),
                    json!({"version": 1, "active": true}),
                )
                .await;
            assert_eq!(s, StatusCode::ACCEPTED, "{b}");
            assert_eq!(b["user"]["active"], false, "{b}");
            assert_eq!(b["activates"], true, "{b}");
            continue;
        }
        // A second administrator approves: the account is enabled and logs on.
        let (s, b) = app
            .post_with(
                &second,
                &format!("/api/v1/role-requests/{request}/approve"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            (&b["user"]["active"], &b["user"]["role"]),
            (&json!(true), &json!(role))
        );
        let (s, b, _) = app.logon(&name, PASSWORD, &code(&secret, NOW)).await;
        assert_eq!(s, StatusCode::CREATED, "{role}: {b}");
    }
    // Roles without review or administration powers need no second administrator.
    let (s, b) = app
        .post(
            "/api/v1/users",
            json!({"username": "new.planner", "display_name": "New Planner", "role": "planner", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["user"]["active"], true);
    assert!(b.get("role_request").is_none(), "{b}");
    // Every decision is audited with who made it.
    app.act_as(Some(Role::Auditor));
    let (_, b) = app
        .get("/api/v1/audit/entries?action=user.role.approve")
        .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 3, "{b}");
    assert_eq!(b["items"][0]["actor"]["username"], "adm.two");
    let (_, b) = app
        .get("/api/v1/audit/entries?action=user.role.refuse")
        .await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1, "{b}");
}
