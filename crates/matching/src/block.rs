//! Candidate generation: the keys a record is filed under, and the keys a query looks up.
//!
//! No single key survives every error, so a record is filed under several, and a query expands
//! its own keys to cover the errors files make:
//! - each name word's sound (or its variant group) with the full birth date: survives an error
//!   in every other word;
//! - each pair of name words with the birth year, order-free: survives any date error except
//!   in the year, and swapped or missing names; the query also asks the years either side (a
//!   year one digit off) and, with no date, every year;
//! - each identifier exactly; the query also asks each adjacent transposition.
//!
//! Keys are 32-bit hashes: a collision only adds a candidate that scoring then rejects.

use crate::compare::{Kind, Ymd};
use crate::model::{Field, Row, Value};

/// A 32-bit key from its parts (FNV-1a, folded).
pub fn key(parts: &[&[u8]]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// The codes a name contributes to blocking: a word's variant groups when it has any (so
/// "Pepe" meets "José" and "Wong" meets "Wang"), its primary Double Metaphone code otherwise.
fn name_codes(row: &Row, fields: &[Field]) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if f.kind != Kind::Name {
            continue;
        }
        if let Value::Name(n) = &row[i] {
            for t in &n.tokens {
                let groups = t.groups();
                if groups.is_empty() {
                    if !t.primary.is_empty() {
                        codes.push(t.primary.as_str().to_owned());
                    }
                } else {
                    codes.extend(groups.iter().map(|g| format!("~{g}")));
                }
            }
            for g in n.phrase_groups() {
                codes.push(format!("~{g}"));
            }
        }
    }
    codes.sort_unstable();
    codes.dedup();
    codes.truncate(8);
    codes
}

fn first_date(row: &Row, fields: &[Field]) -> Option<Option<Ymd>> {
    fields
        .iter()
        .position(|f| f.kind == Kind::Date)
        .map(|i| match &row[i] {
            Value::Date(d) => *d,
            _ => None,
        })
}

fn date_bytes(d: Ymd) -> [u8; 6] {
    let y = d.year.to_le_bytes();
    [y[0], y[1], y[2], y[3], d.month, d.day]
}

fn pairs(codes: &[String]) -> impl Iterator<Item = (&String, &String)> {
    codes
        .iter()
        .enumerate()
        .flat_map(move |(i, a)| codes[i + 1..].iter().map(move |b| (a, b)))
}

fn pair_key(a: &str, b: &str, year: Option<i32>) -> u32 {
    match year {
        Some(y) => key(&[b"n2", a.as_bytes(), b.as_bytes(), &y.to_le_bytes()]),
        None => key(&[b"n2", a.as_bytes(), b.as_bytes(), b"-"]),
    }
}

/// The keys a record is filed under.
pub fn index_keys(fields: &[Field], row: &Row, out: &mut Vec<u32>) {
    out.clear();
    let codes = name_codes(row, fields);
    let date = first_date(row, fields).flatten();
    if let Some(d) = date {
        let db = date_bytes(d);
        for c in &codes {
            out.push(key(&[b"n1", c.as_bytes(), &db]));
        }
    }
    let year = date.map(|d| d.year);
    for (a, b) in pairs(&codes) {
        out.push(pair_key(a, b, year));
    }
    if codes.len() == 1 {
        out.push(pair_key(&codes[0], "", year));
    }
    identifier_keys(fields, row, out, false);
    out.sort_unstable();
    out.dedup();
}

fn identifier_keys(fields: &[Field], row: &Row, out: &mut Vec<u32>, expand: bool) {
    for (i, f) in fields.iter().enumerate() {
        let tag = (i as u32).to_le_bytes();
        match &row[i] {
            Value::Identifier(s) if !s.is_empty() => {
                out.push(key(&[b"id", &tag, s.as_bytes()]));
                if expand {
                    let b = s.as_bytes();
                    for j in 0..b.len().saturating_sub(1) {
                        if b[j] != b[j + 1] {
                            let mut v = b.to_vec();
                            v.swap(j, j + 1);
                            out.push(key(&[b"id", &tag, &v]));
                        }
                    }
                }
            }
            Value::Code(s) if !s.is_empty() && f.kind == Kind::Code => {
                out.push(key(&[b"code", &tag, s.as_bytes()]));
            }
            _ => {}
        }
    }
}

