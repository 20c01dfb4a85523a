//! The truth: made-up people in households, with names that follow their culture's rules,
//! family ties that share surnames and addresses, minors, US citizens (born here, naturalised,
//! derived or acquired through a parent), and look-alikes who are different people.
//!
//! Households are independent: household `h` is generated from its own random stream
//! (`seed`, `h`), so any household can be regenerated on its own. That makes generation
//! streamable and parallelisable, and lets a household copy a name from an earlier one (a
//! doppelgänger) without holding earlier households in memory.

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::{Date, Duration};

use crate::names::{self, Culture, PersonName};

/// How many people, and the rates of the situations the data must contain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeopleSpec {
    pub seed: u64,
    /// People to generate.
    pub people: u64,
    /// Share of people under 18 on `today`.
    pub minor_share: f64,
    /// Share of children born in the United States (so US citizens by birth).
    pub us_born_child_share: f64,
    /// Share of foreign-born adults who have naturalised.
    pub naturalized_share: f64,
    /// Share of households with twins among the children.
    pub twin_share: f64,
    /// Share of households where a son carries his father's given name and surnames.
    pub namesake_share: f64,
    /// Share of households whose head has the same name and birth date as an unrelated person.
    pub doppelganger_share: f64,
    /// The day ages are counted from.
    pub today: Date,
}

impl PeopleSpec {
    pub fn new(seed: u64, people: u64, today: Date) -> Self {
        Self {
            seed,
            people,
            minor_share: 0.12,
            us_born_child_share: 0.35,
            naturalized_share: 0.06,
            twin_share: 0.02,
            namesake_share: 0.03,
            doppelganger_share: 0.01,
            today,
        }
    }

    /// Checks every rate is a probability.
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("minor_share", self.minor_share),
            ("us_born_child_share", self.us_born_child_share),
            ("naturalized_share", self.naturalized_share),
            ("twin_share", self.twin_share),
            ("namesake_share", self.namesake_share),
            ("doppelganger_share", self.doppelganger_share),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be between 0 and 1, got {v}"));
            }
        }
        if self.minor_share > 0.6 {
            return Err(format!(
                "minor_share above 0.6 cannot be met with two-parent households, got {}",
                self.minor_share
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HouseholdRole {
    Head,
    Partner,
    Child,
}

impl HouseholdRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Head => "head",
            Self::Partner => "partner",
            Self::Child => "child",
        }
    }
}

/// How a person is (or is not) a US citizen; the matching and rules issues depend on every one
/// of these appearing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Citizenship {
    /// Not a US citizen.
    None,
    /// Born in the United States.
    UsBorn,
    /// Naturalised as an adult.
    Naturalized,
    /// Became a citizen automatically when a parent naturalised while they were a minor.
    Derived,
    /// Born abroad to a US-citizen parent.
    Acquired,
}

impl Citizenship {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::UsBorn => "us_born",
            Self::Naturalized => "naturalized",
            Self::Derived => "derived",
            Self::Acquired => "acquired",
        }
    }

    pub fn is_citizen(self) -> bool {
        self != Self::None
    }
}

/// One made-up person: the truth every record is generated from.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// `household * 8 + slot`: unique, and computable from the household alone.
    pub id: u64,
    pub household: u64,
    pub role: HouseholdRole,
    pub culture: Culture,
    pub name: PersonName,
    pub female: bool,
    pub dob: Date,
    /// ISO 3166-1 alpha-2.
    pub country_of_birth: &'static str,
    pub place_of_birth: &'static str,
    pub citizenship: Citizenship,
    pub father: Option<u64>,
    pub mother: Option<u64>,
    pub address: String,
    /// The other twin, for twins.
    pub twin_of: Option<u64>,
    /// Someone else with this person's name: for a son, his father (same given name and first
    /// surname; a Hispanic son's second surname is his mother's); for a household head, an
    /// unrelated look-alike with the same full name and birth date.
    pub namesake_of: Option<u64>,
}

impl Person {
    pub fn age_on(&self, day: Date) -> i32 {
        let mut age = day.year() - self.dob.year();
        if (day.month() as u8, day.day()) < (self.dob.month() as u8, self.dob.day()) {
            age -= 1;
        }
        age
    }
}

/// The most people one household holds; person ids reserve this many slots per household.
pub const SLOTS: u64 = 8;

