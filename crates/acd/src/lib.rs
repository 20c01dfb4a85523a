//! The automatic call distributor: who answers which call, and when.
//!
//! [`Acd`] is a state machine fed a closed set of [`Event`]s, each with the instant it happened
//! (milliseconds on a clock the caller chooses: the server's wall clock, or a simulated day's),
//! and answering with [`Command`]s for the edges to carry out (ring an agent, stop ringing, move
//! a call to another queue, end a call). It never reads a clock, never does I/O, and decides the
//! same way for the same events, so a day of calls replays in a test.
//!
//! This first part holds queues with a required skill and a priority, calls with their own
//! priority, agents with skills and proficiency and their states (logged out, available,
//! offered, on call, after-call work with a limit, break with a reason), longest-idle selection
//! (proficiency choosing between queues otherwise equal), the ring timeout with re-queue at the head of the line,
//! maximum wait with overflow, and hang-ups. Hours of operation, callbacks, announcements and
//! statistics come next (issue 5).

#![forbid(unsafe_code)]

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

/// Milliseconds on the clock the events are stamped with.
pub type Millis = u64;

macro_rules! id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        pub struct $name(pub u64);
    };
}
id!(CallId, "A call, as the edge that reported it numbers it.");
id!(AgentId, "A call-taker.");
id!(QueueId, "A queue (a desk).");
id!(SkillId, "A skill a queue requires and agents hold.");

/// A queue's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub id: QueueId,
    pub name: String,
    /// The skill an agent needs to take this queue's calls.
    pub skill: SkillId,
    /// Higher first, across queues, when an agent could take calls from several.
    pub priority: u8,
    /// How long an offered call rings before it goes back to the head of the queue.
    pub ring_timeout: Millis,
    /// After this long waiting, the call overflows to `overflow_to` (if set).
    pub max_wait: Option<Millis>,
    pub overflow_to: Option<QueueId>,
}

/// An agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub id: AgentId,
    /// Skills with proficiency 1 (lowest) to 10.
    pub skills: Vec<(SkillId, u8)>,
    /// After-call work ends on its own after this long.
    pub after_call_limit: Millis,
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub queues: Vec<QueueConfig>,
    pub agents: Vec<AgentConfig>,
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("queue {0:?} appears twice")]
    DuplicateQueue(QueueId),
    #[error("agent {0:?} appears twice")]
    DuplicateAgent(AgentId),
    #[error("queue {queue:?} overflows to {to:?}, which is not a queue")]
    UnknownOverflow { queue: QueueId, to: QueueId },
    #[error("queue {0:?} overflows to itself")]
    SelfOverflow(QueueId),
    #[error("queue {0:?} has a ring timeout of zero")]
    ZeroRingTimeout(QueueId),
    #[error("agent {agent:?} has proficiency {level} (1 to 10)")]
    Proficiency { agent: AgentId, level: u8 },
}

impl Config {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for q in &self.queues {
            if !seen.insert(q.id) {
                return Err(ConfigError::DuplicateQueue(q.id));
            }
            if q.ring_timeout == 0 {
                return Err(ConfigError::ZeroRingTimeout(q.id));
            }
        }
        for q in &self.queues {
            if let Some(to) = q.overflow_to {
                if to == q.id {
                    return Err(ConfigError::SelfOverflow(q.id));
                }
                if !seen.contains(&to) {
                    return Err(ConfigError::UnknownOverflow { queue: q.id, to });
                }
            }
        }
        let mut agents = std::collections::HashSet::new();
        for a in &self.agents {
            if !agents.insert(a.id) {
                return Err(ConfigError::DuplicateAgent(a.id));
            }
            if let Some((_, level)) = a.skills.iter().find(|(_, l)| !(1..=10).contains(l)) {
                return Err(ConfigError::Proficiency {
                    agent: a.id,
                    level: *level,
                });
            }
        }
        Ok(())
    }
}

/// What an agent asks for (or a supervisor forces).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Requested {
    LogIn,
    Available,
    Break { reason: String },
    LogOut,
}

