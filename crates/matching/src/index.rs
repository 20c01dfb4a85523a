//! The in-memory index over every record of the record systems, for single-subject lookups.
//!
//! Records are kept compactly (their text in one arena, a few numbers beside it) and prepared
//! for comparison only when they are candidates. The model is trained on the records
//! themselves when the index is built, without labels.
//!
//! A lookup returns ranked candidates, each with its probability, band, the waterfall of
//! evidence, and warnings. Beyond the probability, a candidate is never "strong" when data
//! conflicts (an identifier, a name or the birth date that disagrees) or when two different
//! files fit the description equally (a same-name, same-birth-date look-alike): accuracy before
//! convenience, since a false match can detain the wrong person.

use std::collections::HashMap;

use serde::Serialize;
use switchboard_domain::records::{SourceRecord, System};
use time::Date;

use crate::block::{self, BlockIndex, Postings};
use crate::compare::{Kind, NULL, Ymd, name_level};
use crate::linker::{self, Band, SessionReport};
use crate::model::{Evidence, Field, Gamma, Model, Row, TermFrequencies, Value, gamma};
use crate::text::PhoneticCache;
use crate::train::{self, SplitMix};

/// Fields of the record model, in order.
const GIVEN: usize = 0;
const FAMILY: usize = 1;
const DOB: usize = 2;
const SEX: usize = 3;
const COUNTRY: usize = 4;
const PLACE: usize = 5;
const A_NUMBER: usize = 6;
const FBI: usize = 7;
const STATE_ID: usize = 8;

pub(crate) fn record_fields() -> Vec<Field> {
    let f = |name: &str, kind: Kind| Field {
        name: name.into(),
        kind,
        column: name.into(),
        term_frequency: kind == Kind::Name,
        swap_with: None,
        a_number: false,
    };
    let mut v = vec![
        f("given_name", Kind::Name),
        f("family_name", Kind::Name),
        f("date_of_birth", Kind::Date),
        f("sex", Kind::Categorical),
        f("country_of_birth", Kind::Categorical),
        f("place_of_birth", Kind::Text),
        f("a_number", Kind::Identifier),
        f("fbi_number", Kind::Identifier),
        f("state_id", Kind::Identifier),
    ];
    v[GIVEN].swap_with = Some(FAMILY);
    v[FAMILY].swap_with = Some(GIVEN);
    v[A_NUMBER].a_number = true;
    v
}

/// The subject as the officer describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Query {
    pub given: String,
    pub family: String,
    pub dob: Option<Date>,
    /// "M", "F" or "X".
    pub sex: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub birth_country: Option<String>,
    pub birth_place: Option<String>,
    pub a_number: Option<String>,
    pub fbi_number: Option<String>,
    pub state_id: Option<String>,
}

impl Query {
    /// From the center's subject form: a two-letter place of birth is a country code.
    pub fn from_subject(s: &switchboard_domain::Subject) -> Self {
        let join = |v: &[switchboard_domain::Name]| {
            v.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(" ")
        };
        let pob = s
            .place_of_birth
            .as_ref()
            .map(|p| p.as_str().trim().to_owned());
        let (country, place) = match pob {
            Some(p) if p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()) => {
                (Some(p.to_ascii_uppercase()), None)
            }
            other => (None, other),
        };
        Self {
            given: join(&s.given_names),
            family: join(&s.family_names),
            dob: s.date_of_birth,
            sex: s.sex.map(|x| x.as_str().to_owned()),
            birth_country: country,
            birth_place: place,
            a_number: s.a_number.as_ref().map(|a| a.to_string()),
            fbi_number: s.fbi_number.as_ref().map(|n| n.as_str().to_owned()),
            state_id: s.state_id.as_ref().map(|n| n.as_str().to_owned()),
        }
    }
}

/// A record kept compactly: its text fields in the arena, separated by U+001F. `start` with
/// [`TAIL`] set points into the tail arena (records filed after the build).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) start: u64,
    pub(crate) len: u32,
    pub(crate) system: u8,
    pub(crate) updated: i32,
}

/// The bit of [`Stored::start`] that says "in the tail arena".
pub(crate) const TAIL: u64 = 1 << 63;

/// A change to apply to the index in place.
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// A new record, or a new version of one (by record id).
    Upsert(&'a SourceRecord),
    /// A record gone, by record id.
    Delete(&'a str),
}

/// The key a record id is found under.
fn id_key(record_id: &str) -> u32 {
    block::key(&[b"rid", record_id.as_bytes()])
}

/// The postings a record (and each of its aliases) is filed under.
fn record_postings(
    fields: &[Field],
    row: &Row,
    aliases: &str,
    codes: &mut dyn FnMut(&str) -> crate::text::Codes,
    row_no: u32,
    keys: &mut Vec<u32>,
    out: &mut Vec<u64>,
) {
    block::index_keys(fields, row, keys);
    out.extend(keys.iter().map(|k| BlockIndex::posting(*k, row_no)));
    for (_, alias) in alias_rows(fields, row, aliases, codes) {
        block::index_keys(fields, &alias, keys);
        out.extend(keys.iter().map(|k| BlockIndex::posting(*k, row_no)));
    }
}

/// Text fields of a stored record, in arena order.
/// Owned (`String`) while a record is filed, borrowed from the arena (`&str`) when read back,
/// so a lookup allocates nothing to read a candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RecordText<S = String> {
    record_id: S,
    given: S,
    family: S,
    aliases: S,
    dob: S,
    sex: S,
    country: S,
    place: S,
    a_number: S,
    fbi: S,
    state_id: S,
    fin: S,
    document: S,
}

