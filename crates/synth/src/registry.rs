//! A made-up partner registry with a realistic mix of agreement and certification states.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use switchboard_domain::{
    Agency, AgencyKind, Agreement, AgreementModel, BadgeNumber, E164, Name, NewAgency,
    NewAgreement, NewOfficer, Officer, Ori,
};
use time::{Date, Duration, OffsetDateTime};

/// How big a registry to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrySpec {
    pub seed: u64,
    /// Agencies in all; about one in six is a federal field office.
    pub agencies: usize,
}

impl Default for RegistrySpec {
    fn default() -> Self {
        Self {
            seed: 2026,
            agencies: 36,
        }
    }
}

/// A generated registry, ready to store in this order: agencies, agreements, officers.
#[derive(Debug, Clone)]
pub struct Registry {
    pub agencies: Vec<Agency>,
    pub agreements: Vec<Agreement>,
    pub officers: Vec<Officer>,
}

/// Every state, DC and territory with a weight (how many partner agencies it tends to have)
/// and area codes for the officers' fictional 555-0100..0199 numbers.
const STATES: &[(&str, u32, &[u16])] = &[
    ("AL", 3, &[205, 251, 256, 334]),
    ("AK", 1, &[907]),
    ("AZ", 3, &[480, 520, 602, 928]),
    ("AR", 2, &[479, 501, 870]),
    ("CA", 1, &[213, 310, 415, 619, 714, 916]),
    ("CO", 1, &[303, 719, 970]),
    ("CT", 1, &[203, 860]),
    ("DE", 1, &[302]),
    (
        "FL",
        40,
        &[
            239, 305, 321, 352, 386, 407, 561, 727, 772, 813, 850, 863, 904, 941, 954,
        ],
    ),
    ("GA", 6, &[229, 404, 470, 478, 678, 706, 770, 912]),
    ("HI", 1, &[808]),
    ("ID", 2, &[208]),
    ("IL", 1, &[217, 312, 618, 773]),
    ("IN", 2, &[219, 317, 812]),
    ("IA", 1, &[319, 515, 712]),
    ("KS", 2, &[316, 785, 913]),
    ("KY", 2, &[270, 502, 606]),
    ("LA", 4, &[225, 318, 337, 504, 985]),
    ("ME", 1, &[207]),
    ("MD", 2, &[240, 301, 410, 443]),
    ("MA", 1, &[413, 508, 617]),
    ("MI", 1, &[248, 313, 616]),
    ("MN", 1, &[218, 612, 651]),
    ("MS", 2, &[228, 601, 662]),
    ("MO", 3, &[314, 417, 573, 816]),
    ("MT", 2, &[406]),
    ("NE", 2, &[308, 402]),
    ("NV", 2, &[702, 775]),
    ("NH", 1, &[603]),
    ("NJ", 1, &[201, 609, 732, 973]),
    ("NM", 1, &[505, 575]),
    ("NY", 1, &[212, 315, 518, 716]),
    ("NC", 6, &[252, 336, 704, 828, 910, 919]),
    ("ND", 1, &[701]),
    ("OH", 3, &[216, 330, 419, 513, 614]),
    ("OK", 4, &[405, 580, 918]),
    ("OR", 1, &[503, 541]),
    ("PA", 2, &[215, 412, 570, 717]),
    ("RI", 1, &[401]),
    ("SC", 4, &[803, 843, 864]),
    ("SD", 1, &[605]),
    ("TN", 5, &[423, 615, 731, 865, 901]),
    (
        "TX",
        30,
        &[
            210, 214, 254, 281, 325, 361, 409, 432, 512, 713, 806, 817, 830, 903, 915, 936, 956,
            979,
        ],
    ),
    ("UT", 2, &[385, 435, 801]),
    ("VT", 1, &[802]),
    ("VA", 4, &[276, 434, 540, 703, 757, 804]),
    ("WA", 1, &[206, 360, 509]),
    ("WV", 2, &[304]),
    ("WI", 2, &[414, 608, 920]),
    ("WY", 2, &[307]),
    ("DC", 1, &[202]),
    ("PR", 1, &[787, 939]),
    ("GU", 1, &[671]),
    ("VI", 1, &[340]),
    ("AS", 1, &[684]),
    ("MP", 1, &[670]),
];

