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
}
