//! Rate limits and quotas: the settings and the window arithmetic, with no storage in sight.
//!
//! A rate limit allows `limit` hits per `period_secs` per key. Windows are anchored at a key's
//! first hit (not at multiples of the period since the epoch): a window opens when a key is hit
//! with no open window and closes `period_secs` later, and the next hit after that opens a new
//! one. So the N+1th hit within one period of the first is always refused, whatever the wall
//! clock says, which keeps the limits exact and their tests deterministic. The D1 counter
//! (`adapters::rate_counter`) performs [`advance`] in one atomic statement; this module is its
//! specification and the place its answers are judged ([`verdict`]).
//!
//! Quotas (projects per user, versions per project) are counts of what exists, not rates, so
//! waiting does not help: they are refused with `403 quota_exceeded` rather than `429`.

use crate::error::ApiError;

/// `limit` hits per `period_secs` per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Hits allowed in one window.
    pub limit: u32,
    /// Window length in seconds.
    pub period_secs: u32,
}

impl RateLimit {
    /// `limit` per `period_secs`.
    pub const fn new(limit: u32, period_secs: u32) -> Self {
        Self { limit, period_secs }
    }

    /// The period in milliseconds (the clock's unit).
    pub fn period_ms(&self) -> i64 {
        i64::from(self.period_secs) * 1000
    }

    /// "3 per 60 seconds", "30 per hour".
    pub fn describe(&self) -> String {
        let per = match self.period_secs {
            60 => "minute".to_string(),
            3600 => "hour".to_string(),
            86_400 => "day".to_string(),
            s if s % 3600 == 0 => format!("{} hours", s / 3600),
            s if s % 60 == 0 => format!("{} minutes", s / 60),
            s => format!("{s} seconds"),
        };
        format!("{} per {per}", self.limit)
    }
}

/// Every limit the platform enforces (the defaults are documented in the README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Sign-in and registration attempts per client address.
    pub auth_per_ip: RateLimit,
    /// Unsuccessful sign-in and registration attempts per email address.
    pub auth_per_email: RateLimit,
    /// Builds per user that are requested or running at once.
    pub active_builds: u32,
    /// Builds a user may request per hour.
    pub builds_per_hour: RateLimit,
    /// Projects a user may own.
    pub projects_per_user: u32,
    /// Code versions a project may hold (uploads are refused beyond it).
    pub versions_per_project: u32,
    /// Largest total size of the files of one version upload, after base64 decoding.
    pub max_version_bytes: usize,
}

/// Defaults: see `docs/adr/0012-platform-rate-limits.md` for why these values.
pub const DEFAULT_LIMITS: Limits = Limits {
    auth_per_ip: RateLimit::new(30, 60),
    auth_per_email: RateLimit::new(5, 15 * 60),
    active_builds: 3,
    builds_per_hour: RateLimit::new(30, 3600),
    projects_per_user: 50,
    versions_per_project: 1000,
    max_version_bytes: 8 * 1024 * 1024,
};

/// One key's counter: hits in the open window and when that window closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Hits counted in this window, the current one included.
    pub count: u32,
    /// When the window closes (ms since the epoch).
    pub resets_at_ms: i64,
}

/// The counter after one hit at `now_ms`: the open window counts one more, or a closed (or
/// missing) window is replaced by a fresh one holding this hit.
pub fn advance(prev: Option<Window>, now_ms: i64, limit: RateLimit) -> Window {
    match prev {
        Some(w) if w.resets_at_ms > now_ms => Window {
            count: w.count.saturating_add(1),
            resets_at_ms: w.resets_at_ms,
        },
        _ => Window {
            count: 1,
            resets_at_ms: now_ms + limit.period_ms(),
        },
    }
}

/// Whole seconds until `resets_at_ms`, rounded up and at least 1 (a `Retry-After` of 0 would
/// invite an immediate retry that is still refused).
pub fn retry_after_secs(now_ms: i64, resets_at_ms: i64) -> u64 {
    let ms = (resets_at_ms - now_ms).max(0) as u64;
    ms.div_ceil(1000).max(1)
}

/// What a counted hit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit.
    Allowed,
    /// Over the limit until the window closes.
    Refused {
        /// Seconds until the window closes.
        retry_after_secs: u64,
    },
}

/// Judges a window that already counts the current hit.
pub fn verdict(window: Window, now_ms: i64, limit: RateLimit) -> Verdict {
    if window.count <= limit.limit {
        Verdict::Allowed
    } else {
        Verdict::Refused {
            retry_after_secs: retry_after_secs(now_ms, window.resets_at_ms),
        }
    }
}

