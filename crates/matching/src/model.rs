//! The Fellegi–Sunter model: fields and their comparison levels, the m and u probabilities of
//! each level, the prior, term frequencies, and the scoring that turns a comparison vector into
//! a match weight, a probability and a waterfall of evidence.
//!
//! Weights are in bits: a level with m = 0.9 and u = 0.001 adds log2(900) ≈ 9.8 bits. The match
//! weight is the prior's log-odds plus every field's weight; the probability is its logistic.
//! Training ([`crate::train`]) fills m by EM and u from random pairs, without labels.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::compare::{self, Kind, NULL, Ymd};
use crate::text::NameValue;

/// A model as a TOML file describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The column that identifies a row in the output (default: the row number).
    #[serde(default)]
    pub id_column: Option<String>,
    #[serde(rename = "field")]
    pub fields: Vec<FieldSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The name shown in explanations.
    pub name: String,
    pub kind: Kind,
    /// The input column (default: the field's name).
    #[serde(default)]
    pub column: Option<String>,
    /// Adjust agreement by how common the value is (default: on for names, off otherwise).
    #[serde(default)]
    pub term_frequency: Option<bool>,
    /// Another name field that may hold this one's value when a file swapped name order.
    #[serde(default)]
    pub swap_with: Option<String>,
    /// `a_number` to read identifiers as A-numbers (nine digits, leading "A" optional).
    #[serde(default)]
    pub format: Option<String>,
}

/// What is wrong with a model or its inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("the model has no fields")]
    NoFields,
    #[error("field {0:?} appears twice")]
    DuplicateField(String),
    #[error("field {field:?}: {message}")]
    Field { field: String, message: String },
    #[error("column {column:?} (field {field:?}) is not in the input; its columns are: {have}")]
    UnknownColumn {
        field: String,
        column: String,
        have: String,
    },
    #[error(
        "the model cannot find candidates: it needs at least one name, identifier or code field"
    )]
    NothingToBlockOn,
}

/// One field of a bound model.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub kind: Kind,
    pub column: String,
    pub term_frequency: bool,
    pub swap_with: Option<usize>,
    pub a_number: bool,
}

/// A field's value prepared for comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Name(NameValue),
    Date(Option<Ymd>),
    Identifier(String),
    Text(Vec<String>),
    Code(String),
    Category(String),
}

impl Value {
    pub fn is_null(&self) -> bool {
        match self {
            Value::Name(n) => n.is_empty(),
            Value::Date(d) => d.is_none(),
            Value::Identifier(s) | Value::Code(s) | Value::Category(s) => s.is_empty(),
            Value::Text(w) => w.is_empty(),
        }
    }

    /// The value as shown in an explanation.
    pub fn display(&self) -> String {
        match self {
            Value::Name(n) => n.folded.clone(),
            Value::Date(d) => d.map(|d| d.to_string()).unwrap_or_default(),
            Value::Identifier(s) | Value::Code(s) | Value::Category(s) => s.clone(),
            Value::Text(w) => w.join(" "),
        }
    }

    /// The key term frequencies (and the chance two random values agree exactly) are counted
    /// under.
    pub fn tf_key(&self) -> Option<String> {
        match self {
            Value::Name(n) if !n.is_empty() => {
                let mut t: Vec<&str> = n.tokens.iter().map(|t| t.text.as_str()).collect();
                t.sort_unstable();
                Some(t.join(" "))
            }
            Value::Identifier(s) | Value::Code(s) | Value::Category(s) if !s.is_empty() => {
                Some(s.clone())
            }
            Value::Date(Some(d)) => Some(d.to_string()),
            Value::Text(w) if !w.is_empty() => {
                let mut w = w.clone();
                w.sort_unstable();
                Some(w.join(" "))
            }
            _ => None,
        }
    }
}

/// A prepared row: one value per field, in the model's field order.
pub type Row = Vec<Value>;

