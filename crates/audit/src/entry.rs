//! What one audit entry says: who did what, for whom, why, to which records, what was
//! disclosed to whom, and with what outcome. An entry's bytes (its JSON, exactly as stored)
//! are the Merkle leaf, so the field order below is the order written and must never change
//! for existing fields; new fields are added at the end and skipped when empty.

use serde::{Deserialize, Serialize};

/// Who acted: a center user's session, a partner's credential, or the system itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The user's id, when a user acted (absent for a logon by an unknown username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The username given or held.
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A short, non-secret reference to the session (never the session token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The network address the request came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// For whom: the calling officer and how the center knows it is them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub officer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ori: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// How the caller was verified (`ani_registry`, `ani_unknown`, …).
    pub verified: String,
}

/// Why: the purpose code, the stated reason and the case or incident number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purpose {
    pub code: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<String>,
}

/// What was disclosed, to whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    pub to: String,
    pub text: String,
}

/// A rule that fired, with the version that judged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleHit {
    pub rule: String,
    pub version: u32,
}

/// How the action ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done (or, for a change, about to be done: see ARCHITECTURE.md, "audit first").
    #[default]
    Ok,
    /// Refused by a rule, a permission or a credential check.
    Refused,
    /// Attempted and failed after it was logged.
    Failed,
}

/// One audited action. Build it with [`Entry::new`] and the `with_*` setters; the log assigns
/// `seq`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What was done: `logon`, `lookup`, `disposition.create`, `user.disable`, …
    pub action: String,
    pub outcome: Outcome,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Caller>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// The subject asked about, as query keys (`name:…`, `dob:…`, `a_number:…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<String>,
    /// Record systems consulted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
    /// Record ids returned or acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<String>,
    /// The class of result (`strong`, `no_candidates`, `blocked`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosed: Option<Disclosure>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_hits: Vec<RuleHit>,
    /// Second persons who approved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// The record changed or read: `user:…`, `disposition:…`, `agency:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A sentence for people: the reason of a refusal, an override's written reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The record systems' change-log position the records read were at (lookups,
    /// evaluations, dispositions, reviews).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_position: Option<i64>,
}

impl Entry {
    pub fn new(action: impl Into<String>, actor: Actor, at_ms: i64) -> Self {
        Self {
            action: action.into(),
            actor,
            at_ms,
            ..Self::default()
        }
    }

    pub fn refused(mut self, why: impl Into<String>) -> Self {
        self.outcome = Outcome::Refused;
        self.note = Some(why.into());
        self
    }

    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    /// The keys under which auditors find this entry by subject: each query key and each
    /// record id (prefixed `record:`).
    pub fn subject_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.query.clone();
        keys.extend(self.records.iter().map(|r| format!("record:{r}")));
        keys.sort();
        keys.dedup();
        keys
    }

    /// The exact bytes that are stored and hashed as the leaf.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an audit entry always serialises")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
