//! Call detail records: one per call leg, appended durably as a JSON line when the leg ends.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which side of the back-to-back user agent a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Caller,
    Agent,
}

/// How a leg ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Talked with an agent and hung up (either side).
    Completed,
    /// The caller left before an agent answered (CANCEL or BYE while queued).
    Abandoned,
    /// The agent's phone was not answered in time, or the offer was withdrawn.
    NoAnswer,
    /// The agent's phone refused (busy, declined, unreachable).
    Refused,
    /// The agent transferred the call away (REFER).
    Transferred,
    /// The caller accepted a callback and hung up keeping their place.
    Callback,
    /// The caller never acknowledged the answer (RFC 3261 timer H).
    NoAck,
    /// The center ended it (a supervisor forced it, the queue does not exist, voicemail).
    Ended,
    /// Refused before queueing (no such number, unusable SDP, capacity).
    Rejected,
}

/// One leg's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cdr {
    pub leg: Side,
    /// The SIP Call-ID of this leg.
    pub sip_call_id: String,
    /// The ACD's numbers for the call (more than one after a transfer).
    pub acd_calls: Vec<u64>,
    pub queue: Option<u64>,
    pub agent: Option<u64>,
    /// The caller's number as received.
    pub from: String,
    /// The number dialled (caller leg) or the agent's user (agent leg).
    pub to: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended: Option<OffsetDateTime>,
    /// Milliseconds from answer to end (0 when never answered).
    pub talk_ms: u64,
    pub outcome: Option<Outcome>,
    /// The final SIP status or the reason the leg ended, as received.
    pub cause: Option<String>,
}

impl Cdr {
    pub fn start(leg: Side, sip_call_id: String, from: String, to: String) -> Self {
        Self {
            leg,
            sip_call_id,
            acd_calls: Vec::new(),
            queue: None,
            agent: None,
            from,
            to,
            started: OffsetDateTime::now_utc(),
            answered: None,
            ended: None,
            talk_ms: 0,
            outcome: None,
            cause: None,
        }
    }

    pub fn answer(&mut self) {
        self.answered.get_or_insert_with(OffsetDateTime::now_utc);
    }

    /// Ends the leg (the first end wins).
    pub fn end(&mut self, outcome: Outcome, cause: impl Into<String>) -> bool {
        if self.ended.is_some() {
            return false;
        }
        let now = OffsetDateTime::now_utc();
        self.ended = Some(now);
        self.talk_ms = self
            .answered
            .map_or(0, |a| (now - a).whole_milliseconds().max(0) as u64);
        self.outcome = Some(outcome);
        self.cause = Some(cause.into());
        true
    }
}

/// Appends records to a file, each flushed to disk before the write returns.
#[derive(Debug, Clone)]
pub struct CdrWriter {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
}

impl CdrWriter {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends and syncs on a blocking thread.
    pub async fn write(&self, cdr: Cdr) -> std::io::Result<()> {
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || {
            let mut line = serde_json::to_vec(&cdr).map_err(std::io::Error::other)?;
            line.push(b'\n');
            let mut f = file.lock().expect("cdr file");
            f.write_all(&line)?;
            f.sync_data()
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// Reads every record of a CDR file (what `switchboard` tests and reports use).
pub fn read(path: &Path) -> std::io::Result<Vec<Cdr>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(std::io::Error::other))
        .collect()
}
