//! Erlang B, Erlang C and Erlang A (M/M/n+M, callers with exponential patience).
//!
//! Numerically stable for thousands of agents: Erlang B by its recursion (never a factorial
//! or a power), Erlang C from B, and Erlang A from the birth–death chain's stationary
//! distribution kept in logarithms, with the waiting time of a caller found at each place in
//! line by exact recurrences (ASA) and by uniformisation (service level).

use serde::{Deserialize, Serialize};

use crate::StaffingError;

/// Erlang B: the share of calls blocked with `n` servers and `load` Erlangs offered.
pub fn erlang_b(n: u32, load: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=n {
        b = load * b / (f64::from(k) + load * b);
    }
    b
}

/// Erlang C: the probability that a call waits, with `n` agents and `load` Erlangs (1 when
/// the agents cannot keep up, `n ≤ load`).
pub fn erlang_c(n: u32, load: f64) -> f64 {
    let nf = f64::from(n);
    if nf <= load {
        return 1.0;
    }
    let b = erlang_b(n, load);
    nf * b / (nf - load * (1.0 - b))
}

/// The measures of a staffing level for one interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Performance {
    pub agents: u32,
    /// Offered load in Erlangs.
    pub load: f64,
    /// Probability an arriving call waits.
    pub p_wait: f64,
    /// Answered within the threshold / offered.
    pub service_level: f64,
    /// Average wait of answered calls, seconds (infinite when the agents cannot keep up).
    pub asa_seconds: f64,
    /// Abandoned / offered (0 without patience).
    pub abandonment: f64,
    /// Carried load / agents.
    pub occupancy: f64,
}

/// Erlang C measures: `n` agents, `load` Erlangs, mean handle `aht` and service-level
/// threshold `threshold`, both in seconds.
pub fn erlang_c_performance(n: u32, load: f64, aht: f64, threshold: f64) -> Performance {
    let nf = f64::from(n);
    let c = erlang_c(n, load);
    let (service_level, asa) = if nf <= load {
        (0.0, f64::INFINITY)
    } else {
        (
            1.0 - c * (-(nf - load) * threshold / aht).exp(),
            c * aht / (nf - load),
        )
    };
    Performance {
        agents: n,
        load,
        p_wait: c,
        service_level,
        asa_seconds: asa,
        abandonment: 0.0,
        occupancy: if n == 0 { 1.0 } else { (load / nf).min(1.0) },
    }
}

/// Erlang A (Palm's M/M/n+M): `n` agents, arrivals at `rate` per second, mean handle `aht`
/// and mean patience `patience`, threshold `threshold`, all in seconds.
pub fn erlang_a_performance(
    n: u32,
    rate: f64,
    aht: f64,
    patience: f64,
    threshold: f64,
) -> Performance {
    let mu = 1.0 / aht;
    let theta = 1.0 / patience;
    let load = rate * aht;
    let nf = f64::from(n);
    // Stationary distribution of the number in system, in logarithms, truncated where the
    // remaining mass is below 1e-16 of the largest term.
    let mut logs: Vec<f64> = vec![0.0];
    let mut k = 0u64;
    let mut peak = 0.0f64;
    loop {
        k += 1;
        let kf = k as f64;
        let death = kf.min(nf) * mu + (kf - nf).max(0.0) * theta;
        let next = logs[logs.len() - 1] + (rate / death).ln();
        logs.push(next);
        peak = peak.max(next);
        // Beyond n the ratio only falls; stop once the terms are negligible and falling.
        if kf > nf && rate < death && next < peak - 37.0 {
            break;
        }
        if logs.len() > 2_000_000 {
            break;
        }
    }
    let total: f64 = logs.iter().map(|l| (l - peak).exp()).sum();
    let pi: Vec<f64> = logs.iter().map(|l| (l - peak).exp() / total).collect();
    let n_us = n as usize;
    let p_wait: f64 = pi.iter().skip(n_us).sum();
    let queue_mean: f64 = pi
        .iter()
        .enumerate()
        .skip(n_us + 1)
        .map(|(k, p)| (k - n_us) as f64 * p)
        .sum();
    let abandonment = if rate > 0.0 {
        (theta * queue_mean / rate).min(1.0)
    } else {
        0.0
    };
    // A caller who finds j callers ahead in line: s[j] = P(served), w[j] = E[wait; served].
    let ahead: Vec<f64> = pi.iter().skip(n_us).copied().collect();
    let serve = nf * mu;
    let mut served_mass = pi.iter().take(n_us).sum::<f64>();
    let mut wait_mass = 0.0;
    let (mut s_prev, mut w_prev) = (0.0, 0.0);
    for (j, p) in ahead.iter().enumerate() {
        let jf = j as f64;
        let (s, w) = if j == 0 {
            let r = serve + theta;
            let s = if n == 0 { 0.0 } else { serve / r };
            (s, s / r)
        } else {
            let r = serve + jf * theta + theta;
            let a = (serve + jf * theta) / r;
            (a * s_prev, a * (w_prev + s_prev / r))
        };
        served_mass += p * s;
        wait_mass += p * w;
        (s_prev, w_prev) = (s, w);
    }
    let asa = if served_mass > 0.0 {
        wait_mass / served_mass
    } else {
        f64::INFINITY
    };
    let within = served_within(&ahead, serve, theta, threshold);
    let immediate: f64 = pi.iter().take(n_us).sum();
    Performance {
        agents: n,
        load,
        p_wait,
        service_level: (immediate + within).min(1.0),
        asa_seconds: asa,
        abandonment,
        occupancy: if n == 0 {
            1.0
        } else {
            (rate * (1.0 - abandonment) * aht / nf).min(1.0)
        },
    }
}

