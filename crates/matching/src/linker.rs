//! Batch linkage over tables: train a model on the data itself, find candidate pairs, score
//! them, and choose the "strong match" threshold, all without labels.
//!
//! Tables arrive already read (the binary reads CSV); this module does no I/O.

use serde::Serialize;

use crate::block::{self, BlockIndex};
use crate::compare::{Kind, NULL};
use crate::model::{
    Field, Gamma, Model, ModelError, ModelSpec, Row, TermFrequencies, gamma, prepare,
};
use crate::train::{self, SplitMix};

/// A table of text cells with named columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The bands a probability falls in.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// At or above the threshold chosen without labels: expected precision at least 0.999.
    Strong,
    /// 0.8 or more.
    Probable,
    /// 0.2 or more.
    Possible,
    Unlikely,
}

impl Band {
    pub fn of(p: f64, strong: f64) -> Self {
        if p >= strong {
            Band::Strong
        } else if p >= 0.8 {
            Band::Probable
        } else if p >= 0.2 {
            Band::Possible
        } else {
            Band::Unlikely
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Strong => "strong",
            Band::Probable => "probable",
            Band::Possible => "possible",
            Band::Unlikely => "unlikely",
        }
    }
}

/// The fewest pairs with a field filled on both sides from which a session learns its m.
const MIN_OBSERVED: usize = 500;

/// The most records one query compares.
pub const MAX_CANDIDATES: usize = 150;

/// The expected precision the strong band is chosen for.
pub const STRONG_PRECISION: f64 = 0.999;
/// The strong threshold is never below this, whatever the data.
pub const STRONG_FLOOR: f64 = 0.9;

/// Prepared rows and their ids.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub ids: Vec<String>,
    pub rows: Vec<Row>,
}

/// Prepares a table's rows for a model's fields; ids come from `id_column` or the row number.
pub fn prepare_table(
    fields: &[Field],
    id_column: Option<&str>,
    t: &Table,
) -> Result<Prepared, ModelError> {
    let idx: Vec<usize> = fields
        .iter()
        .map(|f| t.columns.iter().position(|c| *c == f.column).unwrap_or(0))
        .collect();
    let id_idx = match id_column {
        Some(c) => Some(t.columns.iter().position(|x| x == c).ok_or_else(|| {
            ModelError::UnknownColumn {
                field: "id_column".into(),
                column: c.into(),
                have: t.columns.join(", "),
            }
        })?),
        None => None,
    };
    let mut cache = crate::text::PhoneticCache::default();
    let mut codes = |w: &str| cache.get(w);
    let mut ids = Vec::with_capacity(t.rows.len());
    let mut rows = Vec::with_capacity(t.rows.len());
    for (n, r) in t.rows.iter().enumerate() {
        ids.push(match id_idx {
            Some(i) => r.get(i).cloned().unwrap_or_default(),
            None => (n + 1).to_string(),
        });
        rows.push(
            fields
                .iter()
                .zip(&idx)
                .map(|(f, &i)| prepare(f, r.get(i).map(String::as_str).unwrap_or(""), &mut codes))
                .collect(),
        );
    }
    Ok(Prepared { ids, rows })
}

/// What training did, for the report printed beside the results.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainReport {
    pub random_pairs: usize,
    /// Per session: what it blocked on, pairs, EM iterations, whether EM converged.
    pub sessions: Vec<SessionReport>,
    /// Fields no session could learn (their m stays at its starting guess).
    pub unlearned: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SessionReport {
    pub blocked_on: String,
    pub pairs: usize,
    pub iterations: usize,
    pub converged: bool,
    /// The share of the session's pairs EM judged matches.
    pub match_share: f64,
}

