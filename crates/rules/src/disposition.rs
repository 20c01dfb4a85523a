//! Dispositions: what the center tells the officer, and the review workflow in front of it.
//!
//! A [`Disposition`] can only be made through [`Disposition::submit`] and moved on through its
//! methods; every road to a final "confirm enforcement action" passes [`gate`] on hits
//! evaluated on live data, so no caller of this crate can set one otherwise.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Hit, Outcome, has};

/// What the center tells the officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    NoRecordFound,
    /// Record found; status information only, no enforcement confirmation.
    StatusInformationOnly,
    /// Missing, stale or conflicting data.
    UnableToConfirm,
    ConfirmEnforcementAction,
    Decline,
    ReferLegalReview,
    ReferCitizenshipInvestigation,
    ReferJuvenileLiaison,
    /// Hit confirmation requested from the entering agency.
    HitConfirmationRequested,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::NoRecordFound,
        Kind::StatusInformationOnly,
        Kind::UnableToConfirm,
        Kind::ConfirmEnforcementAction,
        Kind::Decline,
        Kind::ReferLegalReview,
        Kind::ReferCitizenshipInvestigation,
        Kind::ReferJuvenileLiaison,
        Kind::HitConfirmationRequested,
    ];
}

/// The dispositions the hits allow.
pub fn allowed(hits: &[Hit]) -> Vec<Kind> {
    if has(hits, Outcome::JuvenileWorkflow) {
        return vec![Kind::ReferJuvenileLiaison];
    }
    if has(hits, Outcome::Reject) {
        return vec![Kind::Decline];
    }
    Kind::ALL
        .into_iter()
        .filter(|k| match k {
            Kind::ReferJuvenileLiaison => false,
            // Only when nothing strong or probable, chosen or tied in by an identifier exists.
            Kind::NoRecordFound => !has(hits, Outcome::RecordsOnFile),
            Kind::ConfirmEnforcementAction => {
                !has(hits, Outcome::BlockConfirm)
                    && !has(hits, Outcome::UnableToConfirm)
                    && !has(hits, Outcome::HitConfirmation)
            }
            // Status information would disclose a protected case, or stale data.
            Kind::StatusInformationOnly => {
                !has(hits, Outcome::NonDisclosure) && !has(hits, Outcome::UnableToConfirm)
            }
            Kind::HitConfirmationRequested => has(hits, Outcome::HitConfirmation),
            _ => true,
        })
        .collect()
}

/// Why a disposition cannot be made or moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum GateError {
    #[error("{kind:?} is not allowed: {}", reasons.join("; "))]
    NotAllowed { kind: Kind, reasons: Vec<String> },
    #[error("the same person cannot review their own disposition")]
    SamePerson,
    #[error("a disposition in state {0:?} cannot do that")]
    WrongState(State),
    #[error("an override needs a written reason of at least 20 characters")]
    NoReason,
    #[error("rule {0} cannot be overridden")]
    NotOverridable(String),
    #[error("rule {0} did not fire on this disposition")]
    UnknownRule(String),
}

/// Checks that `kind` is allowed by `hits` (those not overridden).
pub fn gate(kind: Kind, hits: &[Hit]) -> Result<(), GateError> {
    if allowed(hits).contains(&kind) {
        return Ok(());
    }
    let blocking: Vec<String> = hits
        .iter()
        .filter(|h| {
            h.outcomes.iter().any(|o| {
                matches!(
                    o,
                    Outcome::BlockConfirm
                        | Outcome::UnableToConfirm
                        | Outcome::JuvenileWorkflow
                        | Outcome::Reject
                        | Outcome::HitConfirmation
                        | Outcome::NonDisclosure
                ) || (kind == Kind::NoRecordFound && *o == Outcome::RecordsOnFile)
            })
        })
        .map(|h| format!("{} v{}: {}", h.rule, h.version, h.reasons.join(", ")))
        .collect();
    Err(GateError::NotAllowed {
        kind,
        reasons: if blocking.is_empty() {
            vec!["not applicable to this inquiry".to_owned()]
        } else {
            blocking
        },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    PendingSecondReview,
    PendingLegalReview,
    Final,
    /// Final, with a rule overridden by a second person.
    Overridden,
    /// A reviewer refused it; the call-taker records another.
    Refused,
}

/// One step of a disposition's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by: String,
    pub action: String,
    pub state: State,
    pub note: Option<String>,
}

/// An override of a rule by a second person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Override {
    pub rule: String,
    pub version: u32,
    pub by: String,
    pub reason: String,
}

/// A disposition and its whole history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    kind: Kind,
    state: State,
    author: String,
    hits: Vec<Hit>,
    overrides: Vec<Override>,
    history: Vec<Step>,
}

impl Disposition {
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn state(&self) -> State {
        self.state
    }
    pub fn author(&self) -> &str {
        &self.author
    }
    pub fn hits(&self) -> &[Hit] {
        &self.hits
    }
    pub fn overrides(&self) -> &[Override] {
        &self.overrides
    }
    pub fn history(&self) -> &[Step] {
        &self.history
    }

