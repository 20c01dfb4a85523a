//! Name conventions of the populations a support center hears about, from common name parts.
//!
//! A name part ("García", "Juan") is not personal data; combinations are drawn at random, so no
//! generated person is anyone in particular. Each culture knows how it orders and inherits
//! surnames, its particles, its compound given names, and the spellings its names take when
//! transliterated or written down by someone else.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// A naming tradition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Culture {
    /// Two surnames, paternal then maternal; particles (de, del, de la); compound given names.
    Hispanic,
    /// Brazilian Portuguese: surnames maternal then paternal, particles (da, dos, de).
    Portuguese,
    /// Haitian: French-derived, hyphenated compounds (Jean-Baptiste, Saint-Louis).
    Haitian,
    /// Mandarin in pinyin, surname first, with Wade–Giles and Cantonese-style variants.
    Mandarin,
    /// Vietnamese: family name first, a middle name (Văn, Thị), diacritics.
    Vietnamese,
    /// Arabic names with many romanisations (Mohammed, Muhammad, Mohamed).
    Arabic,
    /// Names common among people born in the United States.
    English,
}

impl Culture {
    pub const ALL: [Culture; 7] = [
        Culture::Hispanic,
        Culture::Portuguese,
        Culture::Haitian,
        Culture::Mandarin,
        Culture::Vietnamese,
        Culture::Arabic,
        Culture::English,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Culture::Hispanic => "hispanic",
            Culture::Portuguese => "portuguese",
            Culture::Haitian => "haitian",
            Culture::Mandarin => "mandarin",
            Culture::Vietnamese => "vietnamese",
            Culture::Arabic => "arabic",
            Culture::English => "english",
        }
    }

    /// Whether people of this culture carry two surnames.
    pub fn two_surnames(self) -> bool {
        matches!(self, Culture::Hispanic | Culture::Portuguese)
    }

    fn parts(self) -> &'static Parts {
        match self {
            Culture::Hispanic => &HISPANIC,
            Culture::Portuguese => &PORTUGUESE,
            Culture::Haitian => &HAITIAN,
            Culture::Mandarin => &MANDARIN,
            Culture::Vietnamese => &VIETNAMESE,
            Culture::Arabic => &ARABIC,
            Culture::English => &ENGLISH,
        }
    }

    /// Countries of birth for people of this culture, with weights.
    pub fn countries(self) -> &'static [(&'static str, u32)] {
        match self {
            Culture::Hispanic => &[
                ("MX", 55),
                ("GT", 10),
                ("HN", 9),
                ("SV", 8),
                ("CO", 4),
                ("VE", 4),
                ("CU", 3),
                ("DO", 3),
                ("EC", 2),
                ("NI", 2),
            ],
            Culture::Portuguese => &[("BR", 100)],
            Culture::Haitian => &[("HT", 100)],
            Culture::Mandarin => &[("CN", 90), ("TW", 10)],
            Culture::Vietnamese => &[("VN", 100)],
            Culture::Arabic => &[("EG", 30), ("YE", 20), ("SY", 20), ("IQ", 15), ("JO", 15)],
            Culture::English => &[("US", 100)],
        }
    }
}

/// A generated person's name, in the culture's own form and order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    /// Given names as written, e.g. ["María José"] or ["Wei"].
    pub given: String,
    /// Surnames in the culture's order: [paternal, maternal] for Hispanic, [maternal, paternal]
    /// for Portuguese, one element elsewhere. A particle is part of its surname ("de la Cruz").
    pub surnames: Vec<String>,
}

impl PersonName {
    pub fn full(&self) -> String {
        format!("{} {}", self.given, self.surnames.join(" "))
    }
}

struct Parts {
    male: &'static [&'static str],
    female: &'static [&'static str],
    /// Compound given names, drawn at `compound_share`.
    compound_male: &'static [&'static str],
    compound_female: &'static [&'static str],
    compound_share: f64,
    /// Surnames from most to least common (drawn with rank weights, so some are frequent and
    /// most are rare, as in real files).
    surnames: &'static [&'static str],
    /// Surnames with a particle, drawn at `particle_share`.
    particle_surnames: &'static [&'static str],
    particle_share: f64,
}