/// Trains m and u (and term frequencies) on `left` × `right` (`same` for one table against
/// itself). The prior is left for the caller to estimate over the pairs it actually scores.
pub fn train(
    fields: Vec<Field>,
    left: &[Row],
    right: &[Row],
    same: bool,
    seed: u64,
) -> (Model, TrainReport) {
    let mut model = Model::untrained(fields.clone());
    if same {
        model.count_terms(right.iter());
    } else {
        model.count_terms(left.iter().chain(right.iter()));
    }
    let mut report = TrainReport::default();
    let mut rng = SplitMix::new(seed ^ 0x7a11_u64);
    if left.is_empty() || right.is_empty() {
        return (model, report);
    }

    // u from random pairs; the exact level from the values' frequencies, which a sample of
    // random pairs sees too rarely to measure (two records share a birth date about once in
    // thirty thousand pairs).
    let n_random = 40_000.min(left.len() * right.len());
    let mut picks = Vec::with_capacity(n_random);
    for _ in 0..n_random {
        let i = rng.below(left.len());
        let mut j = rng.below(right.len());
        if same && j == i {
            j = (j + 1) % right.len();
        }
        picks.push((i as u32, j as u32));
    }
    let randoms = compare_pairs(&fields, left, right, &picks);
    report.random_pairs = randoms.len();
    train::estimate_u(&mut model, &train::tally(randoms));
    for f in 0..fields.len() {
        let values =
            |rows: &[Row]| -> Vec<String> { rows.iter().filter_map(|r| r[f].tf_key()).collect() };
        let a = values(left);
        let b = if same { a.clone() } else { values(right) };
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let share = |v: &[String]| TermFrequencies::count(v.iter().map(String::as_str));
        let exact = share(&a).agreement(&share(&b));
        set_exact_u(
            &mut model.params[f].u,
            exact.max(1.0 / (a.len() * b.len()) as f64),
        );
    }

    let (sessions, unlearned) = learn_m(&mut model, left, right, same, &mut rng);
    report.sessions = sessions;
    report.unlearned = unlearned;
    (model, report)
}

/// Learns m by EM, one session per blocking rule, each session learning only the fields it did
/// not block on; u must already be set. Returns the sessions run and the fields none could
/// learn.
pub fn learn_m(
    model: &mut Model,
    left: &[Row],
    right: &[Row],
    same: bool,
    rng: &mut SplitMix,
) -> (Vec<SessionReport>, Vec<String>) {
    let fields = model.fields.clone();
    let runs: Vec<(Session, Vec<Gamma>)> = sessions(&fields)
        .into_iter()
        .map(|session| {
            let pairs = sample_pairs(&fields, &session, left, right, same, rng, 200_000);
            let gammas = compare_pairs(&fields, left, right, &pairs);
            (session, gammas)
        })
        .collect();
    learn_m_from(model, runs)
}

/// Runs EM for each session over its pairs' comparison vectors; see [`learn_m`].
pub fn learn_m_from(
    model: &mut Model,
    runs: Vec<(Session, Vec<Gamma>)>,
) -> (Vec<SessionReport>, Vec<String>) {
    let fields = model.fields.clone();
    let mut reports = Vec::new();
    let mut unlearned = Vec::new();
    // Per field: (whether the session's EM converged, its match share, the m it learned).
    let mut learned: Vec<Vec<(bool, f64, Vec<f64>)>> = vec![Vec::new(); fields.len()];
    for (session, gammas) in runs {
        let pairs = gammas.len();
        if pairs < 50 {
            continue;
        }
        let learn: Vec<bool> = (0..fields.len())
            .map(|f| !session.excludes.contains(&f))
            .collect();
        let mut seen = vec![0usize; fields.len()];
        for g in &gammas {
            for (f, &l) in g.levels.iter().enumerate() {
                seen[f] += usize::from(l != NULL);
            }
        }
        let mut m = model.clone();
        let r = train::em(&mut m, &train::tally(gammas), &learn, 200);
        for (f, l) in learn.iter().enumerate() {
            // A session that saw a field on both sides of too few pairs cannot teach its m.
            if *l && seen[f] >= MIN_OBSERVED {
                learned[f].push((r.converged, r.prior, m.params[f].m.clone()));
            }
        }
        reports.push(SessionReport {
            blocked_on: session.name.clone(),
            pairs,
            iterations: r.iterations,
            converged: r.converged,
            match_share: r.prior,
        });
    }
    // Each field takes its m from a session whose EM converged, the one richest in matches:
    // there the match class dominates and EM cannot mistake a sub-population (relatives sharing
    // a surname) for it. A session that did not converge had found no stable split (many
    // different people share a common name's sound) and is used only when nothing else is.
    for (f, ms) in learned.iter().enumerate() {
        match ms
            .iter()
            .max_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        {
            Some((_, _, m)) => model.params[f].m = m.clone(),
            None => unlearned.push(fields[f].name.clone()),
        }
    }
    (reports, unlearned)
}