const CULTURE_WEIGHTS: [(Culture, u32); 7] = [
    (Culture::Hispanic, 62),
    (Culture::Portuguese, 5),
    (Culture::Haitian, 7),
    (Culture::Mandarin, 6),
    (Culture::Vietnamese, 4),
    (Culture::Arabic, 4),
    (Culture::English, 12),
];

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

fn places(country: &str) -> &'static [&'static str] {
    match country {
        "MX" => &[
            "Guadalajara, Jalisco",
            "Oaxaca de Juárez, Oaxaca",
            "Puebla, Puebla",
            "Morelia, Michoacán",
            "Ciudad Juárez, Chihuahua",
            "León, Guanajuato",
            "Acapulco, Guerrero",
            "Veracruz, Veracruz",
        ],
        "GT" => &["Guatemala City", "Quetzaltenango", "Huehuetenango", "Cobán"],
        "HN" => &["Tegucigalpa", "San Pedro Sula", "La Ceiba", "Choluteca"],
        "SV" => &["San Salvador", "Santa Ana", "San Miguel", "Usulután"],
        "CO" => &["Bogotá", "Medellín", "Cali", "Barranquilla"],
        "VE" => &["Caracas", "Maracaibo", "Valencia", "Barquisimeto"],
        "CU" => &["Havana", "Santiago de Cuba", "Camagüey"],
        "DO" => &["Santo Domingo", "Santiago de los Caballeros", "La Romana"],
        "EC" => &["Guayaquil", "Quito", "Cuenca"],
        "NI" => &["Managua", "León", "Granada"],
        "BR" => &[
            "São Paulo",
            "Belo Horizonte",
            "Governador Valadares",
            "Rio de Janeiro",
            "Goiânia",
        ],
        "HT" => &[
            "Port-au-Prince",
            "Cap-Haïtien",
            "Gonaïves",
            "Les Cayes",
            "Jacmel",
        ],
        "CN" => &[
            "Fuzhou, Fujian",
            "Wenzhou, Zhejiang",
            "Guangzhou, Guangdong",
            "Shenyang, Liaoning",
        ],
        "TW" => &["Taipei", "Kaohsiung"],
        "VN" => &["Ho Chi Minh City", "Hanoi", "Da Nang", "Hai Phong"],
        "EG" => &["Cairo", "Alexandria", "Giza"],
        "YE" => &["Sana'a", "Aden", "Taiz"],
        "SY" => &["Damascus", "Aleppo", "Homs"],
        "IQ" => &["Baghdad", "Mosul", "Basra"],
        "JO" => &["Amman", "Irbid", "Zarqa"],
        _ => US_PLACES,
    }
}

const US_PLACES: &[&str] = &[
    "Houston, TX",
    "Los Angeles, CA",
    "Miami, FL",
    "Phoenix, AZ",
    "Chicago, IL",
    "Atlanta, GA",
    "Charlotte, NC",
    "Nashville, TN",
    "Newark, NJ",
    "Dallas, TX",
    "San Antonio, TX",
    "Orlando, FL",
    "Boston, MA",
    "Denver, CO",
];

const STREETS: &[&str] = &[
    "Alder", "Birch", "Cedar", "Dogwood", "Elm", "Fir", "Hawthorn", "Juniper", "Laurel",
    "Magnolia", "Oak", "Pine", "Sycamore", "Willow",
];
const SUFFIXES: &[&str] = &["St", "Ave", "Rd", "Ln", "Dr", "Ct"];

/// The random stream of household `h`: independent of every other household.
fn household_rng(seed: u64, h: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(h);
    rng
}

fn dob_for_age(rng: &mut ChaCha8Rng, today: Date, age: i32) -> Date {
    // A birth date `age` full years before today: between (today − age − 1 years, today − age years].
    let latest = today
        .replace_year(today.year() - age)
        .unwrap_or(today - Duration::days(365 * age as i64));
    latest - Duration::days(rng.random_range(0..365))
}

