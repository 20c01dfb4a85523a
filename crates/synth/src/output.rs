//! Writing generated data as CSV to writers the caller opens (files, pipes, memory): one file
//! per record system, the people (the truth about each person), the truth mapping every record
//! to its person, and the class injunctions. Rows stream through; nothing is held.

use std::io::Write;

use serde::Serialize;
use time::Date;

use crate::people::Person;
use crate::records::{ClassInjunction, PersonRecords};

/// The files of a data set, in the order [`CsvSink`] takes their writers.
pub const FILES: [&str; 9] = [
    "people.csv",
    "truth.csv",
    "identity.csv",
    "immigration_case.csv",
    "custody.csv",
    "court_order.csv",
    "criminal_history.csv",
    "citizenship.csv",
    "class_injunctions.csv",
];

/// One person as the truth knows them.
#[derive(Debug, Serialize)]
pub struct PersonRow<'a> {
    pub person_id: u64,
    pub household: u64,
    pub role: &'static str,
    pub culture: &'static str,
    pub given_names: &'a str,
    /// Surnames in the culture's order, separated by `|`.
    pub surnames: String,
    pub sex: &'static str,
    pub dob: Date,
    pub country_of_birth: &'static str,
    pub place_of_birth: &'static str,
    pub citizenship: &'static str,
    pub father_id: Option<u64>,
    pub mother_id: Option<u64>,
    pub twin_of: Option<u64>,
    pub namesake_of: Option<u64>,
    pub address: &'a str,
}

impl<'a> From<&'a Person> for PersonRow<'a> {
    fn from(p: &'a Person) -> Self {
        Self {
            person_id: p.id,
            household: p.household,
            role: p.role.as_str(),
            culture: p.culture.as_str(),
            given_names: &p.name.given,
            surnames: p.name.surnames.join("|"),
            sex: if p.female { "F" } else { "M" },
            dob: p.dob,
            country_of_birth: p.country_of_birth,
            place_of_birth: p.place_of_birth,
            citizenship: p.citizenship.as_str(),
            father_id: p.father,
            mother_id: p.mother,
            twin_of: p.twin_of,
            namesake_of: p.namesake_of,
            address: &p.address,
        }
    }
}

/// CSV writers for a whole data set.
pub struct CsvSink<W: Write> {
    people: csv::Writer<W>,
    truth: csv::Writer<W>,
    identity: csv::Writer<W>,
    immigration_case: csv::Writer<W>,
    custody: csv::Writer<W>,
    court_order: csv::Writer<W>,
    criminal_history: csv::Writer<W>,
    citizenship: csv::Writer<W>,
    class_injunctions: csv::Writer<W>,
}

impl<W: Write> std::fmt::Debug for CsvSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsvSink")
    }
}

impl<W: Write> CsvSink<W> {
    /// Takes one writer per entry of [`FILES`], in that order.
    pub fn new(writers: [W; 9]) -> Self {
        let [
            people,
            truth,
            identity,
            immigration_case,
            custody,
            court_order,
            criminal_history,
            citizenship,
            class_injunctions,
        ] = writers.map(csv::Writer::from_writer);
        Self {
            people,
            truth,
            identity,
            immigration_case,
            custody,
            court_order,
            criminal_history,
            citizenship,
            class_injunctions,
        }
    }

    pub fn person(&mut self, p: &Person, r: &PersonRecords) -> csv::Result<()> {
        self.people.serialize(PersonRow::from(p))?;
        for x in &r.truth {
            self.truth.serialize(x)?;
        }
        for x in &r.identity {
            self.identity.serialize(x)?;
        }
        for x in &r.immigration_case {
            self.immigration_case.serialize(x)?;
        }
        for x in &r.custody {
            self.custody.serialize(x)?;
        }
        for x in &r.court_order {
            self.court_order.serialize(x)?;
        }
        for x in &r.criminal_history {
            self.criminal_history.serialize(x)?;
        }
        for x in &r.citizenship {
            self.citizenship.serialize(x)?;
        }
        Ok(())
    }

    pub fn class_injunctions(&mut self, orders: &[ClassInjunction]) -> csv::Result<()> {
        for o in orders {
            self.class_injunctions.serialize(o)?;
        }
        Ok(())
    }

    /// Flushes every writer; call before dropping, or errors on the last rows go unseen.
    pub fn finish(mut self) -> std::io::Result<()> {
        for w in [
            &mut self.people,
            &mut self.truth,
            &mut self.identity,
            &mut self.immigration_case,
            &mut self.custody,
            &mut self.court_order,
            &mut self.criminal_history,
            &mut self.citizenship,
            &mut self.class_injunctions,
        ] {
            w.flush()?;
        }
        Ok(())
    }
}

/// The registry's files, in the order [`write_registry`] takes their writers.
pub const REGISTRY_FILES: [&str; 3] = ["agencies.csv", "agreements.csv", "officers.csv"];

