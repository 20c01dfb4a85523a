//! Due process by construction.
//!
//! The hard checks of PRODUCT.md are data ([`RULES`]): each [`Rule`] has an id, a version, the
//! trigger it tests, its outcomes (block, second person, legal review, coordination record, hit
//! confirmation, the juvenile workflow, rejection, unable to confirm, warning), the text shown to
//! the call-taker and its legal basis. [`evaluate`] tests every rule against the [`Facts`] of an
//! inquiry (the records chosen as the subject's, with their match band and age; what the caller
//! and the subject said; the caller's authorisation; the encounter; the class injunctions in
//! force) and returns every hit with its specific reason. [`disposition`] holds the disposition
//! kinds, which of them the hits allow, and the review workflow whose only road to a final
//! "confirm" goes through the gate; [`juvenile`] the liaison case with its custody timers and
//! welfare checklist; [`disclosure`] what a caller may be told.
//!
//! Pure: no I/O, no clock ("today" is a fact).

#![forbid(unsafe_code)]

pub mod disclosure;
pub mod disposition;
pub mod juvenile;

use serde::{Deserialize, Serialize};
use switchboard_domain::records::{ClassInjunction, SourceRecord};
use switchboard_domain::{AgencyKind, AgreementModel};
use time::Date;

/// How well a chosen record matches the subject (the matching engine's band).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    Strong,
    Probable,
    Possible,
    Unlikely,
}

impl From<switchboard_matching::Band> for Match {
    fn from(b: switchboard_matching::Band) -> Self {
        match b {
            switchboard_matching::Band::Strong => Match::Strong,
            switchboard_matching::Band::Probable => Match::Probable,
            switchboard_matching::Band::Possible => Match::Possible,
            switchboard_matching::Band::Unlikely => Match::Unlikely,
        }
    }
}

/// A record the call-taker chose as the subject's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    pub record: SourceRecord,
    pub band: Match,
    /// An identifier the officer gave agrees exactly with the record.
    pub corroborated: bool,
}

/// Where the officer meets the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// The agency's jail or lock-up.
    Jail,
    /// A traffic stop, the street, a residence.
    Field,
    Courthouse,
    /// A place listed in 8 U.S.C. 1229(e) (domestic-violence shelter, victim services, family
    /// justice center, …).
    ProtectedPlace,
}

/// What the subject (or the officer for them) claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub us_citizen: bool,
    pub us_citizen_parent: bool,
    pub minor: bool,
    /// Flagged as an unaccompanied alien child.
    pub uac: bool,
    /// The date of birth the officer gave.
    pub dob: Option<Date>,
}

/// The caller as the registry assesses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    pub authorised: bool,
    /// The registry's problem codes (unknown number, expired agreement, uncertified, …).
    pub problems: Vec<String>,
    pub agency_kind: Option<AgencyKind>,
    /// The 287(g) models the caller may act under today.
    pub models: Vec<AgreementModel>,
}

/// Everything the rules look at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub today: Date,
    /// Records older than this many days are stale: they cannot support a confirmation.
    pub max_age_days: i64,
    pub chosen: Vec<Chosen>,
    pub claims: Claims,
    pub caller: Caller,
    pub location: Location,
    /// The subject is in the calling agency's custody.
    pub in_custody: bool,
    pub injunctions: Vec<ClassInjunction>,
}

/// What a rule's hit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// "Confirm enforcement action" is impossible.
    BlockConfirm,
    /// The answer is "unable to confirm": missing, stale or conflicting data.
    UnableToConfirm,
    /// A second person (a supervisor) must approve.
    SecondPerson,
    LegalReview,
    /// Refer for a citizenship investigation.
    CitizenshipInvestigation,
    CoordinationRecord,
    /// Confirm the hit with the agency that entered the record first.
    HitConfirmation,
    /// The juvenile-liaison workflow replaces every enforcement outcome.
    JuvenileWorkflow,
    /// The request is refused: the caller may not ask it.
    Reject,
    /// The protected case's existence must never reach the caller.
    NonDisclosure,
}

