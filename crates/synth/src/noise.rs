//! The errors real files show, applied at configured rates, each application recorded so the
//! truth says exactly how every record differs from the person it belongs to.

use rand::RngExt;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use time::{Date, Month};

use crate::names;

/// One kind of error a record can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Noise {
    Typo,
    Phonetic,
    DropSecondSurname,
    SwapSurnames,
    SwapGivenFamily,
    DropAccents,
    Transliteration,
    Nickname,
    DobDayMonthSwap,
    DobDigitOff,
    IdTransposition,
    BlankField,
    Stale,
    ConflictingBirthplace,
    /// The record does not say how the person entered.
    EntryMissing,
    /// The record's entry date disagrees with the truth (and so, often, with another record).
    EntryConflict,
}

impl Noise {
    pub const ALL: [Noise; 16] = [
        Noise::Typo,
        Noise::Phonetic,
        Noise::DropSecondSurname,
        Noise::SwapSurnames,
        Noise::SwapGivenFamily,
        Noise::DropAccents,
        Noise::Transliteration,
        Noise::Nickname,
        Noise::DobDayMonthSwap,
        Noise::DobDigitOff,
        Noise::IdTransposition,
        Noise::BlankField,
        Noise::Stale,
        Noise::ConflictingBirthplace,
        Noise::EntryMissing,
        Noise::EntryConflict,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Noise::Typo => "typo",
            Noise::Phonetic => "phonetic",
            Noise::DropSecondSurname => "drop_second_surname",
            Noise::SwapSurnames => "swap_surnames",
            Noise::SwapGivenFamily => "swap_given_family",
            Noise::DropAccents => "drop_accents",
            Noise::Transliteration => "transliteration",
            Noise::Nickname => "nickname",
            Noise::DobDayMonthSwap => "dob_day_month_swap",
            Noise::DobDigitOff => "dob_digit_off",
            Noise::IdTransposition => "id_transposition",
            Noise::BlankField => "blank_field",
            Noise::Stale => "stale",
            Noise::ConflictingBirthplace => "conflicting_birthplace",
            Noise::EntryMissing => "entry_missing",
            Noise::EntryConflict => "entry_conflict",
        }
    }

    pub fn parse(s: &str) -> Option<Noise> {
        Noise::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// The chance, per record, of each kind of noise where it can apply.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSpec {
    rates: [f64; 16],
}

impl Default for NoiseSpec {
    fn default() -> Self {
        let mut s = Self { rates: [0.0; 16] };
        for (n, r) in [
            (Noise::Typo, 0.05),
            (Noise::Phonetic, 0.04),
            (Noise::DropSecondSurname, 0.15),
            (Noise::SwapSurnames, 0.03),
            (Noise::SwapGivenFamily, 0.03),
            (Noise::DropAccents, 0.30),
            (Noise::Transliteration, 0.20),
            (Noise::Nickname, 0.05),
            (Noise::DobDayMonthSwap, 0.02),
            (Noise::DobDigitOff, 0.02),
            (Noise::IdTransposition, 0.01),
            (Noise::BlankField, 0.03),
            (Noise::Stale, 0.10),
            (Noise::ConflictingBirthplace, 0.01),
            (Noise::EntryMissing, 0.12),
            (Noise::EntryConflict, 0.04),
        ] {
            s.rates[n as usize] = r;
        }
        s
    }
}

impl NoiseSpec {
    /// No noise at all: records equal the truth.
    pub fn none() -> Self {
        Self { rates: [0.0; 16] }
    }

    pub fn rate(&self, n: Noise) -> f64 {
        self.rates[n as usize]
    }

    /// Sets one rate; refuses anything outside 0..=1.
    pub fn set(&mut self, n: Noise, rate: f64) -> Result<(), String> {
        if !(0.0..=1.0).contains(&rate) || rate.is_nan() {
            return Err(format!(
                "noise rate {} must be between 0 and 1, got {rate}",
                n.as_str()
            ));
        }
        self.rates[n as usize] = rate;
        Ok(())
    }

