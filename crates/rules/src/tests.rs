use proptest::prelude::*;
use switchboard_domain::records::{
    CitizenshipRecord, ClassInjunction, CourtOrderRecord, CriminalHistoryRecord, CustodyRecord,
    IdentityRecord, ImmigrationCaseRecord, SourceRecord,
};
use time::macros::{date, datetime};

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
    }
}

fn strong(record: SourceRecord) -> Chosen {
    Chosen {
        record,
        band: Match::Strong,
        corroborated: true,
    }
}

/// An inquiry on which nothing fires: a corroborated strong match of an adult born abroad with
/// a final order and current records, asked by an authorised task-force officer in the field.
fn clean() -> Facts {
    Facts {
        today: TODAY,
        max_age_days: 90,
        chosen: vec![
            strong(SourceRecord::Identity(identity())),
            strong(SourceRecord::ImmigrationCase(case())),
        ],
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
    }
}

fn fired(f: &Facts) -> Vec<String> {
    evaluate(f).into_iter().map(|h| h.rule).collect()
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
                if let SourceRecord::Identity(r) = &mut f.chosen[0].record {
                    r.place_of_birth = Some("MX-JAL".into());
                }
            },
        ),
        (
            "citizenship-indicator",
            |f| {
                if let SourceRecord::Identity(r) = &mut f.chosen[0].record {
                    r.country_of_birth = Some("US".into());
                }
            },
            |f| {
                if let SourceRecord::Identity(r) = &mut f.chosen[0].record {
                    r.country_of_birth = Some("UY".into());
                }
            },
        ),
        (
            "citizenship-indicator",
            |f| {
                f.chosen
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
                for c in &mut f.chosen {
                    c.band = Match::Probable;
                }
            },
            |f| f.chosen[1].band = Match::Probable,
        ),
        (
            "weak-identity",
            |f| {
                for c in &mut f.chosen {
                    c.corroborated = false;
                }
            },
            |f| f.chosen[1].corroborated = false,
        ),
        (
            "minor",
            |f| {
                if let SourceRecord::Identity(r) = &mut f.chosen[0].record {
                    r.dob = Some(date!(2009 - 01 - 10));
                }
            },
            // Eighteen today is an adult.
            |f| {
                if let SourceRecord::Identity(r) = &mut f.chosen[0].record {
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
            |f| f.chosen.push(strong(order(None))),
            |f| f.chosen.push(strong(order(Some(date!(2026 - 11 - 21))))),
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
                f.chosen.push(strong(SourceRecord::CriminalHistory(
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
                f.chosen.remove(1);
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
    for c in &mut f.chosen {
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
    f.chosen.push(strong(SourceRecord::Custody(CustodyRecord {
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
    f.chosen.push(strong(SourceRecord::Custody(CustodyRecord {
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

fn any_record() -> impl Strategy<Value = Chosen> {
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
            Chosen {
                record,
                band: [
                    Match::Strong,
                    Match::Probable,
                    Match::Possible,
                    Match::Unlikely,
                ][usize::from(band)],
                corroborated: band == 0,
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
        f.chosen = chosen;
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
