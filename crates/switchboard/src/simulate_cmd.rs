//! `switchboard simulate`: days of calls through the real ACD engine, in simulated time.

use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use switchboard_acd::config::{MINUTE, SECOND};
use switchboard_acd::sim::{Dist, SimConfig, daytime_curve, simulate};
use switchboard_acd::{Counters, Measures};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Curve {
    /// The same volume in every interval.
    Flat,
    /// Quiet nights, an early-afternoon peak about twice the average.
    Daytime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HandleDist {
    Exponential,
    Lognormal,
    Fixed,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Calls offered per day.
    #[arg(long, default_value_t = 6_500.0)]
    calls_per_day: f64,
    /// Mean talk time (seconds).
    #[arg(long, default_value_t = 300.0)]
    aht: f64,
    /// Handle-time distribution.
    #[arg(long, value_enum, default_value_t = HandleDist::Exponential)]
    handle: HandleDist,
    /// Coefficient of variation of the log-normal handle time.
    #[arg(long, default_value_t = 0.6)]
    handle_cv: f64,
    /// After-call work per call (seconds).
    #[arg(long, default_value_t = 0.0)]
    after_call: f64,
    /// Agents on shift: one number for the whole day, or one per interval, comma-separated.
    #[arg(long, default_value = "28", value_delimiter = ',')]
    agents: Vec<u32>,
    /// Mean caller patience (seconds, exponential); absent: callers never hang up.
    #[arg(long)]
    patience: Option<f64>,
    /// Seconds an offered call rings before the agent answers.
    #[arg(long, default_value_t = 0.0)]
    answer_delay: f64,
    #[arg(long, value_enum, default_value_t = Curve::Flat)]
    curve: Curve,
    /// Days to simulate.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// Statistics interval in minutes (15, 30 or 60).
    #[arg(long, default_value_t = 30)]
    interval: u64,
    /// Service-level threshold (seconds).
    #[arg(long, default_value_t = 20)]
    threshold: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: &SimulateArgs) -> anyhow::Result<()> {
    if a.interval == 0 || 1_440 % a.interval != 0 {
        bail!("--interval must be 15, 30 or 60 minutes");
    }
    let per_day = (1_440 / a.interval) as usize;
    let mut cfg = SimConfig::erlang(a.calls_per_day, a.aht, a.agents[0], a.days, a.seed);
    cfg.interval = a.interval * MINUTE;
    cfg.staff = a.agents.clone();
    cfg.handle = match a.handle {
        HandleDist::Exponential => Dist::Exponential { mean: a.aht },
        HandleDist::Lognormal => Dist::LogNormal {
            mean: a.aht,
            cv: a.handle_cv,
        },
        HandleDist::Fixed => Dist::Fixed { seconds: a.aht },
    };
    cfg.after_call_seconds = a.after_call;
    cfg.patience = a.patience.map(|mean| Dist::Exponential { mean });
    cfg.answer_delay_seconds = a.answer_delay;
    cfg.curve = match a.curve {
        Curve::Flat => Vec::new(),
        Curve::Daytime => daytime_curve(per_day),
    };
    cfg.queue.service_level_threshold = a.threshold * SECOND;
    let started = Instant::now();
    let report = simulate(&cfg).context("simulating")?;
    let elapsed = started.elapsed();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} day(s), {} calls, {} engine events in {:.3} s ({:.0} events/s)",
        a.days,
        report.calls,
        report.events,
        elapsed.as_secs_f64(),
        report.events as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "service level = answered within {} s / offered; offered = answered + abandoned",
        a.threshold
    );
    println!();
    println!(
        "{:>5}  {:>6}  {:>8}  {:>8}  {:>9}  {:>6}  {:>7}  {:>6}  {:>9}",
        "time", "staff", "offered", "answered", "abandoned", "SL", "ASA s", "aband", "occupancy"
    );
    for i in &report.intervals {
        let m = i.counters.measures();
        println!(
            "{:02}:{:02}  {:>6.1}  {}",
            i.minute_of_day / 60,
            i.minute_of_day % 60,
            i.staff,
            row(&i.counters, &m)
        );
    }
    let m = report.total.measures();
    println!("{:>5}  {:>6}  {}", "total", "", row(&report.total, &m));
    if a.days > 1 {
        if let Some((mean, ci)) = report.daily_mean_ci(|d| d.measures().service_level) {
            println!("daily service level {mean:.4} ± {ci:.4} (95% over days)");
        }
        if let Some((mean, ci)) = report.daily_mean_ci(|d| d.measures().asa_seconds) {
            println!("daily ASA {mean:.2} s ± {ci:.2} s (95% over days)");
        }
    }
    Ok(())
}

fn row(c: &Counters, m: &Measures) -> String {
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0));
    format!(
        "{:>8}  {:>8}  {:>9}  {:>6}  {:>7}  {:>6}  {:>9}",
        m.offered,
        c.answered,
        c.abandoned,
        pct(m.service_level),
        m.asa_seconds.map_or("-".to_owned(), |v| format!("{v:.1}")),
        pct(m.abandonment),
        pct(m.occupancy),
    )
}
