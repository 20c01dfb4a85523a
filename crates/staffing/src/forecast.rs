//! Forecasts: per-interval call volume and handle time for a day.
//!
//! From history: weekly totals with a linear trend, the day of the week's share of its week,
//! and each interval's share of its day of the week (blended with the all-days profile where a
//! day has few calls); handle time per day of week and interval, blended with the interval's
//! all-days mean where there are few calls. [`holdout`] fits on all but the last week and
//! reports the error on that week. With no history: a planned daily volume and an intraday
//! curve.

use serde::{Deserialize, Serialize};

use crate::StaffingError;

/// One call of the history, placed in the center's local calendar by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// Local day number (any epoch; consecutive days differ by one).
    pub day: i64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// The interval of the day (0-based).
    pub slot: u16,
    /// Talk + after-call work, when the call was handled.
    pub handle_seconds: Option<f64>,
}

/// One interval of a forecast day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntervalForecast {
    pub calls: f64,
    pub aht_seconds: f64,
}

/// A forecasting model fitted to history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub slots_per_day: usize,
    pub first_day: i64,
    pub last_day: i64,
    /// Weekly total = intercept + slope × week index (week 0 starts on `first_day`).
    pub intercept: f64,
    pub slope: f64,
    pub weekday_share: [f64; 7],
    /// Per weekday, each interval's share of that day.
    pub slot_share: Vec<Vec<f64>>,
    pub aht: Vec<Vec<f64>>,
    pub overall_aht: f64,
}

/// Calls a weekday needs before its own intraday profile counts fully.
const PROFILE_PRIOR: f64 = 200.0;
/// Handled calls an interval needs before its own handle time counts fully.
const AHT_PRIOR: f64 = 10.0;

impl Model {
    /// Fits the model; the history must span at least one full week.
    pub fn fit(obs: &[Observation], slots_per_day: usize) -> Result<Self, StaffingError> {
        if slots_per_day == 0 {
            return Err(StaffingError::Input("no intervals in a day".into()));
        }
        let (Some(first), Some(last)) = (
            obs.iter().map(|o| o.day).min(),
            obs.iter().map(|o| o.day).max(),
        ) else {
            return Err(StaffingError::Input(
                "no call history: give a planned volume instead".into(),
            ));
        };
        let days = last - first + 1;
        if days < 7 {
            return Err(StaffingError::Input(format!(
                "the history covers {days} day(s); a forecast needs at least one full week"
            )));
        }
        for o in obs {
            if o.weekday > 6 || usize::from(o.slot) >= slots_per_day {
                return Err(StaffingError::Input(format!(
                    "an observation has weekday {} and interval {} (of {slots_per_day})",
                    o.weekday, o.slot
                )));
            }
        }
        let weeks = (days / 7) as usize;
        // Only whole weeks from the first day count for the trend and the weekday shares.
        let horizon = first + 7 * weeks as i64;
        let mut weekly = vec![0.0; weeks];
        let mut by_weekday = [0.0f64; 7];
        let mut by_slot = vec![vec![0.0f64; slots_per_day]; 7];
        let mut all_slots = vec![0.0f64; slots_per_day];
        let mut handle = vec![vec![(0.0f64, 0.0f64); slots_per_day]; 7];
        let mut handle_slot = vec![(0.0f64, 0.0f64); slots_per_day];
        for o in obs {
            let (w, s) = (usize::from(o.weekday), usize::from(o.slot));
            if o.day < horizon {
                weekly[((o.day - first) / 7) as usize] += 1.0;
                by_weekday[w] += 1.0;
            }
            by_slot[w][s] += 1.0;
            all_slots[s] += 1.0;
            if let Some(h) = o.handle_seconds.filter(|h| h.is_finite() && *h > 0.0) {
                handle[w][s].0 += h;
                handle[w][s].1 += 1.0;
                handle_slot[s].0 += h;
                handle_slot[s].1 += 1.0;
            }
        }
        let (intercept, slope) = linear_fit(&weekly);
        let total: f64 = by_weekday.iter().sum();
        let weekday_share = by_weekday.map(|v| if total > 0.0 { v / total } else { 1.0 / 7.0 });
        let all_total: f64 = all_slots.iter().sum();
        let overall_profile: Vec<f64> = all_slots.iter().map(|v| v / all_total.max(1.0)).collect();
        let slot_share = by_slot
            .iter()
            .map(|row| {
                let n: f64 = row.iter().sum();
                row.iter()
                    .zip(&overall_profile)
                    .map(|(c, p)| (c + PROFILE_PRIOR * p) / (n + PROFILE_PRIOR))
                    .collect()
            })
            .collect();
        let (hs, hn) = handle_slot
            .iter()
            .fold((0.0, 0.0), |a, (s, n)| (a.0 + s, a.1 + n));
        if hn == 0.0 {
            return Err(StaffingError::Input(
                "no handled call in the history: handle times are unknown".into(),
            ));
        }
        let overall_aht = hs / hn;
        let slot_aht: Vec<f64> = handle_slot
            .iter()
            .map(|(s, n)| (s + AHT_PRIOR * overall_aht) / (n + AHT_PRIOR))
            .collect();
        let aht = handle
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&slot_aht)
                    .map(|((s, n), base)| (s + AHT_PRIOR * base) / (n + AHT_PRIOR))
                    .collect()
            })
            .collect();
        Ok(Self {
            slots_per_day,
            first_day: first,
            last_day: last,
            intercept,
            slope,
            weekday_share,
            slot_share,
            aht,
            overall_aht,
        })
    }

    /// The forecast for local day `day` (a `weekday`), interval by interval.
    pub fn forecast(&self, day: i64, weekday: u8) -> Vec<IntervalForecast> {
        let week = (day - self.first_day).div_euclid(7) as f64;
        let weekly = (self.intercept + self.slope * week).max(0.0);
        let w = usize::from(weekday.min(6));
        let daily = weekly * self.weekday_share[w];
        self.slot_share[w]
            .iter()
            .zip(&self.aht[w])
            .map(|(share, aht)| IntervalForecast {
                calls: daily * share,
                aht_seconds: *aht,
            })
            .collect()
    }
}

