//! The engine's speed: events per second replaying a recorded day, and a whole simulated day.
//!
//! `cargo bench -p switchboard-acd` (figures in BENCHMARKS.md).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use switchboard_acd::Acd;
use switchboard_acd::sim::{
    Dist, SimConfig, daytime_curve, engine_config, simulate, simulate_recording,
};

/// A busy day at the inquiry desk: 7,000 calls, the PRODUCT.md peak-hour curve (a peak about
/// twice the average), log-normal handle times, impatient callers, after-call work.
fn busy_day() -> SimConfig {
    let mut cfg = SimConfig::erlang(7_000.0, 300.0, 60, 1, 42);
    cfg.curve = daytime_curve(48);
    cfg.handle = Dist::LogNormal {
        mean: 270.0,
        cv: 0.7,
    };
    cfg.after_call_seconds = 30.0;
    cfg.patience = Some(Dist::Exponential { mean: 120.0 });
    cfg.answer_delay_seconds = 2.0;
    cfg
}

fn engine(c: &mut Criterion) {
    let cfg = busy_day();
    let (_, events) = simulate_recording(&cfg).expect("simulates");
    let config = engine_config(&cfg);
    let mut group = c.benchmark_group("acd");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("replay a 7,000-call day (events)", |b| {
        b.iter(|| {
            let mut acd = Acd::new(config.clone()).expect("valid");
            for (at, e) in &events {
                black_box(acd.handle(*at, e.clone()).expect("replays"));
            }
        })
    });
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.bench_function("simulate a 7,000-call day", |b| {
        b.iter(|| black_box(simulate(&cfg).expect("simulates")))
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
