//! Records as the record systems hold them: raw, as entered by someone else, possibly wrong.
//!
//! Nothing here is parsed into the validated newtypes: a record's A-number may carry a
//! transposed digit, its name a typo, its birth date be blank. The matching engine compares
//! these with what a caller says; the rules judge them. Every record names its source
//! [`System`] and carries the day it was last updated, so staleness is always visible.

use serde::{Deserialize, Serialize};
use time::Date;

/// The record sources a center checks.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum System {
    Identity,
    ImmigrationCase,
    Custody,
    CourtOrder,
    CriminalHistory,
    Citizenship,
}

impl System {
    pub const ALL: [System; 6] = [
        System::Identity,
        System::ImmigrationCase,
        System::Custody,
        System::CourtOrder,
        System::CriminalHistory,
        System::Citizenship,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            System::Identity => "identity",
            System::ImmigrationCase => "immigration_case",
            System::Custody => "custody",
            System::CourtOrder => "court_order",
            System::CriminalHistory => "criminal_history",
            System::Citizenship => "citizenship",
        }
    }

    pub fn parse(s: &str) -> Option<System> {
        System::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRecord {
    pub record_id: String,
    pub a_number: String,
    pub fin: String,
    pub family_name: String,
    pub given_name: String,
    /// Other names on file, separated by `;`.
    pub aliases: String,
    pub dob: Option<Date>,
    pub sex: Option<String>,
    pub country_of_birth: Option<String>,
    pub place_of_birth: Option<String>,
    pub updated_on: Date,
    /// The day the person (first) entered the United States, as this record has it (absent
    /// for older records and where the file does not say).
    #[serde(default)]
    pub entered_on: Option<Date>,
    /// The port or place of entry, as written.
    #[serde(default)]
    pub entry_place: Option<String>,
    /// The manner or class of admission (see [`Entry::admission_class`]).
    #[serde(default)]
    pub admission_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImmigrationCaseRecord {
    pub record_id: String,
    pub a_number: String,
    pub family_name: String,
    pub given_name: String,
    pub dob: Option<Date>,
    pub status: String,
    /// `kind:state:filed_on` entries separated by `;` (kinds: asylum, sij, t, u, vawa).
    pub applications: String,
    /// Any 8 U.S.C. 1367 protection: its existence must never be disclosed to a caller.
    pub protected_1367: bool,
    pub next_hearing_on: Option<Date>,
    pub appeal_pending: bool,
    pub motion_to_reopen_pending: bool,
    pub final_order_on: Option<Date>,
    pub stay_kind: Option<String>,
    pub stay_until: Option<Date>,
    pub updated_on: Date,
    /// The day the person (first) entered the United States, as this record has it (absent
    /// for older records and where the file does not say).
    #[serde(default)]
    pub entered_on: Option<Date>,
    /// The port or place of entry, as written.
    #[serde(default)]
    pub entry_place: Option<String>,
    /// The manner or class of admission (see [`Entry::admission_class`]).
    #[serde(default)]
    pub admission_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyRecord {
    pub record_id: String,
    pub a_number: Option<String>,
    /// "LAST, FIRST" as the booking officer wrote it.
    pub subject_name: String,
    pub dob: Option<Date>,
    pub sex: Option<String>,
    pub facility: String,
    pub booked_on: Date,
    pub released_on: Option<Date>,
    pub updated_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CourtOrderRecord {
    pub record_id: String,
    pub order_kind: String,
    pub court: String,
    pub docket: String,
    pub a_number: Option<String>,
    pub family_name: String,
    pub given_name: String,
    pub dob: Option<Date>,
    pub issued_on: Date,
    pub expires_on: Option<Date>,
    pub updated_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriminalHistoryRecord {
    pub record_id: String,
    pub fbi_number: String,
    pub state_id: String,
    /// NCIC style: "FAMILY, GIVEN", upper case, no diacritics.
    pub name: String,
    pub dob: Option<Date>,
    pub sex: Option<String>,
    /// `ncic_code@date:disposition` entries separated by `;`.
    pub offenses: String,
    pub updated_on: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CitizenshipRecord {
    pub record_id: String,
    pub kind: String,
    pub document_number: String,
    pub family_name: String,
    pub given_name: String,
    pub dob: Option<Date>,
    pub place_of_birth: Option<String>,
    pub issued_on: Date,
    pub updated_on: Date,
}

/// How a person entered the United States, as one record holds it. Every field may be missing,
/// and two records of the same person may disagree: class injunctions are judged on all of
/// them, and a gap or a disagreement is "cannot tell", never "not in the class".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The day of the (first) entry.
    #[serde(default)]
    pub entered_on: Option<Date>,
    /// The port or place of entry, as written.
    #[serde(default)]
    pub entry_place: Option<String>,
    /// The manner or class of admission: `ewi` (entered without inspection), a visa class
    /// (`b2`, `f1`, `h2a`, …), `parole`, `refugee`, `immigrant_visa`.
    #[serde(default)]
    pub admission_class: Option<String>,
}

impl Entry {
    pub fn is_empty(&self) -> bool {
        self.entered_on.is_none() && self.entry_place.is_none() && self.admission_class.is_none()
    }
}

/// The kinds of identifier that tie records of one person together across systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    ANumber,
    Fin,
    Fbi,
    StateId,
    Document,
}

impl KeyKind {
    pub const ALL: [KeyKind; 5] = [
        KeyKind::ANumber,
        KeyKind::Fin,
        KeyKind::Fbi,
        KeyKind::StateId,
        KeyKind::Document,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::ANumber => "a_number",
            KeyKind::Fin => "fin",
            KeyKind::Fbi => "fbi",
            KeyKind::StateId => "state_id",
            KeyKind::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What a person calls it.
    pub fn label(self) -> &'static str {
        match self {
            KeyKind::ANumber => "A-number",
            KeyKind::Fin => "FIN",
            KeyKind::Fbi => "FBI number",
            KeyKind::StateId => "state id",
            KeyKind::Document => "document number",
        }
    }
}

/// An identifier in its normal form: the key under which the store files a record (the
/// `source_record_keys` table computes the same form in SQL; see [`RecordKey::normal`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RecordKey {
    pub kind: KeyKind,
    pub value: String,
}

impl RecordKey {
    /// The longest identifier value kept as a key: anything longer is not an identifier.
    pub const MAX_LEN: usize = 32;

    /// The shortest identifier value kept as a key.
    pub const MIN_LEN: usize = 4;

    /// The normal form of a raw identifier: ASCII upper case, without spaces, hyphens, periods
    /// and slashes; an A-number also without its leading `A`s and zeros (so `A012345678`,
    /// `012-345-678` and `12345678` are one key). `None` unless what is left is
    /// [`Self::MIN_LEN`] to [`Self::MAX_LEN`] ASCII letters and digits with at least one digit:
    /// placeholders such as `UNKNOWN`, `N/A` or `0000` are no identifier, and must not tie
    /// unrelated people's records together. The store's migrations compute exactly this in SQL.
    pub fn normal(kind: KeyKind, raw: &str) -> Option<RecordKey> {
        let mut v: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '/'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if kind == KeyKind::ANumber {
            v = v.trim_start_matches('A').trim_start_matches('0').to_owned();
        }
        let ok = (Self::MIN_LEN..=Self::MAX_LEN).contains(&v.len())
            && v.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && v.chars().any(|c| c.is_ascii_digit());
        ok.then_some(RecordKey { kind, value: v })
    }

    /// How a person reads it.
    pub fn describe(&self) -> String {
        match self.kind {
            KeyKind::ANumber => format!("A-number A{:0>9}", self.value),
            k => format!("{} {}", k.label(), self.value),
        }
    }
}

/// A record of any system, tagged with its system (the stored and exchanged form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "system", rename_all = "snake_case")]
pub enum SourceRecord {
    Identity(IdentityRecord),
    ImmigrationCase(ImmigrationCaseRecord),
    Custody(CustodyRecord),
    CourtOrder(CourtOrderRecord),
    CriminalHistory(CriminalHistoryRecord),
    Citizenship(CitizenshipRecord),
}

impl SourceRecord {
    pub fn system(&self) -> System {
        match self {
            SourceRecord::Identity(_) => System::Identity,
            SourceRecord::ImmigrationCase(_) => System::ImmigrationCase,
            SourceRecord::Custody(_) => System::Custody,
            SourceRecord::CourtOrder(_) => System::CourtOrder,
            SourceRecord::CriminalHistory(_) => System::CriminalHistory,
            SourceRecord::Citizenship(_) => System::Citizenship,
        }
    }

    pub fn record_id(&self) -> &str {
        match self {
            SourceRecord::Identity(r) => &r.record_id,
            SourceRecord::ImmigrationCase(r) => &r.record_id,
            SourceRecord::Custody(r) => &r.record_id,
            SourceRecord::CourtOrder(r) => &r.record_id,
            SourceRecord::CriminalHistory(r) => &r.record_id,
            SourceRecord::Citizenship(r) => &r.record_id,
        }
    }

    /// The identifiers that tie this record to others of the same person, normalised.
    pub fn keys(&self) -> Vec<RecordKey> {
        let raw: Vec<(KeyKind, &str)> = match self {
            SourceRecord::Identity(r) => {
                vec![(KeyKind::ANumber, &r.a_number), (KeyKind::Fin, &r.fin)]
            }
            SourceRecord::ImmigrationCase(r) => vec![(KeyKind::ANumber, &r.a_number)],
            SourceRecord::Custody(r) => r
                .a_number
                .iter()
                .map(|a| (KeyKind::ANumber, a.as_str()))
                .collect(),
            SourceRecord::CourtOrder(r) => r
                .a_number
                .iter()
                .map(|a| (KeyKind::ANumber, a.as_str()))
                .collect(),
            SourceRecord::CriminalHistory(r) => {
                vec![
                    (KeyKind::Fbi, &r.fbi_number),
                    (KeyKind::StateId, &r.state_id),
                ]
            }
            SourceRecord::Citizenship(r) => vec![(KeyKind::Document, &r.document_number)],
        };
        let mut keys: Vec<RecordKey> = raw
            .into_iter()
            .filter_map(|(k, v)| RecordKey::normal(k, v))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The birth date this record gives.
    pub fn dob(&self) -> Option<Date> {
        match self {
            SourceRecord::Identity(x) => x.dob,
            SourceRecord::ImmigrationCase(x) => x.dob,
            SourceRecord::Custody(x) => x.dob,
            SourceRecord::CourtOrder(x) => x.dob,
            SourceRecord::CriminalHistory(x) => x.dob,
            SourceRecord::Citizenship(x) => x.dob,
        }
    }

    /// The entry data this record holds, if its system keeps any.
    pub fn entry(&self) -> Option<Entry> {
        let (entered_on, entry_place, admission_class) = match self {
            SourceRecord::Identity(x) => (x.entered_on, &x.entry_place, &x.admission_class),
            SourceRecord::ImmigrationCase(x) => (x.entered_on, &x.entry_place, &x.admission_class),
            _ => return None,
        };
        Some(Entry {
            entered_on,
            entry_place: entry_place.clone(),
            admission_class: admission_class.clone(),
        })
    }

    pub fn updated_on(&self) -> Date {
        match self {
            SourceRecord::Identity(r) => r.updated_on,
            SourceRecord::ImmigrationCase(r) => r.updated_on,
            SourceRecord::Custody(r) => r.updated_on,
            SourceRecord::CourtOrder(r) => r.updated_on,
            SourceRecord::CriminalHistory(r) => r.updated_on,
            SourceRecord::Citizenship(r) => r.updated_on,
        }
    }
}

/// A class injunction: a court's definition of a protected class, not a record of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassInjunction {
    pub order_id: String,
    pub court: String,
    pub docket: String,
    pub title: String,
    /// The class in words, as the order defines it.
    pub class_definition: String,
    /// Countries of birth in the class, separated by `;` (empty: any).
    pub countries: String,
    /// Members entered the United States on or before this day, when the class says so.
    pub entered_on_or_before: Option<Date>,
    /// Members were under this age when they entered, when the class says so.
    pub entered_under_age: Option<u8>,
    pub issued_on: Date,
    pub expires_on: Option<Date>,
    /// Members entered the United States on or after this day, when the class says so.
    #[serde(default)]
    pub entered_on_or_after: Option<Date>,
    /// The class's conditions that no record holds (continuous residence, a child separated at
    /// the border, …), in words: data alone can then put a subject out of the class, never in.
    #[serde(default)]
    pub further_conditions: Option<String>,
}

/// The longest record id a feed may send.
pub const RECORD_ID_MAX: usize = 64;
/// The longest text field of a record (a name, a court, a place).
pub const RECORD_TEXT_MAX: usize = 200;
/// The longest list-like field (aliases, applications), whose items are separated by `;`.
pub const RECORD_LIST_MAX: usize = 2_000;

/// A control character, or a bidirectional formatting character that can make text display as
/// something else (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
pub fn is_control_or_bidi(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Something wrong with one field of a record a feed sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordProblem {
    /// The field, as named in the record's JSON.
    pub field: String,
    /// Stable code: `record_id`, `too_long`, `control_character`, `future_date`,
    /// `implausible_date`, `unknown_field`, `malformed`.
    pub code: &'static str,
    pub message: String,
}

impl RecordProblem {
    fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// Reads one record as a feed sends it (the stored JSON shape), naming every problem: a field
/// the record's system does not have, a missing or mistyped one, and whatever
/// [`SourceRecord::problems`] finds.
pub fn read_record(
    value: &serde_json::Value,
    today: Date,
) -> Result<SourceRecord, Vec<RecordProblem>> {
    let record: SourceRecord = match serde_json::from_value(value.clone()) {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            // serde names the field in backquotes: "missing field `given_name`".
            let field = message
                .split('`')
                .nth(1)
                .filter(|f| f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or("record")
                .to_owned();
            return Err(vec![RecordProblem {
                field,
                code: "malformed",
                message,
            }]);
        }
    };
    let mut problems = Vec::new();
    if let (Some(sent), Ok(serde_json::Value::Object(known))) =
        (value.as_object(), serde_json::to_value(&record))
    {
        for k in sent.keys().filter(|k| !known.contains_key(*k)) {
            problems.push(RecordProblem::new(
                k,
                "unknown_field",
                format!("a {} record has no field {k:?}", record.system().as_str()),
            ));
        }
    }
    problems.extend(record.problems(today));
    if problems.is_empty() {
        Ok(record)
    } else {
        Err(problems)
    }
}

impl SourceRecord {
    /// What a feed may not send: an id outside 1–[`RECORD_ID_MAX`] characters of letters,
    /// digits and `-_.:`; text over [`RECORD_TEXT_MAX`] characters ([`RECORD_LIST_MAX`] for
    /// aliases and applications) or holding control characters; a birth date or an update
    /// after `today` (a day's grace for an update, across time zones); a date before 1850 or
    /// after 2200.
    pub fn problems(&self, today: Date) -> Vec<RecordProblem> {
        let mut out = Vec::new();
        let id = self.record_id();
        if id.is_empty()
            || id.chars().count() > RECORD_ID_MAX
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        {
            out.push(RecordProblem::new(
                "record_id",
                "record_id",
                format!(
                    "a record id is 1 to {RECORD_ID_MAX} letters, digits, '-', '_', '.' or ':'"
                ),
            ));
        }
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(self) else {
            return out;
        };
        for (name, v) in &fields {
            let Some(text) = v.as_str() else { continue };
            if name == "record_id" || name == "system" {
                continue;
            }
            let max = if matches!(name.as_str(), "aliases" | "applications") {
                RECORD_LIST_MAX
            } else {
                RECORD_TEXT_MAX
            };
            if text.chars().count() > max {
                out.push(RecordProblem::new(
                    name,
                    "too_long",
                    format!("at most {max} characters"),
                ));
            }
            if text.chars().any(is_control_or_bidi) {
                out.push(RecordProblem::new(
                    name,
                    "control_character",
                    "control characters (and bidirectional overrides) are not allowed",
                ));
            }
        }
        let dates = [("dob", self.dob()), ("updated_on", Some(self.updated_on()))];
        for (name, d) in dates {
            let Some(d) = d else { continue };
            let latest = if name == "dob" {
                today
            } else {
                today.next_day().unwrap_or(today)
            };
            if d > latest {
                out.push(RecordProblem::new(
                    name,
                    "future_date",
                    format!("{d} is after today ({today})"),
                ));
            }
        }
        for (name, v) in &fields {
            let Some(d) = v.as_str().and_then(|s| {
                Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
            }) else {
                continue;
            };
            if !(1850..=2200).contains(&d.year()) {
                out.push(RecordProblem::new(
                    name,
                    "implausible_date",
                    format!("{d} is not a plausible date"),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod feed_tests {
    use super::*;
    use time::macros::date;

    fn order() -> serde_json::Value {
        serde_json::json!({
            "system": "court_order", "record_id": "ORD-1", "order_kind": "stay_of_removal",
            "court": "EOIR", "docket": "26-1", "a_number": "204815672", "family_name": "Nunez",
            "given_name": "Ana", "dob": "1990-01-02", "issued_on": "2026-12-01",
            "expires_on": null, "updated_on": "2026-12-04"
        })
    }

    #[test]
    fn a_feed_record_is_read_or_every_problem_named() {
        let today = date!(2026 - 12 - 04);
        let r = read_record(&order(), today).unwrap();
        assert_eq!(r.system(), System::CourtOrder);

        let mut v = order();
        v["given_name"] = "A\u{202e}na".into();
        v["court"] = "x".repeat(201).into();
        v["record_id"] = "ORD 1".into();
        v["dob"] = "2027-01-01".into();
        v["colour"] = "red".into();
        let problems = read_record(&v, today).unwrap_err();
        let codes: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code))
            .collect();
        for want in [
            ("colour", "unknown_field"),
            ("record_id", "record_id"),
            ("court", "too_long"),
            ("given_name", "control_character"),
            ("dob", "future_date"),
        ] {
            assert!(codes.contains(&want), "{want:?} in {codes:?}");
        }

        let mut v = order();
        v.as_object_mut().unwrap().remove("given_name");
        let p = read_record(&v, today).unwrap_err();
        assert_eq!(
            (p[0].field.as_str(), p[0].code),
            ("given_name", "malformed")
        );
        let mut v = order();
        v["system"] = "horoscope".into();
        assert_eq!(read_record(&v, today).unwrap_err()[0].code, "malformed");
        let mut v = order();
        v["issued_on"] = "1201-01-01".into();
        assert_eq!(
            read_record(&v, today).unwrap_err()[0].code,
            "implausible_date"
        );
    }
}
