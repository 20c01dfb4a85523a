//! One staffing question as the command line and the API ask it, and its answer: the day's
//! forecast (from a planned volume or from history), the plan, optionally a schedule, and the
//! answer as CSV.

use serde::{Deserialize, Serialize};

use crate::StaffingError;
use crate::erlang::Targets;
use crate::forecast::{ForecastError, IntervalForecast, Model, Observation, holdout, planned};
use crate::plan::{Plan, PlanInput, plan};
use crate::schedule::{Pattern, Problem, Schedule, solve};

/// Where the day's volume comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Volume {
    /// A planned daily volume with an intraday curve (empty: flat) and one handle time.
    Planned {
        calls_per_day: f64,
        curve: Vec<f64>,
        aht_seconds: f64,
    },
    /// Call history, and the local day to forecast (its number and weekday, 0 = Monday).
    History {
        observations: Vec<Observation>,
        day: i64,
        weekday: u8,
    },
}

/// A staffing question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub volume: Volume,
    pub slot_minutes: u32,
    pub targets: Targets,
    pub patience_seconds: Option<f64>,
    pub shrinkage: f64,
    /// The desk's opening interval range `[from, to)`; `None`: around the clock.
    pub open: Option<(usize, usize)>,
    /// Also build a shift schedule covering the scheduled staff.
    pub schedule: bool,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Response {
    pub plan: Plan,
    pub schedule: Option<Schedule>,
    /// The forecast's error on the last week of history (history only).
    pub forecast_error: Option<ForecastError>,
}

pub fn answer(r: &Request) -> Result<Response, StaffingError> {
    if r.slot_minutes == 0 || 1_440 % r.slot_minutes != 0 {
        return Err(StaffingError::Input(format!(
            "an interval of {} minutes does not divide a day",
            r.slot_minutes
        )));
    }
    let slots = (1_440 / r.slot_minutes) as usize;
    let open_range = |i: usize| r.open.is_none_or(|(from, to)| (from..to).contains(&i));
    let (intervals, forecast_error): (Vec<IntervalForecast>, _) = match &r.volume {
        Volume::Planned {
            calls_per_day,
            curve,
            aht_seconds,
        } => {
            // A desk with hours takes its planned calls in them.
            let weights: Vec<f64> = if curve.is_empty() {
                vec![1.0; slots]
            } else {
                curve.clone()
            };
            let weights: Vec<f64> = weights
                .iter()
                .enumerate()
                .map(|(i, w)| if open_range(i) { *w } else { 0.0 })
                .collect();
            (
                planned(*calls_per_day, &weights, slots, *aht_seconds)?,
                None,
            )
        }
        Volume::History {
            observations,
            day,
            weekday,
        } => {
            let model = Model::fit(observations, slots)?;
            let error = holdout(observations, slots, 7).ok();
            (model.forecast(*day, *weekday), error)
        }
    };
    let open = match r.open {
        None => None,
        Some((from, to)) if from < to && to <= slots => Some(
            (0..slots)
                .map(|i| (from..to).contains(&i))
                .collect::<Vec<_>>(),
        ),
        Some((from, to)) => {
            return Err(StaffingError::Input(format!(
                "opening hours from interval {from} to {to} are not within one day of {slots}"
            )));
        }
    };
    let plan = plan(&PlanInput {
        intervals,
        slot_minutes: r.slot_minutes,
        targets: r.targets,
        patience_seconds: r.patience_seconds,
        shrinkage: r.shrinkage,
        open: open.clone(),
    })?;
    let schedule = if r.schedule {
        Some(solve(&Problem {
            required: plan.rows.iter().map(|row| row.scheduled).collect(),
            open: open.clone().unwrap_or_else(|| vec![true; slots]),
            cyclic: open.is_none(),
            patterns: Pattern::standard(r.slot_minutes),
            slot_minutes: r.slot_minutes,
        })?)
    } else {
        None
    };
    Ok(Response {
        plan,
        schedule,
        forecast_error,
    })
}