/// What a rule tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    CitizenshipIndicator,
    WeakIdentity,
    Minor,
    ProtectedApplication,
    PendingRelief,
    CourtOrder,
    SensitiveLocation,
    PartnerScope,
    OtherAgencyRecord,
    StaleOrMissing,
}

/// A hard check, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub id: &'static str,
    pub version: u32,
    pub trigger: Trigger,
    pub outcomes: &'static [Outcome],
    /// What the call-taker sees.
    pub text: &'static str,
    pub basis: &'static str,
    /// Whether a second person may override it (with a written reason). Blocks that protect
    /// citizens, children, protected applicants and people under court protection never are.
    pub overridable: bool,
}

use Outcome::*;

/// The rules, in the order of PRODUCT.md's table.
pub const RULES: &[Rule] = &[
    Rule {
        id: "citizenship-indicator",
        version: 1,
        trigger: Trigger::CitizenshipIndicator,
        outcomes: &[
            BlockConfirm,
            CitizenshipInvestigation,
            SecondPerson,
            LegalReview,
        ],
        text: "The subject may be a US citizen: a claim, a US birthplace on file, a US-citizen parent, or conflicting birthplaces. Enforcement cannot be confirmed; refer for a citizenship investigation.",
        basis: "ICE Directive 16001.2; GAO-21-487",
        overridable: false,
    },
    Rule {
        id: "weak-identity",
        version: 1,
        trigger: Trigger::WeakIdentity,
        outcomes: &[BlockConfirm],
        text: "The identity rests on no strong match corroborated by an identifier (a name-and-birth-date match, a no-match, or foreign birth alone is not an identification).",
        basis: "ICE Policy 10074.2",
        overridable: false,
    },
    Rule {
        id: "minor",
        version: 1,
        trigger: Trigger::Minor,
        outcomes: &[BlockConfirm, JuvenileWorkflow],
        text: "The subject may be under 18 (a birth date on file or given, a claim of minority, or a UAC flag). The juvenile-liaison desk takes the matter; no enforcement outcome is possible.",
        basis: "8 U.S.C. 1232; 45 CFR 410.1702",
        overridable: false,
    },
    Rule {
        id: "protected-application",
        version: 1,
        trigger: Trigger::ProtectedApplication,
        outcomes: &[BlockConfirm, LegalReview, NonDisclosure],
        text: "A protected application (SIJ, T, U or VAWA) or an 8 U.S.C. 1367 protection is on file. Legal review; its existence must not be disclosed to the caller.",
        basis: "8 U.S.C. 1367; INA 101(a)(27)(J)",
        overridable: false,
    },
    Rule {
        id: "pending-relief",
        version: 1,
        trigger: Trigger::PendingRelief,
        outcomes: &[BlockConfirm, LegalReview],
        text: "A pending asylum application, a pending appeal or motion to reopen, or a stay of removal is on file (checked on current data).",
        basis: "8 CFR 1003.6, 1003.23(b)(4)(ii), 241.6",
        overridable: false,
    },
    Rule {
        id: "court-order",
        version: 1,
        trigger: Trigger::CourtOrder,
        outcomes: &[BlockConfirm, LegalReview],
        text: "An active court order names the subject, or the subject falls within the class of an active injunction.",
        basis: "court-order registry",
        overridable: false,
    },
    Rule {
        id: "sensitive-location",
        version: 1,
        trigger: Trigger::SensitiveLocation,
        outcomes: &[SecondPerson, CoordinationRecord],
        text: "The action would be at a courthouse or a place protected by 8 U.S.C. 1229(e): a supervisor must approve and a coordination record is required.",
        basis: "ICE 11072.3; 8 U.S.C. 1229(e)",
        overridable: false,
    },
    Rule {
        id: "partner-scope",
        version: 1,
        trigger: Trigger::PartnerScope,
        outcomes: &[BlockConfirm, Reject],
        text: "The caller may not ask this: unknown or unauthorised caller, expired agreement, uncertified officer, or a request outside the agreement's model.",
        basis: "8 U.S.C. 1357(g); the MOA",
        overridable: false,
    },
    Rule {
        id: "other-agency-record",
        version: 1,
        trigger: Trigger::OtherAgencyRecord,
        outcomes: &[HitConfirmation],
        text: "The hit is in another agency's file: confirm it with the entering agency first (10 minutes urgent, 1 hour routine).",
        basis: "Nlets YQ/YR",
        overridable: true,
    },
    Rule {
        id: "stale-or-missing",
        version: 1,
        trigger: Trigger::StaleOrMissing,
        outcomes: &[BlockConfirm, UnableToConfirm],
        text: "The data needed to confirm is missing or older than the allowed age: the answer is unable to confirm.",
        basis: "PRODUCT.md: missing, stale or conflicting data gives unable to confirm",
        overridable: false,
    },
];

