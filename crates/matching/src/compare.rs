//! Comparison levels: how far two values of one kind agree, as one of a few ordered levels.
//!
//! Each kind has its levels from the most specific agreement to disagreement. A level is an
//! index into the kind's [`Kind::levels`]; [`NULL`] means one side has no value, which is
//! neither evidence for nor against a match. The model learns how likely each level is among
//! matches (m) and among non-matches (u); the comparison only says which level was hit and why.

use serde::{Deserialize, Serialize};
use strsim::jaro_winkler;

use crate::text::NameValue;

/// One side of a comparison was empty.
pub const NULL: u8 = u8::MAX;

/// The kinds of value a model can compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A name: exact, missing part, known variant, phonetic, edit and Jaro-Winkler bands.
    Name,
    /// A calendar date: exact, day and month swapped, one digit off, same year.
    Date,
    /// An identifier (A-number, FBI number, document number): exact, one edit.
    Identifier,
    /// Free text such as an address: shared words.
    Text,
    /// A code such as a postcode: exact, same leading part.
    Code,
    /// A category such as sex or country: same or different.
    Categorical,
}

impl Kind {
    pub fn levels(self) -> &'static [&'static str] {
        match self {
            Kind::Name => &[
                "exact",
                "exact_part_missing",
                "known_variant",
                "one_edit",
                "phonetic",
                "jaro_winkler_0.92",
                "jaro_winkler_0.85",
                "different",
            ],
            Kind::Date => &[
                "exact",
                "day_month_swapped",
                "one_digit_off",
                "same_year",
                "different",
            ],
            Kind::Identifier => &["exact", "one_edit", "different"],
            Kind::Text => &["exact", "most_words", "some_words", "different"],
            Kind::Code => &["exact", "same_prefix", "different"],
            Kind::Categorical => &["exact", "different"],
        }
    }

    /// The level meaning "these disagree".
    pub fn disagree(self) -> u8 {
        (self.levels().len() - 1) as u8
    }
}

/// Name levels, named for readability in the code that decides them.
pub mod name_level {
    pub const EXACT: u8 = 0;
    pub const PART_MISSING: u8 = 1;
    pub const VARIANT: u8 = 2;
    pub const ONE_EDIT: u8 = 3;
    pub const PHONETIC: u8 = 4;
    pub const JW92: u8 = 5;
    pub const JW85: u8 = 6;
    pub const DIFFERENT: u8 = 7;
}

/// Whether two strings are at most one edit apart, counting an adjacent transposition as one
/// edit (restricted Damerau–Levenshtein distance ≤ 1). Byte-wise, in one pass: the general
/// distance (strsim's) builds a table per call, and lookups compare hundreds of names.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let start = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if start == short.len() {
        return true;
    }
    if short.len() == long.len() {
        // One substitution, or one adjacent transposition.
        let subst = short[start + 1..] == long[start + 1..];
        let swap = start + 1 < short.len()
            && short[start] == long[start + 1]
            && short[start + 1] == long[start]
            && short[start + 2..] == long[start + 2..];
        subst || swap
    } else {
        // One insertion into the shorter.
        short[start..] == long[start + 1..]
    }
}

fn token_level(a: &crate::text::Token, b: &crate::text::Token) -> u8 {
    use name_level::*;
    if a.text == b.text {
        return EXACT;
    }
    let (ga, gb) = (a.groups(), b.groups());
    if ga.iter().any(|g| gb.contains(g)) {
        return VARIANT;
    }
    if a.text.len().min(b.text.len()) >= 3 && within_one_edit(&a.text, &b.text) {
        return ONE_EDIT;
    }
    if a.sounds_like(b) {
        return PHONETIC;
    }
    let jw = jaro_winkler(&a.text, &b.text);
    if jw >= 0.92 {
        JW92
    } else if jw >= 0.85 {
        JW85
    } else {
        DIFFERENT
    }
}

/// Compares two names. Word order does not matter ("García López" and "López García" are
/// exact), a missing word is its own level ("García" against "García López"), and compound
/// names written together or apart agree ("Jean Baptiste", "Jeanbaptiste").
pub fn names(a: &NameValue, b: &NameValue) -> u8 {
    use name_level::*;
    if a.is_empty() || b.is_empty() {
        return NULL;
    }
    if a.joined == b.joined {
        return EXACT;
    }
    let (short, long) = if a.tokens.len() <= b.tokens.len() {
        (a, b)
    } else {
        (b, a)
    };
    let mut worst = EXACT;
    for t in &short.tokens {
        let best = long
            .tokens
            .iter()
            .map(|u| token_level(t, u))
            .min()
            .unwrap_or(DIFFERENT);
        worst = worst.max(best);
    }
    let phrase = {
        let (pa, pb) = (a.phrase_groups(), b.phrase_groups());
        pa.iter().any(|g| pb.contains(g))
            || short.tokens.len() == 1 && {
                // A one-word familiar form of a compound name ("Juanca", "Majo").
                let g = short.tokens[0].groups();
                long.phrase_groups().iter().any(|x| g.contains(x))
            }
    };
    if phrase && worst > VARIANT {
        return VARIANT;
    }
    if worst == EXACT && short.tokens.len() != long.tokens.len() {
        return PART_MISSING;
    }
    if worst == EXACT {
        return EXACT;
    }
    // Joined spellings that differ by little (a compound written apart with a typo).
    if worst > ONE_EDIT && within_one_edit(&a.joined, &b.joined) {
        return ONE_EDIT;
    }
    worst
}