/// Invented county and city names: no agency of these names is meant to exist.
const PLACES: &[&str] = &[
    "Alder",
    "Bexley",
    "Briar",
    "Calloway",
    "Cedar Run",
    "Coral Vale",
    "Dry Creek",
    "Elmstead",
    "Fairhollow",
    "Foxmoor",
    "Glenrock",
    "Harlow",
    "Hollis Ridge",
    "Ironwood",
    "Juniper",
    "Kestrel",
    "Larkspur",
    "Laurel Bend",
    "Maple Fork",
    "Marrow",
    "Northam",
    "Oakhaven",
    "Pinecrest",
    "Quarry",
    "Red Mesa",
    "Rook",
    "Saltmarsh",
    "Silver Pine",
    "Stonebridge",
    "Tamsin",
    "Thistle",
    "Umber",
    "Valewood",
    "Willowby",
    "Wrenfield",
    "Yarrow",
];

const REGIONS: &[&str] = &[
    "Gulf Plains",
    "Southern Coast",
    "Piedmont",
    "High Desert",
    "Tidewater",
    "River Valley",
    "Central Prairie",
    "Delta",
];

const GIVEN: &[&str] = &[
    "Alex", "Ana", "Ben", "Carla", "Dana", "Diego", "Elena", "Eli", "Farah", "Grace", "Hector",
    "Imani", "Jamal", "Jordan", "Kim", "Lena", "Luis", "Maya", "Noah", "Olivia", "Omar", "Priya",
    "Quinn", "Rosa", "Sam", "Tariq", "Tess", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
];

const FAMILY: &[&str] = &[
    "Abbott",
    "Alvarez",
    "Baker",
    "Castillo",
    "Chen",
    "Diaz",
    "Ellis",
    "Foster",
    "Garza",
    "Hughes",
    "Ibarra",
    "Jensen",
    "Khan",
    "Lopez",
    "Morales",
    "Nguyen",
    "Okafor",
    "Patel",
    "Quintero",
    "Reyes",
    "Shaw",
    "Torres",
    "Underwood",
    "Vasquez",
    "Walsh",
    "Xiong",
    "Young",
    "Zamora",
];

/// The most agencies one registry may hold: the fictional 555-0100..0199 numbers of the area
/// codes used (about 200 codes, 100 numbers each) run out beyond about ten thousand officers.
pub const MAX_AGENCIES: usize = 2_000;

