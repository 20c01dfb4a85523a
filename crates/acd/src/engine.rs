//! The state machine itself.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::config::{AfterHours, AgentConfig, Config, ConfigError, DAY, QueueConfig, zoned};
use crate::stats::{AgentCounters, Counters, Measures, Scope, Stats, split};
use crate::{
    AgentId, AgentState, CallId, CloseReason, Command, Event, EventError, Millis, OverflowReason,
    QueueId, Refused, Requested, SkillId,
};

/// Where a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum Phase {
    Waiting,
    Ringing { agent: AgentId, until: Millis },
    Connected { agent: AgentId },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Call {
    queue: QueueId,
    priority: u8,
    /// When the call reached the center.
    arrived: Millis,
    /// When it entered its current queue.
    queued_at: Millis,
    /// Order of arrival: kept on re-queue, so a call keeps its place.
    seq: u64,
    phase: Phase,
    /// The caller's leg is gone; the center calls back.
    callback: bool,
    callback_offered: bool,
    overflow_at: Option<Millis>,
    next_announce: Option<Millis>,
    /// The service-level threshold of the queue that answered (for the center's figures).
    answered_threshold: Option<Millis>,
}

/// A call as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallView {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub call: CallId,
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub queue: QueueId,
    pub priority: u8,
    pub arrived: Millis,
    pub queued_at: Millis,
    /// 1 for the next call the queue will offer; `None` unless waiting.
    pub position: Option<u32>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub phase: Phase,
    pub callback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
enum Timer {
    Hours(QueueId),
    Ring(CallId),
    MaxWait(CallId),
    Announce(CallId),
    AfterCall(AgentId),
}

/// A queue's line: highest priority first, then arrival order.
type LineKey = (Reverse<u8>, u64, CallId);

#[derive(Debug, Clone)]
struct Queue {
    cfg: QueueConfig,
    line: BTreeSet<LineKey>,
    open: bool,
    next_change: Option<Millis>,
}

#[derive(Debug, Clone)]
struct Agent {
    cfg: AgentConfig,
    state: AgentState,
    pending: Option<Requested>,
    /// The queue of the agent's current or last call (handle time is counted there).
    last_queue: Option<QueueId>,
    /// Time in the current state is counted up to here.
    accounted: Millis,
}

/// The ACD.
#[derive(Debug, Clone)]
pub struct Acd {
    config: Config,
    tz: TimeZone,
    queues: BTreeMap<QueueId, Queue>,
    agents: BTreeMap<AgentId, Agent>,
    skill_queues: HashMap<SkillId, Vec<QueueId>>,
    calls: HashMap<CallId, Call>,
    /// Available agents per skill, longest idle first.
    idle: HashMap<SkillId, BTreeSet<(Millis, AgentId)>>,
    /// Available agents per skill, most proficient first (10 − level), then longest idle.
    idle_skilled: HashMap<SkillId, BTreeSet<(u8, Millis, AgentId)>>,
    /// Staffed agents (logged in, not on break) per skill.
    staffed: HashMap<SkillId, u32>,
    timers: BTreeSet<(Millis, Timer)>,
    dirty_agents: BTreeSet<(Millis, AgentId)>,
    dirty_queues: BTreeSet<(Reverse<u8>, QueueId)>,
    /// Queues whose hours must be read at the next event (new, or their hours changed).
    unchecked: BTreeSet<QueueId>,
    next_seq: u64,
    last: Millis,
    stats: Stats,
    bucket: u64,
}

/// Everything needed to rebuild an [`Acd`] exactly (indexes are derived again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    config: Config,
    queues: Vec<(QueueId, bool, Option<Millis>)>,
    calls: Vec<(CallId, Call)>,
    agents: Vec<SavedAgent>,
    next_seq: u64,
    last: Millis,
    call_stats: Vec<(Scope, u64, Counters)>,
    agent_stats: Vec<(AgentId, u64, AgentCounters)>,
    /// Queues whose hours had not been read yet.
    #[serde(default)]
    unchecked: Vec<QueueId>,
}

/// An agent in a snapshot: state, pending request, last queue, time counted up to.
type SavedAgent = (
    AgentId,
    AgentState,
    Option<Requested>,
    Option<QueueId>,
    Millis,
);

/// A queue, live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueStatus {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub queue: QueueId,
    pub name: String,
    pub open: bool,
    /// Callers on the line waiting (callbacks not included).
    pub waiting: u32,
    pub callbacks_waiting: u32,
    pub ringing: u32,
    pub connected: u32,
    /// The longest current wait of a caller on the line.
    pub longest_wait_ms: Option<Millis>,
    pub staffed: u32,
    pub available: u32,
    pub service_level_threshold_ms: Millis,
    pub interval: Counters,
    pub interval_measures: Measures,
    pub today: Counters,
    pub today_measures: Measures,
}

/// An agent, live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentStatus {
    #[cfg_attr(feature = "openapi", schema(value_type = u64))]
    pub agent: AgentId,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub state: AgentState,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub pending: Option<Requested>,
    /// How long the agent has been in this state.
    pub in_state_ms: Option<Millis>,
    pub today: AgentCounters,
    pub today_occupancy: Option<f64>,
}

const MAX_REASON: usize = 64;
const NO_ANSWER: &str = "no answer";
const DECLINED: &str = "declined";

