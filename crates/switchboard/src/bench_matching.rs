//! `switchboard bench matching`: builds the record index over generated people, then looks up
//! officers' descriptions of sampled people and reports lookup latency (p50/p95/p99), index
//! size and build time, and accuracy against the generator's truth: precision and recall of
//! the strong band, and how look-alikes (twins, same name and birth date) fared.
//!
//! Figures print to standard output; nothing is written.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use switchboard_domain::records::SourceRecord;
use switchboard_matching::index::{LookupOptions, Query, RecordIndex};
use switchboard_matching::linker::Band;
use switchboard_synth::noise::NoiseSpec;
use switchboard_synth::people::{PeopleSpec, Person, household, people};
use switchboard_synth::records::{Description, RecordSpec, describe, records_for};
use time::Date;

#[derive(Debug, Args)]
pub struct MatchingBench {
    /// People generated into the index (their records in six systems).
    #[arg(long, default_value_t = 1_000_000)]
    people: u64,
    /// Officers' descriptions looked up.
    #[arg(long, default_value_t = 5_000)]
    queries: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Multiplies every noise rate of records and descriptions.
    #[arg(long, default_value_t = 1.0)]
    noise_scale: f64,
}

struct Probe {
    description: Description,
    own: HashSet<String>,
    /// Records of the person's twin or look-alike.
    lookalike: HashSet<String>,
    /// A twin or look-alike: over-represented among the probes on purpose.
    hard: bool,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(args: &MatchingBench) -> anyhow::Result<()> {
    if args.people == 0 || args.people > 20_000_000 {
        bail!("--people must be 1 to 20,000,000, got {}", args.people);
    }
    let today = Date::from_calendar_date(2026, time::Month::November, 21)?;
    let noise = NoiseSpec::default()
        .scaled(args.noise_scale)
        .map_err(anyhow::Error::msg)?;
    let pspec = PeopleSpec::new(args.seed, args.people, today);
    let rspec = RecordSpec {
        seed: args.seed,
        noise,
        today,
    };
    // Which people to describe: an even spread, plus every look-alike and twin met on the way
    // (the hard cases), up to the number of queries.
    let stride = (args.people / args.queries.max(1) as u64).max(1);
    // Records stream from the generator straight into the index, so the memory measured is
    // the index's, not a copy of every record waiting to be indexed.
    let started = Instant::now();
    let mut probes: Vec<Probe> = Vec::new();
    let mut hard = 0usize;
    let queries = args.queries;
    let records = people(pspec).flat_map(|p| {
        let mut recs = records_for(&rspec, &p);
        let is_hard = p.twin_of.is_some() || p.namesake_of.is_some();
        let wanted = p.id % stride == 0 || (is_hard && hard < queries / 5);
        if wanted && probes.len() < queries && !recs.is_empty() {
            hard += usize::from(is_hard);
            probes.push(Probe {
                description: describe(&rspec, &p, &recs),
                own: recs.truth.iter().map(|t| t.record_id.clone()).collect(),
                lookalike: lookalike_records(&pspec, &rspec, &p),
                hard: is_hard,
            });
        }
        let mut out: Vec<SourceRecord> = Vec::new();
        recs.drain_into(&mut out);
        out
    });
    let index = RecordIndex::build(records, args.seed);
    let built = started.elapsed();
    let n_records = index.len();
    let r = index.report();
    println!(
        "index: {} people, {n_records} records, {} postings, {:.0} MiB held by the index; generated, built and trained in {:.1} s",
        args.people,
        r.postings,
        index.bytes() as f64 / (1024.0 * 1024.0),
        built.as_secs_f64()
    );
    println!(
        "training: {} random pairs for u; {} rows for EM; sessions {}; prior {:.3e} (expected {:.2} other records of the same person per record); strong threshold {:.6} (chosen without labels){}",
        r.random_pairs,
        r.training_rows,
        r.sessions
            .iter()
            .map(|s| format!(
                "[{}: {} pairs, {:.3} matches, {} iterations{}]",
                s.blocked_on,
                s.pairs,
                s.match_share,
                s.iterations,
                if s.converged { "" } else { ", not converged" }
            ))
            .collect::<Vec<_>>()
            .join(" "),
        r.prior,
        r.prior * (n_records as f64 - 1.0),
        r.strong_threshold,
        if r.unlearned.is_empty() {
            String::new()
        } else {
            format!("; not learned: {}", r.unlearned.join(", "))
        }
    );

    let model = index.model();
    println!("model (bits per level, m / u):");
    for (i, f) in model.fields.iter().enumerate() {
        let p = &model.params[i];
        let levels: Vec<String> = f
            .kind
            .levels()
            .iter()
            .enumerate()
            .map(|(l, name)| {
                format!(
                    "{name} {:+.1} ({:.4}/{:.6})",
                    model.level_weight(i, l as u8),
                    p.m[l],
                    p.u[l]
                )
            })
            .collect();
        println!("  {}: {}", f.name, levels.join(", "));
    }
    let opts = LookupOptions::default();
    // Warm-up: the first lookups touch cold memory.
    for p in probes.iter().take(50) {
        let _ = index.lookup(&query(&p.description), today, &opts);
    }
    let mut times = Vec::with_capacity(probes.len());
    let (mut strong_true, mut strong_false, mut strong_lookalike) = (0usize, 0usize, 0usize);
    let (mut own_total, mut own_strong, mut own_found) = (0usize, 0usize, 0usize);
    let (mut own_probable, mut corroborable, mut corroborable_strong) = (0usize, 0usize, 0usize);
    let mut compared = Vec::new();
    let mut by_band: HashMap<Band, (usize, usize)> = HashMap::new();
    let mut misses: Vec<String> = Vec::new();
    let mut calibration = [(0.0f64, 0usize, 0usize); 10];
    let mut why: HashMap<String, usize> = HashMap::new();
    for p in &probes {
        let q = query(&p.description);
        let t = Instant::now();
        let res = index.lookup(&q, today, &opts);
        times.push(t.elapsed());
        compared.push(res.compared);
        own_total += p.own.len();
        let mut seen = HashSet::new();
        for c in &res.candidates {
            let mine = p.own.contains(&c.record.record_id);
            if mine && c.band <= Band::Probable {
                own_probable += 1;
            }
            let shares_id = |given: &Option<String>, held: &Option<String>| matches!((given, held), (Some(a), Some(b)) if a == b);
            let agrees = shares_id(&q.a_number, &c.record.a_number)
                || shares_id(&q.fbi_number, &c.record.fbi_number);
            if mine && agrees {
                corroborable += 1;
                corroborable_strong += usize::from(c.band == Band::Strong);
            }
            let e = by_band.entry(c.band).or_default();
            if mine {
                e.0 += 1;
                own_found += 1;
                seen.insert(c.record.record_id.clone());
            } else {
                e.1 += 1;
            }
            if (mine && c.band != Band::Strong) || (!mine && c.probability >= 0.9) {
                let mut codes: Vec<&str> = c.warnings.iter().map(|w| w.code).collect();
                codes.sort_unstable();
                codes.dedup();
                let key = format!(
                    "{}{} {}: {}",
                    if mine {
                        "own, not strong"
                    } else {
                        "other, p>=0.9"
                    },
                    if agrees { " (identifier agrees)" } else { "" },
                    if c.probability >= 0.9 {
                        "p>=0.9"
                    } else {
                        "p<0.9"
                    },
                    codes.join(",")
                );
                *why.entry(key).or_default() += 1;
            }
            // Calibration over the evenly spread probes only: the look-alikes added on purpose
            // would otherwise weigh far beyond their share of real inquiries.
            if !p.hard {
                let bin = ((c.probability * 10.0) as usize).min(9);
                calibration[bin].0 += c.probability;
                calibration[bin].1 += 1;
                calibration[bin].2 += usize::from(mine);
            }
            if c.band == Band::Strong {
                if mine {
                    strong_true += 1;
                    own_strong += 1;
                } else {
                    strong_false += 1;
                    if p.lookalike.contains(&c.record.record_id) {
                        strong_lookalike += 1;
                    }
                    if misses.len() < 5 {
                        misses.push(format!(
                            "false strong: {:?} -> {} {} {} {:?} (p={:.6}; warnings {:?})",
                            q,
                            c.record.record_id,
                            c.record.given_name,
                            c.record.family_name,
                            c.record.date_of_birth,
                            c.probability,
                            c.warnings.iter().map(|w| w.code).collect::<Vec<_>>()
                        ));
                    }
                }
            }
        }
    }
    times.sort();
    compared.sort_unstable();
    println!(
        "lookups: {} descriptions, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms; records compared per lookup p50 {} p99 {}",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.95)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
        compared.get(compared.len() / 2).copied().unwrap_or(0),
        compared
            .get((compared.len() as f64 * 0.99) as usize)
            .copied()
            .unwrap_or(0),
    );
    let precision = strong_true as f64 / (strong_true + strong_false).max(1) as f64;
    let recall = own_strong as f64 / own_total.max(1) as f64;
    println!(
        "strong band: precision {precision:.5} ({strong_true} right, {strong_false} wrong, of which {strong_lookalike} a twin's or look-alike's), recall {recall:.5} ({own_strong} of the described people's {own_total} records); any band: {own_found} of {own_total} found"
    );
    println!(
        "  strong or probable: {own_probable} of {own_total} ({:.5}); strong among the person's records that hold the identifier the officer gave: {corroborable_strong} of {corroborable} ({:.5})",
        own_probable as f64 / own_total.max(1) as f64,
        corroborable_strong as f64 / corroborable.max(1) as f64
    );
    let mut bands: Vec<_> = by_band.into_iter().collect();
    bands.sort();
    for (b, (t, f)) in bands {
        println!(
            "  band {:<9} {t} of the person's records, {f} of others",
            b.as_str()
        );
    }
    println!(
        "calibration over the evenly spread descriptions (predicted vs observed share of the person's records, by probability tenth):"
    );
    for (i, (sum, n, hits)) in calibration.iter().enumerate() {
        if *n > 0 {
            println!(
                "  {:.1}-{:.1}: {n} candidates, mean predicted {:.3}, observed {:.3}",
                i as f64 / 10.0,
                (i + 1) as f64 / 10.0,
                sum / *n as f64,
                *hits as f64 / *n as f64
            );
        }
    }
    println!("hard cases described: {hard} (twins and look-alikes)");
    let mut why: Vec<_> = why.into_iter().collect();
    why.sort_by_key(|w| std::cmp::Reverse(w.1));
    println!(
        "warnings on the person's records outside the strong band, and on others' records at p >= 0.9:"
    );
    for (k, n) in why
        .iter()
        .filter(|w| w.0.contains("agrees") || w.1 >= 50)
        .take(40)
    {
        println!("  {n:>6}  {k}");
    }
    for m in misses {
        println!("  {m}");
    }
    if let Some(rss) = peak_rss_mib() {
        println!(
            "peak resident memory: {rss:.0} MiB (the whole process: index, build buffers, probes)"
        );
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn query(d: &Description) -> Query {
    Query {
        given: d.given.clone(),
        family: d.family.clone(),
        dob: d.dob,
        sex: Some(d.sex.to_owned()),
        birth_country: d.country_of_birth.clone(),
        birth_place: None,
        a_number: d.a_number.clone(),
        fbi_number: d.fbi_number.clone(),
        state_id: None,
    }
}

/// The record ids of a person's twin and look-alike, regenerated from their households.
fn lookalike_records(pspec: &PeopleSpec, rspec: &RecordSpec, p: &Person) -> HashSet<String> {
    let mut out = HashSet::new();
    for other in [p.twin_of, p.namesake_of].into_iter().flatten() {
        if let Some(o) = household(pspec, other / 8)
            .into_iter()
            .find(|x| x.id == other)
        {
            out.extend(
                records_for(rspec, &o)
                    .truth
                    .into_iter()
                    .map(|t| t.record_id),
            );
        }
    }
    out
}
