//! The subject's whole file: the identity cluster the rules judge, gathered by the server.
//!
//! The file holds every record the call-taker chose, every strong or probable candidate of the
//! lookup (and every possible one of a system that carries protections: court orders,
//! citizenship records), every record sharing an identifier the officer gave, and — transitively — every
//! record sharing an identifier with a record already in it. The call-taker's choice can add
//! records, never remove one. A candidate the call-taker believes is another person's can be
//! marked "not this person" with a written reason; the mark is refused for a record that is in
//! the file through an identifier (it shares one with a record the file keeps) or that was
//! chosen.
//!
//! [`Gatherer`] is a pure state machine: the caller asks the store for the records under
//! [`Gatherer::wanted`] keys and hands them to [`Gatherer::found`] until nothing is wanted,
//! then takes the file with [`Gatherer::finish`]. It is bounded: a file that grows past its
//! limit is reported incomplete (and the rules answer "unable to confirm").

use std::collections::{BTreeMap, BTreeSet};

use switchboard_domain::records::{RecordKey, SourceRecord};

use crate::{Considered, Excluded, Inclusion, Match};

/// The most records a file holds before it is reported incomplete.
pub const MAX_FILE: usize = 200;

/// The shortest written reason for a "not this person" mark.
pub const MIN_MARK_REASON: usize = 20;

/// How a candidate of the lookup ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranked {
    pub band: Match,
    pub corroborated: bool,
    /// A record of a system that carries protections (a court order, a citizenship record):
    /// such a record joins the file at a `possible` match already, since one that was the
    /// subject's and went unjudged could detain the wrong person. The call-taker rules it out
    /// with a "not this person" mark.
    pub protective: bool,
}

impl Ranked {
    /// Whether the candidate joins the file by its match alone.
    pub fn joins(&self) -> bool {
        matches!(self.band, Match::Strong | Match::Probable)
            || (self.protective && self.band == Match::Possible)
    }
}

/// Why the file cannot be gathered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("record {0} was both chosen and marked not this person")]
    ChosenAndMarked(String),
    #[error("record {record} cannot be marked not this person: it {because}")]
    MarkRefused { record: String, because: String },
    #[error("record {0} is not in the subject's file, so it cannot be marked")]
    MarkNotInFile(String),
    #[error("the reason for marking record {0} not this person must be at least 20 characters")]
    MarkReason(String),
}

/// The file as the rules judge it.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub records: Vec<Considered>,
    pub excluded: Vec<Excluded>,
    pub complete: bool,
}

/// Gathers a file; see the module documentation.
#[derive(Debug, Clone)]
pub struct Gatherer {
    ranked: BTreeMap<String, Ranked>,
    marks: BTreeMap<String, String>,
    chosen: BTreeSet<String>,
    records: BTreeMap<String, Considered>,
    /// Marked candidates, held aside unless an identifier brings them in.
    held: BTreeMap<String, SourceRecord>,
    /// Which record of the file (or `None`: the officer) first brought each key.
    key_from: BTreeMap<RecordKey, Option<String>>,
    asked: BTreeSet<RecordKey>,
    refused: Option<FileError>,
    complete: bool,
    limit: usize,
}

impl Gatherer {
    /// Starts a file from what the inquiry gives: the identifiers the officer gave, the
    /// lookup's candidates with their rank (`ranked`, by record id), the records chosen and
    /// the "not this person" marks (record id → reason).
    pub fn new(
        officer: Vec<RecordKey>,
        ranked: BTreeMap<String, Ranked>,
        chosen: &[String],
        marks: BTreeMap<String, String>,
        limit: usize,
    ) -> Result<Self, FileError> {
        for (id, reason) in &marks {
            if chosen.contains(id) {
                return Err(FileError::ChosenAndMarked(id.clone()));
            }
            if reason.trim().chars().count() < MIN_MARK_REASON {
                return Err(FileError::MarkReason(id.clone()));
            }
        }
        let mut key_from = BTreeMap::new();
        for k in &officer {
            key_from.insert(k.clone(), None);
        }
        Ok(Self {
            ranked,
            marks,
            chosen: chosen.iter().cloned().collect(),
            records: BTreeMap::new(),
            held: BTreeMap::new(),
            key_from,
            asked: BTreeSet::new(),
            refused: None,
            complete: true,
            limit,
        })
    }

