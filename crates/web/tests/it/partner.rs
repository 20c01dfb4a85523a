//! The partner channel over HTTP: keys (missing, wrong, revoked), the named officer, the
//! agreement's limits, the request budget, the IAQ text endpoint, and the whole path: an
//! inquiry sent ahead, the officer's call popping with the precomputed cross-check, the
//! disposition answering the partner — with nothing about records in what the partner reads.

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_synth::records::PersonRecords;
use switchboard_web::AppState;

use super::{TestApp, serve_state};

/// The server with a call distributor (call-taker t.call_taker is agent 1), records of a few
/// thousand people as of today, and a budget of `per_minute` partner requests per agency.
async fn spawn(per_minute: u32) -> (TestApp, Vec<PersonRecords>) {
    let (dir, store, host) = super::store_with_acd(super::desk_config("t.call_taker")).await;
    let state = AppState::new(store)
        .with_acd(host)
        .with_partner_rate(per_minute);
    let today = time::OffsetDateTime::now_utc().date();
    let seeded = super::seed_records_on(&state, 2_000, today).await;
    (serve_state(state, dir).await, seeded)
}

/// A partner agency with a key, and its officer: a federal field office (no agreement needed)
/// or a 287(g) jail-enforcement partner.
struct Agency {
    id: String,
    ori: String,
    key: String,
    key_id: String,
    badge: String,
    phone: String,
}

async fn federal(app: &TestApp) -> Agency {
    let (s, a) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "DCICE0000", "name": "Field Office", "kind": "federal_field_office"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    with_key(
        app,
        a["id"].as_str().unwrap(),
        "DCICE0000",
        "F1",
        "+12025550142",
    )
    .await
}

