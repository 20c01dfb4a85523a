//! What the ACD is told: queues (desks), agents, hours of operation, and the center's time zone.

use std::collections::HashSet;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

use crate::{AgentId, Millis, QueueId, SkillId};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The center's IANA time zone: hours of operation and "today" are read in it.
    #[serde(default = "default_zone")]
    pub time_zone: String,
    /// The statistics interval: 15, 30 or 60 minutes.
    #[serde(default = "default_interval")]
    pub interval: Millis,
    /// How many days of interval statistics are kept.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    #[serde(default)]
    pub queues: Vec<QueueConfig>,
    #[serde(default)]
    pub agents: Vec<AgentConfig>,
}

fn default_zone() -> String {
    "America/New_York".to_owned()
}
fn default_interval() -> Millis {
    30 * MINUTE
}
fn default_retention() -> u32 {
    8
}

impl Default for Config {
    fn default() -> Self {
        Self {
            time_zone: default_zone(),
            interval: default_interval(),
            retention_days: default_retention(),
            queues: Vec::new(),
            agents: Vec::new(),
        }
    }
}

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

/// How a queue picks among the agents free to take its call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The agent who has waited longest for a call.
    #[default]
    LongestIdle,
    /// The most proficient agent in the queue's skill; longest idle among equals.
    MostSkilled,
}

/// What happens to a call that reaches a queue while it is closed (and to callers still waiting
/// when it closes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "queue")]
pub enum AfterHours {
    /// The caller is told they will be called back; the call keeps its place in line and is
    /// offered when the queue opens.
    #[default]
    Callback,
    /// The call goes on to another queue (the 24/7 desk).
    Redirect(QueueId),
    /// The caller may leave a message; the call is over for the ACD.
    Voicemail,
}

/// Position and wait announcements for callers in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcements {
    /// The first announcement, this long after the call enters the queue.
    pub first_after: Millis,
    /// Then again at this period while the caller waits.
    pub every: Millis,
}

/// A queue's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub id: QueueId,
    pub name: String,
    /// The skill an agent needs to take this queue's calls.
    pub skill: SkillId,
    /// Higher first, across queues, when an agent could take calls from several.
    #[serde(default)]
    pub priority: u8,
    #[serde(default)]
    pub selection: Selection,
    /// How long an offered call rings before it goes back to its place in line.
    pub ring_timeout: Millis,
    /// After this long waiting, the call overflows to `overflow_to`.
    #[serde(default)]
    pub max_wait: Option<Millis>,
    #[serde(default)]
    pub overflow_to: Option<QueueId>,
    #[serde(default)]
    pub hours: Hours,
    #[serde(default)]
    pub after_hours: AfterHours,
    /// The T of the service level SL(T).
    #[serde(default = "default_sl")]
    pub service_level_threshold: Millis,
    #[serde(default)]
    pub announcements: Option<Announcements>,
    /// Offer a callback when the estimated wait is longer than this.
    #[serde(default)]
    pub callback_after: Option<Millis>,
    /// The handle time assumed for wait estimates until the day has ten handled calls.
    #[serde(default = "default_handle")]
    pub expected_handle: Millis,
}

fn default_sl() -> Millis {
    20 * SECOND
}
fn default_handle() -> Millis {
    5 * MINUTE
}

impl QueueConfig {
    /// A queue open around the clock with the defaults.
    pub fn new(id: QueueId, name: &str, skill: SkillId) -> Self {
        Self {
            id,
            name: name.to_owned(),
            skill,
            priority: 0,
            selection: Selection::LongestIdle,
            ring_timeout: 15 * SECOND,
            max_wait: None,
            overflow_to: None,
            hours: Hours::default(),
            after_hours: AfterHours::default(),
            service_level_threshold: default_sl(),
            announcements: None,
            callback_after: None,
            expected_handle: default_handle(),
        }
    }
}

/// An agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub id: AgentId,
    #[serde(default)]
    pub name: String,
    /// Skills with proficiency 1 (lowest) to 10.
    pub skills: Vec<(SkillId, u8)>,
    /// After-call work ends on its own after this long (zero: straight back to available).
    pub after_call_limit: Millis,
    /// The username of the center user who works as this agent: only they (or a supervisor)
    /// may change its state or answer its calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Hours of operation: open around the clock, or in weekly windows of local time, closed on
/// holidays (whole local days).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hours {
    /// Empty: open around the clock (holidays still close it).
    #[serde(default)]
    pub weekly: Vec<Window>,
    #[serde(default)]
    pub holidays: Vec<Date>,
}

/// Open on `days` from `open` to `close` (local time; `close` after `open`, same day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub days: Vec<Day>,
    pub open: Time,
    pub close: Time,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const WEEKDAYS: [Day; 5] = [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri];

    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Monday,
            Day::Tue => Weekday::Tuesday,
            Day::Wed => Weekday::Wednesday,
            Day::Thu => Weekday::Thursday,
            Day::Fri => Weekday::Friday,
            Day::Sat => Weekday::Saturday,
            Day::Sun => Weekday::Sunday,
        }
    }
}

/// How far ahead [`Hours::next_change`] looks for an opening or closing.
const HORIZON_DAYS: i32 = 400;