impl Response {
    /// The plan as CSV, one row per interval (with the schedule's coverage when there is one).
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "time,open,calls,aht_seconds,load_erlangs,required,scheduled,service_level,asa_seconds,abandonment,occupancy",
        );
        if self.schedule.is_some() {
            out.push_str(",scheduled_coverage");
        }
        out.push('\n');
        for (i, r) in self.plan.rows.iter().enumerate() {
            let p = &r.performance;
            out.push_str(&format!(
                "{:02}:{:02},{},{:.3},{:.1},{:.4},{},{},{:.6},{},{:.6},{:.6}",
                r.minute_of_day / 60,
                r.minute_of_day % 60,
                r.open,
                r.calls,
                r.aht_seconds,
                p.load,
                r.required,
                r.scheduled,
                p.service_level,
                if p.asa_seconds.is_finite() {
                    format!("{:.3}", p.asa_seconds)
                } else {
                    String::new()
                },
                p.abandonment,
                p.occupancy,
            ));
            if let Some(s) = &self.schedule {
                out.push_str(&format!(",{}", s.coverage[i]));
            }
            out.push('\n');
        }
        out
    }
}

/// Parses `HH:MM-HH:MM` into an interval range for `slot_minutes` intervals.
pub fn parse_hours(text: &str, slot_minutes: u32) -> Result<(usize, usize), StaffingError> {
    let bad = || StaffingError::Input(format!("{text:?} is not opening hours like 08:00-17:00"));
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let minute = |t: &str| -> Result<u32, StaffingError> {
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 24 || m > 59 || (h == 24 && m > 0) {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let (from, to) = (minute(a)?, minute(b)?);
    if from >= to || from % slot_minutes != 0 || to % slot_minutes != 0 {
        return Err(StaffingError::Input(format!(
            "opening hours {text:?} must run forward on {slot_minutes}-minute boundaries"
        )));
    }
    Ok(((from / slot_minutes) as usize, (to / slot_minutes) as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            volume: Volume::Planned {
                calls_per_day: 6_500.0,
                curve: Vec::new(),
                aht_seconds: 300.0,
            },
            slot_minutes: 30,
            targets: Targets::default(),
            patience_seconds: None,
            shrinkage: 0.0,
            open: None,
            schedule: true,
        }
    }

    #[test]
    fn a_planned_day_with_a_schedule_and_its_csv() {
        let r = answer(&request()).unwrap();
        assert!(r.plan.rows.iter().all(|row| row.required == 28));
        let s = r.schedule.as_ref().unwrap();
        assert!(s.coverage.iter().all(|c| *c >= 28));
        let csv = r.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 49);
        assert!(lines[0].ends_with("scheduled_coverage"));
        assert!(lines[1].starts_with("00:00,true,135.417,300.0,22.5694,28,28,0.861383,10.998,"));
    }

    #[test]
    fn opening_hours_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_hours("08:00-17:00", 30).unwrap(), (16, 34));
        assert_eq!(parse_hours("00:00-24:00", 30).unwrap(), (0, 48));
        for bad in ["8-17", "17:00-08:00", "08:15-17:00", "25:00-26:00", "08:00"] {
            assert!(parse_hours(bad, 30).is_err(), "{bad}");
        }
        let mut r = request();
        r.open = Some(parse_hours("08:00-17:00", 30).unwrap());
        let a = answer(&r).unwrap();
        assert!(a.plan.rows[..16].iter().all(|row| row.required == 0));
        assert!(
            (a.plan.totals.calls - 6_500.0).abs() < 1e-6,
            "planned calls fall in the hours"
        );
        assert!(a.plan.totals.asa_seconds.is_finite());
        let s = a.schedule.unwrap();
        assert!(s.coverage[..16].iter().all(|c| *c == 0));
        r.slot_minutes = 7;
        assert!(answer(&r).is_err());
    }
}
