//! When a failed delivery is tried again.
//!
//! The Standard Webhooks schedule, cut at eight attempts: at once, then 5 s, 5 min, 30 min, 2 h,
//! 5 h, 10 h and 10 h after each failure (≈ 27.5 h in all; a Queue delay may be at most 12 h, so
//! the standard's later 14 h, 20 h and 24 h steps are left out). A `Retry-After` longer than the
//! scheduled delay wins, up to the Queue's 12 h. `WEBHOOK_RETRY_SCALE` (0 to 1, default 1)
//! multiplies every delay, so tests can run the whole schedule in seconds.

/// Attempts per message, the first included.
pub const MAX_ATTEMPTS: u32 = 8;

/// Seconds to wait after failed attempt `n` (1-based) before attempt `n + 1`.
pub const DELAYS_SECS: [u32; (MAX_ATTEMPTS - 1) as usize] =
    [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];

/// The longest delay a Queue retry takes.
pub const MAX_DELAY_SECS: u32 = 12 * 3600;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after this many seconds.
    RetryIn(u32),
    /// That was the last attempt: the message goes to the dead-letter queue.
    GiveUp,
}

/// The decision after failed attempt `attempt` (1-based), given the receiver's `Retry-After`
/// (seconds) and the scale.
pub fn after_failure(attempt: u32, retry_after: Option<u32>, scale: f64) -> Next {
    if attempt == 0 || attempt >= MAX_ATTEMPTS {
        return Next::GiveUp;
    }
    let scheduled = DELAYS_SECS[(attempt - 1) as usize];
    let wanted = retry_after.map_or(scheduled, |r| r.max(scheduled));
    let scaled = (f64::from(wanted) * scale.clamp(0.0, 1.0)).round() as u32;
    Next::RetryIn(scaled.min(MAX_DELAY_SECS))
}

/// Reads a `Retry-After` header given in seconds (an HTTP date is ignored: the schedule applies).
pub fn parse_retry_after(value: &str) -> Option<u32> {
    value.trim().parse::<u32>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_follows_standard_webhooks_for_eight_attempts() {
        let delays: Vec<Next> = (1..=8).map(|a| after_failure(a, None, 1.0)).collect();
        assert_eq!(
            delays,
            vec![
                Next::RetryIn(5),
                Next::RetryIn(300),
                Next::RetryIn(1800),
                Next::RetryIn(7200),
                Next::RetryIn(18000),
                Next::RetryIn(36000),
                Next::RetryIn(36000),
                Next::GiveUp,
            ]
        );
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_twelve_hours() {
        assert_eq!(after_failure(1, Some(60), 1.0), Next::RetryIn(60));
        assert_eq!(after_failure(2, Some(60), 1.0), Next::RetryIn(300));
        assert_eq!(
            after_failure(1, Some(999_999), 1.0),
            Next::RetryIn(MAX_DELAY_SECS)
        );
        assert_eq!(parse_retry_after(" 120 "), Some(120));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn the_scale_shrinks_every_delay() {
        assert_eq!(after_failure(1, None, 0.01), Next::RetryIn(0));
        assert_eq!(after_failure(2, None, 0.01), Next::RetryIn(3));
        assert_eq!(after_failure(3, None, 0.0), Next::RetryIn(0));
        assert_eq!(after_failure(8, None, 0.0), Next::GiveUp);
    }
}