pub(crate) fn zoned(tz: &TimeZone, at: Millis) -> Zoned {
    let ts = Timestamp::from_millisecond(at as i64).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(tz.clone())
}

fn instant(tz: &TimeZone, date: Date, time: Time) -> Option<Millis> {
    let z = date.to_datetime(time).to_zoned(tz.clone()).ok()?;
    u64::try_from(z.timestamp().as_millisecond()).ok()
}

impl Hours {
    /// Open around the clock, every day.
    pub fn always() -> Self {
        Self::default()
    }

    /// Open `open`–`close` local time on weekdays.
    pub fn weekdays(open: Time, close: Time) -> Self {
        Self {
            weekly: vec![Window {
                days: Day::WEEKDAYS.to_vec(),
                open,
                close,
            }],
            holidays: Vec::new(),
        }
    }

    fn windows_on(&self, date: Date) -> impl Iterator<Item = &Window> {
        let holiday = self.holidays.contains(&date);
        let wd = date.weekday();
        self.weekly
            .iter()
            .filter(move |w| !holiday && w.days.iter().any(|d| d.weekday() == wd))
    }

    /// Whether the queue is open at `at`.
    pub fn is_open(&self, tz: &TimeZone, at: Millis) -> bool {
        let z = zoned(tz, at);
        let date = z.date();
        if self.weekly.is_empty() {
            return !self.holidays.contains(&date);
        }
        let time = z.time();
        self.windows_on(date)
            .any(|w| w.open <= time && time < w.close)
    }

    /// The first instant after `at` when the queue opens or closes, if one comes within
    /// about a year.
    pub fn next_change(&self, tz: &TimeZone, at: Millis) -> Option<Millis> {
        let now_open = self.is_open(tz, at);
        let today = zoned(tz, at).date();
        for offset in 0..HORIZON_DAYS {
            let date = today.checked_add(jiff::Span::new().days(offset)).ok()?;
            let mut edges: Vec<Millis> = Vec::new();
            if self.weekly.is_empty() {
                edges.extend(instant(tz, date, Time::midnight()));
            } else {
                for w in self.windows_on(date) {
                    edges.extend(instant(tz, date, w.open));
                    edges.extend(instant(tz, date, w.close));
                }
                // A holiday or a day without windows starts closed at midnight.
                edges.extend(instant(tz, date, Time::midnight()));
            }
            edges.sort_unstable();
            if let Some(t) = edges
                .into_iter()
                .find(|t| *t > at && self.is_open(tz, *t) != now_open)
            {
                return Some(t);
            }
        }
        None
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("queue {0} appears twice")]
    DuplicateQueue(QueueId),
    #[error("agent {0} appears twice")]
    DuplicateAgent(AgentId),
    #[error("queue {queue} sends calls to {to}, which is not a queue")]
    UnknownQueue { queue: QueueId, to: QueueId },
    #[error("queue {0} sends calls to itself")]
    SelfReference(QueueId),
    #[error("queue {0} has a ring timeout of zero")]
    ZeroRingTimeout(QueueId),
    #[error("queue {0} announces with a period of zero")]
    ZeroAnnouncementPeriod(QueueId),
    #[error("queue {0}: an opening window must close after it opens")]
    EmptyWindow(QueueId),
    #[error("agent {agent} has proficiency {level} (1 to 10)")]
    Proficiency { agent: AgentId, level: u8 },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error("the statistics interval must be 15, 30 or 60 minutes, not {0} ms")]
    Interval(Millis),
    #[error("queue {0} still holds calls and cannot be removed")]
    QueueInUse(QueueId),
    #[error("agent {0} is logged in and cannot be removed")]
    AgentInUse(AgentId),
}

impl Config {
    /// Checks the configuration and resolves its time zone.
    pub fn validate(&self) -> Result<TimeZone, ConfigError> {
        let tz = jiff::tz::db()
            .get(&self.time_zone)
            .map_err(|_| ConfigError::TimeZone(self.time_zone.clone()))?;
        if ![15 * MINUTE, 30 * MINUTE, HOUR].contains(&self.interval) {
            return Err(ConfigError::Interval(self.interval));
        }
        let mut seen = HashSet::new();
        for q in &self.queues {
            if !seen.insert(q.id) {
                return Err(ConfigError::DuplicateQueue(q.id));
            }
            if q.ring_timeout == 0 {
                return Err(ConfigError::ZeroRingTimeout(q.id));
            }
            if q.announcements.is_some_and(|a| a.every == 0) {
                return Err(ConfigError::ZeroAnnouncementPeriod(q.id));
            }
            if q.hours.weekly.iter().any(|w| w.close <= w.open) {
                return Err(ConfigError::EmptyWindow(q.id));
            }
        }
        for q in &self.queues {
            let targets = [
                q.overflow_to,
                match q.after_hours {
                    AfterHours::Redirect(to) => Some(to),
                    _ => None,
                },
            ];
            for to in targets.into_iter().flatten() {
                if to == q.id {
                    return Err(ConfigError::SelfReference(q.id));
                }
                if !seen.contains(&to) {
                    return Err(ConfigError::UnknownQueue { queue: q.id, to });
                }
            }
        }
        let mut agents = HashSet::new();
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
        Ok(tz)
    }
}