/// The learned parameters of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// P(level | match), one per level.
    pub m: Vec<f64>,
    /// P(level | non-match), one per level.
    pub u: Vec<f64>,
}

/// Term frequencies of one field's values, as shares of all non-empty values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TermFrequencies {
    pub share: HashMap<String, f64>,
    /// The share assumed for a value never seen (half of one occurrence).
    pub unseen: f64,
}

impl TermFrequencies {
    pub fn count<'a>(keys: impl Iterator<Item = &'a str>) -> Self {
        let mut counts: HashMap<String, u64> = HashMap::new();
        for k in keys {
            *counts.entry(k.to_owned()).or_default() += 1;
        }
        Self::from_counts(counts)
    }

    pub fn from_counts(counts: HashMap<String, u64>) -> Self {
        let total = counts.values().sum::<u64>().max(1) as f64;
        Self {
            share: counts
                .into_iter()
                .map(|(k, c)| (k, c as f64 / total))
                .collect(),
            unseen: 0.5 / total,
        }
    }

    /// The chance that a value drawn from `self` equals one drawn from `other`. Summed in key
    /// order: a sum in hash order differs in its last bits from run to run, and so would every
    /// weight trained from it.
    pub fn agreement(&self, other: &Self) -> f64 {
        let mut terms: Vec<(&String, f64)> = self
            .share
            .iter()
            .map(|(k, x)| (k, x * other.share.get(k).copied().unwrap_or(0.0)))
            .collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(b.0));
        terms.iter().map(|t| t.1).sum()
    }

    pub fn of(&self, key: &str) -> f64 {
        self.share.get(key).copied().unwrap_or(self.unseen)
    }
}

/// A model: fields, their parameters, the prior and the term frequencies.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub fields: Vec<Field>,
    pub params: Vec<Params>,
    /// The probability that a candidate pair is a match, before looking at it.
    pub prior: f64,
    pub tf: Vec<Option<TermFrequencies>>,
}

/// The comparison vector of a pair: one level per field, and whether swapped name order was
/// used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gamma {
    pub levels: Vec<u8>,
    pub swapped: bool,
}

/// How one field contributed to a score.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub field: String,
    /// The comparison level hit ("exact", "phonetic", "day_month_swapped", "missing").
    pub level: String,
    /// Bits added (negative: against a match), term-frequency adjustment included.
    pub weight: f64,
    /// The part of `weight` that comes from how common the value is.
    pub tf_adjustment: f64,
    /// The two values compared, as normalised ("garcia lopez" / "garcia").
    pub left: String,
    pub right: String,
}

/// A scored pair.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Prior log-odds plus every field's weight, in bits.
    pub match_weight: f64,
    pub probability: f64,
}

pub fn probability_of(weight: f64) -> f64 {
    let odds = weight.exp2();
    if odds.is_infinite() {
        1.0
    } else {
        odds / (1.0 + odds)
    }
}

pub fn log2_odds(p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    (p / (1.0 - p)).log2()
}

