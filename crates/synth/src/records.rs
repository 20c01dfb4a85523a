//! The record systems: each person's records as six separate sources would hold them, each
//! with its own identifiers, field conventions, update times and errors, and the truth that
//! ties every record to its person.
//!
//! Sources and their conventions:
//! - `identity`: A-number and FIN, family and given names as recorded (accents kept),
//!   aliases, DOB, sex, country and place of birth. Some people have two A-files.
//! - `immigration_case`: status, pending or granted applications (asylum, SIJ, T, U, VAWA),
//!   hearings, appeals, motions, final orders and stays, and the 8 U.S.C. 1367 flag.
//! - `custody`: book-ins and releases; names as "LAST, FIRST" with one surname, often no A-number.
//! - `court_order`: orders naming one person (stays of removal, TROs); class injunctions are
//!   definitions of a class, not records of a person, and come separately.
//! - `criminal_history`: FBI and state ids, NCIC-style names (upper case, no accents),
//!   offenses by NCIC code.
//! - `citizenship`: birth records, naturalisation and citizenship certificates, consular
//!   reports of birth abroad, passports.

use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use time::{Date, Duration};

pub use switchboard_domain::records::{
    CitizenshipRecord, ClassInjunction, CourtOrderRecord, CriminalHistoryRecord, CustodyRecord,
    IdentityRecord, ImmigrationCaseRecord, SourceRecord, System,
};

use crate::noise::{self, Noise, NoiseSpec};
use crate::people::{Citizenship, Person};

fn prefix(system: System) -> &'static str {
    match system {
        System::Identity => "IDN",
        System::ImmigrationCase => "CAS",
        System::Custody => "CUS",
        System::CourtOrder => "ORD",
        System::CriminalHistory => "CRI",
        System::Citizenship => "CIT",
    }
}

/// What record generation needs besides the people.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSpec {
    pub seed: u64,
    pub noise: NoiseSpec,
    /// The day the files were extracted: records are updated up to this day.
    pub today: Date,
}

/// Which person a record belongs to, and how it was made to differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthRow {
    pub system: &'static str,
    pub record_id: String,
    pub person_id: u64,
    /// Noise kinds applied, separated by `;`.
    pub noise: String,
}

/// One person's records in every system.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonRecords {
    pub identity: Vec<IdentityRecord>,
    pub immigration_case: Vec<ImmigrationCaseRecord>,
    pub custody: Vec<CustodyRecord>,
    pub court_order: Vec<CourtOrderRecord>,
    pub criminal_history: Vec<CriminalHistoryRecord>,
    pub citizenship: Vec<CitizenshipRecord>,
    pub truth: Vec<TruthRow>,
}

impl PersonRecords {
    pub fn len(&self) -> usize {
        self.truth.len()
    }

    /// Records the truth row of a record just made for `person`.
    fn tie(&mut self, system: System, record_id: String, person: u64, applied: &[Noise]) {
        self.truth.push(TruthRow {
            system: system.as_str(),
            record_id,
            person_id: person,
            noise: noise_text(applied),
        });
    }

    /// Moves every record into `out` as the stored, system-tagged form.
    pub fn drain_into(&mut self, out: &mut Vec<SourceRecord>) {
        out.extend(self.identity.drain(..).map(SourceRecord::Identity));
        out.extend(
            self.immigration_case
                .drain(..)
                .map(SourceRecord::ImmigrationCase),
        );
        out.extend(self.custody.drain(..).map(SourceRecord::Custody));
        out.extend(self.court_order.drain(..).map(SourceRecord::CourtOrder));
        out.extend(
            self.criminal_history
                .drain(..)
                .map(SourceRecord::CriminalHistory),
        );
        out.extend(self.citizenship.drain(..).map(SourceRecord::Citizenship));
    }

    pub fn is_empty(&self) -> bool {
        self.truth.is_empty()
    }
}

