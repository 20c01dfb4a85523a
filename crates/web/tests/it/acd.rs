//! The call distributor over HTTP: injected calls, agent actions, live status, statistics,
//! clear errors, and the server-sent event stream.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_acd::{AgentConfig, AgentId, Config, QueueConfig, QueueId, SkillId};
use switchboard_acd_host::{AcdHost, system_clock};
use switchboard_store_sqlite::SqliteStore;
use switchboard_web::AppState;

use super::{TestApp, assert_error, serve_state, spawn_app};

/// Two call-takers on one desk, worked by nobody in particular.
pub(super) fn config() -> Config {
    Config {
        queues: vec![QueueConfig::new(QueueId(1), "inquiry desk", SkillId(1))],
        agents: (1..=2)
            .map(|i| AgentConfig {
                id: AgentId(i),
                name: format!("call-taker {i}"),
                skills: vec![(SkillId(1), 5)],
                after_call_limit: 0,
                user: None,
            })
            .collect(),
        ..Config::default()
    }
}

async fn spawn() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    let host = AcdHost::open(store.clone(), config(), system_clock())
        .await
        .unwrap();
    serve_state(AppState::new(store).with_acd(host), dir).await
}

fn commands(body: &Value) -> Vec<Value> {
    body["commands"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn without_a_distributor_the_routes_say_so() {
    let app = spawn_app().await;
    let (s, b) = app.get("/api/v1/acd/queues").await;
    assert_error(
        s,
        &b,
        StatusCode::SERVICE_UNAVAILABLE,
        "acd_not_running",
        None,
    );
}

#[tokio::test]
async fn an_injected_call_is_offered_answered_ended_and_counted() {
    let app = spawn().await;
    let (s, b) = app
        .post("/api/v1/acd/agents/1/state", json!({"state": "log_in"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(commands(&b)[0]["command"], "agent_status");
    let (s, b) = app
        .post(
            "/api/v1/acd/calls",
            json!({"queue": 1, "ani": "+12025550123", "priority": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let call = b["call"].as_u64().unwrap();
    let record = b["record"]["id"].as_str().unwrap().to_owned();
    assert!(
        commands(&b)
            .iter()
            .any(|c| c["command"] == "offer_call" && c["agent"] == 1 && c["call"] == call),
        "{b}"
    );
    let (_, calls) = app.get("/api/v1/acd/calls").await;
    assert_eq!(calls[0]["call"], call);
    assert_eq!(calls[0]["phase"]["phase"], "ringing");
    assert_eq!(calls[0]["record"], record.as_str());
    let (s, b) = app
        .post("/api/v1/acd/agents/1/answer", json!({"call": call}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, rec) = app.get(&format!("/api/v1/calls/{record}")).await;
    assert_eq!(rec["state"], "connected", "the call record follows the ACD");
    let (_, agents) = app.get("/api/v1/acd/agents").await;
    assert_eq!(agents[0]["state"]["state"], "on_call");
    let (s, b) = app
        .post(&format!("/api/v1/acd/calls/{call}/end"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        commands(&b)
            .iter()
            .any(|c| c["command"] == "close" && c["reason"] == "completed")
    );
    let (_, rec) = app.get(&format!("/api/v1/calls/{record}")).await;
    assert_eq!(rec["state"], "ended");
    let (_, queues) = app.get("/api/v1/acd/queues").await;
    let today = &queues[0]["today"];
    assert_eq!(today["answered"], 1, "{queues}");
    assert_eq!(today["handled"], 1, "{queues}");
    assert_eq!(queues[0]["today_measures"]["service_level"], 1.0);
    assert_eq!(queues[0]["waiting"], 0);
    // A second call waits (agent 2 is logged out; agent 1 is free again and takes it).
    let (_, b) = app
        .post("/api/v1/acd/calls", json!({"queue": 1, "ani": "anonymous"}))
        .await;
    let second = b["call"].as_u64().unwrap();
    assert_eq!(second, call + 1);
    // The caller hangs up while it rings: abandoned.
    let (_, b) = app
        .post(&format!("/api/v1/acd/calls/{second}/hangup"), json!({}))
        .await;
    assert!(
        commands(&b).iter().any(|c| c["reason"] == "abandoned"),
        "{b}"
    );
    let (s, rows) = app.get("/api/v1/acd/intervals?queue=1").await;
    assert_eq!(s, StatusCode::OK, "{rows}");
    let total: u64 = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["counters"]["entered"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 2);
    let (s, _) = app.get("/api/v1/acd/intervals?day=2026-11-20").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let app = spawn().await;
    let (s, b) = app
        .post("/api/v1/acd/calls", json!({"queue": 7, "ani": "x"}))
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "unknown_queue", Some("queue"));
    let (s, b) = app
        .post(
            "/api/v1/acd/calls",
            json!({"queue": 1, "ani": "x", "priority": 10}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("priority"),
    );
    let (s, b) = app
        .post(
            "/api/v1/acd/calls",
            json!({"queue": 1, "ani": "x", "colour": "red"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = app
        .post("/api/v1/acd/agents/1/answer", json!({"call": 1}))
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "not_offered", None);
    let (s, b) = app
        .post("/api/v1/acd/agents/9/state", json!({"state": "available"}))
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "unknown_agent", None);
    let (s, b) = app
        .post("/api/v1/acd/agents/1/state", json!({"state": "asleep"}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("state"),
    );
    let (s, b) = app
        .post("/api/v1/acd/agents/1/state", json!({"state": "break"}))
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("reason"),
    );
    let long = "x".repeat(65);
    let (s, b) = app
        .post(
            "/api/v1/acd/agents/1/state",
            json!({"state": "break", "reason": long}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("reason"),
    );
    let (s, b) = app.post("/api/v1/acd/calls/42/hangup", json!({})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "unknown_call", None);
    let (s, b) = app
        .post_raw("/api/v1/acd/calls", "application/json", "{\"queue\": ")
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = app.get("/api/v1/acd/intervals?day=yesterday").await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_field", Some("day"));
    // Nothing above reached the engine.
    let (_, calls) = app.get("/api/v1/acd/calls").await;
    assert_eq!(calls, json!([]));
    let (_, agents) = app.get("/api/v1/acd/agents").await;
    assert_eq!(agents[0]["state"]["state"], "logged_out");
}

#[tokio::test]
async fn the_event_stream_carries_queue_status_and_every_entry() {
    let app = spawn().await;
    let mut res = app
        .request(reqwest::Method::GET, "/api/v1/acd/events")
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let (_, b) = app
        .post(
            "/api/v1/acd/calls",
            json!({"queue": 1, "ani": "+12025550123"}),
        )
        .await;
    let call = b["call"].as_u64().unwrap();
    let mut text = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = res.chunk().await.unwrap() {
            text.push_str(&String::from_utf8_lossy(&chunk));
            if text.contains("event: entry") && text.contains("\"call_arrived\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "{text}");
    assert!(text.contains("event: queues"), "{text}");
    assert!(text.contains(&format!("\"call\":{call}")), "{text}");
}

#[tokio::test]
async fn staffing_answers_in_json_and_csv_with_clear_errors() {
    let app = spawn_app().await;
    let (s, b) = app
        .get("/api/v1/staffing?calls_per_day=6500&aht=300&shrinkage=0.3&schedule=true")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rows = b["plan"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 48);
    assert_eq!(rows[0]["required"], 28);
    assert_eq!(rows[0]["scheduled"], 40);
    assert!((rows[0]["performance"]["service_level"].as_f64().unwrap() - 0.861383).abs() < 1e-6);
    let schedule = &b["schedule"];
    assert!(schedule["cost"].as_f64().unwrap() >= schedule["lower_bound"].as_f64().unwrap());
    assert!(
        schedule["coverage"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_u64().unwrap() >= 40)
    );
    let res = app
        .request(
            reqwest::Method::GET,
            "/api/v1/staffing?calls_per_day=180&aht=600&hours=08:00-17:00&patience=180&format=csv",
        )
        .await
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 49);
    assert!(
        csv.lines().nth(1).unwrap().starts_with("00:00,false,0.000"),
        "{csv}"
    );
    for (query, field) in [
        ("", "calls_per_day"),
        ("calls_per_day=0", ""),
        ("calls_per_day=100&service_level=1.2", ""),
        ("calls_per_day=100&shrinkage=1", "shrinkage"),
        ("calls_per_day=100&interval=7", "interval"),
        ("calls_per_day=100&hours=9-5", "hours"),
        ("calls_per_day=100&curve=wavy", "curve"),
        ("calls_per_day=100&format=xml", "format"),
        ("calls_per_day=100&from_history=true", "from_history"),
        ("calls_per_day=100&abandonment=0.1", "patience"),
        // Bounds, refused before any work is done.
        ("calls_per_day=1e12", "calls_per_day"),
        ("calls_per_day=1000001", "calls_per_day"),
        ("calls_per_day=100&aht=1e9", "aht"),
        ("calls_per_day=100&patience=1e9", "patience"),
        ("calls_per_day=1000000&aht=14400", "calls_per_day"),
    ] {
        let asked = std::time::Instant::now();
        let (s, b) = app.get(&format!("/api/v1/staffing?{query}")).await;
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(2),
            "{query}: {:?}",
            asked.elapsed()
        );
        assert_eq!(s, StatusCode::BAD_REQUEST, "{query}: {b}");
        if !field.is_empty() {
            assert_eq!(b["field"], field, "{query}: {b}");
        }
    }
    // The largest plan the bounds allow is answered, in bounded time.
    let asked = std::time::Instant::now();
    let (s, b) = app
        .get("/api/v1/staffing?calls_per_day=1000000&aht=300&schedule=true")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        asked.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        asked.elapsed()
    );
    // History: none stored yet.
    let (s, b) = app.get("/api/v1/staffing?from_history=true").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b["message"].as_str().unwrap().contains("no call history"),
        "{b}"
    );
}

#[tokio::test]
async fn staffing_forecasts_from_stored_calls() {
    use switchboard_domain::{Call, CallState, NewCall};
    use switchboard_store::Store;
    use time::macros::datetime;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).await.unwrap());
    // Three weeks of calls: 60 a day on weekdays, 30 on weekends, between 09:00 and 17:00 UTC,
    // each talked for five minutes.
    let start = datetime!(2026-10-05 00:00 UTC); // a Monday
    let mut stored = 0;
    for day in 0..21i64 {
        let per_day = if day % 7 < 5 { 60 } else { 30 };
        for k in 0..per_day {
            let arrived = start
                + time::Duration::days(day)
                + time::Duration::hours(9)
                + time::Duration::seconds(k * 8 * 3600 / per_day);
            let mut c = Call::arrive(
                NewCall {
                    ani_raw: "+12025550123".into(),
                    officer_id: None,
                },
                arrived,
            );
            c.transition(CallState::Queued, arrived).unwrap();
            c.transition(CallState::Offered, arrived).unwrap();
            c.transition(CallState::Connected, arrived + time::Duration::seconds(10))
                .unwrap();
            c.transition(CallState::Ended, arrived + time::Duration::seconds(310))
                .unwrap();
            store.insert_call(&c).await.unwrap();
            stored += 1;
        }
    }
    assert_eq!(stored, 3 * (5 * 60 + 2 * 30));
    let app = serve_state(AppState::new(store), dir).await;
    // Monday after the history.
    let (s, b) = app
        .get("/api/v1/staffing?from_history=true&day=2026-10-26&shrinkage=0")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let rows = b["plan"]["rows"].as_array().unwrap();
    let calls: f64 = rows.iter().map(|r| r["calls"].as_f64().unwrap()).sum();
    assert!((calls - 60.0).abs() < 6.0, "a Monday forecast of {calls}");
    let night = &rows[4]; // 02:00
    let day = &rows[24]; // 12:00
    assert!(night["calls"].as_f64().unwrap() < 0.5, "{night}");
    assert!(day["required"].as_u64().unwrap() >= 1, "{day}");
    assert!(
        (day["aht_seconds"].as_f64().unwrap() - 300.0).abs() < 1.0,
        "{day}"
    );
    let err = &b["forecast_error"];
    assert!(err["daily_wape"].as_f64().unwrap() < 0.1, "{err}");
}