impl ModelSpec {
    /// Checks the spec and binds it to an input's columns.
    pub fn bind(&self, columns: &[String]) -> Result<Vec<Field>, ModelError> {
        if self.fields.is_empty() {
            return Err(ModelError::NoFields);
        }
        let mut out: Vec<Field> = Vec::new();
        for f in &self.fields {
            if f.name.trim().is_empty() {
                return Err(ModelError::Field {
                    field: f.name.clone(),
                    message: "a field needs a name".into(),
                });
            }
            if out.iter().any(|o| o.name == f.name) {
                return Err(ModelError::DuplicateField(f.name.clone()));
            }
            let column = f.column.clone().unwrap_or_else(|| f.name.clone());
            if !columns.contains(&column) {
                return Err(ModelError::UnknownColumn {
                    field: f.name.clone(),
                    column,
                    have: columns.join(", "),
                });
            }
            let a_number = match f.format.as_deref() {
                None => false,
                Some("a_number") if f.kind == Kind::Identifier => true,
                Some(other) => {
                    return Err(ModelError::Field {
                        field: f.name.clone(),
                        message: format!(
                            "unknown format {other:?}: the only format is \"a_number\", for identifier fields"
                        ),
                    });
                }
            };
            out.push(Field {
                name: f.name.clone(),
                kind: f.kind,
                column,
                term_frequency: f.term_frequency.unwrap_or(f.kind == Kind::Name),
                swap_with: None,
                a_number,
            });
        }
        for (i, f) in self.fields.iter().enumerate() {
            if let Some(other) = &f.swap_with {
                let j =
                    out.iter()
                        .position(|o| &o.name == other)
                        .ok_or_else(|| ModelError::Field {
                            field: f.name.clone(),
                            message: format!("swap_with names {other:?}, which is not a field"),
                        })?;
                if out[i].kind != Kind::Name || out[j].kind != Kind::Name || i == j {
                    return Err(ModelError::Field {
                        field: f.name.clone(),
                        message: "swap_with pairs two different name fields".into(),
                    });
                }
                out[i].swap_with = Some(j);
                out[j].swap_with = Some(i);
            }
        }
        if !out
            .iter()
            .any(|f| matches!(f.kind, Kind::Name | Kind::Identifier | Kind::Code))
        {
            return Err(ModelError::NothingToBlockOn);
        }
        Ok(out)
    }
}

/// Prepares one raw value for a field.
pub fn prepare(
    field: &Field,
    raw: &str,
    codes: &mut dyn FnMut(&str) -> crate::text::Codes,
) -> Value {
    match field.kind {
        Kind::Name => Value::Name(NameValue::with(raw, codes)),
        Kind::Date => Value::Date(Ymd::parse(raw)),
        Kind::Identifier => Value::Identifier(if field.a_number {
            compare::normalise_a_number(raw)
        } else {
            compare::normalise_identifier(raw)
        }),
        Kind::Text => Value::Text(
            crate::text::fold(raw)
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Kind::Code => Value::Code(compare::normalise_identifier(raw)),
        Kind::Categorical => Value::Category(crate::text::fold(raw)),
    }
}

fn level(kind: Kind, a: &Value, b: &Value) -> u8 {
    match (a, b) {
        (Value::Name(x), Value::Name(y)) => compare::names(x, y),
        (Value::Date(x), Value::Date(y)) => compare::dates(*x, *y),
        (Value::Identifier(x), Value::Identifier(y)) => compare::identifiers(x, y),
        (Value::Text(x), Value::Text(y)) => compare::texts(x, y),
        (Value::Code(x), Value::Code(y)) => compare::codes(x, y),
        (Value::Category(x), Value::Category(y)) => compare::categories(x, y),
        _ => {
            debug_assert!(false, "values of different kinds for {kind:?}");
            NULL
        }
    }
}

fn cost(levels: &[u8]) -> u32 {
    levels
        .iter()
        .map(|&l| if l == NULL { 4 } else { u32::from(l) })
        .sum()
}

/// Compares two rows field by field. Name fields paired by `swap_with` are also compared
/// crosswise, and the crosswise reading is used when it fits clearly better (a file that put
/// the family name where the given name goes).
pub fn gamma(fields: &[Field], a: &Row, b: &Row) -> Gamma {
    let mut levels: Vec<u8> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| level(f.kind, &a[i], &b[i]))
        .collect();
    let mut swapped = false;
    for (i, f) in fields.iter().enumerate() {
        let Some(j) = f.swap_with else { continue };
        if j < i {
            continue;
        }
        let straight = [levels[i], levels[j]];
        let cross = [
            level(Kind::Name, &a[i], &b[j]),
            level(Kind::Name, &a[j], &b[i]),
        ];
        let good = |l: u8| l != NULL && l <= compare::name_level::PHONETIC;
        if good(cross[0]) && good(cross[1]) && cost(&cross) + 2 <= cost(&straight) {
            levels[i] = cross[0];
            levels[j] = cross[1];
            swapped = true;
        }
    }
    Gamma { levels, swapped }
}

