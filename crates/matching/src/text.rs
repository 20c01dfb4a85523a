//! Normalising names before they are compared: fold to lower-case ASCII, split into tokens,
//! drop particles, know which spellings are the same name (nicknames, transliterations) and
//! what a name sounds like (Double Metaphone).
//!
//! Everything downstream works on the folded form: the phonetic encoders assume ASCII, and a
//! record typed without accents must compare equal to one typed with them.

use rustc_hash::FxHashMap;
use std::sync::LazyLock;

use rphonetic::DoubleMetaphone;

/// Lower-case ASCII with every run of non-alphanumeric characters turned into one space;
/// "St." and "Ste." become "saint" and "sainte" so that "St. Louis" equals "Saint-Louis".
pub fn fold(s: &str) -> String {
    // Most names in files are already ASCII: skip the transliteration's allocation for them.
    let src: std::borrow::Cow<'_, str> = if s.is_ascii() {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(deunicode::deunicode(s))
    };
    let mut out = String::with_capacity(src.len());
    for word in src.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if word.eq_ignore_ascii_case("st") {
            out.push_str("saint");
        } else if word.eq_ignore_ascii_case("ste") {
            out.push_str("sainte");
        } else {
            out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        }
    }
    out
}

/// Words that join a surname to what follows ("de la Cruz", "dos Santos", "Al-Masri", "van der
/// Berg"). They are kept in the joined form but do not count as tokens of their own, so "Cruz"
/// and "de la Cruz" agree.
const PARTICLES: &[&str] = &[
    "de", "del", "la", "las", "los", "da", "das", "do", "dos", "di", "du", "van", "der", "den",
    "von", "y", "e", "bin", "ibn", "al", "el", "le",
];

pub fn is_particle(token: &str) -> bool {
    PARTICLES.contains(&token)
}

/// Groups of spellings that name the same given name or surname: familiar forms, and the
/// romanisations different files use. A spelling may belong to several groups ("beto" is both
/// Roberto and Alberto; "wong" is both Wang and Huang). Entries are folded.
const VARIANT_GROUPS: &[&[&str]] = &[
    // Spanish familiar forms.
    &["jose", "pepe", "chepe"],
    &["francisco", "pancho", "paco", "chico", "frank"],
    &["guadalupe", "lupe", "lupita"],
    &["jesus", "chuy"],
    &["alejandro", "alex", "ale"],
    &["alejandra", "alex", "ale"],
    &["roberto", "beto", "robert", "bob", "rob", "bobby"],
    &["alberto", "beto"],
    &["ricardo", "richi", "richard", "rick"],
    &["eduardo", "lalo"],
    &["enrique", "quique"],
    &["rosa", "rosita"],
    &["maria jose", "majo"],
    &["juan carlos", "juanca"],
    &["jose luis", "pepe luis"],
    &["ignacio", "nacho"],
    &["manuel", "manolo", "manny"],
    &["dolores", "lola"],
    &["concepcion", "concha", "conchita"],
    // Portuguese.
    &["antonio", "toninho", "tony", "anthony"],
    &["joao", "joaozinho", "john"],
    &["luiz", "luis"],
    &["souza", "sousa"],
    // English.
    &["william", "bill", "will", "billy"],
    &["michael", "mike"],
    &["elizabeth", "liz", "beth", "betty"],
    &["jennifer", "jen", "jenny"],
    &[
        "joseph", "joe", "joey", "jose", "youssef", "yousef", "yusuf",
    ],
    &["christopher", "chris"],
    &["james", "jim", "jimmy"],
    &["margaret", "maggie", "peggy"],
    // Arabic romanisations.
    &[
        "mohammed", "muhammad", "mohamed", "mohammad", "mohamad", "mo", "hamoudi",
    ],
    &["ahmed", "ahmad"],
    &["mustafa", "moustafa", "mostafa"],
    &["hassan", "hasan"],
    &["khaled", "khalid"],
    &["fatima", "fatma", "fatimah"],
    &["aisha", "aicha", "ayesha"],
    &["masri", "almasri"],
    // Chinese: pinyin, Wade-Giles and Cantonese spellings.
    &["zhang", "chang", "cheung"],
    &["wang", "wong"],
    &["li", "lee", "lei"],
    &["liu", "lau", "lew"],
    &["chen", "chan", "chin"],
    &["yang", "yeung", "young"],
    &["huang", "hwang", "wong"],
    &["zhao", "chao", "chiu"],
    &["wu", "woo", "ng"],
    &["zhou", "chou", "chow"],
    &["xu", "hsu", "tsui"],
    &["zhu", "chu"],
    &["guo", "kuo", "kwok"],
    &["lin", "lam"],
    &["he", "ho"],
    &["gao", "kao"],
    &["luo", "lo", "law"],
    &["xiuying", "hsiuying", "xiu ying", "hsiu ying"],
    &["zhiwei", "chihwei", "zhi wei", "chih wei"],
    // Vietnamese.
    &["nguyen", "ngyuen", "nguyn"],
    &["huynh", "hoang"],
    &["vo", "vu"],
];