/// Makes a registry as of `now`: agreement and certification dates are placed around `now`'s
/// day so that the mix of states (active, expired, pending, terminated; certified, lapsed,
/// never certified) holds whenever it is run.
pub fn generate(spec: RegistrySpec, now: OffsetDateTime) -> Registry {
    assert!(
        (1..=MAX_AGENCIES).contains(&spec.agencies),
        "a registry holds 1 to {MAX_AGENCIES} agencies"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let today = now.date();
    // About one agency in six is a federal field office in a small registry; a national one
    // has a few dozen.
    let federal_count = (spec.agencies / 6).clamp(1, 30).min(spec.agencies);
    let mut used_oris = HashSet::new();
    let mut used_phones = HashSet::new();
    let mut agencies = Vec::with_capacity(spec.agencies);

    let weights: Vec<(&str, u32)> = STATES.iter().map(|(s, w, _)| (*s, *w)).collect();
    for i in 0..federal_count {
        let state = weighted_state(&mut rng, &weights);
        let ori = unique_ori(&mut rng, &mut used_oris, state, true);
        let region = REGIONS[i % REGIONS.len()];
        let name = if i < REGIONS.len() {
            format!("Federal Field Office {region}")
        } else {
            format!("Federal Field Office {region} {}", i / REGIONS.len() + 1)
        };
        agencies.push(agency(ori, &name, AgencyKind::FederalFieldOffice, now));
    }
    for i in federal_count..spec.agencies {
        let state = weighted_state(&mut rng, &weights);
        let ori = unique_ori(&mut rng, &mut used_oris, state, false);
        let place = place_name(i - federal_count);
        let name = match rng.random_range(0..100) {
            0..=64 => format!("{place} County Sheriff's Office"),
            65..=94 => format!("{place} Police Department"),
            _ => format!("{place} Regional Jail"),
        };
        agencies.push(agency(ori, &name, AgencyKind::Partner287g, now));
    }

    let offices: Vec<&Agency> = agencies
        .iter()
        .filter(|a| a.kind == AgencyKind::FederalFieldOffice)
        .collect();
    let mut agreements = Vec::new();
    let mut officers = Vec::new();
    for a in &agencies {
        let area_codes = STATES
            .iter()
            .find(|(s, _, _)| *s == a.ori.state().as_str())
            .map(|(_, _, codes)| *codes)
            .unwrap_or(&[555]);
        let partner = a.kind == AgencyKind::Partner287g;
        let n_officers = if partner {
            rng.random_range(3..=6)
        } else {
            rng.random_range(2..=4)
        };
        if partner {
            let office = offices[rng.random_range(0..offices.len())];
            agreements.extend(agreements_for(
                &mut rng,
                a,
                office,
                n_officers as u32,
                today,
                now,
            ));
        }
        let mut badges = HashSet::new();
        for _ in 0..n_officers {
            officers.push(officer(
                &mut rng,
                a,
                partner,
                area_codes,
                &mut used_phones,
                &mut badges,
                today,
                now,
            ));
        }
    }
    // Ids from the seed rather than the system's randomness, so a seed gives the same registry.
    let mut n = 0;
    for a in &mut agencies {
        let id = switchboard_domain::AgencyId::from_uuid(id_at(&mut rng, now, n));
        n += 1;
        for g in &mut agreements {
            if g.agency_id == a.id {
                g.agency_id = id;
            }
            if g.supervising_office_id == a.id {
                g.supervising_office_id = id;
            }
        }
        for o in &mut officers {
            if o.agency_id == a.id {
                o.agency_id = id;
            }
        }
        a.id = id;
    }
    for g in &mut agreements {
        g.id = switchboard_domain::AgreementId::from_uuid(id_at(&mut rng, now, n));
        n += 1;
    }
    for o in &mut officers {
        o.id = switchboard_domain::OfficerId::from_uuid(id_at(&mut rng, now, n));
        n += 1;
    }
    Registry {
        agencies,
        agreements,
        officers,
    }
}

const LANDFORMS: &[&str] = &[
    "Creek", "Hills", "Valley", "Springs", "Falls", "Ridge", "Lake", "Grove", "Point", "Harbor",
];
const QUARTERS: &[&str] = &["North", "South", "East", "West"];

/// The `n`th invented place name: plain names first, then with a landform, then with a
/// quarter too, then numbered; distinct for every `n`.
fn place_name(n: usize) -> String {
    let p = PLACES.len();
    let l = LANDFORMS.len();
    if n < p {
        return PLACES[n].to_owned();
    }
    let n = n - p;
    if n < p * l {
        return format!("{} {}", PLACES[n % p], LANDFORMS[n / p]);
    }
    let n = n - p * l;
    let q = QUARTERS.len();
    if n < p * l * q {
        return format!(
            "{} {} {}",
            QUARTERS[n / (p * l)],
            PLACES[n % p],
            LANDFORMS[(n / p) % l]
        );
    }
    format!("{} {}", PLACES[n % p], n / p)
}

fn weighted_state<'a>(rng: &mut ChaCha8Rng, weights: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = weights.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (s, w) in weights {
        if x < *w {
            return s;
        }
        x -= w;
    }
    weights[weights.len() - 1].0
}

