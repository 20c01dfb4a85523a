//! Dispositions over HTTP: facts assembled on the server, the gate, the two-person rule, the
//! juvenile-liaison referral, and nothing about a minor's whereabouts in any response.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::{Call, CallState, NewCall, OfficerId, Role};
use switchboard_store::Store;
use switchboard_synth::records::PersonRecords;

use super::{TestApp, assert_error, seed_records, spawn_app_with};

/// The test clock's day.
const TODAY: time::Date = time::macros::date!(2026 - 11 - 21);

fn recent(today: time::Date, d: time::Date) -> bool {
    (today - d).whole_days() <= 180
}

/// A person the rules let through: an adult born abroad with a final order, nothing pending,
/// no other agency's file, every record current.
fn clean_person(seeded: &[PersonRecords]) -> &PersonRecords {
    clean_person_on(seeded, TODAY)
}

/// The same, for records generated as of `today`.
pub(super) fn clean_person_on(seeded: &[PersonRecords], today: time::Date) -> &PersonRecords {
    seeded
        .iter()
        .find(|p| {
            p.identity.len() == 1
                && p.immigration_case.len() == 1
                && p.citizenship.is_empty()
                && p.custody.is_empty()
                && p.criminal_history.is_empty()
                && p.court_order.is_empty()
                && {
                    let i = &p.identity[0];
                    let c = &p.immigration_case[0];
                    i.dob.is_some_and(|d| (today - d).whole_days() > 20 * 366)
                        && i.country_of_birth.as_deref().is_some_and(|b| b != "US")
                        && c.status == "final_order"
                        && c.applications.is_empty()
                        && !c.protected_1367
                        && c.stay_kind.is_none()
                        && !c.appeal_pending
                        && !c.motion_to_reopen_pending
                        && recent(today, i.updated_on)
                        && recent(today, c.updated_on)
                        && c.a_number == i.a_number
                        && c.dob == i.dob
                }
        })
        .expect("a clean person among the generated")
}

async fn federal_call(app: &TestApp, store: &dyn Store) -> String {
    let (s, agency) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "DCICE0000", "name": "Field Office", "kind": "federal_field_office"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{agency}");
    let officer = app
        .officer(agency["id"].as_str().unwrap(), "F1", "+12025550142", None)
        .await;
    let officer: OfficerId = officer["id"].as_str().unwrap().parse().unwrap();
    let mut call = Call::arrive(
        NewCall {
            ani_raw: "+12025550142".into(),
            officer_id: Some(officer),
        },
        time::macros::datetime!(2026-11-21 11:59 UTC),
    );
    call.transition(CallState::Queued, call.arrived_at).unwrap();
    store.insert_call(&call).await.unwrap();
    call.id.to_string()
}

/// The app over a store holding `people` generated people's records, with its index built.
async fn seeded_app(people: u64) -> (TestApp, Vec<PersonRecords>, Arc<dyn Store>) {
    let mut seeded = Vec::new();
    let mut store = None;
    let app = spawn_app_with(|state| {
        let (seeded, store) = (&mut seeded, &mut store);
        async move {
            *seeded = seed_records(&state, people).await;
            *store = Some(state.store.clone());
        }
    })
    .await;
    (app, seeded, store.expect("prepared"))
}

fn inquiry(call: &str, p: &PersonRecords, claims: Value) -> Value {
    let i = &p.identity[0];
    json!({
        "call": call,
        "purpose": super::purpose(),
        "subject": {
            "family_names": [i.family_name],
            "given_names": [i.given_name],
            "date_of_birth": i.dob.unwrap().to_string(),
            "a_number": format!("A{}", i.a_number),
        },
        "chosen": [i.record_id, p.immigration_case[0].record_id],
        "claims": claims,
        "location": "field",
    })
}