static VARIANTS: LazyLock<FxHashMap<&'static str, Vec<u16>>> = LazyLock::new(|| {
    let mut map: FxHashMap<&'static str, Vec<u16>> = FxHashMap::default();
    for (i, group) in VARIANT_GROUPS.iter().enumerate() {
        for s in *group {
            map.entry(s).or_default().push(i as u16);
        }
    }
    map
});

/// The variant groups a folded token or phrase belongs to (empty when it has no known variant).
pub fn variant_groups(folded: &str) -> &'static [u16] {
    VARIANTS.get(folded).map(Vec::as_slice).unwrap_or(&[])
}

static DOUBLE_METAPHONE: LazyLock<DoubleMetaphone> = LazyLock::new(DoubleMetaphone::default);

/// A Double Metaphone code: at most four ASCII letters, kept inline (no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Code {
    bytes: [u8; 4],
    len: u8,
}

impl Code {
    pub fn new(s: &str) -> Self {
        let mut c = Self::default();
        for (i, b) in s.bytes().take(4).enumerate() {
            c.bytes[i] = b;
            c.len = i as u8 + 1;
        }
        c
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its bytes as a snapshot keeps them: four letters, then the length.
    pub fn to_bytes(self) -> [u8; 5] {
        let b = self.bytes;
        [b[0], b[1], b[2], b[3], self.len]
    }

    /// A code read back: `None` unless it is at most four ASCII letters.
    pub fn from_bytes(b: [u8; 5]) -> Option<Self> {
        let len = b[4];
        let bytes = [b[0], b[1], b[2], b[3]];
        (len <= 4 && bytes.is_ascii()).then_some(Self { bytes, len })
    }
}

/// A token's two Double Metaphone codes (primary, alternate).
pub type Codes = (Code, Code);

/// Phonetic codes, remembered: names repeat, and Double Metaphone is the costly step of
/// preparing one.
#[derive(Debug, Default, Clone)]
pub struct PhoneticCache(FxHashMap<String, Codes>);

impl PhoneticCache {
    pub fn get(&mut self, w: &str) -> Codes {
        if let Some(c) = self.0.get(w) {
            return *c;
        }
        let c = phonetic(w);
        self.0.insert(w.to_owned(), c);
        c
    }

    /// Every word and its codes, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Codes)> {
        self.0.iter().map(|(w, c)| (w.as_str(), *c))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Remembers a word's codes (a snapshot read back).
    pub fn insert(&mut self, word: String, codes: Codes) {
        self.0.insert(word, codes);
    }

    /// Codes already known, without computing.
    pub fn known(&self, w: &str) -> Option<Codes> {
        self.0.get(w).copied()
    }

    /// Heap bytes held (table and keys; allocator overhead not counted).
    pub fn bytes(&self) -> usize {
        self.0.capacity() * (std::mem::size_of::<(String, Codes)>() + 1)
            + self.0.keys().map(String::capacity).sum::<usize>()
    }
}

/// The Double Metaphone codes (primary, alternate) of a folded token.
pub fn phonetic(token: &str) -> Codes {
    let r = DOUBLE_METAPHONE.double_metaphone(token);
    (Code::new(&r.primary()), Code::new(&r.alternate()))
}

/// One significant word of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub primary: Code,
    pub alternate: Code,
    /// Its variant groups, looked up once.
    groups: &'static [u16],
}