/// A rule that fired, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub rule: String,
    pub version: u32,
    pub outcomes: Vec<Outcome>,
    pub text: String,
    pub basis: String,
    /// This case's reasons (which record, which field).
    pub reasons: Vec<String>,
    pub overridable: bool,
}

/// Tests every rule; returns every hit.
pub fn evaluate(f: &Facts) -> Vec<Hit> {
    RULES
        .iter()
        .filter_map(|r| {
            let reasons = check(r.trigger, f);
            (!reasons.is_empty()).then(|| Hit {
                rule: r.id.to_owned(),
                version: r.version,
                outcomes: r.outcomes.to_vec(),
                text: r.text.to_owned(),
                basis: r.basis.to_owned(),
                reasons,
                overridable: r.overridable,
            })
        })
        .collect()
}

/// Whether any hit has this outcome.
pub fn has(hits: &[Hit], o: Outcome) -> bool {
    hits.iter().any(|h| h.outcomes.contains(&o))
}

fn is_us(place: &str) -> bool {
    let p = place.trim().to_ascii_uppercase();
    p == "US" || p == "USA" || p.starts_with("US-") || p.ends_with(", US") || p.ends_with(" USA")
}

fn age_on(dob: Date, today: Date) -> i32 {
    let mut age = today.year() - dob.year();
    if (today.month() as u8, today.day()) < (dob.month() as u8, dob.day()) {
        age -= 1;
    }
    age
}

fn dob_of(r: &SourceRecord) -> Option<Date> {
    match r {
        SourceRecord::Identity(x) => x.dob,
        SourceRecord::ImmigrationCase(x) => x.dob,
        SourceRecord::Custody(x) => x.dob,
        SourceRecord::CourtOrder(x) => x.dob,
        SourceRecord::CriminalHistory(x) => x.dob,
        SourceRecord::Citizenship(x) => x.dob,
    }
}