/// A calendar date as files write it, not necessarily valid (a swapped day and month may not
/// be a real date in the other reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Ymd {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Ymd {
    pub fn of(d: time::Date) -> Self {
        Self {
            year: d.year(),
            month: d.month() as u8,
            day: d.day(),
        }
    }

    /// Reads `YYYY-MM-DD`, `YYYYMMDD` or `MM/DD/YYYY`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let num = |t: &str| -> Option<u32> {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse().ok())
                .flatten()
        };
        let (y, m, d) = if let [y, m, d] = s.split('-').collect::<Vec<_>>()[..] {
            (num(y)?, num(m)?, num(d)?)
        } else if let [m, d, y] = s.split('/').collect::<Vec<_>>()[..] {
            (num(y)?, num(m)?, num(d)?)
        } else if s.len() == 8 {
            (num(&s[..4])?, num(&s[4..6])?, num(&s[6..])?)
        } else {
            return None;
        };
        ((1000..=9999).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)).then_some(
            Self {
                year: y as i32,
                month: m as u8,
                day: d as u8,
            },
        )
    }

    fn digits(self) -> [u8; 8] {
        let s = format!("{:04}{:02}{:02}", self.year, self.month, self.day);
        let mut out = [0u8; 8];
        out.copy_from_slice(&s.as_bytes()[..8]);
        out
    }

    pub fn day_month_swapped(self) -> Self {
        Self {
            year: self.year,
            month: self.day,
            day: self.month,
        }
    }
}

impl std::fmt::Display for Ymd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Compares two dates.
pub fn dates(a: Option<Ymd>, b: Option<Ymd>) -> u8 {
    let (Some(a), Some(b)) = (a, b) else {
        return NULL;
    };
    if a == b {
        return 0;
    }
    if a.day_month_swapped() == b {
        return 1;
    }
    let differing = a
        .digits()
        .iter()
        .zip(b.digits().iter())
        .filter(|(x, y)| x != y)
        .count();
    let year_off = (a.year - b.year).abs() == 1 && a.month == b.month && a.day == b.day;
    let day_off = a.year == b.year && a.month == b.month && a.day.abs_diff(b.day) == 1;
    if differing == 1 || year_off || day_off {
        return 2;
    }
    if a.year == b.year {
        return 3;
    }
    4
}

/// An identifier as compared: upper-case letters and digits only.
pub fn normalise_identifier(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// An A-number as compared: nine digits ("A12345678", "012345678" and "12345678" agree).
pub fn normalise_a_number(s: &str) -> String {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 9 {
        return normalise_identifier(s);
    }
    format!("{digits:0>9}")
}

/// Compares two normalised identifiers: exact, one edit (a transposed pair or one wrong
/// character), or different.
pub fn identifiers(a: &str, b: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return NULL;
    }
    if a == b {
        return 0;
    }
    if a.len() == b.len() && within_one_edit(a, b) {
        return 1;
    }
    2
}

/// Compares two sets of words (an address, a place): all shared, at least two thirds shared
/// (Jaccard), any shared, none.
pub fn texts(a: &[String], b: &[String]) -> u8 {
    if a.is_empty() || b.is_empty() {
        return NULL;
    }
    let shared = a.iter().filter(|w| b.contains(w)).count();
    let union = a.len() + b.len() - shared;
    if shared == union {
        0
    } else if shared * 3 >= union * 2 {
        1
    } else if shared > 0 {
        2
    } else {
        3
    }
}

/// Compares two codes: exact, the first three characters equal, or different.
pub fn codes(a: &str, b: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return NULL;
    }
    if a == b {
        return 0;
    }
    if a.len() >= 3 && b.len() >= 3 && a.as_bytes()[..3] == b.as_bytes()[..3] {
        return 1;
    }
    2
}

