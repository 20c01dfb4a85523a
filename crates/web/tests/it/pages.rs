//! The desktop pages over plain HTTP: which role opens which page (every refusal audited),
//! what each report and section renders, page actions needing the CSRF token, and the idle
//! lock as a page and a live stream see it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_accounts::{Permission, allows};
use switchboard_domain::Role;
use switchboard_web::AppState;

use super::{TestApp, serve_state};

/// The server with its call distributor (t.call_taker is agent 1; the desk's and the agent's
/// names hold markup), on a fresh database, with a clock the test can move.
async fn spawn(offset_ms: Arc<AtomicI64>) -> TestApp {
    let mut config = super::desk_config("t.call_taker");
    config.queues[0].name = "inquiry <b>desk</b>".to_owned();
    config.agents[0].name = "call-taker <i>1</i>".to_owned();
    let (dir, store, host) = super::store_with_acd(config).await;
    serve_state(
        AppState::with_clock(store, super::moving_clock(offset_ms)).with_acd(host),
        dir,
    )
    .await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Each page and the permission it needs.
const PAGES: [(&str, Permission); 6] = [
    ("/desk", Permission::AcdView),
    ("/wall", Permission::AcdView),
    ("/reviews", Permission::DispositionReview),
    ("/liaison", Permission::LiaisonRead),
    ("/auditor", Permission::AuditRead),
    ("/admin", Permission::UserAdmin),
];

#[tokio::test]
async fn each_role_opens_its_pages_and_is_refused_the_others() {
    let app = spawn(Arc::default()).await;
    let http = http();
    for &role in Role::ALL {
        let s = app.session(role).await;
        // Home sends each role to a page it may open.
        let res = http
            .get(app.url("/"))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{role:?}");
        let home = res.headers()["location"].to_str().unwrap().to_owned();
        for (page, needs) in PAGES {
            let res = http
                .get(app.url(page))
                .header("cookie", &s.cookie)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let html = res.text().await.unwrap();
            if allows(role, needs) {
                assert_eq!(status, StatusCode::OK, "{role:?} {page}: {html}");
                assert!(
                    html.contains(&s.csrf),
                    "{role:?} {page} carries the CSRF token"
                );
                // The navigation offers exactly the pages the role may open.
                for (other, other_needs) in PAGES {
                    assert_eq!(
                        html.contains(&format!("href=\"{other}\"")),
                        allows(role, other_needs),
                        "{role:?} on {page}: link to {other}"
                    );
                }
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} {page}");
                assert_ne!(
                    home, page,
                    "{role:?} is sent home to a page it may not open"
                );
            }
        }
    }
    let audit = app.store.audit_after(0, 10_000).await.unwrap();
    let refused = audit
        .iter()
        .filter(|e| e.action.starts_with("page /") && e.entry.contains("\"refused\""))
        .count();
    let expected: usize = Role::ALL
        .iter()
        .map(|&r| PAGES.iter().filter(|(_, p)| !allows(r, *p)).count())
        .sum();
    assert_eq!(refused, expected, "every refused page view is audited");
    let res = http.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn reports_and_sections_render_and_names_stay_text() {
    let app = spawn(Arc::default()).await;
    let http = http();
    let get = async |role: Role, path: &str| {
        let s = app.session(role).await;
        let res = http
            .get(app.url(path))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    // A registry entry with markup in its name, for the administrator's page.
    let (s, b) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "DCICE0000", "name": "Field <script>x()</script> Office", "kind": "federal_field_office"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");

    let (s, html) = get(Role::Administrator, "/admin?section=agencies").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("DCICE0000"), "{html}");
    assert!(!html.contains("<script>x()"), "a name is escaped: {html}");
    let (_, html) = get(Role::Administrator, "/admin?section=users").await;
    assert!(html.contains("t.administrator"), "{html}");
    let (_, html) = get(Role::Administrator, "/admin?section=acd").await;
    assert!(
        html.contains("inquiry &#60;b&#62;desk") || html.contains("inquiry &lt;b&gt;desk"),
        "{html}"
    );
    let (_, html) = get(Role::Administrator, "/admin?section=rules").await;
    assert_eq!(
        html.matches("data-testid=\"rule\"").count(),
        switchboard_rules::RULES.len(),
        "every rule is shown"
    );
    for rule in switchboard_rules::RULES {
        assert!(html.contains(rule.id), "rule {}", rule.id);
    }
    let (s, html) = get(Role::Administrator, "/admin?section=records").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.matches("<th scope=\"row\">").count() >= 6,
        "every record system's feed is listed: {html}"
    );
    assert!(
        html.contains("court order") && html.contains("Change log position"),
        "{html}"
    );
    let (s, html) = get(Role::Administrator, "/admin?section=secrets").await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("is not a section"), "{html}");

    let (_, html) = get(Role::Auditor, "/auditor?actor=t.administrator").await;
    assert!(
        html.contains("POST /agencies"),
        "the search finds the administrator's change: {html}"
    );
    let (_, html) = get(
        Role::Auditor,
        "/auditor?report=accounting&subject=a_number%3AA012345678",
    )
    .await;
    assert!(
        html.contains("Accounting for a_number:A012345678"),
        "{html}"
    );
    let (_, html) = get(Role::Auditor, "/auditor?report=anomalies").await;
    assert!(html.contains("Anomaly review"), "{html}");
    let (_, html) = get(Role::Auditor, "/auditor?from=yesterday").await;
    assert!(
        html.contains("data-testid=\"audit-error\""),
        "a bad time is explained: {html}"
    );
    // Verifying from the page: the report, and the verification itself audited.
    let s = app.session(Role::Auditor).await;
    let res = http
        .post(app.url("/auditor/verify"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("The log verifies"));

    // The wallboard escapes the distributor's names too.
    let (s, html) = get(Role::Supervisor, "/wall").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !html.contains("<b>desk") && !html.contains("<i>1"),
        "{html}"
    );
    assert!(
        html.contains("data-testid=\"tile-service-level\""),
        "{html}"
    );
}