/// Generates household `h` (its people, in slot order), exactly as every other call does.
pub fn household(spec: &PeopleSpec, h: u64) -> Vec<Person> {
    let mut rng = household_rng(spec.seed, h);
    let culture = weighted(&mut rng, &CULTURE_WEIGHTS);
    let country = weighted(&mut rng, culture.countries());
    let address = format!(
        "{} {} {}, {}",
        rng.random_range(100..9999),
        STREETS.choose(&mut rng).expect("streets"),
        SUFFIXES.choose(&mut rng).expect("suffixes"),
        US_PLACES.choose(&mut rng).expect("places"),
    );
    let has_partner = rng.random_bool(0.6);
    let n_children = *[0u64, 1, 1, 2, 2, 3, 4].choose(&mut rng).expect("sizes");
    // Expected household size is 1 + 0.6 + 13/7; pick the child-minor probability that makes
    // the overall minor share come out at spec.minor_share.
    let mean_children = 13.0 / 7.0;
    let p_minor = (spec.minor_share * (1.6 + mean_children) / mean_children).min(1.0);
    let minors: Vec<bool> = (0..n_children).map(|_| rng.random_bool(p_minor)).collect();
    let child_ages: Vec<i32> = minors
        .iter()
        .map(|&m| {
            if m {
                rng.random_range(0..18)
            } else {
                rng.random_range(18..32)
            }
        })
        .collect();
    let oldest_child = child_ages.iter().copied().max().unwrap_or(0);
    let head_min_age = if n_children > 0 {
        (oldest_child + 18).max(18)
    } else {
        18
    };
    let head_age = rng.random_range(head_min_age..=(head_min_age + 30).clamp(70, 90));
    let base = h * SLOTS;

    let adult_citizenship = |rng: &mut ChaCha8Rng| {
        if country == "US" {
            Citizenship::UsBorn
        } else if rng.random_bool(spec.naturalized_share) {
            Citizenship::Naturalized
        } else {
            Citizenship::None
        }
    };
    let head_female = rng.random_bool(if has_partner { 0.0 } else { 0.45 });
    let head_citizenship = adult_citizenship(&mut rng);
    let mut head = Person {
        id: base,
        household: h,
        role: HouseholdRole::Head,
        culture,
        name: names::person_name(&mut rng, culture, head_female),
        female: head_female,
        dob: dob_for_age(&mut rng, spec.today, head_age),
        country_of_birth: country,
        place_of_birth: places(country).choose(&mut rng).expect("places"),
        citizenship: head_citizenship,
        father: None,
        mother: None,
        address: address.clone(),
        twin_of: None,
        namesake_of: None,
    };
    if h > 0 && rng.random_bool(spec.doppelganger_share) {
        // An unrelated earlier household's head: same culture of name, same name, same birth
        // date. Only the records' other details can tell them apart.
        // The look-alike must share the household's naming culture (its children inherit
        // surnames by that culture's rule) and be old enough to be their parent.
        for _ in 0..64 {
            let k = h - 1 - rng.random_range(0..h.min(10_000));
            let other = household(spec, k).swap_remove(0);
            if other.culture == culture && other.age_on(spec.today) >= head_min_age {
                head.name = other.name;
                head.female = other.female;
                head.dob = other.dob;
                head.namesake_of = Some(other.id);
                break;
            }
        }
    }
    let mut people = vec![head];
    if has_partner {
        let partner_age = (head_age + rng.random_range(-6..=6)).clamp(head_min_age, 95);
        let citizenship = adult_citizenship(&mut rng);
        let partner = Person {
            id: base + 1,
            household: h,
            role: HouseholdRole::Partner,
            culture,
            name: names::person_name(&mut rng, culture, true),
            female: true,
            dob: dob_for_age(&mut rng, spec.today, partner_age),
            country_of_birth: country,
            place_of_birth: places(country).choose(&mut rng).expect("places"),
            citizenship,
            father: None,
            mother: None,
            address: address.clone(),
            twin_of: None,
            namesake_of: None,
        };
        people.push(partner);
    }
    let (father, mother) = match (people[0].female, people.get(1)) {
        (false, Some(p)) => (Some(&people[0]), Some(p)),
        (false, None) => (Some(&people[0]), None),
        (true, _) => (None, Some(&people[0])),
    };
    let father_surnames = father.map(|p| p.name.surnames.clone());
    let mother_surnames = mother.map(|p| p.name.surnames.clone());
    let father_id = father.map(|p| p.id);
    let mother_id = mother.map(|p| p.id);
    let father_given = father.map(|p| p.name.given.clone());
    let any_parent_citizen = people.iter().any(|p| p.citizenship.is_citizen());
    let naturalized_parent = people
        .iter()
        .any(|p| p.citizenship == Citizenship::Naturalized);

    let twins_at = if n_children >= 2 && rng.random_bool(spec.twin_share) {
        Some(rng.random_range(1..n_children as usize))
    } else {
        None
    };
    let namesake_at = if father.is_some() && n_children >= 1 && rng.random_bool(spec.namesake_share)
    {
        Some(0usize)
    } else {
        None
    };
    let mut children: Vec<Person> = Vec::new();
    for (i, age) in child_ages.iter().enumerate() {
        let female = if namesake_at == Some(i) {
            false
        } else {
            rng.random_bool(0.49)
        };
        let own = names::person_name(&mut rng, culture, female);
        let fallback = own.surnames.clone();
        let f = father_surnames.clone().unwrap_or_else(|| fallback.clone());
        let m = mother_surnames.clone().unwrap_or_else(|| fallback.clone());
        let surnames = if culture.two_surnames() || father_surnames.is_some() {
            names::inherit_surnames(culture, &f, &m)
        } else {
            m[..1].to_vec()
        };
        let mut given = own.given;
        let mut namesake_of = None;
        if namesake_at == Some(i) {
            given = father_given.clone().expect("a namesake has a father");
            namesake_of = father_id;
        }
        let us_born = rng.random_bool(spec.us_born_child_share);
        let (cob, pob, citizenship) = if us_born || country == "US" {
            (
                "US",
                *US_PLACES.choose(&mut rng).expect("places"),
                Citizenship::UsBorn,
            )
        } else {
            let pob = *places(country).choose(&mut rng).expect("places");
            let citizenship = if any_parent_citizen && rng.random_bool(0.5) {
                Citizenship::Acquired
            } else if naturalized_parent && *age < 18 {
                Citizenship::Derived
            } else {
                Citizenship::None
            };
            (country, pob, citizenship)
        };
        let mut child = Person {
            id: base + 2 + i as u64,
            household: h,
            role: HouseholdRole::Child,
            culture,
            name: PersonName { given, surnames },
            female,
            dob: dob_for_age(&mut rng, spec.today, *age),
            country_of_birth: cob,
            place_of_birth: pob,
            citizenship,
            father: father_id,
            mother: mother_id,
            address: address.clone(),
            twin_of: None,
            namesake_of,
        };
        if twins_at == Some(i) {
            let sibling = &children[i - 1];
            child.dob = sibling.dob;
            child.country_of_birth = sibling.country_of_birth;
            child.place_of_birth = sibling.place_of_birth;
            child.citizenship = sibling.citizenship;
            child.twin_of = Some(sibling.id);
        }
        children.push(child);
    }
    if let Some(i) = twins_at {
        let twin = children[i].id;
        children[i - 1].twin_of = Some(twin);
    }
    people.extend(children);
    people
}