/// Compares two categories.
pub fn categories(a: &str, b: &str) -> u8 {
    if a.is_empty() || b.is_empty() {
        return NULL;
    }
    if a == b { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::name_level::*;
    use super::*;

    fn n(s: &str) -> NameValue {
        NameValue::new(s)
    }

    #[test]
    fn name_levels() {
        let cases: &[(&str, &str, u8)] = &[
            ("García López", "García López", EXACT),
            ("García López", "GARCIA LOPEZ", EXACT),
            ("García López", "López García", EXACT),
            ("Jean-Baptiste", "Jeanbaptiste", EXACT),
            ("Jean Baptiste", "Jean-Baptiste", EXACT),
            ("de la Cruz", "Delacruz", EXACT),
            ("de la Cruz", "Cruz", EXACT),
            ("Saint-Louis", "St. Louis", EXACT),
            ("García López", "García", PART_MISSING),
            ("María José", "María", PART_MISSING),
            ("José", "Pepe", VARIANT),
            ("Juan Carlos", "Juanca", VARIANT),
            ("Wang", "Wong", VARIANT),
            ("Mohammed", "Muhammad", VARIANT),
            ("Nguyễn", "Ngyuen", VARIANT),
            ("Gonzalez", "Gonsales", PHONETIC),
            ("Villalobos", "Billalobos", ONE_EDIT),
            ("Catherine", "Kathryn", PHONETIC),
            ("Hernández", "Hernadnez", ONE_EDIT),
            ("Rodriguez", "Rodirguez", ONE_EDIT),
            ("Castellanos", "Castellanoz", ONE_EDIT),
            ("Martinez", "Martinex", ONE_EDIT),
            ("Maria", "Mario", ONE_EDIT),
            ("Guadalupe", "Guadalpue", ONE_EDIT),
            ("Bartholomew", "Bartolomeo", PHONETIC),
            ("Kowalski", "Kovalsky", JW85),
            ("Valenzuela", "Balensuela", JW85),
            ("Maximiliano", "Emximiliano", JW92),
            ("Fernandes", "Ferdinand", DIFFERENT),
            ("García", "Smith", DIFFERENT),
            ("Ana", "Luis", DIFFERENT),
            ("", "García", NULL),
        ];
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|(a, b, want)| {
                let (x, y) = (names(&n(a), &n(b)), names(&n(b), &n(a)));
                (x != *want || y != *want).then(|| format!("{a} vs {b}: {x}/{y}, want {want}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn one_edit_agrees_with_the_general_distance() {
        let words = [
            "", "a", "ab", "ba", "abc", "acb", "bac", "abd", "abcd", "abdc", "xbcd", "abc", "ac",
            "garcia", "gracia", "garica", "garcai", "garcias", "arcia", "garcia", "harcia",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    within_one_edit(a, b),
                    strsim::damerau_levenshtein(a, b) <= 1,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn date_levels() {
        let d = |s: &str| Ymd::parse(s);
        let cases = [
            ("1988-03-04", "1988-03-04", 0),
            ("1988-03-04", "1988-04-03", 1),
            ("1988-03-04", "1988-03-05", 2),
            ("1988-03-04", "1989-03-04", 2),
            ("1999-12-31", "2000-12-31", 2),
            ("1988-03-04", "1988-08-21", 3),
            ("1988-03-04", "1972-11-30", 4),
        ];
        for (a, b, want) in cases {
            assert_eq!(dates(d(a), d(b)), want, "{a} vs {b}");
            assert_eq!(dates(d(b), d(a)), want, "{b} vs {a}");
        }
        assert_eq!(dates(None, d("1988-03-04")), NULL);
        assert_eq!(d("03/04/1988"), d("1988-03-04"));
        assert_eq!(d("19880304"), d("1988-03-04"));
        for bad in ["", "1988-13-01", "88-03-04", "yesterday", "1988-03-04x"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn identifier_levels() {
        assert_eq!(normalise_a_number("A12345678"), "012345678");
        assert_eq!(normalise_a_number("a-204 815 672"), "204815672");
        assert_eq!(normalise_identifier("tx-0012 34"), "TX001234");
        assert_eq!(identifiers("204815672", "204815672"), 0);
        assert_eq!(identifiers("204815672", "214815673"), 2);
        assert_eq!(identifiers("204815672", "240815672"), 1);
        assert_eq!(identifiers("204815672", "204815679"), 1);
        assert_eq!(identifiers("204815672", "999999999"), 2);
        assert_eq!(identifiers("", "1"), NULL);
    }

    #[test]
    fn text_code_and_category_levels() {
        let w = |s: &str| -> Vec<String> { s.split(' ').map(str::to_owned).collect() };
        assert_eq!(texts(&w("12 main st"), &w("12 main st")), 0);
        assert_eq!(texts(&w("12 main st apt"), &w("12 main st")), 1);
        assert_eq!(texts(&w("12 main st"), &w("40 main ave")), 2);
        assert_eq!(texts(&w("12 main st"), &w("9 oak rd")), 3);
        assert_eq!(texts(&[], &w("9 oak rd")), NULL);
        assert_eq!(codes("77001", "77001"), 0);
        assert_eq!(codes("77001", "77099"), 1);
        assert_eq!(codes("77001", "10001"), 2);
        assert_eq!(categories("F", "F"), 0);
        assert_eq!(categories("F", "M"), 1);
        assert_eq!(categories("", "M"), NULL);
        for k in [
            Kind::Name,
            Kind::Date,
            Kind::Identifier,
            Kind::Text,
            Kind::Code,
            Kind::Categorical,
        ] {
            assert_eq!(k.levels()[k.disagree() as usize], "different");
        }
    }
}
