//! The account rules of PRODUCT.md: lock after 5 failed logons in 15 minutes, a session
//! locks after 30 minutes without activity (the user re-enters password and code to go on)
//! and ends 12 hours after logon whatever happens.
//!
//! Logon protection an outsider cannot turn against the center (CJIS AC-7, OWASP ASVS V6):
//! - a lock ends by itself after [`LOCK_MS`] (an administrator may end it sooner);
//! - a lock keeps the account out only of sources it is not familiar with: an address the
//!   account logged on from within [`FAMILIAR_MS`] stays open to it, so twenty wrong
//!   passwords from elsewhere cannot keep an administrator out of their own desk;
//! - every source address is throttled on its own failures (any username): after
//!   [`SOURCE_FREE`] failures within the window, each further attempt waits twice as long as
//!   the one before, up to [`MAX_DELAY_MS`].

/// Failed logons within [`FAILURE_WINDOW_MS`] that lock the account.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// How long a lock lasts before it ends by itself.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// A source the account logged on from within this long is familiar to it.
pub const FAMILIAR_MS: i64 = 90 * 24 * 60 * 60 * 1000;
/// Failures from one source within [`FAILURE_WINDOW_MS`] before it is slowed down.
pub const SOURCE_FREE: usize = 5;
/// The longest a source is made to wait between attempts.
pub const MAX_DELAY_MS: i64 = 15 * 60 * 1000;
/// Failures kept per source (enough to reach the longest delay).
const SOURCE_KEPT: usize = SOURCE_FREE + 12;
/// Inactivity after which a session is locked.
pub const IDLE_LOCK_MS: i64 = 30 * 60 * 1000;
/// Age at which a session ends, however active.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;
/// Activity is recorded at most this often, so a busy desktop does not write on every request.
pub const TOUCH_EVERY_MS: i64 = 30 * 1000;

/// The failures of `failures` inside the window ending at `now_ms`, with one at `now_ms`
/// added, at most `keep` of them (the newest).
fn noted(failures: &[i64], now_ms: i64, keep: usize) -> Vec<i64> {
    let mut recent: Vec<i64> = failures
        .iter()
        .copied()
        .filter(|&t| now_ms - t < FAILURE_WINDOW_MS && t <= now_ms)
        .collect();
    recent.push(now_ms);
    if recent.len() > keep {
        recent.drain(..recent.len() - keep);
    }
    recent
}

/// Adds a failure at `now_ms` to the account's recent ones, keeping those inside the window;
/// whether the account must now be locked.
pub fn note_failure(failures: &[i64], now_ms: i64) -> (Vec<i64>, bool) {
    let recent = noted(failures, now_ms, MAX_FAILURES);
    let locked = recent.len() >= MAX_FAILURES;
    (recent, locked)
}

/// Whether a lock set at `locked_at_ms` still holds at `now_ms`.
pub fn lock_holds(locked_at_ms: Option<i64>, now_ms: i64) -> bool {
    locked_at_ms.is_some_and(|t| t <= now_ms && now_ms - t < LOCK_MS)
}

/// When a lock set at `locked_at_ms` ends by itself.
pub fn lock_ends(locked_at_ms: i64) -> i64 {
    locked_at_ms + LOCK_MS
}

/// Adds a failure at `now_ms` to a source's recent ones.
pub fn note_source_failure(failures: &[i64], now_ms: i64) -> Vec<i64> {
    noted(failures, now_ms, SOURCE_KEPT)
}

/// How long a source with these recent failures must wait before its next attempt
/// (milliseconds; 0: it may try now). The `SOURCE_FREE`th failure inside the window costs a
/// second, each further one twice the one before, up to [`MAX_DELAY_MS`].
pub fn source_wait_ms(failures: &[i64], now_ms: i64) -> i64 {
    let recent: Vec<i64> = failures
        .iter()
        .copied()
        .filter(|&t| now_ms - t < FAILURE_WINDOW_MS && t <= now_ms)
        .collect();
    let (Some(&last), n) = (recent.iter().max(), recent.len()) else {
        return 0;
    };
    if n < SOURCE_FREE {
        return 0;
    }
    let doublings = (n - SOURCE_FREE).min(20) as u32;
    let delay = (1000i64 << doublings).min(MAX_DELAY_MS);
    (last + delay - now_ms).max(0)
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
    fn a_lock_ends_by_itself() {
        assert!(!lock_holds(None, 0));
        assert!(lock_holds(Some(0), 0));
        assert!(lock_holds(Some(0), LOCK_MS - 1));
        assert!(!lock_holds(Some(0), LOCK_MS));
        assert_eq!(lock_ends(5), 5 + LOCK_MS);
        // A lock stamped in the future (a clock moved back) holds no one out.
        assert!(!lock_holds(Some(10 * MIN), 0));
    }

    #[test]
    fn a_source_waits_twice_as_long_after_each_failure_beyond_the_free_ones() {
        let mut f = Vec::new();
        let mut now = 0;
        for _ in 0..SOURCE_FREE - 1 {
            f = note_source_failure(&f, now);
            assert_eq!(source_wait_ms(&f, now), 0);
            now += 100;
        }
        // Nine doublings (1 s to 256 s, 511 s in all) stay inside the window.
        let mut want = 1000;
        for _ in 0..9 {
            f = note_source_failure(&f, now);
            assert_eq!(
                source_wait_ms(&f, now),
                want.min(MAX_DELAY_MS),
                "{} failures",
                f.len()
            );
            assert_eq!(source_wait_ms(&f, now + want.min(MAX_DELAY_MS)), 0);
            now += want.min(MAX_DELAY_MS);
            want *= 2;
        }
        assert!(f.len() <= SOURCE_KEPT);
        // Past the window, the slate is clean.
        assert_eq!(source_wait_ms(&f, now + FAILURE_WINDOW_MS), 0);
        // The list stays bounded however long the attack.
        for i in 0..10_000 {
            f = note_source_failure(&f, now + i);
        }
        assert_eq!(f.len(), SOURCE_KEPT);
        assert_eq!(source_wait_ms(&f, now + 10_000), MAX_DELAY_MS - 1);
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