    /// Whether the disposition is in force (final, or final with an override).
    pub fn is_final(&self) -> bool {
        matches!(self.state, State::Final | State::Overridden)
    }

    fn effective(hits: &[Hit], overrides: &[Override]) -> Vec<Hit> {
        hits.iter()
            .filter(|h| !overrides.iter().any(|o| o.rule == h.rule))
            .cloned()
            .collect()
    }

    fn needs_second(kind: Kind, hits: &[Hit]) -> bool {
        kind == Kind::ConfirmEnforcementAction || has(hits, Outcome::SecondPerson)
    }

    fn needs_legal(kind: Kind, hits: &[Hit]) -> bool {
        kind == Kind::ConfirmEnforcementAction && has(hits, Outcome::LegalReview)
            || kind == Kind::ReferLegalReview
    }

    /// Records a disposition on the hits of live data. It is final at once unless it needs a
    /// second person (every confirmation, and what the rules say) or legal review.
    pub fn submit(
        kind: Kind,
        hits: Vec<Hit>,
        author: &str,
        now: OffsetDateTime,
    ) -> Result<Self, GateError> {
        gate(kind, &hits)?;
        let state = if Self::needs_second(kind, &hits) {
            State::PendingSecondReview
        } else if Self::needs_legal(kind, &hits) {
            State::PendingLegalReview
        } else {
            State::Final
        };
        Ok(Self {
            kind,
            state,
            author: author.to_owned(),
            history: vec![Step {
                at: now,
                by: author.to_owned(),
                action: "submitted".into(),
                state,
                note: None,
            }],
            hits,
            overrides: Vec::new(),
        })
    }

    /// A second person approves; `live` are the hits evaluated again on current data, and a
    /// confirmation passes the gate again on them.
    pub fn approve(
        &mut self,
        by: &str,
        live: Vec<Hit>,
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        if by == self.author {
            return Err(GateError::SamePerson);
        }
        let next = match self.state {
            State::PendingSecondReview if Self::needs_legal(self.kind, &live) => {
                State::PendingLegalReview
            }
            State::PendingSecondReview | State::PendingLegalReview => State::Final,
            s => return Err(GateError::WrongState(s)),
        };
        let effective = Self::effective(&live, &self.overrides);
        gate(self.kind, &effective)?;
        let next = if next == State::Final && !self.overrides.is_empty() {
            State::Overridden
        } else {
            next
        };
        self.hits = live;
        self.state = next;
        self.history.push(Step {
            at: now,
            by: by.to_owned(),
            action: "approved".into(),
            state: next,
            note: None,
        });
        Ok(())
    }

    /// A reviewer refuses it, with a reason.
    pub fn refuse(&mut self, by: &str, reason: &str, now: OffsetDateTime) -> Result<(), GateError> {
        if by == self.author {
            return Err(GateError::SamePerson);
        }
        if !matches!(
            self.state,
            State::PendingSecondReview | State::PendingLegalReview
        ) {
            return Err(GateError::WrongState(self.state));
        }
        self.state = State::Refused;
        self.history.push(Step {
            at: now,
            by: by.to_owned(),
            action: "refused".into(),
            state: State::Refused,
            note: Some(reason.to_owned()),
        });
        Ok(())
    }

    /// A second person overrides an overridable rule with a written reason (a privileged
    /// action). Rules that protect citizens, children, protected applicants and people under
    /// court protection are never overridable. The disposition still needs approval, which
    /// passes the gate with the overridden rule set aside.
    pub fn override_rule(
        &mut self,
        rule: &str,
        by: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        if by == self.author {
            return Err(GateError::SamePerson);
        }
        if reason.trim().chars().count() < 20 {
            return Err(GateError::NoReason);
        }
        if self.is_final() || self.state == State::Refused {
            return Err(GateError::WrongState(self.state));
        }
        let hit = self
            .hits
            .iter()
            .find(|h| h.rule == rule)
            .ok_or_else(|| GateError::UnknownRule(rule.to_owned()))?;
        if !hit.overridable {
            return Err(GateError::NotOverridable(rule.to_owned()));
        }
        self.overrides.push(Override {
            rule: rule.to_owned(),
            version: hit.version,
            by: by.to_owned(),
            reason: reason.trim().to_owned(),
        });
        self.history.push(Step {
            at: now,
            by: by.to_owned(),
            action: format!("overrode {rule}"),
            state: self.state,
            note: Some(reason.trim().to_owned()),
        });
        Ok(())
    }

    /// Submits a confirmation that only overridable rules block: it waits in second review, and
    /// approval needs the overrides first.
    pub fn submit_for_override(
        kind: Kind,
        hits: Vec<Hit>,
        author: &str,
        now: OffsetDateTime,
    ) -> Result<Self, GateError> {
        let hard: Vec<Hit> = hits.iter().filter(|h| !h.overridable).cloned().collect();
        gate(kind, &hard)?;
        Ok(Self {
            kind,
            state: State::PendingSecondReview,
            author: author.to_owned(),
            history: vec![Step {
                at: now,
                by: author.to_owned(),
                action: "submitted for override".into(),
                state: State::PendingSecondReview,
                note: None,
            }],
            hits,
            overrides: Vec::new(),
        })
    }
}