/// The `429` for a refused hit: `what` says what was counted ("sign-in attempts from this
/// address"), the message names the limit and when to retry.
pub fn rate_limited(what: &str, limit: RateLimit, retry_after_secs: u64) -> ApiError {
    ApiError::RateLimited {
        message: format!(
            "too many {what}: the limit is {}; try again in {retry_after_secs} seconds",
            limit.describe()
        ),
        retry_after_secs,
    }
}

/// The counter key for a client address; requests without one share a single key, so they are
/// limited together rather than not at all.
pub fn ip_key(connecting_ip: Option<&str>) -> String {
    match connecting_ip.map(str::trim).filter(|ip| !ip.is_empty()) {
        Some(ip) => format!("auth:ip:{}", ip.to_ascii_lowercase()),
        None => "auth:ip:unknown".into(),
    }
}

/// The counter key for a normalised email address.
pub fn email_key(email: &crate::domain::Email) -> String {
    format!("auth:email:{}", email.as_str())
}

/// The counter key for a user's build requests.
pub fn builds_key(user_id: &str) -> String {
    format!("builds:user:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Email;

    const L: RateLimit = RateLimit::new(3, 60);

    fn hits(times: &[i64]) -> Vec<Window> {
        let mut w = None;
        times
            .iter()
            .map(|t| {
                let next = advance(w, *t, L);
                w = Some(next);
                next
            })
            .collect()
    }

    #[test]
    fn the_first_hit_opens_a_window_of_one_period() {
        let w = advance(None, 1_000, L);
        assert_eq!(
            w,
            Window {
                count: 1,
                resets_at_ms: 61_000
            }
        );
    }

    #[test]
    fn hits_in_the_window_count_up_and_the_one_after_the_limit_is_refused() {
        let ws = hits(&[0, 10_000, 20_000, 30_000]);
        let counts: Vec<u32> = ws.iter().map(|w| w.count).collect();
        assert_eq!(counts, [1, 2, 3, 4]);
        assert_eq!(verdict(ws[2], 20_000, L), Verdict::Allowed);
        assert_eq!(
            verdict(ws[3], 30_000, L),
            Verdict::Refused {
                retry_after_secs: 30
            }
        );
    }

    #[test]
    fn the_window_is_anchored_at_the_first_hit_not_the_wall_clock_minute() {
        // 59.9 s and 60.1 s straddle a wall-clock minute but lie in one anchored window.
        let ws = hits(&[59_900, 60_100, 60_200, 60_300]);
        assert_eq!(ws[3].count, 4);
        assert_eq!(ws[3].resets_at_ms, 119_900);
    }

    #[test]
    fn a_hit_at_or_after_the_reset_opens_a_fresh_window() {
        let ws = hits(&[0, 1, 2, 3, 60_000]);
        assert_eq!(
            ws[4],
            Window {
                count: 1,
                resets_at_ms: 120_000
            }
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(0, 60_000), 60);
        assert_eq!(retry_after_secs(0, 59_001), 60);
        assert_eq!(retry_after_secs(0, 1), 1);
        assert_eq!(retry_after_secs(5_000, 5_000), 1);
        assert_eq!(retry_after_secs(9_000, 5_000), 1);
    }

    #[test]
    fn the_message_names_the_limit_and_when_to_retry() {
        let e = rate_limited("sign-in attempts from this address", L, 42);
        assert_eq!(e.status(), 429);
        assert_eq!(e.code(), "rate_limited");
        assert_eq!(
            e.message(),
            "too many sign-in attempts from this address: the limit is 3 per minute; try again in 42 seconds"
        );
        assert_eq!(RateLimit::new(30, 3600).describe(), "30 per hour");
        assert_eq!(RateLimit::new(5, 900).describe(), "5 per 15 minutes");
        assert_eq!(RateLimit::new(5, 7200).describe(), "5 per 2 hours");
        assert_eq!(RateLimit::new(5, 90).describe(), "5 per 90 seconds");
    }

    #[test]
    fn keys_are_normalised_and_a_missing_address_shares_one_key() {
        assert_eq!(ip_key(Some(" 2001:DB8::1 ")), "auth:ip:2001:db8::1");
        assert_eq!(ip_key(None), "auth:ip:unknown");
        assert_eq!(ip_key(Some("")), "auth:ip:unknown");
        let email = Email::parse(" Ada@Example.COM ").unwrap();
        assert_eq!(email_key(&email), "auth:email:ada@example.com");
        assert_eq!(builds_key("u1"), "builds:user:u1");
    }
}
