//! Due process by construction.
//!
//! The hard checks of PRODUCT.md are data ([`RULES`]): each [`Rule`] has an id, a version, the
//! trigger it tests, its outcomes (block, second person, legal review, coordination record, hit
//! confirmation, the juvenile workflow, rejection, unable to confirm, warning), the text shown to
//! the call-taker and its legal basis. [`evaluate`] tests every rule against the [`Facts`] of an
//! inquiry (the subject's whole file — every record of the identity cluster that [`file`]
//! gathers, whoever chose what — with each record's match band, age and why it is in the file;
//! what the caller and the subject said; the caller's authorisation; the encounter; the class
//! injunctions in force, judged on the entry data on file; the legal determinations that stand
//! for this file) and returns every hit with its specific reason. [`determination`] holds a
//! legal reviewer's determination and when it stands. [`disposition`] holds the disposition
//! kinds, which of them the hits allow, and the review workflow whose only road to a final
//! "confirm" goes through the gate; [`juvenile`] the liaison case with its custody timers and
//! welfare checklist; [`disclosure`] what a caller may be told.
//!
//! Pure: no I/O, no clock ("today" is a fact).

#![forbid(unsafe_code)]

pub mod determination;
pub mod disclosure;
pub mod disposition;
pub mod file;
pub mod juvenile;

use serde::{Deserialize, Serialize};
use switchboard_domain::records::{ClassInjunction, RecordKey, SourceRecord, System};
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

/// Why a record is in the subject's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Inclusion {
    /// The call-taker chose it.
    Chosen,
    /// The lookup found it a strong or probable candidate (or a possible one of a system that
    /// carries protections).
    Candidate,
    /// It shares an identifier the officer gave.
    OfficerIdentifier { key: RecordKey },
    /// It shares an identifier with a record already in the file.
    SharesIdentifier { key: RecordKey, with: String },
}

impl Inclusion {
    /// Added by the server rather than chosen by the call-taker.
    pub fn added_by_server(&self) -> bool {
        !matches!(self, Inclusion::Chosen)
    }

    /// In words, for the desk and the review pages.
    pub fn describe(&self) -> String {
        match self {
            Inclusion::Chosen => "chosen by the call-taker".to_owned(),
            Inclusion::Candidate => {
                "a candidate of the lookup close enough to join the file".to_owned()
            }
            Inclusion::OfficerIdentifier { key } => {
                format!("shares the {} the officer gave", key.describe())
            }
            Inclusion::SharesIdentifier { key, with } => {
                format!("shares the {} with record {with}", key.describe())
            }
        }
    }
}

/// A record of the subject's file, as the rules judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Considered {
    pub record: SourceRecord,
    /// Its band in this inquiry's lookup; `None` when the lookup did not rank it (it came in
    /// through an identifier).
    pub band: Option<Match>,
    /// An identifier the officer gave agrees exactly with the record.
    pub corroborated: bool,
    pub why: Inclusion,
}

/// A candidate the call-taker marked "not this person", with the written reason: listed, shown
/// to every reviewer, and not judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    pub record_id: String,
    pub reason: String,
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
    /// The subject's whole file: every record of the identity cluster.
    pub records: Vec<Considered>,
    /// Candidates marked "not this person" (not judged).
    #[serde(default)]
    pub excluded: Vec<Excluded>,
    /// Whether the whole cluster could be gathered (false: it grew past the bound, so the
    /// rules cannot have seen everything).
    #[serde(default = "yes")]
    pub file_complete: bool,
    pub claims: Claims,
    pub caller: Caller,
    pub location: Location,
    /// The subject is in the calling agency's custody.
    pub in_custody: bool,
    pub injunctions: Vec<ClassInjunction>,
    /// The legal determinations recorded about this file, with whether each stands.
    #[serde(default)]
    pub determinations: Vec<determination::Judged>,
    /// Record systems whose feed is older than its allowed lag (or never heard from): any of
    /// them may hold a change the file does not show.
    #[serde(default)]
    pub stale_feeds: Vec<StaleFeed>,
}

/// A record system whose feed has not vouched for it recently enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleFeed {
    pub system: System,
    /// Minutes since the feed last vouched for the system; `None`: never.
    pub minutes_behind: Option<i64>,
    /// The most it may be behind.
    pub max_minutes: i64,
}