type RecordView<'a> = RecordText<&'a str>;

impl<S: AsRef<str>> RecordText<S> {
    fn fields(&self) -> [&str; RecordText::<String>::FIELDS] {
        [
            self.record_id.as_ref(),
            self.given.as_ref(),
            self.family.as_ref(),
            self.aliases.as_ref(),
            self.dob.as_ref(),
            self.sex.as_ref(),
            self.country.as_ref(),
            self.place.as_ref(),
            self.a_number.as_ref(),
            self.fbi.as_ref(),
            self.state_id.as_ref(),
            self.fin.as_ref(),
            self.document.as_ref(),
        ]
    }

    fn view(&self) -> RecordView<'_> {
        let f = self.fields();
        RecordText {
            record_id: f[0],
            given: f[1],
            family: f[2],
            aliases: f[3],
            dob: f[4],
            sex: f[5],
            country: f[6],
            place: f[7],
            a_number: f[8],
            fbi: f[9],
            state_id: f[10],
            fin: f[11],
            document: f[12],
        }
    }
}

impl<'a> RecordText<&'a str> {
    fn read(s: &'a str) -> Self {
        let mut it = s.split('\u{1f}');
        let mut next = || it.next().unwrap_or_default();
        Self {
            record_id: next(),
            given: next(),
            family: next(),
            aliases: next(),
            dob: next(),
            sex: next(),
            country: next(),
            place: next(),
            a_number: next(),
            fbi: next(),
            state_id: next(),
            fin: next(),
            document: next(),
        }
    }
}

impl RecordText {
    const FIELDS: usize = 13;

    fn of(r: &SourceRecord) -> Self {
        let d = |d: Option<Date>| d.map(|d| Ymd::of(d).to_string()).unwrap_or_default();
        let o = |s: &Option<String>| s.clone().unwrap_or_default();
        match r {
            SourceRecord::Identity(x) => Self {
                record_id: x.record_id.clone(),
                given: x.given_name.clone(),
                family: x.family_name.clone(),
                aliases: x.aliases.clone(),
                dob: d(x.dob),
                sex: o(&x.sex),
                country: o(&x.country_of_birth),
                place: o(&x.place_of_birth),
                a_number: x.a_number.clone(),
                fin: x.fin.clone(),
                ..Self::default()
            },
            SourceRecord::ImmigrationCase(x) => Self {
                record_id: x.record_id.clone(),
                given: x.given_name.clone(),
                family: x.family_name.clone(),
                dob: d(x.dob),
                a_number: x.a_number.clone(),
                ..Self::default()
            },
            SourceRecord::Custody(x) => {
                let (family, given) = split_comma_name(&x.subject_name);
                Self {
                    record_id: x.record_id.clone(),
                    given,
                    family,
                    dob: d(x.dob),
                    sex: o(&x.sex),
                    a_number: o(&x.a_number),
                    ..Self::default()
                }
            }
            SourceRecord::CourtOrder(x) => Self {
                record_id: x.record_id.clone(),
                given: x.given_name.clone(),
                family: x.family_name.clone(),
                dob: d(x.dob),
                a_number: o(&x.a_number),
                ..Self::default()
            },
            SourceRecord::CriminalHistory(x) => {
                let (family, given) = split_comma_name(&x.name);
                Self {
                    record_id: x.record_id.clone(),
                    given,
                    family,
                    dob: d(x.dob),
                    sex: o(&x.sex),
                    fbi: x.fbi_number.clone(),
                    state_id: x.state_id.clone(),
                    ..Self::default()
                }
            }
            SourceRecord::Citizenship(x) => Self {
                record_id: x.record_id.clone(),
                given: x.given_name.clone(),
                family: x.family_name.clone(),
                dob: d(x.dob),
                place: o(&x.place_of_birth),
                country: if x.kind == "us_birth_record" {
                    "US".into()
                } else {
                    String::new()
                },
                document: x.document_number.clone(),
                ..Self::default()
            },
        }
    }

    fn write(&self, arena: &mut String) {
        for (i, f) in self.fields().iter().enumerate() {
            if i > 0 {
                arena.push('\u{1f}');
            }
            // The separator cannot appear inside a field.
            arena.extend(f.chars().map(|c| if c == '\u{1f}' { ' ' } else { c }));
        }
    }
}

/// "LAST, FIRST" as booking and NCIC files write names: (family, given). Without a comma, the
/// last word is taken as the family name.
pub fn split_comma_name(s: &str) -> (String, String) {
    match s.split_once(',') {
        Some((f, g)) => (f.trim().to_owned(), g.trim().to_owned()),
        None => match s.trim().rsplit_once(' ') {
            Some((g, f)) => (f.to_owned(), g.to_owned()),
            None => (s.trim().to_owned(), String::new()),
        },
    }
}

fn sex_code(s: &str) -> &'static str {
    match s.trim().to_ascii_uppercase().as_str() {
        "M" | "MALE" => "m",
        "F" | "FEMALE" => "f",
        "" => "",
        _ => "x",
    }
}

