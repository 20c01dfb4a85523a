use proptest::prelude::*;
use switchboard_domain::records::{
    CitizenshipRecord, ClassInjunction, CourtOrderRecord, CriminalHistoryRecord, CustodyRecord,
    IdentityRecord, ImmigrationCaseRecord, SourceRecord,
};
use time::macros::{date, datetime};

use std::collections::BTreeMap;

use super::*;
use crate::disclosure::caller_response;
use crate::disposition::{Disposition, GateError, Kind, State, allowed};
use crate::juvenile::{Case, TimerState};

const TODAY: Date = date!(2026 - 11 - 22);

fn identity() -> IdentityRecord {
    IdentityRecord {
        record_id: "ID-1".into(),
        a_number: "A123456789".into(),
        fin: "1234567890".into(),
        family_name: "Garza Ruiz".into(),
        given_name: "Mateo".into(),
        aliases: String::new(),
        dob: Some(date!(1990 - 04 - 12)),
        sex: Some("M".into()),
        country_of_birth: Some("MX".into()),
        place_of_birth: Some("MX-JAL".into()),
        updated_on: date!(2026 - 11 - 01),
        entered_on: Some(date!(2012 - 05 - 01)),
        entry_place: Some("Laredo, TX".into()),
        admission_class: Some("b2".into()),
    }
}

fn case() -> ImmigrationCaseRecord {
    ImmigrationCaseRecord {
        record_id: "IC-1".into(),
        a_number: "A123456789".into(),
        family_name: "Garza Ruiz".into(),
        given_name: "Mateo".into(),
        dob: Some(date!(1990 - 04 - 12)),
        status: "final_order".into(),
        applications: String::new(),
        protected_1367: false,
        next_hearing_on: None,
        appeal_pending: false,
        motion_to_reopen_pending: false,
        final_order_on: Some(date!(2024 - 02 - 01)),
        stay_kind: None,
        stay_until: None,
        updated_on: date!(2026 - 11 - 15),
        entered_on: Some(date!(2012 - 05 - 01)),
        entry_place: None,
        admission_class: Some("b2".into()),
    }
}

fn strong(record: SourceRecord) -> Considered {
    Considered {
        record,
        band: Some(Match::Strong),
        corroborated: true,
        why: Inclusion::Chosen,
    }
}

/// An inquiry on which nothing fires: a corroborated strong match of an adult born abroad with
/// a final order and current records, asked by an authorised task-force officer in the field.
fn clean() -> Facts {
    Facts {
        today: TODAY,
        max_age_days: 90,
        records: vec![
            strong(SourceRecord::Identity(identity())),
            strong(SourceRecord::ImmigrationCase(case())),
        ],
        excluded: vec![],
        file_complete: true,
        claims: Claims::default(),
        caller: Caller {
            authorised: true,
            problems: vec![],
            agency_kind: Some(AgencyKind::Partner287g),
            models: vec![AgreementModel::TaskForce],
        },
        location: Location::Field,
        in_custody: false,
        injunctions: vec![],
        determinations: vec![],
        stale_feeds: vec![],
    }
}

/// The rules that fired, but for "records on file" (which fires whenever the file holds a
/// record).
fn fired(f: &Facts) -> Vec<String> {
    evaluate(f)
        .into_iter()
        .map(|h| h.rule)
        .filter(|r| r != "records-on-file")
        .collect()
}

fn confirm_blocked(f: &Facts) -> bool {
    !allowed(&evaluate(f)).contains(&Kind::ConfirmEnforcementAction)
}

#[test]
fn a_clean_inquiry_fires_nothing_and_allows_confirmation() {
    let f = clean();
    assert_eq!(fired(&f), Vec::<String>::new());
    assert!(!confirm_blocked(&f));
}

