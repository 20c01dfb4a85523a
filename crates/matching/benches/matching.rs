//! Criterion benches: one comparison of two names, one subject lookup against an index of
//! 100,000 generated people (about 160,000 records), and linking two tables of 5,000 rows with
//! training included. `switchboard bench matching` measures the large indexes (1 and 10
//! million people) with accuracy against the truth; these track regressions.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchboard_domain::records::SourceRecord;
use switchboard_matching::index::{LookupOptions, Query, RecordIndex};
use switchboard_matching::linker::{self, Table};
use switchboard_matching::model::ModelSpec;
use switchboard_matching::text::NameValue;
use switchboard_synth::noise::NoiseSpec;
use switchboard_synth::people::{PeopleSpec, people};
use switchboard_synth::records::{RecordSpec, describe, records_for};
use time::Date;

fn today() -> Date {
    Date::from_calendar_date(2026, time::Month::November, 21).unwrap()
}

fn names(c: &mut Criterion) {
    let a = NameValue::new("García López");
    let b = NameValue::new("Garcai Lopes");
    c.bench_function("compare two family names", |bench| {
        bench.iter(|| switchboard_matching::compare::names(black_box(&a), black_box(&b)))
    });
}

fn lookup(c: &mut Criterion) {
    let pspec = PeopleSpec::new(1, 100_000, today());
    let rspec = RecordSpec {
        seed: 1,
        noise: NoiseSpec::default(),
        today: today(),
    };
    let mut all: Vec<SourceRecord> = Vec::new();
    let mut queries = Vec::new();
    for p in people(pspec) {
        let mut r = records_for(&rspec, &p);
        if p.id % 97 == 0 && !r.is_empty() {
            let d = describe(&rspec, &p, &r);
            queries.push(Query {
                given: d.given,
                family: d.family,
                dob: d.dob,
                sex: Some(d.sex.to_owned()),
                birth_country: d.country_of_birth,
                birth_place: None,
                a_number: d.a_number,
                fbi_number: d.fbi_number,
                state_id: None,
            });
        }
        r.drain_into(&mut all);
    }
    let index = RecordIndex::build(all, 1);
    let opts = LookupOptions::default();
    let mut i = 0;
    c.bench_function("lookup, 100k people", |bench| {
        bench.iter(|| {
            i = (i + 1) % queries.len();
            black_box(index.lookup(&queries[i], today(), &opts))
        })
    });
}

fn link(c: &mut Criterion) {
    let rspec = RecordSpec {
        seed: 2,
        noise: NoiseSpec::default(),
        today: today(),
    };
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for p in people(PeopleSpec::new(2, 20_000, today())) {
        let r = records_for(&rspec, &p);
        let row = |id: &str, g: &str, f: &str, d: Option<Date>, a: &str| {
            vec![
                id.to_owned(),
                g.to_owned(),
                f.to_owned(),
                d.map(|d| d.to_string()).unwrap_or_default(),
                a.to_owned(),
            ]
        };
        left.extend(r.identity.iter().map(|x| {
            row(
                &x.record_id,
                &x.given_name,
                &x.family_name,
                x.dob,
                &x.a_number,
            )
        }));
        right.extend(r.immigration_case.iter().map(|x| {
            row(
                &x.record_id,
                &x.given_name,
                &x.family_name,
                x.dob,
                &x.a_number,
            )
        }));
    }
    left.truncate(5_000);
    right.truncate(5_000);
    let columns: Vec<String> = ["record_id", "given_name", "family_name", "dob", "a_number"]
        .map(String::from)
        .to_vec();
    let (l, r) = (
        Table {
            columns: columns.clone(),
            rows: left,
        },
        Table {
            columns,
            rows: right,
        },
    );
    let spec: ModelSpec = serde_json::from_str(
        r#"{"id_column":"record_id","field":[
            {"name":"given_name","kind":"name","swap_with":"family_name"},
            {"name":"family_name","kind":"name"},
            {"name":"dob","kind":"date"},
            {"name":"a_number","kind":"identifier","format":"a_number"}]}"#,
    )
    .unwrap();
    let mut g = c.benchmark_group("batch");
    g.sample_size(10);
    g.bench_function("link 5,000 x 5,000 rows, training included", |bench| {
        bench.iter(|| black_box(linker::link(&spec, &l, &r).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, names, lookup, link);
criterion_main!(benches);
