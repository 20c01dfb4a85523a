//! A day's staffing plan: each interval's forecast, the agents it needs to meet the targets, the
//! staff to schedule with shrinkage, and the day's totals.

use serde::{Deserialize, Serialize};

use crate::StaffingError;
use crate::erlang::{Performance, Targets, Traffic, required_agents, scheduled};
use crate::forecast::IntervalForecast;

/// What to plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanInput {
    pub intervals: Vec<IntervalForecast>,
    pub slot_minutes: u32,
    pub targets: Targets,
    /// Mean caller patience, seconds (Erlang A); `None`: Erlang C.
    pub patience_seconds: Option<f64>,
    /// Share of paid time not available for calls (breaks, training, absence).
    pub shrinkage: f64,
    /// Intervals the desk is open; `None`: around the clock.
    pub open: Option<Vec<bool>>,
}

/// One interval of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanRow {
    /// Minutes after local midnight.
    pub minute_of_day: u32,
    pub open: bool,
    pub calls: f64,
    pub aht_seconds: f64,
    /// Agents on calls needed to meet the targets.
    pub required: u32,
    /// Agents to schedule: required / (1 − shrinkage), rounded up.
    pub scheduled: u32,
    pub performance: Performance,
}

/// The day's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanTotals {
    pub calls: f64,
    /// Required agent-hours and scheduled (paid) agent-hours.
    pub required_hours: f64,
    pub scheduled_hours: f64,
    /// Weighted by calls offered.
    pub service_level: f64,
    /// Weighted by calls answered.
    pub asa_seconds: f64,
    pub abandonment: f64,
    pub occupancy: f64,
    pub peak_required: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    pub rows: Vec<PlanRow>,
    pub totals: PlanTotals,
}

pub fn plan(input: &PlanInput) -> Result<Plan, StaffingError> {
    let n = input.intervals.len();
    if n == 0 || input.slot_minutes == 0 || 1_440 % input.slot_minutes != 0 {
        return Err(StaffingError::Input(
            "the interval must divide a day into whole intervals".into(),
        ));
    }
    if n != (1_440 / input.slot_minutes) as usize {
        return Err(StaffingError::Input(format!(
            "{n} intervals given for a day of {}-minute intervals",
            input.slot_minutes
        )));
    }
    if let Some(open) = &input.open
        && open.len() != n
    {
        return Err(StaffingError::Input(
            "the opening hours need one value per interval".into(),
        ));
    }
    scheduled(0, input.shrinkage)?;
    input.targets.validate()?;
    let seconds = f64::from(input.slot_minutes) * 60.0;
    let mut rows = Vec::with_capacity(n);
    for (i, f) in input.intervals.iter().enumerate() {
        let open = input.open.as_ref().is_none_or(|o| o[i]);
        let traffic = Traffic {
            calls: if open { f.calls } else { 0.0 },
            interval_seconds: seconds,
            aht_seconds: f.aht_seconds,
            patience_seconds: input.patience_seconds,
        };
        let performance = required_agents(&traffic, &input.targets)?;
        rows.push(PlanRow {
            minute_of_day: i as u32 * input.slot_minutes,
            open,
            calls: traffic.calls,
            aht_seconds: f.aht_seconds,
            required: performance.agents,
            scheduled: scheduled(performance.agents, input.shrinkage)?,
            performance,
        });
    }
    let hours = seconds / 3_600.0;
    let calls: f64 = rows.iter().map(|r| r.calls).sum();
    let answered: f64 = rows
        .iter()
        .map(|r| r.calls * (1.0 - r.performance.abandonment))
        .sum();
    let weighted = |f: &dyn Fn(&PlanRow) -> f64, w: &dyn Fn(&PlanRow) -> f64, total: f64| {
        if total > 0.0 {
            rows.iter()
                .filter(|r| w(r) > 0.0)
                .map(|r| f(r) * w(r))
                .sum::<f64>()
                / total
        } else {
            0.0
        }
    };
    let agent_slots: f64 = rows.iter().map(|r| f64::from(r.required)).sum();
    let carried: f64 = rows
        .iter()
        .map(|r| r.performance.load * (1.0 - r.performance.abandonment))
        .sum();
    let totals = PlanTotals {
        calls,
        required_hours: agent_slots * hours,
        scheduled_hours: rows.iter().map(|r| f64::from(r.scheduled)).sum::<f64>() * hours,
        service_level: weighted(&|r| r.performance.service_level, &|r| r.calls, calls),
        asa_seconds: weighted(
            &|r| r.performance.asa_seconds,
            &|r| r.calls * (1.0 - r.performance.abandonment),
            answered,
        ),
        abandonment: weighted(&|r| r.performance.abandonment, &|r| r.calls, calls),
        occupancy: if agent_slots > 0.0 {
            carried / agent_slots
        } else {
            0.0
        },
        peak_required: rows.iter().map(|r| r.required).max().unwrap_or(0),
    };
    Ok(Plan { rows, totals })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::planned;

    #[test]
    fn the_reference_day_needs_28_agents_in_every_interval() {
        let input = PlanInput {
            intervals: planned(6_500.0, &[], 48, 300.0).unwrap(),
            slot_minutes: 30,
            targets: Targets::default(),
            patience_seconds: None,
            shrinkage: 0.3,
            open: None,
        };
        let p = plan(&input).unwrap();
        assert!(p.rows.iter().all(|r| r.required == 28 && r.scheduled == 40));
        assert!((p.totals.calls - 6_500.0).abs() < 1e-6);
        assert!((p.totals.service_level - 0.861383).abs() < 1e-5);
        assert!((p.totals.required_hours - 28.0 * 24.0).abs() < 1e-9);
        assert_eq!(p.totals.peak_required, 28);
    }

    #[test]
    fn closed_intervals_need_nobody_and_bad_plans_are_refused() {
        let open: Vec<bool> = (0..48).map(|i| (16..34).contains(&i)).collect();
        let input = PlanInput {
            intervals: planned(180.0, &[], 48, 600.0).unwrap(),
            slot_minutes: 30,
            targets: Targets::default(),
            patience_seconds: Some(180.0),
            shrinkage: 0.25,
            open: Some(open),
        };
        let p = plan(&input).unwrap();
        assert!(p.rows[..16].iter().all(|r| r.required == 0 && !r.open));
        assert!(p.rows[16..34].iter().all(|r| r.required >= 1));
        let mut bad = input.clone();
        bad.shrinkage = 1.0;
        assert_eq!(plan(&bad), Err(StaffingError::Shrinkage(1.0)));
        let mut bad = input.clone();
        bad.targets.service_level = Some(1.5);
        assert!(matches!(plan(&bad), Err(StaffingError::Share { .. })));
        let mut bad = input;
        bad.intervals.pop();
        assert!(matches!(plan(&bad), Err(StaffingError::Input(_))));
    }
}
