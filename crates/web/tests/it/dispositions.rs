//! Dispositions over HTTP: facts assembled on the server, the gate, the two-person rule, the
//! juvenile-liaison referral, and nothing about a minor's whereabouts in any response.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchboard_domain::Role;
use switchboard_domain::records::SourceRecord;
use switchboard_store::Store;
use switchboard_synth::records::PersonRecords;
use switchboard_web::AppState;

use super::{TestApp, assert_error, seed_records, serve_state};

/// The test clock's day.
const TODAY: time::Date = time::macros::date!(2026 - 11 - 21);

fn recent(today: time::Date, d: time::Date) -> bool {
    (today - d).whole_days() <= 180
}

/// A person the rules let through: an adult born abroad with a final order, nothing pending,
/// no other agency's file, every record current.
pub(super) fn clean_person(seeded: &[PersonRecords]) -> &PersonRecords {
    clean_person_on(seeded, TODAY)
}

/// The same, for records generated as of `today`.
pub(super) fn clean_person_on(seeded: &[PersonRecords], today: time::Date) -> &PersonRecords {
    clean_person_where(seeded, today, |_| true)
}

/// The first clean person (as above) for whom `also` holds.
fn clean_person_where(
    seeded: &[PersonRecords],
    today: time::Date,
    also: impl Fn(&PersonRecords) -> bool,
) -> &PersonRecords {
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
                && also(p)
        })
        .expect("a clean person among the generated")
}

/// The desk with two minutes of after-call work (dispositions may follow the call) and a
/// second agent who belongs to another user.
pub(super) fn desk() -> switchboard_acd::Config {
    let mut c = super::desk_config("t.call_taker");
    c.agents[0].after_call_limit = 120_000;
    let mut other = c.agents[0].clone();
    other.id = switchboard_acd::AgentId(2);
    other.name = "call-taker 2".to_owned();
    other.user = Some("someone.else".to_owned());
    c.agents.push(other);
    c
}

