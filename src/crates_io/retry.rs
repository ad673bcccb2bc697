//! When and how long to wait before trying a network request again: bounded attempts,
//! exponential backoff with jitter, only for errors that can go away (5xx, 408, 429, timeouts,
//! connection failures).

use std::time::Duration;

/// A bounded retry schedule. `attempts` counts the first try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    /// Delay before the second attempt; doubles after each further failure.
    pub base_delay: Duration,
    /// Upper bound for one delay (before jitter).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(8) }
    }
}

impl RetryPolicy {
    /// No waiting between attempts (tests); still bounded by `attempts`.
    pub fn immediate(attempts: u32) -> Self {
        RetryPolicy { attempts, base_delay: Duration::ZERO, max_delay: Duration::ZERO }
    }

    /// The wait after failed attempt number `failed` (1-based): `base * 2^(failed-1)`, capped, plus
    /// up to 50% random jitter so many jobs retrying at once do not hit a mirror in lockstep.
    pub fn delay(&self, failed: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << failed.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        capped + capped.mul_f64(jitter_fraction() * 0.5)
    }
}

/// Whether an HTTP status is worth retrying.
pub fn retryable_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// Whether a transport error is worth retrying (timeouts, refused/reset connections, cut bodies).
pub fn retryable_error(err: &reqwest::Error) -> bool {
    err.is_timeout() || err.is_connect() || err.is_request() || err.is_body() || err.is_decode()
}

/// A number in [0, 1) that differs between calls and processes, without a random-number crate.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_jittered_within_half() {
        let p =
            RetryPolicy { attempts: 4, base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(300) };
        for (failed, base) in [(1, 100), (2, 200), (3, 300), (10, 300)] {
            let d = p.delay(failed).as_millis();
            assert!(d >= base && d <= base + base / 2, "attempt {failed}: {d}ms");
        }
        assert_eq!(RetryPolicy::immediate(3).delay(2), Duration::ZERO);
    }

    #[test]
    fn which_statuses_are_retried() {
        use reqwest::StatusCode;
        assert!(retryable_status(StatusCode::SERVICE_UNAVAILABLE));
        assert!(retryable_status(StatusCode::TOO_MANY_REQUESTS));
        assert!(!retryable_status(StatusCode::NOT_FOUND));
        assert!(!retryable_status(StatusCode::FORBIDDEN));
    }
}