/// The mass of waiting callers (`start[j]`: j callers ahead) served within `t` seconds: the
/// line moves at `serve + j·theta` (service, and those ahead giving up), the caller gives up at
/// `theta`. Uniformisation in pieces short enough that the Poisson weights stay representable.
fn served_within(start: &[f64], serve: f64, theta: f64, t: f64) -> f64 {
    if start.is_empty() || t <= 0.0 || serve <= 0.0 {
        return 0.0;
    }
    let m = start.len();
    let rate = |j: usize| serve + j as f64 * theta + if j == 0 { 0.0 } else { theta };
    let lambda = (0..m).map(rate).fold(0.0f64, f64::max).max(serve + theta);
    let pieces = ((lambda * t) / 30.0).ceil().max(1.0) as usize;
    let x = lambda * t / pieces as f64;
    let mut v = start.to_vec();
    let mut served = 0.0;
    let mut next = vec![0.0; m];
    for _ in 0..pieces {
        // v ← Σ_k Poisson(x; k) · Pᵏ v, with P = I + Q/Λ on the transient states.
        let mut term = v.clone();
        let mut weight = (-x).exp();
        let mut acc: Vec<f64> = term.iter().map(|p| p * weight).collect();
        let mut served_acc = 0.0;
        let mut served_term = 0.0; // served mass reached within k uniformised steps
        let mut cumulative = weight;
        let mut k = 0u32;
        while cumulative < 1.0 - 1e-13 && k < 10_000 {
            k += 1;
            // One step of P applied to `term`.
            let mut newly_served = 0.0;
            for j in 0..m {
                let stay = 1.0 - (rate(j) + if j == 0 { theta } else { 0.0 }) / lambda;
                let mut p = term[j] * stay.max(0.0);
                if j + 1 < m {
                    p += term[j + 1] * (serve + (j + 1) as f64 * theta) / lambda;
                }
                next[j] = p;
            }
            newly_served += term[0] * serve / lambda;
            std::mem::swap(&mut term, &mut next);
            served_term += newly_served;
            weight *= x / f64::from(k);
            cumulative += weight;
            for (a, p) in acc.iter_mut().zip(&term) {
                *a += p * weight;
            }
            served_acc += served_term * weight;
        }
        // Mass beyond the truncation stays where the last term left it (at most 1e-13).
        served += served_acc;
        v = acc;
    }
    served
}

/// What a staffing level must achieve in an interval. Every target given must hold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Targets {
    /// Share of offered calls answered within `threshold_seconds` (e.g. 0.8).
    pub service_level: Option<f64>,
    pub threshold_seconds: f64,
    /// Largest acceptable ASA, seconds.
    pub asa_seconds: Option<f64>,
    /// Largest acceptable abandonment share (needs a patience).
    pub abandonment: Option<f64>,
    /// Largest acceptable occupancy (agents must not burn out), e.g. 0.85.
    pub max_occupancy: Option<f64>,
}

impl Default for Targets {
    /// 80% of calls answered within 20 seconds.
    fn default() -> Self {
        Self {
            service_level: Some(0.8),
            threshold_seconds: 20.0,
            asa_seconds: None,
            abandonment: None,
            max_occupancy: None,
        }
    }
}

