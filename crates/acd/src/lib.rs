//! The automatic call distributor: who answers which call, and when.
//!
//! [`Acd`] is a state machine fed a closed set of [`Event`]s, each with the instant it happened
//! (milliseconds since the Unix epoch on a clock the caller chooses: the server's wall clock, or
//! a simulated day's), and answering with [`Command`]s for the edges to carry out (ring an agent,
//! stop ringing, play an announcement, offer a callback, move a call to another queue, send it
//! to voicemail, end it) and notices of every agent and queue state change. It never reads a
//! clock, never does I/O, and decides the same way for the same events, so a day replays exactly
//! (that is how the server restores itself after a restart, and how [`sim`] runs a day).
//!
//! - [`config`]: queues with a skill, priority, selection rule (longest idle, or most skilled),
//!   ring timeout, maximum wait and overflow, hours of operation in the center's time zone with
//!   holidays, after-hours handling (callback, redirect, voicemail), announcements and callback
//!   offers; agents with skills, proficiency and an after-call-work limit.
//! - [`stats`]: service level, ASA, abandonment, AHT and occupancy per interval, queue, center
//!   and agent, with their exact definitions.
//! - [`sim`]: a discrete-event simulation of days of calls through the real engine.
//!
//! Time-driven work (ring timeouts, maximum waits, announcements, after-call limits, queues
//! opening and closing) sits in a deadline index; [`Acd::next_deadline`] tells the host when to
//! send the next [`Event::Tick`]. Work never scans every call or every agent.

#![forbid(unsafe_code)]

pub mod config;
mod engine;
pub mod sim;
pub mod stats;

use serde::{Deserialize, Serialize};

pub use config::{
    AfterHours, AgentConfig, Announcements, Config, ConfigError, Day, Hours, QueueConfig,
    Selection, Window,
};
pub use engine::{Acd, AgentStatus, CallView, Phase, QueueStatus, Snapshot};
pub use stats::{AgentCounters, Counters, Measures, Scope};

/// The date and time-zone types the configuration and statistics use, for the edges.
pub use jiff::{Timestamp, civil, tz::TimeZone};

/// Milliseconds since the Unix epoch, on the clock the events are stamped with.
pub type Millis = u64;

macro_rules! id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
id!(CallId, "A call, as the edge that reported it numbers it.");
id!(AgentId, "A call-taker.");
id!(QueueId, "A queue (a desk).");
id!(SkillId, "A skill a queue requires and agents hold.");

/// What an agent asks for (or a supervisor forces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Requested {
    LogIn,
    Available,
    /// Not ready, with a reason code (1 to 64 characters).
    Break {
        reason: String,
    },
    LogOut,
}

/// An agent's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AgentState {
    LoggedOut,
    /// Waiting for a call since `since` (longest idle is offered first).
    Available {
        since: Millis,
    },
    Offered {
        call: CallId,
        since: Millis,
    },
    OnCall {
        call: CallId,
        since: Millis,
    },
    AfterCallWork {
        since: Millis,
    },
    Break {
        reason: String,
        since: Millis,
    },
}

impl AgentState {
    pub fn since(&self) -> Option<Millis> {
        match self {
            AgentState::LoggedOut => None,
            AgentState::Available { since }
            | AgentState::Offered { since, .. }
            | AgentState::OnCall { since, .. }
            | AgentState::AfterCallWork { since }
            | AgentState::Break { since, .. } => Some(*since),
        }
    }

    /// Logged in and not on break: counted as staff for wait estimates.
    pub fn is_staffed(&self) -> bool {
        !matches!(self, AgentState::LoggedOut | AgentState::Break { .. })
    }

    pub fn name(&self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged_out",
            AgentState::Available { .. } => "available",
            AgentState::Offered { .. } => "offered",
            AgentState::OnCall { .. } => "on_call",
            AgentState::AfterCallWork { .. } => "after_call_work",
            AgentState::Break { .. } => "break",
        }
    }
}

