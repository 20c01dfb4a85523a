//! Shift schedules: cover a day's required staff per interval with shifts at least cost.
//!
//! A shift pattern spans a number of intervals with one unpaid break interval placed within a
//! window (after 3½ to 4½ hours on an 8-hour shift), or none (a 4-hour part-time shift); it
//! costs its paid hours. Candidates are
//! every pattern, start and break position the desk allows (a 24/7 desk's shifts may run past
//! midnight; a desk with hours only within them). A greedy cover picks the candidate that
//! covers the most still-uncovered requirement per hour of cost, then shifts no longer needed
//! are dropped. Since every paid hour covers at most one required agent-hour, the required
//! agent-hours are a lower bound on the cost; the schedule reports both.

use serde::{Deserialize, Serialize};

use crate::StaffingError;

/// A kind of shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pattern {
    pub name: String,
    /// Intervals from start to end, the break included.
    pub span: usize,
    /// The break's earliest and latest starting offset from the start; `None`: no break.
    pub break_window: Option<(usize, usize)>,
    /// Intervals of unpaid break (30 minutes: two 15-minute intervals, one of 30; an hour-long
    /// interval is the coarsest a break can be).
    pub break_len: usize,
    /// Paid hours.
    pub cost: f64,
}

impl Pattern {
    /// The 8-hour shift (8½ hours with a 30-minute break after 3½–4½ hours), the 10-hour
    /// shift (10½ hours, break after 4½–5½ hours) and a 4-hour part-time shift without a
    /// break, for intervals of `slot_minutes`.
    pub fn standard(slot_minutes: u32) -> Vec<Pattern> {
        let per_hour = 60 / slot_minutes.clamp(1, 60) as usize;
        let half = (per_hour / 2).max(1);
        let make = |name: &str, hours: usize, earliest: usize| Pattern {
            name: name.to_owned(),
            span: hours * per_hour + half,
            break_window: Some((earliest * per_hour / 2, (earliest + 2) * per_hour / 2)),
            break_len: half,
            cost: hours as f64,
        };
        vec![
            make("8h", 8, 7),
            make("10h", 10, 9),
            Pattern {
                name: "4h".to_owned(),
                span: 4 * per_hour,
                break_window: None,
                break_len: 0,
                cost: 4.0,
            },
        ]
    }
}

/// What to cover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Agents required in each interval of the day.
    pub required: Vec<u32>,
    /// Intervals a shift may span (the desk's hours); all true for a 24/7 desk.
    pub open: Vec<bool>,
    /// Shifts may run past midnight into the same intervals of the next day (a 24/7 desk with
    /// the same requirement every day).
    pub cyclic: bool,
    pub patterns: Vec<Pattern>,
    pub slot_minutes: u32,
}

/// One shift of a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shift {
    pub pattern: String,
    /// First interval of the shift.
    pub start: usize,
    /// The break's first interval (of the day, after wrapping), if the shift has one.
    pub break_at: Option<usize>,
    /// How many agents work this shift.
    pub agents: u32,
    pub cost: f64,
}

/// A schedule and how good it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub shifts: Vec<Shift>,
    /// Agents working in each interval.
    pub coverage: Vec<u32>,
    /// Paid hours.
    pub cost: f64,
    /// Required agent-hours: no schedule costs less.
    pub lower_bound: f64,
}

impl Schedule {
    /// Lower bound / cost (1 is perfect).
    pub fn efficiency(&self) -> f64 {
        if self.cost == 0.0 {
            1.0
        } else {
            self.lower_bound / self.cost
        }
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    pattern: usize,
    start: usize,
    break_at: Option<usize>,
    covers: Vec<usize>,
    cost: f64,
}

fn candidates(p: &Problem) -> Vec<Candidate> {
    let n = p.required.len();
    let mut out = Vec::new();
    for (pi, pat) in p.patterns.iter().enumerate() {
        if pat.span == 0 || pat.span > n {
            continue;
        }
        for start in 0..n {
            if !p.cyclic && start + pat.span > n {
                break;
            }
            let slots: Vec<usize> = (0..pat.span).map(|k| (start + k) % n).collect();
            if slots.iter().any(|s| !p.open[*s]) {
                continue;
            }
            let breaks: Vec<Option<usize>> = match pat.break_window {
                Some((from, to)) => (from..=to.min(pat.span.saturating_sub(pat.break_len)))
                    .map(Some)
                    .collect(),
                None => vec![None],
            };
            for b in breaks {
                let covers: Vec<usize> = slots
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| b.is_none_or(|b| !(b..b + pat.break_len).contains(k)))
                    .map(|(_, s)| *s)
                    .collect();
                out.push(Candidate {
                    pattern: pi,
                    start,
                    break_at: b.map(|b| slots[b]),
                    covers,
                    cost: pat.cost,
                });
            }
        }
    }
    out
}

