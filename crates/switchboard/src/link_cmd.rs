//! `switchboard link`, `dedupe` and `eval`: the matching engine over CSV files, for record sets
//! that are not ours. The model is a TOML file naming columns and their comparison kinds; the
//! engine trains itself on the files (no labels), chooses the strong threshold, and writes
//! every scored candidate pair. `eval` scores a pairs file against a truth file.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use switchboard_matching::linker::{self, Band, Linked, Table};
use switchboard_matching::model::ModelSpec;

#[derive(Debug, Args)]
pub struct LinkArgs {
    /// The model: a TOML file of `[[field]]` entries (name, kind, column, term_frequency,
    /// swap_with, format) and an optional `id_column`.
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    left: PathBuf,
    #[arg(long)]
    right: PathBuf,
    /// Where to write the scored pairs (CSV).
    #[arg(long)]
    out: PathBuf,
    /// Pairs below this probability are not written.
    #[arg(long, default_value_t = 0.01)]
    min_probability: f64,
}

#[derive(Debug, Args)]
pub struct DedupeArgs {
    #[arg(long)]
    model: PathBuf,
    #[arg(long)]
    input: PathBuf,
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 0.01)]
    min_probability: f64,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The truth: a CSV with a record id column and an entity (person) column.
    #[arg(long)]
    truth: PathBuf,
    /// Pairs written by `link` or `dedupe`.
    #[arg(long)]
    pairs: PathBuf,
    #[arg(long, default_value = "record_id")]
    truth_id_column: String,
    #[arg(long, default_value = "person_id")]
    truth_entity_column: String,
    /// For a link: the two files linked (true pairs are across them). Without these or
    /// --input, every record in the truth file counts.
    #[arg(long, requires = "right", conflicts_with = "input")]
    left: Option<PathBuf>,
    #[arg(long, requires = "left")]
    right: Option<PathBuf>,
    /// For a dedupe: the file deduplicated.
    #[arg(long)]
    input: Option<PathBuf>,
    /// The id column of --left/--right/--input.
    #[arg(long, default_value = "record_id")]
    id_column: String,
    /// Count a pair as predicted when its probability is at least this, instead of its band
    /// being strong.
    #[arg(long)]
    min_probability: Option<f64>,
}

/// Reads a CSV file with a header into a table, with errors that name the file and line.
pub fn read_table(path: &Path) -> anyhow::Result<Table> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(file);
    let mut columns: Vec<String> = reader
        .headers()
        .with_context(|| format!("reading the header of {}", path.display()))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if let Some(first) = columns.first_mut() {
        *first = first.trim_start_matches('\u{feff}').to_owned();
    }
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        bail!(
            "{} is empty: it needs a header line naming its columns",
            path.display()
        );
    }
    let mut seen = HashSet::new();
    for c in &columns {
        if !seen.insert(c) {
            bail!(
                "{}: the column {c:?} appears twice in the header",
                path.display()
            );
        }
    }
    let mut rows = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let r = r.map_err(|e| {
            anyhow::anyhow!(
                "{}: line {}: {}",
                path.display(),
                e.position().map(|p| p.line()).unwrap_or(i as u64 + 2),
                match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("{len} fields where the header has {expected_len}"),
                    csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
                    _ => e.to_string(),
                }
            )
        })?;
        rows.push(r.iter().map(str::to_owned).collect());
    }
    Ok(Table { columns, rows })
}

fn read_model(path: &Path) -> anyhow::Result<ModelSpec> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not a valid model", path.display()))
}

pub fn link(args: &LinkArgs) -> anyhow::Result<()> {
    check_probability(args.min_probability)?;
    let spec = read_model(&args.model)?;
    let left = read_table(&args.left)?;
    let right = read_table(&args.right)?;
    let t = Instant::now();
    let linked = linker::link(&spec, &left, &right).with_context(|| {
        format!(
            "linking {} with {}",
            args.left.display(),
            args.right.display()
        )
    })?;
    report(&linked, t.elapsed(), left.rows.len(), right.rows.len());
    write_pairs(&linked, &args.out, args.min_probability)
}