/// A bijection on u64 (the splitmix64 finaliser): distinct inputs give distinct ids, and ids
/// reveal nothing of the person they belong to.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn make_record_id(seed: u64, system: System, person: u64, k: u64) -> String {
    let key = mix(seed ^ (system as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    format!("{}-{:016X}", prefix(system), mix((person << 4 | k) ^ key))
}

/// A 9-digit A-number, distinct for each (person, file) pair: an affine permutation of
/// 0..800,000,000 shifted to start at 200,000,000.
pub fn a_number(seed: u64, person: u64, file: u64) -> String {
    const M: u64 = 800_000_000;
    let x = (person * 2 + file) % M;
    let n = (x * 7_919_981 + seed % M) % M;
    format!("{:09}", 200_000_000 + n)
}

fn fin(seed: u64, person: u64) -> String {
    const M: u64 = 9_000_000_000;
    let n = ((person % M) * 7_919 + seed % M) % M;
    format!("{}", 1_000_000_000 + n)
}

/// The person's name as one record holds it, after that record's noise.
struct NameView {
    given: String,
    surnames: Vec<String>,
}

fn noisy_name(
    rng: &mut ChaCha8Rng,
    p: &Person,
    spec: &NoiseSpec,
    applied: &mut Vec<Noise>,
) -> NameView {
    let mut v = NameView {
        given: p.name.given.clone(),
        surnames: p.name.surnames.clone(),
    };
    if v.surnames.len() == 2 {
        if noise::roll(rng, spec, Noise::DropSecondSurname, applied) {
            v.surnames.truncate(1);
        } else if noise::roll(rng, spec, Noise::SwapSurnames, applied) {
            v.surnames.swap(0, 1);
        }
    }
    if !crate::names::nicknames(&v.given).is_empty()
        && noise::roll(rng, spec, Noise::Nickname, applied)
    {
        v.given = crate::names::nicknames(&v.given)
            .choose(rng)
            .expect("nicknames")
            .to_string();
    }
    let translit_target = if rng.random_bool(0.5) { 0 } else { 1 };
    let has_variant = |s: &str| {
        s.split(' ')
            .any(|w| !crate::names::transliterations(w).is_empty())
            || !crate::names::transliterations(s).is_empty()
    };
    let candidates: Vec<usize> = [
        has_variant(&v.given),
        v.surnames.iter().any(|s| has_variant(s)),
    ]
    .iter()
    .enumerate()
    .filter(|(_, h)| **h)
    .map(|(i, _)| i)
    .collect();
    if !candidates.is_empty() && noise::roll(rng, spec, Noise::Transliteration, applied) {
        let which = if candidates.contains(&translit_target) {
            translit_target
        } else {
            candidates[0]
        };
        if which == 0 {
            v.given = noise::transliterate(rng, &v.given).unwrap_or(v.given.clone());
        } else if let Some(i) = v.surnames.iter().position(|s| has_variant(s)) {
            v.surnames[i] =
                noise::transliterate(rng, &v.surnames[i]).unwrap_or(v.surnames[i].clone());
        }
    }
    if noise::roll(rng, spec, Noise::Typo, applied) {
        let i = rng.random_range(0..=v.surnames.len());
        match v.surnames.get_mut(i) {
            Some(s) => *s = noise::typo(rng, s),
            None => v.given = noise::typo(rng, &v.given),
        }
    }
    let phon_i = rng.random_range(0..=v.surnames.len());
    let phon_src = v.surnames.get(phon_i).unwrap_or(&v.given).clone();
    if let Some(changed) = noise::phonetic(rng, &phon_src)
        && noise::roll(rng, spec, Noise::Phonetic, applied)
    {
        match v.surnames.get_mut(phon_i) {
            Some(s) => *s = changed,
            None => v.given = changed,
        }
    }
    let accented = |s: &str| !s.is_ascii();
    if (accented(&v.given) || v.surnames.iter().any(|s| accented(s)))
        && noise::roll(rng, spec, Noise::DropAccents, applied)
    {
        v.given = deunicode::deunicode(&v.given);
        for s in &mut v.surnames {
            *s = deunicode::deunicode(s);
        }
    }
    if noise::roll(rng, spec, Noise::SwapGivenFamily, applied) {
        let family = v.surnames.join(" ");
        v.surnames = vec![std::mem::replace(&mut v.given, family)];
    }
    v
}

fn noisy_dob(
    rng: &mut ChaCha8Rng,
    p: &Person,
    spec: &NoiseSpec,
    applied: &mut Vec<Noise>,
) -> Option<Date> {
    if noise::roll(rng, spec, Noise::BlankField, applied) {
        return None;
    }
    if let Some(swapped) = noise::swap_day_month(p.dob)
        && noise::roll(rng, spec, Noise::DobDayMonthSwap, applied)
    {
        return Some(swapped);
    }
    if noise::roll(rng, spec, Noise::DobDigitOff, applied) {
        return Some(noise::digit_off(rng, p.dob));
    }
    Some(p.dob)
}

/// The start of every record: the person's name and birth date as this record holds them,
/// with the noise applied so far.
fn draft(
    rng: &mut ChaCha8Rng,
    p: &Person,
    spec: &NoiseSpec,
) -> (Vec<Noise>, NameView, Option<Date>) {
    let mut applied = Vec::new();
    let name = noisy_name(rng, p, spec, &mut applied);
    let dob = noisy_dob(rng, p, spec, &mut applied);
    (applied, name, dob)
}

fn updated_on(rng: &mut ChaCha8Rng, spec: &RecordSpec, applied: &mut Vec<Noise>) -> Date {
    if noise::roll(rng, &spec.noise, Noise::Stale, applied) {
        spec.today - Duration::days(rng.random_range(730..3650))
    } else {
        spec.today - Duration::days(rng.random_range(0..180))
    }
}

fn sex(p: &Person) -> &'static str {
    if p.female { "F" } else { "M" }
}

