//! How many call-takers each desk needs, interval by interval, and the shifts that provide them.
//!
//! Pure: no I/O, no clock. [`erlang`] holds the queueing models (Erlang B, C and A) and the
//! search for the smallest staff meeting targets; [`forecast`] turns call history (or a planned
//! volume and an intraday curve) into per-interval volumes and handle times, and measures its
//! own error on held-out weeks; [`schedule`] covers a day's requirement with 8- and 10-hour
//! shifts with breaks at least cost, and reports the cost against a lower bound; [`plan`] puts
//! them together for a day.

#![forbid(unsafe_code)]

pub mod erlang;
pub mod forecast;
pub mod plan;
pub mod report;
pub mod schedule;

pub use erlang::{
    Performance, Targets, Traffic, erlang_a_performance, erlang_b, erlang_c, erlang_c_performance,
    required_agents, scheduled,
};

/// Why a staffing question has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StaffingError {
    #[error("{name} must be a positive number, not {value}")]
    Positive { name: &'static str, value: f64 },
    #[error("{name} must be a share above 0 and at most 1 (100%), not {value}")]
    Share { name: &'static str, value: f64 },
    #[error("shrinkage must be at least 0 and below 1, not {0}")]
    Shrinkage(f64),
    #[error("give at least one target: service level, ASA, abandonment or maximum occupancy")]
    NoTarget,
    #[error("an abandonment target needs the callers' patience (Erlang A)")]
    AbandonmentNeedsPatience,
    #[error("no number of agents meets these targets")]
    Unreachable,
    #[error("{0}")]
    Input(String),
    #[error("{name} must be at most {max}, not {value}")]
    TooLarge {
        name: &'static str,
        value: f64,
        max: f64,
    },
}

/// The most calls a day a plan may be asked for (the center takes about 7,000).
pub const MAX_CALLS_PER_DAY: f64 = 1_000_000.0;
/// The longest handle time, seconds (four hours).
pub const MAX_AHT_SECONDS: f64 = 14_400.0;
/// The longest caller patience, seconds (a day).
pub const MAX_PATIENCE_SECONDS: f64 = 86_400.0;
/// The most traffic one interval may offer, Erlangs: the work of finding the agents grows
/// with it, so it is bounded before any is done.
pub const MAX_LOAD_ERLANGS: f64 = 20_000.0;