async fn jail_partner(app: &TestApp, office: &str) -> Agency {
    let (s, a) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "TX2270000", "name": "County Jail", "kind": "partner_287g"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    let id = a["id"].as_str().unwrap();
    let (s, b) = app
        .post(
            "/api/v1/agreements",
            json!({"agency_id": id, "model": "jail_enforcement", "signed_on": "2026-01-01",
                   "expires_on": "2027-12-31", "supervising_office_id": office, "max_certified_officers": 5}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    with_key(app, id, "TX2270000", "J7", "+15125550177").await
}

async fn with_key(app: &TestApp, agency: &str, ori: &str, badge: &str, phone: &str) -> Agency {
    let (s, o) = app
        .post(
            "/api/v1/officers",
            json!({"agency_id": agency, "given_name": "Pat", "family_name": "Officer", "badge": badge,
                   "phones": [phone], "certified_on": "2026-01-01", "certification_expires_on": "2027-12-31"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{o}");
    let (s, k) = app
        .post(
            &format!("/api/v1/agencies/{agency}/partner-keys"),
            json!({"label": "booking desk"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    Agency {
        id: agency.to_owned(),
        ori: ori.to_owned(),
        key: k["secret"].as_str().unwrap().to_owned(),
        key_id: k["id"].as_str().unwrap().to_owned(),
        badge: badge.to_owned(),
        phone: phone.to_owned(),
    }
}

fn subject(p: &PersonRecords, custody: bool) -> Value {
    let i = &p.identity[0];
    json!({
        "family_names": [i.family_name],
        "given_names": [i.given_name],
        "date_of_birth": i.dob.map(|d| d.to_string()),
        "a_number": format!("A{}", i.a_number),
        "in_custody": custody,
    })
}

fn purpose() -> Value {
    json!({"code": "C", "reason": "booking: identity check", "case_number": "24-000123"})
}

/// A partner request: `key` and `badge` as given (`None`: header left out).
async fn partner(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    badge: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = reqwest::Client::new().request(method, app.url(path));
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some(b) = badge {
        req = req.header("x-officer-badge", b);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (
        res.status(),
        res.headers().clone(),
        res.text().await.unwrap(),
    )
}

fn code_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn keys_are_required_named_officers_and_agreements_limit_what_is_asked() {
    let (app, seeded) = spawn(100).await;
    let fed = federal(&app).await;
    let body = json!({"purpose": purpose(), "subject": subject(&seeded[0], false)});
    let send = async |key: Option<&str>, badge: Option<&str>, body: &Value| {
        partner(
            &app,
            reqwest::Method::POST,
            "/api/v1/partner/inquiries",
            key,
            badge,
            Some(body.clone()),
        )
        .await
    };

    let (s, _, b) = send(None, Some(&fed.badge), &body).await;
    assert_eq!(
        (s, code_of(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "partner_key_missing"),
        "{b}"
    );
    // Who is asking is checked before the body: an unknown caller learns nothing of the schema.
    let (s, _, b) = send(None, Some(&fed.badge), &json!({"bogus": 1})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    let (s, _, b) = send(
        Some("sbk_000000000000000000000000000000000000000000000000"),
        Some(&fed.badge),
        &body,
    )
    .await;
    assert_eq!(
        (s, code_of(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "partner_key_invalid"),
        "{b}"
    );
    let (s, _, b) = send(Some(&fed.key), None, &body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, _, b) = send(Some(&fed.key), Some("NOBODY"), &body).await;
    assert_eq!(
        (s, code_of(&b).as_str()),
        (StatusCode::FORBIDDEN, "officer_not_of_agency"),
        "{b}"
    );
    let (s, _, b) = send(Some(&fed.key), Some(&fed.badge), &body).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let accepted: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(accepted["status"], "checked");
    assert!(accepted["reference"].as_str().unwrap().starts_with("IAQ-"));

    // Keys: listed without their secret; a call-taker may not issue one; a revoked key is
    // refused from then on.
    let (s, keys) = app
        .get(&format!("/api/v1/agencies/{}/partner-keys", fed.id))
        .await;
    assert_eq!(s, StatusCode::OK, "{keys}");
    assert!(
        !keys.to_string().contains(&fed.key),
        "the secret is never shown again"
    );
    app.act_as(Some(Role::CallTaker));
    let (s, _) = app
        .post(
            &format!("/api/v1/agencies/{}/partner-keys", fed.id),
            json!({"label": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.act_as(None);
    let (s, _) = app
        .delete(&format!("/api/v1/partner-keys/{}", fed.key_id))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, b) = send(Some(&fed.key), Some(&fed.badge), &body).await;
    assert_eq!(
        (s, code_of(&b).as_str()),
        (StatusCode::UNAUTHORIZED, "partner_key_revoked"),
        "{b}"
    );

    // A jail-enforcement partner asks only about people in its custody.
    let jail = jail_partner(&app, &fed.id).await;
    let (s, _, b) = send(Some(&jail.key), Some(&jail.badge), &body).await;
    assert_eq!(
        (s, code_of(&b).as_str()),
        (StatusCode::FORBIDDEN, "outside_agreement"),
        "{b}"
    );
    let custody = json!({"purpose": purpose(), "subject": subject(&seeded[0], true)});
    let (s, _, b) = send(Some(&jail.key), Some(&jail.badge), &custody).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");

    // Every partner request is audited, refused ones too; refusals without a known key are
    // audited one entry per address per minute (three here: one entry).
    let audit = app.store.audit_after(0, 10_000).await.unwrap();
    let partner_entries: Vec<_> = audit
        .iter()
        .filter(|e| e.action == "partner.inquiry")
        .collect();
    assert_eq!(
        partner_entries.len(),
        7,
        "{:?}",
        partner_entries.iter().map(|e| &e.entry).collect::<Vec<_>>()
    );
    assert_eq!(
        partner_entries
            .iter()
            .filter(|e| e.entry.contains("\"refused\""))
            .count(),
        5
    );
    assert!(
        partner_entries
            .iter()
            .any(|e| e.entry.contains("partner:TX2270000/J7")
                && e.entry.contains("booking: identity check")),
        "the officer and the purpose are on record"
    );
}

#[tokio::test]
async fn each_agency_has_a_budget_and_hears_429_when_it_is_spent() {
    let (app, seeded) = spawn(3).await;
    let fed = federal(&app).await;
    let body = json!({"purpose": purpose(), "subject": subject(&seeded[1], false)});
    for _ in 0..3 {
        let (s, _, b) = partner(
            &app,
            reqwest::Method::POST,
            "/api/v1/partner/inquiries",
            Some(&fed.key),
            Some(&fed.badge),
            Some(body.clone()),
        )
        .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    }
    let (s, h, b) = partner(
        &app,
        reqwest::Method::POST,
        "/api/v1/partner/inquiries",
        Some(&fed.key),
        Some(&fed.badge),
        Some(body),
    )
    .await;
    assert_eq!(
        (s, code_of(&b).as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        "{b}"
    );
    let wait: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
}

#[tokio::test]
async fn the_iaq_text_is_acknowledged_or_refused_field_by_field() {
    let (app, seeded) = spawn(100).await;
    let fed = federal(&app).await;
    let i = &seeded[2].identity[0];
    let dob = i
        .dob
        .map(|d| format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day()))
        .unwrap_or_else(|| "19800101".into());
    let message = format!(
        "IAQ.{}.AX.\nPUR/C.ATN/SA K LEE.PHN/2025550142.NAM/{},{}.DOB/{dob}.SEX/U.POB/MX.CUS/N.OFF/5404.ARN/A{}.",
        fed.ori,
        i.family_name.to_ascii_uppercase().replace(
            |c: char| !c.is_ascii_alphabetic() && c != ' ' && c != '-',
            ""
        ),
        i.given_name
            .to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphabetic() && c != ' ', ""),
        i.a_number
    );
    let send = async |text: String| {
        let res = reqwest::Client::new()
            .post(app.url("/api/v1/partner/iaq"))
            .header("authorization", format!("Bearer {}", fed.key))
            .header("x-officer-badge", &fed.badge)
            .header("content-type", "text/plain")
            .body(text)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    };
    let (s, b) = send(message.clone()).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert!(
        b.starts_with("ACK.DCICE0000.AX.\nREF/IAQ-") && b.contains("STS/CHECKED."),
        "{b}"
    );
    let reference = b
        .split("REF/")
        .nth(1)
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let (s, _, iar) = partner(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/partner/inquiries/{reference}/iar"),
        Some(&fed.key),
        Some(&fed.badge),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        iar.starts_with(&format!("IAR.DCICE0000.AX.\nREF/{reference}.STS/CHECKED.")),
        "{iar}"
    );

    let (s, b) = send(
        message
            .replace("DOB/", "DOB/1990")
            .replace("SEX/U", "SEX/Q"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b.contains("REJ/DOB/bad_date") && b.contains("REJ/SEX/bad_code"),
        "{b}"
    );
    let (s, b) = send(message.replace("DCICE0000", "TX2270000")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(b.contains("ori_mismatch"), "{b}");
}

#[tokio::test]
async fn an_inquiry_sent_ahead_pops_with_the_call_and_the_disposition_answers_it() {
    let (app, seeded) = spawn(100).await;
    let fed = federal(&app).await;
    let person =
        super::dispositions::clean_person_on(&seeded, time::OffsetDateTime::now_utc().date());
    let body = json!({"purpose": purpose(), "subject": subject(person, false)});
    let (s, _, b) = partner(
        &app,
        reqwest::Method::POST,
        "/api/v1/partner/inquiries",
        Some(&fed.key),
        Some(&fed.badge),
        Some(body),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let reference = serde_json::from_str::<Value>(&b).unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();

    // The officer calls; the call-taker answers; the desk shows the inquiry and its
    // candidates, the precomputed cross-check.
    app.act_as(Some(Role::CallTaker));
    for state in ["log_in", "available"] {
        let (s, b) = app
            .post("/api/v1/acd/agents/1/state", json!({"state": state}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    app.act_as(None);
    let (s, placed) = app
        .post("/api/v1/acd/calls", json!({"queue": 1, "ani": fed.phone}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
    let call = placed["record"]["id"].as_str().unwrap().to_owned();
    app.act_as(Some(Role::CallTaker));
    let (s, b) = app
        .post(
            "/api/v1/acd/agents/1/answer",
            json!({"call": placed["call"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let ct = app.session(Role::CallTaker).await;
    let html = reqwest::Client::new()
        .get(app.url("/desk"))
        .header("cookie", &ct.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("data-testid=\"sent-ahead\"") && html.contains(&reference),
        "{html}"
    );
    let top = &person.identity[0];
    assert!(
        html.contains(&format!("{}, {}", top.family_name, top.given_name)),
        "the top candidate is shown: {html}"
    );

    // By the reference the officer reads out, too.
    let by_ref = |r: &str| {
        reqwest::Client::new()
            .post(app.url("/desk/ahead"))
            .header("cookie", &ct.cookie)
            .header("x-csrf-token", &ct.csrf)
            .json(&json!({"reference": r}))
            .send()
    };
    let res = by_ref(&reference.to_ascii_lowercase()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains(&reference));
    assert_eq!(
        by_ref("IAQ-NOSUCHREF").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // A confirmation waiting for a second person is no answer yet; the final disposition
    // recorded on the call is.
    let inquiry = json!({
        "call": call, "purpose": purpose(), "subject": subject(person, false),
        "chosen": [top.record_id, person.immigration_case[0].record_id],
        "location": "field", "partner_reference": reference,
    });
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": inquiry, "kind": "confirm_enforcement_action"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "pending_second_review", "{d}");
    let (_, _, b) = partner(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/partner/inquiries/{reference}"),
        Some(&fed.key),
        Some(&fed.badge),
        None,
    )
    .await;
    let pending: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(pending["status"], "checked", "{pending}");
    assert!(pending["response"].is_null(), "{pending}");
    let inquiry = json!({
        "call": call, "purpose": purpose(), "subject": subject(person, false),
        "chosen": [top.record_id, person.immigration_case[0].record_id],
        "location": "field", "partner_reference": reference,
    });
    let inquiry_again = inquiry.clone();
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": inquiry, "kind": "unable_to_confirm"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    app.act_as(None);
    let (s, _, b) = partner(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/partner/inquiries/{reference}"),
        Some(&fed.key),
        Some(&fed.badge),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let status: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(status["status"], "answered", "{status}");
    assert!(
        status["response"]
            .as_str()
            .unwrap()
            .contains("unable to confirm"),
        "{status}"
    );
    assert!(
        status["iar"]
            .as_str()
            .unwrap()
            .contains("RSP/The center is unable to confirm"),
        "{status}"
    );
    // Nothing about any record reaches the partner.
    for secret in [
        top.record_id.as_str(),
        person.immigration_case[0].record_id.as_str(),
        "candidates",
        "probability",
    ] {
        assert!(!b.contains(secret), "{secret} in {b}");
    }
    // It is answered once: a further disposition cannot answer it again.
    app.act_as(Some(Role::CallTaker));
    let (s, b) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": inquiry_again, "kind": "no_record_found"}),
        )
        .await;
    app.act_as(None);
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "inquiry.partner_reference", "{b}");
    // The agency can list its inquiries to find a reference again; another's are not there.
    let (s, _, b) = partner(
        &app,
        reqwest::Method::GET,
        "/api/v1/partner/inquiries",
        Some(&fed.key),
        Some(&fed.badge),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let listed: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        listed["items"][0]["reference"],
        reference.as_str(),
        "{listed}"
    );
    assert!(!b.contains("record_id") && !b.contains("candidates"), "{b}");
    // Another agency's key does not find it.
    let other = jail_partner(&app, &fed.id).await;
    let (s, _, _) = partner(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/partner/inquiries/{reference}"),
        Some(&other.key),
        Some(&other.badge),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