/// A federal field office's officer's call, placed through the call distributor and answered
/// by the call-taker (agent 1); the call record's id.
pub(super) async fn federal_call(app: &TestApp, _store: &dyn Store) -> String {
    let (s, agency) = app
        .post(
            "/api/v1/agencies",
            json!({"ori": "DCICE0000", "name": "Field Office", "kind": "federal_field_office"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{agency}");
    app.officer(agency["id"].as_str().unwrap(), "F1", "+12025550142", None)
        .await;
    answered_call(app, 1).await.0
}

/// A call from the field office's officer, answered by `agent` (agent 1 as the call-taker,
/// any other as a supervisor standing in for its user): the call record's id and the
/// distributor's number for it.
async fn answered_call(app: &TestApp, agent: u64) -> (String, u64) {
    let role = if agent == 1 {
        Role::CallTaker
    } else {
        Role::Supervisor
    };
    app.act_as(Some(role));
    for state in ["log_in", "available"] {
        let (s, b) = app
            .post(
                &format!("/api/v1/acd/agents/{agent}/state"),
                json!({"state": state}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    app.act_as(None);
    let (s, placed) = app
        .post(
            "/api/v1/acd/calls",
            json!({"queue": 1, "ani": "+12025550142"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
    app.act_as(Some(role));
    let (s, b) = app
        .post(
            &format!("/api/v1/acd/agents/{agent}/answer"),
            json!({"call": placed["call"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.act_as(None);
    (
        placed["record"]["id"].as_str().unwrap().to_owned(),
        placed["call"].as_u64().unwrap(),
    )
}

/// The app over a store holding `people` generated people's records, with its index built
/// and a call distributor running the desk.
async fn seeded_app(people: u64) -> (TestApp, Vec<PersonRecords>, Arc<dyn Store>) {
    let (dir, store, host) = super::store_with_acd(desk()).await;
    let state = AppState::with_clock(store.clone(), Arc::new(|| super::NOW)).with_acd(host);
    let seeded = seed_records(&state, people).await;
    let app = serve_state(state, dir).await;
    (app, seeded, store)
}

pub(super) fn inquiry(call: &str, p: &PersonRecords, claims: Value) -> Value {
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
    let fired: Vec<&str> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rule"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["records-on-file"], "{v}");
    assert!(
        !v["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("no_record_found")),
        "records are on file: {v}"
    );
    assert_eq!(v["file"]["complete"], true, "{v}");
    assert!(v["file"]["records"].as_array().unwrap().len() >= 2, "{v}");
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
    // Second review is a supervisor's: a legal reviewer may not approve it (refused, and
    // audited); another supervisor does.
    app.act_as(Some(Role::LegalReviewer));
    let (s, b) = app
        .post(&format!("/api/v1/dispositions/{id}/approve"), json!({}))
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "second_review_only", None);
    app.act_as(None);
    let sup2 = app.another(Role::Supervisor, "t.supervisor2").await;
    let (s, b) = app
        .post_with(
            &sup2,
            &format!("/api/v1/dispositions/{id}/approve"),
            json!({}),
        )
        .await;
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
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": bare, "subject": q["subject"], "call": call}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.act_as(Some(Role::Auditor));
    let (_, report) = app.get("/api/v1/audit/anomalies").await;
    assert_eq!(
        report["queries_without_case_number"][0]["user"], "t.call_taker",
        "{report}"
    );
}

/// The records of `v`'s file, by id, with whether the server added them.
fn file_of(v: &Value) -> Vec<(String, bool)> {
    v["file"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["record_id"].as_str().unwrap().to_owned(),
                r["added_by_server"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn rules_of(v: &Value) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rule"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) fn reasons_of(v: &Value, rule: &str) -> Vec<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["rule"] == rule)
        .flat_map(|h| h["reasons"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

pub(super) fn allows(v: &Value, kind: &str) -> bool {
    v["allowed"].as_array().unwrap().contains(&json!(kind))
}

#[tokio::test]
async fn a_protection_on_file_cannot_be_left_out() {
    let (app, seeded, store) = seeded_app(6_000).await;
    let call = federal_call(&app, store.as_ref()).await;
    // A person with a stay of removal in force, in a court order filed under the A-number.
    let person = seeded
        .iter()
        .find(|p| {
            p.identity.len() == 1
                && p.identity[0].dob.is_some()
                && p.immigration_case.len() == 1
                && p.immigration_case[0].a_number == p.identity[0].a_number
                && p.court_order.iter().any(|o| {
                    o.a_number.as_deref() == Some(p.identity[0].a_number.as_str())
                        && o.expires_on.is_none()
                })
        })
        .expect("a person with a court order among the generated");
    let order = person.court_order[0].record_id.clone();
    // The call-taker ticks the identity and the case only, as in the issue.
    let q = inquiry(&call, person, json!({}));
    let (s, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        reasons_of(&v, "court-order")
            .iter()
            .any(|r| r.contains(&order)),
        "the order left out still fires, naming {order}: {v}"
    );
    assert!(!allows(&v, "confirm_enforcement_action"), "{v}");
    assert!(!allows(&v, "no_record_found"), "{v}");
    assert!(
        file_of(&v).contains(&(order.clone(), true)),
        "the order is in the file, added by the server: {v}"
    );
    // Ticking nothing at all changes nothing: the A-number the officer gave ties it all in.
    let mut none = q.clone();
    none["chosen"] = json!([]);
    let (_, v2) = app.post("/api/v1/dispositions/evaluate", none).await;
    assert_eq!(rules_of(&v2), rules_of(&v), "{v2}");
    // The order cannot be marked "not this person": it shares the A-number.
    let mut marked = q.clone();
    marked["not_this_person"] =
        json!([{"record": order, "reason": "the call-taker thinks it is someone else"}]);
    let (s, b) = app.post("/api/v1/dispositions/evaluate", marked).await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("not_this_person"),
    );
    assert!(b["message"].as_str().unwrap().contains("A-number"), "{b}");
    // Nor a record that is not in the file, nor with a short reason.
    let mut stray = q.clone();
    stray["not_this_person"] =
        json!([{"record": "IDN-NOWHERE", "reason": "not in this file at all, surely"}]);
    let (s, _) = app.post("/api/v1/dispositions/evaluate", stray).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The confirmation cannot be recorded; the whole file is in the audit entry.
    let (s, b) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": q, "kind": "confirm_enforcement_action"}),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "blocked_by_rules", None);
    app.act_as(Some(Role::Auditor));
    let (_, entries) = app
        .get("/api/v1/audit/entries?action=disposition.evaluate")
        .await;
    assert!(
        entries["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["records"].as_array().unwrap().contains(&json!(order))),
        "{entries}"
    );
}

/// A class of childhood arrivals whose conditions the records can judge.
fn childhood_class() -> switchboard_domain::records::ClassInjunction {
    switchboard_domain::records::ClassInjunction {
        order_id: "CLS-TEST".into(),
        court: "U.S. District Court (synthetic)".into(),
        docket: "26-cv-00001".into(),
        title: "Roe v. Test".into(),
        class_definition: "Persons who entered before age 16.".into(),
        countries: String::new(),
        entered_on_or_before: None,
        entered_under_age: Some(16),
        issued_on: time::macros::date!(2025 - 01 - 01),
        expires_on: None,
        entered_on_or_after: None,
        further_conditions: None,
    }
}

#[tokio::test]
async fn class_membership_is_judged_on_entry_data_and_legal_determines_the_rest() {
    let (app, seeded, store) = seeded_app(6_000).await;
    store
        .put_class_injunctions(&[childhood_class()])
        .await
        .unwrap();
    let call = federal_call(&app, store.as_ref()).await;
    // A clean person whose entry data says they entered as an adult (at 20 or older) by every
    // record that has a date, or one with no entry date anywhere.
    let pick = |entered: bool| -> PersonRecords {
        clean_person_where(&seeded, TODAY, |p| {
            let (i, c) = (&p.identity[0], &p.immigration_case[0]);
            let age = |d: time::Date| switchboard_rules::age_on(i.dob.unwrap(), d);
            if entered {
                i.entered_on.is_some_and(|e| age(e) >= 20)
                    && c.entered_on.is_none_or(|e| age(e) >= 20)
            } else {
                i.entered_on.is_none() && c.entered_on.is_none()
            }
        })
        .clone()
    };

    // Entered as an adult by every record: out of the class; confirmation allowed.
    let adult = pick(true);
    let (s, v) = app
        .post(
            "/api/v1/dispositions/evaluate",
            inquiry(&call, &adult, json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(!rules_of(&v).contains(&"court-order".to_owned()), "{v}");
    assert!(allows(&v, "confirm_enforcement_action"), "{v}");

    // No entry date on file: cannot tell, never "out"; legal must determine it.
    let gap = pick(false);
    let q = inquiry(&call, &gap, json!({}));
    let (_, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    let r = reasons_of(&v, "court-order");
    assert!(
        r.iter()
            .any(|x| x.contains("cannot tell") && x.contains("no entry date on file")),
        "{v}"
    );
    assert!(!allows(&v, "confirm_enforcement_action"), "{v}");
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": q, "kind": "refer_legal_review"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["state"], "pending_legal_review", "{d}");
    let disposition = d["id"].as_str().unwrap().to_owned();
    // Only a legal reviewer acts on it.
    app.act_as(Some(Role::Supervisor));
    let (s, b) = app
        .post(
            &format!("/api/v1/dispositions/{disposition}/approve"),
            json!({}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "legal_review_only", None);

    // A legal reviewer records "not in the class"; only a question the rules raise can be
    // determined.
    app.act_as(Some(Role::LegalReviewer));
    let det = |matter: Value, finding: Value| {
        json!({"disposition": disposition, "matter": matter, "finding": finding,
               "reason": "the A-file's I-94 shows entry at age 19 in 2009",
               "basis": "class definition, paragraph 2"})
    };
    let (s, b) = app
        .post(
            "/api/v1/determinations",
            det(
                json!({"kind": "class_membership", "order_id": "CLS-NONE"}),
                json!({"finding": "not_in_class"}),
            ),
        )
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "not_raised", None);
    let (s, b) = app
        .post(
            "/api/v1/determinations",
            det(
                json!({"kind": "class_membership", "order_id": "X".repeat(60_000)}),
                json!({"finding": "not_in_class"}),
            ),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("matter.order_id"),
    );
    let (s, b) = app
        .post(
            "/api/v1/determinations",
            det(
                json!({"kind": "class_membership", "order_id": "CLS-TEST"}),
                json!({"finding": "bars_removal"}),
            ),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("finding"),
    );
    let (s, made) = app
        .post(
            "/api/v1/determinations",
            det(
                json!({"kind": "class_membership", "order_id": "CLS-TEST"}),
                json!({"finding": "not_in_class"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["state"], "pending_approval");
    let id = made["id"].as_str().unwrap().to_owned();
    // Not yet a fact: it waits for a second legal reviewer.
    app.act_as(None);
    let (_, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    assert!(
        reasons_of(&v, "court-order")
            .iter()
            .any(|x| x.contains("does not stand")),
        "{v}"
    );
    app.act_as(Some(Role::LegalReviewer));
    let (s, b) = app
        .post(&format!("/api/v1/determinations/{id}/approve"), json!({}))
        .await;
    assert_error(s, &b, StatusCode::CONFLICT, "two_person_rule", None);
    let legal2 = app.another(Role::LegalReviewer, "t.legal2").await;
    let (s, b) = app
        .post_with(
            &legal2,
            &format!("/api/v1/determinations/{id}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["state"], "approved");

    // Now a fact: the class no longer blocks; a confirmation is reachable.
    app.act_as(None);
    let (_, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    assert!(!rules_of(&v).contains(&"court-order".to_owned()), "{v}");
    assert!(allows(&v, "confirm_enforcement_action"), "{v}");
    assert!(
        v["file"]["determinations"][0]["standing"] == "in force",
        "{v}"
    );

    // A new record of the file (a custody record filed under the A-number) reopens it.
    let i = &gap.identity[0];
    store
        .put_source_records(&[SourceRecord::Custody(
            switchboard_domain::records::CustodyRecord {
                record_id: "CUS-NEW0000000000001".into(),
                a_number: Some(i.a_number.clone()),
                subject_name: format!("{}, {}", i.family_name, i.given_name),
                dob: i.dob,
                sex: None,
                facility: "Riverbend County Jail".into(),
                booked_on: TODAY,
                released_on: None,
                updated_on: TODAY,
            },
        )])
        .await
        .unwrap();
    let (_, v) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    let r = reasons_of(&v, "court-order");
    assert!(
        r.iter()
            .any(|x| x.contains("reopened") && x.contains("CUS-NEW0000000000001")),
        "{v}"
    );
    assert!(!allows(&v, "confirm_enforcement_action"), "{v}");
    // Auditors see the determination's life: recorded, refused approval, approved.
    app.act_as(Some(Role::Auditor));
    let (_, entries) = app
        .get("/api/v1/audit/entries?action=determination.approve")
        .await;
    let outcomes: Vec<&str> = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(
        outcomes.contains(&"refused") && outcomes.contains(&"ok"),
        "{entries}"
    );
    let (s, list) = app.get("/api/v1/determinations?state=approved").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["items"][0]["id"], id.as_str());
}

#[tokio::test]
async fn inquiries_are_made_only_on_ones_own_live_call() {
    let (app, seeded, store) = seeded_app(1_000).await;
    let person = clean_or_first(&seeded);
    let call = federal_call(&app, store.as_ref()).await;
    let q = inquiry(&call, person, json!({}));
    // A call-taker's lookup names the call.
    app.act_as(Some(Role::CallTaker));
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": super::purpose(), "subject": q["subject"]}),
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_field",
        Some("call"),
    );
    // Another agent's call: refused to the call-taker, allowed to a supervisor.
    let (other, _) = answered_call(&app, 2).await;
    let mut theirs = q.clone();
    theirs["call"] = json!(other);
    app.act_as(Some(Role::CallTaker));
    let (s, b) = app
        .post("/api/v1/dispositions/evaluate", theirs.clone())
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "not_your_call", None);
    let (s, b) = app
        .post(
            "/api/v1/lookups",
            json!({"purpose": super::purpose(), "subject": q["subject"], "call": other}),
        )
        .await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "not_your_call", None);
    app.act_as(Some(Role::Supervisor));
    let (s, b) = app.post("/api/v1/dispositions/evaluate", theirs).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // The caller hangs up: in after-call work the call-taker still records the disposition.
    app.act_as(None);
    let acd_call = app.get("/api/v1/acd/calls").await.1;
    let mine = acd_call
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["record"] == call.as_str())
        .map(|c| c["call"].as_u64().unwrap())
        .expect("the call-taker's call");
    let (s, b) = app
        .post(&format!("/api/v1/acd/calls/{mine}/hangup"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.act_as(Some(Role::CallTaker));
    let (s, d) = app
        .post(
            "/api/v1/dispositions",
            json!({"inquiry": q, "kind": "unable_to_confirm"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    // Once the after-call work is over, the call is no longer live.
    let (s, b) = app
        .post("/api/v1/acd/agents/1/state", json!({"state": "available"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app.post("/api/v1/dispositions/evaluate", q.clone()).await;
    assert_error(s, &b, StatusCode::CONFLICT, "call_not_live", None);
    // Every refusal is in the audit log.
    app.act_as(Some(Role::Auditor));
    let (_, entries) = app
        .get("/api/v1/audit/entries?action=disposition.evaluate")
        .await;
    let refused = entries["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .count();
    assert_eq!(refused, 2, "{entries}");
}
