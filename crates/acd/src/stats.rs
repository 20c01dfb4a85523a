//! Contact-center measures, per queue, for the whole center and per agent, kept per interval.
//!
//! Definitions (PRODUCT.md, made exact):
//! - A call is counted in the interval in which it entered the queue (the center's figures: in
//!   which it reached the center). Its outcome there is one of: answered, abandoned (the
//!   caller hung up while waiting or ringing), overflowed (moved on to another queue, counted
//!   again there), callback (the caller chose to be called back, or the queue was closed and
//!   calls back), voicemail, or redirected after hours.
//! - **Offered** = answered + abandoned: the calls whose fate this queue decided with a caller
//!   on the line. Callbacks are excluded, as PRODUCT.md says.
//! - **Service level** SL(T) = answered within T of entering the queue / offered.
//! - **ASA** = total wait of answered calls / answered calls.
//! - **Abandonment** = abandoned / offered.
//! - **AHT** = (talk + after-call work) / handled calls.
//! - **Occupancy** = handle time / (handle time + available idle time), where an agent's idle
//!   time (available, or ringing) is shared equally among the queues whose skill they hold.
//!
//! The center's figures count each call once, from its arrival at the center, whatever queues
//! it passed through.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{AgentId, Millis, QueueId};

/// Counts and times for a queue (or the center) over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counters {
    pub entered: u64,
    pub answered: u64,
    pub answered_in_threshold: u64,
    pub answered_wait_ms: u64,
    pub abandoned: u64,
    pub abandoned_wait_ms: u64,
    pub overflowed: u64,
    pub callbacks: u64,
    pub voicemail: u64,
    pub redirected: u64,
    pub handled: u64,
    pub talk_ms: u64,
    pub after_call_ms: u64,
    pub idle_ms: u64,
    /// Agent time logged in and not on break (staffed), for the average staff figure.
    pub staffed_ms: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.entered += o.entered;
        self.answered += o.answered;
        self.answered_in_threshold += o.answered_in_threshold;
        self.answered_wait_ms += o.answered_wait_ms;
        self.abandoned += o.abandoned;
        self.abandoned_wait_ms += o.abandoned_wait_ms;
        self.overflowed += o.overflowed;
        self.callbacks += o.callbacks;
        self.voicemail += o.voicemail;
        self.redirected += o.redirected;
        self.handled += o.handled;
        self.talk_ms += o.talk_ms;
        self.after_call_ms += o.after_call_ms;
        self.idle_ms += o.idle_ms;
        self.staffed_ms += o.staffed_ms;
    }

    pub fn offered(&self) -> u64 {
        self.answered + self.abandoned
    }

    /// Derived measures; `None` where the denominator is zero.
    pub fn measures(&self) -> Measures {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        let handle = self.talk_ms + self.after_call_ms;
        Measures {
            offered: self.offered(),
            service_level: ratio(self.answered_in_threshold, self.offered()),
            asa_seconds: ratio(self.answered_wait_ms, self.answered).map(|v| v / 1000.0),
            abandonment: ratio(self.abandoned, self.offered()),
            aht_seconds: ratio(handle, self.handled).map(|v| v / 1000.0),
            occupancy: ratio(handle, handle + self.idle_ms),
        }
    }
}

/// The measures of PRODUCT.md computed from [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measures {
    /// The denominator of service level and abandonment: answered + abandoned.
    pub offered: u64,
    pub service_level: Option<f64>,
    pub asa_seconds: Option<f64>,
    pub abandonment: Option<f64>,
    pub aht_seconds: Option<f64>,
    pub occupancy: Option<f64>,
}

/// An agent's counts and times over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentCounters {
    pub offered: u64,
    pub answered: u64,
    pub missed: u64,
    pub handled: u64,
    pub talk_ms: u64,
    pub after_call_ms: u64,
    /// Available, or ringing.
    pub idle_ms: u64,
    pub break_ms: u64,
}

impl AgentCounters {
    pub fn add(&mut self, o: &AgentCounters) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.missed += o.missed;
        self.handled += o.handled;
        self.talk_ms += o.talk_ms;
        self.after_call_ms += o.after_call_ms;
        self.idle_ms += o.idle_ms;
        self.break_ms += o.break_ms;
    }

    pub fn occupancy(&self) -> Option<f64> {
        let handle = self.talk_ms + self.after_call_ms;
        (handle + self.idle_ms > 0).then(|| handle as f64 / (handle + self.idle_ms) as f64)
    }
}

/// Whose figures: a queue, or the center as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    Center,
    Queue(QueueId),
}

/// Interval buckets (the interval's index since the epoch: start = index × length).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stats {
    pub(crate) calls: BTreeMap<(Scope, u64), Counters>,
    pub(crate) agents: BTreeMap<(AgentId, u64), AgentCounters>,
}

impl Stats {
    pub(crate) fn calls(&mut self, scope: Scope, bucket: u64) -> &mut Counters {
        self.calls.entry((scope, bucket)).or_default()
    }

    pub(crate) fn agent(&mut self, agent: AgentId, bucket: u64) -> &mut AgentCounters {
        self.agents.entry((agent, bucket)).or_default()
    }

    /// Forgets buckets before `first`.
    pub(crate) fn prune(&mut self, first: u64) {
        self.calls.retain(|(_, b), _| *b >= first);
        self.agents.retain(|(_, b), _| *b >= first);
    }
}

/// Splits `[from, to)` at interval boundaries: `(bucket, milliseconds)` pieces.
pub(crate) fn split(
    from: Millis,
    to: Millis,
    interval: Millis,
) -> impl Iterator<Item = (u64, u64)> {
    let mut start = from;
    std::iter::from_fn(move || {
        if start >= to {
            return None;
        }
        let bucket = start / interval;
        let end = ((bucket + 1) * interval).min(to);
        let piece = (bucket, end - start);
        start = end;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_cuts_at_boundaries() {
        let pieces: Vec<_> = split(25, 70, 30).collect();
        assert_eq!(pieces, vec![(0, 5), (1, 30), (2, 10)]);
        assert_eq!(split(30, 30, 30).count(), 0);
        assert_eq!(split(31, 59, 30).collect::<Vec<_>>(), vec![(1, 28)]);
    }

    #[test]
    fn measures_follow_the_definitions() {
        let c = Counters {
            answered: 8,
            answered_in_threshold: 6,
            answered_wait_ms: 80_000,
            abandoned: 2,
            callbacks: 5,
            handled: 8,
            talk_ms: 2_000_000,
            after_call_ms: 400_000,
            idle_ms: 600_000,
            ..Counters::default()
        };
        let m = c.measures();
        assert_eq!(m.offered, 10, "callbacks are not offered calls");
        assert_eq!(m.service_level, Some(0.6));
        assert_eq!(m.asa_seconds, Some(10.0));
        assert_eq!(m.abandonment, Some(0.2));
        assert_eq!(m.aht_seconds, Some(300.0));
        assert_eq!(m.occupancy, Some(0.8));
        let empty = Counters::default().measures();
        assert_eq!(empty.service_level, None);
        assert_eq!(empty.occupancy, None);
    }
}
