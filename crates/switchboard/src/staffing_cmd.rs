//! `switchboard staffing`: per-interval requirements and totals, an optional shift schedule,
//! CSV export, and a cross-check of the plan in the ACD simulator.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use switchboard_acd::config::SECOND;
use switchboard_acd::sim::{Dist, SimConfig, daytime_curve, simulate};
use switchboard_acd::{TimeZone, Timestamp, civil};
use switchboard_staffing::Targets;
use switchboard_staffing::report::{self, Request, Response, Volume};
use switchboard_store::Store;

use crate::simulate_cmd::Curve;

#[derive(Debug, Args)]
pub struct StaffingArgs {
    /// Planned calls per day (or --from-history).
    #[arg(long)]
    calls_per_day: Option<f64>,
    /// Forecast from the calls stored in the configured database.
    #[arg(long)]
    from_history: bool,
    /// The local day to forecast from history, YYYY-MM-DD (default: tomorrow).
    #[arg(long)]
    day: Option<String>,
    /// Mean handle time, seconds (planned volume).
    #[arg(long, default_value_t = 300.0)]
    aht: f64,
    #[arg(long, value_enum, default_value_t = Curve::Flat)]
    curve: Curve,
    /// Interval minutes: 15, 30 or 60.
    #[arg(long, default_value_t = 30)]
    interval: u32,
    /// Service-level target.
    #[arg(long, default_value_t = 0.8)]
    service_level: f64,
    /// Service-level threshold, seconds.
    #[arg(long, default_value_t = 20.0)]
    threshold: f64,
    /// Largest ASA, seconds.
    #[arg(long)]
    asa: Option<f64>,
    /// Largest abandonment share (needs --patience).
    #[arg(long)]
    abandonment: Option<f64>,
    /// Largest occupancy.
    #[arg(long)]
    max_occupancy: Option<f64>,
    /// Mean caller patience, seconds: Erlang A instead of Erlang C.
    #[arg(long)]
    patience: Option<f64>,
    /// Share of paid time not available for calls.
    #[arg(long, default_value_t = 0.3)]
    shrinkage: f64,
    /// The desk's hours, e.g. 08:00-17:00 for the juvenile-liaison desk (default: 24 h).
    #[arg(long)]
    hours: Option<String>,
    /// Build a shift schedule (8- and 10-hour shifts) covering the scheduled staff.
    #[arg(long)]
    schedule: bool,
    /// Cross-check: simulate this many days staffed as planned (the schedule's coverage less
    /// shrinkage with --schedule, else the requirement) and report the simulated figures.
    #[arg(long)]
    simulate: Option<u32>,
    /// Write the per-interval plan as CSV to this file.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

impl StaffingArgs {
    pub fn needs_store(&self) -> bool {
        self.from_history
    }
}

/// Days since 1970-01-01 and the weekday (0 = Monday) of a local date.
fn day_number(d: civil::Date) -> (i64, u8) {
    let days = d
        .since(civil::date(1970, 1, 1))
        .map_or(0, |s| i64::from(s.get_days()));
    (days, d.weekday().to_monday_zero_offset() as u8)
}

pub async fn run(
    a: &StaffingArgs,
    store: Option<Arc<dyn Store>>,
    tz: TimeZone,
) -> anyhow::Result<()> {
    if ![15, 30, 60].contains(&a.interval) {
        bail!("--interval must be 15, 30 or 60");
    }
    let slots = (1_440 / a.interval) as usize;
    let volume = match (a.calls_per_day, a.from_history) {
        (Some(_), true) => bail!("give --calls-per-day or --from-history, not both"),
        (None, false) => bail!("give --calls-per-day N, or --from-history"),
        (Some(calls_per_day), false) => Volume::Planned {
            calls_per_day,
            curve: match a.curve {
                Curve::Flat => Vec::new(),
                Curve::Daytime => daytime_curve(slots),
            },
            aht_seconds: a.aht,
        },
        (None, true) => {
            let store = store.context("--from-history needs the database")?;
            let day = match &a.day {
                Some(d) => d
                    .parse::<civil::Date>()
                    .with_context(|| format!("--day {d:?} is not YYYY-MM-DD"))?,
                None => Timestamp::now().to_zoned(tz.clone()).date().tomorrow()?,
            };
            let observations =
                switchboard_web::api::staffing::history(store.as_ref(), &tz, a.interval).await?;
            let (day, weekday) = day_number(day);
            Volume::History {
                observations,
                day,
                weekday,
            }
        }
    };
    let open = a
        .hours
        .as_deref()
        .map(|h| report::parse_hours(h, a.interval))
        .transpose()?;
    let request = Request {
        volume,
        slot_minutes: a.interval,
        targets: Targets {
            service_level: Some(a.service_level),
            threshold_seconds: a.threshold,
            asa_seconds: a.asa,
            abandonment: a.abandonment,
            max_occupancy: a.max_occupancy,
        },
        patience_seconds: a.patience,
        shrinkage: a.shrinkage,
        open,
        schedule: a.schedule,
    };
    let answer = report::answer(&request)?;
    if let Some(path) = &a.csv {
        std::fs::write(path, answer.csv())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        print_answer(&answer, a);
    }
    if let Some(days) = a.simulate {
        cross_check(&answer, a, days)?;
    }
    Ok(())
}

fn print_answer(r: &Response, a: &StaffingArgs) {
    println!(
        "{}, target {:.0}% within {} s, shrinkage {:.0}%",
        if a.patience.is_some() {
            "Erlang A"
        } else {
            "Erlang C"
        },
        a.service_level * 100.0,
        a.threshold,
        a.shrinkage * 100.0
    );
    println!(
        "{:>5}  {:>8}  {:>6}  {:>8}  {:>8}  {:>9}  {:>6}  {:>7}  {:>6}  {:>9}{}",
        "time",
        "calls",
        "AHT s",
        "Erlangs",
        "required",
        "scheduled",
        "SL",
        "ASA s",
        "aband",
        "occupancy",
        if r.schedule.is_some() {
            "  covered"
        } else {
            ""
        }
    );
    for (i, row) in r.plan.rows.iter().enumerate() {
        let p = &row.performance;
        if !row.open {
            println!(
                "{:02}:{:02}  closed",
                row.minute_of_day / 60,
                row.minute_of_day % 60
            );
            continue;
        }
        let covered = r
            .schedule
            .as_ref()
            .map_or(String::new(), |s| format!("  {:>7}", s.coverage[i]));
        println!(
            "{:02}:{:02}  {:>8.1}  {:>6.0}  {:>8.2}  {:>8}  {:>9}  {:>5.1}%  {:>7}  {:>5.1}%  {:>8.1}%{covered}",
            row.minute_of_day / 60,
            row.minute_of_day % 60,
            row.calls,
            row.aht_seconds,
            p.load,
            row.required,
            row.scheduled,
            p.service_level * 100.0,
            if p.asa_seconds.is_finite() {
                format!("{:.1}", p.asa_seconds)
            } else {
                "-".into()
            },
            p.abandonment * 100.0,
            p.occupancy * 100.0,
        );
    }
    let t = &r.plan.totals;
    println!(
        "day: {:.0} calls, {:.1} required agent-hours, {:.1} scheduled, peak {} agents; \
         service level {:.1}%, ASA {:.1} s, abandonment {:.1}%, occupancy {:.1}%",
        t.calls,
        t.required_hours,
        t.scheduled_hours,
        t.peak_required,
        t.service_level * 100.0,
        t.asa_seconds,
        t.abandonment * 100.0,
        t.occupancy * 100.0
    );
    if let Some(e) = &r.forecast_error {
        println!(
            "forecast error on the last {} days of history: {:.1}% per interval, {:.1}% per day, bias {:+.1}%",
            e.days,
            e.interval_wape * 100.0,
            e.daily_wape * 100.0,
            e.bias * 100.0
        );
    }
    if let Some(s) = &r.schedule {
        println!();
        println!("shifts (start, pattern, break, agents):");
        for sh in &s.shifts {
            let hm = |slot: usize| {
                let m = slot as u32 * a.interval;
                format!("{:02}:{:02}", m / 60, m % 60)
            };
            let pause = sh
                .break_at
                .map_or("no break   ".to_owned(), |b| format!("break {}", hm(b)));
            println!(
                "  {}  {:<4} {pause}  × {}",
                hm(sh.start),
                sh.pattern,
                sh.agents
            );
        }
        println!(
            "schedule: {} agents, {:.1} paid hours; lower bound {:.1} (required agent-hours): {:.1}% efficient",
            s.shifts.iter().map(|x| x.agents).sum::<u32>(),
            s.cost,
            s.lower_bound,
            s.efficiency() * 100.0
        );
    }
}

/// Runs the planned day in the ACD simulator: staff per interval as planned, calls as
/// forecast (one handle-time distribution at the day's mean).
fn cross_check(r: &Response, a: &StaffingArgs, days: u32) -> anyhow::Result<()> {
    let staff: Vec<u32> = match &r.schedule {
        Some(s) => s
            .coverage
            .iter()
            .map(|c| (f64::from(*c) * (1.0 - a.shrinkage)).floor() as u32)
            .collect(),
        None => r.plan.rows.iter().map(|row| row.required).collect(),
    };
    let calls: f64 = r.plan.rows.iter().map(|row| row.calls).sum();
    if calls <= 0.0 {
        bail!("no calls to simulate");
    }
    let aht = r
        .plan
        .rows
        .iter()
        .map(|row| row.calls * row.aht_seconds)
        .sum::<f64>()
        / calls;
    let mut cfg = SimConfig::erlang(calls, aht, 1, days, 1);
    cfg.interval = u64::from(a.interval) * 60 * SECOND;
    cfg.curve = r.plan.rows.iter().map(|row| row.calls).collect();
    cfg.staff = staff;
    cfg.patience = a.patience.map(|mean| Dist::Exponential { mean });
    cfg.queue.service_level_threshold = (a.threshold * 1000.0).round() as u64;
    let sim = simulate(&cfg).context("simulating the plan")?;
    let m = sim.total.measures();
    println!();
    println!(
        "simulated over {days} day(s) ({} calls): service level {:.1}% (target {:.0}%, planned {:.1}%), \
         ASA {:.1} s, abandonment {:.1}%, occupancy {:.1}%",
        sim.calls,
        m.service_level.unwrap_or(0.0) * 100.0,
        a.service_level * 100.0,
        r.plan.totals.service_level * 100.0,
        m.asa_seconds.unwrap_or(0.0),
        m.abandonment.unwrap_or(0.0) * 100.0,
        m.occupancy.unwrap_or(0.0) * 100.0
    );
    if let Some((mean, ci)) = sim.daily_mean_ci(|d| d.measures().service_level)
        && days > 1
    {
        println!(
            "daily simulated service level {:.1}% ± {:.1}%",
            mean * 100.0,
            ci * 100.0
        );
    }
    Ok(())
}
