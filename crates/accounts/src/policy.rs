//! The account rules of PRODUCT.md: lock after 5 failed logons in 15 minutes (until an
//! administrator unlocks), a session locks after 30 minutes without activity (the user
//! re-enters password and code to go on) and ends 12 hours after logon whatever happens.

/// Failed logons within [`FAILURE_WINDOW_MS`] that lock the account.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Inactivity after which a session is locked.
pub const IDLE_LOCK_MS: i64 = 30 * 60 * 1000;
/// Age at which a session ends, however active.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;
/// Activity is recorded at most this often, so a busy desktop does not write on every request.
pub const TOUCH_EVERY_MS: i64 = 30 * 1000;

/// Adds a failure at `now_ms` to the recent ones, keeping those inside the window; whether the
/// account must now be locked.
pub fn note_failure(failures: &[i64], now_ms: i64) -> (Vec<i64>, bool) {
    let mut recent: Vec<i64> = failures
        .iter()
        .copied()
        .filter(|&t| now_ms - t < FAILURE_WINDOW_MS && t <= now_ms)
        .collect();
    recent.push(now_ms);
    // Only the last few matter; keep the stored list short.
    if recent.len() > MAX_FAILURES {
        recent.drain(..recent.len() - MAX_FAILURES);
    }
    let locked = recent.len() >= MAX_FAILURES;
    (recent, locked)
}

/// Where a session stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    /// Idle too long: usable again after re-authentication, until it expires.
    IdleLocked,
    /// Past its absolute lifetime: log on again.
    Expired,
    /// Logged out, or ended by an administrator.
    Ended,
}

/// The state of a session created at `created_ms`, last active at `last_seen_ms`.
pub fn session_state(created_ms: i64, last_seen_ms: i64, ended: bool, now_ms: i64) -> SessionState {
    if ended {
        SessionState::Ended
    } else if now_ms - created_ms >= ABSOLUTE_MS {
        SessionState::Expired
    } else if now_ms - last_seen_ms >= IDLE_LOCK_MS {
        SessionState::IdleLocked
    } else {
        SessionState::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn five_failures_inside_fifteen_minutes_lock() {
        let mut f = Vec::new();
        for i in 0..4 {
            let (next, locked) = note_failure(&f, i * 3 * MIN);
            assert!(!locked, "failure {}", i + 1);
            f = next;
        }
        let (_, locked) = note_failure(&f, 14 * MIN);
        assert!(locked, "the fifth inside 15 minutes locks");

        // Spread out, old failures fall out of the window.
        let mut f = Vec::new();
        for i in 0..10 {
            let (next, locked) = note_failure(&f, i * 4 * MIN);
            assert!(!locked, "failure at {} min", i * 4);
            f = next;
        }
        assert!(f.len() <= MAX_FAILURES);
    }

    #[test]
    fn session_states_at_their_boundaries() {
        let c = 1_000_000;
        let cases = [
            (c, false, c + IDLE_LOCK_MS - 1, SessionState::Active),
            (c, false, c + IDLE_LOCK_MS, SessionState::IdleLocked),
            (
                c + ABSOLUTE_MS - MIN,
                false,
                c + ABSOLUTE_MS - 1,
                SessionState::Active,
            ),
            (
                c + ABSOLUTE_MS - MIN,
                false,
                c + ABSOLUTE_MS,
                SessionState::Expired,
            ),
            (c, true, c + 1, SessionState::Ended),
        ];
        for (seen, ended, now, want) in cases {
            assert_eq!(
                session_state(c, seen, ended, now),
                want,
                "seen {seen} now {now}"
            );
        }
    }
}