fn noisy_a_number(
    rng: &mut ChaCha8Rng,
    a: &str,
    spec: &NoiseSpec,
    applied: &mut Vec<Noise>,
) -> String {
    if let Some(t) = noise::transpose_digits(rng, a)
        && noise::roll(rng, spec, Noise::IdTransposition, applied)
    {
        return t;
    }
    a.to_owned()
}

fn noise_text(applied: &[Noise]) -> String {
    applied
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

const FACILITIES: &[&str] = &[
    "Northside Processing Center",
    "Gulf Plains Detention Facility",
    "Riverbend County Jail",
    "Desert Springs Processing Center",
    "Harbor Point Staging Facility",
];
const COURTS: &[&str] = &[
    "U.S. District Court, Southern District (synthetic)",
    "U.S. Court of Appeals, Fifth Circuit (synthetic)",
    "U.S. District Court, Central District (synthetic)",
    "Board of Immigration Appeals (synthetic)",
];
const NCIC_CODES: &[&str] = &[
    "5404", "5499", "2399", "3562", "1313", "2204", "4899", "5707", "1399", "3599",
];

/// Generates one person's records in every system, with the truth rows that tie them to the
/// person. The same spec and person always give the same records.
pub fn records_for(spec: &RecordSpec, p: &Person) -> PersonRecords {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed.wrapping_add(0x5eed_0001));
    rng.set_stream(p.id);
    let mut out = PersonRecords::default();
    let minor = p.age_on(spec.today) < 18;
    let foreign = p.country_of_birth != "US";

    // Identity: everyone who ever needed an immigration file; a few people born here appear by
    // mistake, which is exactly the trap the citizenship checks exist for.
    let identity_chance = match p.citizenship {
        Citizenship::None => 0.92,
        Citizenship::Naturalized => 1.0,
        Citizenship::Derived => 0.9,
        Citizenship::Acquired => 0.1,
        Citizenship::UsBorn => 0.005,
    };
    let files = if rng.random_bool(identity_chance) {
        if rng.random_bool(0.04) { 2 } else { 1 }
    } else {
        0
    };
    for k in 0..files {
        let (mut applied, name, dob) = draft(&mut rng, p, &spec.noise);
        let (mut cob, mut pob) = (Some(p.country_of_birth), Some(p.place_of_birth.to_owned()));
        if noise::roll(
            &mut rng,
            &spec.noise,
            Noise::ConflictingBirthplace,
            &mut applied,
        ) {
            // A conflicting birthplace: for someone born abroad, often a US one.
            if foreign && rng.random_bool(0.5) {
                cob = Some("US");
                pob = Some("Houston, TX".to_owned());
            } else {
                cob = Some(
                    *["MX", "GT", "HN", "SV"]
                        .choose(&mut rng)
                        .expect("countries"),
                );
                pob = None;
            }
        } else if rng.random_bool(spec.noise.rate(Noise::BlankField)) {
            pob = None;
            applied.push(Noise::BlankField);
        }
        let aliases = if rng.random_bool(0.15) {
            let mut a_applied = Vec::new();
            let alias = noisy_name(
                &mut rng,
                p,
                &NoiseSpec::default().scaled(2.0).expect("scale"),
                &mut a_applied,
            );
            format!("{} {}", alias.given, alias.surnames.join(" "))
        } else {
            String::new()
        };
        let record_id = make_record_id(spec.seed, System::Identity, p.id, k);
        let updated = updated_on(&mut rng, spec, &mut applied);
        out.identity.push(IdentityRecord {
            record_id: record_id.clone(),
            a_number: a_number(spec.seed, p.id, k),
            fin: fin(spec.seed, p.id),
            family_name: name.surnames.join(" "),
            given_name: name.given,
            aliases,
            dob,
            sex: Some(sex(p).to_owned()),
            country_of_birth: cob.map(str::to_owned),
            place_of_birth: pob,
            updated_on: updated,
            entered_on: None,
            entry_place: None,
            admission_class: None,
        });
        out.tie(System::Identity, record_id, p.id, &applied);
    }

    // Immigration case: most people with a file have a case.
    if files > 0 && rng.random_bool(0.85) {
        let (mut applied, name, dob) = draft(&mut rng, p, &spec.noise);
        let a = noisy_a_number(
            &mut rng,
            &a_number(spec.seed, p.id, 0),
            &spec.noise,
            &mut applied,
        );
        let mut apps: Vec<String> = Vec::new();
        let filed = |rng: &mut ChaCha8Rng| spec.today - Duration::days(rng.random_range(30..1500));
        let status = match p.citizenship {
            Citizenship::Naturalized | Citizenship::Derived | Citizenship::Acquired => {
                "naturalized_or_citizen"
            }
            Citizenship::UsBorn => "no_lawful_status",
            Citizenship::None => *[
                "lpr",
                "lpr",
                "asylum_pending",
                "in_proceedings",
                "in_proceedings",
                "tps",
                "parolee",
                "daca",
                "final_order",
                "no_lawful_status",
                "asylee",
            ]
            .choose(&mut rng)
            .expect("statuses"),
        };
        if status == "asylum_pending" || (status == "in_proceedings" && rng.random_bool(0.4)) {
            let f = filed(&mut rng);
            apps.push(format!("asylum:pending:{f}"));
        }
        if minor && foreign && rng.random_bool(0.2) {
            let f = filed(&mut rng);
            apps.push(format!(
                "sij:{}:{f}",
                if rng.random_bool(0.5) {
                    "pending"
                } else {
                    "approved"
                }
            ));
        }
        if !minor && p.citizenship == Citizenship::None {
            for kind in ["t", "u", "vawa"] {
                if rng.random_bool(0.012) {
                    let f = filed(&mut rng);
                    apps.push(format!(
                        "{kind}:{}:{f}",
                        if rng.random_bool(0.6) {
                            "pending"
                        } else {
                            "approved"
                        }
                    ));
                }
            }
        }
        let protected = apps.iter().any(|a| {
            ["sij:", "t:", "u:", "vawa:"]
                .iter()
                .any(|k| a.starts_with(k))
        });
        let in_court = matches!(status, "in_proceedings" | "asylum_pending");
        let final_order_on = (status == "final_order")
            .then(|| spec.today - Duration::days(rng.random_range(10..2000)));
        let (stay_kind, stay_until) = if final_order_on.is_some() && rng.random_bool(0.15) {
            (
                Some(
                    *[
                        "judicial_stay",
                        "administrative_stay",
                        "automatic_stay_pending_appeal",
                    ]
                    .choose(&mut rng)
                    .expect("stays"),
                ),
                Some(spec.today + Duration::days(rng.random_range(5..180))),
            )
        } else {
            (None, None)
        };
        let record_id = make_record_id(spec.seed, System::ImmigrationCase, p.id, 0);
        let updated = updated_on(&mut rng, spec, &mut applied);
        out.immigration_case.push(ImmigrationCaseRecord {
            record_id: record_id.clone(),
            a_number: a,
            family_name: name.surnames.join(" "),
            given_name: name.given,
            dob,
            status: status.to_owned(),
            applications: apps.join(";"),
            protected_1367: protected,
            next_hearing_on: in_court
                .then(|| spec.today + Duration::days(rng.random_range(1..700))),
            appeal_pending: final_order_on.is_some() && rng.random_bool(0.2),
            motion_to_reopen_pending: final_order_on.is_some() && rng.random_bool(0.08),
            final_order_on,
            stay_kind: stay_kind.map(str::to_owned),
            stay_until,
            updated_on: updated,
            entered_on: None,
            entry_place: None,
            admission_class: None,
        });
        out.tie(System::ImmigrationCase, record_id, p.id, &applied);

        // An individual court order for some people with final orders.
        if final_order_on.is_some() && rng.random_bool(0.1) {
            let (mut applied, name, dob) = draft(&mut rng, p, &spec.noise);
            let issued = spec.today - Duration::days(rng.random_range(1..400));
            let record_id = make_record_id(spec.seed, System::CourtOrder, p.id, 0);
            let updated = updated_on(&mut rng, spec, &mut applied);
            out.court_order.push(CourtOrderRecord {
                record_id: record_id.clone(),
                order_kind: ["stay_of_removal", "temporary_restraining_order"]
                    .choose(&mut rng)
                    .expect("kinds")
                    .to_string(),
                court: COURTS.choose(&mut rng).expect("courts").to_string(),
                docket: format!(
                    "{}-cv-{:05}",
                    issued.year() % 100,
                    rng.random_range(1..99_999)
                ),
                a_number: rng.random_bool(0.8).then(|| a_number(spec.seed, p.id, 0)),
                family_name: name.surnames.join(" "),
                given_name: name.given,
                dob,
                issued_on: issued,
                expires_on: rng
                    .random_bool(0.5)
                    .then(|| issued + Duration::days(rng.random_range(14..365))),
                updated_on: updated,
            });
            out.tie(System::CourtOrder, record_id, p.id, &applied);
        }
    }

    // Custody: mostly foreign-born adults; some children (who go to the juvenile-liaison desk).
    let custody_chance = if !foreign {
        0.002
    } else if minor {
        0.01
    } else {
        0.08
    };
    if rng.random_bool(custody_chance) {
        let (mut applied, name, dob) = draft(&mut rng, p, &spec.noise);
        let booked = spec.today - Duration::days(rng.random_range(0..900));
        let record_id = make_record_id(spec.seed, System::Custody, p.id, 0);
        let updated = updated_on(&mut rng, spec, &mut applied);
        out.custody.push(CustodyRecord {
            record_id: record_id.clone(),
            a_number: (files > 0 && rng.random_bool(0.6)).then(|| a_number(spec.seed, p.id, 0)),
            subject_name: format!(
                "{}, {}",
                name.surnames.first().cloned().unwrap_or_default(),
                name.given
            ),
            dob,
            sex: Some(sex(p).to_owned()),
            facility: FACILITIES.choose(&mut rng).expect("facilities").to_string(),
            booked_on: booked,
            released_on: rng
                .random_bool(0.7)
                .then(|| booked + Duration::days(rng.random_range(1..120)))
                .filter(|d| *d <= spec.today),
            updated_on: updated,
        });
        out.tie(System::Custody, record_id, p.id, &applied);
    }

    // Criminal history: adults of any citizenship.
    if !minor && rng.random_bool(0.12) {
        let (mut applied, name, dob) = draft(&mut rng, p, &spec.noise);
        let n = rng.random_range(1..=4);
        let offenses: Vec<String> = (0..n)
            .map(|_| {
                let d = spec.today - Duration::days(rng.random_range(30..5000));
                let disp = *["convicted", "dismissed", "pending", "acquitted"]
                    .choose(&mut rng)
                    .expect("dispositions");
                format!("{}@{d}:{disp}", NCIC_CODES.choose(&mut rng).expect("codes"))
            })
            .collect();
        let record_id = make_record_id(spec.seed, System::CriminalHistory, p.id, 0);
        let updated = updated_on(&mut rng, spec, &mut applied);
        let ncic_name =
            deunicode::deunicode(&format!("{}, {}", name.surnames.join(" "), name.given))
                .to_uppercase();
        out.criminal_history.push(CriminalHistoryRecord {
            record_id: record_id.clone(),
            fbi_number: format!(
                "{:07}{}{}",
                (mix(p.id ^ spec.seed) % 10_000_000),
                ['A', 'B', 'C', 'D', 'E'][(p.id % 5) as usize],
                p.id % 10
            ),
            state_id: format!(
                "{}{:08}",
                ["TX", "FL", "GA", "AZ", "NC"][(p.household % 5) as usize],
                mix(p.id) % 100_000_000
            ),
            name: ncic_name,
            dob,
            sex: Some(sex(p).to_owned()),
            offenses: offenses.join(";"),
            updated_on: updated,
        });
        out.tie(System::CriminalHistory, record_id, p.id, &applied);
    }

    // Citizenship indicators.
    let indicator = match p.citizenship {
        Citizenship::UsBorn => rng.random_bool(0.6).then_some("us_birth_record"),
        Citizenship::Naturalized => rng
            .random_bool(0.95)
            .then_some("naturalization_certificate"),
        Citizenship::Derived => rng.random_bool(0.4).then_some("certificate_of_citizenship"),
        Citizenship::Acquired => rng
            .random_bool(0.5)
            .then_some("consular_report_of_birth_abroad"),
        Citizenship::None => None,
    };
    if let Some(kind) = indicator {
        let (mut applied, name, dob) = draft(&mut rng, p, &spec.noise);
        let record_id = make_record_id(spec.seed, System::Citizenship, p.id, 0);
        let updated = updated_on(&mut rng, spec, &mut applied);
        let issued = (p.dob + Duration::days(rng.random_range(1..3650))).min(spec.today);
        out.citizenship.push(CitizenshipRecord {
            record_id: record_id.clone(),
            kind: kind.to_owned(),
            document_number: format!("{:010}", mix(p.id ^ 0xC171) % 10_000_000_000),
            family_name: name.surnames.join(" "),
            given_name: name.given,
            dob,
            place_of_birth: Some(p.place_of_birth.to_owned()),
            issued_on: issued,
            updated_on: updated,
        });
        out.tie(System::Citizenship, record_id, p.id, &applied);
    }
    add_entries(spec, p, &mut out);
    out
}