pub fn dedupe(args: &DedupeArgs) -> anyhow::Result<()> {
    check_probability(args.min_probability)?;
    let spec = read_model(&args.model)?;
    let input = read_table(&args.input)?;
    let t = Instant::now();
    let linked = linker::dedupe(&spec, &input)
        .with_context(|| format!("deduplicating {}", args.input.display()))?;
    report(&linked, t.elapsed(), input.rows.len(), input.rows.len());
    write_pairs(&linked, &args.out, args.min_probability)
}

fn check_probability(p: f64) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&p) {
        bail!("--min-probability must be between 0 and 1, got {p}");
    }
    Ok(())
}

fn report(l: &Linked, took: std::time::Duration, left: usize, right: usize) {
    println!(
        "{left} x {right} rows: {} candidate pairs scored in {:.3} s (training included)",
        l.candidate_pairs,
        took.as_secs_f64()
    );
    for s in &l.train.sessions {
        println!(
            "  EM session blocked on {}: {} pairs, {} iterations{}, match share {:.3}",
            s.blocked_on,
            s.pairs,
            s.iterations,
            if s.converged { "" } else { " (not converged)" },
            s.match_share
        );
    }
    if !l.train.unlearned.is_empty() {
        println!(
            "  not learned (too few pairs show them): {}",
            l.train.unlearned.join(", ")
        );
    }
    println!(
        "  prior (chance two rows drawn at random match): {:.3e}",
        l.model.prior
    );
    let strong = l
        .pairs
        .iter()
        .filter(|p| linker::band(&l.model.fields, p, l.threshold) == Band::Strong)
        .count();
    println!(
        "threshold for the strong band, chosen without labels (expected precision {}): {:.6}; {strong} strong pairs",
        linker::STRONG_PRECISION,
        l.threshold
    );
    if l.skipped_blocks > 0 {
        println!(
            "  {} blocking keys were too common to use",
            l.skipped_blocks
        );
    }
}

fn write_pairs(l: &Linked, out: &Path, min_probability: f64) -> anyhow::Result<()> {
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    let mut header = vec![
        "left_id".to_owned(),
        "right_id".to_owned(),
        "probability".to_owned(),
        "match_weight".to_owned(),
        "band".to_owned(),
    ];
    header.extend(l.model.fields.iter().map(|f| format!("{}_level", f.name)));
    w.write_record(&header)?;
    let mut written = 0usize;
    for p in l.pairs.iter().filter(|p| p.probability >= min_probability) {
        let mut row = vec![
            l.left_ids[p.left as usize].clone(),
            l.right_ids[p.right as usize].clone(),
            format!("{:.6}", p.probability),
            format!("{:.3}", p.match_weight),
            linker::band(&l.model.fields, p, l.threshold)
                .as_str()
                .to_owned(),
        ];
        row.extend(l.model.fields.iter().zip(&p.gamma.levels).map(|(f, &lv)| {
            if lv == switchboard_matching::compare::NULL {
                "missing".to_owned()
            } else {
                f.kind.levels()[lv as usize].to_owned()
            }
        }));
        w.write_record(&row)?;
        written += 1;
    }
    w.flush()?;
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("writing {}: {}", out.display(), e.error()))?
        .flush()?;
    println!("wrote {written} pairs to {}", out.display());
    Ok(())
}

fn column(t: &Table, name: &str, path: &Path) -> anyhow::Result<usize> {
    t.columns.iter().position(|c| c == name).with_context(|| {
        format!(
            "{} has no column {name:?}; its columns are: {}",
            path.display(),
            t.columns.join(", ")
        )
    })
}