    /// Scales every rate by `factor` (clamped to 1), for "more noise" or "less noise" runs.
    pub fn scaled(&self, factor: f64) -> Result<Self, String> {
        if !(0.0..=100.0).contains(&factor) || factor.is_nan() {
            return Err(format!(
                "noise scale must be between 0 and 100, got {factor}"
            ));
        }
        let mut s = self.clone();
        for r in &mut s.rates {
            *r = (*r * factor).min(1.0);
        }
        Ok(s)
    }
}

/// Rolls for one kind of noise, recording it when it happens.
pub fn roll(rng: &mut ChaCha8Rng, spec: &NoiseSpec, n: Noise, applied: &mut Vec<Noise>) -> bool {
    let r = spec.rate(n);
    let hit = r > 0.0 && rng.random_bool(r);
    if hit {
        applied.push(n);
    }
    hit
}

const KEYBOARD_NEIGHBOURS: &[(char, &str)] = &[
    ('a', "sqz"),
    ('b', "vn"),
    ('c', "xv"),
    ('d', "sf"),
    ('e', "wr"),
    ('f', "dg"),
    ('g', "fh"),
    ('h', "gj"),
    ('i', "uo"),
    ('j', "hk"),
    ('k', "jl"),
    ('l', "k"),
    ('m', "n"),
    ('n', "bm"),
    ('o', "ip"),
    ('p', "o"),
    ('q', "wa"),
    ('r', "et"),
    ('s', "ad"),
    ('t', "ry"),
    ('u', "yi"),
    ('v', "cb"),
    ('w', "qe"),
    ('x', "zc"),
    ('y', "tu"),
    ('z', "xs"),
];

/// One keyboard slip: a neighbouring key, a dropped or doubled letter, or two letters swapped.
/// Always changes the text when it has two letters or more.
pub fn typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphabetic())
        .collect();
    if letters.len() < 2 {
        return s.to_owned();
    }
    for _ in 0..8 {
        let i = *letters.choose(rng).expect("letters");
        let mut out = chars.clone();
        match rng.random_range(0..4) {
            0 => {
                let lower = chars[i].to_ascii_lowercase();
                if let Some((_, n)) = KEYBOARD_NEIGHBOURS.iter().find(|(c, _)| *c == lower) {
                    let pick = n
                        .chars()
                        .nth(rng.random_range(0..n.len()))
                        .expect("neighbour");
                    out[i] = if chars[i].is_uppercase() {
                        pick.to_ascii_uppercase()
                    } else {
                        pick
                    };
                }
            }
            1 => {
                out.remove(i);
            }
            2 => out.insert(i, chars[i].to_ascii_lowercase()),
            _ => {
                if i + 1 < chars.len() && chars[i + 1].is_alphabetic() {
                    out.swap(i, i + 1);
                }
            }
        }
        let t: String = out.into_iter().collect();
        if t != s {
            return t;
        }
    }
    // Fall back to dropping the last letter: a change is promised.
    let mut out = chars;
    out.remove(*letters.last().expect("letters"));
    out.into_iter().collect()
}

/// Spelling that sounds the same, as a clerk hearing the name would write it.
const PHONETIC: &[(&str, &str)] = &[
    ("v", "b"),
    ("b", "v"),
    ("z", "s"),
    ("s", "z"),
    ("ll", "y"),
    ("y", "ll"),
    ("ce", "se"),
    ("ci", "si"),
    ("qu", "k"),
    ("j", "h"),
    ("x", "j"),
    ("ph", "f"),
    ("ou", "u"),
    ("gue", "ge"),
    ("ña", "nia"),
    ("ch", "sh"),
    ("ei", "ey"),
    ("ie", "ee"),
    ("k", "c"),
    ("c", "k"),
];

/// Applies one sound-alike respelling, if any rule fits; `None` when none does.
pub fn phonetic(rng: &mut ChaCha8Rng, s: &str) -> Option<String> {
    let lower = s.to_lowercase();
    let fits: Vec<&(&str, &str)> = PHONETIC
        .iter()
        .filter(|(from, _)| lower.contains(from))
        .collect();
    let (from, to) = **fits.choose(rng)?;
    let at = lower.find(from)?;
    // Keep the original's case at the start of the word.
    let mut out = String::with_capacity(s.len() + 2);
    out.push_str(&s[..at]);
    let replaced: String = if s[at..].starts_with(|c: char| c.is_uppercase()) {
        let mut t = to.to_owned();
        if let Some(f) = t.get(..1) {
            t.replace_range(..1, &f.to_uppercase());
        }
        t
    } else {
        to.to_owned()
    };
    out.push_str(&replaced);
    out.push_str(&s[at + from.len()..]);
    (out != s).then_some(out)
}