/// Least squares y = a + b·x over x = 0, 1, …; one point: flat.
fn linear_fit(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    if y.len() < 2 {
        return (y.first().copied().unwrap_or(0.0), 0.0);
    }
    let mx = (n - 1.0) / 2.0;
    let my = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = i as f64 - mx;
        sxy += dx * (v - my);
        sxx += dx * dx;
    }
    let b = sxy / sxx;
    (my - b * mx, b)
}

/// A forecast's error on held-out history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForecastError {
    pub days: u32,
    /// Σ|forecast − actual| / Σ actual over intervals.
    pub interval_wape: f64,
    /// The same over whole days.
    pub daily_wape: f64,
    /// Forecast total / actual total − 1.
    pub bias: f64,
}

/// Fits on all but the last `days` days and measures the forecast on them.
pub fn holdout(
    obs: &[Observation],
    slots_per_day: usize,
    days: u32,
) -> Result<ForecastError, StaffingError> {
    let last = obs
        .iter()
        .map(|o| o.day)
        .max()
        .ok_or_else(|| StaffingError::Input("no call history".into()))?;
    let cut = last - i64::from(days);
    let train: Vec<Observation> = obs.iter().copied().filter(|o| o.day <= cut).collect();
    let model = Model::fit(&train, slots_per_day)?;
    let (mut abs_i, mut abs_d, mut actual_total, mut forecast_total) = (0.0, 0.0, 0.0, 0.0);
    for day in cut + 1..=last {
        let mut actual = vec![0.0; slots_per_day];
        let mut weekday = None;
        for o in obs.iter().filter(|o| o.day == day) {
            actual[usize::from(o.slot)] += 1.0;
            weekday = Some(o.weekday);
        }
        // A day without calls still has a weekday: count on from a day that has one.
        let weekday = weekday.unwrap_or_else(|| {
            let known = obs.iter().find(|o| o.day <= cut).expect("training data");
            ((i64::from(known.weekday) + day - known.day).rem_euclid(7)) as u8
        });
        let f = model.forecast(day, weekday);
        let (mut fd, mut ad) = (0.0, 0.0);
        for (fi, ai) in f.iter().zip(&actual) {
            abs_i += (fi.calls - ai).abs();
            fd += fi.calls;
            ad += ai;
        }
        abs_d += (fd - ad).abs();
        actual_total += ad;
        forecast_total += fd;
    }
    if actual_total == 0.0 {
        return Err(StaffingError::Input(
            "the held-out days have no calls".into(),
        ));
    }
    Ok(ForecastError {
        days,
        interval_wape: abs_i / actual_total,
        daily_wape: abs_d / actual_total,
        bias: forecast_total / actual_total - 1.0,
    })
}