    /// The records to fetch by id before anything else: the chosen ones and the candidates
    /// that join by their match ([`Ranked::joins`]; marked ones too, to tell whether an
    /// identifier brings them in).
    pub fn seeds(&self) -> Vec<String> {
        let mut ids: BTreeSet<String> = self.chosen.clone();
        for (id, r) in &self.ranked {
            if r.joins() {
                ids.insert(id.clone());
            }
        }
        ids.into_iter().collect()
    }

    /// Takes the seed records (as fetched by [`Self::seeds`]; a chosen id the store does not
    /// hold is simply absent).
    pub fn seeded(&mut self, records: Vec<SourceRecord>) {
        for r in records {
            let id = r.record_id().to_owned();
            if self.chosen.contains(&id) {
                self.admit(r, Inclusion::Chosen);
            } else if self.marks.contains_key(&id) {
                self.held.insert(id, r);
            } else {
                self.admit(r, Inclusion::Candidate);
            }
        }
    }

    /// The identifiers not yet asked of the store: ask for every record filed under them.
    pub fn wanted(&mut self) -> Vec<RecordKey> {
        if !self.complete {
            return Vec::new();
        }
        let keys: Vec<RecordKey> = self
            .key_from
            .keys()
            .filter(|k| !self.asked.contains(*k))
            .cloned()
            .collect();
        self.asked.extend(keys.iter().cloned());
        keys
    }

    /// Takes the records the store holds under keys from [`Self::wanted`]. `more` says the
    /// store had more than it returned (the answer was cut at its limit).
    pub fn found(&mut self, records: Vec<SourceRecord>, more: bool) {
        if more {
            self.complete = false;
        }
        for r in records {
            let id = r.record_id().to_owned();
            if self.records.contains_key(&id) {
                continue;
            }
            // The key it shares, and with what.
            let Some((key, from)) = r
                .keys()
                .into_iter()
                .find_map(|k| self.key_from.get(&k).map(|f| (k, f.clone())))
            else {
                // The store answered with a record under no key asked for: the two normal
                // forms disagree, so the file cannot be trusted to be whole.
                self.complete = false;
                continue;
            };
            let why = match from {
                None => Inclusion::OfficerIdentifier { key },
                Some(with) => Inclusion::SharesIdentifier { key, with },
            };
            if self.marks.contains_key(&id) && self.refused.is_none() {
                self.refused = Some(FileError::MarkRefused {
                    record: id.clone(),
                    because: why.describe(),
                });
            }
            self.held.remove(&id);
            self.admit(r, why);
        }
    }

    fn admit(&mut self, record: SourceRecord, why: Inclusion) {
        if self.records.len() >= self.limit {
            self.complete = false;
            return;
        }
        let id = record.record_id().to_owned();
        for k in record.keys() {
            self.key_from.entry(k).or_insert_with(|| Some(id.clone()));
        }
        let rank = self.ranked.get(&id).copied();
        let corroborated = rank.is_some_and(|r| r.corroborated);
        self.records.insert(
            id,
            Considered {
                record,
                band: rank.map(|r| r.band),
                corroborated,
                why,
            },
        );
    }

    /// The file, once nothing is wanted. A mark on a record no identifier brought in excludes
    /// it; a mark the file refuses, or on a record not in it, is an error.
    pub fn finish(self) -> Result<File, FileError> {
        if let Some(e) = self.refused {
            return Err(e);
        }
        let mut excluded = Vec::new();
        for (id, reason) in &self.marks {
            if !self.held.contains_key(id) {
                return Err(FileError::MarkNotInFile(id.clone()));
            }
            excluded.push(Excluded {
                record_id: id.clone(),
                reason: reason.trim().to_owned(),
            });
        }
        // Chosen first, then by how the record came in, then by id: a stable order to show.
        let mut records: Vec<Considered> = self.records.into_values().collect();
        records.sort_by_key(|c| {
            (
                c.why.added_by_server(),
                c.band.unwrap_or(Match::Unlikely),
                c.record.record_id().to_owned(),
            )
        });
        Ok(File {
            records,
            excluded,
            complete: self.complete,
        })
    }
}
