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
//!    the officer describes the subject as officers do (the generator's `describe`: name and
//!    birth date with the errors files carry) and reads the A-number off the subject's
//!    documents, and the call-taker chooses the strong candidates. Counted: confirmation
//!    allowed outright; reachable once an overridable rule is overridden by a second person
//!    (hit confirmation with another agency's file); blocked, by the first blocking rule and
//!    its reason. An identifier is what corroborates an identity, so subjects described
//!    without one cannot be confirmed by design and are not asked about here.
//! 2. **Can a protection on file be left out?** For every adult with an individual court order
//!    in force, the call-taker chooses only the identity and case records (those of them the
//!    lookup offers), once with the A-number given and once with the officer's name and birth
//!    date alone; counted: whether the court-order rule still fires naming the order's record.
//!
//! `--subject A412940404` also prints the verdict on one subject of the demo, identity and case
//! chosen, with the file the server judged.

use std::collections::BTreeMap;

use anyhow::Context;
use axum::http::Method;
use clap::Args;
use serde_json::{Value, json};
use switchboard_synth::people::people;
use switchboard_synth::records::{PersonRecords, describe, records_for};

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
    /// Print the verdict on the subject with this A-number (identity and case chosen).
    #[arg(long)]
    subject: Option<String>,
}

/// An adult whose records leave nothing protective: the subjects a confirmation is for.
fn final_order_without_protection(r: &PersonRecords, today: time::Date) -> bool {
    let Some(i) = r.identity.first() else {
        return false;
    };
    let adult = i
        .dob
        .is_some_and(|d| switchboard_rules::age_on(d, today) >= 18);
    // Born here by any identity file's country, or a US place ("Houston, TX").
    let us_born = r.identity.iter().any(|x| {
        x.country_of_birth.as_deref() == Some("US")
            || x.place_of_birth
                .as_deref()
                .is_some_and(|p| switchboard_rules::country(p).as_deref() == Some("US"))
    });
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

/// The subject as the officer gives it: as officers describe people (name and birth date with
/// the errors files carry), with the A-number read off the subject's documents when `a_number`.
fn subject_of(
    spec: &switchboard_synth::records::RecordSpec,
    p: &switchboard_synth::people::Person,
    r: &PersonRecords,
    a_number: bool,
) -> Value {
    let d = describe(spec, p, r);
    let mut s = json!({
        "family_names": [d.family],
        "given_names": [d.given],
    });
    if let Some(dob) = d.dob {
        s["date_of_birth"] = json!(dob.to_string());
    }
    if a_number {
        s["a_number"] = json!(format!("A{}", r.identity[0].a_number));
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
    } else if r.contains("citizenship record") {
        "a citizenship record in the file"
    } else if r.contains("us birthplace") {
        "a US birthplace in the file"
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
                Some(&json!({"subject": subject, "purpose": purpose, "call": center.call, "limit": 100})),
            )
            .await
    };

    let spec = &center.record_spec;
    let (mut subjects, mut ordered) = (Vec::new(), Vec::new());
    let mut shown = None;
    for p in people(center.people_spec) {
        let r = records_for(spec, &p);
        if let Some(a) = &args.subject
            && r.identity
                .first()
                .is_some_and(|i| a.trim_start_matches('A') == i.a_number)
        {
            shown = Some((p.clone(), r.clone()));
        }
        if subjects.len() < args.limit && final_order_without_protection(&r, today) {
            subjects.push((p, r));
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
            ordered.push((p, r));
        }
    }

    // 1. Adults with a final order and no protective record.
    let (mut outright, mut override_only) = (0usize, 0usize);
    let mut blocked: BTreeMap<String, usize> = BTreeMap::new();
    let mut added = 0usize;
    for (p, r) in &subjects {
        let subject = subject_of(spec, p, r, true);
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
    println!(
        "adults with an individual court order in force, only identity and case chosen: {} asked",
        ordered.len()
    );
    for with_a in [true, false] {
        let (mut named, mut missed) = (0usize, Vec::new());
        for (p, r) in &ordered {
            let subject = subject_of(spec, p, r, with_a);
            // The identity and case records, where the lookup offers them as candidates.
            let found = lookup(&subject).await?;
            let offered = |id: &str| {
                found["candidates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["record"]["record_id"] == id)
                    .cloned()
            };
            let chosen: Vec<&str> = [
                r.identity[0].record_id.as_str(),
                r.immigration_case[0].record_id.as_str(),
            ]
            .into_iter()
            .filter(|id| offered(id).is_some())
            .collect();
            let v = evaluate(
                &json!({"call": center.call, "purpose": purpose, "subject": subject,
                "chosen": chosen, "location": "field"}),
            )
            .await?;
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
                let band = orders
                    .iter()
                    .find_map(|o| offered(o))
                    .map_or("not a candidate".to_owned(), |c| {
                        c["band"].as_str().unwrap_or("").to_owned()
                    });
                let tied = r.court_order.iter().any(|o| o.a_number.is_some());
                missed.push(format!(
                    "{} ({band}; {}; {} of identity and case chosen){}",
                    orders.join(","),
                    if tied {
                        "carries an A-number"
                    } else {
                        "no A-number"
                    },
                    chosen.len(),
                    if confirm { " CONFIRMATION ALLOWED" } else { "" }
                ));
            }
        }
        println!(
            "  {}: the court-order rule fires naming the order, confirmation blocked: {named}; missed: {}",
            if with_a {
                "the officer gives the A-number"
            } else {
                "the officer gives name and birth date only"
            },
            missed.len()
        );
        for m in &missed {
            println!("    missed {m}");
        }
    }

    if let (Some(a), None) = (&args.subject, &shown) {
        println!("subject {a}: no identity file of the generated people has this A-number");
    }
    if let Some((p, r)) = &shown {
        let subject = subject_of(spec, p, r, true);
        let found = lookup(&subject).await?;
        let offered: Vec<&str> = found["candidates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["record"]["record_id"].as_str())
            .collect();
        let chosen: Vec<&str> = r
            .identity
            .iter()
            .map(|x| x.record_id.as_str())
            .chain(r.immigration_case.iter().map(|x| x.record_id.as_str()))
            .filter(|id| offered.contains(id))
            .collect();
        let v = evaluate(
            &json!({"call": center.call, "purpose": purpose, "subject": subject,
            "chosen": chosen, "location": "field"}),
        )
        .await?;
        println!(
            "subject {}: chosen {chosen:?}",
            args.subject.as_deref().unwrap_or("")
        );
        for h in v["hits"].as_array().into_iter().flatten() {
            println!("  hit {}: {}", h["rule"], h["reasons"]);
        }
        println!("  allowed: {}", v["allowed"]);
        for f in v["file"]["records"].as_array().into_iter().flatten() {
            println!(
                "  file: {} ({}) {}",
                f["record_id"].as_str().unwrap_or(""),
                f["system"].as_str().unwrap_or(""),
                f["why"].as_str().unwrap_or("")
            );
        }
    }
    Ok(())
}