/// Every person of the spec, household by household, holding one household at a time.
pub fn people(spec: PeopleSpec) -> impl Iterator<Item = Person> {
    let mut emitted = 0u64;
    (0u64..)
        .flat_map(move |h| household(&spec, h))
        .take_while(move |_| {
            emitted += 1;
            emitted <= spec.people
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 21);

    fn sample(n: u64) -> Vec<Person> {
        people(PeopleSpec::new(42, n, TODAY)).collect()
    }

    #[test]
    fn deterministic_for_a_seed_and_households_regenerate_alone() {
        let a = sample(5_000);
        let b = sample(5_000);
        assert_eq!(a, b);
        let c: Vec<Person> = people(PeopleSpec::new(43, 5_000, TODAY)).collect();
        assert_ne!(a, c);
        let h = a[2_000].household;
        let alone = household(&PeopleSpec::new(42, 5_000, TODAY), h);
        let in_stream: Vec<&Person> = a.iter().filter(|p| p.household == h).collect();
        assert_eq!(alone.iter().collect::<Vec<_>>(), in_stream);
        assert_eq!(a.len(), 5_000);
    }

    #[test]
    fn rates_are_met_within_tolerance() {
        let spec = PeopleSpec::new(7, 200_000, TODAY);
        let all: Vec<Person> = people(spec).collect();
        let n = all.len() as f64;
        let share = |f: &dyn Fn(&Person) -> bool| all.iter().filter(|p| f(p)).count() as f64 / n;
        let minors = share(&|p| p.age_on(TODAY) < 18);
        assert!((minors - spec.minor_share).abs() < 0.015, "minors {minors}");
        for c in [
            Citizenship::UsBorn,
            Citizenship::Naturalized,
            Citizenship::Derived,
            Citizenship::Acquired,
        ] {
            assert!(share(&|p| p.citizenship == c) > 0.001, "{c:?} missing");
        }
        let citizens = share(&|p| p.citizenship.is_citizen());
        assert!((0.1..0.45).contains(&citizens), "citizens {citizens}");
        let children: Vec<&Person> = all
            .iter()
            .filter(|p| p.role == HouseholdRole::Child && p.culture != Culture::English)
            .collect();
        let us_born = children
            .iter()
            .filter(|p| p.country_of_birth == "US")
            .count() as f64
            / children.len() as f64;
        assert!(
            (us_born - spec.us_born_child_share).abs() < 0.02,
            "us-born children {us_born}"
        );

        let households = all
            .iter()
            .map(|p| p.household)
            .collect::<HashSet<_>>()
            .len() as f64;
        let twins = all.iter().filter(|p| p.twin_of.is_some()).count() as f64 / 2.0;
        let with_two_kids = all
            .iter()
            .filter(|p| p.role == HouseholdRole::Child && p.id % SLOTS == 3)
            .count() as f64;
        assert!(
            (twins / with_two_kids - spec.twin_share).abs() < 0.01,
            "twins {twins} of {with_two_kids}"
        );
        let doppel = all
            .iter()
            .filter(|p| p.role == HouseholdRole::Head && p.namesake_of.is_some())
            .count() as f64
            / households;
        assert!(
            (doppel - spec.doppelganger_share).abs() < 0.004,
            "doppelgangers {doppel}"
        );
        let juniors = all
            .iter()
            .filter(|p| p.role == HouseholdRole::Child && p.namesake_of.is_some())
            .count();
        assert!(juniors > 0);
    }

    /// The surname passed down from the father: last in Portuguese names, first elsewhere.
    fn paternal(p: &Person) -> &str {
        match p.culture {
            Culture::Portuguese => p.name.surnames.last().unwrap(),
            _ => p.name.surnames.first().unwrap(),
        }
    }

    #[test]
    fn families_share_surnames_addresses_and_follow_the_culture() {
        let all = sample(50_000);
        let by_id: HashMap<u64, &Person> = all.iter().map(|p| (p.id, p)).collect();
        let mut two = 0;
        let mut hispanic = 0;
        let mut particles = 0;
        let mut compound = 0;
        for p in &all {
            if p.culture == Culture::Hispanic {
                hispanic += 1;
                two += (p.name.surnames.len() == 2) as usize;
                particles += p
                    .name
                    .surnames
                    .iter()
                    .any(|s| s.starts_with("de") || s.starts_with("del "))
                    as usize;
                compound += p.name.given.contains(' ') as usize;
            }
            if let (Some(f), HouseholdRole::Child) = (p.father, p.role) {
                let father = by_id[&f];
                assert_eq!(father.address, p.address);
                assert_eq!(paternal(father), paternal(p), "{p:?}");
                assert!(father.age_on(TODAY) >= p.age_on(TODAY) + 18);
            }
            if let (Some(m), Culture::Hispanic, HouseholdRole::Child) =
                (p.mother, p.culture, p.role)
            {
                assert_eq!(by_id[&m].name.surnames[0], p.name.surnames[1]);
            }
            if let Some(t) = p.twin_of {
                assert_eq!(by_id[&t].dob, p.dob);
                assert_eq!(by_id[&t].twin_of, Some(p.id));
            }
            if let Some(o) = p.namesake_of.and_then(|o| by_id.get(&o)) {
                assert_ne!(o.id, p.id);
                assert_eq!(o.name.given, p.name.given);
                assert_eq!(paternal(o), paternal(p));
                if p.role == HouseholdRole::Head {
                    assert_eq!(
                        (&o.name, o.dob),
                        (&p.name, p.dob),
                        "a look-alike shares name and birth date"
                    );
                }
            }
        }
        assert_eq!(two, hispanic, "every Hispanic name has two surnames");
        let particle_share = particles as f64 / hispanic as f64;
        assert!(
            (0.05..0.25).contains(&particle_share),
            "particles {particle_share}"
        );
        let compound_share = compound as f64 / hispanic as f64;
        assert!(
            (0.12..0.35).contains(&compound_share),
            "compound {compound_share}"
        );
    }

    #[test]
    fn bad_rates_are_refused() {
        let mut s = PeopleSpec::new(1, 10, TODAY);
        s.twin_share = 1.5;
        assert!(s.validate().unwrap_err().contains("twin_share"));
        s.twin_share = -0.1;
        assert!(s.validate().is_err());
        assert!(PeopleSpec::new(1, 10, TODAY).validate().is_ok());
    }
}