#[tokio::test]
async fn page_actions_need_the_csrf_token_and_a_locked_session_gets_the_unlock() {
    let offset = Arc::new(AtomicI64::new(0));
    let app = spawn(offset.clone()).await;
    let http = http();
    let s = app.session(Role::CallTaker).await;
    let body = json!({"subject": {"family_names": ["Doe"]}, "purpose": {"code": "C", "reason": "booking check"}});
    let res = http
        .post(app.url("/desk/lookup"))
        .header("cookie", &s.cookie)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["code"], "csrf_token_invalid");

    // A live desk, then 31 idle minutes: the stream says the session locked and stops.
    let mut stream = http
        .get(app.url("/desk/stream"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let mut seen = String::new();
    while !seen.contains("event: agent") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("the desk's first fragments")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    offset.store(31 * 60 * 1000, Ordering::SeqCst);
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
            .await
            .expect("the stream notices the lock within a refresh")
            .unwrap();
        let Some(chunk) = chunk else { break };
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: session"), "{seen}");
    assert!(seen.contains("data-locked"), "{seen}");

    // The page now offers the unlock; actions and streams are refused until then.
    let res = http
        .get(app.url("/desk"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Session locked") && html.contains("unlock-form"),
        "{html}"
    );
    let res = http
        .post(app.url("/desk/lookup"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["code"], "session_locked");
    let res = http
        .get(app.url("/desk/stream"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("event: session") && body.contains("data-locked"),
        "{body}"
    );
}

#[tokio::test]
async fn a_live_stream_does_not_keep_a_session_from_locking() {
    let offset = Arc::new(AtomicI64::new(0));
    let app = spawn(offset.clone()).await;
    let http = http();
    let s = app.session(Role::Supervisor).await;
    // 29 idle minutes, with the wallboard's stream connecting again and again (as a browser's
    // does after a network drop): the session still locks at 30.
    for minute in [10, 20, 29] {
        offset.store(minute * 60 * 1000, Ordering::SeqCst);
        let res = http
            .get(app.url("/wall/stream"))
            .header("cookie", &s.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        drop(res);
    }
    offset.store(31 * 60 * 1000, Ordering::SeqCst);
    let res = http
        .get(app.url("/wall"))
        .header("cookie", &s.cookie)
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Session locked"), "{html}");
}
