//! Each source address's failed logons, in memory: the throttle of
//! [`switchboard_accounts::policy`] (growing delays after a few failures, whatever username
//! was tried). Bounded: at most [`MAX_SOURCES`] addresses are remembered; beyond that, those
//! with no failure inside the window are forgotten first, then the quietest.
//!
//! IPv6 sources are counted by their /64 network, the block one host is usually given.

use std::collections::HashMap;
use std::sync::Mutex;

use switchboard_accounts::policy;

/// Addresses remembered at most.
pub const MAX_SOURCES: usize = 100_000;

#[derive(Debug, Default)]
struct Source {
    failures: Vec<i64>,
    /// Refusals while throttled since the last one audited, and until when that audit entry
    /// stands for them (one entry a throttling period, not one a request).
    refused: u64,
    audited_until: i64,
}

/// What the throttle says of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Try,
    /// Refuse: wait this many milliseconds. `audit`: the first refusal of this throttling
    /// period (with how many earlier refusals went unaudited), to be written as one entry.
    Wait { ms: i64, audit: Option<u64> },
}

#[derive(Debug, Default)]
pub struct LogonThrottle {
    sources: Mutex<HashMap<String, Source>>,
}

/// The key a source address is counted under.
pub fn source_key(address: Option<&str>) -> String {
    match address.and_then(|a| a.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(std::net::IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        Some(ip) => ip.to_string(),
        None => "unknown".to_owned(),
    }
}

impl LogonThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Source>> {
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `source` may try a logon at `now_ms`.
    pub fn check(&self, source: &str, now_ms: i64) -> Verdict {
        let mut map = self.lock();
        let Some(s) = map.get_mut(source) else {
            return Verdict::Try;
        };
        let ms = policy::source_wait_ms(&s.failures, now_ms);
        if ms == 0 {
            return Verdict::Try;
        }
        let audit = if now_ms >= s.audited_until {
            s.audited_until = now_ms + ms;
            Some(std::mem::take(&mut s.refused))
        } else {
            s.refused += 1;
            None
        };
        Verdict::Wait { ms, audit }
    }

    /// Counts a failed logon from `source`.
    pub fn failed(&self, source: &str, now_ms: i64) {
        let mut map = self.lock();
        if map.len() >= MAX_SOURCES && !map.contains_key(source) {
            map.retain(|_, s| policy::source_wait_ms(&s.failures, now_ms) > 0);
            if map.len() >= MAX_SOURCES {
                // Still full of throttled sources: forget the half with the fewest failures.
                let mut counts: Vec<usize> = map.values().map(|s| s.failures.len()).collect();
                counts.sort_unstable();
                let cut = counts[counts.len() / 2];
                map.retain(|_, s| s.failures.len() > cut);
            }
        }
        let s = map.entry(source.to_owned()).or_default();
        s.failures = policy::note_source_failure(&s.failures, now_ms);
    }

    /// A logon from `source` succeeded: its slate is clean.
    pub fn succeeded(&self, source: &str) {
        self.lock().remove(source);
    }

    /// Sources now made to wait.
    pub fn throttled(&self, now_ms: i64) -> usize {
        self.lock()
            .values()
            .filter(|s| policy::source_wait_ms(&s.failures, now_ms) > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_counted_by_address_and_ipv6_by_network() {
        assert_eq!(source_key(Some("127.0.0.2")), "127.0.0.2");
        assert_eq!(
            source_key(Some("2001:db8:1:2:aaaa::1")),
            source_key(Some("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            source_key(Some("2001:db8:1:2::1")),
            source_key(Some("2001:db8:1:3::1"))
        );
        assert_eq!(source_key(Some("::ffff:10.0.0.1")), "10.0.0.1");
        assert_eq!(source_key(None), "unknown");
    }

    #[test]
    fn a_throttled_source_is_audited_once_a_period_and_others_go_on() {
        let t = LogonThrottle::default();
        for i in 0..policy::SOURCE_FREE as i64 {
            assert_eq!(t.check("a", i), Verdict::Try);
            t.failed("a", i);
        }
        let now = policy::SOURCE_FREE as i64;
        assert!(matches!(
            t.check("a", now),
            Verdict::Wait { audit: Some(0), .. }
        ));
        assert!(matches!(
            t.check("a", now + 1),
            Verdict::Wait { audit: None, .. }
        ));
        assert!(matches!(
            t.check("a", now + 2),
            Verdict::Wait { audit: None, .. }
        ));
        assert_eq!(
            t.check("b", now),
            Verdict::Try,
            "another source is not slowed"
        );
        assert_eq!(t.throttled(now), 1);
        // After the wait, one more try; its failure doubles the wait, and the next refusal
        // is audited with the two refusals that were not.
        let later = now + 1000;
        assert_eq!(t.check("a", later), Verdict::Try);
        t.failed("a", later);
        assert!(matches!(
            t.check("a", later),
            Verdict::Wait {
                ms: 2000,
                audit: Some(2)
            }
        ));
        t.succeeded("a");
        assert_eq!(t.check("a", later), Verdict::Try);
    }

    #[test]
    fn the_map_stays_bounded_under_a_flood_of_sources() {
        let t = LogonThrottle::default();
        for i in 0..(MAX_SOURCES + 10) {
            t.failed(&format!("s{i}"), 0);
        }
        assert!(t.lock().len() <= MAX_SOURCES);
    }
}
