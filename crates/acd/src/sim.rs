//! A discrete-event simulation of days of calls through the real [`Acd`].
//!
//! The simulator plays the edges: callers arrive (Poisson, with a rate per interval following
//! an intraday curve), wait as long as their patience allows, talk for a handle time drawn from a
//! distribution; agents log in and out on a schedule (staff per interval) and answer what they
//! are offered after a ring delay. Everything else, who gets which call and the statistics, is
//! the engine's. Seeded: the same inputs give the same report.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::{DAY, zoned};
use crate::{
    Acd, AgentConfig, AgentId, AgentState, CallId, Command, Config, ConfigError, Counters, Event,
    Millis, QueueConfig, QueueId, Requested, Scope, SkillId,
};

/// A distribution of durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Dist {
    Fixed {
        seconds: f64,
    },
    Exponential {
        mean: f64,
    },
    /// Log-normal with the given mean and coefficient of variation (sd / mean).
    LogNormal {
        mean: f64,
        cv: f64,
    },
}

impl Dist {
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Fixed { seconds } => seconds,
            Dist::Exponential { mean } | Dist::LogNormal { mean, .. } => mean,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> Millis {
        let seconds = match *self {
            Dist::Fixed { seconds } => seconds,
            Dist::Exponential { mean } => exponential(rng, mean),
            Dist::LogNormal { mean, cv } => {
                let sigma2 = (1.0 + cv * cv).ln();
                let mu = mean.ln() - sigma2 / 2.0;
                (mu + sigma2.sqrt() * normal(rng)).exp()
            }
        };
        (seconds.max(0.0) * 1000.0).round() as Millis
    }
}

fn exponential(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    -u.ln() * mean
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An intraday curve for a 24/7 desk: quiet at night, a peak in the early afternoon about twice
/// the day's average interval (PRODUCT.md: "peak hour about twice the average hour").
pub fn daytime_curve(intervals: usize) -> Vec<f64> {
    let per_hour = intervals as f64 / 24.0;
    (0..intervals)
        .map(|i| {
            let hour = (i as f64 + 0.5) / per_hour;
            0.3 + 1.7 * (-((hour - 14.0) / 5.0).powi(2)).exp()
        })
        .collect()
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// The first simulated day (the center's local date).
    pub start: jiff::civil::Date,
    pub days: u32,
    pub calls_per_day: f64,
    /// Relative call volume per interval of the day (as many weights as intervals in a day);
    /// empty: flat.
    pub curve: Vec<f64>,
    /// Talk time.
    pub handle: Dist,
    /// After-call work per call.
    pub after_call_seconds: f64,
    /// How long callers wait before hanging up; `None`: they never do.
    pub patience: Option<Dist>,
    /// Agents on shift per interval of the day (one value: the same all day).
    pub staff: Vec<u32>,
    /// How long an offered call rings before the agent answers.
    pub answer_delay_seconds: f64,
    pub seed: u64,
    /// The queue simulated (its hours, ring timeout, overflow are the engine's to apply).
    pub queue: QueueConfig,
    pub time_zone: String,
    /// The statistics interval.
    pub interval: Millis,
}

impl SimConfig {
    /// The inquiry desk: flat volume, exponential handle times, no abandonment.
    pub fn erlang(calls_per_day: f64, aht_seconds: f64, agents: u32, days: u32, seed: u64) -> Self {
        Self {
            start: jiff::civil::date(2026, 1, 5),
            days,
            calls_per_day,
            curve: Vec::new(),
            handle: Dist::Exponential { mean: aht_seconds },
            after_call_seconds: 0.0,
            patience: None,
            staff: vec![agents],
            answer_delay_seconds: 0.0,
            seed,
            queue: QueueConfig::new(QueueId(1), "inquiry desk", SkillId(1)),
            time_zone: "America/New_York".to_owned(),
            interval: 30 * crate::config::MINUTE,
        }
    }

    fn intervals_per_day(&self) -> usize {
        (DAY / self.interval) as usize
    }
}

/// Why a simulation could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    #[error("days must be at least 1")]
    NoDays,
    #[error("calls per day must be a positive number")]
    Volume,
    #[error(
        "the intraday curve needs {expected} non-negative weights with a positive sum, not {got}"
    )]
    Curve { expected: usize, got: usize },
    #[error("staff needs one value or {expected} (one per interval), not {got}")]
    Staff { expected: usize, got: usize },
    #[error("{0} must be a positive, finite duration")]
    Duration(&'static str),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the engine refused an event: {0}")]
    Engine(String),
}