/// Something that happened. The "call offered" is the [`Command::OfferCall`] the ACD
/// itself decides; "callback due" is a callback reaching the head of an open queue's line,
/// offered like any call; "agent did not answer" is the ring timeout, or [`Event::AgentRejected`]
/// when the edge knows first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    CallArrived {
        call: CallId,
        queue: QueueId,
        /// Higher first within the queue.
        priority: u8,
    },
    /// The caller hung up (a waiting callback: the caller cancelled it).
    CallerHungUp {
        call: CallId,
    },
    AgentAnswered {
        agent: AgentId,
        call: CallId,
    },
    /// The agent declined, or the phone rang out at the edge.
    AgentRejected {
        agent: AgentId,
        call: CallId,
    },
    /// The caller accepted a callback: their leg ends, the call keeps its place in line.
    CallbackRequested {
        call: CallId,
    },
    /// The edge ended the call (the agent hung up, or the call was withdrawn).
    CallEnded {
        call: CallId,
    },
    AgentStateChanged {
        agent: AgentId,
        to: Requested,
        /// A supervisor forced it: it applies at once, even mid-call (the call is ended).
        /// Otherwise a busy agent's request waits until the call is over.
        #[serde(default)]
        forced: bool,
    },
    /// Time passed: whatever was due by now happens.
    Tick,
    ConfigChanged {
        config: Config,
    },
}

/// Why a call left a queue for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    MaxWait,
    AfterHours,
}

/// Something for the edges to do, or to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// Ring the agent. For a callback, the edge dials the caller once the agent answers.
    OfferCall {
        call: CallId,
        agent: AgentId,
        queue: QueueId,
        callback: bool,
    },
    /// Stop ringing the agent (the caller hung up, or the ring timed out).
    CancelOffer {
        call: CallId,
        agent: AgentId,
    },
    /// Tell the caller their place in line and the estimated wait (`None`: nobody is staffed).
    PlayAnnouncement {
        call: CallId,
        position: u32,
        estimated_wait_seconds: Option<u32>,
    },
    /// Offer the caller a callback that keeps their place in line.
    OfferCallback {
        call: CallId,
        estimated_wait_seconds: u32,
    },
    /// The caller is told they will be called back; their leg ends, the call stays in line.
    SendToCallback {
        call: CallId,
    },
    Overflow {
        call: CallId,
        from: QueueId,
        to: QueueId,
        reason: OverflowReason,
    },
    SendToVoicemail {
        call: CallId,
    },
    /// The call is over for the ACD.
    Close {
        call: CallId,
        reason: CloseReason,
    },
    /// Notice: an agent's state (or pending request) changed.
    AgentStatus {
        agent: AgentId,
        state: AgentState,
        pending: Option<Requested>,
    },
    /// Notice: a queue opened or closed.
    QueueStatus {
        queue: QueueId,
        open: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    Completed,
    Abandoned,
    /// A call for a queue the configuration does not have.
    NoSuchQueue,
    /// A supervisor forced the agent out of the call.
    Forced,
    Voicemail,
    /// The caller cancelled a callback.
    CallbackCancelled,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("call {0} is already known")]
    DuplicateCall(CallId),
    #[error("call {0} is not known")]
    UnknownCall(CallId),
    #[error("agent {0} is not configured")]
    UnknownAgent(AgentId),
    #[error("agent {agent} was not offered call {call}")]
    NotOffered { agent: AgentId, call: CallId },
    #[error("call {0} is not waiting with a caller on the line")]
    NotWaiting(CallId),
    #[error("a break needs a reason of 1 to 64 characters")]
    BadReason,
    #[error("events must not go back in time ({now} after {last})")]
    TimeWentBack { now: Millis, last: Millis },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A refused event. The event itself changed nothing; but work that fell due before it (its
/// timers) did happen, and `commands` holds what that work asks of the edges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct Refused {
    pub error: EventError,
    pub commands: Vec<Command>,
}

#[cfg(test)]
mod tests;