#[derive(Debug, Serialize)]
struct OfficerRow<'a> {
    officer_id: String,
    agency_id: String,
    given_name: &'a str,
    family_name: &'a str,
    badge: &'a str,
    /// Numbers separated by `|`.
    phones: String,
    certified_on: Option<Date>,
    certification_expires_on: Option<Date>,
    active: bool,
}

#[derive(Debug, Serialize)]
struct AgencyRow<'a> {
    agency_id: String,
    ori: &'a str,
    state: String,
    name: &'a str,
    kind: &'static str,
}

/// Writes the partner registry as CSV: agencies, agreements, officers.
pub fn write_registry<W: Write>(
    reg: &crate::registry::Registry,
    writers: [W; 3],
) -> csv::Result<()> {
    let [agencies, agreements, officers] = writers.map(csv::Writer::from_writer);
    let (mut agencies, mut agreements, mut officers) = (agencies, agreements, officers);
    for a in &reg.agencies {
        agencies.serialize(AgencyRow {
            agency_id: a.id.to_string(),
            ori: a.ori.as_str(),
            state: a.state().to_string(),
            name: a.name.as_str(),
            kind: a.kind.as_str(),
        })?;
    }
    for a in &reg.agreements {
        agreements.serialize(a)?;
    }
    for o in &reg.officers {
        officers.serialize(OfficerRow {
            officer_id: o.id.to_string(),
            agency_id: o.agency_id.to_string(),
            given_name: o.given_name.as_str(),
            family_name: o.family_name.as_str(),
            badge: o.badge.as_str(),
            phones: o
                .phones
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join("|"),
            certified_on: o.certified_on,
            certification_expires_on: o.certification_expires_on,
            active: o.active,
        })?;
    }
    agencies.flush()?;
    agreements.flush()?;
    officers.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::NoiseSpec;
    use crate::people::{PeopleSpec, people};
    use crate::records::{RecordSpec, class_injunctions, records_for};
    use std::collections::HashMap;
    use time::macros::date;

    #[test]
    fn registry_files_have_a_row_per_item() {
        let now = time::macros::datetime!(2026-11-21 12:00 UTC);
        let reg = crate::registry::generate(
            crate::registry::RegistrySpec {
                seed: 1,
                agencies: 50,
            },
            now,
        );
        let mut bufs: [Vec<u8>; 3] = Default::default();
        let [a, b, c] = &mut bufs;
        write_registry(&reg, [a, b, c]).unwrap();
        let lines = |b: &Vec<u8>| String::from_utf8(b.clone()).unwrap().lines().count();
        assert_eq!(lines(&bufs[0]), reg.agencies.len() + 1);
        assert_eq!(lines(&bufs[1]), reg.agreements.len() + 1);
        assert_eq!(lines(&bufs[2]), reg.officers.len() + 1);
        assert!(
            String::from_utf8(bufs[2].clone()).unwrap().contains("|+1")
                || reg.officers.iter().all(|o| o.phones.len() < 2)
        );
    }

    #[test]
    fn every_record_row_maps_to_exactly_one_person() {
        let today = date!(2026 - 11 - 21);
        let buffers: [Vec<u8>; 9] = Default::default();
        let mut sink = CsvSink::new(buffers);
        let spec = RecordSpec {
            seed: 3,
            noise: NoiseSpec::default(),
            today,
        };
        for p in people(PeopleSpec::new(3, 3_000, today)) {
            sink.person(&p, &records_for(&spec, &p)).unwrap();
        }
        sink.class_injunctions(&class_injunctions(3, today))
            .unwrap();
        let CsvSink {
            people,
            truth,
            identity,
            custody,
            criminal_history,
            ..
        } = sink;
        let text = |w: csv::Writer<Vec<u8>>| String::from_utf8(w.into_inner().unwrap()).unwrap();
        let people = text(people);
        assert_eq!(
            people.lines().count(),
            3_001,
            "a header and one row per person"
        );
        let truth = text(truth);
        let mut owner: HashMap<String, String> = HashMap::new();
        for line in truth.lines().skip(1) {
            let mut cols = line.split(',');
            let (_, id, person) = (
                cols.next().unwrap(),
                cols.next().unwrap(),
                cols.next().unwrap(),
            );
            assert!(
                owner.insert(id.to_owned(), person.to_owned()).is_none(),
                "{id} twice in truth"
            );
        }
        let mut rows = 0;
        for file in [text(identity), text(custody), text(criminal_history)] {
            let mut rdr = csv::Reader::from_reader(file.as_bytes());
            for rec in rdr.records() {
                let id = rec.unwrap()[0].to_owned();
                assert!(owner.contains_key(&id), "{id} has no truth row");
                rows += 1;
            }
        }
        assert!(rows > 1_000, "{rows}");
    }
}