impl Token {
    pub fn new(text: &str) -> Self {
        Self::with_codes(text, phonetic(text))
    }

    pub fn with_codes(text: &str, (primary, alternate): Codes) -> Self {
        Self {
            text: text.to_owned(),
            primary,
            alternate,
            groups: variant_groups(text),
        }
    }

    pub fn sounds_like(&self, other: &Token) -> bool {
        let (a, b) = (
            [self.primary, self.alternate],
            [other.primary, other.alternate],
        );
        a.iter().any(|x| !x.is_empty() && b.contains(x))
    }

    pub fn groups(&self) -> &'static [u16] {
        self.groups
    }
}

/// A name (given names, or surnames) ready to compare.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameValue {
    /// The folded name as written, particles included ("de la cruz").
    pub folded: String,
    /// Its words without spaces ("delacruz"): compound names written together or apart agree.
    pub joined: String,
    /// The significant words: particles dropped unless nothing else is left.
    pub tokens: Vec<Token>,
    /// The variant groups of the whole name, looked up once.
    phrase: &'static [u16],
}

impl NameValue {
    /// Prepares a name, computing phonetic codes through `codes` (a cache, when many names are
    /// prepared at once).
    pub fn with(raw: &str, codes: &mut dyn FnMut(&str) -> Codes) -> Self {
        let folded = fold(raw);
        let words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
        let significant: Vec<&str> = if words.iter().all(|w| is_particle(w)) {
            words.clone()
        } else {
            words.iter().copied().filter(|w| !is_particle(w)).collect()
        };
        let phrase = if significant.len() > 1 {
            variant_groups(&significant.join(" "))
        } else {
            &[]
        };
        let tokens: Vec<Token> = significant
            .into_iter()
            .map(|w| Token::with_codes(w, codes(w)))
            .collect();
        let phrase = if tokens.len() == 1 {
            tokens[0].groups
        } else {
            phrase
        };
        Self {
            joined: words.concat(),
            folded,
            tokens,
            phrase,
        }
    }

    pub fn new(raw: &str) -> Self {
        Self::with(raw, &mut |w| phonetic(w))
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The variant groups of the whole name ("juan carlos" is Juanca's).
    pub fn phrase_groups(&self) -> &'static [u16] {
        self.phrase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_what_every_file_agrees_on() {
        for (raw, folded) in [
            ("García", "garcia"),
            ("NGUYỄN", "nguyen"),
            ("Jean-Baptiste", "jean baptiste"),
            ("St. Louis", "saint louis"),
            ("Saint-Louis", "saint louis"),
            ("  O'Brien  ", "o brien"),
            ("GARCIA LOPEZ, JOSE", "garcia lopez jose"),
            ("Müller", "muller"),
            ("", ""),
        ] {
            assert_eq!(fold(raw), folded, "{raw}");
        }
    }

    #[test]
    fn particles_join_but_do_not_count() {
        let n = NameValue::new("de la Cruz");
        assert_eq!(n.joined, "delacruz");
        assert_eq!(n.tokens.len(), 1);
        assert_eq!(n.tokens[0].text, "cruz");
        let only = NameValue::new("De La");
        assert_eq!(only.tokens.len(), 2, "a name of particles alone keeps them");
        assert_eq!(NameValue::new("Al-Masri").tokens[0].text, "masri");
    }

    #[test]
    fn variants_and_sounds() {
        assert!(
            variant_groups("pepe")
                .iter()
                .any(|g| variant_groups("jose").contains(g))
        );
        assert!(
            variant_groups("wong")
                .iter()
                .any(|g| variant_groups("wang").contains(g))
        );
        assert!(
            variant_groups("wong")
                .iter()
                .any(|g| variant_groups("huang").contains(g))
        );
        assert!(variant_groups("smith").is_empty());
        assert!(Token::new("gonzalez").sounds_like(&Token::new("gonsales")));
        assert!(Token::new("catherine").sounds_like(&Token::new("kathryn")));
        assert!(!Token::new("garcia").sounds_like(&Token::new("lopez")));
        let jc = NameValue::new("Juan Carlos");
        assert!(!jc.phrase_groups().is_empty());
    }
}