impl Targets {
    pub fn validate(&self) -> Result<(), StaffingError> {
        let share = |v: Option<f64>, name: &'static str| match v {
            Some(x) if !(x.is_finite() && x > 0.0 && x <= 1.0) => {
                Err(StaffingError::Share { name, value: x })
            }
            _ => Ok(()),
        };
        share(self.service_level, "service level target")?;
        share(self.max_occupancy, "maximum occupancy")?;
        match self.abandonment {
            Some(x) if !(x.is_finite() && (0.0..1.0).contains(&x)) => {
                return Err(StaffingError::Share {
                    name: "abandonment target",
                    value: x,
                });
            }
            _ => {}
        }
        if !(self.threshold_seconds.is_finite() && self.threshold_seconds >= 0.0) {
            return Err(StaffingError::Positive {
                name: "service-level threshold",
                value: self.threshold_seconds,
            });
        }
        if let Some(a) = self.asa_seconds
            && !(a.is_finite() && a > 0.0)
        {
            return Err(StaffingError::Positive {
                name: "ASA target",
                value: a,
            });
        }
        if self.service_level.is_none()
            && self.asa_seconds.is_none()
            && self.abandonment.is_none()
            && self.max_occupancy.is_none()
        {
            return Err(StaffingError::NoTarget);
        }
        Ok(())
    }

    fn met_by(&self, p: &Performance) -> bool {
        self.service_level
            .is_none_or(|t| p.service_level >= t - 1e-12)
            && self.asa_seconds.is_none_or(|t| p.asa_seconds <= t + 1e-12)
            && self.abandonment.is_none_or(|t| p.abandonment <= t + 1e-12)
            && self.max_occupancy.is_none_or(|t| p.occupancy <= t + 1e-12)
    }
}

/// One interval's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Traffic {
    /// Calls offered in the interval.
    pub calls: f64,
    /// Interval length, seconds.
    pub interval_seconds: f64,
    /// Mean handle time, seconds.
    pub aht_seconds: f64,
    /// Mean caller patience, seconds; `None`: Erlang C (nobody hangs up).
    pub patience_seconds: Option<f64>,
}

impl Traffic {
    pub fn validate(&self) -> Result<(), StaffingError> {
        let positive = |v: f64, name: &'static str| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(StaffingError::Positive { name, value: v })
            }
        };
        if !(self.calls.is_finite() && self.calls >= 0.0) {
            return Err(StaffingError::Positive {
                name: "call volume",
                value: self.calls,
            });
        }
        positive(self.interval_seconds, "interval length")?;
        positive(self.aht_seconds, "handle time")?;
        let at_most = |value: f64, max: f64, name: &'static str| {
            if value > max {
                Err(StaffingError::TooLarge { name, value, max })
            } else {
                Ok(())
            }
        };
        at_most(
            self.aht_seconds,
            crate::MAX_AHT_SECONDS,
            "handle time (seconds)",
        )?;
        if let Some(p) = self.patience_seconds {
            positive(p, "patience")?;
            at_most(p, crate::MAX_PATIENCE_SECONDS, "patience (seconds)")?;
        }
        at_most(
            self.load(),
            crate::MAX_LOAD_ERLANGS,
            "an interval's offered load (Erlangs)",
        )?;
        Ok(())
    }

    pub fn load(&self) -> f64 {
        self.calls * self.aht_seconds / self.interval_seconds
    }

    /// The measures with `n` agents.
    pub fn performance(&self, n: u32, threshold: f64) -> Performance {
        match self.patience_seconds {
            None => erlang_c_performance(n, self.load(), self.aht_seconds, threshold),
            Some(p) => erlang_a_performance(
                n,
                self.calls / self.interval_seconds,
                self.aht_seconds,
                p,
                threshold,
            ),
        }
    }
}

