//! `switchboard bench file`: due process over the whole file, measured on the demo's own data.
//!
//! The demo's people (seed 2026, 100,000 people, records as of today) are generated into a
//! temporary SQLite database behind the server's own router, and a federal field office's
//! officer's call is answered (`bench pages` sets the center up). Two questions are then put to
//! the server exactly as the desk puts them (`POST /api/v1/dispositions/evaluate` on the live
//! call), and the answers counted:
//!
//! 1. **Is a confirmation reachable when the law allows it?** For every adult with a final
//!    order and no protective record (no citizenship record or US birthplace, no protected
//!    application or 8 U.S.C. 1367 flag, nothing pending, no stay, no individual court order),
//!    the officer gives the name, birth date and A-number of the subject's identity file, and
//!    the call-taker chooses the strong candidates. Counted: confirmation allowed outright;
//!    reachable once an overridable rule is overridden by a second person (hit confirmation
//!    with another agency's file); blocked, by the first blocking rule and its reason.
//! 2. **Can a protection on file be left out?** For every adult with an individual court order
//!    in force, the call-taker chooses only the identity and case records; counted: whether the
//!    court-order rule still fires and names the order's record.

use std::collections::BTreeMap;

use anyhow::Context;
use axum::http::Method;
use clap::Args;
use serde_json::{Value, json};
use switchboard_synth::people::people;
use switchboard_synth::records::{PersonRecords, records_for};

use crate::bench_pages::start;

#[derive(Debug, Args)]
pub struct FileBench {
    /// People generated into the records (the demo's 100,000 by default).
    #[arg(long, default_value_t = 100_000)]
    people: u64,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// At most this many subjects of each kind are asked about.
    #[arg(long, default_value_t = 5_000)]
    limit: usize,
}

/// An adult whose records leave nothing protective: the subjects a confirmation is for.
fn final_order_without_protection(r: &PersonRecords, today: time::Date) -> bool {
    let Some(i) = r.identity.first() else {
        return false;
    };
    let adult = i
        .dob
        .is_some_and(|d| switchboard_rules::age_on(d, today) >= 18);
    let us_born = r
        .identity
        .iter()
        .any(|x| x.country_of_birth.as_deref() == Some("US"));
    adult
        && !us_born
        && r.citizenship.is_empty()
        && r.court_order.is_empty()
        && !r.immigration_case.is_empty()
        && r.immigration_case.iter().all(|c| {
            c.status == "final_order"
                && !c.protected_1367
                && c.applications.is_empty()
                && c.stay_kind.is_none()
                && !c.appeal_pending
                && !c.motion_to_reopen_pending
        })
}

/// The subject as the officer gives it: the identity file's name, birth date and A-number.
fn subject_of(r: &PersonRecords) -> Value {
    let i = &r.identity[0];
    let mut s = json!({
        "family_names": [i.family_name],
        "given_names": [i.given_name],
        "a_number": format!("A{}", i.a_number),
    });
    if let Some(d) = i.dob {
        s["date_of_birth"] = json!(d.to_string());
    }
    s
}

/// The first words of a reason, to count reasons of a kind together.
fn reason_kind(rule: &str, reason: &str) -> String {
    let r = reason.to_ascii_lowercase();
    let kind = if r.contains("cannot tell") {
        "cannot tell class membership"
    } else if r.contains("in the class") {
        "in a class"
    } else if r.contains("last updated") {
        "stale record"
    } else if r.contains("birth date") && r.contains("disagree") {
        "birth dates disagree"
    } else if r.contains("birthplace") {
        "birthplace"
    } else if r.contains("under 18") {
        "a birth date under 18"
    } else if r.contains("strong match") {
        "no corroborated strong match"
    } else if r.contains("no immigration case") {
        "no case record"
    } else {
        "other"
    };
    format!("{rule}: {kind}")
}