#[tokio::test]
async fn confirmation_passes_the_gate_and_two_people_and_minors_go_to_the_liaison_desk() {
    let (app, seeded, store) = seeded_app(3_000).await;
    let person = clean_person(&seeded);
    let call = federal_call(&app, store.as_ref()).await;

    let clean = inquiry(&call, person, json!({}));
    let (s, v) = app
        .post("/api/v1/dispositions/evaluate", clean.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["hits"], json!([]), "{v}");
    assert!(
        v["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("confirm_enforcement_action"))
    );

    // A supervisor records the confirmation; the same person cannot approve it.
    app.act_as(Some(Role::Supervisor));
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": clean, "kind": "confirm_enforcement_action"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "pending_second_review");
    assert_eq!(
        d["author"], "t.supervisor",
        "the acting user is the session's"
    );
    let id = d["id"].as_str().unwrap().to_owned();
    let (s, b) = app
        .post(&format!("/api/v1/dispositions/{id}/approve"), json!({}))
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "two_person_rule", None);
    let (s, b) = app
        .get("/api/v1/dispositions?state=pending_second_review")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"][0]["id"], id.as_str(), "the review queue");
    // A call-taker may not approve at all, nor see another's disposition.
    app.act_as(Some(Role::CallTaker));
    let (s, b) = app
        .post(&format!("/api/v1/dispositions/{id}/approve"), json!({}))
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden", None);
    let (s, b) = app.get(&format!("/api/v1/dispositions/{id}")).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let (_, b) = app.get("/api/v1/dispositions").await;
    assert_eq!(b["items"], json!([]), "a call-taker lists only their own");
    // A second person approves.
    app.act_as(Some(Role::LegalReviewer));
    let (s, b) = app
        .post(&format!("/api/v1/dispositions/{id}/approve"), json!({}))
        .await;
    app.act_as(None);
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["state"], "final");
    assert_eq!(b["history"].as_array().unwrap().len(), 2);
    assert!(b["disclosed"].as_str().unwrap().starts_with("Confirmed"));

    // The same subject claiming US citizenship: confirmation is impossible, with the reason.
    let citizen = inquiry(&call, person, json!({"us_citizen": true}));
    let (s, b) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": citizen, "kind": "confirm_enforcement_action"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "blocked_by_rules", None);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("citizenship-indicator"),
        "{b}"
    );

    // Claimed minority: only the referral, which opens a liaison case; nothing anywhere says
    // where anyone is.
    let minor = inquiry(&call, person, json!({"minor": true}));
    let (_, v) = app
        .post("/api/v1/dispositions/evaluate", minor.clone())
        .await;
    assert_eq!(v["allowed"], json!(["refer_juvenile_liaison"]), "{v}");
    let (s, b) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": minor, "kind": "status_information_only"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "blocked_by_rules", None);
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": minor, "kind": "refer_juvenile_liaison"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "final");
    assert!(
        d["disclosed"]
            .as_str()
            .unwrap()
            .contains("juvenile-liaison")
    );
    let case = d["liaison_case"].as_str().unwrap().to_owned();
    let (s, c) = app.get(&format!("/api/v1/liaison-cases/{case}")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    let (s, c2) = app
        .patch(
            &format!("/api/v1/liaison-cases/{case}"),
            json!({"version": 1, "sponsor_screening": "in_progress", "hhs_notified": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c2}");
    assert_eq!(c2["case"]["sponsor_screening"], "in_progress");
    let (s, b) = app
        .patch(
            &format!("/api/v1/liaison-cases/{case}"),
            json!({"version": 1}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "version_conflict", None);
    // No response about the minor's matter carries a location field or value.
    let (_, all) = app.get("/api/v1/dispositions").await;
    let (_, cases) = app.get("/api/v1/liaison-cases").await;
    for text in [
        d.to_string(),
        c.to_string(),
        c2.to_string(),
        all.to_string(),
        cases.to_string(),
    ] {
        for field in [
            "facility",
            "address",
            "place_of_birth",
            "whereabouts",
            "location\":",
        ] {
            assert!(!text.contains(field), "{field} in {text}");
        }
    }
}

#[tokio::test]
async fn inquiries_are_checked_before_the_rules_run() {
    let (app, seeded, store) = seeded_app(500).await;
    let person = clean_or_first(&seeded);
    let call = federal_call(&app, store.as_ref()).await;
    // A record that is not a candidate for the subject.
    let other = seeded
        .iter()
        .find(|p| {
            !p.identity.is_empty() && p.identity[0].family_name != person.identity[0].family_name
        })
        .unwrap();
    let mut q = inquiry(&call, clean_or_first(&seeded), json!({}));
    q["chosen"] = json!([other.identity[0].record_id]);
    let (s, b) = app.post("/api/v1/dispositions/evaluate", q).await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("chosen[0]"),
    );
    let mut q = inquiry(&call, clean_or_first(&seeded), json!({}));
    q["call"] = json!("01900000-0000-7000-8000-000000000000");
    let (s, _) = app.post("/api/v1/dispositions/evaluate", q).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // No purpose, no query: refused, naming it.
    let mut q = inquiry(&call, clean_or_first(&seeded), json!({}));
    q.as_object_mut().unwrap().remove("purpose");
    let (s, b) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": q, "kind": "decline"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["message"].as_str().unwrap().contains("purpose"), "{b}");
    let mut q = inquiry(&call, clean_or_first(&seeded), json!({}));
    q["purpose"]["reason"] = json!("");
    let (s, b) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("purpose.reason"),
    );
    let q = inquiry(&call, clean_or_first(&seeded), json!({}));
    let (s, b) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": q, "kind": "maybe"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = app.get("/api/v1/dispositions?state=lost").await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("state"),
    );
    let (s, _) = app
        .get("/api/v1/dispositions/01900000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

fn clean_or_first(seeded: &[PersonRecords]) -> &PersonRecords {
    seeded
        .iter()
        .find(|p| {
            p.identity.len() == 1 && p.immigration_case.len() == 1 && p.identity[0].dob.is_some()
        })
        .unwrap()
}

#[tokio::test]
async fn protected_details_reach_only_legal_reviewers_and_every_access_is_accounted_for() {
    let (app, seeded, store) = seeded_app(3_000).await;
    let call = federal_call(&app, store.as_ref()).await;
    let person = seeded
        .iter()
        .find(|p| {
            p.identity.len() == 1
                && p.identity[0].dob.is_some()
                && p.immigration_case.len() == 1
                && p.immigration_case[0].protected_1367
                && p.immigration_case[0].a_number == p.identity[0].a_number
        })
        .expect("a protected person among the generated");
    let q = inquiry(&call, person, json!({}));
    let reasons = |v: &Value| -> Vec<String> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["rule"] == "protected-application")
            .flat_map(|h| h["reasons"].as_array().unwrap().clone())
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    let (s, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let seen = reasons(&v);
    assert!(!seen.is_empty(), "the protection still blocks: {v}");
    assert!(
        seen.iter()
            .all(|r| !r.contains("1367") && r.contains("legal reviewers only")),
        "a call-taker sees that, not what: {seen:?}"
    );
    assert!(
        !v["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("confirm_enforcement_action"))
    );
    app.act_as(Some(Role::LegalReviewer));
    let (_, v) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": super::purpose(), "subject": q["subject"]}),
        )
        .await;
    assert!(v["candidates"].is_array(), "{v}");
    app.act_as(Some(Role::Supervisor));
    let (_, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    let seen = reasons(&v);
    assert!(
        !seen.is_empty() && seen.iter().all(|r| !r.contains("1367")),
        "{v}"
    );
    // Legal reviewers may not evaluate (no disposition permission) but read the disposition
    // with its full reasons.
    app.act_as(None);
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": q, "kind": "refer_legal_review"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let seen = reasons(&d);
    assert!(
        !seen.is_empty() && seen.iter().all(|r| !r.contains("1367")),
        "{d}"
    );
    let id = d["id"].as_str().unwrap();
    app.act_as(Some(Role::LegalReviewer));
    let (s, full) = app.get(&format!("/api/v1/dispositions/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{full}");
    assert!(reasons(&full).iter().any(|r| r.contains("1367")), "{full}");

    // The auditor accounts for the subject: every evaluation, the lookup and the disposition,
    // who made them, why, for which agency, and what the caller was told.
    app.act_as(Some(Role::Auditor));
    let (_, created) = app
        .get("/api/v1/audit/entries?action=disposition.create")
        .await;
    let entry = &created["items"][0];
    assert_eq!(entry["purpose"]["case_number"], "24-000123", "{entry}");
    assert_eq!(entry["caller"]["ori"], "DCICE0000", "{entry}");
    assert!(
        entry["rule_hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["rule"] == "protected-application")
    );
    let key = entry["query"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .find(|k| k.starts_with("a_number:"))
        .unwrap()
        .to_owned();
    let (s, acc) = app
        .get(&format!(
            "/api/v1/audit/accounting?subject={}",
            key.replace(':', "%3A")
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{acc}");
    let actions: Vec<&str> = acc["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "disposition.evaluate",
            "lookup",
            "disposition.evaluate",
            "disposition.create"
        ],
        "{acc}"
    );
    assert_eq!(acc["by_agency"]["DCICE0000"], 3, "{acc}");
    let disclosures = acc["disclosures"].as_array().unwrap();
    assert_eq!(disclosures.len(), 1, "{acc}");
    assert!(disclosures[0]["to"].as_str().unwrap().contains("DCICE0000"));
    // The record itself is accounted for too.
    let record = person.immigration_case[0].record_id.clone();
    let (_, acc) = app
        .get(&format!(
            "/api/v1/audit/accounting?subject=record%3A{record}"
        ))
        .await;
    assert!(acc["accesses"].as_array().unwrap().len() >= 3, "{acc}");
    // Queries without a case number are the first anomaly the review lists.
    app.act_as(Some(Role::CallTaker));
    let mut bare = super::purpose();
    bare.as_object_mut().unwrap().remove("case_number");
    let (s, _) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": bare, "subject": q["subject"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.act_as(Some(Role::Auditor));
    let (_, report) = app.get("/api/v1/audit/anomalies").await;
    assert_eq!(
        report["queries_without_case_number"][0]["user"], "t.call_taker",
        "{report}"
    );
}