/// The keys a query looks up: its own keys, expanded for the errors files make. `years` is the
/// range of birth years on file, asked in full when the query has no date.
pub fn query_keys(
    fields: &[Field],
    row: &Row,
    years: std::ops::RangeInclusive<i32>,
    out: &mut Vec<u32>,
) {
    out.clear();
    let codes = name_codes(row, fields);
    let has_date_field = first_date(row, fields).is_some();
    let date = first_date(row, fields).flatten();
    if let Some(d) = date {
        for d in [d, d.day_month_swapped()] {
            let db = date_bytes(d);
            for c in &codes {
                out.push(key(&[b"n1", c.as_bytes(), &db]));
            }
        }
    }
    let mut pair_list: Vec<(&str, &str)> = pairs(&codes)
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    if codes.len() == 1 {
        pair_list.push((codes[0].as_str(), ""));
    }
    for (a, b) in pair_list {
        match (has_date_field, date) {
            (true, Some(d)) => {
                for y in d.year - 1..=d.year + 1 {
                    out.push(pair_key(a, b, Some(y)));
                }
                out.push(pair_key(a, b, None));
            }
            (true, None) => {
                for y in years.clone() {
                    out.push(pair_key(a, b, Some(y)));
                }
                out.push(pair_key(a, b, None));
            }
            (false, _) => out.push(pair_key(a, b, None)),
        }
    }
    identifier_keys(fields, row, out, true);
    out.sort_unstable();
    out.dedup();
}

/// Postings: (key, row) pairs sorted by key, packed in one u64 each (8 bytes a posting), with
/// every 512th key copied into a small directory that stays in cache: a search reads the
/// directory, then one short stretch of postings, instead of binary-searching a gigabyte.
#[derive(Debug, Clone, Default)]
pub struct BlockIndex {
    postings: Vec<u64>,
    directory: Vec<u32>,
}

const STRIDE: usize = 512;

impl BlockIndex {
    pub fn from_postings(mut postings: Vec<u64>) -> Self {
        postings.sort_unstable();
        postings.dedup();
        postings.shrink_to_fit();
        let directory = postings
            .iter()
            .step_by(STRIDE)
            .map(|p| (p >> 32) as u32)
            .collect();
        Self {
            postings,
            directory,
        }
    }

    /// The postings filed under `key`, as a range.
    fn range(&self, key: u32) -> std::ops::Range<usize> {
        // The first posting with this key lies after the last directory entry below it.
        let d = self.directory.partition_point(|&x| x < key);
        let from = d.saturating_sub(1) * STRIDE;
        let to = (d * STRIDE + 1).min(self.postings.len());
        let k = u64::from(key);
        let lo = from + self.postings[from..to].partition_point(|p| (p >> 32) < k);
        let hi = lo + self.postings[lo..].partition_point(|p| (p >> 32) == k);
        lo..hi
    }

    pub fn posting(key: u32, row: u32) -> u64 {
        u64::from(key) << 32 | u64::from(row)
    }

    pub fn len(&self) -> usize {
        self.postings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.postings.capacity() * 8 + self.directory.capacity() * 4
    }