fn prepare_text(
    fields: &[Field],
    t: &RecordView<'_>,
    codes: &mut dyn FnMut(&str) -> crate::text::Codes,
) -> Row {
    let raw = [
        t.given,
        t.family,
        t.dob,
        sex_code(t.sex),
        t.country,
        t.place,
        t.a_number,
        t.fbi,
        t.state_id,
    ];
    fields
        .iter()
        .zip(raw)
        .map(|(f, r)| crate::model::prepare(f, r, codes))
        .collect()
}

/// The rows an alias list adds: each alias as "given family…" (first word given, the rest
/// family).
fn alias_rows(
    fields: &[Field],
    base: &Row,
    aliases: &str,
    codes: &mut dyn FnMut(&str) -> crate::text::Codes,
) -> Vec<(String, Row)> {
    aliases
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            let (g, f) = a.split_once(' ').unwrap_or((a, ""));
            let mut row = base.clone();
            row[GIVEN] = crate::model::prepare(&fields[GIVEN], g, codes);
            row[FAMILY] = crate::model::prepare(&fields[FAMILY], f, codes);
            (a.to_owned(), row)
        })
        .collect()
}

/// How the index was built and trained.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct BuildReport {
    pub records: usize,
    pub postings: usize,
    pub index_bytes: usize,
    pub training_rows: usize,
    pub random_pairs: usize,
    pub sessions: Vec<SessionReport>,
    pub unlearned: Vec<String>,
    pub prior: f64,
    pub strong_threshold: f64,
}

/// Options for lookups.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LookupOptions {
    /// Records not updated for longer than this are flagged stale.
    pub stale_after_days: i64,
    /// At most this many candidates are returned.
    pub limit: usize,
    /// Candidates below this probability are not returned.
    pub min_probability: f64,
}

impl Default for LookupOptions {
    fn default() -> Self {
        Self {
            stale_after_days: 365,
            limit: 20,
            min_probability: 0.01,
        }
    }
}

/// A record as a candidate shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordSummary {
    pub system: System,
    pub record_id: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Option<String>,
    pub sex: Option<String>,
    pub country_of_birth: Option<String>,
    pub place_of_birth: Option<String>,
    pub a_number: Option<String>,
    pub fbi_number: Option<String>,
    pub state_id: Option<String>,
    pub updated_on: Date,
}

/// Something a call-taker must see beside a candidate.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Stable code: conflicting_identifier, name_differs, date_of_birth_differs,
    /// date_of_birth_partial, no_date_of_birth_compared, identifier_partial, not_corroborated,
    /// sex_differs, birthplace_differs, us_birthplace, missing, stale,
    /// ambiguous, alias, name_order_swapped.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub code: &'static str,
    pub message: String,
}

/// One ranked candidate record.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub record: RecordSummary,
    pub probability: f64,
    pub match_weight: f64,
    pub band: Band,
    /// The band the probability alone would give, before conflicts and ambiguity capped it.
    pub band_before_checks: Band,
    /// An identifier the officer gave agrees exactly with the record's: the match does not
    /// rest on names and birth date alone.
    pub corroborated: bool,
    pub prior_weight: f64,
    pub evidence: Vec<Evidence>,
    pub warnings: Vec<Warning>,
    /// How old the record is, in days, on the day of the lookup.
    pub age_days: i64,
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lookup {
    pub candidates: Vec<Candidate>,
    /// Records compared.
    pub compared: usize,
    /// Blocking keys too common to be used (the query said too little).
    pub skipped_keys: usize,
    pub strong_threshold: f64,
    /// The change-log position of the index that answered.
    pub position: i64,
}

/// The index.
///
/// Built in bulk and trained once, then kept current in place: [`RecordIndex::apply`] files new
/// records and new versions in a tail arena and a delta of postings, and marks replaced and
/// deleted rows dead; lookups never see a dead row. The model (and its term frequencies) stays
/// as trained until the next build.
#[derive(Debug)]
pub struct RecordIndex {
    pub(crate) fields: Vec<Field>,
    pub(crate) model: Model,
    pub(crate) arena: String,
    /// Text of records filed after the build.
    pub(crate) tail: String,
    pub(crate) stored: Vec<Stored>,
    pub(crate) blocks: Postings,
    /// Record id → rows (see [`id_key`]); a row's own text says which id it holds.
    pub(crate) ids: Postings,
    /// One bit per row: replaced or deleted.
    pub(crate) dead: Vec<u64>,
    pub(crate) dead_rows: usize,
    /// Rows filed since the build.
    pub(crate) added: usize,
    pub(crate) years: std::ops::RangeInclusive<i32>,
    pub(crate) threshold: f64,
    pub(crate) codes: PhoneticCache,
    /// Records holding an A-number, an FBI number, a state id.
    pub(crate) id_counts: [u64; 3],
    pub(crate) report: BuildReport,
    /// The change-log position the index reflects.
    pub(crate) position: i64,
}

const MAX_BLOCK: usize = 5_000;

fn days(d: Date) -> i32 {
    d.to_julian_day()
}