/// Places of birth on file, as (record id, place).
fn birthplaces(f: &Facts) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &f.chosen {
        match &c.record {
            SourceRecord::Identity(x) => {
                if let Some(p) = x.country_of_birth.as_ref().or(x.place_of_birth.as_ref()) {
                    out.push((x.record_id.clone(), p.clone()));
                }
            }
            SourceRecord::Citizenship(x) => {
                if let Some(p) = &x.place_of_birth {
                    out.push((x.record_id.clone(), p.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

fn country(place: &str) -> String {
    let p = place.trim().to_ascii_uppercase();
    if is_us(&p) {
        return "US".into();
    }
    p.split(['-', ',']).next().unwrap_or("").trim().to_owned()
}

fn check(t: Trigger, f: &Facts) -> Vec<String> {
    let mut why = Vec::new();
    match t {
        Trigger::CitizenshipIndicator => {
            if f.claims.us_citizen {
                why.push("the subject claims US citizenship".to_owned());
            }
            if f.claims.us_citizen_parent {
                why.push("the subject claims a US-citizen parent".to_owned());
            }
            for c in &f.chosen {
                if let SourceRecord::Citizenship(x) = &c.record {
                    why.push(format!(
                        "citizenship record {} ({}) is on file",
                        x.record_id, x.kind
                    ));
                }
            }
            let places = birthplaces(f);
            for (id, p) in &places {
                if is_us(p) {
                    why.push(format!("record {id} gives a US birthplace ({p})"));
                }
            }
            let mut countries: Vec<String> = places.iter().map(|(_, p)| country(p)).collect();
            countries.sort();
            countries.dedup();
            if countries.len() > 1 {
                why.push(format!(
                    "the records disagree on the birthplace ({})",
                    countries.join(", ")
                ));
            }
        }
        Trigger::WeakIdentity => {
            let strong = f
                .chosen
                .iter()
                .any(|c| c.band == Match::Strong && c.corroborated);
            if f.chosen.is_empty() {
                why.push("no record matches the subject".to_owned());
            } else if !strong {
                why.push(
                    "no chosen record is a strong match corroborated by an identifier the officer gave"
                        .to_owned(),
                );
            }
        }
        Trigger::Minor => {
            if f.claims.minor {
                why.push("the subject claims to be under 18".to_owned());
            }
            if f.claims.uac {
                why.push("the subject is flagged as an unaccompanied child".to_owned());
            }
            if let Some(d) = f.claims.dob
                && age_on(d, f.today) < 18
            {
                why.push(format!(
                    "the birth date given ({d}) makes the subject under 18"
                ));
            }
            for c in &f.chosen {
                if let Some(d) = dob_of(&c.record)
                    && age_on(d, f.today) < 18
                {
                    why.push(format!(
                        "record {} gives a birth date ({d}) under 18",
                        c.record.record_id()
                    ));
                }
            }
        }
        Trigger::ProtectedApplication => {
            for c in &f.chosen {
                if let SourceRecord::ImmigrationCase(x) = &c.record {
                    if x.protected_1367 {
                        why.push(format!(
                            "record {} carries an 8 U.S.C. 1367 protection",
                            x.record_id
                        ));
                    }
                    for app in x.applications.split(';').filter(|a| !a.is_empty()) {
                        let mut parts = app.split(':');
                        let (kind, state) =
                            (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                        if ["sij", "t", "u", "vawa"].contains(&kind)
                            && ["pending", "approved"].contains(&state)
                        {
                            why.push(format!(
                                "record {} has a {state} {} application",
                                x.record_id,
                                kind.to_ascii_uppercase()
                            ));
                        }
                    }
                }
            }
        }
        Trigger::PendingRelief => {
            for c in &f.chosen {
                if let SourceRecord::ImmigrationCase(x) = &c.record {
                    if x.applications
                        .split(';')
                        .any(|a| a.starts_with("asylum:pending"))
                    {
                        why.push(format!(
                            "record {}: asylum application pending",
                            x.record_id
                        ));
                    }
                    if ["withholding", "cat", "asylee"].contains(&x.status.as_str()) {
                        why.push(format!("record {}: status {}", x.record_id, x.status));
                    }
                    if x.appeal_pending {
                        why.push(format!("record {}: appeal pending", x.record_id));
                    }
                    if x.motion_to_reopen_pending {
                        why.push(format!("record {}: motion to reopen pending", x.record_id));
                    }
                    if let Some(kind) = &x.stay_kind
                        && x.stay_until.is_none_or(|u| u >= f.today)
                    {
                        why.push(format!(
                            "record {}: {kind} in force{}",
                            x.record_id,
                            x.stay_until
                                .map_or(String::new(), |u| format!(" until {u}"))
                        ));
                    }
                }
            }
        }
        Trigger::CourtOrder => {
            for c in &f.chosen {
                if let SourceRecord::CourtOrder(x) = &c.record
                    && x.issued_on <= f.today
                    && x.expires_on.is_none_or(|e| e >= f.today)
                {
                    why.push(format!(
                        "{} {} ({}, docket {}) in force",
                        x.order_kind, x.record_id, x.court, x.docket
                    ));
                }
            }
            let born: Vec<String> = birthplaces(f).iter().map(|(_, p)| country(p)).collect();
            let dob = f
                .chosen
                .iter()
                .find_map(|c| dob_of(&c.record))
                .or(f.claims.dob);
            for inj in &f.injunctions {
                if inj.issued_on > f.today || inj.expires_on.is_some_and(|e| e < f.today) {
                    continue;
                }
                let countries: Vec<String> = inj
                    .countries
                    .split(';')
                    .map(|c| c.trim().to_ascii_uppercase())
                    .filter(|c| !c.is_empty())
                    .collect();
                let country_ok = countries.is_empty() || born.iter().any(|b| countries.contains(b));
                // Entry dates are not on file: a class limited by entry date may include the
                // subject, which is enough to stop and ask legal.
                let age_ok = match (inj.entered_under_age, inj.entered_on_or_before, dob) {
                    (Some(limit), Some(by), Some(d)) => age_on(d, by) < i32::from(limit),
                    _ => true,
                };
                if country_ok
                    && age_ok
                    && (!countries.is_empty() || inj.entered_under_age.is_some())
                {
                    why.push(format!(
                        "the subject may be in the class of {} ({}, {}): {}",
                        inj.title, inj.court, inj.docket, inj.class_definition
                    ));
                }
            }
        }
        Trigger::SensitiveLocation => match f.location {
            Location::Courthouse => why.push("the encounter is at a courthouse".to_owned()),
            Location::ProtectedPlace => {
                why.push("the encounter is at a place protected by 8 U.S.C. 1229(e)".to_owned())
            }
            _ => {}
        },
        Trigger::PartnerScope => {
            if !f.caller.authorised {
                if f.caller.problems.is_empty() {
                    why.push("the caller is not authorised".to_owned());
                }
                for p in &f.caller.problems {
                    why.push(format!("caller: {p}"));
                }
            } else if f.caller.agency_kind == Some(AgencyKind::Partner287g) {
                let field_ok = f.caller.models.contains(&AgreementModel::TaskForce);
                if !f.in_custody && !field_ok {
                    why.push(
                        "the agreement covers only people in the agency's custody, and the subject is not"
                            .to_owned(),
                    );
                }
                if f.caller.models.is_empty() {
                    why.push("no agreement model is in effect for the caller".to_owned());
                }
            }
        }
        Trigger::OtherAgencyRecord => {
            for c in &f.chosen {
                match &c.record {
                    // The facility is not named: it is a whereabouts.
                    SourceRecord::Custody(x) => why.push(format!(
                        "custody record {} is the holding agency's file",
                        x.record_id
                    )),
                    SourceRecord::CriminalHistory(x) => why.push(format!(
                        "criminal history {} is a state repository's file",
                        x.record_id
                    )),
                    _ => {}
                }
            }
        }
        Trigger::StaleOrMissing => {
            let case = f
                .chosen
                .iter()
                .any(|c| matches!(c.record, SourceRecord::ImmigrationCase(_)));
            if !case {
                why.push(
                    "no immigration case record is chosen: status cannot be confirmed".to_owned(),
                );
            }
            for c in &f.chosen {
                let updated = c.record.updated_on();
                let age = (f.today - updated).whole_days();
                if age > f.max_age_days {
                    why.push(format!(
                        "record {} was last updated {updated}, {age} days ago (limit {})",
                        c.record.record_id(),
                        f.max_age_days
                    ));
                }
            }
        }
    }
    why
}

#[cfg(test)]
mod tests;