/// "3 h 12 min", "2 days 4 h", "45 min".
fn duration_words(minutes: i64) -> String {
    let (d, h, m) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (1, 0, _) => "1 day".to_owned(),
        (d, 0, _) => format!("{d} days"),
        (1, h, _) => format!("1 day {h} h"),
        (d, h, _) => format!("{d} days {h} h"),
    }
}

fn yes() -> bool {
    true
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
    /// Records of the subject are on file: the answer cannot be "no record found".
    RecordsOnFile,
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
    RecordsOnFile,
    MarkedNotThisPerson,
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
        version: 2,
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
        version: 2,
        trigger: Trigger::WeakIdentity,
        outcomes: &[BlockConfirm],
        text: "The identity rests on no strong match corroborated by an identifier (a name-and-birth-date match, a no-match, or foreign birth alone is not an identification).",
        basis: "ICE Policy 10074.2",
        overridable: false,
    },
    Rule {
        id: "minor",
        version: 2,
        trigger: Trigger::Minor,
        outcomes: &[BlockConfirm, JuvenileWorkflow],
        text: "The subject may be under 18 (a birth date on file or given, a claim of minority, or a UAC flag). The juvenile-liaison desk takes the matter; no enforcement outcome is possible.",
        basis: "8 U.S.C. 1232; 45 CFR 410.1702",
        overridable: false,
    },
    Rule {
        id: "protected-application",
        version: 2,
        trigger: Trigger::ProtectedApplication,
        outcomes: &[BlockConfirm, LegalReview, NonDisclosure],
        text: "A protected application (SIJ, T, U or VAWA) or an 8 U.S.C. 1367 protection is on file. Legal review; its existence must not be disclosed to the caller.",
        basis: "8 U.S.C. 1367; INA 101(a)(27)(J)",
        overridable: false,
    },
    Rule {
        id: "pending-relief",
        version: 2,
        trigger: Trigger::PendingRelief,
        outcomes: &[BlockConfirm, LegalReview],
        text: "A pending asylum application, a pending appeal or motion to reopen, or a stay of removal is on file (checked on current data).",
        basis: "8 CFR 1003.6, 1003.23(b)(4)(ii), 241.6",
        overridable: false,
    },
    Rule {
        id: "court-order",
        version: 2,
        trigger: Trigger::CourtOrder,
        outcomes: &[BlockConfirm, LegalReview],
        text: "An active court order names the subject, or the entry data on file puts the subject in the class of an active injunction, or cannot tell (missing or conflicting data): legal review.",
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
        version: 2,
        trigger: Trigger::OtherAgencyRecord,
        outcomes: &[HitConfirmation],
        text: "The hit is in another agency's file: confirm it with the entering agency first (10 minutes urgent, 1 hour routine).",
        basis: "Nlets YQ/YR",
        overridable: true,
    },
    Rule {
        id: "stale-or-missing",
        version: 3,
        trigger: Trigger::StaleOrMissing,
        outcomes: &[BlockConfirm, UnableToConfirm],
        text: "The data needed to confirm is missing, conflicting, older than the allowed age, or from a record system whose feed is behind: the answer is unable to confirm.",
        basis: "Center policy: missing, stale or conflicting data gives unable to confirm",
        overridable: false,
    },
    Rule {
        id: "not-this-person",
        version: 1,
        trigger: Trigger::MarkedNotThisPerson,
        outcomes: &[SecondPerson],
        text: "The call-taker marked records not this person: a second person reviews each mark and its reason before the disposition stands.",
        basis: "Center policy: a \"not this person\" mark needs a written reason and is shown to the second person",
        overridable: false,
    },
    Rule {
        id: "records-on-file",
        version: 1,
        trigger: Trigger::RecordsOnFile,
        outcomes: &[RecordsOnFile],
        text: "Records of the subject are on file: the answer cannot be \"no record found\".",
        basis: "Center policy: \"no record found\" only when nothing strong or probable exists",
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

/// The two-letter codes of the US states, the District of Columbia and the territories, as a
/// place written "City, ST" ends.
const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "PR", "GU", "VI", "AS", "MP",
];

fn is_us(place: &str) -> bool {
    let p = place.trim().to_ascii_uppercase();
    p == "US"
        || p == "USA"
        || p.starts_with("US-")
        || p.ends_with(", US")
        || p.ends_with(" USA")
        || p.rsplit_once(", ")
            .is_some_and(|(_, st)| US_STATES.contains(&st))
}