fn ids_of(path: &Path, id_column: &str) -> anyhow::Result<HashSet<String>> {
    let t = read_table(path)?;
    let c = column(&t, id_column, path)?;
    Ok(t.rows.into_iter().map(|mut r| r.swap_remove(c)).collect())
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<()> {
    if let Some(p) = args.min_probability {
        check_probability(p)?;
    }
    let truth = read_table(&args.truth)?;
    let tid = column(&truth, &args.truth_id_column, &args.truth)?;
    let tent = column(&truth, &args.truth_entity_column, &args.truth)?;
    let entity: HashMap<String, String> = truth
        .rows
        .iter()
        .map(|r| (r[tid].clone(), r[tent].clone()))
        .collect();
    if entity.is_empty() {
        bail!("{} has no rows", args.truth.display());
    }
    // The records the run saw, and whether true pairs are across two sides or within one.
    let (left, right): (HashSet<String>, Option<HashSet<String>>) =
        match (&args.left, &args.right, &args.input) {
            (Some(l), Some(r), _) => (
                ids_of(l, &args.id_column)?,
                Some(ids_of(r, &args.id_column)?),
            ),
            (_, _, Some(i)) => (ids_of(i, &args.id_column)?, None),
            _ => (entity.keys().cloned().collect(), None),
        };
    let mut true_pairs: u64 = 0;
    {
        let mut per: HashMap<&str, (u64, u64)> = HashMap::new();
        for id in &left {
            if let Some(e) = entity.get(id) {
                per.entry(e).or_default().0 += 1;
            }
        }
        if let Some(right) = &right {
            for id in right {
                if let Some(e) = entity.get(id) {
                    per.entry(e).or_default().1 += 1;
                }
            }
        }
        for (_, (a, b)) in per {
            true_pairs += if right.is_some() {
                a * b
            } else {
                a * a.saturating_sub(1) / 2
            };
        }
    }
    let pairs = read_table(&args.pairs)?;
    let pl = column(&pairs, "left_id", &args.pairs)?;
    let pr = column(&pairs, "right_id", &args.pairs)?;
    let pb = column(&pairs, "band", &args.pairs)?;
    let pp = column(&pairs, "probability", &args.pairs)?;
    let (mut tp, mut fp, mut unknown) = (0u64, 0u64, 0u64);
    let mut counted: HashSet<(String, String)> = HashSet::new();
    for (i, r) in pairs.rows.iter().enumerate() {
        let predicted = match args.min_probability {
            Some(min) => {
                let p: f64 = r[pp].parse().with_context(|| {
                    format!(
                        "{}: line {}: probability {:?} is not a number",
                        args.pairs.display(),
                        i + 2,
                        r[pp]
                    )
                })?;
                p >= min
            }
            None => r[pb] == "strong",
        };
        if !predicted {
            continue;
        }
        let (a, b) = (&r[pl], &r[pr]);
        let key = if right.is_some() || a <= b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        };
        if !counted.insert(key) {
            continue;
        }
        match (entity.get(a), entity.get(b)) {
            (Some(x), Some(y)) if x == y => tp += 1,
            (Some(_), Some(_)) => fp += 1,
            _ => {
                fp += 1;
                unknown += 1;
            }
        }
    }
    let fn_ = true_pairs.saturating_sub(tp);
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / true_pairs.max(1) as f64;
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    println!(
        "predicted pairs: {} ({}); true pairs: {true_pairs}",
        tp + fp,
        match args.min_probability {
            Some(m) => format!("probability at least {m}"),
            None => "band strong".to_owned(),
        }
    );
    println!("precision {precision:.5}  recall {recall:.5}  F1 {f1:.5}");
    println!("true positives {tp}  false positives {fp}  false negatives {fn_}");
    if unknown > 0 {
        println!(
            "  {unknown} predicted pairs name records that are not in the truth file (counted as false positives)"
        );
    }
    std::io::stdout().flush()?;
    Ok(())
}