/// An agent's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Event {
    CallArrived {
        call: CallId,
        queue: QueueId,
        /// Higher first within the queue.
        priority: u8,
    },
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
    CallEnded {
        call: CallId,
    },
    AgentStateChanged {
        agent: AgentId,
        to: Requested,
        /// A supervisor forced it (it applies even mid-call: the call is ended first).
        forced: bool,
    },
    /// Time passed: ring timeouts, maximum waits and after-call limits are checked.
    Tick,
    ConfigChanged(Config),
}

/// Something for the edges to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    OfferCall {
        call: CallId,
        agent: AgentId,
    },
    /// Stop ringing the agent (the caller hung up, or the ring timed out).
    CancelOffer {
        call: CallId,
        agent: AgentId,
    },
    Overflow {
        call: CallId,
        from: QueueId,
        to: QueueId,
    },
    /// The call is over for the ACD.
    Close {
        call: CallId,
        reason: CloseReason,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CloseReason {
    Completed,
    Abandoned,
    /// A call for a queue the configuration does not have.
    NoSuchQueue,
    /// A supervisor forced the agent out of the call.
    Forced,
}

/// Why an event was refused: the state machine is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("call {0:?} is already known")]
    DuplicateCall(CallId),
    #[error("call {0:?} is not known")]
    UnknownCall(CallId),
    #[error("agent {0:?} is not configured")]
    UnknownAgent(AgentId),
    #[error("agent {agent:?} was not offered call {call:?}")]
    NotOffered { agent: AgentId, call: CallId },
    #[error("agent {0:?} is on a call; only a supervisor can force a change")]
    Busy(AgentId),
    #[error("events must not go back in time ({now} after {last})")]
    TimeWentBack { now: Millis, last: Millis },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

#[derive(Debug, Clone, PartialEq)]
enum CallPhase {
    Waiting,
    Ringing { agent: AgentId, until: Millis },
    Connected { agent: AgentId },
}

#[derive(Debug, Clone, PartialEq)]
struct Call {
    queue: QueueId,
    priority: u8,
    /// When the call entered its current queue.
    queued_at: Millis,
    /// Order of arrival, for ties (and kept on re-queue so the call keeps its place).
    seq: u64,
    phase: CallPhase,
}

/// A queue's line: highest priority first, then arrival order.
type LineKey = (std::cmp::Reverse<u8>, u64, CallId);

/// The ACD.
#[derive(Debug, Clone, Default)]
pub struct Acd {
    config: Config,
    lines: HashMap<QueueId, BTreeSet<LineKey>>,
    calls: HashMap<CallId, Call>,
    agents: HashMap<AgentId, AgentState>,
    next_seq: u64,
    last: Millis,
}

impl Acd {
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut acd = Self::default();
        acd.apply_config(config);
        Ok(acd)
    }

    fn apply_config(&mut self, config: Config) {
        for q in &config.queues {
            self.lines.entry(q.id).or_default();
        }
        for a in &config.agents {
            self.agents.entry(a.id).or_insert(AgentState::LoggedOut);
        }
        self.config = config;
    }

    pub fn agent_state(&self, agent: AgentId) -> Option<&AgentState> {
        self.agents.get(&agent)
    }

    /// Calls waiting in a queue, in the order they will be offered.
    pub fn waiting(&self, queue: QueueId) -> Vec<CallId> {
        self.lines
            .get(&queue)
            .map(|l| l.iter().map(|k| k.2).collect())
            .unwrap_or_default()
    }

    /// Every call the ACD holds, with its queue.
    pub fn calls(&self) -> impl Iterator<Item = (CallId, QueueId)> + '_ {
        self.calls.iter().map(|(id, c)| (*id, c.queue))
    }

    fn queue(&self, id: QueueId) -> Option<&QueueConfig> {
        self.config.queues.iter().find(|q| q.id == id)
    }

    fn agent_config(&self, id: AgentId) -> Option<&AgentConfig> {
        self.config.agents.iter().find(|a| a.id == id)
    }

    /// Handles one event at `now`. A refused event changes nothing.
    pub fn handle(&mut self, now: Millis, event: Event) -> Result<Vec<Command>, EventError> {
        if now < self.last {
            return Err(EventError::TimeWentBack {
                now,
                last: self.last,
            });
        }
        let mut out = Vec::new();
        match event {
            Event::CallArrived {
                call,
                queue,
                priority,
            } => {
                if self.calls.contains_key(&call) {
                    return Err(EventError::DuplicateCall(call));
                }
                if self.queue(queue).is_none() {
                    out.push(Command::Close {
                        call,
                        reason: CloseReason::NoSuchQueue,
                    });
                } else {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    self.calls.insert(
                        call,
                        Call {
                            queue,
                            priority,
                            queued_at: now,
                            seq,
                            phase: CallPhase::Waiting,
                        },
                    );
                    self.enqueue(call);
                }
            }
            Event::CallerHungUp { call } => {
                let c = self
                    .calls
                    .remove(&call)
                    .ok_or(EventError::UnknownCall(call))?;
                match c.phase {
                    CallPhase::Waiting => {
                        self.dequeue(call, &c);
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Abandoned,
                        });
                    }
                    CallPhase::Ringing { agent, .. } => {
                        out.push(Command::CancelOffer { call, agent });
                        self.agents
                            .insert(agent, AgentState::Available { since: now });
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Abandoned,
                        });
                    }
                    CallPhase::Connected { agent } => {
                        self.agents
                            .insert(agent, AgentState::AfterCallWork { since: now });
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Completed,
                        });
                    }
                }
            }
            Event::AgentAnswered { agent, call } => {
                self.check_offer(agent, call)?;
                if let Some(c) = self.calls.get_mut(&call) {
                    c.phase = CallPhase::Connected { agent };
                }
                self.agents
                    .insert(agent, AgentState::OnCall { call, since: now });
            }
            Event::AgentRejected { agent, call } => {
                self.check_offer(agent, call)?;
                self.requeue(call);
                // An agent who declines is not offered the next call at once.
                self.agents
                    .insert(agent, AgentState::AfterCallWork { since: now });
            }
            Event::CallEnded { call } => {
                let c = self
                    .calls
                    .remove(&call)
                    .ok_or(EventError::UnknownCall(call))?;
                match c.phase {
                    CallPhase::Connected { agent } => {
                        self.agents
                            .insert(agent, AgentState::AfterCallWork { since: now });
                    }
                    CallPhase::Ringing { agent, .. } => {
                        out.push(Command::CancelOffer { call, agent });
                        self.agents
                            .insert(agent, AgentState::Available { since: now });
                    }
                    CallPhase::Waiting => self.dequeue(call, &c),
                }
                out.push(Command::Close {
                    call,
                    reason: CloseReason::Completed,
                });
            }
            Event::AgentStateChanged { agent, to, forced } => {
                let state = self
                    .agents
                    .get(&agent)
                    .cloned()
                    .ok_or(EventError::UnknownAgent(agent))?;
                match state {
                    AgentState::OnCall { call, .. } if forced => {
                        self.calls.remove(&call);
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Forced,
                        });
                    }
                    AgentState::Offered { call, .. } if forced => {
                        out.push(Command::CancelOffer { call, agent });
                        self.requeue(call);
                    }
                    AgentState::OnCall { .. } | AgentState::Offered { .. } => {
                        return Err(EventError::Busy(agent));
                    }
                    _ => {}
                }
                let next = match to {
                    Requested::LogIn | Requested::Available => AgentState::Available { since: now },
                    Requested::Break { reason } => AgentState::Break { reason, since: now },
                    Requested::LogOut => AgentState::LoggedOut,
                };
                self.agents.insert(agent, next);
            }
            Event::Tick => {}
            Event::ConfigChanged(config) => {
                config.validate()?;
                self.apply_config(config);
            }
        }
        self.last = now;
        self.expire(now, &mut out);
        self.dispatch(now, &mut out);
        Ok(out)
    }

    fn check_offer(&self, agent: AgentId, call: CallId) -> Result<(), EventError> {
        match self.agents.get(&agent) {
            None => Err(EventError::UnknownAgent(agent)),
            Some(AgentState::Offered { call: c, .. }) if *c == call => Ok(()),
            Some(_) => Err(EventError::NotOffered { agent, call }),
        }
    }

    fn key(call: CallId, c: &Call) -> LineKey {
        (std::cmp::Reverse(c.priority), c.seq, call)
    }

    fn enqueue(&mut self, call: CallId) {
        if let Some(c) = self.calls.get(&call) {
            let key = Self::key(call, c);
            self.lines.entry(c.queue).or_default().insert(key);
        }
    }

    fn dequeue(&mut self, call: CallId, c: &Call) {
        if let Some(line) = self.lines.get_mut(&c.queue) {
            line.remove(&Self::key(call, c));
        }
    }

    /// Puts a ringing call back in its line, in the place its arrival gave it.
    fn requeue(&mut self, call: CallId) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = CallPhase::Waiting;
        }
        self.enqueue(call);
    }

    /// Ring timeouts, maximum waits, after-call limits.
    fn expire(&mut self, now: Millis, out: &mut Vec<Command>) {
        let mut rung_out: Vec<(CallId, AgentId)> = self
            .calls
            .iter()
            .filter_map(|(id, c)| match c.phase {
                CallPhase::Ringing { agent, until } if until <= now => Some((*id, agent)),
                _ => None,
            })
            .collect();
        rung_out.sort();
        for (call, agent) in rung_out {
            out.push(Command::CancelOffer { call, agent });
            self.requeue(call);
            // Not answering counts as not ready: the agent is not offered the next call.
            self.agents
                .insert(agent, AgentState::AfterCallWork { since: now });
        }
        let mut overflow: Vec<(CallId, QueueId, QueueId)> = Vec::new();
        for (id, c) in &self.calls {
            if c.phase != CallPhase::Waiting {
                continue;
            }
            if let Some(q) = self.queue(c.queue)
                && let (Some(max), Some(to)) = (q.max_wait, q.overflow_to)
                && now.saturating_sub(c.queued_at) >= max
            {
                overflow.push((*id, c.queue, to));
            }
        }
        overflow.sort();
        for (call, from, to) in overflow {
            if let Some(c) = self.calls.get(&call).cloned() {
                self.dequeue(call, &c);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.queue = to;
                    c.queued_at = now;
                }
                self.enqueue(call);
                out.push(Command::Overflow { call, from, to });
            }
        }
        let done: Vec<AgentId> = self
            .agents
            .iter()
            .filter_map(|(id, s)| match s {
                AgentState::AfterCallWork { since } => {
                    let limit = self.agent_config(*id).map_or(0, |a| a.after_call_limit);
                    (now.saturating_sub(*since) >= limit).then_some(*id)
                }
                _ => None,
            })
            .collect();
        for a in done {
            self.agents.insert(a, AgentState::Available { since: now });
        }
    }

    /// Offers waiting calls to available agents, the longest idle first: each gets the best
    /// call it has the skill for (queue priority, then call priority, then arrival; the agent's
    /// proficiency decides between queues otherwise equal).
    fn dispatch(&mut self, now: Millis, out: &mut Vec<Command>) {
        loop {
            let mut free: Vec<(Millis, AgentId)> = self
                .agents
                .iter()
                .filter_map(|(id, s)| match s {
                    AgentState::Available { since } => Some((*since, *id)),
                    _ => None,
                })
                .collect();
            if free.is_empty() {
                return;
            }
            free.sort();
            let mut offered = false;
            for (_, agent) in free {
                let Some(cfg) = self.agent_config(agent) else {
                    continue;
                };
                // The best head-of-line call among the queues this agent can take.
                let best = self
                    .config
                    .queues
                    .iter()
                    .filter_map(|q| {
                        let level = cfg.skills.iter().find(|(s, _)| *s == q.skill)?.1;
                        let head = *self.lines.get(&q.id)?.first()?;
                        Some((q.priority, level, head, q.ring_timeout))
                    })
                    .max_by(|a, b| {
                        a.0.cmp(&b.0)
                            .then(a.2.0.cmp(&b.2.0).reverse())
                            .then(b.2.1.cmp(&a.2.1))
                            .then(a.1.cmp(&b.1))
                    });
                let Some((_, _, key, ring)) = best else {
                    continue;
                };
                let call = key.2;
                let Some(c) = self.calls.get(&call).cloned() else {
                    continue;
                };
                self.dequeue(call, &c);
                if let Some(c) = self.calls.get_mut(&call) {
                    c.phase = CallPhase::Ringing {
                        agent,
                        until: now + ring,
                    };
                }
                self.agents
                    .insert(agent, AgentState::Offered { call, since: now });
                out.push(Command::OfferCall { call, agent });
                offered = true;
                break;
            }
            if !offered {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