const HISPANIC: Parts = Parts {
    male: &[
        "José",
        "Juan",
        "Luis",
        "Carlos",
        "Jorge",
        "Miguel",
        "Pedro",
        "Francisco",
        "Antonio",
        "Manuel",
        "Jesús",
        "Alejandro",
        "Fernando",
        "Ricardo",
        "Roberto",
        "Eduardo",
        "Javier",
        "Sergio",
        "Raúl",
        "Óscar",
        "Víctor",
        "Daniel",
        "Mario",
        "Héctor",
        "Arturo",
        "Andrés",
        "Diego",
        "Ángel",
        "Rafael",
        "Enrique",
        "Wilmer",
        "Edwin",
    ],
    female: &[
        "María",
        "Guadalupe",
        "Ana",
        "Rosa",
        "Juana",
        "Carmen",
        "Elena",
        "Patricia",
        "Laura",
        "Sofía",
        "Lucía",
        "Verónica",
        "Gabriela",
        "Adriana",
        "Claudia",
        "Isabel",
        "Teresa",
        "Leticia",
        "Marisol",
        "Alejandra",
        "Daniela",
        "Fernanda",
        "Mariana",
        "Paola",
        "Yesenia",
        "Araceli",
        "Beatriz",
        "Silvia",
        "Norma",
        "Esperanza",
    ],
    compound_male: &[
        "Juan Carlos",
        "José Luis",
        "Juan Pablo",
        "Luis Miguel",
        "José Ángel",
        "Miguel Ángel",
        "Juan José",
        "José Antonio",
    ],
    compound_female: &[
        "María José",
        "María Fernanda",
        "Ana María",
        "María del Carmen",
        "María de los Ángeles",
        "María Guadalupe",
        "Rosa María",
        "Ana Lucía",
    ],
    compound_share: 0.22,
    surnames: &[
        "García",
        "Hernández",
        "Martínez",
        "López",
        "González",
        "Rodríguez",
        "Pérez",
        "Sánchez",
        "Ramírez",
        "Flores",
        "Cruz",
        "Gómez",
        "Morales",
        "Vásquez",
        "Reyes",
        "Jiménez",
        "Torres",
        "Díaz",
        "Gutiérrez",
        "Ruiz",
        "Mendoza",
        "Aguilar",
        "Ortiz",
        "Castillo",
        "Romero",
        "Álvarez",
        "Chávez",
        "Rivera",
        "Juárez",
        "Ramos",
        "Domínguez",
        "Herrera",
        "Medina",
        "Castro",
        "Vargas",
        "Guzmán",
        "Velázquez",
        "Muñoz",
        "Rojas",
        "Contreras",
        "Salazar",
        "Luna",
        "Ortega",
        "Santiago",
        "Guerrero",
        "Estrada",
        "Bautista",
        "Cortés",
        "Soto",
        "Alvarado",
        "Núñez",
        "Ibarra",
        "Valdez",
        "Mejía",
        "Zúñiga",
        "Quintanilla",
        "Barrientos",
        "Cifuentes",
        "Ixcoy",
        "Tzul",
    ],
    particle_surnames: &[
        "de la Cruz",
        "de la Rosa",
        "del Río",
        "de León",
        "de la Torre",
        "del Valle",
        "de los Santos",
        "de Jesús",
    ],
    particle_share: 0.08,
};

const PORTUGUESE: Parts = Parts {
    male: &[
        "João",
        "José",
        "Antônio",
        "Francisco",
        "Carlos",
        "Paulo",
        "Pedro",
        "Lucas",
        "Luiz",
        "Marcos",
        "Gabriel",
        "Rafael",
        "Thiago",
        "Rodrigo",
    ],
    female: &[
        "Maria",
        "Ana",
        "Francisca",
        "Antônia",
        "Adriana",
        "Juliana",
        "Márcia",
        "Fernanda",
        "Patrícia",
        "Aline",
        "Camila",
        "Larissa",
    ],
    compound_male: &["João Pedro", "José Carlos", "Luiz Fernando", "João Victor"],
    compound_female: &["Maria Eduarda", "Ana Clara", "Maria Luiza", "Ana Beatriz"],
    compound_share: 0.2,
    surnames: &[
        "Silva",
        "Santos",
        "Oliveira",
        "Souza",
        "Rodrigues",
        "Ferreira",
        "Alves",
        "Pereira",
        "Lima",
        "Gomes",
        "Costa",
        "Ribeiro",
        "Martins",
        "Carvalho",
        "Almeida",
        "Lopes",
        "Soares",
        "Fernandes",
        "Vieira",
        "Barbosa",
        "Rocha",
        "Nascimento",
        "Araújo",
        "Cavalcanti",
    ],
    particle_surnames: &[
        "da Silva",
        "dos Santos",
        "de Souza",
        "da Costa",
        "de Oliveira",
        "do Nascimento",
    ],
    particle_share: 0.25,
};