/// Figures for one interval of the day, summed over the simulated days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalReport {
    /// Minutes after local midnight.
    pub minute_of_day: u32,
    pub counters: Counters,
    /// Agents on shift, on average.
    pub staff: f64,
}

/// What a simulation found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimReport {
    pub intervals: Vec<IntervalReport>,
    /// One per simulated day.
    pub days: Vec<Counters>,
    pub total: Counters,
    /// Events handled by the engine.
    pub events: u64,
    pub calls: u64,
}

impl SimReport {
    /// Mean of a daily figure and the half-width of its 95% confidence interval (normal
    /// approximation over days).
    pub fn daily_mean_ci(&self, f: impl Fn(&Counters) -> Option<f64>) -> Option<(f64, f64)> {
        let xs: Vec<f64> = self.days.iter().filter_map(f).collect();
        if xs.is_empty() {
            return None;
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        if xs.len() < 2 {
            return Some((mean, f64::INFINITY));
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some((mean, 1.96 * (var / n).sqrt()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SimEvent {
    /// Agents on shift change for the interval starting now.
    Shift(u32),
    Arrival(CallId),
    Answer(AgentId, CallId),
    Patience(CallId),
    HandleDone(CallId),
}

/// Runs the simulation.
pub fn simulate(cfg: &SimConfig) -> Result<SimReport, SimError> {
    run(cfg, None)
}

/// Runs the simulation and keeps every event the engine was given, with its instant (to replay
/// into a fresh engine: the benchmarks' workload).
pub fn simulate_recording(cfg: &SimConfig) -> Result<(SimReport, Vec<(Millis, Event)>), SimError> {
    let mut log = Vec::new();
    let report = run(cfg, Some(&mut log))?;
    Ok((report, log))
}

/// The configuration the simulator gives the engine (to replay a recording into).
pub fn engine_config(cfg: &SimConfig) -> Config {
    let pool = cfg.staff.iter().copied().max().unwrap_or(0);
    Config {
        time_zone: cfg.time_zone.clone(),
        interval: cfg.interval,
        retention_days: cfg.days + 2,
        queues: vec![cfg.queue.clone()],
        agents: (1..=u64::from(pool))
            .map(|i| AgentConfig {
                id: AgentId(i),
                name: format!("agent {i}"),
                skills: vec![(cfg.queue.skill, 5)],
                after_call_limit: (cfg.after_call_seconds * 1000.0).round() as Millis,
                user: None,
            })
            .collect(),
    }
}

fn run(cfg: &SimConfig, mut log: Option<&mut Vec<(Millis, Event)>>) -> Result<SimReport, SimError> {
    let per_day = cfg.intervals_per_day();
    if cfg.days == 0 {
        return Err(SimError::NoDays);
    }
    if !(cfg.calls_per_day.is_finite() && cfg.calls_per_day > 0.0) {
        return Err(SimError::Volume);
    }
    let curve: Vec<f64> = if cfg.curve.is_empty() {
        vec![1.0; per_day]
    } else {
        cfg.curve.clone()
    };
    let total_weight: f64 = curve.iter().sum();
    if curve.len() != per_day
        || curve.iter().any(|w| !w.is_finite() || *w < 0.0)
        || total_weight <= 0.0
    {
        return Err(SimError::Curve {
            expected: per_day,
            got: cfg.curve.len(),
        });
    }
    let staff: Vec<u32> = match cfg.staff.len() {
        1 => vec![cfg.staff[0]; per_day],
        n if n == per_day => cfg.staff.clone(),
        n => {
            return Err(SimError::Staff {
                expected: per_day,
                got: n,
            });
        }
    };
    let check = |d: &Dist, name: &'static str| {
        let ok = match *d {
            Dist::Fixed { seconds } => seconds.is_finite() && seconds >= 0.0,
            Dist::Exponential { mean } => mean.is_finite() && mean > 0.0,
            Dist::LogNormal { mean, cv } => {
                mean.is_finite() && mean > 0.0 && cv.is_finite() && cv >= 0.0
            }
        };
        if ok {
            Ok(())
        } else {
            Err(SimError::Duration(name))
        }
    };
    check(&cfg.handle, "handle time")?;
    if let Some(p) = &cfg.patience {
        check(p, "patience")?;
    }
    for (v, name) in [
        (cfg.after_call_seconds, "after-call work"),
        (cfg.answer_delay_seconds, "answer delay"),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(SimError::Duration(name));
        }
    }

    let queue = cfg.queue.id;
    let mut acd = Acd::new(engine_config(cfg))?;
    let tz = acd.time_zone().clone();
    let start = cfg
        .start
        .to_zoned(tz.clone())
        .map_err(|_| SimError::Engine("the start date has no midnight".into()))?;
    let start_ms = start.timestamp().as_millisecond() as Millis;
    let end_ms = cfg
        .start
        .checked_add(jiff::Span::new().days(i64::from(cfg.days)))
        .ok()
        .and_then(|d| d.to_zoned(tz.clone()).ok())
        .map(|z| z.timestamp().as_millisecond() as Millis)
        .ok_or(SimError::Engine("the end date is out of range".into()))?;

    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut heap: BinaryHeap<Reverse<(Millis, u64, SimEvent)>> = BinaryHeap::new();
    let mut order = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: Millis, e: SimEvent| {
        order += 1;
        heap.push(Reverse((t, order, e)));
    };

    // Arrivals: a Poisson process whose rate is constant within each interval.
    let mut next_call = 0u64;
    let mut t = start_ms;
    let mut staffed_intervals: Vec<(u64, u32)> = Vec::new();
    while t < end_ms {
        let slot = (t - start_ms) / cfg.interval;
        let interval_start = start_ms + slot * cfg.interval;
        // Local time of day decides the curve's interval (days with a clock change are read by
        // their local clock).
        let index = slot_of_day(&tz, interval_start, cfg.interval, per_day);
        let interval_end = (interval_start + cfg.interval).min(end_ms);
        push(&mut heap, interval_start, SimEvent::Shift(staff[index]));
        staffed_intervals.push((interval_start, staff[index]));
        let rate_per_ms = cfg.calls_per_day * curve[index] / total_weight / cfg.interval as f64;
        if rate_per_ms > 0.0 {
            let mut a = interval_start as f64;
            loop {
                a += exponential(&mut rng, 1.0 / rate_per_ms);
                if a >= interval_end as f64 {
                    break;
                }
                next_call += 1;
                push(&mut heap, a as Millis, SimEvent::Arrival(CallId(next_call)));
            }
        }
        t = interval_end;
    }

    let mut events = 0u64;
    let mut on_shift: BTreeSet<AgentId> = BTreeSet::new();
    let mut answered: HashMap<CallId, bool> = HashMap::new();
    let answer_delay = (cfg.answer_delay_seconds * 1000.0).round() as Millis;
    let mut now = start_ms;
    let mut commands = Vec::new();
    loop {
        let next_event = heap.peek().map(|Reverse((t, _, _))| *t);
        let deadline = acd.next_deadline();
        let (at, event) = match (next_event, deadline) {
            (None, None) => break,
            (Some(e), Some(d)) if d < e => (d, None),
            (None, Some(d)) => (d, None),
            (Some(_), _) => {
                let Reverse((t, _, e)) = heap.pop().expect("peeked");
                (t, Some(e))
            }
        };
        now = now.max(at);
        commands.clear();
        let event = match event {
            None => Some(Event::Tick),
            Some(SimEvent::Arrival(call)) => {
                answered.insert(call, false);
                if let Some(p) = &cfg.patience {
                    push(
                        &mut heap,
                        now + p.sample(&mut rng),
                        SimEvent::Patience(call),
                    );
                }
                Some(Event::CallArrived {
                    call,
                    queue,
                    priority: 0,
                })
            }
            Some(SimEvent::Patience(call)) => match answered.get(&call) {
                Some(false) => Some(Event::CallerHungUp { call }),
                _ => None,
            },
            Some(SimEvent::Answer(agent, call)) => match acd.agent_state(agent) {
                Some(AgentState::Offered { call: c, .. }) if *c == call => {
                    answered.insert(call, true);
                    push(
                        &mut heap,
                        now + cfg.handle.sample(&mut rng),
                        SimEvent::HandleDone(call),
                    );
                    Some(Event::AgentAnswered { agent, call })
                }
                _ => None,
            },
            Some(SimEvent::HandleDone(call)) => Some(Event::CallEnded { call }),
            Some(SimEvent::Shift(target)) => {
                shift(
                    &mut acd,
                    now,
                    target,
                    &mut on_shift,
                    &mut commands,
                    &mut events,
                    log.as_deref_mut(),
                )?;
                None
            }
        };
        if let Some(event) = event {
            events += 1;
            if let Some(log) = log.as_deref_mut() {
                log.push((now, event.clone()));
            }
            commands.extend(
                acd.handle(now, event)
                    .map_err(|r| SimError::Engine(r.to_string()))?,
            );
        }
        for c in &commands {
            match c {
                Command::OfferCall { call, agent, .. } => {
                    push(
                        &mut heap,
                        now + answer_delay,
                        SimEvent::Answer(*agent, *call),
                    );
                }
                Command::Close { call, .. } => {
                    answered.remove(call);
                }
                _ => {}
            }
        }
    }

    let scope = Scope::Queue(queue);
    let mut intervals: Vec<IntervalReport> = (0..per_day)
        .map(|i| IntervalReport {
            minute_of_day: (i as u64 * cfg.interval / 60_000) as u32,
            counters: Counters::default(),
            staff: 0.0,
        })
        .collect();
    let mut staff_count = vec![0u32; per_day];
    for (start_i, n) in &staffed_intervals {
        let index = slot_of_day(&tz, *start_i, cfg.interval, per_day);
        intervals[index].staff += f64::from(*n);
        staff_count[index] += 1;
    }
    for (start_i, c) in acd.intervals(scope, start_ms, end_ms - 1, now) {
        let index = slot_of_day(&tz, start_i, cfg.interval, per_day);
        intervals[index].counters.add(&c);
    }
    for (i, n) in intervals.iter_mut().zip(staff_count) {
        if n > 0 {
            i.staff /= f64::from(n);
        }
    }
    let mut days = Vec::new();
    let mut total = Counters::default();
    for d in 0..cfg.days {
        let from = start_ms + u64::from(d) * DAY;
        let day = acd.totals(scope, from, (from + DAY).min(end_ms), now);
        total.add(&day);
        days.push(day);
    }
    Ok(SimReport {
        intervals,
        days,
        total,
        events,
        calls: next_call,
    })
}

/// The interval of the local day that `at` falls in.
fn slot_of_day(tz: &jiff::tz::TimeZone, at: Millis, interval: Millis, per_day: usize) -> usize {
    let local = zoned(tz, at);
    let minute = u64::from(local.hour() as u16) * 60 + u64::from(local.minute() as u16);
    (minute * 60_000 / interval) as usize % per_day
}

/// Brings the agents on shift to `target`: logs in agents off shift, or asks agents to leave
/// (those on a call leave when it ends).
fn shift(
    acd: &mut Acd,
    now: Millis,
    target: u32,
    on_shift: &mut BTreeSet<AgentId>,
    commands: &mut Vec<Command>,
    events: &mut u64,
    mut log: Option<&mut Vec<(Millis, Event)>>,
) -> Result<(), SimError> {
    let target = target as usize;
    let pool = acd.config().agents.len() as u64;
    let mut send = |acd: &mut Acd, agent: AgentId, to: Requested| -> Result<(), SimError> {
        *events += 1;
        if let Some(log) = log.as_deref_mut() {
            log.push((
                now,
                Event::AgentStateChanged {
                    agent,
                    to: to.clone(),
                    forced: false,
                },
            ));
        }
        commands.extend(
            acd.handle(
                now,
                Event::AgentStateChanged {
                    agent,
                    to,
                    forced: false,
                },
            )
            .map_err(|r| SimError::Engine(r.to_string()))?,
        );
        Ok(())
    };
    while on_shift.len() < target {
        let Some(agent) = (1..=pool).map(AgentId).find(|a| !on_shift.contains(a)) else {
            break;
        };
        on_shift.insert(agent);
        send(acd, agent, Requested::LogIn)?;
    }
    while on_shift.len() > target {
        // Free agents leave first, then the last to have joined.
        let leaving = on_shift
            .iter()
            .copied()
            .find(|a| matches!(acd.agent_state(*a), Some(AgentState::Available { .. })))
            .or_else(|| on_shift.iter().next_back().copied());
        let Some(agent) = leaving else {
            break;
        };
        on_shift.remove(&agent);
        send(acd, agent, Requested::LogOut)?;
    }
    Ok(())
}
