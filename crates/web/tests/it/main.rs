//! API tests: the real server on an ephemeral port, over real HTTP, on a fresh SQLite
//! database per test, with the clock fixed at 2026-11-21 12:00 UTC.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use switchboard_accounts::Permission;
use switchboard_domain::{Name, NewUser, Role, User, Username};
use switchboard_store::Store;
use switchboard_store_sqlite::SqliteStore;
use switchboard_web::AppState;
use switchboard_web::auth::{CSRF_HEADER, Gate, access};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::oneshot;

mod accounts;
mod acd;
mod browser;
mod dispositions;
mod hardening;
mod pages;
mod partner;
mod records;

/// A PostgreSQL database of its own for a test, dropped after it (even when it fails). The
/// server is `SWITCHBOARD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
mod pg {
    use sqlx::{Connection, Executor, PgConnection};

    fn admin_url() -> String {
        std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    pub struct Database {
        pub url: String,
        name: String,
    }

    impl Database {
        pub async fn create() -> Self {
            let admin = admin_url();
            let name = format!("sbweb_{}", uuid::Uuid::now_v7().simple());
            let mut c = PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL for the tests (SWITCHBOARD_TEST_POSTGRES_URL)");
            c.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE \"{name}\""
            ))))
            .await
            .unwrap();
            c.close().await.unwrap();
            let base = admin.split('?').next().unwrap();
            let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
            Self { url, name }
        }
    }

    impl Drop for Database {
        fn drop(&mut self) {
            let name = std::mem::take(&mut self.name);
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = PgConnection::connect(&admin_url()).await {
                        let _ = c
                            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

/// The clock of every test app.
const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
/// The password of every test user.
const PASSWORD: &str = "tamale-lighthouse-42";

/// A logged-on test user.
#[derive(Debug, Clone)]
struct Session {
    cookie: String,
    csrf: String,
}

struct TestApp {
    addr: SocketAddr,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    store: Arc<dyn Store>,
    state: AppState,
    /// The API's route templates (from the OpenAPI document).
    templates: Vec<String>,
    sessions: tokio::sync::Mutex<HashMap<Role, Session>>,
    /// The role requests are made as; `None`: a role the route allows.
    role: std::sync::Mutex<Option<Role>>,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn spawn_app() -> TestApp {
    spawn_app_with(|_| async {}).await
}

/// The audit log of a test store (a fixed key).
async fn audit_log(store: Arc<dyn Store>) -> switchboard_audit_host::AuditLog {
    let clock: switchboard_audit_host::Clock = Arc::new(|| NOW.unix_timestamp() * 1000);
    switchboard_audit_host::AuditLog::open(
        store,
        switchboard_audit_host::AuditConfig::new("switchboard-test", [3; 32]),
        clock,
    )
    .await
    .unwrap()
}

/// Starts the app after `prepare` has had the state (to seed records, build the index).
async fn spawn_app_with<F, Fut>(prepare: F) -> TestApp
where
    F: FnOnce(AppState) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
    let state = AppState::with_clock(Arc::new(store), Arc::new(|| NOW));
    prepare(state.clone()).await;
    serve_state(state, dir).await
}

/// Serves `state` (whose store lives in `dir`) on an ephemeral port, with an audit log and
/// request budgets fit for a harness: every test client comes from 127.0.0.1 and stands for
/// many users, so the per-address and per-session budgets are raised well above what a test
/// sends (the documented bounds are tested in `hardening`, which keeps its own).
async fn serve_state(mut state: AppState, dir: tempfile::TempDir) -> TestApp {
    state.admission = Some(Arc::new(switchboard_web::admission::Admission::new(
        switchboard_web::admission::AdmissionLimits {
            session_rate: 100_000.0,
            session_burst: 100_000.0,
            source_rate: 100_000.0,
            source_burst: 100_000.0,
            ..Default::default()
        },
    )));
    serve_state_as_is(state, dir).await
}

/// Serves `state` with the admission control it carries.
async fn serve_state_as_is(mut state: AppState, dir: tempfile::TempDir) -> TestApp {
    if state.audit.is_none() {
        let log = audit_log(state.store.clone()).await;
        state = state.with_audit(log);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel();
    tokio::spawn(switchboard_web::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let doc = serde_json::to_value(switchboard_web::openapi()).unwrap();
    let templates = doc["paths"].as_object().unwrap().keys().cloned().collect();
    TestApp {
        addr,
        http: reqwest::Client::new(),
        stop: Some(stop),
        store: state.store.clone(),
        state,
        templates,
        sessions: Default::default(),
        role: Default::default(),
        _dir: dir,
    }
}

/// Which role a test acts as when it has not chosen one: the first the route allows, except
/// that agents are driven by a supervisor (test agents belong to no user).
fn default_role(p: Permission) -> Role {
    match p {
        Permission::AgentControl => Role::Supervisor,
        // Call-takers query only on their own live call; tests without one query as a
        // supervisor (who may look a subject up for a review).
        Permission::RecordsQuery => Role::Supervisor,
        _ => p.roles()[0],
    }
}

/// One desk (queue 1, skill 1) worked by one call-taker, agent 1, whose user is `user`.
fn desk_config(user: &str) -> switchboard_acd::Config {
    use switchboard_acd::{AgentConfig, AgentId, Config, QueueConfig, QueueId, SkillId};
    Config {
        queues: vec![QueueConfig::new(QueueId(1), "inquiry desk", SkillId(1))],
        agents: vec![AgentConfig {
            id: AgentId(1),
            name: "call-taker 1".to_owned(),
            skills: vec![(SkillId(1), 5)],
            after_call_limit: 0,
            user: Some(user.to_owned()),
        }],
        ..Config::default()
    }
}

/// A fresh database (in the returned folder) and a call distributor over it on the real clock.
async fn store_with_acd(
    config: switchboard_acd::Config,
) -> (
    tempfile::TempDir,
    Arc<SqliteStore>,
    Arc<switchboard_acd_host::AcdHost>,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let host = switchboard_acd_host::AcdHost::open(
        store.clone(),
        config,
        switchboard_acd_host::system_clock(),
    )
    .await
    .unwrap();
    (dir, store, host)
}

/// The real clock moved forward by `offset` milliseconds, which the test changes (to let a
/// session go idle).
fn moving_clock(offset: Arc<std::sync::atomic::AtomicI64>) -> switchboard_web::Clock {
    Arc::new(move || {
        OffsetDateTime::now_utc()
            + time::Duration::milliseconds(offset.load(std::sync::atomic::Ordering::SeqCst))
    })
}

/// A test user of `role` (named after it), with its TOTP secret.
async fn make_user(store: &dyn Store, role: Role, name: &str) -> (User, String) {
    let user = User::create(
        NewUser {
            username: Username::parse(name).unwrap(),
            display_name: Name::parse("Test User").unwrap(),
            role,
        },
        NOW,
    );
    let creds = switchboard_web::api::users::new_credentials(&user, PASSWORD, NOW)
        .await
        .unwrap();
    store.insert_user(&user).await.unwrap();
    store.insert_credentials(&creds).await.unwrap();
    (user, creds.totp_secret)
}

/// The current code of a TOTP secret at `at`.
fn code(secret: &str, at: OffsetDateTime) -> String {
    switchboard_accounts::totp::code_at(secret, at.unix_timestamp() as u64).unwrap()
}

impl TestApp {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Acts as `role` from now on (`None`: whatever each route allows).
    fn act_as(&self, role: Option<Role>) {
        *self.role.lock().unwrap() = role;
    }

    /// Logs on over HTTP; the session's cookie and CSRF token.
    async fn logon(
        &self,
        username: &str,
        password: &str,
        totp: &str,
    ) -> (StatusCode, Value, Option<Session>) {
        let res = self
            .http
            .post(self.url("/api/v1/session"))
            .json(&json!({"username": username, "password": password, "totp": totp}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let cookie = res
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        let body: Value = res.json().await.unwrap();
        let session = cookie.map(|cookie| Session {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap_or_default().to_owned(),
        });
        (status, body, session)
    }

    /// A client whose connections come from `ip` (a loopback address of its own).
    fn http_from(&self, ip: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap()
    }

    /// Logs on over HTTP from `ip`.
    async fn logon_from(
        &self,
        ip: &str,
        username: &str,
        password: &str,
        totp: &str,
    ) -> (StatusCode, Value, Option<Session>) {
        let res = self
            .http_from(ip)
            .post(self.url("/api/v1/session"))
            .json(&json!({"username": username, "password": password, "totp": totp}))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        (status, body, None)
    }

    /// A second user of `role` (named `name`), logged on: for two-person rules within a role.
    async fn another(&self, role: Role, name: &str) -> Session {
        let (_, secret) = make_user(self.store.as_ref(), role, name).await;
        let (status, body, session) = self
            .logon(name, PASSWORD, &code(&secret, self.state.now()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        session.unwrap()
    }

    /// A POST with a given session.
    async fn post_with(&self, s: &Session, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .post(self.url(path))
                .header("cookie", &s.cookie)
                .header(CSRF_HEADER, &s.csrf)
                .json(&body),
        )
        .await
    }

    /// A session of `role`, logging a user of that role on the first time.
    async fn session(&self, role: Role) -> Session {
        let mut sessions = self.sessions.lock().await;
        if let Some(s) = sessions.get(&role) {
            return s.clone();
        }
        let name = format!("t.{}", role.as_str());
        let (_, secret) = make_user(self.store.as_ref(), role, &name).await;
        let (status, body, session) = self
            .logon(&name, PASSWORD, &code(&secret, self.state.now()))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let session = session.unwrap();
        sessions.insert(role, session.clone());
        session
    }

    /// The route template a path falls under (literal segments beat parameters).
    fn template(&self, method: &Method, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap();
        let path = path.strip_prefix("/api/v1")?;
        let segs: Vec<&str> = path.split('/').collect();
        self.templates
            .iter()
            .filter(|t| access(method, t).is_some())
            .filter_map(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                (ts.len() == segs.len()
                    && ts
                        .iter()
                        .zip(&segs)
                        .all(|(a, b)| a.starts_with('{') || a == b))
                .then(|| (ts.iter().filter(|a| !a.starts_with('{')).count(), t.clone()))
            })
            .max()
            .map(|(_, t)| t)
    }

    /// A request with the session (and CSRF token) of the role the test acts as.
    async fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method.clone(), self.url(path));
        let chosen = *self.role.lock().unwrap();
        let role = match self
            .template(&method, path)
            .and_then(|t| access(&method, &t))
            .map(|(g, _)| g)
        {
            None | Some(Gate::Public) => chosen,
            Some(Gate::Perm(p)) => Some(chosen.unwrap_or_else(|| default_role(p))),
            Some(_) => Some(chosen.unwrap_or(Role::Administrator)),
        };
        if let Some(role) = role {
            let s = self.session(role).await;
            req = req.header("cookie", s.cookie).header(CSRF_HEADER, s.csrf);
        }
        req
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap();
        if status == StatusCode::NO_CONTENT {
            return (status, Value::Null);
        }
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{status}: body is not JSON: {text:?}"));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(Method::GET, path).await).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::POST, path).await.json(&body))
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.request(Method::PATCH, path).await.json(&body))
            .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(Method::DELETE, path).await).await
    }

    async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        self.send(
            self.request(Method::POST, path)
                .await
                .header("content-type", content_type)
                .body(body),
        )
        .await
    }

    async fn agency(&self, ori: &str, kind: &str) -> String {
        let (s, b) = self
            .post(
                "/api/v1/agencies",
                json!({"ori": ori, "name": format!("Agency {ori}"), "kind": kind}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["id"].as_str().unwrap().to_owned()
    }

    async fn agreement(
        &self,
        agency: &str,
        office: &str,
        signed: &str,
        expires: &str,
        terminated: Option<&str>,
    ) -> String {
        let (s, b) = self
            .post(
                "/api/v1/agreements",
                json!({"agency_id": agency, "model": "task_force", "signed_on": signed, "expires_on": expires,
                       "terminated_on": terminated, "supervising_office_id": office, "max_certified_officers": 3}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["id"].as_str().unwrap().to_owned()
    }

    async fn officer(
        &self,
        agency: &str,
        badge: &str,
        phone: &str,
        cert: Option<(&str, &str)>,
    ) -> Value {
        let (s, b) = self
            .post(
                "/api/v1/officers",
                json!({"agency_id": agency, "given_name": "Test", "family_name": format!("Officer {badge}"), "badge": badge,
                       "phones": [phone], "certified_on": cert.map(|c| c.0), "certification_expires_on": cert.map(|c| c.1)}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b
    }
}

fn assert_error(
    status: StatusCode,
    body: &Value,
    want_status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["type"].is_string(), "{body}");
    if let Some(f) = field {
        assert_eq!(body["field"], f, "{body}");
    }
}

/// A purpose for record queries.
fn purpose() -> Value {
    json!({"code": "C", "reason": "booking: identity check", "case_number": "24-000123"})
}

const CURRENT: Option<(&str, &str)> = Some(("2026-01-01", "2026-12-31"));

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    assert_eq!(
        app.get("/healthz").await,
        (StatusCode::OK, json!({"status": "ok"}))
    );
    let (s, b) = app.get("/readyz").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["database"], "sqlite");

    let (s, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/agencies",
        "/agencies/{id}",
        "/agreements",
        "/agreements/{id}",
        "/officers",
        "/officers/{id}",
        "/callers/{e164}",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    app.get("/api/v1/callers/+15125550100").await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(
        text.contains(r#"route="/api/v1/callers/{e164}""#),
        "metrics use route templates: {text}"
    );
    assert!(
        !text.contains("+15125550100"),
        "metrics must not carry phone numbers"
    );
    assert!(text.contains("switchboard_caller_lookups_total"));
}

#[tokio::test]
async fn agency_crud_and_conflicts() {
    let app = spawn_app().await;
    let res = app
        .request(Method::POST, "/api/v1/agencies")
        .await
        .json(&json!({"ori": "tx2270000", "name": "  Bexley County Sheriff's Office ", "kind": "partner_287g"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["ori"], "TX2270000");
    assert_eq!(created["name"], "Bexley County Sheriff's Office");
    assert_eq!(created["state"], "TX");
    assert_eq!(created["version"], 1);
    let (s, got) = app.get(&location).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, created);

    let (s, b) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "TX2270000", "name": "Dup", "kind": "partner_287g"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "already_exists", Some("ori"));

    let id = created["id"].as_str().unwrap();
    let (s, b) = app
        .patch(
            &format!("/api/v1/agencies/{id}"),
            json!({"name": "Bexley County Sheriff", "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["name"], "Bexley County Sheriff");
    assert_eq!(b["version"], 2);
    let (s, b) = app
        .patch(
            &format!("/api/v1/agencies/{id}"),
            json!({"name": "Lost update", "version": 1}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "version_conflict", None);
    // An update names the version it was made from; one that changes nothing keeps it.
    let (s, b) = app
        .patch(
            &format!("/api/v1/agencies/{id}"),
            json!({"name": "Last writer"}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("version"),
    );
    let (s, b) = app
        .patch(&format!("/api/v1/agencies/{id}"), json!({"version": 2}))
        .await;
    assert_eq!((s, &b["version"]), (StatusCode::OK, &json!(2)), "{b}");
    let (s, b) = app
        .patch(
            &format!("/api/v1/agencies/{id}"),
            json!({"kind": "federal_field_office"}),
        )
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_field", None);
    assert_eq!(app.get(&location).await.1["name"], "Bexley County Sheriff");

    let (s, b) = app
        .get("/api/v1/agencies/0190aaaa-0000-7000-8000-000000000000")
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let (s, b) = app.get("/api/v1/agencies/not-a-uuid").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_field", Some("id"));
    let (s, b) = app
        .patch(
            "/api/v1/agencies/0190aaaa-0000-7000-8000-000000000000",
            json!({"name": "x"}),
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
}

#[tokio::test]
async fn listing_pages_and_filters() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (i, st) in ["TX", "TX", "OK", "TX", "OK", "FL", "TX"]
        .iter()
        .enumerate()
    {
        let kind = if i == 3 {
            "federal_field_office"
        } else {
            "partner_287g"
        };
        ids.push(app.agency(&format!("{st}00{i}0000"), kind).await);
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/agencies?limit=3".to_owned();
    loop {
        let (s, b) = app.get(&path).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let items = b["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
        match b["next"].as_str() {
            Some(next) => path = format!("/api/v1/agencies?limit=3&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every agency once, in creation order");

    let count = |b: Value| b["items"].as_array().unwrap().len();
    assert_eq!(count(app.get("/api/v1/agencies?state=tx").await.1), 4);
    assert_eq!(
        count(
            app.get("/api/v1/agencies?state=TX&kind=partner_287g")
                .await
                .1
        ),
        3
    );
    assert_eq!(count(app.get("/api/v1/agencies?q=agency%20ok").await.1), 2);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("kind=sheriff", "kind"),
        ("state=ZZ", "state"),
        ("after=xyz", "after"),
    ] {
        let (s, b) = app.get(&format!("/api/v1/agencies?{query}")).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_field", Some(field));
    }
    let (s, b) = app.get("/api/v1/agencies?colour=blue").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = app
        .get(&format!("/api/v1/agencies?q={}", "x".repeat(101)))
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_field", Some("q"));
}

#[tokio::test]
async fn agreements_check_their_parties_and_dates() {
    let app = spawn_app().await;
    let partner = app.agency("TX2270000", "partner_287g").await;
    let office = app.agency("TX2279900", "federal_field_office").await;
    let body = |agency: &str, office: &str, signed: &str, expires: &str| {
        json!({"agency_id": agency, "model": "jail_enforcement", "signed_on": signed, "expires_on": expires,
               "supervising_office_id": office, "max_certified_officers": 10})
    };
    let (s, b) = app
        .post(
            "/api/v1/agreements",
            body(&office, &partner, "2025-01-01", "2027-01-01"),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "rule_violation",
        Some("agency_id"),
    );
    let (s, b) = app
        .post(
            "/api/v1/agreements",
            body(&partner, &partner, "2025-01-01", "2027-01-01"),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "rule_violation",
        Some("supervising_office_id"),
    );
    let (s, b) = app
        .post(
            "/api/v1/agreements",
            body(&partner, &office, "2027-01-01", "2025-01-01"),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "rule_violation",
        Some("expires_on"),
    );
    let (s, b) = app
        .post(
            "/api/v1/agreements",
            body(
                "0190aaaa-0000-7000-8000-000000000000",
                &office,
                "2025-01-01",
                "2027-01-01",
            ),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "unknown_reference",
        Some("agency_id"),
    );
    let (s, b) = app
        .post(
            "/api/v1/agreements",
            body(&partner, &office, "2025-02-30", "2027-01-01"),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("signed_on"),
    );
    let mut absurd = body(&partner, &office, "2025-01-01", "2027-01-01");
    absurd["max_certified_officers"] = json!(-3);
    let (s, b) = app.post("/api/v1/agreements", absurd.clone()).await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("max_certified_officers"),
    );
    absurd["max_certified_officers"] = json!(1_000_000);
    let (s, b) = app.post("/api/v1/agreements", absurd).await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "rule_violation",
        Some("max_certified_officers"),
    );

    let (s, created) = app
        .post(
            "/api/v1/agreements",
            body(&partner, &office, "2025-01-01", "2027-01-01"),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().unwrap();
    let (s, b) = app
        .patch(
            &format!("/api/v1/agreements/{id}"),
            json!({"terminated_on": "2026-11-01", "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "terminated");
    let (_, listed) = app.get("/api/v1/agreements?in_effect_on=2026-11-21").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);
    let (s, b) = app
        .patch(
            &format!("/api/v1/agreements/{id}"),
            json!({"terminated_on": null, "version": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["terminated_on"], Value::Null);
    let (_, listed) = app
        .get(&format!(
            "/api/v1/agreements?in_effect_on=2026-11-21&agency_id={partner}"
        ))
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (s, b) = app
        .patch(
            &format!("/api/v1/agreements/{id}"),
            json!({"supervising_office_id": partner, "version": 3}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "rule_violation",
        Some("supervising_office_id"),
    );
    let (s, b) = app.get("/api/v1/agreements?in_effect_on=yesterday").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("in_effect_on"),
    );
}

#[tokio::test]
async fn officers_phones_badges_and_certification_limit() {
    let app = spawn_app().await;
    let partner = app.agency("FL0130000", "partner_287g").await;
    let office = app.agency("FL0139900", "federal_field_office").await;
    app.agreement(&partner, &office, "2025-01-01", "2027-01-01", None)
        .await; // allows 3 certified

    let first = app
        .officer(&partner, "1", "+1 (305) 555-0101", CURRENT)
        .await;
    assert_eq!(first["phones"], json!(["+13055550101"]));
    assert_eq!(first["certification_status"], "current");
    app.officer(&partner, "2", "+13055550102", CURRENT).await;
    app.officer(&partner, "3", "+13055550103", CURRENT).await;

    let (s, b) = app
        .post("/api/v1/officers", json!({"agency_id": partner, "given_name": "Four", "family_name": "Too Many", "badge": "4",
            "phones": ["+13055550104"], "certified_on": "2026-01-01", "certification_expires_on": "2026-12-31"}))
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "certified_officer_limit", None);
    // Uncertified officers do not count against the limit.
    let fourth = app.officer(&partner, "4", "+13055550104", None).await;

    let (s, b) = app
        .post("/api/v1/officers", json!({"agency_id": partner, "given_name": "X", "family_name": "Y", "badge": "5", "phones": ["+13055550101"]}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::CONFLICT,
        "already_exists",
        Some("phones"),
    );
    let (s, b) = app
        .post(
            "/api/v1/officers",
            json!({"agency_id": partner, "given_name": "X", "family_name": "Y", "badge": "1"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "already_exists", Some("badge"));

    // Certifying the fourth through PATCH hits the same limit; retiring one makes room.
    let fourth_id = fourth["id"].as_str().unwrap();
    let certify = json!({"certified_on": "2026-02-01", "certification_expires_on": "2027-01-31", "version": 1});
    let (s, b) = app
        .patch(&format!("/api/v1/officers/{fourth_id}"), certify.clone())
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "certified_officer_limit", None);
    let first_id = first["id"].as_str().unwrap();
    let (s, b) = app
        .patch(
            &format!("/api/v1/officers/{first_id}"),
            json!({"active": false, "phones": ["+13055550111", "+13055550112"], "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["phones"], json!(["+13055550111", "+13055550112"]));
    let (s, b) = app
        .patch(&format!("/api/v1/officers/{fourth_id}"), certify)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["certification_status"], "current");
    // Re-saving an already certified officer is not a new certification.
    let (s, b) = app
        .patch(
            &format!("/api/v1/officers/{fourth_id}"),
            json!({"given_name": "Renamed", "version": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (s, b) = app
        .patch(
            &format!("/api/v1/officers/{fourth_id}"),
            json!({"certified_on": null, "version": 3}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "rule_violation",
        Some("certified_on"),
    );

    let (_, listed) = app
        .get(&format!(
            "/api/v1/officers?agency_id={partner}&active=false"
        ))
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, listed) = app.get("/api/v1/officers?q=officer%202").await;
    assert_eq!(listed["items"][0]["badge"], "2");
    let (_, listed) = app.get("/api/v1/officers?badge=3").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn caller_lookup_explains_every_unauthorised_reason() {
    let app = spawn_app().await;
    let office = app.agency("TX0009900", "federal_field_office").await;
    let ok = app.agency("TX0010000", "partner_287g").await;
    app.agreement(&ok, &office, "2025-01-01", "2027-01-01", None)
        .await;
    let expired = app.agency("TX0020000", "partner_287g").await;
    app.agreement(&expired, &office, "2023-01-01", "2025-06-30", None)
        .await;
    let pending = app.agency("TX0030000", "partner_287g").await;
    app.agreement(&pending, &office, "2027-01-01", "2029-01-01", None)
        .await;
    let terminated = app.agency("TX0040000", "partner_287g").await;
    app.agreement(
        &terminated,
        &office,
        "2025-01-01",
        "2027-01-01",
        Some("2026-10-01"),
    )
    .await;
    let none = app.agency("TX0050000", "partner_287g").await;

    app.officer(&ok, "1", "+15125550101", CURRENT).await;
    app.officer(&expired, "2", "+15125550102", CURRENT).await;
    app.officer(&pending, "3", "+15125550103", CURRENT).await;
    app.officer(&terminated, "4", "+15125550104", CURRENT).await;
    app.officer(&none, "5", "+15125550105", CURRENT).await;
    app.officer(&ok, "6", "+15125550106", None).await;
    app.officer(&ok, "7", "+15125550107", Some(("2025-01-01", "2025-12-31")))
        .await;
    let gone = app.officer(&ok, "8", "+15125550108", CURRENT).await;
    app.patch(
        &format!("/api/v1/officers/{}", gone["id"].as_str().unwrap()),
        json!({"active": false, "version": 1}),
    )
    .await;
    app.officer(&office, "9", "+15125550109", None).await;

    let cases = [
        ("+15125550101", vec![]),
        ("+15125550102", vec!["agreement_expired"]),
        ("+15125550103", vec!["agreement_not_yet_in_effect"]),
        ("+15125550104", vec!["agreement_terminated"]),
        ("+15125550105", vec!["no_agreement"]),
        ("+15125550106", vec!["officer_not_certified"]),
        ("+15125550107", vec!["certification_expired"]),
        ("+15125550108", vec!["officer_inactive"]),
        ("+15125550109", vec![]),
        ("+15125550199", vec!["unknown_number"]),
    ];
    for (phone, want) in cases {
        let (s, card) = app.get(&format!("/api/v1/callers/{phone}")).await;
        assert_eq!(s, StatusCode::OK, "{phone}: {card}");
        let codes: Vec<&str> = card["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, want, "{phone}: {card}");
        assert_eq!(card["authorised"], want.is_empty(), "{phone}");
        for p in card["problems"].as_array().unwrap() {
            assert!(p["message"].as_str().is_some_and(|m| m.len() > 10), "{p}");
        }
        if phone == "+15125550199" {
            assert_eq!(card["officer"], Value::Null);
        } else {
            assert!(card["agency"]["ori"].is_string(), "{card}");
        }
    }
    let (_, card) = app.get("/api/v1/callers/+15125550101").await;
    assert_eq!(card["active_models"], json!(["task_force"]));
    assert_eq!(card["agency"]["ori"], "TX0010000");
    assert_eq!(card["officer"]["badge"], "1");
    let (_, card) = app.get("/api/v1/callers/+15125550102").await;
    assert_eq!(card["problems"][0]["last_day"], "2025-06-30");
    // The + may arrive percent-encoded, and separators are tolerated.
    let (_, card) = app.get("/api/v1/callers/%2B1-512-555-0101").await;
    assert_eq!(card["authorised"], true);

    for bad in ["15125550101", "+15125", "+1512abc0101", "%2B0125550101"] {
        let (s, b) = app.get(&format!("/api/v1/callers/{bad}")).await;
        assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_field",
            Some("e164"),
        );
    }
}

#[tokio::test]
async fn malformed_input_gets_clear_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    let partner = app.agency("GA0600000", "partner_287g").await;
    let cases = [
        (
            json!({"ori": "GA06", "name": "x", "kind": "partner_287g"}),
            "ori",
            "invalid ORI",
        ),
        (
            json!({"ori": "ZZ0600001", "name": "x", "kind": "partner_287g"}),
            "ori",
            "state",
        ),
        (
            json!({"ori": "GA0600001", "name": 5, "kind": "partner_287g"}),
            "name",
            "invalid type",
        ),
        (
            json!({"ori": "GA0600001", "name": "", "kind": "partner_287g"}),
            "name",
            "empty",
        ),
        (
            json!({"ori": "GA0600001", "name": "x", "kind": "sheriff"}),
            "kind",
            "agency kind",
        ),
        (
            json!({"ori": "GA0600001", "name": "x"}),
            ".",
            "missing field `kind`",
        ),
        (
            json!({"ori": "GA0600001", "name": "x", "kind": "partner_287g", "extra": 1}),
            ".",
            "unknown field",
        ),
    ];
    for (body, field, words) in cases {
        let (s, b) = app.post("/api/v1/agencies", body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} -> {b}");
        if field != "." {
            assert_eq!(b["field"], field, "{body} -> {b}");
        }
        assert!(
            b["message"].as_str().unwrap().contains(words),
            "{body} -> {b}"
        );
    }
    let (s, b) = app
        .post("/api/v1/officers", json!({"agency_id": partner, "given_name": "A", "family_name": "B", "badge": "1", "phones": ["+13055550101", "555-0102"]}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("phones[1]"),
    );
    let (s, b) = app
        .post_raw("/api/v1/agencies", "application/json", "{\"ori\": ")
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "malformed_json", None);
    let (s, b) = app.post_raw("/api/v1/agencies", "text/plain", "{}").await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );
    let huge = format!(
        "{{\"ori\":\"GA0600001\",\"name\":\"{}\",\"kind\":\"partner_287g\"}}",
        "x".repeat(200_000)
    );
    let (s, b) = app
        .post_raw("/api/v1/agencies", "application/json", huge)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
    let (s, b) = app
        .post_raw("/api/v1/agencies", "application/json", "[1,2,3]")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

    let (s, b) = app.get("/api/v1/nothing-here").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "route_not_found", None);
    let (s, b) = app.delete("/api/v1/agencies").await;
    assert_error(
        s,
        &b,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        None,
    );

    // Nothing above was stored.
    let (_, all) = app.get("/api/v1/agencies").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let (_, officers) = app.get("/api/v1/officers").await;
    assert_eq!(officers["items"].as_array().unwrap().len(), 0);
}

/// Seeds made-up records of `people` people into the store and builds the index from it.
async fn seed_records(
    state: &AppState,
    people: u64,
) -> Vec<switchboard_synth::records::PersonRecords> {
    seed_records_on(state, people, time::macros::date!(2026 - 11 - 21)).await
}

/// The same, with the records generated as of `today` (for a server on the real clock).
async fn seed_records_on(
    state: &AppState,
    people: u64,
    today: time::Date,
) -> Vec<switchboard_synth::records::PersonRecords> {
    use switchboard_synth::noise::NoiseSpec;
    use switchboard_synth::people::{PeopleSpec, people as generate};
    use switchboard_synth::records::{RecordSpec, records_for};
    let rspec = RecordSpec {
        seed: 9,
        noise: NoiseSpec::default(),
        today,
    };
    let mut kept = Vec::new();
    let mut all = Vec::new();
    for p in generate(PeopleSpec::new(9, people, today)) {
        let mut r = records_for(&rspec, &p);
        kept.push(r.clone());
        r.drain_into(&mut all);
    }
    state.store.put_source_records(&all).await.unwrap();
    state.index.load(state.store.clone(), 1).await.unwrap();
    kept
}

#[tokio::test]
async fn lookups_rank_explain_and_refuse_what_they_cannot_do() {
    let mut seeded = Vec::new();
    let app = spawn_app_with(|state| {
        let seeded = &mut seeded;
        async move {
            *seeded = seed_records(&state, 2_000).await;
        }
    })
    .await;
    let person = seeded
        .iter()
        .find(|r| !r.identity.is_empty() && r.identity[0].dob.is_some())
        .unwrap();
    let idn = &person.identity[0];
    let subject = json!({
        "family_names": [idn.family_name],
        "given_names": [idn.given_name],
        "date_of_birth": idn.dob.unwrap().to_string(),
        "a_number": format!("A{}", idn.a_number),
    });
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": subject}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let top = &b["candidates"][0];
    assert_eq!(top["record"]["record_id"], idn.record_id.as_str(), "{b}");
    assert_eq!(top["band"], "strong", "{top}");
    assert_eq!(top["corroborated"], true);
    assert_eq!(top["evidence"].as_array().unwrap().len(), 9);
    assert!(b["index_records"].as_u64().unwrap() > 2_000);
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["record_index"]["state"], "ready", "{ready}");

    // Without the A-number the same record is no longer strong, and says why.
    let mut bare = subject.clone();
    bare.as_object_mut().unwrap().remove("a_number");
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": bare, "limit": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let same = b["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["record"]["record_id"] == idn.record_id.as_str())
        .unwrap();
    assert_ne!(same["band"], "strong");
    assert!(
        same["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "not_corroborated")
    );
    assert!(b["candidates"].as_array().unwrap().len() <= 5);

    // Bad input is refused with the field named.
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": subject, "limit": 0}),
        )
        .await;
    assert_eq!(
        (s, b["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": {"family_names": [], "given_names": ["Ana"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": {"family_names": ["Ruiz"], "given_names": ["Ana"], "date_of_birth": "1850-01-01"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": subject, "colour": "red"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}

#[tokio::test]
async fn lookups_wait_for_the_index() {
    let app = spawn_app().await;
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": purpose(), "subject": {"family_names": ["Ruiz"], "given_names": ["Ana"]}}),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{b}");
    assert_eq!(b["code"], "index_not_ready");
    let (_, ready) = app.get("/readyz").await;
    assert_eq!(ready["record_index"]["state"], "not_started", "{ready}");
    let (s, doc) = app.get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/lookups"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Candidate"].is_object());
}