pub async fn run(args: &FileBench) -> anyhow::Result<()> {
    let center = start(args.people, args.seed).await?;
    let ct = &center.sessions["ct01"];
    let today = center.record_spec.today;
    let purpose =
        json!({"code": "C", "reason": "task force: status check", "case_number": "24-000123"});
    let evaluate = async |q: &Value| -> anyhow::Result<Value> {
        center
            .client
            .json(
                Some(ct),
                Method::POST,
                "/api/v1/dispositions/evaluate",
                Some(q),
            )
            .await
    };
    let lookup = async |subject: &Value| -> anyhow::Result<Value> {
        center
            .client
            .json(
                Some(ct),
                Method::POST,
                "/api/v1/lookups",
                Some(&json!({"subject": subject, "purpose": purpose, "call": center.call, "limit": 20})),
            )
            .await
    };

    let (mut subjects, mut ordered) = (Vec::new(), Vec::new());
    for p in people(center.people_spec) {
        let r = records_for(&center.record_spec, &p);
        if subjects.len() < args.limit && final_order_without_protection(&r, today) {
            subjects.push(r);
        } else if ordered.len() < args.limit
            && !r.identity.is_empty()
            && !r.immigration_case.is_empty()
            && r.court_order
                .iter()
                .any(|o| o.issued_on <= today && o.expires_on.is_none_or(|e| e >= today))
            && r.identity[0]
                .dob
                .is_some_and(|d| switchboard_rules::age_on(d, today) >= 18)
        {
            ordered.push(r);
        }
    }

    // 1. Adults with a final order and no protective record.
    let (mut outright, mut override_only) = (0usize, 0usize);
    let mut blocked: BTreeMap<String, usize> = BTreeMap::new();
    let mut added = 0usize;
    for r in &subjects {
        let subject = subject_of(r);
        let found = lookup(&subject).await?;
        let chosen: Vec<Value> = found["candidates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["band"] == "strong")
            .map(|c| c["record"]["record_id"].clone())
            .collect();
        let v = evaluate(
            &json!({"call": center.call, "purpose": purpose, "subject": subject,
            "chosen": chosen, "location": "field"}),
        )
        .await?;
        added += v["file"]["records"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["added_by_server"] == true)
            .count();
        let allowed = v["allowed"].as_array().context("allowed")?;
        if allowed.contains(&json!("confirm_enforcement_action")) {
            outright += 1;
            continue;
        }
        let hits = v["hits"].as_array().context("hits")?;
        let hard: Vec<&Value> = hits
            .iter()
            .filter(|h| {
                h["overridable"] == false
                    && h["outcomes"].as_array().is_some_and(|o| {
                        o.contains(&json!("block_confirm"))
                            || o.contains(&json!("unable_to_confirm"))
                    })
            })
            .collect();
        match hard.first() {
            None => override_only += 1,
            Some(h) => {
                let rule = h["rule"].as_str().unwrap_or("");
                let reason = h["reasons"][0].as_str().unwrap_or("");
                *blocked.entry(reason_kind(rule, reason)).or_default() += 1;
            }
        }
    }
    let n = subjects.len().max(1) as f64;
    println!(
        "adults with a final order and no protective record: {} asked (officer gives name, birth date, A-number; strong candidates chosen)",
        subjects.len()
    );
    println!(
        "  confirmation allowed outright:                 {:>5} ({:.1}%)",
        outright,
        100.0 * outright as f64 / n
    );
    println!(
        "  reachable after a second person's override:    {:>5} ({:.1}%)  (hit confirmation with another agency's file)",
        override_only,
        100.0 * override_only as f64 / n
    );
    println!(
        "  confirmation reachable in all:                 {:>5} ({:.1}%)",
        outright + override_only,
        100.0 * (outright + override_only) as f64 / n
    );
    println!("  blocked, by the first hard rule and its reason:");
    let mut by: Vec<(String, usize)> = blocked.into_iter().collect();
    by.sort_by_key(|b| std::cmp::Reverse(b.1));
    for (k, c) in by {
        println!("    {c:>5} ({:>4.1}%)  {k}", 100.0 * c as f64 / n);
    }
    println!(
        "  records the server added to the files judged: {added} ({:.2} a file)",
        added as f64 / n
    );

    // 2. A court order left out of the chosen records.
    let (mut named, mut missed) = (0usize, Vec::new());
    for r in &ordered {
        let subject = subject_of(r);
        let chosen = json!([r.identity[0].record_id, r.immigration_case[0].record_id]);
        let q = json!({"call": center.call, "purpose": purpose, "subject": subject,
            "chosen": chosen, "location": "field"});
        let v = match evaluate(&q).await {
            Ok(v) => v,
            // The identity file's name may not make the case record a candidate at all.
            Err(_) => {
                let q = json!({"call": center.call, "purpose": purpose, "subject": subject,
                    "chosen": [r.identity[0].record_id], "location": "field"});
                evaluate(&q).await?
            }
        };
        let orders: Vec<&str> = r.court_order.iter().map(|o| o.record_id.as_str()).collect();
        let fired = v["hits"].as_array().into_iter().flatten().any(|h| {
            h["rule"] == "court-order"
                && h["reasons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|x| orders.iter().any(|o| x.as_str().unwrap_or("").contains(o)))
        });
        let confirm = v["allowed"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("confirm_enforcement_action")));
        if fired && !confirm {
            named += 1;
        } else {
            // How the lookup ranked the order, and whether it carries an identifier.
            let found = lookup(&subject).await?;
            let band = found["candidates"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| orders.iter().any(|o| c["record"]["record_id"] == *o))
                .map_or("not a candidate".to_owned(), |c| {
                    c["band"].as_str().unwrap_or("").to_owned()
                });
            let tied = r.court_order.iter().any(|o| o.a_number.is_some());
            missed.push(format!(
                "{} ({band}; {})",
                orders.join(","),
                if tied {
                    "carries an A-number"
                } else {
                    "no A-number"
                }
            ));
        }
    }
    println!(
        "adults with an individual court order in force, only identity and case chosen: {} asked",
        ordered.len()
    );
    println!(
        "  the court-order rule fires naming the order, confirmation blocked: {named}; missed: {}",
        missed.len()
    );
    for m in &missed {
        println!("    missed {m}");
    }
    Ok(())
}