/// The smallest number of agents meeting every target, with its measures. No calls: zero.
pub fn required_agents(traffic: &Traffic, targets: &Targets) -> Result<Performance, StaffingError> {
    traffic.validate()?;
    targets.validate()?;
    if targets.abandonment.is_some() && traffic.patience_seconds.is_none() {
        return Err(StaffingError::AbandonmentNeedsPatience);
    }
    let load = traffic.load();
    if traffic.calls == 0.0 {
        // Nobody calls: nobody is needed, and nothing waits.
        return Ok(Performance {
            agents: 0,
            load: 0.0,
            p_wait: 0.0,
            service_level: 1.0,
            asa_seconds: 0.0,
            abandonment: 0.0,
            occupancy: 0.0,
        });
    }
    // Erlang C needs more agents than Erlangs; with patience any number is stable.
    let mut n = match traffic.patience_seconds {
        None => load.floor() as u32 + 1,
        Some(_) => 1,
    };
    if let Some(max) = targets.max_occupancy {
        n = n.max((load / max).ceil() as u32);
    }
    // Each further agent improves every measure: gallop up from the lower bound until the
    // targets hold, then bisect (a few dozen evaluations even for thousands of agents).
    let mut lo = n; // the largest count known to fail is below `lo`
    let mut step = 1u32;
    let mut hi = n;
    let found = loop {
        let p = traffic.performance(hi, targets.threshold_seconds);
        if targets.met_by(&p) {
            break p;
        }
        if hi > 1_000_000 {
            return Err(StaffingError::Unreachable);
        }
        lo = hi + 1;
        hi = hi.saturating_add(step);
        step = step.saturating_mul(2);
    };
    let mut best = found;
    let mut top = hi;
    while lo < top {
        let mid = lo + (top - lo) / 2;
        let p = traffic.performance(mid, targets.threshold_seconds);
        if targets.met_by(&p) {
            best = p;
            top = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(best)
}

/// Scheduled staff for `n` productive agents with `shrinkage` (the share of paid time not
/// available for calls): ⌈n / (1 − shrinkage)⌉.
pub fn scheduled(n: u32, shrinkage: f64) -> Result<u32, StaffingError> {
    if !(shrinkage.is_finite() && (0.0..1.0).contains(&shrinkage)) {
        return Err(StaffingError::Shrinkage(shrinkage));
    }
    Ok((f64::from(n) / (1.0 - shrinkage) - 1e-9).ceil().max(0.0) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    /// The figures of the issue: 6,500 calls a day flat, 30-minute intervals, AHT 300 s.
    #[test]
    fn the_reference_case() {
        let t = Traffic {
            calls: 6_500.0 / 48.0,
            interval_seconds: 1_800.0,
            aht_seconds: 300.0,
            patience_seconds: None,
        };
        assert!(close(t.load(), 22.5694, 1e-5), "{}", t.load());
        let p = t.performance(28, 20.0);
        assert!(close(p.p_wait, 0.199089, 1e-5), "{p:?}");
        assert!(close(p.service_level, 0.861383, 1e-6), "{p:?}");
        assert!(close(p.asa_seconds, 10.998, 1e-4), "{p:?}");
        assert!(close(p.occupancy, 0.806052, 1e-6), "{p:?}");
        let r = required_agents(&t, &Targets::default()).unwrap();
        assert_eq!(r.agents, 28);
        assert!(t.performance(27, 20.0).service_level < 0.8);
    }

    /// Large loads, where A^n/n! overflows a double long before the answer: references from
    /// exact rational arithmetic (Python `fractions`, the same recursion with no rounding).
    #[test]
    fn large_loads_match_exact_arithmetic() {
        for (load, n, b, c, sl, asa) in [
            (
                400.0,
                420,
                0.01404668402,
                0.2302854308,
                0.9392974195,
                3.454281462,
            ),
            (
                500.0,
                530,
                0.007853804101,
                0.1226907239,
                0.9833956161,
                1.226907239,
            ),
            (
                1000.0,
                1040,
                0.006245545133,
                0.140453895,
                0.9902407786,
                1.053404212,
            ),
        ] {
            assert!(close(erlang_b(n, load), b, 1e-8), "B({n}, {load})");
            assert!(close(erlang_c(n, load), c, 1e-8), "C({n}, {load})");
            let p = erlang_c_performance(n, load, 300.0, 20.0);
            assert!(close(p.service_level, sl, 1e-8), "{p:?}");
            assert!(close(p.asa_seconds, asa, 1e-8), "{p:?}");
        }
        // Thousands of agents stay finite and ordered.
        let p = erlang_c_performance(5_100, 5_000.0, 300.0, 20.0);
        assert!(
            p.p_wait.is_finite() && p.p_wait > 0.0 && p.p_wait < 1.0,
            "{p:?}"
        );
    }

    #[test]
    fn overloaded_and_empty_intervals() {
        let p = erlang_c_performance(20, 22.0, 300.0, 20.0);
        assert_eq!((p.p_wait, p.service_level), (1.0, 0.0));
        assert!(p.asa_seconds.is_infinite());
        let t = Traffic {
            calls: 0.0,
            interval_seconds: 1_800.0,
            aht_seconds: 300.0,
            patience_seconds: None,
        };
        let idle = required_agents(&t, &Targets::default()).unwrap();
        assert_eq!(
            (idle.agents, idle.occupancy, idle.asa_seconds),
            (0, 0.0, 0.0)
        );
    }

    /// With very patient callers Erlang A tends to Erlang C; with impatient ones fewer calls
    /// wait long, some abandon, and the figures stay consistent (served + abandoned = 1).
    #[test]
    fn erlang_a_is_consistent_with_erlang_c_and_itself() {
        let rate = 6_500.0 / 86_400.0;
        let c = erlang_c_performance(28, rate * 300.0, 300.0, 20.0);
        let a = erlang_a_performance(28, rate, 300.0, 1e7, 20.0);
        assert!(close(a.p_wait, c.p_wait, 1e-3), "{a:?} {c:?}");
        assert!(close(a.service_level, c.service_level, 1e-3), "{a:?} {c:?}");
        assert!(close(a.asa_seconds, c.asa_seconds, 1e-2), "{a:?} {c:?}");
        let a = erlang_a_performance(24, rate, 300.0, 120.0, 20.0);
        assert!(a.abandonment > 0.02 && a.abandonment < 0.2, "{a:?}");
        assert!(a.service_level > 0.0 && a.service_level < 1.0, "{a:?}");
        // Overloaded is stable with abandonment.
        let a = erlang_a_performance(10, rate, 300.0, 60.0, 20.0);
        assert!(a.abandonment > 0.3 && a.occupancy <= 1.0, "{a:?}");
        assert!(a.asa_seconds.is_finite());
    }

    #[test]
    fn targets_combine_and_bad_inputs_are_refused() {
        let t = Traffic {
            calls: 6_500.0 / 48.0,
            interval_seconds: 1_800.0,
            aht_seconds: 300.0,
            patience_seconds: None,
        };
        let asa = Targets {
            service_level: None,
            asa_seconds: Some(5.0),
            ..Targets::default()
        };
        let r = required_agents(&t, &asa).unwrap();
        assert!(r.asa_seconds <= 5.0 && t.performance(r.agents - 1, 20.0).asa_seconds > 5.0);
        let occ = Targets {
            max_occupancy: Some(0.7),
            ..Targets::default()
        };
        let r = required_agents(&t, &occ).unwrap();
        assert_eq!(r.agents, (22.5694f64 / 0.7).ceil() as u32);
        assert_eq!(scheduled(28, 0.3).unwrap(), 40);
        assert_eq!(scheduled(28, 0.0).unwrap(), 28);
        assert_eq!(scheduled(0, 0.5).unwrap(), 0);
        assert_eq!(scheduled(28, 1.0), Err(StaffingError::Shrinkage(1.0)));
        assert!(scheduled(28, -0.1).is_err());
        let bad = |f: &dyn Fn(&mut Traffic, &mut Targets)| {
            let (mut t2, mut g) = (t, Targets::default());
            f(&mut t2, &mut g);
            required_agents(&t2, &g).unwrap_err()
        };
        assert!(matches!(
            bad(&|t, _| t.calls = -1.0),
            StaffingError::Positive { .. }
        ));
        assert!(matches!(
            bad(&|t, _| t.aht_seconds = 0.0),
            StaffingError::Positive { .. }
        ));
        assert!(matches!(
            bad(&|_, g| g.service_level = Some(1.2)),
            StaffingError::Share { .. }
        ));
        assert!(matches!(
            bad(&|_, g| g.abandonment = Some(0.05)),
            StaffingError::AbandonmentNeedsPatience
        ));
        assert_eq!(bad(&|_, g| g.service_level = None), StaffingError::NoTarget);
    }

    proptest::proptest! {
        /// More agents never make anything worse.
        #[test]
        fn more_agents_never_hurt(load in 0.5f64..300.0, extra in 1u32..40, patience in proptest::option::of(30.0f64..600.0)) {
            let t = Traffic { calls: load * 1_800.0 / 300.0, interval_seconds: 1_800.0, aht_seconds: 300.0, patience_seconds: patience };
            let n = load.ceil() as u32 + extra;
            let a = t.performance(n, 20.0);
            let b = t.performance(n + 1, 20.0);
            proptest::prop_assert!(b.service_level >= a.service_level - 1e-9, "{a:?} {b:?}");
            proptest::prop_assert!(b.asa_seconds <= a.asa_seconds + 1e-9, "{a:?} {b:?}");
            proptest::prop_assert!(b.abandonment <= a.abandonment + 1e-9, "{a:?} {b:?}");
            proptest::prop_assert!((0.0..=1.0).contains(&a.service_level));
        }
    }
}