/// Age in whole years on `day` of someone born on `dob`.
pub fn age_on(dob: Date, day: Date) -> i32 {
    let mut age = day.year() - dob.year();
    if (day.month() as u8, day.day()) < (dob.month() as u8, dob.day()) {
        age -= 1;
    }
    age
}

/// Places of birth on file, as (record id, place).
fn birthplaces(f: &Facts) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in &f.records {
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

/// The country of a place as records write it: `US` for a US place (`US`, `US-TX`,
/// `Houston, TX`), the ISO 3166-1 code of `MX` or `MX-JAL`, and `None` for a place given in
/// words (`Guatemala City`), whose country the rules do not guess.
pub fn country(place: &str) -> Option<String> {
    let p = place.trim().to_ascii_uppercase();
    if is_us(&p) {
        return Some("US".into());
    }
    let code = p.split(['-', ',']).next().unwrap_or("").trim();
    (code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase())).then(|| code.to_owned())
}

/// Whether the file's birthplaces name more than one country, none of them the US (the only
/// disagreement a legal determination may settle).
pub fn foreign_birthplaces_disagree(f: &Facts) -> bool {
    birth_countries(f).len() > 1 && !birthplaces(f).iter().any(|(_, p)| is_us(p))
}

/// The countries the file's birthplaces name (places in words name none), sorted: what a
/// birthplace determination may choose among.
pub fn birth_countries(f: &Facts) -> Vec<String> {
    distinct(birthplaces(f).iter().filter_map(|(_, p)| country(p)))
}

/// The distinct values of something the file says, sorted.
fn distinct<T: Ord + Clone>(v: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = v.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

/// Whether the data on file puts the subject in an injunction's class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "membership")]
pub enum Membership {
    In,
    Out {
        why: String,
    },
    /// Missing or conflicting data: never "out".
    CannotTell {
        why: String,
    },
}

/// A test of one of the class's conditions on the values on file: each value passes or not.
fn condition(what: &str, values: &[String], pass: impl Fn(&str) -> bool) -> Result<bool, String> {
    if values.is_empty() {
        return Err(format!("no {what} on file"));
    }
    let passes: Vec<bool> = values.iter().map(|v| pass(v)).collect();
    if passes.iter().all(|p| *p) {
        Ok(true)
    } else if passes.iter().all(|p| !p) {
        Ok(false)
    } else {
        Err(format!(
            "the records disagree on the {what} ({})",
            values.join(", ")
        ))
    }
}

/// Judges class membership on every record of the file: a condition every value on file meets
/// is met, one no value meets is not, and one with no value or values on both sides cannot be
/// told. A condition certainly not met puts the subject out of the class; otherwise any
/// condition that cannot be told makes the whole answer "cannot tell".
pub fn membership(f: &Facts, inj: &ClassInjunction) -> Membership {
    let countries: Vec<String> = inj
        .countries
        .split(';')
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    // A place in words is a birthplace whose country the data does not say: it keeps the
    // condition from being judged "not met" (it counts as a value of its own).
    let born = distinct(
        birthplaces(f)
            .iter()
            .map(|(_, p)| country(p).unwrap_or_else(|| format!("?{p}"))),
    );
    let entries = distinct(
        f.records
            .iter()
            .filter_map(|c| c.record.entry().and_then(|e| e.entered_on)),
    );
    let dobs = distinct(
        f.records
            .iter()
            .filter_map(|c| c.record.dob())
            .chain(f.claims.dob),
    );
    let mut results: Vec<(String, Result<bool, String>)> = Vec::new();
    if !countries.is_empty() {
        results.push((
            format!("born in {}", countries.join(" or ")),
            match condition("country of birth", &born, |c| {
                countries.iter().any(|x| x == c)
            }) {
                // Not met by a value that is no country code: cannot tell.
                Ok(false) if born.iter().any(|b| b.starts_with('?')) => Err(format!(
                    "a birthplace on file names no country ({})",
                    born.join(", ")
                )),
                other => other,
            },
        ));
    }
    let entry_text: Vec<String> = entries.iter().map(Date::to_string).collect();
    if let Some(by) = inj.entered_on_or_before {
        results.push((
            format!("entered on or before {by}"),
            condition("entry date", &entry_text, |d| {
                entries.iter().any(|e| e.to_string() == d && *e <= by)
            }),
        ));
    }
    if let Some(from) = inj.entered_on_or_after {
        results.push((
            format!("entered on or after {from}"),
            condition("entry date", &entry_text, |d| {
                entries.iter().any(|e| e.to_string() == d && *e >= from)
            }),
        ));
    }
    if let Some(limit) = inj.entered_under_age {
        let ages: Vec<String> = if entries.is_empty() || dobs.is_empty() {
            Vec::new()
        } else {
            distinct(
                entries
                    .iter()
                    .flat_map(|e| dobs.iter().map(move |d| age_on(*d, *e).to_string())),
            )
        };
        let what = if entries.is_empty() {
            "entry date"
        } else if dobs.is_empty() {
            "birth date"
        } else {
            "age at entry"
        };
        results.push((
            format!("entered under age {limit}"),
            condition(what, &ages, |a| {
                a.parse::<i32>().is_ok_and(|a| a < i32::from(limit))
            }),
        ));
    }
    if results.is_empty() {
        return Membership::CannotTell {
            why: "the class is not defined by data on file".to_owned(),
        };
    }
    if let Some((cond, _)) = results.iter().find(|(_, r)| *r == Ok(false)) {
        return Membership::Out {
            why: format!("the records show the subject not {cond}"),
        };
    }
    let unknown: Vec<String> = results
        .iter()
        .filter_map(|(cond, r)| r.as_ref().err().map(|e| format!("{cond}: {e}")))
        .collect();
    if unknown.is_empty() {
        match &inj.further_conditions {
            Some(more) => Membership::CannotTell {
                why: format!(
                    "the records meet the class's conditions on file; whether the subject {more} is not on file"
                ),
            },
            None => Membership::In,
        }
    } else {
        Membership::CannotTell {
            why: unknown.join("; "),
        }
    }
}

/// The determinations standing for this file about `matter`.
fn standing<'a>(
    f: &'a Facts,
    matter: &'a determination::Matter,
) -> impl Iterator<Item = &'a determination::Judged> + 'a {
    f.determinations
        .iter()
        .filter(move |d| &d.determination.matter == matter)
}