    /// The rows filed under `key`.
    pub fn rows(&self, key: u32) -> impl Iterator<Item = u32> + '_ {
        self.postings[self.range(key)].iter().map(|p| *p as u32)
    }

    /// Every row filed under any of `keys`, deduplicated; a key with more than `max_block` rows
    /// is skipped (it says too little to be worth scoring) and counted in the return value.
    /// When more than `max_rows` rows qualify, those filed under the most of the keys are kept.
    pub fn candidates(
        &self,
        keys: &[u32],
        max_block: usize,
        max_rows: usize,
        out: &mut Vec<u32>,
    ) -> usize {
        gather(
            keys,
            max_block,
            max_rows,
            out,
            |k| [self.slice(k), &[]],
            |_| true,
        )
    }

    fn slice(&self, key: u32) -> &[u64] {
        &self.postings[self.range(key)]
    }

    /// These postings and `new` together (`new` in any order).
    fn merged(&self, mut new: Vec<u64>) -> Self {
        new.sort_unstable();
        let (a, b) = (&self.postings, &new);
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i] <= b[j] {
                out.push(a[i]);
                i += 1;
            } else {
                out.push(b[j]);
                j += 1;
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        out.dedup();
        Self::from_sorted(out)
    }

    fn from_sorted(postings: Vec<u64>) -> Self {
        let directory = postings
            .iter()
            .step_by(STRIDE)
            .map(|p| (p >> 32) as u32)
            .collect();
        Self {
            postings,
            directory,
        }
    }

    /// The postings, sorted, for a snapshot.
    pub fn as_slice(&self) -> &[u64] {
        &self.postings
    }

    /// Postings read back from a snapshot: `None` unless sorted and free of duplicates.
    pub fn from_snapshot(postings: Vec<u64>) -> Option<Self> {
        postings
            .windows(2)
            .all(|w| w[0] < w[1])
            .then(|| Self::from_sorted(postings))
    }

    /// Up to `n` random pairs of different rows that share a key (a pair is drawn by picking a
    /// posting at random, then another of the same key).
    pub fn sample_pairs(&self, rng: &mut crate::train::SplitMix, n: usize) -> Vec<(u32, u32)> {
        let mut out = Vec::with_capacity(n);
        if self.postings.len() < 2 {
            return out;
        }
        for _ in 0..n * 4 {
            if out.len() >= n {
                break;
            }
            let i = rng.below(self.postings.len());
            let k = self.postings[i] >> 32;
            let lo = self.postings[..i].partition_point(|p| (p >> 32) < k);
            let hi = self.postings[i..].partition_point(|p| (p >> 32) == k) + i;
            if hi - lo < 2 {
                continue;
            }
            let j = lo + rng.below(hi - lo);
            let (a, b) = (self.postings[i] as u32, self.postings[j] as u32);
            if a != b {
                out.push((a.min(b), a.max(b)));
            }
        }
        out
    }
}

/// The rows under `keys` (see [`BlockIndex::candidates`]), reading each key's postings from
/// up to two sorted runs and keeping only rows `keep` accepts.
fn gather<'a>(
    keys: &[u32],
    max_block: usize,
    max_rows: usize,
    out: &mut Vec<u32>,
    runs: impl Fn(u32) -> [&'a [u64]; 2],
    keep: impl Fn(u32) -> bool,
) -> usize {
    out.clear();
    let mut skipped = 0;
    for &k in keys {
        let [a, b] = runs(k);
        // Only live rows count: rows replaced or deleted since the build must not push a
        // block over the limit and lose its candidates.
        if a.len() + b.len() > max_block
            && a.iter()
                .chain(b)
                .filter(|p| keep(**p as u32))
                .take(max_block + 1)
                .count()
                > max_block
        {
            skipped += 1;
            continue;
        }
        out.extend(a.iter().chain(b).map(|p| *p as u32).filter(|&r| keep(r)));
    }
    out.sort_unstable();
    if out.len() > max_rows {
        let mut counted: Vec<(u32, u32)> = Vec::new();
        for &r in out.iter() {
            match counted.last_mut() {
                Some((row, n)) if *row == r => *n += 1,
                _ => counted.push((r, 1)),
            }
        }
        if counted.len() > max_rows {
            counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            counted.truncate(max_rows);
        }
        *out = counted.into_iter().map(|(r, _)| r).collect();
        out.sort_unstable();
    }
    out.dedup();
    skipped
}