/// How a person born abroad entered the United States: (day, place, manner of admission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryTruth {
    pub entered_on: Date,
    pub place: &'static str,
    pub class: &'static str,
}

const PORTS: &[&str] = &[
    "San Ysidro, CA",
    "Laredo, TX",
    "Hidalgo, TX",
    "Nogales, AZ",
    "Miami International Airport, FL",
    "JFK International Airport, NY",
    "Houston Intercontinental Airport, TX",
    "Los Angeles International Airport, CA",
];
const BETWEEN_PORTS: &[&str] = &[
    "between ports near El Paso, TX",
    "between ports near Tucson, AZ",
    "between ports near Rio Grande City, TX",
    "between ports near Calexico, CA",
];

/// The entry of a person born abroad, or `None` for someone born here. It is drawn on its own
/// random stream, so adding it left every other field of a seed's records as it was.
pub fn entry_truth(seed: u64, p: &Person, today: Date) -> Option<EntryTruth> {
    if p.country_of_birth == "US" {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(0x5eed_e17e));
    rng.set_stream(p.id);
    let age_now = p.age_on(today).max(0);
    // About a third of the adults came as children (under 16).
    let age_at_entry = if age_now < 16 || rng.random_bool(0.3) {
        rng.random_range(0..=age_now.min(15))
    } else {
        rng.random_range(16..=age_now.max(16))
    };
    // At the latest yesterday, and never before birth (someone born today entered today).
    let latest = (today - Duration::days(1)).max(p.dob);
    let entered_on = (p.dob
        + Duration::days(i64::from(age_at_entry) * 365 + rng.random_range(0..365)))
    .clamp(p.dob, latest);
    let class = *[
        "ewi",
        "ewi",
        "ewi",
        "ewi",
        "b2",
        "b2",
        "f1",
        "h2a",
        "parole",
        "parole",
        "immigrant_visa",
        "immigrant_visa",
        "refugee",
    ]
    .choose(&mut rng)
    .expect("classes");
    let place = if class == "ewi" {
        BETWEEN_PORTS.choose(&mut rng).expect("places")
    } else {
        PORTS.choose(&mut rng).expect("ports")
    };
    Some(EntryTruth {
        entered_on,
        place,
        class,
    })
}

