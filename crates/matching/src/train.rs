//! Learning the model without labels.
//!
//! - u (how often each level occurs between two different people) from random pairs: two
//!   records drawn at random are almost never the same person.
//! - m (how often each level occurs between records of the same person) by
//!   expectation-maximisation over candidate pairs, in sessions: pairs blocked on one field
//!   say nothing about that field's m, so each session learns only the fields it did not block
//!   on (the approach of Splink and of Fellegi and Sunter's successors).
//! - The prior (the share of candidate pairs that are matches) by EM over the pairs the
//!   lookups actually see, with m and u fixed.
//! - The "strong match" threshold from the model's own probabilities: the lowest threshold at
//!   which the expected share of false matches above it stays under the target.

use std::collections::HashMap;

use crate::compare::NULL;
use crate::model::{Gamma, Model, Params, log2_odds, probability_of};

/// A small deterministic random source (SplitMix64): training must give the same model for the
/// same data, and this crate takes no dependency for so little.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// The least m any level is given.
pub const M_FLOOR: f64 = 1e-3;

/// Comparison vectors with how many pairs showed each.
pub type Patterns = Vec<(Vec<u8>, f64)>;

pub fn tally(gammas: impl IntoIterator<Item = Gamma>) -> Patterns {
    let mut counts: HashMap<Vec<u8>, f64> = HashMap::new();
    for g in gammas {
        *counts.entry(g.levels).or_default() += 1.0;
    }
    let mut v: Patterns = counts.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Sets u from the comparison vectors of random pairs, with half a pair of smoothing per level
/// so that no level is impossible.
pub fn estimate_u(model: &mut Model, random_pairs: &Patterns) {
    for (i, p) in model.params.iter_mut().enumerate() {
        let n = p.u.len();
        let mut counts = vec![0.5; n];
        for (levels, c) in random_pairs {
            if levels[i] != NULL {
                counts[levels[i] as usize] += c;
            }
        }
        let total: f64 = counts.iter().sum();
        p.u = counts.iter().map(|c| c / total).collect();
    }
}

fn posterior(m: &[Params], u: &[Params], prior: f64, levels: &[u8], used: &[bool]) -> f64 {
    let mut w = (prior / (1.0 - prior)).log2();
    for (i, &l) in levels.iter().enumerate() {
        if l != NULL && used[i] {
            w += (m[i].m[l as usize] / u[i].u[l as usize]).log2();
        }
    }
    probability_of(w)
}

/// What one EM run did.
#[derive(Debug, Clone, PartialEq)]
pub struct EmReport {
    pub iterations: usize,
    pub prior: f64,
    pub converged: bool,
}

/// Runs EM over `patterns`, learning m for the fields marked in `learn` and the session's
/// prior; every u stays fixed. Fields not marked are left out entirely: a session blocked on a
/// field sees it agree on every pair, which says nothing about matches. Returns the session's prior (which describes
/// only this session's pairs, so callers usually discard it).
pub fn em(model: &mut Model, patterns: &Patterns, learn: &[bool], max_iter: usize) -> EmReport {
    let mut prior = 0.1;
    let fixed = model.params.clone();
    let mut iterations = 0;
    let mut converged = false;
    for _ in 0..max_iter {
        iterations += 1;
        let mut matched = 0.0;
        let mut total = 0.0;
        let mut acc: Vec<Vec<f64>> = model.params.iter().map(|p| vec![0.0; p.m.len()]).collect();
        for (levels, c) in patterns {
            let p = posterior(&model.params, &fixed, prior, levels, learn);
            matched += p * c;
            total += c;
            for (i, &l) in levels.iter().enumerate() {
                if l != NULL {
                    acc[i][l as usize] += p * c;
                }
            }
        }
        let mut change: f64 = 0.0;
        for (i, a) in acc.iter().enumerate() {
            if !learn[i] {
                continue;
            }
            let sum: f64 = a.iter().sum();
            if sum <= 0.0 {
                continue;
            }
            // A floor keeps every level possible among matches: a level no match showed in this
            // sample is rare, not impossible (files do record the wrong sex, now and then).
            let floored: Vec<f64> = a.iter().map(|x| (x / sum).max(M_FLOOR)).collect();
            let s: f64 = floored.iter().sum();
            for (l, x) in floored.iter().enumerate() {
                let v = x / s;
                change = change.max((v - model.params[i].m[l]).abs());
                model.params[i].m[l] = v;
            }
        }
        let new_prior = (matched / total.max(1.0)).clamp(1e-9, 1.0 - 1e-9);
        change = change.max((new_prior - prior).abs());
        prior = new_prior;
        if change < 1e-6 {
            converged = true;
            break;
        }
    }
    EmReport {
        iterations,
        prior,
        converged,
    }
}

/// Estimates the prior alone (m and u fixed) over the pairs lookups see.
pub fn estimate_prior(model: &Model, patterns: &Patterns, max_iter: usize) -> f64 {
    let mut prior: f64 = 0.1;
    let all = vec![true; model.params.len()];
    for _ in 0..max_iter {
        let mut matched = 0.0;
        let mut total = 0.0;
        for (levels, c) in patterns {
            matched += posterior(&model.params, &model.params, prior, levels, &all) * c;
            total += c;
        }
        let next = (matched / total.max(1.0)).clamp(1e-9, 1.0 - 1e-9);
        if (next - prior).abs() < 1e-9 {
            return next;
        }
        prior = next;
    }
    prior
}

/// The prior as the chance that two records drawn at random are a match, estimated without
/// labels from the candidates of a sample of queries: given a prior, each candidate's
/// probability follows from its evidence (`bits`: every field's weight, without the prior);
/// their sum over the queries is the expected number of matches per query; divided by the
/// records each query could have met, that is the next prior. Repeated to a fixed point.
///
/// This is the prior the weights are for: u comes from random pairs, so the prior must too.
/// (The share of matches among candidate pairs would count the names twice: candidates were
/// found by their names already.)
pub fn estimate_random_prior(bits: &[f64], queries: usize, others: usize) -> f64 {
    if bits.is_empty() || queries == 0 || others == 0 {
        return 1.0 / (others.max(1) as f64 + 1.0);
    }
    let mut per_query = 1.0f64;
    for _ in 0..200 {
        let prior = (per_query / others as f64).clamp(1e-12, 0.5);
        let lo = log2_odds(prior);
        let sum: f64 = bits.iter().map(|b| probability_of(lo + b)).sum();
        let next = (sum / queries as f64).max(1e-6);
        if (next - per_query).abs() < 1e-6 * per_query.max(1e-3) {
            per_query = next;
            break;
        }
        per_query = next;
    }
    (per_query / others as f64).clamp(1e-12, 0.5)
}

/// The lowest probability threshold at which the expected precision of everything at or above
/// it (the mean of its probabilities) is still at least `target`. Uses no labels: only the
/// model's own probabilities. Never below `floor`; 1.0 when nothing qualifies.
pub fn choose_threshold(probabilities: &[f64], target: f64, floor: f64) -> f64 {
    let mut p: Vec<f64> = probabilities
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    p.sort_by(|a, b| b.total_cmp(a));
    let mut expected_false = 0.0;
    let mut best = 1.0;
    for (k, x) in p.iter().enumerate() {
        expected_false += 1.0 - x;
        if expected_false / (k + 1) as f64 <= 1.0 - target && *x >= floor {
            best = *x;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::Kind;
    use crate::model::Field;

    fn field(name: &str, kind: Kind) -> Field {
        Field {
            name: name.into(),
            kind,
            column: name.into(),
            term_frequency: false,
            swap_with: None,
            a_number: false,
        }
    }

    /// Simulates pairs from known m and u and checks EM finds m again, unlabelled.
    #[test]
    fn em_recovers_known_m_probabilities() {
        let fields = vec![
            field("a", Kind::Categorical),
            field("b", Kind::Categorical),
            field("c", Kind::Identifier),
        ];
        let true_m = [vec![0.95, 0.05], vec![0.9, 0.1], vec![0.8, 0.15, 0.05]];
        let true_u = [vec![0.1, 0.9], vec![0.2, 0.8], vec![0.01, 0.04, 0.95]];
        let mut rng = SplitMix::new(7);
        let draw = |rng: &mut SplitMix, p: &[f64]| -> u8 {
            let x = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let mut acc = 0.0;
            for (i, v) in p.iter().enumerate() {
                acc += v;
                if x < acc {
                    return i as u8;
                }
            }
            (p.len() - 1) as u8
        };
        let mut pairs = Vec::new();
        let mut randoms = Vec::new();
        for k in 0..60_000 {
            let is_match = k % 4 == 0;
            let src = if is_match { &true_m } else { &true_u };
            let levels: Vec<u8> = src.iter().map(|p| draw(&mut rng, p)).collect();
            pairs.push(Gamma {
                levels,
                swapped: false,
            });
            let r: Vec<u8> = true_u.iter().map(|p| draw(&mut rng, p)).collect();
            randoms.push(Gamma {
                levels: r,
                swapped: false,
            });
        }
        let mut model = Model::untrained(fields);
        estimate_u(&mut model, &tally(randoms));
        let report = em(&mut model, &tally(pairs), &[true, true, true], 500);
        assert!(report.converged, "{report:?}");
        assert!((report.prior - 0.25).abs() < 0.02, "{report:?}");
        for (f, want) in true_m.iter().enumerate() {
            for (l, w) in want.iter().enumerate() {
                let got = model.params[f].m[l];
                assert!((got - w).abs() < 0.03, "field {f} level {l}: {got} vs {w}");
            }
        }
        let prior = estimate_prior(&model, &tally(Vec::<Gamma>::new()), 10);
        assert!(prior > 0.0);
    }

    #[test]
    fn random_prior_finds_the_matches_per_query() {
        // 100 queries, each with one overwhelming match (+40 bits) and nine clear non-matches
        // (-10 bits), among a million records: about one match per query.
        let mut bits = Vec::new();
        for _ in 0..100 {
            bits.push(40.0);
            bits.extend([-10.0; 9]);
        }
        let prior = estimate_random_prior(&bits, 100, 1_000_000);
        assert!((prior * 1e6 - 1.0).abs() < 0.05, "{prior}");
        assert!(estimate_random_prior(&[], 0, 10) > 0.0);
    }

    #[test]
    fn threshold_keeps_expected_precision() {
        let mut p = vec![0.9999; 1000];
        p.extend(vec![0.99; 100]);
        p.extend(vec![0.6; 100]);
        let t = choose_threshold(&p, 0.999, 0.5);
        assert_eq!(t, 0.99);
        assert_eq!(choose_threshold(&[0.4, 0.3], 0.999, 0.5), 1.0);
        assert_eq!(choose_threshold(&[], 0.999, 0.5), 1.0);
    }

    #[test]
    fn splitmix_is_deterministic() {
        let a: Vec<u64> = (0..3)
            .scan(SplitMix::new(1), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..3)
            .scan(SplitMix::new(1), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        let mut r = SplitMix::new(2);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