impl Acd {
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        let tz = config.validate()?;
        let mut acd = Acd {
            tz,
            queues: BTreeMap::new(),
            agents: BTreeMap::new(),
            skill_queues: HashMap::new(),
            calls: HashMap::new(),
            idle: HashMap::new(),
            idle_skilled: HashMap::new(),
            staffed: HashMap::new(),
            timers: BTreeSet::new(),
            dirty_agents: BTreeSet::new(),
            dirty_queues: BTreeSet::new(),
            unchecked: BTreeSet::new(),
            next_seq: 0,
            last: 0,
            stats: Stats::default(),
            bucket: 0,
            config: Config::default(),
        };
        acd.install(config);
        Ok(acd)
    }

    /// Takes a new configuration: queues and agents are replaced, state is kept, every index is
    /// derived again. A queue that is new or whose hours changed reads its hours at the next
    /// event.
    fn install(&mut self, config: Config) {
        let mut queues = BTreeMap::new();
        for q in &config.queues {
            let (open, next_change) = match self.queues.get(&q.id) {
                Some(old) if old.cfg.hours == q.hours => (old.open, old.next_change),
                Some(old) => {
                    self.unchecked.insert(q.id);
                    (old.open, None)
                }
                None => {
                    self.unchecked.insert(q.id);
                    (true, None)
                }
            };
            queues.insert(
                q.id,
                Queue {
                    cfg: q.clone(),
                    line: BTreeSet::new(),
                    open,
                    next_change,
                },
            );
        }
        let mut agents = BTreeMap::new();
        for a in &config.agents {
            let (state, pending, last_queue, accounted) = match self.agents.remove(&a.id) {
                Some(old) => (old.state, old.pending, old.last_queue, old.accounted),
                None => (AgentState::LoggedOut, None, None, 0),
            };
            agents.insert(
                a.id,
                Agent {
                    cfg: a.clone(),
                    state,
                    pending,
                    last_queue,
                    accounted,
                },
            );
        }
        self.unchecked.retain(|q| queues.contains_key(q));
        self.queues = queues;
        self.agents = agents;
        self.config = config;
        self.reindex();
    }

    /// Derives the lines, idle sets, staffing counts and deadlines from the state.
    fn reindex(&mut self) {
        self.skill_queues.clear();
        for q in self.queues.values_mut() {
            q.line.clear();
            self.skill_queues
                .entry(q.cfg.skill)
                .or_default()
                .push(q.cfg.id);
        }
        self.idle.clear();
        self.idle_skilled.clear();
        self.staffed.clear();
        self.timers.clear();
        self.dirty_agents.clear();
        self.dirty_queues.clear();
        for q in self.queues.values() {
            if let Some(t) = q.next_change {
                self.timers.insert((t, Timer::Hours(q.cfg.id)));
            }
        }
        for (id, c) in &self.calls {
            match c.phase {
                Phase::Waiting => {
                    if let Some(q) = self.queues.get_mut(&c.queue) {
                        q.line.insert(key(*id, c));
                        self.dirty_queues
                            .insert((Reverse(q.cfg.priority), q.cfg.id));
                    }
                    if let Some(t) = c.overflow_at {
                        self.timers.insert((t, Timer::MaxWait(*id)));
                    }
                    if let Some(t) = c.next_announce {
                        self.timers.insert((t, Timer::Announce(*id)));
                    }
                }
                Phase::Ringing { until, .. } => {
                    self.timers.insert((until, Timer::Ring(*id)));
                }
                Phase::Connected { .. } => {}
            }
        }
        for (id, a) in &self.agents {
            if a.state.is_staffed() {
                for (s, _) in &a.cfg.skills {
                    *self.staffed.entry(*s).or_default() += 1;
                }
            }
            match a.state {
                AgentState::Available { since } => {
                    for (s, level) in &a.cfg.skills {
                        self.idle.entry(*s).or_default().insert((since, *id));
                        self.idle_skilled
                            .entry(*s)
                            .or_default()
                            .insert((10 - level, since, *id));
                    }
                    self.dirty_agents.insert((since, *id));
                }
                AgentState::AfterCallWork { since } => {
                    self.timers
                        .insert((since + a.cfg.after_call_limit, Timer::AfterCall(*id)));
                }
                _ => {}
            }
        }
    }

    // ----- reading -----

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The instant of the last event handled.
    pub fn now(&self) -> Millis {
        self.last
    }

    pub fn agent_state(&self, agent: AgentId) -> Option<&AgentState> {
        self.agents.get(&agent).map(|a| &a.state)
    }

    /// A request an agent made while busy, applied when the call is over.
    pub fn pending(&self, agent: AgentId) -> Option<&Requested> {
        self.agents.get(&agent).and_then(|a| a.pending.as_ref())
    }

    pub fn is_open(&self, queue: QueueId) -> Option<bool> {
        self.queues.get(&queue).map(|q| q.open)
    }

    /// Calls waiting in a queue (callbacks included), in the order they will be offered.
    pub fn waiting(&self, queue: QueueId) -> Vec<CallId> {
        self.queues
            .get(&queue)
            .map(|q| q.line.iter().map(|k| k.2).collect())
            .unwrap_or_default()
    }

    pub fn call(&self, call: CallId) -> Option<CallView> {
        let c = self.calls.get(&call)?;
        let position = match c.phase {
            Phase::Waiting => self.position(call, c),
            _ => None,
        };
        Some(CallView {
            call,
            queue: c.queue,
            priority: c.priority,
            arrived: c.arrived,
            queued_at: c.queued_at,
            position,
            phase: c.phase,
            callback: c.callback,
        })
    }

    /// Every call the ACD holds, in arrival order.
    pub fn calls(&self) -> Vec<CallView> {
        let mut ids: Vec<(u64, CallId)> = self.calls.iter().map(|(id, c)| (c.seq, *id)).collect();
        ids.sort_unstable();
        ids.into_iter()
            .filter_map(|(_, id)| self.call(id))
            .collect()
    }

    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// When the next [`Event::Tick`] is due, if anything is waiting on time.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.timers.first().map(|(t, _)| *t)
    }

    fn position(&self, call: CallId, c: &Call) -> Option<u32> {
        let q = self.queues.get(&c.queue)?;
        let k = key(call, c);
        q.line
            .contains(&k)
            .then(|| q.line.range(..=k).count() as u32)
    }

    // ----- handling events -----

    /// Handles one event at `now`. Work that fell due by `now` (ring timeouts, maximum waits,
    /// announcements, after-call limits, queues opening or closing) happens first, at the
    /// instants it fell due; then the event; then waiting calls are offered to free agents.
    pub fn handle(&mut self, now: Millis, event: Event) -> Result<Vec<Command>, Refused> {
        if now < self.last {
            return Err(Refused {
                error: EventError::TimeWentBack {
                    now,
                    last: self.last,
                },
                commands: Vec::new(),
            });
        }
        let mut out = Vec::new();
        for q in std::mem::take(&mut self.unchecked) {
            self.check_hours(q, now.max(self.last), &mut out);
        }
        self.advance(now, &mut out);
        self.last = now;
        self.roll_stats(now);
        if let Err(error) = self.apply(now, event, &mut out) {
            return Err(Refused {
                error,
                commands: out,
            });
        }
        self.advance(now, &mut out);
        self.dispatch(now, &mut out);
        Ok(out)
    }

    fn roll_stats(&mut self, now: Millis) {
        let bucket = now / self.config.interval;
        if bucket != self.bucket {
            self.bucket = bucket;
            let keep = u64::from(self.config.retention_days) * (DAY / self.config.interval);
            if bucket > keep {
                self.stats.prune(bucket - keep);
            }
        }
    }

    fn advance(&mut self, now: Millis, out: &mut Vec<Command>) {
        while let Some(&(t, timer)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            self.fire(t, timer, now, out);
            self.dispatch(t, out);
        }
    }

    fn apply(
        &mut self,
        now: Millis,
        event: Event,
        out: &mut Vec<Command>,
    ) -> Result<(), EventError> {
        match event {
            Event::CallArrived {
                call,
                queue,
                priority,
            } => {
                if self.calls.contains_key(&call) {
                    return Err(EventError::DuplicateCall(call));
                }
                if !self.queues.contains_key(&queue) {
                    out.push(Command::Close {
                        call,
                        reason: CloseReason::NoSuchQueue,
                    });
                    return Ok(());
                }
                let seq = self.next_seq;
                self.next_seq += 1;
                self.calls.insert(
                    call,
                    Call {
                        queue,
                        priority,
                        arrived: now,
                        queued_at: now,
                        seq,
                        phase: Phase::Waiting,
                        callback: false,
                        callback_offered: false,
                        overflow_at: None,
                        next_announce: None,
                        answered_threshold: None,
                    },
                );
                let bucket = self.bucket_of(now);
                self.stats.calls(Scope::Center, bucket).entered += 1;
                self.enter_queue(call, queue, now, out, 0);
            }
            Event::CallerHungUp { call } => {
                let c = self.calls.get(&call).ok_or(EventError::UnknownCall(call))?;
                match c.phase {
                    Phase::Waiting if c.callback => {
                        let c = self.remove_call(call);
                        self.unline(call, &c);
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::CallbackCancelled,
                        });
                    }
                    Phase::Waiting => {
                        let c = self.remove_call(call);
                        self.unline(call, &c);
                        self.count_abandoned(&c, now);
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Abandoned,
                        });
                    }
                    Phase::Ringing { agent, .. } => {
                        let c = self.remove_call(call);
                        out.push(Command::CancelOffer { call, agent });
                        if !c.callback {
                            self.count_abandoned(&c, now);
                        }
                        self.ready(agent, now, out);
                        out.push(Command::Close {
                            call,
                            reason: if c.callback {
                                CloseReason::CallbackCancelled
                            } else {
                                CloseReason::Abandoned
                            },
                        });
                    }
                    Phase::Connected { agent } => {
                        self.remove_call(call);
                        self.end_call(agent, now, out);
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Completed,
                        });
                    }
                }
            }
            Event::AgentAnswered { agent, call } => {
                self.check_offer(agent, call)?;
                let bucket_now = self.bucket_of(now);
                let c = self
                    .calls
                    .get_mut(&call)
                    .ok_or(EventError::UnknownCall(call))?;
                c.phase = Phase::Connected { agent };
                let queue = c.queue;
                let (queued_at, arrived, callback) = (c.queued_at, c.arrived, c.callback);
                let threshold = self
                    .queues
                    .get(&queue)
                    .map_or(0, |q| q.cfg.service_level_threshold);
                c.answered_threshold = Some(threshold);
                if !callback {
                    let qb = self.bucket_of(queued_at);
                    let wait = now - queued_at;
                    let s = self.stats.calls(Scope::Queue(queue), qb);
                    s.answered += 1;
                    s.answered_wait_ms += wait;
                    s.answered_in_threshold += u64::from(wait <= threshold);
                    let cb = self.bucket_of(arrived);
                    let wait = now - arrived;
                    let s = self.stats.calls(Scope::Center, cb);
                    s.answered += 1;
                    s.answered_wait_ms += wait;
                    s.answered_in_threshold += u64::from(wait <= threshold);
                }
                self.stats.agent(agent, bucket_now).answered += 1;
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.last_queue = Some(queue);
                }
                self.set_state(agent, AgentState::OnCall { call, since: now }, now, out);
            }
            Event::AgentRejected { agent, call } => {
                self.check_offer(agent, call)?;
                out.push(Command::CancelOffer { call, agent });
                self.missed(agent, call, DECLINED, now, out);
            }
            Event::CallbackRequested { call } => {
                let c = self.calls.get(&call).ok_or(EventError::UnknownCall(call))?;
                if c.phase != Phase::Waiting || c.callback {
                    return Err(EventError::NotWaiting(call));
                }
                self.make_callback(call, out);
            }
            Event::CallEnded { call } => {
                let c = self.calls.get(&call).ok_or(EventError::UnknownCall(call))?;
                let phase = c.phase;
                let c = self.remove_call(call);
                match phase {
                    Phase::Connected { agent } => self.end_call(agent, now, out),
                    Phase::Ringing { agent, .. } => {
                        out.push(Command::CancelOffer { call, agent });
                        self.ready(agent, now, out);
                    }
                    Phase::Waiting => self.unline(call, &c),
                }
                out.push(Command::Close {
                    call,
                    reason: CloseReason::Completed,
                });
            }
            Event::AgentStateChanged { agent, to, forced } => {
                if let Requested::Break { reason } = &to
                    && (reason.is_empty() || reason.chars().count() > MAX_REASON)
                {
                    return Err(EventError::BadReason);
                }
                let a = self
                    .agents
                    .get(&agent)
                    .ok_or(EventError::UnknownAgent(agent))?;
                match a.state.clone() {
                    AgentState::OnCall { call, .. } if forced => {
                        self.remove_call(call);
                        out.push(Command::Close {
                            call,
                            reason: CloseReason::Forced,
                        });
                        self.count_handled(agent, now);
                        self.request(agent, to, now, out);
                    }
                    AgentState::Offered { call, .. } if forced => {
                        out.push(Command::CancelOffer { call, agent });
                        self.requeue(call, now, out);
                        self.request(agent, to, now, out);
                    }
                    AgentState::OnCall { .. } | AgentState::Offered { .. } => {
                        let pending = match to {
                            Requested::LogIn | Requested::Available => None,
                            other => Some(other),
                        };
                        if let Some(a) = self.agents.get_mut(&agent) {
                            a.pending = pending;
                            out.push(Command::AgentStatus {
                                agent,
                                state: a.state.clone(),
                                pending: a.pending.clone(),
                            });
                        }
                    }
                    _ => self.request(agent, to, now, out),
                }
            }
            Event::Tick => {}
            Event::ConfigChanged { config } => {
                let tz = config.validate()?;
                for c in self.calls.values() {
                    if !config.queues.iter().any(|q| q.id == c.queue) {
                        return Err(ConfigError::QueueInUse(c.queue).into());
                    }
                }
                for (id, a) in &self.agents {
                    if a.state != AgentState::LoggedOut
                        && !config.agents.iter().any(|c| c.id == *id)
                    {
                        return Err(ConfigError::AgentInUse(*id).into());
                    }
                }
                // Time spent so far is counted under the old configuration.
                let ids: Vec<AgentId> = self.agents.keys().copied().collect();
                for id in ids {
                    self.account_until(id, now);
                }
                self.tz = tz;
                self.install(config);
                for q in std::mem::take(&mut self.unchecked) {
                    self.check_hours(q, now, out);
                }
            }
        }
        Ok(())
    }

    fn check_offer(&self, agent: AgentId, call: CallId) -> Result<(), EventError> {
        match self.agents.get(&agent).map(|a| &a.state) {
            None => Err(EventError::UnknownAgent(agent)),
            Some(AgentState::Offered { call: c, .. }) if *c == call => Ok(()),
            Some(_) => Err(EventError::NotOffered { agent, call }),
        }
    }

    fn bucket_of(&self, t: Millis) -> u64 {
        t / self.config.interval
    }

    fn remove_call(&mut self, call: CallId) -> Call {
        self.calls.remove(&call).expect("checked by the caller")
    }

    fn unline(&mut self, call: CallId, c: &Call) {
        if let Some(q) = self.queues.get_mut(&c.queue) {
            q.line.remove(&key(call, c));
        }
    }

    fn count_abandoned(&mut self, c: &Call, now: Millis) {
        let qb = self.bucket_of(c.queued_at);
        let s = self.stats.calls(Scope::Queue(c.queue), qb);
        s.abandoned += 1;
        s.abandoned_wait_ms += now - c.queued_at;
        let cb = self.bucket_of(c.arrived);
        let s = self.stats.calls(Scope::Center, cb);
        s.abandoned += 1;
        s.abandoned_wait_ms += now - c.arrived;
    }

    fn count_handled(&mut self, agent: AgentId, now: Millis) {
        let b = self.bucket_of(now);
        self.stats.agent(agent, b).handled += 1;
        self.stats.calls(Scope::Center, b).handled += 1;
        if let Some(q) = self.agents.get(&agent).and_then(|a| a.last_queue) {
            self.stats.calls(Scope::Queue(q), b).handled += 1;
        }
    }

    /// A call enters `queue`: after-hours handling if it is closed, else it joins the line.
    fn enter_queue(
        &mut self,
        call: CallId,
        queue: QueueId,
        now: Millis,
        out: &mut Vec<Command>,
        depth: usize,
    ) {
        let bucket = self.bucket_of(now);
        let Some(q) = self.queues.get(&queue) else {
            return;
        };
        let cfg = q.cfg.clone();
        let open = q.open;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.queue = queue;
        c.queued_at = now;
        c.phase = Phase::Waiting;
        c.overflow_at = None;
        c.next_announce = None;
        let callback = c.callback;
        self.stats.calls(Scope::Queue(queue), bucket).entered += 1;
        if !open && !callback && self.after_hours(call, &cfg, now, out, depth) {
            return;
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !c.callback {
            if let (Some(max), Some(_)) = (cfg.max_wait, cfg.overflow_to) {
                c.overflow_at = Some(now + max);
                self.timers.insert((now + max, Timer::MaxWait(call)));
            }
            if let Some(a) = cfg.announcements {
                c.next_announce = Some(now + a.first_after);
                self.timers
                    .insert((now + a.first_after, Timer::Announce(call)));
            }
        }
        let k = key(call, c);
        if let Some(q) = self.queues.get_mut(&queue) {
            q.line.insert(k);
        }
        self.dirty_queues.insert((Reverse(cfg.priority), queue));
    }

    /// Applies a closed queue's after-hours rule to a live call not in its line. Returns
    /// whether the call left the queue (redirected or sent to voicemail).
    fn after_hours(
        &mut self,
        call: CallId,
        cfg: &QueueConfig,
        now: Millis,
        out: &mut Vec<Command>,
        depth: usize,
    ) -> bool {
        let bucket = self.bucket_of(now);
        match cfg.after_hours {
            AfterHours::Callback => {
                self.make_callback(call, out);
                false
            }
            AfterHours::Redirect(to) if depth < self.queues.len() => {
                self.stats.calls(Scope::Queue(cfg.id), bucket).redirected += 1;
                out.push(Command::Overflow {
                    call,
                    from: cfg.id,
                    to,
                    reason: OverflowReason::AfterHours,
                });
                self.enter_queue(call, to, now, out, depth + 1);
                true
            }
            AfterHours::Redirect(_) | AfterHours::Voicemail => {
                let c = self.remove_call(call);
                self.stats.calls(Scope::Queue(cfg.id), bucket).voicemail += 1;
                self.stats
                    .calls(Scope::Center, self.bucket_of(c.arrived))
                    .voicemail += 1;
                out.push(Command::SendToVoicemail { call });
                out.push(Command::Close {
                    call,
                    reason: CloseReason::Voicemail,
                });
                true
            }
        }
    }

    /// The caller's leg ends; the call keeps its place in line and will be called back.
    fn make_callback(&mut self, call: CallId, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.callback = true;
        c.overflow_at = None;
        c.next_announce = None;
        let (queue, qb, cb) = (c.queue, c.queued_at, c.arrived);
        let (qb, cb) = (self.bucket_of(qb), self.bucket_of(cb));
        self.stats.calls(Scope::Queue(queue), qb).callbacks += 1;
        self.stats.calls(Scope::Center, cb).callbacks += 1;
        out.push(Command::SendToCallback { call });
    }

    /// Puts a call that was ringing back in its place in line.
    fn requeue(&mut self, call: CallId, now: Millis, out: &mut Vec<Command>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Waiting;
        let (queue, callback) = (c.queue, c.callback);
        if let Some(t) = c.overflow_at {
            self.timers.insert((t.max(now), Timer::MaxWait(call)));
            c.overflow_at = Some(t.max(now));
        }
        let k = key(call, c);
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        let (open, cfg) = (q.open, q.cfg.clone());
        if let (Some(a), Some(c)) = (cfg.announcements, self.calls.get_mut(&call))
            && !c.callback
        {
            c.next_announce = Some(now + a.every);
            self.timers.insert((now + a.every, Timer::Announce(call)));
        }
        if !open && !callback && self.after_hours(call, &cfg, now, out, 0) {
            return;
        }
        if let Some(q) = self.queues.get_mut(&queue) {
            q.line.insert(k);
        }
        self.dirty_queues.insert((Reverse(cfg.priority), queue));
    }

    /// The agent did not take an offered call: it goes back in line, and the agent is put on
    /// break (not ready) until they make themselves available, unless they had asked for
    /// something else meanwhile.
    fn missed(
        &mut self,
        agent: AgentId,
        call: CallId,
        reason: &str,
        now: Millis,
        out: &mut Vec<Command>,
    ) {
        let b = self.bucket_of(now);
        self.stats.agent(agent, b).missed += 1;
        self.requeue(call, now, out);
        let pending = self.agents.get_mut(&agent).and_then(|a| a.pending.take());
        match pending {
            Some(req) => self.request(agent, req, now, out),
            None => self.set_state(
                agent,
                AgentState::Break {
                    reason: reason.to_owned(),
                    since: now,
                },
                now,
                out,
            ),
        }
    }

    /// The agent's call is over: after-call work, or straight on.
    fn end_call(&mut self, agent: AgentId, now: Millis, out: &mut Vec<Command>) {
        self.count_handled(agent, now);
        let limit = self
            .agents
            .get(&agent)
            .map_or(0, |a| a.cfg.after_call_limit);
        if limit > 0 {
            self.set_state(agent, AgentState::AfterCallWork { since: now }, now, out);
        } else {
            self.ready(agent, now, out);
        }
    }

    /// The agent is free: their pending request, or available.
    fn ready(&mut self, agent: AgentId, now: Millis, out: &mut Vec<Command>) {
        let pending = self.agents.get_mut(&agent).and_then(|a| a.pending.take());
        self.request(agent, pending.unwrap_or(Requested::Available), now, out);
    }

    fn request(&mut self, agent: AgentId, to: Requested, now: Millis, out: &mut Vec<Command>) {
        if let Some(a) = self.agents.get_mut(&agent) {
            a.pending = None;
        }
        let next = match to {
            Requested::LogIn | Requested::Available => {
                if let Some(AgentState::Available { .. }) = self.agent_state(agent) {
                    return;
                }
                AgentState::Available { since: now }
            }
            Requested::Break { reason } => AgentState::Break { reason, since: now },
            Requested::LogOut => AgentState::LoggedOut,
        };
        self.set_state(agent, next, now, out);
    }

    /// The one place an agent's state changes: time accounting, indexes, deadlines, notice.
    fn set_state(&mut self, agent: AgentId, next: AgentState, now: Millis, out: &mut Vec<Command>) {
        self.account_until(agent, now);
        let Some(a) = self.agents.get_mut(&agent) else {
            return;
        };
        let old = std::mem::replace(&mut a.state, next.clone());
        let skills = a.cfg.skills.clone();
        let limit = a.cfg.after_call_limit;
        if let AgentState::Available { since } = old {
            for (s, level) in &skills {
                if let Some(set) = self.idle.get_mut(s) {
                    set.remove(&(since, agent));
                }
                if let Some(set) = self.idle_skilled.get_mut(s) {
                    set.remove(&(10 - level, since, agent));
                }
            }
        }
        if let AgentState::Available { since } = next {
            for (s, level) in &skills {
                self.idle.entry(*s).or_default().insert((since, agent));
                self.idle_skilled
                    .entry(*s)
                    .or_default()
                    .insert((10 - level, since, agent));
            }
            self.dirty_agents.insert((since, agent));
        }
        match (old.is_staffed(), next.is_staffed()) {
            (false, true) => {
                for (s, _) in &skills {
                    *self.staffed.entry(*s).or_default() += 1;
                }
            }
            (true, false) => {
                for (s, _) in &skills {
                    if let Some(n) = self.staffed.get_mut(s) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            _ => {}
        }
        if let AgentState::AfterCallWork { since } = next {
            self.timers.insert((since + limit, Timer::AfterCall(agent)));
        }
        let pending = self.agents.get(&agent).and_then(|a| a.pending.clone());
        out.push(Command::AgentStatus {
            agent,
            state: next,
            pending,
        });
    }

    /// Counts the agent's time in their current state up to `now`, and restarts the clock.
    fn account_until(&mut self, agent: AgentId, now: Millis) {
        let Some(a) = self.agents.get(&agent) else {
            return;
        };
        let Some(since) = a.state.since() else {
            return;
        };
        let from = since.max(a.accounted);
        if now > from {
            let interval = self.config.interval;
            account(&mut self.stats, &self.skill_queues, a, from, now, interval);
        }
        if let Some(a) = self.agents.get_mut(&agent) {
            a.accounted = now;
        }
    }

    /// Does what fell due at `t` (handled at `now`, which may be later).
    fn fire(&mut self, t: Millis, timer: Timer, now: Millis, out: &mut Vec<Command>) {
        match timer {
            Timer::Hours(q) => {
                if self.queues.get(&q).and_then(|q| q.next_change) == Some(t) {
                    self.check_hours(q, t, out);
                }
            }
            Timer::Ring(call) => {
                if let Some(c) = self.calls.get(&call)
                    && let Phase::Ringing { agent, until } = c.phase
                    && until == t
                {
                    out.push(Command::CancelOffer { call, agent });
                    self.missed(agent, call, NO_ANSWER, t, out);
                }
            }
            Timer::MaxWait(call) => {
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                if c.phase != Phase::Waiting || c.callback || c.overflow_at != Some(t) {
                    return;
                }
                let from = c.queue;
                let Some(to) = self.queues.get(&from).and_then(|q| q.cfg.overflow_to) else {
                    return;
                };
                let c = c.clone();
                self.unline(call, &c);
                let b = self.bucket_of(c.queued_at);
                self.stats.calls(Scope::Queue(from), b).overflowed += 1;
                out.push(Command::Overflow {
                    call,
                    from,
                    to,
                    reason: OverflowReason::MaxWait,
                });
                self.enter_queue(call, to, t, out, 0);
            }
            Timer::Announce(call) => {
                let Some(c) = self.calls.get(&call) else {
                    return;
                };
                if c.phase != Phase::Waiting || c.callback || c.next_announce != Some(t) {
                    return;
                }
                let Some(cfg) = self.queues.get(&c.queue).map(|q| q.cfg.clone()) else {
                    return;
                };
                let position = self.position(call, c).unwrap_or(1);
                let offered_before = c.callback_offered;
                let ewt = self.estimated_wait(&cfg, position, t);
                out.push(Command::PlayAnnouncement {
                    call,
                    position,
                    estimated_wait_seconds: ewt.map(|ms| ms.div_ceil(1000) as u32),
                });
                let offer = match (cfg.callback_after, ewt) {
                    (Some(limit), Some(ewt)) => ewt > limit,
                    // Nobody staffed: the wait has no end in sight.
                    (Some(_), None) => true,
                    _ => false,
                };
                if let Some(c) = self.calls.get_mut(&call) {
                    if offer && !offered_before {
                        c.callback_offered = true;
                        out.push(Command::OfferCallback {
                            call,
                            estimated_wait_seconds: ewt.map_or(u32::MAX, |ms| {
                                ms.div_ceil(1000).min(u64::from(u32::MAX)) as u32
                            }),
                        });
                    }
                    if let Some(a) = cfg.announcements {
                        // After a gap (a restart), one announcement, not one per missed period.
                        let next = if t + a.every <= now {
                            now + a.every
                        } else {
                            t + a.every
                        };
                        c.next_announce = Some(next);
                        self.timers.insert((next, Timer::Announce(call)));
                    }
                }
            }
            Timer::AfterCall(agent) => {
                if let Some(a) = self.agents.get(&agent)
                    && let AgentState::AfterCallWork { since } = a.state
                    && since + a.cfg.after_call_limit <= t
                {
                    self.ready(agent, t, out);
                }
            }
        }
    }

    /// Estimated wait for the caller at `position`: position × AHT ÷ staffed agents, with the
    /// day's AHT once ten calls are handled (the configured expectation before).
    fn estimated_wait(&self, cfg: &QueueConfig, position: u32, now: Millis) -> Option<Millis> {
        let staffed = *self.staffed.get(&cfg.skill).unwrap_or(&0);
        if staffed == 0 {
            return None;
        }
        let day = self.day_counters(Scope::Queue(cfg.id), now);
        let aht = if day.handled >= 10 {
            (day.talk_ms + day.after_call_ms) / day.handled
        } else {
            cfg.expected_handle
        };
        Some(u64::from(position) * aht / u64::from(staffed))
    }

    /// Reads a queue's hours at `now`; on a change, opens it (its line is offered again) or
    /// closes it (callers still waiting get the after-hours rule; callbacks wait).
    fn check_hours(&mut self, queue: QueueId, now: Millis, out: &mut Vec<Command>) {
        let Some(q) = self.queues.get(&queue) else {
            return;
        };
        let hours = q.cfg.hours.clone();
        let was_open = q.open;
        let always = hours.weekly.is_empty() && hours.holidays.is_empty();
        let open = always || hours.is_open(&self.tz, now);
        let next = if always {
            None
        } else {
            hours.next_change(&self.tz, now)
        };
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        q.open = open;
        q.next_change = next;
        let cfg = q.cfg.clone();
        if let Some(t) = next {
            self.timers.insert((t, Timer::Hours(queue)));
        }
        if open == was_open {
            return;
        }
        out.push(Command::QueueStatus { queue, open });
        if open {
            self.dirty_queues.insert((Reverse(cfg.priority), queue));
            return;
        }
        let live: Vec<LineKey> = self.queues[&queue]
            .line
            .iter()
            .filter(|k| self.calls.get(&k.2).is_some_and(|c| !c.callback))
            .copied()
            .collect();
        for k in live {
            let call = k.2;
            if let Some(q) = self.queues.get_mut(&queue) {
                q.line.remove(&k);
            }
            if !self.after_hours(call, &cfg, now, out, 0) {
                // Became a callback: back in its place.
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.line.insert(k);
                }
            }
        }
    }

    /// Offers waiting calls to free agents. Agents who just became free take the best call
    /// they have the skill for (queue priority, then call priority, then arrival; proficiency
    /// decides between queues otherwise equal); then queues that gained calls, highest
    /// priority first, pick agents by their selection rule.
    fn dispatch(&mut self, now: Millis, out: &mut Vec<Command>) {
        while let Some((since, agent)) = self.dirty_agents.pop_first() {
            let Some(a) = self.agents.get(&agent) else {
                continue;
            };
            if a.state != (AgentState::Available { since }) {
                continue;
            }
            let mut best: Option<(u8, u8, LineKey, QueueId)> = None;
            for (skill, level) in &a.cfg.skills {
                for qid in self.skill_queues.get(skill).into_iter().flatten() {
                    let q = &self.queues[qid];
                    if !q.open {
                        continue;
                    }
                    let Some(head) = q.line.first() else {
                        continue;
                    };
                    let cand = (q.cfg.priority, *level, *head, *qid);
                    let better = match &best {
                        None => true,
                        Some(b) => cand
                            .0
                            .cmp(&b.0)
                            .then(b.2.0.cmp(&cand.2.0))
                            .then(b.2.1.cmp(&cand.2.1))
                            .then(cand.1.cmp(&b.1))
                            .is_gt(),
                    };
                    if better {
                        best = Some(cand);
                    }
                }
            }
            if let Some((_, _, k, q)) = best {
                self.offer(k, q, agent, now, out);
            }
        }
        while let Some((_, qid)) = self.dirty_queues.pop_first() {
            while let Some((k, agent)) = self.next_pair(qid) {
                self.offer(k, qid, agent, now, out);
            }
        }
    }

    /// The head of an open queue's line and the free agent its selection rule picks.
    fn next_pair(&self, qid: QueueId) -> Option<(LineKey, AgentId)> {
        let q = self.queues.get(&qid)?;
        if !q.open {
            return None;
        }
        let k = *q.line.first()?;
        let skill = q.cfg.skill;
        let agent = match q.cfg.selection {
            crate::Selection::LongestIdle => self.idle.get(&skill)?.first()?.1,
            crate::Selection::MostSkilled => self.idle_skilled.get(&skill)?.first()?.2,
        };
        Some((k, agent))
    }

    fn offer(
        &mut self,
        k: LineKey,
        queue: QueueId,
        agent: AgentId,
        now: Millis,
        out: &mut Vec<Command>,
    ) {
        let call = k.2;
        let Some(q) = self.queues.get_mut(&queue) else {
            return;
        };
        q.line.remove(&k);
        let ring = q.cfg.ring_timeout;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Ringing {
            agent,
            until: now + ring,
        };
        let callback = c.callback;
        self.timers.insert((now + ring, Timer::Ring(call)));
        let b = self.bucket_of(now);
        self.stats.agent(agent, b).offered += 1;
        self.set_state(agent, AgentState::Offered { call, since: now }, now, out);
        out.push(Command::OfferCall {
            call,
            agent,
            queue,
            callback,
        });
    }

    // ----- statistics -----

    /// The first interval of the center's local day holding `now`.
    fn day_start_bucket(&self, now: Millis) -> u64 {
        let start = zoned(&self.tz, now)
            .start_of_day()
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(0);
        u64::try_from(start).unwrap_or(0) / self.config.interval
    }

    fn day_counters(&self, scope: Scope, now: Millis) -> Counters {
        let from = self.day_start_bucket(now);
        let to = self.bucket_of(now);
        let mut sum = Counters::default();
        for (_, c) in self.stats.calls.range((scope, from)..=(scope, to)) {
            sum.add(c);
        }
        sum
    }

    /// Agents' time in their current state up to `now`, not yet counted in `self.stats`: a
    /// small delta that reads add to the recorded figures (no copy of the statistics).
    fn live_delta(&self, now: Millis) -> Stats {
        let mut stats = Stats::default();
        for a in self.agents.values() {
            if let Some(since) = a.state.since()
                && now > since.max(a.accounted)
            {
                let from = since.max(a.accounted);
                account(
                    &mut stats,
                    &self.skill_queues,
                    a,
                    from,
                    now,
                    self.config.interval,
                );
            }
        }
        stats
    }

    /// A scope's interval counters over buckets `from..=to`, recorded plus `delta`.
    fn buckets(&self, delta: &Stats, scope: Scope, from: u64, to: u64) -> BTreeMap<u64, Counters> {
        let mut out: BTreeMap<u64, Counters> = BTreeMap::new();
        for source in [&self.stats, delta] {
            for ((_, b), c) in source.calls.range((scope, from)..=(scope, to)) {
                out.entry(*b).or_default().add(c);
            }
        }
        out
    }

    /// Every queue, live, with the current interval's and today's figures.
    pub fn queue_status(&self, now: Millis) -> Vec<QueueStatus> {
        let delta = self.live_delta(now);
        let (from, to) = (self.day_start_bucket(now), self.bucket_of(now));
        self.queues
            .values()
            .map(|q| {
                let scope = Scope::Queue(q.cfg.id);
                let day = self.buckets(&delta, scope, from, to);
                let interval = day.get(&to).copied().unwrap_or_default();
                let mut today = Counters::default();
                for c in day.values() {
                    today.add(c);
                }
                let (mut waiting, mut callbacks, mut longest) = (0, 0, None::<Millis>);
                for k in &q.line {
                    if let Some(c) = self.calls.get(&k.2) {
                        if c.callback {
                            callbacks += 1;
                        } else {
                            waiting += 1;
                            let w = now.saturating_sub(c.queued_at);
                            longest = Some(longest.map_or(w, |l| l.max(w)));
                        }
                    }
                }
                let (mut ringing, mut connected) = (0, 0);
                let mut available = 0;
                for a in self.agents.values() {
                    match &a.state {
                        AgentState::Offered { call, .. } | AgentState::OnCall { call, .. }
                            if self.calls.get(call).is_some_and(|c| c.queue == q.cfg.id) =>
                        {
                            if matches!(a.state, AgentState::Offered { .. }) {
                                ringing += 1;
                            } else {
                                connected += 1;
                            }
                        }
                        AgentState::Available { .. }
                            if a.cfg.skills.iter().any(|(s, _)| *s == q.cfg.skill) =>
                        {
                            available += 1;
                        }
                        _ => {}
                    }
                }
                QueueStatus {
                    queue: q.cfg.id,
                    name: q.cfg.name.clone(),
                    open: q.open,
                    waiting,
                    callbacks_waiting: callbacks,
                    ringing,
                    connected,
                    longest_wait_ms: longest,
                    staffed: *self.staffed.get(&q.cfg.skill).unwrap_or(&0),
                    available,
                    service_level_threshold_ms: q.cfg.service_level_threshold,
                    interval,
                    interval_measures: interval.measures(),
                    today,
                    today_measures: today.measures(),
                }
            })
            .collect()
    }

    /// Every agent, live, with today's figures.
    pub fn agent_status(&self, now: Millis) -> Vec<AgentStatus> {
        let delta = self.live_delta(now);
        let (from, to) = (self.day_start_bucket(now), self.bucket_of(now));
        self.agents
            .values()
            .map(|a| {
                let mut today = AgentCounters::default();
                for source in [&self.stats, &delta] {
                    for (_, c) in source.agents.range((a.cfg.id, from)..=(a.cfg.id, to)) {
                        today.add(c);
                    }
                }
                AgentStatus {
                    agent: a.cfg.id,
                    name: a.cfg.name.clone(),
                    state: a.state.clone(),
                    pending: a.pending.clone(),
                    in_state_ms: a.state.since().map(|s| now.saturating_sub(s)),
                    today_occupancy: today.occupancy(),
                    today,
                }
            })
            .collect()
    }

    /// Interval figures for a queue or the center from `from` to `to` (instants; each interval
    /// reported by its start), agents' current time counted up to `now`.
    pub fn intervals(
        &self,
        scope: Scope,
        from: Millis,
        to: Millis,
        now: Millis,
    ) -> Vec<(Millis, Counters)> {
        let i = self.config.interval;
        self.buckets(&self.live_delta(now), scope, from / i, to / i)
            .into_iter()
            .map(|(b, c)| (b * i, c))
            .collect()
    }

    /// A queue's or the center's figures summed over `[from, to)` (whole intervals).
    pub fn totals(&self, scope: Scope, from: Millis, to: Millis, now: Millis) -> Counters {
        let mut sum = Counters::default();
        for (_, c) in self.intervals(scope, from, to.saturating_sub(1), now) {
            sum.add(&c);
        }
        sum
    }

    /// Today's figures for the center.
    pub fn today(&self, scope: Scope, now: Millis) -> Counters {
        let from = self.day_start_bucket(now) * self.config.interval;
        self.totals(scope, from, now + 1, now)
    }

    // ----- snapshots -----

    pub fn snapshot(&self) -> Snapshot {
        let mut calls: Vec<(CallId, Call)> =
            self.calls.iter().map(|(id, c)| (*id, c.clone())).collect();
        calls.sort_by_key(|(_, c)| c.seq);
        Snapshot {
            config: self.config.clone(),
            queues: self
                .queues
                .values()
                .map(|q| (q.cfg.id, q.open, q.next_change))
                .collect(),
            calls,
            agents: self
                .agents
                .values()
                .map(|a| {
                    (
                        a.cfg.id,
                        a.state.clone(),
                        a.pending.clone(),
                        a.last_queue,
                        a.accounted,
                    )
                })
                .collect(),
            next_seq: self.next_seq,
            last: self.last,
            call_stats: self
                .stats
                .calls
                .iter()
                .map(|((s, b), c)| (*s, *b, *c))
                .collect(),
            agent_stats: self
                .stats
                .agents
                .iter()
                .map(|((a, b), c)| (*a, *b, *c))
                .collect(),
            unchecked: self.unchecked.iter().copied().collect(),
        }
    }

    /// Rebuilds an ACD from a snapshot: it then behaves exactly as the one that took it.
    pub fn restore(s: Snapshot) -> Result<Self, ConfigError> {
        let mut acd = Acd::new(s.config)?;
        for (id, open, next) in s.queues {
            if let Some(q) = acd.queues.get_mut(&id) {
                q.open = open;
                q.next_change = next;
            }
        }
        acd.unchecked = s.unchecked.into_iter().collect();
        for (id, state, pending, last_queue, accounted) in s.agents {
            if let Some(a) = acd.agents.get_mut(&id) {
                a.state = state;
                a.pending = pending;
                a.last_queue = last_queue;
                a.accounted = accounted;
            }
        }
        acd.calls = s.calls.into_iter().collect();
        acd.next_seq = s.next_seq;
        acd.last = s.last;
        acd.bucket = s.last / acd.config.interval;
        acd.stats.calls = s
            .call_stats
            .into_iter()
            .map(|(sc, b, c)| ((sc, b), c))
            .collect();
        acd.stats.agents = s
            .agent_stats
            .into_iter()
            .map(|(a, b, c)| ((a, b), c))
            .collect();
        acd.reindex();
        Ok(acd)
    }

    /// Checks the internal indexes against the state (for tests): every waiting call is in its
    /// queue's line exactly once, every available agent in the idle sets, nobody offered two
    /// calls, and no free agent could take a waiting call in an open queue.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut lined = 0;
        for q in self.queues.values() {
            for k in &q.line {
                let c = self
                    .calls
                    .get(&k.2)
                    .ok_or(format!("{:?} lined but unknown", k.2))?;
                if c.phase != Phase::Waiting || c.queue != q.cfg.id || key(k.2, c) != *k {
                    return Err(format!("{:?} lined in {:?} but {:?}", k.2, q.cfg.id, c));
                }
                lined += 1;
            }
        }
        let waiting = self
            .calls
            .values()
            .filter(|c| c.phase == Phase::Waiting)
            .count();
        if waiting != lined {
            return Err(format!("{waiting} calls waiting, {lined} in lines"));
        }
        let mut offered = BTreeMap::new();
        for (id, a) in &self.agents {
            match &a.state {
                AgentState::Offered { call, .. } | AgentState::OnCall { call, .. } => {
                    let c = self
                        .calls
                        .get(call)
                        .ok_or(format!("{id:?} holds unknown {call:?}"))?;
                    let mine = matches!(c.phase, Phase::Ringing { agent, .. } | Phase::Connected { agent } if agent == *id);
                    if !mine {
                        return Err(format!("{id:?} holds {call:?} which is {:?}", c.phase));
                    }
                    if offered.insert(*call, *id).is_some() {
                        return Err(format!("{call:?} held by two agents"));
                    }
                    let skill = self.queues[&c.queue].cfg.skill;
                    if !a.cfg.skills.iter().any(|(s, _)| *s == skill) {
                        return Err(format!("{id:?} holds {call:?} without the skill"));
                    }
                }
                AgentState::Available { since } => {
                    for (s, _) in &a.cfg.skills {
                        if !self
                            .idle
                            .get(s)
                            .is_some_and(|set| set.contains(&(*since, *id)))
                        {
                            return Err(format!("{id:?} available but not indexed"));
                        }
                        for qid in self.skill_queues.get(s).into_iter().flatten() {
                            let q = &self.queues[qid];
                            if q.open && !q.line.is_empty() {
                                return Err(format!("{id:?} is free while {qid:?} has calls"));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        for c in self.calls.values() {
            if let Phase::Ringing { agent, .. } | Phase::Connected { agent } = c.phase {
                let held = matches!(self.agents.get(&agent).map(|a| &a.state), Some(AgentState::Offered { call, .. } | AgentState::OnCall { call, .. }) if self.calls.get(call).is_some_and(|x| x.seq == c.seq));
                if !held {
                    return Err(format!(
                        "call {} with {agent:?} who does not hold it",
                        c.seq
                    ));
                }
            }
        }
        let idle: usize = self.idle.values().map(|s| s.len()).sum();
        let expected: usize = self
            .agents
            .values()
            .filter(|a| matches!(a.state, AgentState::Available { .. }))
            .map(|a| a.cfg.skills.len())
            .sum();
        if idle != expected {
            return Err(format!("idle index holds {idle}, expected {expected}"));
        }
        Ok(())
    }
}

fn key(call: CallId, c: &Call) -> LineKey {
    (Reverse(c.priority), c.seq, call)
}

/// Adds an agent's time in its state over `[from, to)` to the statistics.
fn account(
    stats: &mut Stats,
    skill_queues: &HashMap<SkillId, Vec<QueueId>>,
    a: &Agent,
    from: Millis,
    to: Millis,
    interval: Millis,
) {
    for (bucket, ms) in split(from, to, interval) {
        let ac = stats.agent(a.cfg.id, bucket);
        match a.state {
            AgentState::LoggedOut => {}
            AgentState::Break { .. } => ac.break_ms += ms,
            AgentState::Available { .. } | AgentState::Offered { .. } => {
                ac.idle_ms += ms;
                let queues: Vec<QueueId> = a
                    .cfg
                    .skills
                    .iter()
                    .flat_map(|(s, _)| skill_queues.get(s).into_iter().flatten().copied())
                    .collect();
                if !queues.is_empty() {
                    let share = ms / queues.len() as u64;
                    for q in queues {
                        stats.calls(Scope::Queue(q), bucket).idle_ms += share;
                    }
                }
                let c = stats.calls(Scope::Center, bucket);
                c.idle_ms += ms;
                c.staffed_ms += ms;
            }
            AgentState::OnCall { .. } | AgentState::AfterCallWork { .. } => {
                let talk = matches!(a.state, AgentState::OnCall { .. });
                if talk {
                    ac.talk_ms += ms;
                } else {
                    ac.after_call_ms += ms;
                }
                let add = |c: &mut Counters| {
                    if talk {
                        c.talk_ms += ms;
                    } else {
                        c.after_call_ms += ms;
                    }
                };
                if let Some(q) = a.last_queue {
                    add(stats.calls(Scope::Queue(q), bucket));
                }
                let c = stats.calls(Scope::Center, bucket);
                add(c);
                c.staffed_ms += ms;
            }
        }
    }
}
