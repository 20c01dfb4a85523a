//! Admission control and the error shape: a saturated server sheds at once, a fast session is
//! slowed, a keyless flood is audited a minute at a time, every error is JSON.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_store_sqlite::SqliteStore;
use switchboard_web::AppState;
use switchboard_web::admission::{Admission, AdmissionLimits};

use super::{NOW, TestApp, serve_state_as_is};

async fn app_with(limits: AdmissionLimits) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let mut state = AppState::with_clock(store, Arc::new(|| NOW));
    state.admission = Some(Arc::new(Admission::new(limits)));
    serve_state_as_is(state, dir).await
}

#[tokio::test]
async fn a_saturated_server_sheds_the_excess_at_once_and_keeps_answering_health() {
    let app = app_with(AdmissionLimits {
        max_in_flight: 2,
        ..AdmissionLimits::default()
    })
    .await;
    let (cookie, _) = {
        let s = app.session(switchboard_domain::Role::Planner).await;
        (s.cookie, s.csrf)
    };
    // Twelve large staffing plans at once: two are worked on, ten are refused at once.
    let slow = "/api/v1/staffing?calls_per_day=1000000&aht=300&schedule=true";
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (client, url, cookie) = (reqwest::Client::new(), app.url(slow), cookie.clone());
        tasks.push(tokio::spawn(async move {
            let asked = Instant::now();
            let res = client
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            let status = res.status();
            let retry = res.headers().get("retry-after").is_some();
            let body: Value = res.json().await.unwrap();
            (status, retry, body, asked.elapsed())
        }));
    }
    // Health is answered while the server is saturated.
    let res = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut ok = 0;
    let mut shed = 0;
    for t in tasks {
        let (status, retry, body, took) = t.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                shed += 1;
                assert!(retry, "{body}");
                assert_eq!(body["code"], "overloaded", "{body}");
                assert!(took < Duration::from_secs(2), "shed at once: {took:?}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(ok >= 2 && shed >= 1, "ok {ok}, shed {shed}");
    assert_eq!(ok + shed, 12);
}

#[tokio::test]
async fn a_session_sending_too_fast_is_slowed_with_429() {
    let app = app_with(AdmissionLimits {
        session_rate: 1.0,
        session_burst: 5.0,
        ..AdmissionLimits::default()
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (s, b) = app.get("/api/v1/agencies").await;
        statuses.push((s, b["code"].clone()));
    }
    // The logon itself came from the address's budget; the session has five.
    let limited: Vec<_> = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(limited.len(), 3, "{statuses:?}");
    assert!(limited.iter().all(|(_, c)| c == "rate_limited"));
}

#[tokio::test]
async fn a_keyless_partner_flood_is_audited_as_one_entry_a_minute() {
    let app = app_with(AdmissionLimits::default()).await;
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let res = client
            .post(app.url("/api/v1/partner/inquiries"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    app.act_as(Some(switchboard_domain::Role::Auditor));
    let (_, b) = app.get("/api/v1/audit/entries?actor=partner:unknown").await;
    assert_eq!(b["items"].as_array().unwrap().len(), 1, "{b}");
}

#[tokio::test]
async fn requests_without_a_session_are_audited_as_one_entry_a_minute() {
    let app = app_with(AdmissionLimits::default()).await;
    let client = reqwest::Client::new();
    for i in 0..150 {
        let res = client
            .get(app.url(&format!("/api/v1/agencies?limit={}", 1 + i % 9)))
            .header("cookie", format!("sb_session={}", "cd".repeat(32)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    app.act_as(Some(switchboard_domain::Role::Auditor));
    let (_, b) = app.get("/api/v1/audit/entries?actor=session:none").await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{b}");
    assert_eq!(items[0]["action"], "GET /agencies", "{b}");
    assert_eq!(items[0]["outcome"], "refused", "{b}");
}

#[tokio::test]
async fn every_error_the_server_answers_is_in_the_json_shape() {
    let app = app_with(AdmissionLimits::default()).await;
    // A path number that does not parse.
    let (s, b) = app
        .post("/api/v1/acd/calls/not-a-number/hangup", json!({}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["code"].is_string() && b["message"].is_string(), "{b}");
    // A partner body over the limit.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/partner/inquiries"))
        .header("authorization", "Bearer sbk_0000")
        .header("content-type", "application/json")
        .body(vec![b' '; 5 << 20])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert!(status.is_client_error(), "{status}");
    assert!(body["code"].is_string(), "{body}");
}

#[tokio::test]
async fn control_and_bidi_characters_and_huge_text_are_refused_naming_the_field() {
    let app = app_with(AdmissionLimits::default()).await;
    for (name, why) in [
        ("Stonebridge\u{0}Police", "control"),
        ("Stonebridge\u{1b}[31mPolice", "control"),
        ("Stonebridge \u{202e}ecilop", "bidirectional"),
    ] {
        let (s, b) = app
            .post(
                "/api/v1/agencies",
                json!({"ori": "VA1250000", "name": name, "kind": "partner_287g"}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["field"], "name", "{b}");
        assert!(b["message"].as_str().unwrap().contains(why), "{b}");
    }
    let (s, b) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "VA1250000", "name": "x".repeat(20_000), "kind": "partner_287g"}),
        )
        .await;
    assert_eq!(
        (s, &b["field"]),
        (StatusCode::BAD_REQUEST, &json!("name")),
        "{b}"
    );
    // A username that would display as another name never reaches the accounts.
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/session"))
        .json(&json!({"username": "admin\u{202e}10", "password": "x", "totp": "000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, list) = app.get("/api/v1/agencies").await;
    assert_eq!(list["items"], json!([]), "nothing was stored");
}