/// With no history: a planned daily volume spread by an intraday curve (relative weights per
/// interval; empty: flat), with one handle time.
pub fn planned(
    calls_per_day: f64,
    curve: &[f64],
    slots_per_day: usize,
    aht_seconds: f64,
) -> Result<Vec<IntervalForecast>, StaffingError> {
    if !(calls_per_day.is_finite() && calls_per_day > 0.0) {
        return Err(StaffingError::Positive {
            name: "planned daily volume",
            value: calls_per_day,
        });
    }
    if !(aht_seconds.is_finite() && aht_seconds > 0.0) {
        return Err(StaffingError::Positive {
            name: "handle time",
            value: aht_seconds,
        });
    }
    if calls_per_day > crate::MAX_CALLS_PER_DAY {
        return Err(StaffingError::TooLarge {
            name: "planned daily volume",
            value: calls_per_day,
            max: crate::MAX_CALLS_PER_DAY,
        });
    }
    if aht_seconds > crate::MAX_AHT_SECONDS {
        return Err(StaffingError::TooLarge {
            name: "handle time (seconds)",
            value: aht_seconds,
            max: crate::MAX_AHT_SECONDS,
        });
    }
    let weights: Vec<f64> = if curve.is_empty() {
        vec![1.0; slots_per_day]
    } else {
        curve.to_vec()
    };
    let total: f64 = weights.iter().sum();
    if weights.len() != slots_per_day
        || weights.iter().any(|w| !w.is_finite() || *w < 0.0)
        || total <= 0.0
    {
        return Err(StaffingError::Input(format!(
            "the intraday curve needs {slots_per_day} non-negative weights with a positive sum"
        )));
    }
    Ok(weights
        .iter()
        .map(|w| IntervalForecast {
            calls: calls_per_day * w / total,
            aht_seconds,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up history: `weeks` weeks, weekdays busier than weekends, a daytime profile,
    /// volume growing `growth` calls a week, handle time longer in the afternoon. Deterministic
    /// (a fixed pseudo-random stream).
    fn history(weeks: i64, growth: f64) -> Vec<Observation> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut out = Vec::new();
        for day in 0..weeks * 7 {
            let weekday = (day % 7) as u8;
            let base = if weekday < 5 { 1_000.0 } else { 600.0 } + growth * (day / 7) as f64 / 7.0;
            for slot in 0..48u16 {
                let hour = f64::from(slot) / 2.0;
                let weight = 0.3 + 1.7 * (-((hour - 14.0) / 5.0).powi(2)).exp();
                let mean = base * weight / 42.7;
                // Poisson by inversion.
                let (mut k, mut p, l) = (0u32, 1.0f64, (-mean).exp());
                loop {
                    p *= next();
                    if p <= l {
                        break;
                    }
                    k += 1;
                }
                for _ in 0..k {
                    let aht = if (24..36).contains(&slot) {
                        360.0
                    } else {
                        280.0
                    };
                    out.push(Observation {
                        day,
                        weekday,
                        slot,
                        handle_seconds: Some(aht * (0.5 + next())),
                    });
                }
            }
        }
        out
    }

    #[test]
    fn a_planned_volume_beyond_its_bound_is_refused_before_any_work() {
        assert!(matches!(
            planned(1e12, &[], 48, 300.0),
            Err(StaffingError::TooLarge {
                name: "planned daily volume",
                ..
            })
        ));
        assert!(matches!(
            planned(6_500.0, &[], 48, 1e9),
            Err(StaffingError::TooLarge { .. })
        ));
        assert!(planned(crate::MAX_CALLS_PER_DAY, &[], 48, 300.0).is_ok());
    }

    #[test]
    fn a_fitted_model_recovers_volume_profile_trend_and_handle_time() {
        let obs = history(8, 70.0);
        let m = Model::fit(&obs, 48).unwrap();
        assert!((m.slope - 70.0).abs() < 40.0, "slope {}", m.slope);
        // Monday of week 9 (day 56) versus Saturday.
        let monday: f64 = m.forecast(56, 0).iter().map(|f| f.calls).sum();
        let saturday: f64 = m.forecast(61, 5).iter().map(|f| f.calls).sum();
        assert!(monday > saturday * 1.4, "{monday} {saturday}");
        let f = m.forecast(56, 0);
        assert!(
            f[28].calls > f[6].calls * 3.0,
            "afternoon busier than 03:00"
        );
        assert!(
            f[28].aht_seconds > f[6].aht_seconds + 40.0,
            "{:?} {:?}",
            f[28],
            f[6]
        );
        let e = holdout(&obs, 48, 7).unwrap();
        assert!(e.daily_wape < 0.05, "{e:?}");
        assert!(e.interval_wape < 0.2, "{e:?}");
        assert!(e.bias.abs() < 0.05, "{e:?}");
    }

    #[test]
    fn too_little_history_or_bad_plans_are_refused() {
        let obs = history(1, 0.0);
        assert!(Model::fit(&obs[..100], 48).is_err(), "under a week");
        assert!(Model::fit(&[], 48).is_err());
        assert!(Model::fit(&obs, 48).is_ok());
        let bad = [Observation {
            day: 0,
            weekday: 9,
            slot: 0,
            handle_seconds: None,
        }];
        assert!(Model::fit(&bad, 48).is_err());
        assert!(planned(0.0, &[], 48, 300.0).is_err());
        assert!(planned(-5.0, &[], 48, 300.0).is_err());
        assert!(planned(100.0, &[], 48, 0.0).is_err());
        assert!(planned(100.0, &[1.0; 47], 48, 300.0).is_err());
        let p = planned(4_800.0, &[], 48, 300.0).unwrap();
        assert_eq!(p.len(), 48);
        assert!(p.iter().all(|f| f.calls == 100.0 && f.aht_seconds == 300.0));
    }
}