/// Writes the entry into each identity and immigration-case record, with the gaps (no entry
/// data) and disagreements (another entry day) files show, each recorded in the truth.
fn add_entries(spec: &RecordSpec, p: &Person, out: &mut PersonRecords) {
    let Some(truth) = entry_truth(spec.seed, p, spec.today) else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed.wrapping_add(0x5eed_e17f));
    rng.set_stream(p.id);
    let view = |rng: &mut ChaCha8Rng, applied: &mut Vec<Noise>| {
        if noise::roll(rng, &spec.noise, Noise::EntryMissing, applied) {
            return (None, None, None);
        }
        let mut day = truth.entered_on;
        if noise::roll(rng, &spec.noise, Noise::EntryConflict, applied) {
            let years = *[-6i64, -3, -1, 1, 2, 5].choose(rng).expect("shifts");
            day = (day + Duration::days(years * 365 + rng.random_range(-60..60)))
                .clamp(p.dob, (spec.today - Duration::days(1)).max(p.dob));
        }
        let place = (!rng.random_bool(0.1)).then(|| truth.place.to_owned());
        let class = (!rng.random_bool(0.1)).then(|| truth.class.to_owned());
        (Some(day), place, class)
    };
    let mut noted: Vec<(String, Vec<Noise>)> = Vec::new();
    for r in &mut out.identity {
        let mut applied = Vec::new();
        (r.entered_on, r.entry_place, r.admission_class) = view(&mut rng, &mut applied);
        noted.push((r.record_id.clone(), applied));
    }
    for r in &mut out.immigration_case {
        let mut applied = Vec::new();
        (r.entered_on, r.entry_place, r.admission_class) = view(&mut rng, &mut applied);
        noted.push((r.record_id.clone(), applied));
    }
    for (id, applied) in noted {
        if applied.is_empty() {
            continue;
        }
        if let Some(t) = out.truth.iter_mut().find(|t| t.record_id == id) {
            let extra = noise_text(&applied);
            t.noise = if t.noise.is_empty() {
                extra
            } else {
                format!("{};{extra}", t.noise)
            };
        }
    }
}