/// The finding of the newest standing determination about `matter`, and the words for a
/// determination that no longer stands.
fn determined(
    f: &Facts,
    matter: &determination::Matter,
) -> (Option<determination::Finding>, Vec<String>) {
    let mut finding = None;
    let mut notes = Vec::new();
    for d in standing(f, matter) {
        match &d.standing {
            determination::Standing::InForce => finding = Some(d.determination.finding.clone()),
            other => notes.push(format!(
                "legal determination {} ({}) does not stand: {}",
                d.determination.id,
                d.determination.finding.describe(),
                other.describe()
            )),
        }
    }
    (finding, notes)
}

fn check(t: Trigger, f: &Facts) -> Vec<String> {
    use determination::{Finding, Matter};
    let mut why = Vec::new();
    match t {
        Trigger::CitizenshipIndicator => {
            if f.claims.us_citizen {
                why.push("the subject claims US citizenship".to_owned());
            }
            if f.claims.us_citizen_parent {
                why.push("the subject claims a US-citizen parent".to_owned());
            }
            for c in &f.records {
                if let SourceRecord::Citizenship(x) = &c.record {
                    why.push(format!(
                        "citizenship record {} ({}) is on file",
                        x.record_id, x.kind
                    ));
                }
            }
            let places = birthplaces(f);
            let mut any_us = false;
            for (id, p) in &places {
                if is_us(p) {
                    any_us = true;
                    why.push(format!("record {id} gives a US birthplace ({p})"));
                }
            }
            let countries = distinct(places.iter().filter_map(|(_, p)| country(p)));
            if countries.len() > 1 {
                // A legal determination may settle which foreign country it is; never a US
                // birthplace, which only a citizenship investigation settles.
                let (finding, notes) = determined(f, &Matter::Birthplace);
                let settled = !any_us
                    && matches!(&finding, Some(Finding::BornIn { country }) if countries.contains(country));
                if !settled {
                    why.push(format!(
                        "the records disagree on the birthplace ({})",
                        countries.join(", ")
                    ));
                    why.extend(notes);
                }
            }
        }
        Trigger::WeakIdentity => {
            let strong = f
                .records
                .iter()
                .any(|c| c.band == Some(Match::Strong) && c.corroborated);
            if f.records.is_empty() {
                why.push("no record matches the subject".to_owned());
            } else if !strong {
                why.push(
                    "no record of the file is a strong match corroborated by an identifier the officer gave"
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
            for c in &f.records {
                if let Some(d) = c.record.dob()
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
            for c in &f.records {
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
            for c in &f.records {
                if let SourceRecord::ImmigrationCase(x) = &c.record {
                    // A pending asylum application or motion to reopen: a legal determination
                    // may find that it does not bar removal. Stays, appeals and grants are
                    // never determined away.
                    let mut pending = |item: determination::PendingItem, text: String| {
                        let matter = Matter::Pending {
                            record_id: x.record_id.clone(),
                            item,
                        };
                        let (finding, notes) = determined(f, &matter);
                        if finding != Some(Finding::DoesNotBarRemoval) {
                            why.push(text);
                            why.extend(notes);
                        }
                    };
                    if x.applications
                        .split(';')
                        .any(|a| a.starts_with("asylum:pending"))
                    {
                        pending(
                            determination::PendingItem::AsylumApplication,
                            format!("record {}: asylum application pending", x.record_id),
                        );
                    }
                    if x.motion_to_reopen_pending {
                        pending(
                            determination::PendingItem::MotionToReopen,
                            format!("record {}: motion to reopen pending", x.record_id),
                        );
                    }
                    if ["withholding", "cat", "asylee"].contains(&x.status.as_str()) {
                        why.push(format!("record {}: status {}", x.record_id, x.status));
                    }
                    if x.appeal_pending {
                        why.push(format!("record {}: appeal pending", x.record_id));
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
            for c in &f.records {
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
            for inj in &f.injunctions {
                if inj.issued_on > f.today || inj.expires_on.is_some_and(|e| e < f.today) {
                    continue;
                }
                let class = format!("{} ({}, {})", inj.title, inj.court, inj.docket);
                let (finding, notes) = determined(
                    f,
                    &Matter::ClassMembership {
                        order_id: inj.order_id.clone(),
                    },
                );
                match finding {
                    Some(Finding::NotInClass) => continue,
                    Some(Finding::InClass) => {
                        why.push(format!(
                            "a legal determination puts the subject in the class of {class}"
                        ));
                        continue;
                    }
                    _ => {}
                }
                match membership(f, inj) {
                    Membership::Out { .. } => {}
                    Membership::In => why.push(format!(
                        "the records put the subject in the class of {class}: {}",
                        inj.class_definition
                    )),
                    Membership::CannotTell { why: w } => {
                        why.push(format!(
                            "cannot tell whether the subject is in the class of {class} ({w}): legal must determine it"
                        ));
                        why.extend(notes);
                    }
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
            for c in &f.records {
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
            for feed in &f.stale_feeds {
                let label = feed.system.as_str().replace('_', " ");
                why.push(match feed.minutes_behind {
                    Some(m) => format!(
                        "the {label} feed last vouched for its records {} ago (allowed: {}): they may have changed since",
                        duration_words(m),
                        duration_words(feed.max_minutes)
                    ),
                    None => format!(
                        "no {label} feed has ever vouched for its records: they cannot be trusted as current"
                    ),
                });
            }
            if !f.file_complete {
                why.push(
                    "the subject's file could not be gathered whole (too many records share its identifiers)"
                        .to_owned(),
                );
            }
            let case = f
                .records
                .iter()
                .any(|c| matches!(c.record, SourceRecord::ImmigrationCase(_)));
            if !case {
                why.push(
                    "no immigration case record is on file: status cannot be confirmed".to_owned(),
                );
            }
            for c in &f.records {
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
            let dobs = distinct(f.records.iter().filter_map(|c| c.record.dob()));
            if dobs.len() > 1 {
                why.push(format!(
                    "the records disagree on the birth date ({})",
                    dobs.iter()
                        .map(Date::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Trigger::RecordsOnFile => {
            if !f.records.is_empty() {
                why.push(format!(
                    "{} record{} of the subject on file",
                    f.records.len(),
                    if f.records.len() == 1 { " is" } else { "s are" }
                ));
            }
            // Marking every candidate "not this person" does not make "no record found".
            if !f.excluded.is_empty() {
                why.push(format!(
                    "{} candidate{} marked not this person",
                    f.excluded.len(),
                    if f.excluded.len() == 1 {
                        " was"
                    } else {
                        "s were"
                    }
                ));
            }
        }
        Trigger::MarkedNotThisPerson => {
            for x in &f.excluded {
                why.push(format!(
                    "record {} was marked not this person: {}",
                    x.record_id, x.reason
                ));
            }
        }
    }
    why
}

#[cfg(test)]
mod tests;