/// Sets the exact level's u, rescaling the other levels so that u still sums to one.
pub fn set_exact_u(u: &mut [f64], exact: f64) {
    let exact = exact.clamp(1e-12, 0.999);
    let rest: f64 = u[1..].iter().sum();
    if rest <= 0.0 {
        return;
    }
    u[0] = exact;
    let scale = (1.0 - exact) / rest;
    for x in &mut u[1..] {
        *x *= scale;
    }
}

/// Compares many pairs, on every core: the comparisons are independent and pure.
pub fn compare_pairs(
    fields: &[Field],
    left: &[Row],
    right: &[Row],
    pairs: &[(u32, u32)],
) -> Vec<Gamma> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || pairs.len() < 2_000 {
        return pairs
            .iter()
            .map(|&(i, j)| gamma(fields, &left[i as usize], &right[j as usize]))
            .collect();
    }
    let chunk = pairs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|&(i, j)| gamma(fields, &left[i as usize], &right[j as usize]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a comparison thread panicked"))
            .collect()
    })
}

/// A blocking rule for a training session: pairs sharing its key teach EM about every field
/// but the ones it blocks on.
#[derive(Debug, Clone)]
pub struct Session {
    pub name: String,
    pub excludes: Vec<usize>,
    keys: fn(&[Field], &Row, &mut Vec<u32>, usize),
    field: usize,
}

impl Session {
    /// The keys `row` is filed under for this session.
    pub fn keys(&self, fields: &[Field], row: &Row, out: &mut Vec<u32>) {
        (self.keys)(fields, row, out, self.field);
    }
}

fn date_key(fields: &[Field], row: &Row, out: &mut Vec<u32>, f: usize) {
    let _ = fields;
    if let crate::model::Value::Date(Some(d)) = &row[f] {
        out.push(block::key(&[
            b"d",
            &d.year.to_le_bytes(),
            &[d.month, d.day],
        ]));
    }
}

/// The whole name's sound, order-free: records that sound alike in every word. (Pairs of words
/// would also pair siblings, who share surnames, and EM would learn "same family" instead of
/// "same person".)
fn full_name_key(fields: &[Field], row: &Row, out: &mut Vec<u32>, _f: usize) {
    let mut codes: Vec<&str> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        if let (Kind::Name, crate::model::Value::Name(n)) = (f.kind, &row[i]) {
            codes.extend(n.tokens.iter().map(|t| t.primary.as_str()));
        }
    }
    if codes.len() < 2 {
        return;
    }
    codes.sort_unstable();
    codes.dedup();
    let joined = codes.join(" ");
    out.push(block::key(&[b"nm", joined.as_bytes()]));
}

fn identifier_key(_fields: &[Field], row: &Row, out: &mut Vec<u32>, f: usize) {
    if let crate::model::Value::Identifier(s) | crate::model::Value::Code(s) = &row[f]
        && !s.is_empty()
    {
        out.push(block::key(&[b"i", s.as_bytes()]));
    }
}

/// The training sessions a model's fields allow.
pub fn sessions(fields: &[Field]) -> Vec<Session> {
    let mut out = Vec::new();
    if let Some(d) = fields.iter().position(|f| f.kind == Kind::Date) {
        out.push(Session {
            name: fields[d].name.clone(),
            excludes: vec![d],
            keys: date_key,
            field: d,
        });
    }
    let names: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].kind == Kind::Name)
        .collect();
    if !names.is_empty() {
        out.push(Session {
            name: "full name".into(),
            excludes: names,
            keys: full_name_key,
            field: 0,
        });
    }
    for (i, f) in fields.iter().enumerate() {
        if matches!(f.kind, Kind::Identifier | Kind::Code) {
            out.push(Session {
                name: f.name.clone(),
                excludes: vec![i],
                keys: identifier_key,
                field: i,
            });
        }
    }
    out
}