/// A person as an officer in the field describes them: the name and birth date as the
/// person gave them or a document shows them (with the same kinds of error files carry), sex,
/// often the country of birth, and an identifier when one is at hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Description {
    pub person_id: u64,
    pub given: String,
    pub family: String,
    pub dob: Option<Date>,
    pub sex: &'static str,
    pub country_of_birth: Option<String>,
    pub a_number: Option<String>,
    pub fbi_number: Option<String>,
    /// Noise kinds applied, separated by `;`.
    pub noise: String,
}

/// Describes `p` as an officer would, given the records the person has (an A-number is known
/// only if an A-file exists, and then half the time; an FBI number a third of the time).
pub fn describe(spec: &RecordSpec, p: &Person, records: &PersonRecords) -> Description {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed.wrapping_add(0xde5c_0001));
    rng.set_stream(p.id);
    let (applied, name, dob) = draft(&mut rng, p, &spec.noise);
    let country = rng.random_bool(0.7).then(|| p.country_of_birth.to_owned());
    let a_number = records
        .identity
        .first()
        .filter(|_| rng.random_bool(0.5))
        .map(|r| r.a_number.clone());
    let fbi_number = records
        .criminal_history
        .first()
        .filter(|_| rng.random_bool(0.33))
        .map(|r| r.fbi_number.clone());
    Description {
        person_id: p.id,
        given: name.given,
        family: name.surnames.join(" "),
        dob,
        sex: sex(p),
        country_of_birth: country,
        a_number,
        fbi_number,
        noise: noise_text(&applied),
    }
}