const HAITIAN: Parts = Parts {
    male: &[
        "Jean",
        "Pierre",
        "Wilson",
        "Frantz",
        "Emmanuel",
        "Samuel",
        "Jacques",
        "Joseph",
        "Stevenson",
        "Wisly",
        "Ronald",
        "Jonas",
    ],
    female: &[
        "Marie", "Rose", "Nadège", "Guerline", "Fabiola", "Mirlande", "Roseline", "Widline",
        "Nathalie", "Esther", "Islande", "Lovely",
    ],
    compound_male: &[
        "Jean-Claude",
        "Jean-Baptiste",
        "Jean Robert",
        "Pierre-Louis",
        "Jean-Pierre",
    ],
    compound_female: &["Marie-Carmelle", "Marie Rose", "Rose-Marie", "Marie-Ange"],
    compound_share: 0.3,
    surnames: &[
        "Joseph",
        "Jean",
        "Pierre",
        "Louis",
        "Charles",
        "Baptiste",
        "François",
        "Michel",
        "Dorvil",
        "Étienne",
        "Augustin",
        "Désir",
        "Alexis",
        "Noël",
        "Jean-Baptiste",
        "Saint-Louis",
        "Saint-Fleur",
        "Célestin",
        "Thélusma",
    ],
    particle_surnames: &[],
    particle_share: 0.0,
};

const MANDARIN: Parts = Parts {
    male: &[
        "Wei", "Jun", "Hao", "Lei", "Jie", "Tao", "Ming", "Qiang", "Yong", "Jian", "Zhiwei",
        "Haoran",
    ],
    female: &[
        "Fang", "Jing", "Li Na", "Min", "Yan", "Hui", "Ying", "Xiuying", "Lan", "Xin", "Yuqing",
        "Mei",
    ],
    compound_male: &[],
    compound_female: &[],
    compound_share: 0.0,
    surnames: &[
        "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
        "Ma", "Zhu", "Hu", "Guo", "Lin", "He", "Gao", "Luo",
    ],
    particle_surnames: &[],
    particle_share: 0.0,
};

const VIETNAMESE: Parts = Parts {
    male: &[
        "Văn An",
        "Văn Minh",
        "Văn Hùng",
        "Đức Anh",
        "Quang Huy",
        "Văn Tuấn",
        "Minh Khoa",
        "Văn Long",
    ],
    female: &[
        "Thị Lan",
        "Thị Hoa",
        "Thị Mai",
        "Thị Hương",
        "Ngọc Anh",
        "Thị Thu",
        "Thanh Hằng",
        "Thị Linh",
    ],
    compound_male: &[],
    compound_female: &[],
    compound_share: 0.0,
    surnames: &[
        "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ",
    ],
    particle_surnames: &[],
    particle_share: 0.0,
};

const ARABIC: Parts = Parts {
    male: &[
        "Mohammed", "Ahmed", "Ali", "Omar", "Youssef", "Khaled", "Hassan", "Ibrahim", "Mahmoud",
        "Mustafa",
    ],
    female: &[
        "Fatima", "Aisha", "Mariam", "Nour", "Layla", "Huda", "Amira", "Salma", "Yasmin", "Rania",
    ],
    compound_male: &["Abdel Rahman", "Abdul Aziz", "Mohammed Ali"],
    compound_female: &[],
    compound_share: 0.12,
    surnames: &[
        "Hassan", "Ali", "Mohamed", "Ibrahim", "Saleh", "Mahmoud", "Haddad", "Khalil", "Nasser",
        "Al-Masri", "Abdullah", "Yousef",
    ],
    particle_surnames: &["Al-Hashimi", "El-Sayed", "Al-Amin"],
    particle_share: 0.12,
};

const ENGLISH: Parts = Parts {
    male: &[
        "James",
        "John",
        "Robert",
        "Michael",
        "William",
        "David",
        "Joseph",
        "Christopher",
        "Anthony",
        "Kevin",
        "Brandon",
        "Tyler",
    ],
    female: &[
        "Mary",
        "Patricia",
        "Jennifer",
        "Linda",
        "Elizabeth",
        "Jessica",
        "Sarah",
        "Ashley",
        "Emily",
        "Madison",
        "Brittany",
        "Nicole",
    ],
    compound_male: &[],
    compound_female: &[],
    compound_share: 0.0,
    surnames: &[
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson",
        "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris",
        "Clark", "Lewis",
    ],
    particle_surnames: &[],
    particle_share: 0.0,
};