/// Covers `problem.required` at least cost (greedy, then redundant shifts dropped).
pub fn solve(problem: &Problem) -> Result<Schedule, StaffingError> {
    let n = problem.required.len();
    if n == 0 || problem.open.len() != n {
        return Err(StaffingError::Input(
            "the requirement and the opening hours need one value per interval".into(),
        ));
    }
    if problem
        .patterns
        .iter()
        .any(|p| !(p.cost.is_finite() && p.cost > 0.0))
    {
        return Err(StaffingError::Input(
            "every shift pattern needs a positive cost".into(),
        ));
    }
    let cands = candidates(problem);
    for (slot, req) in problem.required.iter().enumerate() {
        if *req > 0 && !cands.iter().any(|c| c.covers.contains(&slot)) {
            return Err(StaffingError::Input(format!(
                "interval {slot} needs {req} agent(s) but no shift the desk's hours allow covers it"
            )));
        }
    }
    let mut deficit: Vec<i64> = problem.required.iter().map(|r| i64::from(*r)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    while deficit.iter().any(|d| *d > 0) {
        let best = cands
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let slots = c.covers.iter().filter(|s| deficit[**s] > 0).count() as f64;
                let depth: i64 = c.covers.iter().map(|s| deficit[*s].max(0)).sum();
                (i, slots / c.cost, depth)
            })
            .filter(|(_, score, _)| *score > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)).then(b.0.cmp(&a.0)))
            .map(|(i, _, _)| i)
            .expect("every required interval has a candidate");
        for s in &cands[best].covers {
            deficit[*s] -= 1;
        }
        chosen.push(best);
    }
    // Drop shifts the others make redundant, the most expensive and latest chosen first.
    let mut coverage = vec![0u32; n];
    for c in &chosen {
        for s in &cands[*c].covers {
            coverage[*s] += 1;
        }
    }
    let mut order: Vec<usize> = (0..chosen.len()).collect();
    order.sort_by(|a, b| {
        cands[chosen[*b]]
            .cost
            .total_cmp(&cands[chosen[*a]].cost)
            .then(b.cmp(a))
    });
    let mut keep = vec![true; chosen.len()];
    for i in order {
        let c = &cands[chosen[i]];
        if c.covers.iter().all(|s| coverage[*s] > problem.required[*s]) {
            keep[i] = false;
            for s in &c.covers {
                coverage[*s] -= 1;
            }
        }
    }
    let mut shifts: Vec<Shift> = Vec::new();
    for (i, c) in chosen.iter().enumerate() {
        if !keep[i] {
            continue;
        }
        let c = &cands[*c];
        let name = &problem.patterns[c.pattern].name;
        match shifts
            .iter_mut()
            .find(|s| &s.pattern == name && s.start == c.start && s.break_at == c.break_at)
        {
            Some(s) => {
                s.agents += 1;
                s.cost += c.cost;
            }
            None => shifts.push(Shift {
                pattern: name.clone(),
                start: c.start,
                break_at: c.break_at,
                agents: 1,
                cost: c.cost,
            }),
        }
    }
    shifts.sort_by(|a, b| a.start.cmp(&b.start).then(a.pattern.cmp(&b.pattern)));
    let hours_per_slot = f64::from(problem.slot_minutes) / 60.0;
    Ok(Schedule {
        cost: shifts.iter().map(|s| s.cost).sum(),
        lower_bound: problem.required.iter().map(|r| f64::from(*r)).sum::<f64>() * hours_per_slot,
        shifts,
        coverage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn problem(required: Vec<u32>, open: Vec<bool>, cyclic: bool) -> Problem {
        Problem {
            required,
            open,
            cyclic,
            patterns: Pattern::standard(30),
            slot_minutes: 30,
        }
    }

    #[test]
    fn the_standard_patterns() {
        let p = Pattern::standard(30);
        assert_eq!(
            (p[0].span, p[0].break_window, p[0].cost),
            (17, Some((7, 9)), 8.0)
        );
        assert_eq!(
            (p[1].span, p[1].break_window, p[1].cost),
            (21, Some((9, 11)), 10.0)
        );
        assert_eq!((p[2].span, p[2].break_window, p[2].cost), (8, None, 4.0));
        // Whatever the interval, a shift works exactly the hours it is paid for.
        for minutes in [15, 30, 60] {
            let per_hour = 60 / minutes as usize;
            for p in Pattern::standard(minutes) {
                let worked = (p.span - p.break_len) as f64 / per_hour as f64;
                assert_eq!(worked, p.cost, "{} at {minutes} minutes", p.name);
            }
        }
    }

    #[test]
    fn quarter_hour_schedules_cost_at_least_the_bound() {
        let required: Vec<u32> = (0..96).map(|i| 20 + (i % 7) as u32).collect();
        let s = solve(&Problem {
            required: required.clone(),
            open: vec![true; 96],
            cyclic: true,
            patterns: Pattern::standard(15),
            slot_minutes: 15,
        })
        .unwrap();
        assert!(s.coverage.iter().zip(&required).all(|(c, r)| c >= r));
        assert!(s.cost >= s.lower_bound, "{} < {}", s.cost, s.lower_bound);
    }

    #[test]
    fn a_flat_24_7_requirement_is_covered_close_to_the_bound() {
        let s = solve(&problem(vec![28; 48], vec![true; 48], true)).unwrap();
        assert!(s.coverage.iter().all(|c| *c >= 28), "{:?}", s.coverage);
        assert!(s.cost >= s.lower_bound);
        assert!(s.efficiency() > 0.85, "{} vs {}", s.cost, s.lower_bound);
    }

    #[test]
    fn the_40_hour_desk_is_staffed_only_in_its_hours() {
        // 08:00–17:00: intervals 16..34.
        let open: Vec<bool> = (0..48).map(|i| (16..34).contains(&i)).collect();
        let required: Vec<u32> = (0..48).map(|i| if open[i] { 3 } else { 0 }).collect();
        let s = solve(&problem(required.clone(), open.clone(), false)).unwrap();
        for (i, c) in s.coverage.iter().enumerate() {
            assert!(*c >= required[i], "interval {i}");
            if !open[i] {
                assert_eq!(*c, 0, "interval {i} is outside the desk's hours");
            }
        }
        assert!(
            s.shifts.iter().all(|sh| sh.pattern != "10h"),
            "{:?}",
            s.shifts
        );
        // Three 8-hour shifts from 08:00 (24 h), three part-timers for the last afternoon
        // hours (12 h) and one to cover the three staggered breaks (4 h): 40 paid hours, where
        // the bound (27 required agent-hours) cannot be reached with these patterns.
        assert!(s.cost <= 40.0, "{} vs {}", s.cost, s.lower_bound);
        // A requirement outside the hours cannot be met.
        let mut bad = required;
        bad[40] = 1;
        assert!(matches!(
            solve(&problem(bad, open, false)),
            Err(StaffingError::Input(_))
        ));
    }

    proptest! {
        #[test]
        fn every_requirement_is_covered(req in proptest::collection::vec(0u32..40, 48), cyclic in any::<bool>()) {
            let s = solve(&problem(req.clone(), vec![true; 48], cyclic)).unwrap();
            for (c, r) in s.coverage.iter().zip(&req) {
                prop_assert!(c >= r);
            }
            prop_assert!(s.cost + 1e-9 >= s.lower_bound);
            prop_assert!(s.shifts.iter().all(|x| x.agents > 0));
        }
    }
}
