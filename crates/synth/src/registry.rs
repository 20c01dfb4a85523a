//! A made-up partner registry with a realistic mix of agreement and certification states.

use std::collections::HashSet;

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
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

/// States used, with made-up-but-valid area codes for their fictional 555-01xx numbers.
const STATES: &[(&str, &[u16])] = &[
    ("TX", &[210, 512, 806, 915]),
    ("FL", &[305, 407, 850]),
    ("GA", &[404, 912]),
    ("AZ", &[480, 520]),
    ("NC", &[704, 919]),
    ("TN", &[615, 901]),
    ("OK", &[405, 918]),
    ("VA", &[540, 804]),
    ("LA", &[225, 504]),
    ("SC", &[803, 843]),
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
/// codes used run out beyond a few thousand officers.
pub const MAX_AGENCIES: usize = 300;

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
    let federal_count = (spec.agencies / 6).max(1).min(spec.agencies);
    let mut used_oris = HashSet::new();
    let mut used_phones = HashSet::new();
    let mut agencies = Vec::with_capacity(spec.agencies);

    for i in 0..federal_count {
        let (state, _) = STATES[i % STATES.len()];
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
        let (state, _) = *STATES.choose(&mut rng).expect("states");
        let ori = unique_ori(&mut rng, &mut used_oris, state, false);
        let place = PLACES[i % PLACES.len()];
        let suffix = if i >= PLACES.len() {
            format!(" {}", i / PLACES.len() + 1)
        } else {
            String::new()
        };
        let name = if rng.random_bool(0.7) {
            format!("{place}{suffix} County Sheriff's Office")
        } else {
            format!("{place}{suffix} Police Department")
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
            .find(|(s, _)| *s == a.ori.state().as_str())
            .map(|(_, codes)| *codes)
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
        for _ in 0..n_officers {
            officers.push(officer(
                &mut rng,
                a,
                partner,
                area_codes,
                &mut used_phones,
                today,
                now,
            ));
        }
    }
    Registry {
        agencies,
        agreements,
        officers,
    }
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

fn officer(
    rng: &mut ChaCha8Rng,
    agency: &Agency,
    partner: bool,
    area_codes: &[u16],
    used_phones: &mut HashSet<String>,
    today: Date,
    now: OffsetDateTime,
) -> Officer {
    let n_phones = if rng.random_bool(0.4) { 2 } else { 1 };
    let mut phones = Vec::with_capacity(n_phones);
    let all_codes: Vec<u16> = STATES.iter().flat_map(|(_, c)| c.iter().copied()).collect();
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
            badge: BadgeNumber::parse(&format!("{}", rng.random_range(100..10_000)))
                .expect("valid"),
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