/// Picks from a list with weight 1/(rank+1): the head of the list is common, the tail rare.
fn by_rank<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    // The harmonic weights are cheap to sample by inverting a continuous approximation:
    // rank ≈ exp(u · ln(n+1)) − 1 for u uniform in [0, 1).
    let n = list.len() as f64;
    let u: f64 = rng.random_range(0.0..1.0);
    let r = ((u * (n + 1.0).ln()).exp() - 1.0).floor() as usize;
    list[r.min(list.len() - 1)]
}

/// Draws a surname of the culture (a particle surname at the culture's rate).
pub fn surname(rng: &mut ChaCha8Rng, culture: Culture) -> String {
    let p = culture.parts();
    if !p.particle_surnames.is_empty() && rng.random_bool(p.particle_share) {
        by_rank(rng, p.particle_surnames).to_owned()
    } else {
        by_rank(rng, p.surnames).to_owned()
    }
}

/// Draws given names for a person of `culture` and sex (`female`).
pub fn given(rng: &mut ChaCha8Rng, culture: Culture, female: bool) -> String {
    let p = culture.parts();
    let (simple, compound) = if female {
        (p.female, p.compound_female)
    } else {
        (p.male, p.compound_male)
    };
    if !compound.is_empty() && rng.random_bool(p.compound_share) {
        by_rank(rng, compound).to_owned()
    } else {
        by_rank(rng, simple).to_owned()
    }
}

/// The surnames a child inherits from its parents' surname lists, by the culture's rule.
/// `father` and `mother` are in their own culture order.
pub fn inherit_surnames(culture: Culture, father: &[String], mother: &[String]) -> Vec<String> {
    match culture {
        // Father's paternal surname, then mother's paternal surname.
        Culture::Hispanic => vec![first(father), first(mother)],
        // Mother's last (paternal) surname, then father's last surname.
        Culture::Portuguese => vec![last(mother), last(father)],
        _ => vec![first(father)],
    }
}

fn first(s: &[String]) -> String {
    s.first().cloned().unwrap_or_default()
}

fn last(s: &[String]) -> String {
    s.last().cloned().unwrap_or_default()
}

/// A fresh name for someone with no parents in the data set.
pub fn person_name(rng: &mut ChaCha8Rng, culture: Culture, female: bool) -> PersonName {
    let surnames = if culture.two_surnames() {
        let a = surname(rng, culture);
        let mut b = surname(rng, culture);
        while b == a {
            b = surname(rng, culture);
        }
        vec![a, b]
    } else {
        vec![surname(rng, culture)]
    };
    PersonName {
        given: given(rng, culture, female),
        surnames,
    }
}

/// Other correct spellings of a name part, as another clerk, system or romanisation writes it.
/// Returns an empty slice when the part has no common variant.
pub fn transliterations(part: &str) -> &'static [&'static str] {
    match part {
        "Zhang" => &["Chang", "Cheung"],
        "Wang" => &["Wong"],
        "Li" => &["Lee", "Lei"],
        "Liu" => &["Lau", "Lew"],
        "Chen" => &["Chan", "Chin"],
        "Yang" => &["Yeung", "Young"],
        "Huang" => &["Hwang", "Wong"],
        "Zhao" => &["Chao", "Chiu"],
        "Wu" => &["Woo", "Ng"],
        "Zhou" => &["Chou", "Chow"],
        "Xu" => &["Hsu", "Tsui"],
        "Zhu" => &["Chu"],
        "Guo" => &["Kuo", "Kwok"],
        "Lin" => &["Lam"],
        "He" => &["Ho"],
        "Gao" => &["Kao"],
        "Luo" => &["Lo", "Law"],
        "Xiuying" => &["Xiu Ying", "Xiu-Ying", "Hsiu-ying"],
        "Zhiwei" => &["Zhi Wei", "Chih-wei"],
        "Mohammed" => &["Muhammad", "Mohamed", "Mohammad", "Mohamad"],
        "Mohamed" => &["Mohammed", "Muhammad"],
        "Ahmed" => &["Ahmad"],
        "Youssef" => &["Yousef", "Yusuf", "Joseph"],
        "Mustafa" => &["Moustafa", "Mostafa"],
        "Hassan" => &["Hasan"],
        "Khaled" => &["Khalid"],
        "Fatima" => &["Fatma", "Fatimah"],
        "Aisha" => &["Aicha", "Ayesha"],
        "Al-Masri" => &["Almasri", "El Masri"],
        "Jean-Baptiste" => &["Jean Baptiste", "Jeanbaptiste"],
        "Saint-Louis" => &["St. Louis", "St Louis", "Saintlouis"],
        "Saint-Fleur" => &["St. Fleur", "St Fleur"],
        "Jean-Claude" => &["Jean Claude", "Jeanclaude"],
        "Jean-Pierre" => &["Jean Pierre"],
        "Nguyễn" => &["Nguyen", "Nguyến", "Ngyuen"],
        "Huỳnh" => &["Huynh", "Hoang"],
        "Võ" => &["Vo", "Vu"],
        "Vũ" => &["Vu", "Vo"],
        "Souza" => &["Sousa"],
        "Luiz" => &["Luis"],
        "Antônio" => &["Antonio"],
        _ => &[],
    }
}