/// Replaces the first part that has a known variant spelling; `None` when none has.
pub fn transliterate(rng: &mut ChaCha8Rng, s: &str) -> Option<String> {
    for part in s.split([' ']) {
        let variants = names::transliterations(part);
        if let Some(v) = variants.choose(rng) {
            return Some(s.replacen(part, v, 1));
        }
    }
    let whole = names::transliterations(s);
    whole.choose(rng).map(|v| (*v).to_owned())
}

/// A birth date with day and month swapped, where that is a different valid date.
pub fn swap_day_month(d: Date) -> Option<Date> {
    let (day, month) = (d.day(), d.month() as u8);
    if day > 12 || day == month {
        return None;
    }
    Date::from_calendar_date(d.year(), Month::try_from(day).ok()?, month).ok()
}

/// A birth date one digit off: the day or the year's last digit moved by one.
pub fn digit_off(rng: &mut ChaCha8Rng, d: Date) -> Date {
    for _ in 0..4 {
        let candidate = if rng.random_bool(0.5) {
            let delta = if rng.random_bool(0.5) { 1 } else { -1 };
            d.replace_day((d.day() as i32 + delta).clamp(1, 28) as u8)
                .ok()
        } else {
            let delta = if rng.random_bool(0.5) { 1 } else { -1 };
            d.replace_year(d.year() + delta).ok()
        };
        if let Some(c) = candidate.filter(|c| *c != d) {
            return c;
        }
    }
    d.replace_year(d.year() - 1).unwrap_or(d)
}

/// Two adjacent, different digits swapped; `None` when every digit is the same.
pub fn transpose_digits(rng: &mut ChaCha8Rng, s: &str) -> Option<String> {
    let b = s.as_bytes();
    let spots: Vec<usize> = (0..b.len().saturating_sub(1))
        .filter(|&i| b[i] != b[i + 1] && b[i].is_ascii_digit() && b[i + 1].is_ascii_digit())
        .collect();
    let i = *spots.choose(rng)?;
    let mut v = b.to_vec();
    v.swap(i, i + 1);
    String::from_utf8(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use time::macros::date;

    #[test]
    fn every_helper_changes_its_input() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for name in ["García", "Nguyễn", "Jean-Baptiste", "Li", "Villalobos"] {
            for _ in 0..200 {
                assert_ne!(typo(&mut rng, name), name);
                if let Some(p) = phonetic(&mut rng, name) {
                    assert_ne!(p, name);
                }
            }
        }
        assert_eq!(transliterate(&mut rng, "Wang"), Some("Wong".to_owned()));
        assert!(transliterate(&mut rng, "Smith").is_none());
        assert_eq!(
            transliterate(&mut rng, "Mohammed Ali").map(|s| s.ends_with(" Ali")),
            Some(true)
        );
        assert_eq!(
            swap_day_month(date!(1990 - 03 - 07)),
            Some(date!(1990 - 07 - 03))
        );
        assert_eq!(swap_day_month(date!(1990 - 03 - 25)), None);
        assert_eq!(swap_day_month(date!(1990 - 05 - 05)), None);
        for _ in 0..100 {
            assert_ne!(
                digit_off(&mut rng, date!(2000 - 01 - 01)),
                date!(2000 - 01 - 01)
            );
        }
        let t = transpose_digits(&mut rng, "204815672").unwrap();
        assert_ne!(t, "204815672");
        assert_eq!(transpose_digits(&mut rng, "111111111"), None);
    }

    #[test]
    fn rates_are_checked() {
        let mut s = NoiseSpec::default();
        assert!(s.set(Noise::Typo, 1.2).is_err());
        assert!(s.set(Noise::Typo, f64::NAN).is_err());
        assert!(s.scaled(-1.0).is_err());
        assert_eq!(s.scaled(100.0).unwrap().rate(Noise::DropAccents), 1.0);
        for n in Noise::ALL {
            assert_eq!(Noise::parse(n.as_str()), Some(n));
        }
    }
}
