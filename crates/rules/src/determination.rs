//! Legal determinations: a legal reviewer's finding on a question the rules cannot settle from
//! data (is the subject in an injunction's class; does a pending matter bar removal; which
//! foreign country is the birthplace when the records disagree), approved by a second legal
//! reviewer.
//!
//! A determination is an input to the rules, never a decision: the rules take its finding as a
//! fact only while it [stands](Standing::InForce) — approved, not expired, and the file it was
//! made on unchanged. Any record new to the file, changed or gone since reopens it. It can
//! never settle a US birthplace, a citizenship claim, a stay, an appeal or a grant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A pending matter a determination may address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingItem {
    AsylumApplication,
    MotionToReopen,
}

/// What a determination is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Matter {
    /// Whether the subject is in the class of a class injunction.
    ClassMembership { order_id: String },
    /// Whether a pending matter of an immigration case record bars removal.
    Pending {
        record_id: String,
        item: PendingItem,
    },
    /// Which (foreign) country the subject was born in, when the records disagree.
    Birthplace,
}

impl Matter {
    pub fn describe(&self) -> String {
        match self {
            Matter::ClassMembership { order_id } => {
                format!("membership of the class of {order_id}")
            }
            Matter::Pending { record_id, item } => format!(
                "whether the {} of record {record_id} bars removal",
                match item {
                    PendingItem::AsylumApplication => "pending asylum application",
                    PendingItem::MotionToReopen => "pending motion to reopen",
                }
            ),
            Matter::Birthplace => "the country of birth".to_owned(),
        }
    }
}

/// What legal found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    InClass,
    NotInClass,
    BarsRemoval,
    DoesNotBarRemoval,
    /// Born in this country (ISO 3166-1 alpha-2, never `US`).
    BornIn {
        country: String,
    },
}

impl Finding {
    pub fn describe(&self) -> String {
        match self {
            Finding::InClass => "in the class".to_owned(),
            Finding::NotInClass => "not in the class".to_owned(),
            Finding::BarsRemoval => "bars removal".to_owned(),
            Finding::DoesNotBarRemoval => "does not bar removal".to_owned(),
            Finding::BornIn { country } => format!("born in {country}"),
        }
    }

    fn fits(&self, matter: &Matter) -> bool {
        match (matter, self) {
            (Matter::ClassMembership { .. }, Finding::InClass | Finding::NotInClass) => true,
            (Matter::Pending { .. }, Finding::BarsRemoval | Finding::DoesNotBarRemoval) => true,
            (Matter::Birthplace, Finding::BornIn { country }) => {
                country.len() == 2
                    && country.chars().all(|c| c.is_ascii_uppercase())
                    && country != "US"
            }
            _ => false,
        }
    }
}

/// A record as it stood when the determination was made: its id and the digest of its
/// contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordState {
    pub record_id: String,
    pub digest: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Recorded by one legal reviewer; waits for a second.
    PendingApproval,
    Approved,
    Refused,
}

/// Whether a determination stands for a file now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "standing", rename_all = "snake_case")]
pub enum Standing {
    InForce,
    AwaitingApproval,
    Refused,
    Expired {
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// The file changed since it was made: legal must determine it again.
    Reopened {
        why: Vec<String>,
    },
}

impl Standing {
    pub fn describe(&self) -> String {
        match self {
            Standing::InForce => "in force".to_owned(),
            Standing::AwaitingApproval => "awaiting a second legal reviewer".to_owned(),
            Standing::Refused => "refused by the second legal reviewer".to_owned(),
            Standing::Expired { at } => format!("expired {}", at.date()),
            Standing::Reopened { why } => format!("reopened: {}", why.join("; ")),
        }
    }
}

/// Why a determination cannot be made or moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeterminationError {
    #[error("the finding {0:?} does not answer {1}")]
    FindingDoesNotFit(String, String),
    #[error("a determination needs a written reason of at least 20 characters")]
    NoReason,
    #[error("a determination needs its legal basis (3 to 500 characters)")]
    NoBasis,
    #[error("the same legal reviewer cannot approve or refuse their own determination")]
    SamePerson,
    #[error("a determination in state {0:?} cannot do that")]
    WrongState(State),
    #[error("a determination is made on the subject's file; the file is empty")]
    EmptyFile,
}

/// A legal determination and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Determination {
    pub id: String,
    pub matter: Matter,
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
    pub basis: String,
    pub recorded_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    pub state: State,
    pub second: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub refusal: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// The file it was made on.
    pub records: Vec<RecordState>,
    /// The disposition whose inquiry named the subject (to gather the file again at approval).
    #[serde(default)]
    pub disposition: Option<String>,
}