impl RecordIndex {
    /// Builds the index from every record and trains its model on them.
    pub fn build(records: impl IntoIterator<Item = SourceRecord>, seed: u64) -> Self {
        let fields = record_fields();
        let mut codes = PhoneticCache::default();
        let mut arena = String::new();
        let mut stored = Vec::new();
        let mut postings = Vec::new();
        let mut keys = Vec::new();
        let mut tf_given: HashMap<String, u64> = HashMap::new();
        let mut tf_family: HashMap<String, u64> = HashMap::new();
        let (mut ymin, mut ymax) = (i32::MAX, i32::MIN);
        let mut id_counts = [0u64; 3];
        let sessions = linker::sessions(&fields);
        let mut session_postings: Vec<Vec<u64>> = vec![Vec::new(); sessions.len()];
        let mut id_postings = Vec::new();
        for r in records {
            let text = RecordText::of(&r);
            let start = arena.len() as u64;
            text.write(&mut arena);
            let row_no = stored.len() as u32;
            stored.push(Stored {
                start,
                len: (arena.len() as u64 - start) as u32,
                system: r.system() as u8,
                updated: days(r.updated_on()),
            });
            let row = prepare_text(&fields, &text.view(), &mut |w| codes.get(w));
            for (k, f) in [A_NUMBER, FBI, STATE_ID].into_iter().enumerate() {
                id_counts[k] += u64::from(!row[f].is_null());
            }
            if let Value::Date(Some(d)) = &row[DOB] {
                ymin = ymin.min(d.year);
                ymax = ymax.max(d.year);
            }
            for (i, map) in [(GIVEN, &mut tf_given), (FAMILY, &mut tf_family)] {
                if let Some(k) = row[i].tf_key() {
                    *map.entry(k).or_default() += 1;
                }
            }
            for (s, out) in sessions.iter().zip(session_postings.iter_mut()) {
                keys.clear();
                s.keys(&fields, &row, &mut keys);
                out.extend(keys.iter().map(|k| BlockIndex::posting(*k, row_no)));
            }
            record_postings(
                &fields,
                &row,
                &text.aliases,
                &mut |w| codes.get(w),
                row_no,
                &mut keys,
                &mut postings,
            );
            id_postings.push(BlockIndex::posting(id_key(&text.record_id), row_no));
        }
        arena.shrink_to_fit();
        stored.shrink_to_fit();
        let blocks = Postings::new(BlockIndex::from_postings(postings));
        let ids = Postings::new(BlockIndex::from_postings(id_postings));
        let dead = vec![0; stored.len().div_ceil(64)];
        #[allow(clippy::reversed_empty_ranges)] // an index without dates asks no years
        let years = if ymin <= ymax { ymin..=ymax } else { 1..=0 };
        let mut index = Self {
            model: Model::untrained(fields.clone()),
            fields,
            arena,
            tail: String::new(),
            stored,
            blocks,
            ids,
            dead,
            dead_rows: 0,
            added: 0,
            years,
            threshold: 1.0,
            codes,
            id_counts,
            report: BuildReport::default(),
            position: 0,
        };
        index.model.tf[GIVEN] = Some(TermFrequencies::from_counts(tf_given));
        index.model.tf[FAMILY] = Some(TermFrequencies::from_counts(tf_family));
        let session_blocks: Vec<(linker::Session, BlockIndex)> = sessions
            .into_iter()
            .zip(session_postings)
            .map(|(s, p)| (s, BlockIndex::from_postings(p)))
            .collect();
        index.train(seed, &session_blocks);
        index
    }