impl Model {
    /// A model with neutral parameters (every level as likely among matches as among
    /// non-matches), ready to train.
    pub fn untrained(fields: Vec<Field>) -> Self {
        let params = fields
            .iter()
            .map(|f| {
                let n = f.kind.levels().len();
                // Agreement starts likelier among matches, so EM begins on the right side.
                let m: Vec<f64> = (0..n).map(|l| 0.5f64.powi(l as i32 * 2)).collect();
                let sm: f64 = m.iter().sum();
                let u: Vec<f64> = (0..n).map(|l| 0.5f64.powi((n - 1 - l) as i32)).collect();
                let su: f64 = u.iter().sum();
                Params {
                    m: m.iter().map(|x| x / sm).collect(),
                    u: u.iter().map(|x| x / su).collect(),
                }
            })
            .collect();
        let tf = fields.iter().map(|_| None).collect();
        Self {
            fields,
            params,
            prior: 1e-4,
            tf,
        }
    }

    /// The weight, in bits, of a field's level (0 for a missing value).
    pub fn level_weight(&self, field: usize, level: u8) -> f64 {
        if level == NULL {
            return 0.0;
        }
        let p = &self.params[field];
        (p.m[level as usize] / p.u[level as usize]).log2()
    }

    /// The term-frequency adjustment, in bits, for an agreement on `value`: positive for a rare
    /// value, negative for a common one. Applied to exact agreement only.
    pub fn tf_adjustment(&self, field: usize, level: u8, value: &Value) -> f64 {
        let Some(tf) = &self.tf[field] else {
            return 0.0;
        };
        if level != 0 {
            return 0.0;
        }
        let Some(key) = value.tf_key() else {
            return 0.0;
        };
        let u = self.params[field].u[0];
        // Bounded, so a never-seen spelling cannot outweigh everything else.
        (u / tf.of(&key)).log2().clamp(-6.0, 6.0)
    }

    /// Scores a compared pair; `right` supplies the values term frequencies are read from.
    pub fn score(&self, g: &Gamma, right: &Row) -> Score {
        let mut w = log2_odds(self.prior);
        for (i, &l) in g.levels.iter().enumerate() {
            w += self.level_weight(i, l) + self.tf_adjustment(i, l, &right[i]);
        }
        Score {
            match_weight: w,
            probability: probability_of(w),
        }
    }