impl Determination {
    /// Records a determination on the file as it is now (`records`); it waits for a second
    /// legal reviewer.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        id: String,
        matter: Matter,
        finding: Finding,
        reason: &str,
        basis: &str,
        by: &str,
        now: OffsetDateTime,
        records: Vec<RecordState>,
    ) -> Result<Self, DeterminationError> {
        if !finding.fits(&matter) {
            return Err(DeterminationError::FindingDoesNotFit(
                finding.describe(),
                matter.describe(),
            ));
        }
        if reason.trim().chars().count() < 20 {
            return Err(DeterminationError::NoReason);
        }
        let b = basis.trim().chars().count();
        if !(3..=500).contains(&b) {
            return Err(DeterminationError::NoBasis);
        }
        if records.is_empty() {
            return Err(DeterminationError::EmptyFile);
        }
        Ok(Self {
            id,
            matter,
            finding,
            reason: reason.trim().to_owned(),
            basis: basis.trim().to_owned(),
            recorded_by: by.to_owned(),
            recorded_at: now,
            state: State::PendingApproval,
            second: None,
            decided_at: None,
            refusal: None,
            expires_at: None,
            records,
            disposition: None,
        })
    }

    /// A second legal reviewer approves: it stands for `valid_for` from when it was recorded
    /// (a late approval does not lengthen it).
    pub fn approve(
        &mut self,
        by: &str,
        now: OffsetDateTime,
        valid_for: time::Duration,
    ) -> Result<(), DeterminationError> {
        self.second_person(by)?;
        self.state = State::Approved;
        self.second = Some(by.to_owned());
        self.decided_at = Some(now);
        self.expires_at = Some(self.recorded_at + valid_for);
        Ok(())
    }

    /// A second legal reviewer refuses it, with a reason.
    pub fn refuse(
        &mut self,
        by: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), DeterminationError> {
        self.second_person(by)?;
        if reason.trim().chars().count() < 20 {
            return Err(DeterminationError::NoReason);
        }
        self.state = State::Refused;
        self.second = Some(by.to_owned());
        self.decided_at = Some(now);
        self.refusal = Some(reason.trim().to_owned());
        Ok(())
    }

    fn second_person(&self, by: &str) -> Result<(), DeterminationError> {
        if self.state != State::PendingApproval {
            return Err(DeterminationError::WrongState(self.state));
        }
        if by == self.recorded_by {
            return Err(DeterminationError::SamePerson);
        }
        Ok(())
    }

    /// Whether it stands now for a file whose records have these digests (`live`: every record
    /// of the current file, and every record the determination was made on, by id; `None`
    /// for a record that no longer exists). It stands only for the very file it was made on:
    /// a record new to the file, no longer in it, changed or gone reopens it.
    pub fn standing(
        &self,
        now: OffsetDateTime,
        file: &[String],
        live: &BTreeMap<String, Option<String>>,
    ) -> Standing {
        match self.state {
            State::PendingApproval => return Standing::AwaitingApproval,
            State::Refused => return Standing::Refused,
            State::Approved => {}
        }
        let mut why = Vec::new();
        for id in file {
            if !self.records.iter().any(|r| &r.record_id == id) {
                why.push(format!("record {id} is new to the file"));
            }
        }
        for r in &self.records {
            if !file.contains(&r.record_id) {
                why.push(format!("record {} is no longer in the file", r.record_id));
                continue;
            }
            match live.get(&r.record_id) {
                Some(Some(d)) if *d == r.digest => {}
                Some(Some(_)) => why.push(format!("record {} changed", r.record_id)),
                Some(None) => why.push(format!("record {} was removed", r.record_id)),
                // Not asked about: treated as changed, so a determination never stands on
                // records nobody looked at.
                None => why.push(format!("record {} could not be checked", r.record_id)),
            }
        }
        if !why.is_empty() {
            return Standing::Reopened { why };
        }
        match self.expires_at {
            Some(at) if at <= now => Standing::Expired { at },
            None => Standing::Expired { at: now },
            Some(_) => Standing::InForce,
        }
    }
}

/// A determination with whether it stands for the file being judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Judged {
    pub determination: Determination,
    pub standing: Standing,
}

/// The questions these facts put to legal: a class injunction in force whose membership the
/// data cannot settle (or puts the subject in), a pending asylum application or motion to
/// reopen, foreign birthplaces that disagree (never a US one). Only these can be determined.
pub fn raised(f: &crate::Facts) -> Vec<Matter> {
    use switchboard_domain::records::SourceRecord;
    let mut out = Vec::new();
    for inj in &f.injunctions {
        if inj.issued_on > f.today || inj.expires_on.is_some_and(|e| e < f.today) {
            continue;
        }
        if !matches!(crate::membership(f, inj), crate::Membership::Out { .. }) {
            out.push(Matter::ClassMembership {
                order_id: inj.order_id.clone(),
            });
        }
    }
    for c in &f.records {
        if let SourceRecord::ImmigrationCase(x) = &c.record {
            if x.applications
                .split(';')
                .any(|a| a.starts_with("asylum:pending"))
            {
                out.push(Matter::Pending {
                    record_id: x.record_id.clone(),
                    item: PendingItem::AsylumApplication,
                });
            }
            if x.motion_to_reopen_pending {
                out.push(Matter::Pending {
                    record_id: x.record_id.clone(),
                    item: PendingItem::MotionToReopen,
                });
            }
        }
    }
    if crate::foreign_birthplaces_disagree(f) {
        out.push(Matter::Birthplace);
    }
    out
}