/// A UUIDv7 for the `n`th item made at `now`: deterministic for a seed, and in creation order.
fn id_at(rng: &mut ChaCha8Rng, now: OffsetDateTime, n: usize) -> uuid::Uuid {
    let millis = (now.unix_timestamp_nanos() / 1_000_000) as u64 + n as u64;
    let mut bytes = [0u8; 10];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

fn agency(ori: Ori, name: &str, kind: AgencyKind, now: OffsetDateTime) -> Agency {
    Agency::create(
        NewAgency {
            ori,
            name: Name::parse(name).expect("generated names are valid"),
            kind,
        },
        now,
    )
}

fn unique_ori(rng: &mut ChaCha8Rng, used: &mut HashSet<String>, state: &str, federal: bool) -> Ori {
    loop {
        let s = if federal {
            format!("{state}FFO{:04}", rng.random_range(0..10_000))
        } else {
            format!(
                "{state}{:03}{:04}",
                rng.random_range(1..255),
                rng.random_range(0..20) * 100
            )
        };
        if used.insert(s.clone()) {
            return Ori::parse(&s).expect("generated ORIs are valid");
        }
    }
}

/// One or two agreements; the first decides whether the agency may call today.
fn agreements_for(
    rng: &mut ChaCha8Rng,
    partner: &Agency,
    office: &Agency,
    officers: u32,
    today: Date,
    now: OffsetDateTime,
) -> Vec<Agreement> {
    let days = |n: i64| Duration::days(n);
    let roll = rng.random_range(0..100);
    if roll < 3 {
        return Vec::new(); // A partner still negotiating its agreement.
    }
    let (signed, expires, terminated) = match roll {
        3..=77 => {
            let signed = today - days(rng.random_range(30..900));
            (
                signed,
                signed + days(730 + rng.random_range(0..365)).max(today - signed + days(30)),
                None,
            )
        }
        78..=89 => {
            let expires = today - days(rng.random_range(1..400));
            (expires - days(730), expires, None)
        }
        90..=94 => {
            let signed = today + days(rng.random_range(5..60));
            (signed, signed + days(1095), None)
        }
        _ => {
            let signed = today - days(rng.random_range(200..700));
            (
                signed,
                signed + days(1095),
                Some(today - days(rng.random_range(1..150))),
            )
        }
    };
    let models = [
        AgreementModel::JailEnforcement,
        AgreementModel::TaskForce,
        AgreementModel::WarrantServiceOfficer,
    ];
    let model = *models.choose(rng).expect("models");
    let mut out = vec![make_agreement(
        partner,
        office,
        model,
        signed,
        expires,
        terminated,
        officers + rng.random_range(2..20),
        now,
    )];
    if rng.random_bool(0.25) {
        let others: Vec<AgreementModel> = models.into_iter().filter(|m| *m != model).collect();
        let other = *others.choose(rng).expect("two other models");
        let signed = today - days(rng.random_range(30..500));
        out.push(make_agreement(
            partner,
            office,
            other,
            signed,
            signed + days(1095),
            None,
            officers + 5,
            now,
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn make_agreement(
    partner: &Agency,
    office: &Agency,
    model: AgreementModel,
    signed_on: Date,
    expires_on: Date,
    terminated_on: Option<Date>,
    max: u32,
    now: OffsetDateTime,
) -> Agreement {
    Agreement::create(
        NewAgreement {
            agency_id: partner.id,
            model,
            signed_on,
            expires_on,
            terminated_on,
            supervising_office_id: office.id,
            max_certified_officers: max,
        },
        now,
    )
    .expect("generated agreements are valid")
}

#[allow(clippy::too_many_arguments)]
fn officer(
    rng: &mut ChaCha8Rng,
    agency: &Agency,
    partner: bool,
    area_codes: &[u16],
    used_phones: &mut HashSet<String>,
    used_badges: &mut HashSet<String>,
    today: Date,
    now: OffsetDateTime,
) -> Officer {
    let n_phones = if rng.random_bool(0.4) { 2 } else { 1 };
    let mut phones = Vec::with_capacity(n_phones);
    let all_codes: Vec<u16> = STATES
        .iter()
        .flat_map(|(_, _, c)| c.iter().copied())
        .collect();
    let mut tries = 0;
    while phones.len() < n_phones {
        tries += 1;
        // A state's own numbers can run out in a large registry; borrow another state's then.
        let codes = if tries < 200 {
            area_codes
        } else {
            &all_codes[..]
        };
        let area = codes.choose(rng).expect("area codes");
        let p = format!("+1{area}55501{:02}", rng.random_range(0..100));
        if used_phones.insert(p.clone()) {
            phones.push(E164::parse(&p).expect("generated numbers are valid"));
        }
    }
    let badge = loop {
        let b = format!("{}", rng.random_range(100..10_000));
        if used_badges.insert(b.clone()) {
            break b;
        }
    };
    let (certified_on, certification_expires_on) = if !partner {
        (None, None) // Federal officers act under their own authority.
    } else {
        match rng.random_range(0..100) {
            0..=84 => {
                let on = today - Duration::days(rng.random_range(0..330));
                (Some(on), Some(on + Duration::days(365)))
            }
            85..=92 => {
                let until = today - Duration::days(rng.random_range(1..200));
                (Some(until - Duration::days(365)), Some(until))
            }
            _ => (None, None),
        }
    };
    let mut o = Officer::create(
        NewOfficer {
            agency_id: agency.id,
            given_name: Name::parse(GIVEN.choose(rng).expect("names")).expect("valid"),
            family_name: Name::parse(FAMILY.choose(rng).expect("names")).expect("valid"),
            badge: BadgeNumber::parse(&badge).expect("valid"),
            phones,
            certified_on,
            certification_expires_on,
        },
        now,
    )
    .expect("generated officers are valid");
    o.active = rng.random_range(0..100) >= 3;
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::{AgreementStatus, CertificationStatus, assess_caller};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

    fn content(r: &Registry) -> Vec<String> {
        let mut v: Vec<String> = r
            .agencies
            .iter()
            .map(|a| format!("{} {}", a.ori, a.name))
            .collect();
        v.extend(
            r.officers
                .iter()
                .map(|o| format!("{} {:?} {:?}", o.display_name(), o.phones, o.certified_on)),
        );
        v.extend(
            r.agreements
                .iter()
                .map(|a| format!("{} {} {}", a.model, a.signed_on, a.expires_on)),
        );
        v
    }

    #[test]
    fn same_seed_same_content_other_seed_other_content() {
        let a = generate(RegistrySpec::default(), NOW);
        let b = generate(RegistrySpec::default(), NOW);
        assert_eq!(a.agencies, b.agencies, "ids included");
        assert_eq!(a.officers, b.officers);
        let c = generate(
            RegistrySpec {
                seed: 7,
                ..Default::default()
            },
            NOW,
        );
        assert_eq!(content(&a), content(&b));
        assert_ne!(content(&a), content(&c));
    }

    #[test]
    fn place_names_are_distinct() {
        let names: HashSet<String> = (0..MAX_AGENCIES).map(place_name).collect();
        assert_eq!(names.len(), MAX_AGENCIES);
    }

    #[test]
    fn a_national_registry_has_about_1100_agencies_in_every_kind_of_state() {
        let r = generate(
            RegistrySpec {
                seed: 2026,
                agencies: 1_100,
            },
            NOW,
        );
        let states: HashSet<&str> = r.agencies.iter().map(|a| &a.ori.as_str()[..2]).collect();
        assert!(states.len() >= 40, "{} states", states.len());
        let federal = r
            .agencies
            .iter()
            .filter(|a| a.kind == AgencyKind::FederalFieldOffice)
            .count();
        assert_eq!(federal, 30);
        let expired = r
            .agreements
            .iter()
            .filter(|a| a.status_on(NOW.date()) == AgreementStatus::Expired)
            .count();
        assert!(expired > 50, "{expired} expired agreements");
        assert!(r.officers.len() > 4_000, "{} officers", r.officers.len());
    }

    #[test]
    fn keys_are_unique_and_references_hold() {
        let r = generate(
            RegistrySpec {
                seed: 1,
                agencies: MAX_AGENCIES,
            },
            NOW,
        );
        assert_eq!(r.agencies.len(), MAX_AGENCIES);
        let oris: HashSet<_> = r.agencies.iter().map(|a| &a.ori).collect();
        assert_eq!(oris.len(), MAX_AGENCIES);
        let phones: Vec<_> = r.officers.iter().flat_map(|o| &o.phones).collect();
        assert_eq!(phones.iter().collect::<HashSet<_>>().len(), phones.len());
        for g in &r.agreements {
            let partner = r.agencies.iter().find(|a| a.id == g.agency_id).unwrap();
            let office = r
                .agencies
                .iter()
                .find(|a| a.id == g.supervising_office_id)
                .unwrap();
            g.check_parties(partner, office).unwrap();
            g.validate().unwrap();
        }
        let badges: HashSet<_> = r.officers.iter().map(|o| (o.agency_id, &o.badge)).collect();
        assert_eq!(
            badges.len(),
            r.officers.len(),
            "badges are unique within an agency"
        );
        for o in &r.officers {
            o.validate().unwrap();
            assert!(
                o.phones
                    .iter()
                    .all(|p| p.as_str()[5..].starts_with("55501")),
                "{:?}",
                o.phones
            );
        }
    }

    #[test]
    fn the_mix_shows_every_caller_situation() {
        let r = generate(
            RegistrySpec {
                seed: 3,
                agencies: 120,
            },
            NOW,
        );
        let today = NOW.date();
        let statuses: HashSet<_> = r.agreements.iter().map(|a| a.status_on(today)).collect();
        for s in [
            AgreementStatus::Active,
            AgreementStatus::Expired,
            AgreementStatus::NotYetInEffect,
            AgreementStatus::Terminated,
        ] {
            assert!(statuses.contains(&s), "no {s:?} agreement");
        }
        let certs: HashSet<_> = r
            .officers
            .iter()
            .map(|o| o.certification_on(today))
            .collect();
        for s in [
            CertificationStatus::Current,
            CertificationStatus::Expired,
            CertificationStatus::NotCertified,
        ] {
            assert!(certs.contains(&s), "no {s:?} officer");
        }
        let authorised = r
            .officers
            .iter()
            .filter(|o| {
                let a = r.agencies.iter().find(|a| a.id == o.agency_id).unwrap();
                assess_caller(Some((o, a, &r.agreements)), today).authorised
            })
            .count();
        let share = authorised as f64 / r.officers.len() as f64;
        assert!((0.55..0.9).contains(&share), "authorised share {share}");
        // Agreements never allow fewer certified officers than the agency has.
        for g in r
            .agreements
            .iter()
            .filter(|g| g.status_on(today) == AgreementStatus::Active)
        {
            let certified = r
                .officers
                .iter()
                .filter(|o| {
                    o.agency_id == g.agency_id
                        && o.certification_on(today) == CertificationStatus::Current
                })
                .count();
            assert!(certified as u32 <= g.max_certified_officers);
        }
    }
}