    fn text(&self, i: u32) -> RecordView<'_> {
        let s = self.stored[i as usize];
        let (arena, start) = if s.start & TAIL != 0 {
            (&self.tail, (s.start & !TAIL) as usize)
        } else {
            (&self.arena, s.start as usize)
        };
        RecordText::read(&arena[start..start + s.len as usize])
    }

    fn is_live(&self, row: u32) -> bool {
        self.dead
            .get(row as usize / 64)
            .is_some_and(|w| w & (1 << (row % 64)) == 0)
    }

    /// The live rows holding this record id.
    fn rows_of(&self, record_id: &str) -> Vec<u32> {
        self.ids
            .rows(id_key(record_id))
            .filter(|&r| self.is_live(r) && self.text(r).record_id == record_id)
            .collect()
    }

    /// Whether a record with this id is in the index.
    pub fn contains(&self, record_id: &str) -> bool {
        !self.rows_of(record_id).is_empty()
    }

    fn kill(&mut self, row: u32) {
        let w = &mut self.dead[row as usize / 64];
        if *w & (1 << (row % 64)) == 0 {
            *w |= 1 << (row % 64);
            self.dead_rows += 1;
        }
    }

    /// Applies changes in place, in order, and records the change-log position they bring the
    /// index to. A new version of a record replaces the old one; deleting a record the index
    /// does not hold does nothing, so a change applied twice leaves the same index.
    pub fn apply<'a>(&mut self, changes: impl IntoIterator<Item = Change<'a>>, position: i64) {
        let mut postings = Vec::new();
        let mut id_postings = Vec::new();
        let mut keys = Vec::new();
        for c in changes {
            let id = match c {
                Change::Upsert(r) => r.record_id(),
                Change::Delete(id) => id,
            };
            for row in self.rows_of(id) {
                self.kill(row);
            }
            // Rows filed earlier in this batch are not in the id postings yet.
            let pending: Vec<u32> = id_postings
                .iter()
                .map(|p: &u64| *p as u32)
                .filter(|&r| self.is_live(r) && self.text(r).record_id == id)
                .collect();
            for row in pending {
                self.kill(row);
            }
            let Change::Upsert(r) = c else { continue };
            let text = RecordText::of(r);
            let row_no = self.stored.len() as u32;
            let start = self.tail.len() as u64;
            text.write(&mut self.tail);
            if self.stored.len() == self.stored.capacity() {
                self.stored.reserve_exact(self.stored.len() / 16 + 1024);
            }
            self.stored.push(Stored {
                start: start | TAIL,
                len: (self.tail.len() as u64 - start) as u32,
                system: r.system() as u8,
                updated: days(r.updated_on()),
            });
            if self.dead.len() * 64 < self.stored.len() {
                self.dead.push(0);
            }
            let codes = &mut self.codes;
            let row = prepare_text(&self.fields, &text.view(), &mut |w| codes.get(w));
            if let Value::Date(Some(d)) = &row[DOB] {
                let (lo, hi) = (*self.years.start(), *self.years.end());
                self.years = if lo <= hi {
                    lo.min(d.year)..=hi.max(d.year)
                } else {
                    d.year..=d.year
                };
            }
            let codes = &mut self.codes;
            record_postings(
                &self.fields,
                &row,
                &text.aliases,
                &mut |w| codes.get(w),
                row_no,
                &mut keys,
                &mut postings,
            );
            id_postings.push(BlockIndex::posting(id_key(&text.record_id), row_no));
            self.added += 1;
        }
        self.blocks.add(postings);
        self.ids.add(id_postings);
        self.position = self.position.max(position);
    }

    /// The change-log position the index reflects.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// Sets the position a freshly built index reflects (read before its records were).
    pub fn set_position(&mut self, position: i64) {
        self.position = position;
    }

    /// Rows filed and rows dropped since the build: what a rebuild would fold in.
    pub fn changes_since_build(&self) -> (usize, usize) {
        (self.added, self.dead_rows)
    }

    fn row(&self, i: u32, memo: &mut PhoneticCache) -> (RecordView<'_>, Row) {
        let t = self.text(i);
        let row = prepare_text(&self.fields, &t, &mut |w| match self.codes.known(w) {
            Some(c) => c,
            None => memo.get(w),
        });
        (t, row)
    }

    fn train(&mut self, seed: u64, session_blocks: &[(linker::Session, BlockIndex)]) {
        let n = self.stored.len();
        let mut report = BuildReport {
            records: n,
            postings: self.blocks.len(),
            index_bytes: self.bytes(),
            ..BuildReport::default()
        };
        if n < 2 {
            self.report = report;
            return;
        }
        let mut rng = SplitMix::new(seed ^ 0x1dea);
        let mut memo = PhoneticCache::default();
        // u: random pairs over the whole index.
        // Samples grow with the index up to a fixed size: enough for every level to show.
        let randoms: Vec<Gamma> = (0..200_000.min(n.saturating_mul(20)))
            .map(|_| {
                let i = rng.below(n) as u32;
                let mut j = rng.below(n) as u32;
                if j == i {
                    j = (j + 1) % n as u32;
                }
                gamma(
                    &self.fields,
                    &self.row(i, &mut memo).1,
                    &self.row(j, &mut memo).1,
                )
            })
            .collect();
        report.random_pairs = randoms.len();
        train::estimate_u(&mut self.model, &train::tally(randoms));
        // Identifiers are (nearly) unique: two random records share one with chance about one
        // in the number on file, far rarer than a random sample can show.
        for (f, count) in [
            (A_NUMBER, self.id_counts[0]),
            (FBI, self.id_counts[1]),
            (STATE_ID, self.id_counts[2]),
        ] {
            if count > 0 {
                let u = &mut self.model.params[f].u;
                u[0] = u[0].min(1.0 / count as f64);
                let rest: f64 = u[1..].iter().sum();
                let scale = (1.0 - u[0]) / rest;
                for x in &mut u[1..] {
                    *x *= scale;
                }
            }
        }

        // m: EM sessions over pairs drawn from the whole index that share a session's key (a
        // birth date, a whole name's sound, an A-number).
        let runs: Vec<(linker::Session, Vec<Gamma>)> = session_blocks
            .iter()
            .map(|(session, blocks)| {
                let pairs = blocks.sample_pairs(&mut rng, 100_000.min(n.saturating_mul(10)));
                let gammas = pairs
                    .iter()
                    .map(|&(a, b)| {
                        gamma(
                            &self.fields,
                            &self.row(a, &mut memo).1,
                            &self.row(b, &mut memo).1,
                        )
                    })
                    .collect();
                (session.clone(), gammas)
            })
            .collect();
        report.training_rows = runs.iter().map(|r| r.1.len()).sum();
        let (sessions, unlearned) = linker::learn_m_from(&mut self.model, runs);
        report.sessions = sessions;
        report.unlearned = unlearned;

        // Pairs as lookups see them: random records against their candidates.
        let seeds: Vec<u32> = (0..4_000.min(n / 2 + 1))
            .map(|_| rng.below(n) as u32)
            .collect();
        let mut keys = Vec::new();
        let mut cands = Vec::new();
        let mut seed_pairs: Vec<(u32, u32)> = Vec::new();
        for &s in &seeds {
            let (_, row) = self.row(s, &mut memo);
            block::query_keys(&self.fields, &row, self.years.clone(), &mut keys);
            self.blocks
                .candidates(&keys, MAX_BLOCK, linker::MAX_CANDIDATES, &mut cands, |_| {
                    true
                });
            seed_pairs.extend(cands.iter().filter(|&&c| c != s).map(|&c| (s, c)));
        }

        // The prior and the strong threshold, over the pairs lookups see.
        let scored: Vec<(Gamma, Row)> = seed_pairs
            .iter()
            .map(|&(a, b)| {
                let (_, ra) = self.row(a, &mut memo);
                let (_, rb) = self.row(b, &mut memo);
                (gamma(&self.fields, &ra, &rb), rb)
            })
            .collect();
        self.model.prior = 0.5;
        let bits: Vec<f64> = scored
            .iter()
            .map(|(g, r)| self.model.score(g, r).match_weight)
            .collect();
        self.model.prior = train::estimate_random_prior(&bits, seeds.len(), n - 1);
        let probs: Vec<f64> = scored
            .iter()
            .map(|(g, r)| self.model.score(g, r).probability)
            .collect();
        self.threshold =
            train::choose_threshold(&probs, linker::STRONG_PRECISION, linker::STRONG_FLOOR);
        report.prior = self.model.prior;
        report.strong_threshold = self.threshold;
        self.report = report;
    }

    /// Records in the index (live rows).
    pub fn len(&self) -> usize {
        self.stored.len() - self.dead_rows
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn report(&self) -> &BuildReport {
        &self.report
    }

    pub fn strong_threshold(&self) -> f64 {
        self.threshold
    }

    /// Heap bytes held: arena, records, postings and the phonetic code cache (its table and
    /// keys; allocator overhead not counted).
    pub fn bytes(&self) -> usize {
        self.arena.capacity()
            + self.tail.capacity()
            + self.stored.capacity() * std::mem::size_of::<Stored>()
            + self.blocks.bytes()
            + self.ids.bytes()
            + self.dead.capacity() * 8
            + self.codes.bytes()
    }

    fn query_row(&self, q: &Query, memo: &mut PhoneticCache) -> Row {
        let d = q.dob.map(|d| Ymd::of(d).to_string()).unwrap_or_default();
        let o = |s: &Option<String>| s.clone().unwrap_or_default();
        let raw = [
            q.given.clone(),
            q.family.clone(),
            d,
            sex_code(&o(&q.sex)).to_owned(),
            o(&q.birth_country),
            o(&q.birth_place),
            o(&q.a_number),
            o(&q.fbi_number),
            o(&q.state_id),
        ];
        self.fields
            .iter()
            .zip(raw.iter())
            .map(|(f, r)| crate::model::prepare(f, r, &mut |w| memo.get(w)))
            .collect()
    }

    /// Looks a subject up: ranked candidates with explanations.
    pub fn lookup(&self, q: &Query, today: Date, opts: &LookupOptions) -> Lookup {
        let mut memo = PhoneticCache::default();
        let qrow = self.query_row(q, &mut memo);
        let mut keys = Vec::new();
        block::query_keys(&self.fields, &qrow, self.years.clone(), &mut keys);
        let mut cands = Vec::new();
        let skipped =
            self.blocks
                .candidates(&keys, MAX_BLOCK, linker::MAX_CANDIDATES, &mut cands, |r| {
                    self.is_live(r)
                });
        struct Hit<'a> {
            row_no: u32,
            text: RecordView<'a>,
            row: Row,
            gamma: Gamma,
            weight: f64,
            alias: Option<String>,
        }
        let mut hits: Vec<Hit> = cands
            .iter()
            .map(|&i| {
                let (text, row) = self.row(i, &mut memo);
                let g = gamma(&self.fields, &qrow, &row);
                let w = self.model.score(&g, &row).match_weight;
                let mut hit = Hit {
                    row_no: i,
                    text,
                    row,
                    gamma: g,
                    weight: w,
                    alias: None,
                };
                if !text.aliases.is_empty() {
                    for (alias, arow) in
                        alias_rows(&self.fields, &hit.row, text.aliases, &mut |w| memo.get(w))
                    {
                        let g = gamma(&self.fields, &qrow, &arow);
                        let w = self.model.score(&g, &arow).match_weight;
                        if w > hit.weight {
                            (hit.gamma, hit.weight, hit.alias, hit.row) = (g, w, Some(alias), arow);
                        }
                    }
                }
                hit
            })
            .collect();
        hits.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let compared = hits.len();
        let min_w = crate::model::log2_odds(opts.min_probability);
        hits.retain(|h| h.weight >= min_w);
        hits.truncate(opts.limit.max(1));

        let checked: Vec<(Vec<Warning>, Band)> = hits
            .iter()
            .map(|h| {
                let s = self.stored[h.row_no as usize];
                self.checks(&qrow, &h.gamma, &h.text, s, today, opts)
            })
            .collect();
        // Only a clean, likely candidate makes another file's candidates ambiguous.
        let contenders: Vec<(&RecordView<'_>, &Gamma, bool)> = hits
            .iter()
            .zip(&checked)
            .map(|(h, (_, cap))| {
                let p = crate::model::probability_of(h.weight);
                (&h.text, &h.gamma, *cap == Band::Strong && p >= 0.8)
            })
            .collect();
        let ambiguous = self.ambiguity(&qrow, &contenders);
        let prior_weight = crate::model::log2_odds(self.model.prior);
        let candidates = hits
            .into_iter()
            .zip(checked)
            .enumerate()
            .map(|(k, (h, (warnings, cap)))| {
                let s = self.stored[h.row_no as usize];
                let probability = crate::model::probability_of(h.weight);
                let before = Band::of(probability, self.threshold);
                let evidence = self.model.explain(&h.gamma, &qrow, &h.row);
                let (mut warnings, mut cap) = (warnings, cap);
                if let Some(other) = &ambiguous[k] {
                    warnings.push(Warning {
                        code: "ambiguous",
                        message: format!(
                            "another file fits this description as well ({other}): the records cannot tell which person is meant"
                        ),
                    });
                    cap = cap.max(Band::Possible);
                }
                if let Some(alias) = &h.alias {
                    warnings.push(Warning {
                        code: "alias",
                        message: format!("matched on the alias \"{alias}\", not the primary name"),
                    });
                }
                if h.gamma.swapped {
                    warnings.push(Warning {
                        code: "name_order_swapped",
                        message: "given and family names are swapped in this record".into(),
                    });
                }
                let corroborated = [A_NUMBER, FBI, STATE_ID]
                    .iter()
                    .any(|&f| h.gamma.levels[f] == 0);
                Candidate {
                    record: summary(System::ALL[s.system as usize], &h.text, s),
                    probability,
                    match_weight: h.weight,
                    band: before.max(cap),
                    band_before_checks: before,
                    corroborated,
                    prior_weight,
                    evidence,
                    warnings,
                    age_days: i64::from(days(today) - s.updated),
                }
            })
            .collect();
        Lookup {
            candidates,
            compared,
            skipped_keys: skipped,
            strong_threshold: self.threshold,
            position: self.position,
        }
    }

    /// Conflicts, gaps and staleness, and the best band they allow.
    fn checks(
        &self,
        q: &Row,
        g: &Gamma,
        t: &RecordView<'_>,
        s: Stored,
        today: Date,
        opts: &LookupOptions,
    ) -> (Vec<Warning>, Band) {
        let mut w = Vec::new();
        let mut cap = Band::Strong;
        let lv = |f: usize| g.levels[f];
        for (f, what) in [
            (A_NUMBER, "A-number"),
            (FBI, "FBI number"),
            (STATE_ID, "state id"),
        ] {
            if lv(f) == self.fields[f].kind.disagree() {
                w.push(Warning {
                    code: "conflicting_identifier",
                    message: format!(
                        "the {what} differs: given {}, record {}",
                        q[f].display(),
                        t.fields()[[8, 9, 10][f - A_NUMBER]]
                    ),
                });
                cap = cap.max(Band::Possible);
            } else if lv(f) == 1 {
                // A transposed pair or one wrong digit is the commonest clerical error; the
                // weight already counts it, and the call-taker sees it.
                w.push(Warning {
                    code: "identifier_partial",
                    message: format!("the {what} agrees only with one digit wrong or transposed"),
                });
            }
        }
        for (f, what) in [(GIVEN, "given name"), (FAMILY, "family name")] {
            if lv(f) == name_level::DIFFERENT {
                w.push(Warning {
                    code: "name_differs",
                    message: format!("the {what} differs (a relative or twin?)"),
                });
                cap = cap.max(Band::Possible);
            }
        }
        match lv(DOB) {
            4 => {
                w.push(Warning {
                    code: "date_of_birth_differs",
                    message: format!("the date of birth differs: record {}", t.dob),
                });
                cap = cap.max(Band::Possible);
            }
            3 => {
                w.push(Warning {
                    code: "date_of_birth_differs",
                    message: format!("only the year of birth agrees: record {}", t.dob),
                });
                cap = cap.max(Band::Possible);
            }
            l @ (1 | 2) => w.push(Warning {
                code: "date_of_birth_partial",
                message: format!(
                    "the date of birth agrees only {}: record {}",
                    if l == 1 {
                        "with day and month swapped"
                    } else {
                        "with one digit off"
                    },
                    t.dob
                ),
            }),
            _ => {}
        }
        if ![A_NUMBER, FBI, STATE_ID].iter().any(|&f| lv(f) == 0) {
            // Same-name, same-birth-date people exist (in every large file, and in ours): an
            // identity resting on names and birth date alone is never strong.
            w.push(Warning {
                code: "not_corroborated",
                message: "no identifier given agrees with this record: the match rests on names and birth date"
                    .into(),
            });
            cap = cap.max(Band::Probable);
        }
        if lv(DOB) == NULL {
            w.push(Warning {
                code: "no_date_of_birth_compared",
                message: "no date of birth to compare".into(),
            });
        }
        if lv(SEX) == 1 {
            w.push(Warning {
                code: "sex_differs",
                message: format!("sex differs: record {}", t.sex),
            });
            cap = cap.max(Band::Probable);
        }
        if lv(COUNTRY) == 1 {
            w.push(Warning {
                code: "birthplace_differs",
                message: format!(
                    "country of birth differs: given {}, record {}",
                    q[COUNTRY].display().to_uppercase(),
                    t.country
                ),
            });
        }
        if t.country.eq_ignore_ascii_case("US") {
            w.push(Warning {
                code: "us_birthplace",
                message: "this record gives a US birthplace".into(),
            });
        }
        for (f, what) in [
            (DOB, "date of birth"),
            (SEX, "sex"),
            (COUNTRY, "country of birth"),
            (PLACE, "place of birth"),
            (A_NUMBER, "A-number"),
            (FBI, "FBI number"),
            (STATE_ID, "state id"),
        ] {
            if !q[f].is_null() && lv(f) == NULL {
                // Identifiers belong to particular systems: only their absence from a record of
                // a system that holds them is a gap worth showing.
                let expected = match f {
                    A_NUMBER => matches!(s.system, 0 | 1),
                    FBI | STATE_ID => s.system == System::CriminalHistory as u8,
                    _ => true,
                };
                if expected {
                    w.push(Warning {
                        code: "missing",
                        message: format!("the record has no {what}"),
                    });
                }
            }
        }
        let age = i64::from(days(today) - s.updated);
        if age > opts.stale_after_days {
            w.push(Warning {
                code: "stale",
                message: format!(
                    "last updated {age} days ago (more than {} days): confirm against a fresh record",
                    opts.stale_after_days
                ),
            });
        }
        (w, cap)
    }

    /// For each hit, the other file it cannot be told apart from, if any: likely, clean hits
    /// (p ≥ 0.8, nothing conflicting) are grouped into files by shared identifiers, and two files whose identifiers of the
    /// same kind are all different are different people. When two such files both fit and the
    /// officer's identifiers do not rule one out, every likely hit is ambiguous.
    fn ambiguity(&self, q: &Row, hits: &[(&RecordView<'_>, &Gamma, bool)]) -> Vec<Option<String>> {
        let likely: Vec<usize> = (0..hits.len()).filter(|&k| hits[k].2).collect();
        let ids = |t: &RecordView<'_>| -> [String; 5] {
            [
                crate::compare::normalise_a_number(t.a_number),
                crate::compare::normalise_identifier(t.fin),
                crate::compare::normalise_identifier(t.fbi),
                crate::compare::normalise_identifier(t.state_id),
                crate::compare::normalise_identifier(t.document),
            ]
        };
        // Union-find over likely hits sharing any identifier value.
        let mut parent: Vec<usize> = (0..hits.len()).collect();
        fn find(p: &mut [usize], x: usize) -> usize {
            let mut r = x;
            while p[r] != r {
                r = p[r];
            }
            p[x] = r;
            r
        }
        let all: Vec<[String; 5]> = hits.iter().map(|h| ids(h.0)).collect();
        for (a_i, &a) in likely.iter().enumerate() {
            for &b in &likely[a_i + 1..] {
                if (0..5).any(|k| !all[a][k].is_empty() && all[a][k] == all[b][k]) {
                    let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                    parent[ra] = rb;
                }
            }
        }
        let mut files: HashMap<usize, Vec<usize>> = HashMap::new();
        for &k in &likely {
            let r = find(&mut parent, k);
            files.entry(r).or_default().push(k);
        }
        // A file the officer's own identifiers rule out is not a rival.
        let ruled_out = |members: &[usize]| {
            members.iter().any(|&k| {
                [A_NUMBER, FBI, STATE_ID].iter().any(|&f| {
                    !q[f].is_null() && hits[k].1.levels[f] == self.fields[f].kind.disagree()
                })
            })
        };
        let values = |members: &[usize], k: usize| -> Vec<&str> {
            members
                .iter()
                .map(|&m| all[m][k].as_str())
                .filter(|v| !v.is_empty())
                .collect()
        };
        let file_list: Vec<&Vec<usize>> = files.values().filter(|m| !ruled_out(m)).collect();
        let mut rival: Vec<Option<String>> = vec![None; hits.len()];
        for (i, a) in file_list.iter().enumerate() {
            for b in &file_list[i + 1..] {
                let conflict = (0..5).find(|&k| {
                    let (va, vb) = (values(a, k), values(b, k));
                    !va.is_empty() && !vb.is_empty() && !va.iter().any(|x| vb.contains(x))
                });
                if let Some(k) = conflict {
                    let label = ["A-number", "FIN", "FBI number", "state id", "document"][k];
                    for (mine, theirs) in [(a, b), (b, a)] {
                        let other = values(theirs, k)
                            .first()
                            .map(|s| s.to_string())
                            .unwrap_or_default();
                        for &m in mine.iter() {
                            rival[m].get_or_insert_with(|| format!("{label} {other}"));
                        }
                    }
                }
            }
        }
        // A likely hit with no identifier to place it in either file is ambiguous too.
        if rival.iter().any(Option::is_some) {
            for &k in &likely {
                if rival[k].is_none() && all[k].iter().all(String::is_empty) {
                    rival[k] = Some("records without identifiers".into());
                }
            }
            // Hits with identifiers of other kinds only (a criminal record beside two A-files)
            // fit either file.
            for &k in &likely {
                if rival[k].is_none() {
                    rival[k] = Some("another file with the same name and birth date".into());
                }
            }
        }
        rival
    }
}

fn summary(system: System, t: &RecordView<'_>, s: Stored) -> RecordSummary {
    let o = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    RecordSummary {
        system,
        record_id: t.record_id.to_owned(),
        given_name: t.given.to_owned(),
        family_name: t.family.to_owned(),
        date_of_birth: o(t.dob),
        sex: o(t.sex),
        country_of_birth: o(t.country),
        place_of_birth: o(t.place),
        a_number: o(t.a_number),
        fbi_number: o(t.fbi),
        state_id: o(t.state_id),
        updated_on: Date::from_julian_day(s.updated).unwrap_or(Date::MIN),
    }
}