/// Familiar forms of given names that people give and files record.
pub fn nicknames(given: &str) -> &'static [&'static str] {
    match given {
        "José" => &["Pepe", "Chepe"],
        "Francisco" => &["Pancho", "Paco", "Chico"],
        "Guadalupe" => &["Lupe", "Lupita"],
        "Jesús" => &["Chuy"],
        "Alejandro" => &["Alex", "Ale"],
        "Roberto" => &["Beto"],
        "Alberto" => &["Beto"],
        "Ricardo" => &["Richi"],
        "Eduardo" => &["Lalo"],
        "Enrique" => &["Quique"],
        "Rosa" => &["Rosita"],
        "María José" => &["Majo"],
        "Juan Carlos" => &["Juanca"],
        "José Luis" => &["Pepe Luis", "Joseluis"],
        "Antônio" => &["Toninho"],
        "João" => &["Joãozinho"],
        "William" => &["Bill", "Will"],
        "Robert" => &["Bob", "Rob"],
        "Michael" => &["Mike"],
        "Elizabeth" => &["Liz", "Beth"],
        "Jennifer" => &["Jen"],
        "Joseph" => &["Joe"],
        "Christopher" => &["Chris"],
        "Mohammed" => &["Mo", "Hamoudi"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn rank_weights_make_the_head_common() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let list = HISPANIC.surnames;
        let n = 100_000;
        let head = (0..n)
            .filter(|_| by_rank(&mut rng, list) == list[0])
            .count();
        let tail = (0..n)
            .filter(|_| by_rank(&mut rng, list) == list[list.len() - 1])
            .count();
        assert!(head > 10 * tail.max(1), "head {head}, tail {tail}");
        assert!(tail > 0, "the tail is rare, not absent");
    }

    #[test]
    fn hispanic_children_take_both_paternal_surnames() {
        let father = vec!["García".to_owned(), "López".to_owned()];
        let mother = vec!["de la Cruz".to_owned(), "Pérez".to_owned()];
        assert_eq!(
            inherit_surnames(Culture::Hispanic, &father, &mother),
            ["García", "de la Cruz"]
        );
        let father = vec!["Costa".to_owned(), "Silva".to_owned()];
        let mother = vec!["Lima".to_owned(), "dos Santos".to_owned()];
        assert_eq!(
            inherit_surnames(Culture::Portuguese, &father, &mother),
            ["dos Santos", "Silva"]
        );
        assert_eq!(
            inherit_surnames(Culture::Mandarin, &["Wang".to_owned()], &["Li".to_owned()]),
            ["Wang"]
        );
    }

    #[test]
    fn two_surname_cultures_never_repeat_a_surname() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..10_000 {
            let female = rng.random_bool(0.5);
            let n = person_name(&mut rng, Culture::Hispanic, female);
            assert_eq!(n.surnames.len(), 2);
            assert_ne!(n.surnames[0], n.surnames[1]);
        }
    }

    #[test]
    fn every_variant_differs_from_its_source() {
        for parts in [
            &HISPANIC,
            &PORTUGUESE,
            &HAITIAN,
            &MANDARIN,
            &VIETNAMESE,
            &ARABIC,
            &ENGLISH,
        ] {
            for p in parts
                .surnames
                .iter()
                .chain(parts.male)
                .chain(parts.female)
                .chain(parts.particle_surnames)
            {
                for v in transliterations(p).iter().chain(nicknames(p)) {
                    assert_ne!(v, p);
                }
            }
        }
    }
}