    /// The waterfall: each field's level, values and weight.
    pub fn explain(&self, g: &Gamma, left: &Row, right: &Row) -> Vec<Evidence> {
        self.fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let l = g.levels[i];
                let (lv, rv) = match f.swap_with {
                    Some(j) if g.swapped => (&left[i], &right[j]),
                    _ => (&left[i], &right[i]),
                };
                let tf = self.tf_adjustment(i, l, &right[i]);
                Evidence {
                    field: f.name.clone(),
                    level: if l == NULL {
                        "missing".to_owned()
                    } else {
                        f.kind.levels()[l as usize].to_owned()
                    },
                    weight: self.level_weight(i, l) + tf,
                    tf_adjustment: tf,
                    left: lv.display(),
                    right: rv.display(),
                }
            })
            .collect()
    }

    /// Counts term frequencies for the fields that use them.
    pub fn count_terms<'a>(&mut self, rows: impl Iterator<Item = &'a Row> + Clone) {
        for (i, f) in self.fields.iter().enumerate() {
            if f.term_frequency {
                let keys: Vec<String> = rows.clone().filter_map(|r| r[i].tf_key()).collect();
                self.tf[i] = Some(TermFrequencies::count(keys.iter().map(String::as_str)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(toml_fields: &[(&str, Kind)]) -> ModelSpec {
        ModelSpec {
            id_column: None,
            fields: toml_fields
                .iter()
                .map(|(n, k)| FieldSpec {
                    name: (*n).into(),
                    kind: *k,
                    column: None,
                    term_frequency: None,
                    swap_with: None,
                    format: None,
                })
                .collect(),
        }
    }

    fn cols(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn binding_names_what_is_wrong() {
        let s = spec(&[("given", Kind::Name), ("dob", Kind::Date)]);
        let e = s.bind(&cols(&["given", "birth"])).unwrap_err();
        assert!(e.to_string().contains("\"dob\""), "{e}");
        assert!(e.to_string().contains("given, birth"), "{e}");
        assert_eq!(
            spec(&[]).bind(&cols(&["a"])).unwrap_err(),
            ModelError::NoFields
        );
        assert_eq!(
            spec(&[("dob", Kind::Date)])
                .bind(&cols(&["dob"]))
                .unwrap_err(),
            ModelError::NothingToBlockOn
        );
        let twice = spec(&[("a", Kind::Name), ("a", Kind::Name)]);
        assert!(matches!(
            twice.bind(&cols(&["a"])),
            Err(ModelError::DuplicateField(_))
        ));
        let mut bad_swap = spec(&[("a", Kind::Name), ("b", Kind::Date)]);
        bad_swap.fields[0].swap_with = Some("b".into());
        assert!(bad_swap.bind(&cols(&["a", "b"])).is_err());
        let mut bad_format = spec(&[("a", Kind::Name)]);
        bad_format.fields[0].format = Some("a_number".into());
        assert!(bad_format.bind(&cols(&["a"])).is_err());
    }

    #[test]
    fn a_toml_model_with_an_unknown_key_is_refused() {
        let err = toml_like_error();
        assert!(err.contains("unknown field"), "{err}");
    }

    fn toml_like_error() -> String {
        // The binary reads TOML; JSON exercises the same serde rules here without the parser.
        serde_json::from_str::<ModelSpec>(r#"{"field":[{"name":"a","kind":"name","colum":"x"}]}"#)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn swapped_name_order_is_recognised() {
        let mut s = spec(&[("given", Kind::Name), ("family", Kind::Name)]);
        s.fields[0].swap_with = Some("family".into());
        let fields = s.bind(&cols(&["given", "family"])).unwrap();
        let row = |g: &str, f: &str| -> Row {
            vec![
                Value::Name(NameValue::new(g)),
                Value::Name(NameValue::new(f)),
            ]
        };
        let g = gamma(
            &fields,
            &row("José", "García López"),
            &row("García López", "José"),
        );
        assert!(g.swapped);
        assert_eq!(g.levels, vec![0, 0]);
        let g = gamma(
            &fields,
            &row("José", "García López"),
            &row("José", "García"),
        );
        assert!(!g.swapped);
        assert_eq!(g.levels, vec![0, 1]);
    }

    #[test]
    fn rare_values_weigh_more_than_common_ones() {
        let fields = spec(&[("family", Kind::Name)])
            .bind(&cols(&["family"]))
            .unwrap();
        let mut m = Model::untrained(fields);
        m.params[0].u[0] = 0.05;
        let rows: Vec<Row> = ["garcia"; 50]
            .iter()
            .chain(["zyzzyva"; 1].iter())
            .chain(["smith"; 49].iter())
            .map(|n| vec![Value::Name(NameValue::new(n))])
            .collect();
        m.count_terms(rows.iter());
        let common = m.tf_adjustment(0, 0, &rows[0][0]);
        let rare = m.tf_adjustment(0, 0, &rows[50][0]);
        assert!(common < 0.0 && rare > 0.0, "{common} {rare}");
        assert_eq!(m.tf_adjustment(0, 3, &rows[50][0]), 0.0);
    }

    #[test]
    fn probability_and_odds_round_trip() {
        for p in [0.001, 0.2, 0.5, 0.9, 0.999] {
            assert!((probability_of(log2_odds(p)) - p).abs() < 1e-9);
        }
        assert_eq!(probability_of(5000.0), 1.0);
        assert_eq!(probability_of(-5000.0), 0.0);
    }
}