/// Pairs that share a session key: every pair of a small block, a random sample of a large
/// one, up to `cap` in all.
fn sample_pairs(
    fields: &[Field],
    s: &Session,
    left: &[Row],
    right: &[Row],
    same: bool,
    rng: &mut SplitMix,
    cap: usize,
) -> Vec<(u32, u32)> {
    let mut entries: Vec<(u32, bool, u32)> = Vec::new();
    let mut keys = Vec::new();
    let sides: &[(bool, &[Row])] = if same {
        &[(false, right)]
    } else {
        &[(true, left), (false, right)]
    };
    for (is_left, rows) in sides {
        for (r, row) in rows.iter().enumerate() {
            keys.clear();
            (s.keys)(fields, row, &mut keys, s.field);
            for k in &keys {
                entries.push((*k, *is_left, r as u32));
            }
        }
    }
    entries.sort_unstable();
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut start = 0;
    while start < entries.len() {
        let k = entries[start].0;
        let end = entries[start..].partition_point(|e| e.0 == k) + start;
        if end - start > 1 {
            groups.push((start, end));
        }
        start = end;
    }
    // Visit blocks in a random order, so a cap does not favour small keys.
    for i in (1..groups.len()).rev() {
        let j = rng.below(i + 1);
        groups.swap(i, j);
    }
    const PER_BLOCK: usize = 40;
    let mut out: Vec<(u32, u32)> = Vec::new();
    for (a, b) in groups {
        let g = &entries[a..b];
        let (ls, rs): (Vec<u32>, Vec<u32>) = if same {
            let rows: Vec<u32> = g.iter().map(|e| e.2).collect();
            (rows.clone(), rows)
        } else {
            (
                g.iter().filter(|e| e.1).map(|e| e.2).collect(),
                g.iter().filter(|e| !e.1).map(|e| e.2).collect(),
            )
        };
        if ls.is_empty() || rs.is_empty() {
            continue;
        }
        let total = ls.len() * rs.len();
        if total <= PER_BLOCK {
            for &i in &ls {
                for &j in &rs {
                    if !same || i < j {
                        out.push((i, j));
                    }
                }
            }
        } else {
            for _ in 0..PER_BLOCK {
                let (i, j) = (ls[rng.below(ls.len())], rs[rng.below(rs.len())]);
                if !same {
                    out.push((i, j));
                } else if i != j {
                    out.push((i.min(j), i.max(j)));
                }
            }
        }
        if out.len() >= cap {
            break;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A scored candidate pair (row numbers into the left and right tables).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPair {
    pub left: u32,
    pub right: u32,
    pub gamma: Gamma,
    pub match_weight: f64,
    pub probability: f64,
}

/// What a link or dedupe run produced.
#[derive(Debug, Clone)]
pub struct Linked {
    pub model: Model,
    pub train: TrainReport,
    /// The strong-band threshold, chosen without labels.
    pub threshold: f64,
    /// Every candidate pair scored, best first.
    pub pairs: Vec<ScoredPair>,
    pub candidate_pairs: usize,
    pub skipped_blocks: usize,
    pub left_ids: Vec<String>,
    pub right_ids: Vec<String>,
}

/// What can go wrong in a batch run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{0} has no rows")]
    Empty(&'static str),
}

/// Links two tables.
pub fn link(spec: &ModelSpec, left: &Table, right: &Table) -> Result<Linked, LinkError> {
    let fields = spec.bind(&left.columns)?;
    spec.bind(&right.columns)?;
    if left.rows.is_empty() {
        return Err(LinkError::Empty("the left input"));
    }
    if right.rows.is_empty() {
        return Err(LinkError::Empty("the right input"));
    }
    let l = prepare_table(&fields, spec.id_column.as_deref(), left)?;
    let r = prepare_table(&fields, spec.id_column.as_deref(), right)?;
    Ok(run(fields, l, r, false))
}

/// Finds the pairs of rows in one table that are the same entity.
pub fn dedupe(spec: &ModelSpec, input: &Table) -> Result<Linked, LinkError> {
    let fields = spec.bind(&input.columns)?;
    if input.rows.len() < 2 {
        return Err(LinkError::Empty("the input (it needs two rows or more)"));
    }
    let p = prepare_table(&fields, spec.id_column.as_deref(), input)?;
    Ok(run(fields, p.clone(), p, true))
}

fn run(fields: Vec<Field>, l: Prepared, r: Prepared, same: bool) -> Linked {
    let (mut model, report) = train(fields.clone(), &l.rows, &r.rows, same, 1);
    // Index the right side; look every left row up.
    let mut postings = Vec::new();
    let mut keys = Vec::new();
    let (mut ymin, mut ymax) = (i32::MAX, i32::MIN);
    let date_field = fields.iter().position(|f| f.kind == Kind::Date);
    for (i, row) in r.rows.iter().enumerate() {
        block::index_keys(&fields, row, &mut keys);
        postings.extend(keys.iter().map(|k| BlockIndex::posting(*k, i as u32)));
        if let Some(d) = date_field
            && let crate::model::Value::Date(Some(y)) = &row[d]
        {
            ymin = ymin.min(y.year);
            ymax = ymax.max(y.year);
        }
    }
    let index = BlockIndex::from_postings(postings);
    #[allow(clippy::reversed_empty_ranges)] // no dates on file: no years to ask
    let years = if ymin <= ymax { ymin..=ymax } else { 1..=0 };
    let mut found: Vec<(u32, u32)> = Vec::new();
    let mut skipped = 0;
    let mut cands = Vec::new();
    for (i, row) in l.rows.iter().enumerate() {
        block::query_keys(&fields, row, years.clone(), &mut keys);
        skipped += index.candidates(&keys, 5_000, MAX_CANDIDATES, &mut cands);
        for &j in &cands {
            if same {
                if j as usize != i {
                    found.push(((i as u32).min(j), (i as u32).max(j)));
                }
            } else {
                found.push((i as u32, j));
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    let gammas: Vec<Gamma> = compare_pairs(&fields, &l.rows, &r.rows, &found);
    model.prior = 0.5;
    let bits: Vec<f64> = found
        .iter()
        .zip(&gammas)
        .map(|(&(_, j), g)| model.score(g, &r.rows[j as usize]).match_weight)
        .collect();
    // In a dedupe each pair was found once but is a match for both of its rows.
    let (queries, others) = if same {
        (l.rows.len() / 2, r.rows.len() - 1)
    } else {
        (l.rows.len(), r.rows.len())
    };
    model.prior = train::estimate_random_prior(&bits, queries.max(1), others.max(1));
    let mut pairs: Vec<ScoredPair> = found
        .iter()
        .zip(gammas)
        .map(|(&(i, j), g)| {
            let s = model.score(&g, &r.rows[j as usize]);
            ScoredPair {
                left: i,
                right: j,
                gamma: g,
                match_weight: s.match_weight,
                probability: s.probability,
            }
        })
        .collect();
    // Ties in weight are ordered by row, so the same inputs always write the same file.
    pairs.sort_by(|a, b| {
        b.match_weight
            .total_cmp(&a.match_weight)
            .then(a.left.cmp(&b.left))
            .then(a.right.cmp(&b.right))
    });
    let probs: Vec<f64> = pairs.iter().map(|p| p.probability).collect();
    let threshold = train::choose_threshold(&probs, STRONG_PRECISION, STRONG_FLOOR);
    Linked {
        model,
        train: report,
        threshold,
        candidate_pairs: found.len(),
        pairs,
        skipped_blocks: skipped,
        left_ids: l.ids,
        right_ids: r.ids,
    }
}

/// The band of a scored pair: by its probability, but never strong when a name, a date or an
/// identifier present on both sides disagrees (conflicting data is never a strong match).
pub fn band(fields: &[Field], p: &ScoredPair, threshold: f64) -> Band {
    let b = Band::of(p.probability, threshold);
    let conflict = fields.iter().enumerate().any(|(i, f)| {
        matches!(f.kind, Kind::Name | Kind::Date | Kind::Identifier)
            && disagrees(fields, &p.gamma, i)
    });
    if conflict { b.max(Band::Possible) } else { b }
}

/// Whether a comparison vector shows a field with a value on both sides that disagrees.
pub fn disagrees(fields: &[Field], g: &Gamma, field: usize) -> bool {
    let l = g.levels[field];
    l != NULL && l == fields[field].kind.disagree()
}
