//! The desktops in a real browser: Debian's chromium, driven by playwright-core
//! (`tests/browser/*.mjs`), against the real server on an ephemeral port. Each flow saves
//! screenshots under `target/screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_domain::Role;
use switchboard_web::AppState;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::{PASSWORD, TestApp, code, make_user, serve_state};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Installs the pinned playwright-core once (the registry is reachable; no browser is
/// downloaded: the tests use Debian's chromium).
fn ensure_playwright() {
    let dir = browser_dir();
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .expect("npm is installed (Debian package npm)");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

fn screenshots(flow: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/screenshots")
        .join(flow);
    // Last run's pictures must not pass for this run's.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server with its call distributor (desk01 is agent 1), on a fresh database.
async fn spawn() -> TestApp {
    let (dir, store, host) = super::store_with_acd(super::desk_config("desk01")).await;
    serve_state(AppState::new(store).with_acd(host), dir).await
}

#[tokio::test]
async fn a_call_taker_logs_on_goes_available_and_an_offered_call_pops_as_text() {
    ensure_playwright();
    let app = spawn().await;
    let (_, secret) = make_user(app.store.as_ref(), Role::CallTaker, "desk01").await;
    let shots = screenshots("desk");
    let mut driver = tokio::process::Command::new("node")
        .arg(browser_dir().join("desk.mjs"))
        .arg(app.url(""))
        .arg("desk01")
        .arg(PASSWORD)
        .arg(code(&secret, time::OffsetDateTime::now_utc()))
        .arg(&shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (Debian package nodejs)");
    let mut to = driver.stdin.take().unwrap();
    let mut from = BufReader::new(driver.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(60), from.next_line())
            .await
            .expect("the browser said nothing within a minute")
            .unwrap()
            .unwrap_or_default()
    };
    let line = next().await;
    assert_eq!(line, "available", "the browser: {line}");
    // A caller whose number, as signalled, is markup (an element, and a script that would run
    // if the page's policy allowed it): it must show as text.
    let ani = r#"<b>bold</b><img src=x onerror="window.__xss=true">"#;
    to.write_all(format!("{ani}\n").as_bytes()).await.unwrap();
    let line = next().await;
    assert_eq!(line, "watching", "the browser: {line}");
    let placed = std::time::Instant::now();
    let (s, b) = app
        .post("/api/v1/acd/calls", json!({"queue": 1, "ani": ani}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let line = next().await;
    let popped = placed.elapsed();
    assert_eq!(line, "popped", "the browser: {line}");
    assert!(
        popped < Duration::from_secs(1),
        "the call popped {popped:?} after it was placed"
    );
    let line = next().await;
    assert_eq!(line, "done", "the browser: {line}");
    drop(to);
    let status = tokio::time::timeout(Duration::from_secs(30), driver.wait())
        .await
        .expect("the browser driver exits")
        .unwrap();
    assert!(status.success());
    for shot in ["01-logon", "02-available", "03-offered", "04-connected"] {
        assert!(shots.join(format!("{shot}.png")).exists(), "{shot}.png");
    }
}

#[tokio::test]
async fn pages_need_a_session_and_the_desk_needs_a_role_that_watches_calls() {
    let app = spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http.get(app.url("/desk")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
    // Without a session the stream says so in one event (the page closes its stream on it).
    let res = http.get(app.url("/desk/stream")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("event: session") && body.contains("data-ended"),
        "{body}"
    );
    let res = http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    // An auditor may not use the desk; the refusal is audited.
    let auditor = app.session(Role::Auditor).await;
    let res = http
        .get(app.url("/desk"))
        .header("cookie", &auditor.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let entries = app.store.audit_after(0, 1000).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == "page /desk" && e.entry.contains("refused")),
        "the refusal is in the audit log"
    );
    // A call-taker gets the desk, with the session's CSRF token for its actions.
    let ct = app.session(Role::CallTaker).await;
    let res = http
        .get(app.url("/desk"))
        .header("cookie", &ct.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains(&ct.csrf), "the page carries the CSRF token");
}

#[tokio::test]
async fn the_main_flows_walk_through_the_desktops() {
    ensure_playwright();
    // One call-taker with a minute of after-call work.
    let mut config = super::desk_config("desk01");
    config.agents[0].after_call_limit = 60_000;
    let (dir, store, host) = super::store_with_acd(config).await;
    // The server's clock, which the test moves to let a session go idle.
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let state = AppState::with_clock(store, super::moving_clock(offset.clone())).with_acd(host);
    // Records as of today: the server runs on the real clock, and records age with it.
    let seeded =
        super::seed_records_on(&state, 3_000, time::OffsetDateTime::now_utc().date()).await;
    let app = serve_state(state, dir).await;
    let person =
        super::dispositions::clean_person_on(&seeded, time::OffsetDateTime::now_utc().date());
    let idn = &person.identity[0];

    // A federal field office's officer calls: authorised without an agreement.
    let (s, agency) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "DCICE0000", "name": "Field Office", "kind": "federal_field_office"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{agency}");
    app.officer(agency["id"].as_str().unwrap(), "F1", "+12025550142", None)
        .await;
    // The officer sends the subject ahead through the partner channel before calling.
    let (s, key) = app
        .post(
            &format!(
                "/api/v1/agencies/{}/partner-keys",
                agency["id"].as_str().unwrap()
            ),
            json!({"label": "field office"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    let sent = reqwest::Client::new()
        .post(app.url("/api/v1/partner/inquiries"))
        .header("authorization", format!("Bearer {secret}"))
        .header("x-officer-badge", "F1")
        .json(&json!({
            "purpose": {"code": "C", "reason": "booking: identity check", "case_number": "24-000123"},
            "subject": {
                "family_names": [idn.family_name], "given_names": [idn.given_name],
                "date_of_birth": idn.dob.unwrap().to_string(), "a_number": format!("A{}", idn.a_number),
            },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let sent: serde_json::Value = sent.json().await.unwrap();
    let reference = sent["reference"].as_str().unwrap().to_owned();

    let mut secrets = std::collections::HashMap::new();
    for (role, name) in [
        (Role::CallTaker, "desk01"),
        (Role::Supervisor, "sup01"),
        (Role::JuvenileLiaison, "jl01"),
    ] {
        let (_, secret) = make_user(app.store.as_ref(), role, name).await;
        secrets.insert(name.to_owned(), secret);
    }
    let markup = r#"<img/src=x/onerror=window.__xss=true>"#;
    let cfg = json!({
        "password": PASSWORD,
        "call_taker": "desk01",
        "supervisor": "sup01",
        "liaison": "jl01",
        "subject": {
            "family": idn.family_name,
            "given": idn.given_name,
            "dob": idn.dob.unwrap().to_string(),
            "a_number": format!("A{}", idn.a_number),
        },
        "chosen": [idn.record_id, person.immigration_case[0].record_id],
        "markup": markup,
        "reference": reference,
    });

    let shots = screenshots("flows");
    let mut driver = tokio::process::Command::new("node")
        .arg(browser_dir().join("flows.mjs"))
        .arg(app.url(""))
        .arg(&shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed (Debian package nodejs)");
    let mut to = driver.stdin.take().unwrap();
    let mut from = BufReader::new(driver.stdout.take().unwrap()).lines();
    to.write_all(format!("{cfg}\n").as_bytes()).await.unwrap();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(90), from.next_line())
            .await
            .expect("the browser said nothing within 90 s")
            .unwrap()
            .unwrap_or_default();
        if let Some(user) = line.strip_prefix("code ") {
            let code = code(&secrets[user], app.state.now());
            to.write_all(format!("{code}\n").as_bytes()).await.unwrap();
        } else if line == "idle" {
            offset.store(31 * 60 * 1000, std::sync::atomic::Ordering::SeqCst);
            to.write_all(b"ok\n").await.unwrap();
        } else if line == "ready" {
            let (s, b) = app
                .post(
                    "/api/v1/acd/calls",
                    json!({"queue": 1, "ani": "+12025550142"}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
        } else {
            assert_eq!(line, "done", "the browser: {line}");
            break;
        }
    }
    drop(to);
    let status = tokio::time::timeout(Duration::from_secs(30), driver.wait())
        .await
        .expect("the browser driver exits")
        .unwrap();
    assert!(status.success());

    // What the browsers did is on record: the confirmation approved by the supervisor, the
    // minor's referral with its liaison case, each step audited under the acting user.
    app.act_as(Some(Role::Supervisor));
    let (s, d) = app.get("/api/v1/dispositions?state=final").await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let finals = d["items"].as_array().unwrap();
    assert!(
        finals
            .iter()
            .any(|x| x["kind"] == "confirm_enforcement_action"
                && x["author"] == "desk01"
                && x["history"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h["by"] == "sup01")),
        "{d}"
    );
    app.act_as(None);
    let (_, cases) = app.get("/api/v1/liaison-cases").await;
    let case = &cases["items"][0];
    assert!(case["case"]["hhs_notified_at"].is_string(), "{cases}");
    assert_eq!(
        case["case"]["legal_representation"], "in_progress",
        "{cases}"
    );
    let audit = app.store.audit_after(0, 10_000).await.unwrap();
    for (action, user) in [
        ("page /wall", "sup01"),
        ("page /desk", "desk01"),
        ("page /liaison", "jl01"),
        ("lookup", "desk01"),
        ("disposition.create", "desk01"),
        ("disposition.approve", "sup01"),
        ("review queue", "sup01"),
        ("liaison desk case", "jl01"),
    ] {
        assert!(
            audit.iter().any(
                |r| r.action == action && r.entry.contains(&format!("\"username\":\"{user}\""))
            ),
            "no {action:?} by {user} in the audit log"
        );
    }
    // The partner heard the answer to the inquiry it sent: the confirmation, once the
    // supervisor approved it (the later inquiry about a minor was the call-taker's own).
    let status = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/partner/inquiries/{reference}")))
        .header("authorization", format!("Bearer {secret}"))
        .header("x-officer-badge", "F1")
        .send()
        .await
        .unwrap();
    let status: serde_json::Value = status.json().await.unwrap();
    assert_eq!(status["status"], "answered", "{status}");
    assert_eq!(
        status["response"].as_str().unwrap(),
        switchboard_rules::disclosure::caller_response(
            switchboard_rules::disposition::Kind::ConfirmEnforcementAction
        )
        .text,
        "{status}"
    );
    for shot in [
        "01-wall-before",
        "02-desk-connected",
        "03-wall-after-answer",
        "04-candidates",
        "05-confirmation-pending",
        "06-review-queue",
        "07-minor-banner",
        "08-liaison-referral",
        "09-liaison-desk",
        "10-after-call",
        "11-locked",
        "12-unlocked",
    ] {
        assert!(shots.join(format!("{shot}.png")).exists(), "{shot}.png");
    }
}