type Case_ = (&'static str, fn(&mut Facts), fn(&mut Facts));

/// For every row of PRODUCT.md's table: a case that triggers the rule (and blocks
/// confirmation with that rule's reason, or asks what the row asks) and a near miss that does
/// not trigger it.
#[test]
fn every_rule_fires_on_its_case_and_not_on_the_near_miss() {
    let cases: Vec<Case_> = vec![
        (
            "citizenship-indicator",
            |f| f.claims.us_citizen = true,
            // A birthplace abroad in two records that agree is no indicator.
            |f| {
                if let SourceRecord::Identity(r) = &mut f.records[0].record {
                    r.place_of_birth = Some("MX-JAL".into());
                }
            },
        ),
        (
            "citizenship-indicator",
            |f| {
                if let SourceRecord::Identity(r) = &mut f.records[0].record {
                    r.country_of_birth = Some("US".into());
                }
            },
            |f| {
                if let SourceRecord::Identity(r) = &mut f.records[0].record {
                    r.country_of_birth = Some("UY".into());
                }
            },
        ),
        (
            "citizenship-indicator",
            |f| {
                f.records
                    .push(strong(SourceRecord::Citizenship(CitizenshipRecord {
                        record_id: "CZ-1".into(),
                        kind: "certificate_of_citizenship".into(),
                        document_number: "C1".into(),
                        family_name: "Garza Ruiz".into(),
                        given_name: "Mateo".into(),
                        dob: Some(date!(1990 - 04 - 12)),
                        place_of_birth: Some("MX-JAL".into()),
                        issued_on: date!(2010 - 01 - 01),
                        updated_on: date!(2026 - 11 - 01),
                    })))
            },
            |f| f.claims.us_citizen = false,
        ),
        (
            "citizenship-indicator",
            |f| f.claims.us_citizen_parent = true,
            |f| f.claims.minor = false,
        ),
        (
            "weak-identity",
            |f| {
                for c in &mut f.records {
                    c.band = Some(Match::Probable);
                }
            },
            |f| f.records[1].band = Some(Match::Probable),
        ),
        (
            "weak-identity",
            |f| {
                for c in &mut f.records {
                    c.corroborated = false;
                }
            },
            |f| f.records[1].corroborated = false,
        ),
        (
            "minor",
            |f| {
                if let SourceRecord::Identity(r) = &mut f.records[0].record {
                    r.dob = Some(date!(2009 - 01 - 10));
                }
            },
            // Eighteen today is an adult.
            |f| {
                if let SourceRecord::Identity(r) = &mut f.records[0].record {
                    r.dob = Some(date!(2008 - 11 - 22));
                }
            },
        ),
        ("minor", |f| f.claims.minor = true, |f| f.claims.uac = false),
        ("minor", |f| f.claims.uac = true, |f| f.claims.minor = false),
        (
            "minor",
            |f| f.claims.dob = Some(date!(2010 - 06 - 01)),
            |f| f.claims.dob = Some(date!(2000 - 06 - 01)),
        ),
        (
            "protected-application",
            |f| set_case(f, |c| c.applications = "u:pending:2025-03-01".into()),
            |f| set_case(f, |c| c.applications = "u:denied:2025-03-01".into()),
        ),
        (
            "protected-application",
            |f| set_case(f, |c| c.protected_1367 = true),
            |f| set_case(f, |c| c.applications = "asylum:denied:2020-01-01".into()),
        ),
        (
            "protected-application",
            |f| set_case(f, |c| c.applications = "sij:approved:2024-01-01".into()),
            |f| set_case(f, |c| c.applications = "sij:denied:2024-01-01".into()),
        ),
        (
            "pending-relief",
            |f| set_case(f, |c| c.applications = "asylum:pending:2025-01-01".into()),
            |f| set_case(f, |c| c.applications = "asylum:denied:2025-01-01".into()),
        ),
        (
            "pending-relief",
            |f| set_case(f, |c| c.appeal_pending = true),
            |f| set_case(f, |c| c.next_hearing_on = Some(date!(2027 - 01 - 01))),
        ),
        (
            "pending-relief",
            |f| set_case(f, |c| c.motion_to_reopen_pending = true),
            |f| set_case(f, |c| c.motion_to_reopen_pending = false),
        ),
        (
            "pending-relief",
            |f| {
                set_case(f, |c| {
                    c.stay_kind = Some("judicial_stay".into());
                    c.stay_until = Some(date!(2027 - 01 - 01));
                })
            },
            // A stay that ended yesterday.
            |f| {
                set_case(f, |c| {
                    c.stay_kind = Some("judicial_stay".into());
                    c.stay_until = Some(date!(2026 - 11 - 21));
                })
            },
        ),
        (
            "court-order",
            |f| f.records.push(strong(order(None))),
            |f| f.records.push(strong(order(Some(date!(2026 - 11 - 21))))),
        ),
        (
            "court-order",
            |f| f.injunctions.push(injunction("MX", None)),
            |f| f.injunctions.push(injunction("VE;CU", None)),
        ),
        (
            "court-order",
            |f| f.injunctions.push(injunction("MX", None)),
            |f| {
                f.injunctions
                    .push(injunction("MX", Some(date!(2026 - 01 - 01))))
            },
        ),
        (
            "sensitive-location",
            |f| f.location = Location::Courthouse,
            |f| f.location = Location::Jail,
        ),
        (
            "sensitive-location",
            |f| f.location = Location::ProtectedPlace,
            |f| f.location = Location::Field,
        ),
        (
            "partner-scope",
            |f| {
                f.caller.authorised = false;
                f.caller.problems = vec!["agreement_expired".into()];
            },
            |f| f.caller.problems = vec![],
        ),
        (
            "partner-scope",
            // A jail-enforcement partner asking about someone in the field.
            |f| f.caller.models = vec![AgreementModel::JailEnforcement],
            |f| {
                f.caller.models = vec![AgreementModel::JailEnforcement];
                f.in_custody = true;
            },
        ),
        (
            "other-agency-record",
            |f| {
                f.records.push(strong(SourceRecord::CriminalHistory(
                    CriminalHistoryRecord {
                        record_id: "CH-1".into(),
                        fbi_number: "123456AB1".into(),
                        state_id: "TX1".into(),
                        name: "Mateo Garza Ruiz".into(),
                        dob: Some(date!(1990 - 04 - 12)),
                        sex: Some("M".into()),
                        offenses: "traffic".into(),
                        updated_on: date!(2026 - 11 - 01),
                    },
                )))
            },
            |f| f.location = Location::Field,
        ),
        (
            "stale-or-missing",
            |f| set_case(f, |c| c.updated_on = date!(2026 - 01 - 01)),
            |f| set_case(f, |c| c.updated_on = date!(2026 - 08 - 24)), // 90 days: still current
        ),
        (
            "stale-or-missing",
            |f| {
                f.records.remove(1);
            },
            |f| f.max_age_days = 90,
        ),
    ];
    for (rule, trigger, near_miss) in cases {
        let mut f = clean();
        trigger(&mut f);
        let hits = evaluate(&f);
        let hit = hits
            .iter()
            .find(|h| h.rule == rule)
            .unwrap_or_else(|| panic!("{rule} did not fire on {f:#?}"));
        assert!(!hit.reasons.is_empty() && !hit.basis.is_empty(), "{hit:?}");
        let r = RULES.iter().find(|r| r.id == rule).unwrap();
        if r.outcomes.contains(&Outcome::BlockConfirm) {
            assert!(confirm_blocked(&f), "{rule} must block confirmation");
            let err =
                Disposition::submit(Kind::ConfirmEnforcementAction, hits.clone(), "ct1", now())
                    .unwrap_err();
            match err {
                GateError::NotAllowed { reasons, .. } => assert!(
                    reasons.iter().any(|x| x.starts_with(rule)),
                    "{rule}: {reasons:?}"
                ),
                e => panic!("{e:?}"),
            }
        }
        let mut g = clean();
        near_miss(&mut g);
        assert!(
            !fired(&g).contains(&rule.to_owned()),
            "{rule} fired on its near miss: {:?}",
            evaluate(&g)
        );
    }
}

fn set_case(f: &mut Facts, change: impl Fn(&mut ImmigrationCaseRecord)) {
    for c in &mut f.records {
        if let SourceRecord::ImmigrationCase(r) = &mut c.record {
            change(r);
        }
    }
}

fn order(expires_on: Option<Date>) -> SourceRecord {
    SourceRecord::CourtOrder(CourtOrderRecord {
        record_id: "CO-1".into(),
        order_kind: "stay_of_removal".into(),
        court: "9th Cir.".into(),
        docket: "26-1234".into(),
        a_number: Some("A123456789".into()),
        family_name: "Garza Ruiz".into(),
        given_name: "Mateo".into(),
        dob: Some(date!(1990 - 04 - 12)),
        issued_on: date!(2026 - 10 - 01),
        expires_on: Some(expires_on.unwrap_or(date!(2027 - 10 - 01))),
        updated_on: date!(2026 - 10 - 01),
    })
}

fn injunction(countries: &str, expires_on: Option<Date>) -> ClassInjunction {
    ClassInjunction {
        order_id: "INJ-1".into(),
        court: "D.D.C.".into(),
        docket: "1:25-cv-1".into(),
        title: "Doe v. Example".into(),
        class_definition: "Nationals of the listed countries.".into(),
        countries: countries.into(),
        entered_on_or_before: None,
        entered_under_age: None,
        issued_on: date!(2025 - 06 - 01),
        expires_on,
        entered_on_or_after: None,
        further_conditions: None,
    }
}

fn now() -> time::OffsetDateTime {
    datetime!(2026-11-22 15:00 UTC)
}

#[test]
fn minors_go_to_the_liaison_desk_and_nothing_else() {
    let mut f = clean();
    f.claims.minor = true;
    let hits = evaluate(&f);
    assert_eq!(allowed(&hits), vec![Kind::ReferJuvenileLiaison]);
    for k in Kind::ALL {
        let r = Disposition::submit(k, hits.clone(), "ct1", now());
        assert_eq!(r.is_ok(), k == Kind::ReferJuvenileLiaison, "{k:?}");
    }
    // The caller hears only of the referral; nothing of the records (a custody facility, for
    // one) can reach the response.
    f.records.push(strong(SourceRecord::Custody(CustodyRecord {
        record_id: "CU-1".into(),
        a_number: None,
        subject_name: "Mateo Garza Ruiz".into(),
        dob: Some(date!(2012 - 05 - 05)),
        sex: None,
        facility: "Harris County Juvenile Detention".into(),
        booked_on: date!(2026 - 11 - 21),
        released_on: None,
        updated_on: date!(2026 - 11 - 21),
    })));
    let r = caller_response(Kind::ReferJuvenileLiaison);
    assert!(!r.text.contains("Harris"), "{}", r.text);
    assert!(r.text.contains("juvenile-liaison"));
    for k in Kind::ALL {
        let t = caller_response(k).text;
        for field in [
            "Harris",
            "Detention",
            "CU-1",
            "facility",
            "address",
            "located",
        ] {
            assert!(!t.contains(field), "{k:?}: {t}");
        }
    }
}

#[test]
fn stale_data_gives_unable_to_confirm_with_the_reason() {
    let mut f = clean();
    set_case(&mut f, |c| c.updated_on = date!(2025 - 12 - 01));
    let hits = evaluate(&f);
    let h = hits.iter().find(|h| h.rule == "stale-or-missing").unwrap();
    assert!(
        h.reasons[0].contains("IC-1") && h.reasons[0].contains("356 days"),
        "{h:?}"
    );
    let a = allowed(&hits);
    assert!(a.contains(&Kind::UnableToConfirm));
    assert!(!a.contains(&Kind::ConfirmEnforcementAction));
    assert!(
        !a.contains(&Kind::StatusInformationOnly),
        "stale status is not given out"
    );
}

#[test]
fn the_workflow_confirms_only_through_the_gate_and_two_people() {
    let f = clean();
    let hits = evaluate(&f);
    let mut d =
        Disposition::submit(Kind::ConfirmEnforcementAction, hits.clone(), "ct1", now()).unwrap();
    assert_eq!(
        d.state(),
        State::PendingSecondReview,
        "every confirmation needs a second person"
    );
    assert_eq!(
        d.approve("ct1", hits.clone(), now()),
        Err(GateError::SamePerson)
    );
    // Meanwhile the case record shows a new appeal: the live check refuses the approval.
    let mut live = clean();
    set_case(&mut live, |c| c.appeal_pending = true);
    assert!(matches!(
        d.approve("sup1", evaluate(&live), now()),
        Err(GateError::NotAllowed { .. })
    ));
    assert_eq!(d.state(), State::PendingSecondReview);
    d.approve("sup1", hits, now()).unwrap();
    assert_eq!(d.state(), State::Final);
    assert_eq!(d.history().len(), 2);
    assert_eq!(
        d.approve("sup2", vec![], now()),
        Err(GateError::WrongState(State::Final))
    );
    // A courthouse arrest: a supervisor and a coordination record.
    let mut c = clean();
    c.location = Location::Courthouse;
    let hits = evaluate(&c);
    assert!(has(&hits, Outcome::CoordinationRecord));
    let d = Disposition::submit(Kind::ConfirmEnforcementAction, hits, "ct1", now()).unwrap();
    assert_eq!(d.state(), State::PendingSecondReview);
    // Legal review after the second person where the rules ask it.
    let mut p = clean();
    set_case(&mut p, |c| c.protected_1367 = true);
    let hits = evaluate(&p);
    let mut d = Disposition::submit(Kind::ReferLegalReview, hits.clone(), "ct1", now()).unwrap();
    assert_eq!(d.state(), State::PendingLegalReview);
    d.refuse("legal1", "need the A-file first", now()).unwrap();
    assert_eq!(d.state(), State::Refused);
}

#[test]
fn overrides_need_a_second_person_a_reason_and_an_overridable_rule() {
    let mut f = clean();
    f.records.push(strong(SourceRecord::Custody(CustodyRecord {
        record_id: "CU-2".into(),
        a_number: Some("A123456789".into()),
        subject_name: "Mateo Garza Ruiz".into(),
        dob: Some(date!(1990 - 04 - 12)),
        sex: None,
        facility: "County Jail".into(),
        booked_on: date!(2026 - 11 - 20),
        released_on: None,
        updated_on: date!(2026 - 11 - 20),
    })));
    let hits = evaluate(&f);
    assert!(
        Disposition::submit(Kind::ConfirmEnforcementAction, hits.clone(), "ct1", now()).is_err()
    );
    let mut d = Disposition::submit_for_override(
        Kind::ConfirmEnforcementAction,
        hits.clone(),
        "ct1",
        now(),
    )
    .unwrap();
    assert!(
        d.approve("sup1", hits.clone(), now()).is_err(),
        "not before the override"
    );
    assert_eq!(
        d.override_rule(
            "other-agency-record",
            "ct1",
            "urgent, confirmed by phone with the jail",
            now()
        ),
        Err(GateError::SamePerson)
    );
    assert_eq!(
        d.override_rule("other-agency-record", "sup1", "urgent", now()),
        Err(GateError::NoReason)
    );
    d.override_rule(
        "other-agency-record",
        "sup1",
        "urgent: the jail confirmed the booking by phone at 14:55",
        now(),
    )
    .unwrap();
    d.approve("sup1", hits, now()).unwrap();
    assert_eq!(d.state(), State::Overridden);
    assert_eq!(d.overrides()[0].by, "sup1");
    // Hard blocks cannot be overridden, or even submitted for it.
    let mut m = clean();
    m.claims.us_citizen = true;
    let hits = evaluate(&m);
    assert!(
        Disposition::submit_for_override(Kind::ConfirmEnforcementAction, hits, "ct1", now())
            .is_err()
    );
}

#[test]
fn custody_timers_count_down_and_report_overdue() {
    let start = datetime!(2026-11-20 10:00 UTC);
    let mut c = Case::open(start, Some(start));
    let t = c.timers(datetime!(2026-11-21 10:00 UTC));
    assert_eq!(
        t[0].state,
        TimerState::Running {
            remaining_minutes: 24 * 60
        }
    );
    assert_eq!(
        t[1].state,
        TimerState::Running {
            remaining_minutes: 48 * 60
        }
    );
    c.hhs_notified_at = Some(datetime!(2026-11-21 09:00 UTC));
    let t = c.timers(datetime!(2026-11-23 12:00 UTC));
    assert_eq!(t[0].state, TimerState::Met);
    assert_eq!(t[1].state, TimerState::Overdue { by_minutes: 120 });
    assert_eq!(c.checklist().len(), 5);
    assert!(Case::open(start, None).timers(start).is_empty());
}

fn any_record() -> impl Strategy<Value = Considered> {
    (
        0u8..6,
        1990i32..2026,
        any::<bool>(),
        any::<bool>(),
        0u8..4,
        0u8..8,
        any::<bool>(),
    )
        .prop_map(|(kind, year, us, protected, band, app, stay)| {
            let dob = Date::from_calendar_date(year, time::Month::March, 3).unwrap();
            let record = match kind {
                0 | 1 => {
                    let mut r = identity();
                    r.dob = Some(dob);
                    if us {
                        r.country_of_birth = Some("US".into());
                    }
                    SourceRecord::Identity(r)
                }
                2 | 3 => {
                    let mut r = case();
                    r.dob = Some(dob);
                    r.protected_1367 = protected;
                    r.applications = [
                        "",
                        "asylum:pending:2025-01-01",
                        "sij:pending:2025-01-01",
                        "t:approved:2025-01-01",
                        "u:pending:2025-01-01",
                        "vawa:approved:2025-01-01",
                        "asylum:denied:2025-01-01",
                        "",
                    ][usize::from(app)]
                    .into();
                    if stay {
                        r.stay_kind = Some("judicial_stay".into());
                    }
                    SourceRecord::ImmigrationCase(r)
                }
                4 => order(None),
                _ => {
                    let mut r = identity();
                    r.record_id = "ID-2".into();
                    r.dob = Some(dob);
                    SourceRecord::Identity(r)
                }
            };
            Considered {
                record,
                band: Some(
                    [
                        Match::Strong,
                        Match::Probable,
                        Match::Possible,
                        Match::Unlikely,
                    ][usize::from(band)],
                ),
                corroborated: band == 0,
                why: Inclusion::Chosen,
            }
        })
}

proptest! {
    /// Over random records, claims, callers and places: no final "confirm" exists for a minor,
    /// a citizen indicator, a pending protected application, or an active stay or order.
    #[test]
    fn no_final_confirmation_for_the_protected(
        chosen in proptest::collection::vec(any_record(), 0..5),
        minor in any::<bool>(),
        citizen in any::<bool>(),
        custody in any::<bool>(),
    ) {
        let mut f = clean();
        f.records = chosen;
        f.claims.minor = minor;
        f.claims.us_citizen = citizen;
        f.in_custody = custody;
        let hits = evaluate(&f);
        let protected = minor
            || citizen
            || fired(&f).iter().any(|r| ["minor", "citizenship-indicator", "protected-application", "pending-relief", "court-order"].contains(&r.as_str()));
        let mut outcome = Disposition::submit(Kind::ConfirmEnforcementAction, hits.clone(), "ct1", now());
        if outcome.is_err() {
            outcome = Disposition::submit_for_override(Kind::ConfirmEnforcementAction, hits.clone(), "ct1", now());
        }
        if let Ok(mut d) = outcome {
            for h in hits.iter().filter(|h| h.overridable) {
                let _ = d.override_rule(&h.rule, "sup1", "a long enough written reason here", now());
            }
            let _ = d.approve("sup1", hits.clone(), now());
            let _ = d.approve("legal1", hits.clone(), now());
            prop_assert!(!(d.is_final() && protected), "final confirmation despite {:?}", fired(&f));
        }
    }
}

/// A class of childhood arrivals (under 16 at entry, on or before a date), as the demo has.
fn childhood_class() -> ClassInjunction {
    ClassInjunction {
        order_id: "CLS-0002".into(),
        class_definition: "Persons who entered before age 16.".into(),
        countries: String::new(),
        entered_under_age: Some(16),
        entered_on_or_before: Some(date!(2020 - 01 - 01)),
        ..injunction("", None)
    }
}

fn set_identity(f: &mut Facts, change: impl Fn(&mut IdentityRecord)) {
    for c in &mut f.records {
        if let SourceRecord::Identity(r) = &mut c.record {
            change(r);
        }
    }
}

fn court_reasons(f: &Facts) -> Vec<String> {
    evaluate(f)
        .into_iter()
        .find(|h| h.rule == "court-order")
        .map(|h| h.reasons)
        .unwrap_or_default()
}

#[test]
fn class_membership_is_judged_on_the_entry_data_of_the_whole_file() {
    let mut f = clean();
    f.injunctions.push(childhood_class());
    // Entered at 22 in both records: out of the class, nothing fires.
    assert_eq!(
        membership(&f, &childhood_class()),
        Membership::Out {
            why: "the records show the subject not entered under age 16".into()
        }
    );
    assert!(court_reasons(&f).is_empty());
    assert!(!confirm_blocked(&f));

    // Entered at 9 in both: in the class.
    let mut inside = f.clone();
    set_identity(&mut inside, |r| r.entered_on = Some(date!(1999 - 05 - 01)));
    set_case(&mut inside, |c| c.entered_on = Some(date!(1999 - 05 - 01)));
    assert_eq!(membership(&inside, &childhood_class()), Membership::In);
    assert!(court_reasons(&inside)[0].contains("in the class of"));
    assert!(confirm_blocked(&inside));

    // No entry date anywhere: cannot tell, never out.
    let mut missing = f.clone();
    set_identity(&mut missing, |r| r.entered_on = None);
    set_case(&mut missing, |c| c.entered_on = None);
    assert!(matches!(
        membership(&missing, &childhood_class()),
        Membership::CannotTell { .. }
    ));
    assert!(
        court_reasons(&missing)[0].contains("no entry date on file"),
        "{:?}",
        court_reasons(&missing)
    );
    assert!(confirm_blocked(&missing));

    // One record missing it is no gap: the other says 22.
    let mut one = f.clone();
    set_case(&mut one, |c| c.entered_on = None);
    assert!(court_reasons(&one).is_empty());

    // The records disagree across the age line: cannot tell.
    let mut conflict = f.clone();
    set_case(&mut conflict, |c| {
        c.entered_on = Some(date!(2004 - 05 - 01))
    });
    let r = court_reasons(&conflict);
    assert!(
        r[0].contains("cannot tell") && r[0].contains("age at entry"),
        "{r:?}"
    );
    // ...but both ages over 16 (22 and 20) agree on the condition: out.
    set_case(&mut conflict, |c| {
        c.entered_on = Some(date!(2010 - 05 - 01))
    });
    assert!(court_reasons(&conflict).is_empty());

    // A condition certainly not met puts the subject out whatever else is missing: entered
    // after the class date.
    let mut late = f.clone();
    set_identity(&mut late, |r| r.entered_on = Some(date!(2021 - 05 - 01)));
    set_case(&mut late, |c| c.entered_on = Some(date!(2021 - 05 - 01)));
    assert!(court_reasons(&late).is_empty());

    // A class with conditions no record holds: data can put the subject out, never in.
    let mut further = inside.clone();
    further.injunctions = vec![ClassInjunction {
        further_conditions: Some("has resided continuously since entry".into()),
        ..childhood_class()
    }];
    let r = court_reasons(&further);
    assert!(
        r[0].contains("cannot tell") && r[0].contains("resided continuously"),
        "{r:?}"
    );
    let mut further_out = f.clone();
    further_out.injunctions = further.injunctions.clone();
    assert!(court_reasons(&further_out).is_empty());

    // A class with no data conditions cannot be told from data.
    let mut vague = clean();
    vague.injunctions.push(injunction("", None));
    assert!(court_reasons(&vague)[0].contains("not defined by data"));
}

fn judged(
    matter: determination::Matter,
    finding: determination::Finding,
    standing: determination::Standing,
) -> determination::Judged {
    determination::Judged {
        determination: determination::Determination::record(
            "DET-1".into(),
            matter,
            finding,
            "entered at 17 per the I-94 in the A-file",
            "Class definition, para. 2",
            "legal01",
            now(),
            vec![determination::RecordState {
                record_id: "ID-1".into(),
                digest: "d1".into(),
            }],
        )
        .unwrap(),
        standing,
    }
}

#[test]
fn legal_determinations_are_facts_only_while_they_stand() {
    use determination::{Finding, Matter, Standing};
    let class = Matter::ClassMembership {
        order_id: "CLS-0002".into(),
    };
    let mut f = clean();
    f.injunctions.push(childhood_class());
    set_identity(&mut f, |r| r.entered_on = None);
    set_case(&mut f, |c| c.entered_on = None);
    assert!(confirm_blocked(&f));
    // "Not in the class", in force: the class no longer blocks; a confirmation is reachable.
    let mut out = f.clone();
    out.determinations.push(judged(
        class.clone(),
        Finding::NotInClass,
        Standing::InForce,
    ));
    assert!(court_reasons(&out).is_empty());
    assert!(!confirm_blocked(&out));
    // "In the class" blocks even where the data would say out.
    let mut inside = clean();
    inside.injunctions.push(childhood_class());
    inside
        .determinations
        .push(judged(class.clone(), Finding::InClass, Standing::InForce));
    assert!(court_reasons(&inside)[0].contains("legal determination"));
    // Reopened, expired or unapproved: not a fact; the hit says why it no longer stands.
    for standing in [
        Standing::Reopened {
            why: vec!["record IC-9 is new to the file".into()],
        },
        Standing::Expired { at: now() },
        Standing::AwaitingApproval,
    ] {
        let mut g = f.clone();
        g.determinations
            .push(judged(class.clone(), Finding::NotInClass, standing.clone()));
        let r = court_reasons(&g);
        assert!(
            r.iter().any(|x| x.contains("does not stand")),
            "{standing:?}: {r:?}"
        );
        assert!(confirm_blocked(&g));
    }
    // A pending motion to reopen found not to bar removal no longer blocks; a stay is never
    // determined away.
    let mut motion = clean();
    set_case(&mut motion, |c| c.motion_to_reopen_pending = true);
    assert!(confirm_blocked(&motion));
    motion.determinations.push(judged(
        Matter::Pending {
            record_id: "IC-1".into(),
            item: determination::PendingItem::MotionToReopen,
        },
        Finding::DoesNotBarRemoval,
        Standing::InForce,
    ));
    assert!(!confirm_blocked(&motion));
    set_case(&mut motion, |c| c.stay_kind = Some("judicial_stay".into()));
    assert!(confirm_blocked(&motion));
    // Two foreign birthplaces settled by legal; a US one never is.
    let mut places = clean();
    set_identity(&mut places, |r| r.country_of_birth = Some("GT".into()));
    places
        .records
        .push(strong(SourceRecord::Identity(IdentityRecord {
            record_id: "ID-2".into(),
            country_of_birth: Some("MX".into()),
            ..identity()
        })));
    assert!(fired(&places).contains(&"citizenship-indicator".to_owned()));
    assert_eq!(birth_countries(&places), ["GT", "MX"]);
    assert!(determination::raised(&places).contains(&Matter::Birthplace));
    places.determinations.push(judged(
        Matter::Birthplace,
        Finding::BornIn {
            country: "MX".into(),
        },
        Standing::InForce,
    ));
    assert!(!fired(&places).contains(&"citizenship-indicator".to_owned()));
    set_identity(&mut places, |r| r.country_of_birth = Some("US".into()));
    assert!(fired(&places).contains(&"citizenship-indicator".to_owned()));
}

#[test]
fn a_determination_lives_recorded_approved_reopened_and_expired() {
    use determination::*;
    let rec = |d: &str| {
        vec![RecordState {
            record_id: "ID-1".into(),
            digest: d.into(),
        }]
    };
    assert_eq!(
        Determination::record(
            "D".into(),
            Matter::Birthplace,
            Finding::InClass,
            "a reason of twenty characters",
            "basis",
            "l1",
            now(),
            rec("d")
        ),
        Err(DeterminationError::FindingDoesNotFit(
            "in the class".into(),
            "the country of birth".into()
        ))
    );
    assert_eq!(
        Determination::record(
            "D".into(),
            Matter::Birthplace,
            Finding::BornIn {
                country: "US".into()
            },
            "a reason of twenty characters",
            "basis",
            "l1",
            now(),
            rec("d")
        )
        .unwrap_err(),
        DeterminationError::FindingDoesNotFit("born in US".into(), "the country of birth".into())
    );
    assert_eq!(
        Determination::record(
            "D".into(),
            Matter::Birthplace,
            Finding::BornIn {
                country: "MX".into()
            },
            "short",
            "basis",
            "l1",
            now(),
            rec("d")
        ),
        Err(DeterminationError::NoReason)
    );
    let mut d = Determination::record(
        "D".into(),
        Matter::ClassMembership {
            order_id: "CLS-1".into(),
        },
        Finding::NotInClass,
        "entered at 17 per the I-94 in the A-file",
        "Class definition, para. 2",
        "l1",
        now(),
        rec("d1"),
    )
    .unwrap();
    let file = vec!["ID-1".to_owned()];
    let live: BTreeMap<String, Option<String>> =
        [("ID-1".to_owned(), Some("d1".to_owned()))].into();
    assert_eq!(d.standing(now(), &file, &live), Standing::AwaitingApproval);
    assert_eq!(
        d.approve("l1", now(), time::Duration::days(90)),
        Err(DeterminationError::SamePerson)
    );
    d.approve("l2", now(), time::Duration::days(90)).unwrap();
    assert_eq!(
        d.approve("l3", now(), time::Duration::days(90)),
        Err(DeterminationError::WrongState(State::Approved))
    );
    assert_eq!(d.standing(now(), &file, &live), Standing::InForce);
    // A new record of the file, a changed one, a removed one: reopened.
    let more = vec!["ID-1".to_owned(), "IC-7".to_owned()];
    assert!(
        matches!(d.standing(now(), &more, &live), Standing::Reopened { why } if why[0].contains("IC-7"))
    );
    let changed: BTreeMap<String, Option<String>> =
        [("ID-1".to_owned(), Some("d2".to_owned()))].into();
    assert!(
        matches!(d.standing(now(), &file, &changed), Standing::Reopened { why } if why[0].contains("changed"))
    );
    let gone: BTreeMap<String, Option<String>> = [("ID-1".to_owned(), None)].into();
    assert!(
        matches!(d.standing(now(), &file, &gone), Standing::Reopened { why } if why[0].contains("removed"))
    );
    // Ninety days on: expired.
    let later = now() + time::Duration::days(90);
    assert!(matches!(
        d.standing(later, &file, &live),
        Standing::Expired { .. }
    ));
    // Refusal needs another reviewer and a reason.
    let mut r = d.clone();
    r.state = State::PendingApproval;
    assert_eq!(
        r.refuse("l2", "no", now()),
        Err(DeterminationError::NoReason)
    );
    r.refuse("l2", "the I-94 shown is another person's", now())
        .unwrap();
    assert_eq!(r.standing(now(), &file, &live), Standing::Refused);
}

#[test]
fn no_record_found_only_with_an_empty_file() {
    let f = clean();
    let hits = evaluate(&f);
    assert!(hits.iter().any(|h| h.rule == "records-on-file"));
    assert!(!allowed(&hits).contains(&Kind::NoRecordFound));
    let mut empty = clean();
    empty.records.clear();
    let hits = evaluate(&empty);
    assert!(!hits.iter().any(|h| h.rule == "records-on-file"));
    assert!(allowed(&hits).contains(&Kind::NoRecordFound));
    assert!(!allowed(&hits).contains(&Kind::ConfirmEnforcementAction));
}

#[test]
fn an_incomplete_file_or_conflicting_birth_dates_are_unable_to_confirm() {
    let mut f = clean();
    f.file_complete = false;
    assert!(fired(&f).contains(&"stale-or-missing".to_owned()));
    let mut g = clean();
    set_case(&mut g, |c| c.dob = Some(date!(1990 - 12 - 04)));
    let hits = evaluate(&g);
    let h = hits.iter().find(|h| h.rule == "stale-or-missing").unwrap();
    assert!(h.reasons[0].contains("disagree on the birth date"), "{h:?}");
    assert!(allowed(&hits).contains(&Kind::UnableToConfirm));
}

mod gathering {
    //! The file the server gathers: leaving any record out of the chosen ones never removes a
    //! protective hit, and "not this person" cannot exclude a record an identifier ties in.
    use std::collections::BTreeMap;

    use super::*;
    use crate::file::{FileError, Gatherer, MAX_FILE, Ranked};
    use switchboard_domain::records::{KeyKind, RecordKey};

    /// Runs the gatherer against records held in memory, as the server runs it on the store.
    fn gather(
        all: &[SourceRecord],
        officer: Vec<RecordKey>,
        ranked: BTreeMap<String, Ranked>,
        chosen: &[String],
        marks: BTreeMap<String, String>,
    ) -> Result<crate::file::File, FileError> {
        let mut g = Gatherer::new(officer, ranked, chosen, marks, MAX_FILE)?;
        let seeds = g.seeds();
        g.seeded(
            all.iter()
                .filter(|r| seeds.contains(&r.record_id().to_owned()))
                .cloned()
                .collect(),
        );
        loop {
            let keys = g.wanted();
            if keys.is_empty() {
                break;
            }
            let found = all
                .iter()
                .filter(|r| r.keys().iter().any(|k| keys.contains(k)))
                .cloned()
                .collect();
            g.found(found, false);
        }
        g.finish()
    }

    fn facts_of(file: crate::file::File) -> Facts {
        let mut f = clean();
        f.records = file.records;
        f.excluded = file.excluded;
        f.file_complete = file.complete;
        f
    }

    /// The hits that protect the subject (everything but "records on file" and the weak
    /// identity, which depends on what is strong).
    fn protective(f: &Facts) -> Vec<(String, Vec<String>)> {
        evaluate(f)
            .into_iter()
            .filter(|h| !["records-on-file", "weak-identity"].contains(&h.rule.as_str()))
            .map(|h| (h.rule, h.reasons))
            .collect()
    }

    /// One person's file: identity, case, a court order with a stay, a criminal history and a
    /// citizenship record, tied by A-number, FIN and FBI number as files are.
    fn person_file(seed: u8) -> Vec<SourceRecord> {
        let a = format!("2{:08}", seed);
        let mut id = identity();
        id.record_id = format!("ID-{seed}");
        id.a_number = a.clone();
        let mut id2 = identity();
        id2.record_id = format!("ID-{seed}b");
        id2.a_number = format!("3{:08}", seed);
        id2.country_of_birth = Some("US".into());
        let mut c = case();
        c.record_id = format!("IC-{seed}");
        c.a_number = a.clone();
        c.applications = "u:pending:2025-01-01".into();
        let mut c2 = case();
        c2.record_id = format!("IC-{seed}b");
        c2.a_number = format!("3{:08}", seed);
        c2.dob = Some(date!(2010 - 01 - 01));
        let order = SourceRecord::CourtOrder(CourtOrderRecord {
            record_id: format!("ORD-{seed}"),
            order_kind: "stay_of_removal".into(),
            court: "D. Ct.".into(),
            docket: "1".into(),
            a_number: Some(format!("A{a}")),
            family_name: "Garza".into(),
            given_name: "Mateo".into(),
            dob: None,
            issued_on: date!(2026 - 10 - 01),
            expires_on: None,
            updated_on: date!(2026 - 10 - 01),
        });
        vec![
            SourceRecord::Identity(id),
            SourceRecord::Identity(id2),
            SourceRecord::ImmigrationCase(c),
            SourceRecord::ImmigrationCase(c2),
            order,
        ]
    }

    proptest! {
        /// Over random files and random chosen subsets (and random marks on records an
        /// identifier ties in, which must be refused): the protective hits are those of the
        /// whole file, whatever was chosen.
        #[test]
        fn leaving_out_any_record_never_removes_a_protective_hit(
            seed in 0u8..50,
            keep in proptest::collection::vec(any::<bool>(), 5),
            give_a in any::<bool>(),
            mark in 0usize..6,
        ) {
            let all = person_file(seed);
            // Another person's records, which nothing ties in.
            let mut stranger = case();
            stranger.record_id = "IC-stranger".into();
            stranger.a_number = "999999999".into();
            stranger.stay_kind = Some("judicial_stay".into());
            let mut everything = all.clone();
            everything.push(SourceRecord::ImmigrationCase(stranger));
            // Ties: ID-n and IC-n and ORD-n share the A-number; ID-nb and IC-nb another; the
            // two identity files share the FIN. So one chosen record brings in the rest.
            let ids: Vec<String> = all.iter().map(|r| r.record_id().to_owned()).collect();
            let mut chosen: Vec<String> = ids.iter().zip(&keep).filter(|(_, k)| **k).map(|(i, _)| i.clone()).collect();
            let officer = if give_a {
                vec![RecordKey::normal(KeyKind::ANumber, &format!("A2{seed:08}")).unwrap()]
            } else {
                vec![]
            };
            if chosen.is_empty() && !give_a {
                chosen.push(ids[2].clone());
            }
            let whole = gather(&everything, vec![], BTreeMap::new(), &ids, BTreeMap::new()).unwrap();
            prop_assert_eq!(whole.records.len(), 5, "the stranger is never in");
            let some = gather(&everything, officer.clone(), BTreeMap::new(), &chosen, BTreeMap::new()).unwrap();
            prop_assert_eq!(protective(&facts_of(some)), protective(&facts_of(whole)));
            // A mark on any record the identifiers tie in is refused.
            if let Some(target) = ids.get(mark).filter(|t| !chosen.contains(t)) {
                let marks = BTreeMap::from([(target.clone(), "looks like another person to me".to_owned())]);
                let r = gather(&everything, officer, BTreeMap::new(), &chosen, marks);
                prop_assert!(matches!(r, Err(FileError::MarkRefused { .. })), "{:?}", r);
            }
        }
    }

    #[test]
    fn a_lookalike_candidate_can_be_marked_with_a_reason_and_is_shown_not_judged() {
        let all = person_file(1);
        let mut twin = case();
        twin.record_id = "IC-lookalike".into();
        twin.a_number = "777777777".into();
        twin.stay_kind = Some("judicial_stay".into());
        let mut everything = all.clone();
        everything.push(SourceRecord::ImmigrationCase(twin));
        let ranked = BTreeMap::from([(
            "IC-lookalike".to_owned(),
            Ranked {
                band: Match::Probable,
                corroborated: false,
                protective: false,
            },
        )]);
        // Unmarked, the probable look-alike is in the file, and its stay blocks.
        let f = gather(
            &everything,
            vec![],
            ranked.clone(),
            &["ID-1".into()],
            BTreeMap::new(),
        )
        .unwrap();
        let lookalike = f
            .records
            .iter()
            .find(|c| c.record.record_id() == "IC-lookalike")
            .unwrap();
        assert_eq!(lookalike.why, Inclusion::Candidate);
        assert!(
            protective(&facts_of(f.clone()))
                .iter()
                .any(|(_, r)| r.iter().any(|x| x.contains("IC-lookalike")))
        );
        // Marked with a reason: listed as excluded, not judged.
        let marks = BTreeMap::from([(
            "IC-lookalike".to_owned(),
            "different A-number and mother's name".to_owned(),
        )]);
        let f = gather(&everything, vec![], ranked.clone(), &["ID-1".into()], marks).unwrap();
        assert!(
            f.records
                .iter()
                .all(|c| c.record.record_id() != "IC-lookalike")
        );
        assert_eq!(f.excluded[0].record_id, "IC-lookalike");
        // A short reason, a mark on a chosen record, on a record not in the file: refused.
        let short = BTreeMap::from([("IC-lookalike".to_owned(), "no".to_owned())]);
        assert!(matches!(
            gather(&everything, vec![], ranked.clone(), &["ID-1".into()], short),
            Err(FileError::MarkReason(_))
        ));
        let chosen_marked = BTreeMap::from([(
            "ID-1".to_owned(),
            "different A-number and mother's name".to_owned(),
        )]);
        assert!(matches!(
            gather(
                &everything,
                vec![],
                ranked.clone(),
                &["ID-1".into()],
                chosen_marked
            ),
            Err(FileError::ChosenAndMarked(_))
        ));
        let nowhere = BTreeMap::from([(
            "IC-nowhere".to_owned(),
            "different A-number and mother's name".to_owned(),
        )]);
        assert!(matches!(
            gather(&everything, vec![], ranked, &["ID-1".into()], nowhere),
            Err(FileError::MarkNotInFile(_))
        ));
        // Every record says why it is in the file; those the server added say so.
        let f = gather(
            &everything,
            vec![],
            BTreeMap::new(),
            &["IC-1".into()],
            BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(f.records[0].why, Inclusion::Chosen);
        assert!(f.records[1..].iter().all(|c| c.why.added_by_server()));
        assert!(f.records.iter().any(|c| matches!(&c.why, Inclusion::SharesIdentifier { key, .. } if key.kind == KeyKind::Fin)));
    }

    #[test]
    fn a_possible_court_order_joins_the_file_a_possible_case_does_not() {
        let all = person_file(3);
        let order = SourceRecord::CourtOrder(CourtOrderRecord {
            record_id: "ORD-weak".into(),
            order_kind: "stay_of_removal".into(),
            court: "D. Ct.".into(),
            docket: "9".into(),
            a_number: None,
            family_name: "Garza".into(),
            given_name: "M.".into(),
            dob: None,
            issued_on: date!(2026 - 10 - 01),
            expires_on: None,
            updated_on: date!(2026 - 10 - 01),
        });
        let mut weak_case = case();
        weak_case.record_id = "IC-weak".into();
        weak_case.a_number = "888888888".into();
        weak_case.stay_kind = Some("judicial_stay".into());
        let mut everything = all.clone();
        everything.push(order);
        everything.push(SourceRecord::ImmigrationCase(weak_case));
        let possible = |protective| Ranked {
            band: Match::Possible,
            corroborated: false,
            protective,
        };
        let ranked = BTreeMap::from([
            ("ORD-weak".to_owned(), possible(true)),
            ("IC-weak".to_owned(), possible(false)),
        ]);
        let f = gather(
            &everything,
            vec![],
            ranked.clone(),
            &["ID-3".into()],
            BTreeMap::new(),
        )
        .unwrap();
        let ids: Vec<&str> = f.records.iter().map(|c| c.record.record_id()).collect();
        assert!(
            ids.contains(&"ORD-weak") && !ids.contains(&"IC-weak"),
            "{ids:?}"
        );
        assert!(
            protective(&facts_of(f))
                .iter()
                .any(|(_, r)| r.iter().any(|x| x.contains("ORD-weak")))
        );
        // Ruled out with a reason, it is excluded and shown.
        let marks = BTreeMap::from([(
            "ORD-weak".to_owned(),
            "a different person: initial only, no birth date".to_owned(),
        )]);
        let f = gather(&everything, vec![], ranked, &["ID-3".into()], marks).unwrap();
        assert_eq!(f.excluded[0].record_id, "ORD-weak");
    }

    #[test]
    fn a_file_past_its_bound_is_incomplete() {
        let mut all = Vec::new();
        for i in 0..(MAX_FILE + 5) {
            let mut c = case();
            c.record_id = format!("IC-{i}");
            all.push(SourceRecord::ImmigrationCase(c));
        }
        let f = gather(
            &all,
            vec![],
            BTreeMap::new(),
            &["IC-0".into()],
            BTreeMap::new(),
        )
        .unwrap();
        assert!(!f.complete);
        assert_eq!(f.records.len(), MAX_FILE);
        assert!(fired(&facts_of(f)).contains(&"stale-or-missing".to_owned()));
    }
}

#[test]
fn marks_go_to_a_second_person_and_never_make_no_record_found() {
    let mut f = clean();
    f.records.clear();
    f.excluded = vec![Excluded {
        record_id: "IC-9".into(),
        reason: "another person: different mother's name".into(),
    }];
    let hits = evaluate(&f);
    assert!(!allowed(&hits).contains(&Kind::NoRecordFound), "{hits:?}");
    let d = Disposition::submit(Kind::UnableToConfirm, hits, "ct1", now()).unwrap();
    assert_eq!(d.state(), State::PendingSecondReview);
    let h = d
        .hits()
        .iter()
        .find(|h| h.rule == "not-this-person")
        .unwrap();
    assert!(h.reasons[0].contains("mother's name"));
}

#[test]
fn birthplaces_in_words_are_never_a_country_the_rules_guess() {
    assert_eq!(country("MX-JAL").as_deref(), Some("MX"));
    assert_eq!(country("Houston, TX").as_deref(), Some("US"));
    assert_eq!(country("Guatemala City"), None);
    assert_eq!(country("Oaxaca de Juárez, Oaxaca"), None);
    // A US city in an identity file's birthplace is a US birthplace.
    let mut f = clean();
    set_identity(&mut f, |r| {
        r.country_of_birth = None;
        r.place_of_birth = Some("San Antonio, TX".into());
    });
    assert!(fired(&f).contains(&"citizenship-indicator".to_owned()));
    // A class of nationals judged on a birthplace in words: cannot tell, never out.
    let mut g = clean();
    set_identity(&mut g, |r| {
        r.country_of_birth = None;
        r.place_of_birth = Some("Guatemala City".into());
    });
    g.injunctions.push(injunction("GT", None));
    assert!(
        court_reasons(&g)[0].contains("cannot tell"),
        "{:?}",
        court_reasons(&g)
    );
}

#[test]
fn a_feed_behind_its_allowed_lag_makes_the_answer_unable_to_confirm_naming_it() {
    let mut f = clean();
    f.stale_feeds = vec![
        crate::StaleFeed {
            system: switchboard_domain::records::System::CourtOrder,
            minutes_behind: Some(192),
            max_minutes: 60,
        },
        crate::StaleFeed {
            system: switchboard_domain::records::System::Citizenship,
            minutes_behind: None,
            max_minutes: 1440,
        },
    ];
    let hits = evaluate(&f);
    let h = hits.iter().find(|h| h.rule == "stale-or-missing").unwrap();
    assert!(confirm_blocked(&f));
    assert!(allowed(&hits).contains(&Kind::UnableToConfirm));
    let why = h.reasons.join(" | ");
    assert!(
        why.contains("court order feed last vouched for its records 3 h 12 min ago (allowed: 1 h)"),
        "{why}"
    );
    assert!(
        why.contains("no citizenship feed has ever vouched"),
        "{why}"
    );
}
