//! The juvenile-liaison case: the child's welfare and legal rights, not enforcement.
//!
//! Custody timers run from the moment the child entered custody: HHS notified within 48 hours,
//! transfer to HHS within 72 hours (8 U.S.C. 1232(b)); the Flores custody clock counts days in
//! custody against the settlement's 20-day guidance. The checklist tracks legal representation,
//! court notice, sponsor and trafficking-indicator screening, and the child-welfare referral.
//! Nothing here holds or returns where the child is.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    #[default]
    NotStarted,
    InProgress,
    Done,
    /// Done, and something was found that needs action.
    Concern,
}

/// A liaison case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    #[serde(with = "time::serde::rfc3339")]
    pub opened_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub custody_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub hhs_notified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub transferred_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub released_at: Option<OffsetDateTime>,
    pub legal_representation: Progress,
    pub court_notice: Progress,
    pub sponsor_screening: Progress,
    pub trafficking_screening: Progress,
    pub child_welfare_referral: Progress,
}

/// A timer's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TimerState {
    Running { remaining_minutes: i64 },
    Met,
    Overdue { by_minutes: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub due: OffsetDateTime,
    pub state: TimerState,
    pub basis: String,
}

impl Case {
    pub fn open(now: OffsetDateTime, custody_since: Option<OffsetDateTime>) -> Self {
        Self {
            opened_at: now,
            custody_since,
            hhs_notified_at: None,
            transferred_at: None,
            released_at: None,
            legal_representation: Progress::NotStarted,
            court_notice: Progress::NotStarted,
            sponsor_screening: Progress::NotStarted,
            trafficking_screening: Progress::NotStarted,
            child_welfare_referral: Progress::NotStarted,
        }
    }

    /// The custody timers at `now` (none unless the child is in custody).
    pub fn timers(&self, now: OffsetDateTime) -> Vec<Timer> {
        let Some(start) = self.custody_since else {
            return Vec::new();
        };
        let timer = |name: &str, due: OffsetDateTime, done: Option<OffsetDateTime>, basis: &str| {
            let state = match done {
                Some(d) if d <= due => TimerState::Met,
                Some(d) => TimerState::Overdue {
                    by_minutes: (d - due).whole_minutes(),
                },
                None if now <= due => TimerState::Running {
                    remaining_minutes: (due - now).whole_minutes(),
                },
                None => TimerState::Overdue {
                    by_minutes: (now - due).whole_minutes(),
                },
            };
            Timer {
                name: name.to_owned(),
                due,
                state,
                basis: basis.to_owned(),
            }
        };
        let out_of_custody = self.transferred_at.or(self.released_at);
        vec![
            timer(
                "HHS notified",
                start + Duration::hours(48),
                self.hhs_notified_at,
                "8 U.S.C. 1232(b)(2): notify HHS within 48 hours",
            ),
            timer(
                "transferred to HHS",
                start + Duration::hours(72),
                self.transferred_at,
                "8 U.S.C. 1232(b)(3): transfer within 72 hours",
            ),
            timer(
                "Flores custody clock",
                start + Duration::days(20),
                out_of_custody,
                "Flores Settlement Agreement: release without unnecessary delay (20-day guidance)",
            ),
        ]
    }

    /// The welfare checklist: (item, progress).
    pub fn checklist(&self) -> Vec<(&'static str, Progress)> {
        vec![
            ("legal representation", self.legal_representation),
            ("court notice", self.court_notice),
            ("sponsor screening", self.sponsor_screening),
            (
                "trafficking-indicator screening",
                self.trafficking_screening,
            ),
            ("child-welfare referral", self.child_welfare_referral),
        ]
    }
}