/// Postings that grow in place: the base built in bulk, and a delta of everything filed
/// since, kept sorted by merging each new batch into it (the delta stays small: a rebuild folds
/// it into the base).
#[derive(Debug, Clone, Default)]
pub struct Postings {
    base: BlockIndex,
    delta: BlockIndex,
}

impl Postings {
    pub fn new(base: BlockIndex) -> Self {
        Self {
            base,
            delta: BlockIndex::default(),
        }
    }

    pub fn from_parts(base: BlockIndex, delta: BlockIndex) -> Self {
        Self { base, delta }
    }

    pub fn base(&self) -> &BlockIndex {
        &self.base
    }

    pub fn delta(&self) -> &BlockIndex {
        &self.delta
    }

    /// Files more postings (in any order).
    pub fn add(&mut self, new: Vec<u64>) {
        if !new.is_empty() {
            self.delta = self.delta.merged(new);
        }
    }

    pub fn len(&self) -> usize {
        self.base.len() + self.delta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> usize {
        self.base.bytes() + self.delta.bytes()
    }

    /// Every row filed under `key`.
    pub fn rows(&self, key: u32) -> impl Iterator<Item = u32> + '_ {
        self.base.rows(key).chain(self.delta.rows(key))
    }

    /// Like [`BlockIndex::candidates`], over both runs, keeping only rows `keep` accepts.
    pub fn candidates(
        &self,
        keys: &[u32],
        max_block: usize,
        max_rows: usize,
        out: &mut Vec<u32>,
        keep: impl Fn(u32) -> bool,
    ) -> usize {
        gather(
            keys,
            max_block,
            max_rows,
            out,
            |k| [self.base.slice(k), self.delta.slice(k)],
            keep,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldSpec, ModelSpec, prepare};

    fn fields() -> Vec<Field> {
        let f = |n: &str, k: Kind| FieldSpec {
            name: n.into(),
            kind: k,
            column: None,
            term_frequency: None,
            swap_with: None,
            format: None,
        };
        ModelSpec {
            id_column: None,
            fields: vec![
                f("given", Kind::Name),
                f("family", Kind::Name),
                f("dob", Kind::Date),
                f("a_number", Kind::Identifier),
            ],
        }
        .bind(&["given", "family", "dob", "a_number"].map(String::from))
        .unwrap()
    }

    fn row(fields: &[Field], v: [&str; 4]) -> Row {
        fields
            .iter()
            .zip(v)
            .map(|(f, raw)| prepare(f, raw, &mut crate::text::phonetic))
            .collect()
    }

    fn meets(a: [&str; 4], b: [&str; 4]) -> bool {
        let f = fields();
        let (mut ka, mut kb) = (Vec::new(), Vec::new());
        index_keys(&f, &row(&f, a), &mut ka);
        query_keys(&f, &row(&f, b), 1900..=2026, &mut kb);
        ka.iter().any(|k| kb.contains(k))
    }

    #[test]
    fn every_kind_of_error_still_meets_its_record() {
        let truth = ["José Luis", "García López", "1988-03-04", "204815672"];
        let variants: &[[&str; 4]] = &[
            ["Jose Luis", "Garcia Lopez", "1988-03-04", ""],
            ["José Luis", "Garcai López", "1988-03-04", ""],
            ["Jsoé Luis", "Garcai Lopze", "1988-03-04", ""],
            ["José Luis", "García", "1988-04-03", ""],
            ["José Luis", "López García", "1989-03-04", ""],
            ["García López", "José Luis", "1988-03-05", ""],
            ["Pepe Luis", "García López", "", ""],
            ["Xavier", "Smith", "1950-01-01", "204815672"],
            ["Xavier", "Smith", "1950-01-01", "208415672"],
            ["Xavier", "Smith", "1950-01-01", "240815672"],
        ];
        for v in variants {
            assert!(meets(truth, *v), "{v:?} should meet {truth:?}");
        }
        assert!(!meets(truth, ["Ana", "Smith", "1950-01-01", ""]));
    }

    proptest::proptest! {
        /// The directory finds exactly what a plain binary search finds, for keys present and
        /// absent, blocks short and long, at the stride's edges.
        #[test]
        fn the_directory_finds_every_block(
            spread in 1u32..300,
            keys in proptest::collection::vec(0u32..300, 0..3_000),
            probe in 0u32..320,
        ) {
            let postings: Vec<u64> = keys
                .iter()
                .enumerate()
                .map(|(r, k)| BlockIndex::posting(k % spread, r as u32))
                .collect();
            let idx = BlockIndex::from_postings(postings.clone());
            let mut sorted = postings;
            sorted.sort_unstable();
            let want: Vec<u32> = sorted.iter().filter(|p| (*p >> 32) as u32 == probe).map(|p| *p as u32).collect();
            proptest::prop_assert_eq!(idx.rows(probe).collect::<Vec<_>>(), want);
        }
    }

    #[test]
    fn postings_find_their_rows_and_skip_huge_blocks() {
        let mut p = Vec::new();
        for r in 0..10u32 {
            p.push(BlockIndex::posting(7, r));
        }
        p.push(BlockIndex::posting(3, 42));
        p.push(BlockIndex::posting(3, 42));
        let idx = BlockIndex::from_postings(p);
        assert_eq!(idx.len(), 11);
        assert_eq!(idx.rows(3).collect::<Vec<_>>(), vec![42]);
        assert_eq!(idx.rows(5).count(), 0);
        let mut out = Vec::new();
        assert_eq!(idx.candidates(&[3, 7], 5, 100, &mut out), 1);
        assert_eq!(out, vec![42]);
        // Over the row budget, rows under more keys win.
        let two = BlockIndex::from_postings(vec![
            BlockIndex::posting(1, 5),
            BlockIndex::posting(2, 5),
            BlockIndex::posting(1, 6),
            BlockIndex::posting(2, 7),
        ]);
        two.candidates(&[1, 2], 10, 1, &mut out);
        assert_eq!(out, vec![5]);
    }

    #[test]
    fn postings_grow_in_place_and_skip_dropped_rows() {
        let mut p = Postings::new(BlockIndex::from_postings(vec![
            BlockIndex::posting(7, 1),
            BlockIndex::posting(9, 2),
        ]));
        p.add(vec![BlockIndex::posting(7, 5), BlockIndex::posting(3, 6)]);
        p.add(vec![BlockIndex::posting(7, 4)]);
        assert_eq!(p.rows(7).collect::<Vec<_>>(), vec![1, 4, 5]);
        assert_eq!(p.len(), 5);
        let mut out = Vec::new();
        p.candidates(&[7, 3], 10, 100, &mut out, |r| r != 5);
        assert_eq!(out, vec![1, 4, 6]);
        // The block-size limit counts both runs.
        assert_eq!(p.candidates(&[7], 2, 100, &mut out, |_| true), 1);
        assert!(out.is_empty());
        assert!(BlockIndex::from_snapshot(vec![3, 2]).is_none());
        assert!(BlockIndex::from_snapshot(vec![2, 2]).is_none());
        assert_eq!(BlockIndex::from_snapshot(vec![2, 3]).unwrap().len(), 2);
    }

    #[test]
    fn only_live_rows_count_towards_the_block_limit() {
        // Key 7 holds rows 0..4 in the base and rows 4..10 in the delta; rows 0..5 were
        // replaced or deleted since.
        let base = BlockIndex::from_postings((0..4).map(|r| BlockIndex::posting(7, r)).collect());
        let mut postings = Postings::new(base);
        postings.add((4..10).map(|r| BlockIndex::posting(7, r)).collect());
        let mut out = Vec::new();
        let skipped = postings.candidates(&[7], 5, 100, &mut out, |r| r >= 5);
        assert_eq!((skipped, out.as_slice()), (0, &[5, 6, 7, 8, 9][..]));
        // Six live rows are over a limit of five.
        let skipped = postings.candidates(&[7], 5, 100, &mut out, |r| r >= 4);
        assert_eq!((skipped, out.len()), (1, 0));
    }
}
