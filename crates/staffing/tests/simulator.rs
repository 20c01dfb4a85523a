//! The queueing models against the real ACD engine, simulated: Erlang A (callers with
//! exponential patience) must fall within the simulation's 95% confidence interval, and a
//! schedule built for the requirement must deliver the target service level.

use switchboard_acd::sim::{Dist, SimConfig, simulate};
use switchboard_staffing::Targets;
use switchboard_staffing::erlang_a_performance;
use switchboard_staffing::forecast::planned;
use switchboard_staffing::plan::{PlanInput, plan};
use switchboard_staffing::schedule::{Pattern, Problem, solve};

#[test]
fn erlang_a_agrees_with_the_simulated_acd() {
    // 6,500 calls a day, AHT 300 s, patience 120 s on average, 24 agents: under-staffed for
    // Erlang C (28), so abandonment matters.
    let mut cfg = SimConfig::erlang(6_500.0, 300.0, 24, 60, 17);
    cfg.patience = Some(Dist::Exponential { mean: 120.0 });
    let report = simulate(&cfg).unwrap();
    let model = erlang_a_performance(24, 6_500.0 / 86_400.0, 300.0, 120.0, 20.0);
    let check = |name: &str, model: f64, f: &dyn Fn(&switchboard_acd::Counters) -> Option<f64>| {
        let (mean, ci) = report.daily_mean_ci(f).unwrap();
        // The interval is over daily means; days within a run are nearly independent. (Seed
        // 17: SL 0.7921 ± 0.0062 against 0.7905, abandonment 0.0721 ± 0.0023 against 0.0729,
        // ASA 7.58 ± 0.25 s against 7.63 s.)
        assert!(
            (mean - model).abs() <= ci,
            "{name}: simulated {mean:.4} ± {ci:.4}, Erlang A {model:.4}"
        );
    };
    check("service level", model.service_level, &|d| {
        d.measures().service_level
    });
    check("abandonment", model.abandonment, &|d| {
        d.measures().abandonment
    });
    check("ASA", model.asa_seconds, &|d| d.measures().asa_seconds);
}

#[test]
fn a_scheduled_day_meets_its_target_in_the_simulator() {
    // A daytime curve: the requirement varies by interval; the schedule covers it with 8- and
    // 10-hour shifts; the simulator runs the day with exactly the scheduled coverage.
    let curve = switchboard_acd::sim::daytime_curve(48);
    let input = PlanInput {
        intervals: planned(6_500.0, &curve, 48, 300.0).unwrap(),
        slot_minutes: 30,
        targets: Targets::default(),
        patience_seconds: None,
        shrinkage: 0.0,
        open: None,
    };
    let p = plan(&input).unwrap();
    let required: Vec<u32> = p.rows.iter().map(|r| r.required).collect();
    let schedule = solve(&Problem {
        required: required.clone(),
        open: vec![true; 48],
        cyclic: true,
        patterns: Pattern::standard(30),
        slot_minutes: 30,
    })
    .unwrap();
    assert!(schedule.coverage.iter().zip(&required).all(|(c, r)| c >= r));
    let mut cfg = SimConfig::erlang(6_500.0, 300.0, 1, 30, 5);
    cfg.curve = curve;
    cfg.staff = schedule.coverage.clone();
    let sim = simulate(&cfg).unwrap();
    let sl = sim.total.measures().service_level.unwrap();
    // Every interval planned for at least 80%, and covered at least as planned.
    assert!(sl >= 0.8, "simulated service level {sl}");
}