/// A handful of made-up class injunctions, the same for a seed.
pub fn class_injunctions(seed: u64, today: Date) -> Vec<ClassInjunction> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC1A5_5000);
    // (title, definition, countries, entered within days before today, entered under age,
    // the conditions no record holds)
    type ClassSpec = (
        &'static str,
        &'static str,
        &'static str,
        Option<i64>,
        Option<u8>,
        &'static str,
    );
    let specs: [ClassSpec; 4] = [
        (
            "Doe v. Synthetic Agency (TPS class)",
            "Nationals of Haiti present in the United States on or before the class date who hold or held TPS.",
            "HT",
            Some(900),
            None,
            "holds or held TPS",
        ),
        (
            "Roe v. Example Department (childhood arrivals)",
            "Persons who entered the United States before age 16 and have continuously resided since.",
            "",
            None,
            Some(16),
            "has resided continuously since entry",
        ),
        (
            "Poe v. Demo Office (asylum seekers)",
            "Nationals of Venezuela and Cuba with asylum applications pending on the class date.",
            "VE;CU",
            Some(400),
            None,
            "had an asylum application pending on the class date",
        ),
        (
            "Moe v. Placeholder Bureau (families)",
            "Parents separated from their minor children at the border during the class period.",
            "GT;HN;SV",
            Some(2500),
            None,
            "was separated from a minor child at the border during the class period",
        ),
    ];
    specs
        .iter()
        .enumerate()
        .map(|(i, (title, def, countries, entered, under, further))| {
            let issued = today - Duration::days(rng.random_range(30..1500));
            ClassInjunction {
                order_id: format!("CLS-{:04}", i + 1),
                court: COURTS.choose(&mut rng).expect("courts").to_string(),
                docket: format!(
                    "{}-cv-{:05}",
                    issued.year() % 100,
                    rng.random_range(1..99_999)
                ),
                title: (*title).to_owned(),
                class_definition: (*def).to_owned(),
                countries: (*countries).to_owned(),
                entered_on_or_before: entered.map(|d| today - Duration::days(d)),
                entered_under_age: *under,
                issued_on: issued,
                expires_on: rng
                    .random_bool(0.3)
                    .then(|| today + Duration::days(rng.random_range(30..700))),
                entered_on_or_after: None,
                further_conditions: Some((*further).to_owned()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::{PeopleSpec, people};
    use std::collections::{HashMap, HashSet};
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 21);

    fn spec(noise: NoiseSpec) -> RecordSpec {
        RecordSpec {
            seed: 11,
            noise,
            today: TODAY,
        }
    }

    #[test]
    fn entries_fall_between_birth_and_today_even_for_a_baby_born_today() {
        let s = spec(NoiseSpec::default().scaled(20.0).unwrap());
        for mut p in people(PeopleSpec::new(11, 3_000, TODAY)) {
            if p.country_of_birth == "US" {
                continue;
            }
            for dob in [p.dob, TODAY, TODAY - time::Duration::days(1)] {
                p.dob = dob;
                let t = entry_truth(s.seed, &p, TODAY).expect("born abroad");
                assert!(
                    t.entered_on >= p.dob && t.entered_on <= TODAY,
                    "{t:?} {dob}"
                );
                let r = records_for(&s, &p);
                for e in r.identity.iter().filter_map(|i| i.entered_on) {
                    assert!(e >= p.dob && e <= TODAY, "{e} {dob}");
                }
            }
        }
    }

    #[test]
    fn records_are_deterministic_and_ids_unique() {
        let s = spec(NoiseSpec::default());
        let ps: Vec<Person> = people(PeopleSpec::new(11, 30_000, TODAY)).collect();
        let mut ids = HashSet::new();
        let mut a_numbers: HashMap<String, u64> = HashMap::new();
        for p in &ps {
            let r = records_for(&s, p);
            assert_eq!(r, records_for(&s, p));
            for t in &r.truth {
                assert_eq!(t.person_id, p.id);
                assert!(
                    ids.insert(t.record_id.clone()),
                    "duplicate id {}",
                    t.record_id
                );
            }
            for i in &r.identity {
                assert_eq!(
                    a_numbers.insert(i.a_number.clone(), p.id),
                    None,
                    "A-number reused"
                );
                assert_eq!(i.a_number.len(), 9);
                switchboard_domain::ANumber::parse(&i.a_number).unwrap();
            }
            let counted = r.identity.len()
                + r.immigration_case.len()
                + r.custody.len()
                + r.court_order.len()
                + r.criminal_history.len()
                + r.citizenship.len();
            assert_eq!(
                counted,
                r.truth.len(),
                "every record has exactly one truth row"
            );
        }
        assert!(ids.len() > 20_000, "{}", ids.len());
    }

    #[test]
    fn without_noise_records_equal_the_truth() {
        let s = spec(NoiseSpec::none());
        for p in people(PeopleSpec::new(5, 5_000, TODAY)) {
            let r = records_for(&s, &p);
            for i in &r.identity {
                assert_eq!(i.family_name, p.name.surnames.join(" "));
                assert_eq!(i.given_name, p.name.given);
                assert_eq!(i.dob, Some(p.dob));
                assert!(i.updated_on > TODAY - Duration::days(181));
            }
            assert!(r.truth.iter().all(|t| t.noise.is_empty()));
        }
    }

    #[test]
    fn noise_rates_are_met_within_tolerance() {
        let s = spec(NoiseSpec::default());
        let mut applicable_records = 0usize;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut two_surname_records = 0usize;
        for p in people(PeopleSpec::new(8, 80_000, TODAY)) {
            let r = records_for(&s, &p);
            for t in &r.truth {
                applicable_records += 1;
                if p.name.surnames.len() == 2 {
                    two_surname_records += 1;
                }
                for n in t.noise.split(';').filter(|n| !n.is_empty()) {
                    *counts
                        .entry(Noise::parse(n).expect("known noise").as_str())
                        .or_default() += 1;
                }
            }
        }
        let rate = |n: Noise, base: usize| {
            counts.get(n.as_str()).copied().unwrap_or(0) as f64 / base as f64
        };
        // Kinds that apply to every record are met at their rate.
        for n in [Noise::Typo, Noise::SwapGivenFamily, Noise::Stale] {
            let got = rate(n, applicable_records);
            let want = NoiseSpec::default().rate(n);
            assert!(
                (got - want).abs() < want * 0.15 + 0.002,
                "{n:?}: {got} vs {want}"
            );
        }
        let dropped = rate(Noise::DropSecondSurname, two_surname_records);
        assert!(
            (dropped - 0.15).abs() < 0.02,
            "drop second surname {dropped}"
        );
        for n in Noise::ALL {
            assert!(
                counts.get(n.as_str()).copied().unwrap_or(0) > 0,
                "{n:?} never applied"
            );
        }
    }

    #[test]
    fn the_traps_are_present() {
        let s = spec(NoiseSpec::default());
        let mut us_born_in_identity = 0;
        let mut protected = 0;
        let mut minors_in_custody = 0;
        let mut two_files = 0;
        let mut stays = 0;
        for p in people(PeopleSpec::new(21, 150_000, TODAY)) {
            let r = records_for(&s, &p);
            us_born_in_identity +=
                (p.citizenship == Citizenship::UsBorn && !r.identity.is_empty()) as usize;
            protected += r
                .immigration_case
                .iter()
                .filter(|c| c.protected_1367)
                .count();
            minors_in_custody += (p.age_on(TODAY) < 18 && !r.custody.is_empty()) as usize;
            two_files += (r.identity.len() == 2) as usize;
            stays += r
                .immigration_case
                .iter()
                .filter(|c| c.stay_kind.is_some())
                .count();
        }
        for (what, n) in [
            ("US-born in identity", us_born_in_identity),
            ("1367-protected", protected),
            ("minors in custody", minors_in_custody),
            ("two A-files", two_files),
            ("stays", stays),
        ] {
            assert!(n > 0, "no {what}");
        }
        assert_eq!(class_injunctions(1, TODAY), class_injunctions(1, TODAY));
    }
}
