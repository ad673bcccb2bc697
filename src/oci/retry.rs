//! The retry policy for registry requests: which answers are worth retrying, how long to wait
//! (exponential backoff with full jitter, or the registry's `Retry-After`), and when to give up.
//! Pure logic; the waiting itself happens in the HTTP layer.

use std::time::{Duration, SystemTime};

/// How hard to retry. Failures count per operation; progress (a chunk accepted) resets the
/// consecutive count, so a long upload over a flaky link still finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Give up after this many failures in a row without progress.
    pub max_consecutive: u32,
    /// Give up after this many failures in one operation, progress or not (bounds every loop).
    pub max_total: u32,
    /// First backoff; doubles per consecutive failure.
    pub base_delay: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured; longer requests wait this long.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_consecutive: 8,
            max_total: 64,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// What an HTTP status means for a registry client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    /// 408, 429, 5xx except 501/505: wait and retry.
    Transient,
    /// 401: (re)authenticate; 403: denied.
    Unauthorized,
    Denied,
    NotFound,
    /// Anything else: the request itself is wrong.
    Fatal,
}

pub fn classify(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 => StatusClass::Unauthorized,
        403 => StatusClass::Denied,
        404 => StatusClass::NotFound,
        408 | 429 | 500 | 502 | 503 | 504 | 507 | 509 | 520..=599 => StatusClass::Transient,
        _ => StatusClass::Fatal,
    }
}

/// Parse `Retry-After`: delta-seconds or an HTTP date (relative to `now`; past dates mean 0).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why an operation gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    pub failures: u32,
    pub last_error: String,
}

/// Counts failures of one operation and decides the next wait.
#[derive(Debug)]
pub struct Tracker {
    policy: RetryPolicy,
    consecutive: u32,
    total: u32,
    rng: fastrand::Rng,
}

impl Tracker {
    pub fn new(policy: &RetryPolicy, rng: fastrand::Rng) -> Tracker {
        Tracker { policy: policy.clone(), consecutive: 0, total: 0, rng }
    }

    /// Something moved forward: reset the consecutive count.
    pub fn progress(&mut self) {
        self.consecutive = 0;
    }

    /// Record a transient failure: the wait before the next try, or give up.
    pub fn failure(&mut self, error: &str, retry_after: Option<Duration>) -> Result<Duration, GaveUp> {
        self.consecutive += 1;
        self.total += 1;
        if self.consecutive > self.policy.max_consecutive || self.total > self.policy.max_total {
            return Err(GaveUp { failures: self.total, last_error: error.to_string() });
        }
        Ok(match retry_after {
            Some(d) => d.min(self.policy.max_retry_after),
            None => backoff(&self.policy, self.consecutive, &mut self.rng),
        })
    }

    pub fn total_failures(&self) -> u32 {
        self.total
    }
}

/// Full jitter: uniform in `[0, min(max_delay, base * 2^(n-1))]`, never below 1 ms.
pub fn backoff(policy: &RetryPolicy, consecutive: u32, rng: &mut fastrand::Rng) -> Duration {
    let exp = consecutive.saturating_sub(1).min(20);
    let ceiling = policy.base_delay.saturating_mul(1 << exp).min(policy.max_delay);
    let millis = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rng.u64(1..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(classify(202), StatusClass::Success);
        assert_eq!(classify(429), StatusClass::Transient);
        assert_eq!(classify(503), StatusClass::Transient);
        assert_eq!(classify(501), StatusClass::Fatal);
        assert_eq!(classify(400), StatusClass::Fatal);
        assert_eq!(classify(401), StatusClass::Unauthorized);
        assert_eq!(classify(403), StatusClass::Denied);
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            ..Default::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for n in 1..12 {
            let d = backoff(&p, n, &mut rng);
            let ceiling = Duration::from_millis((100u64 << (n - 1)).min(800));
            assert!(d >= Duration::from_millis(1) && d <= ceiling, "n={n} d={d:?}");
        }
        let a: Vec<_> = (1..5).map(|n| backoff(&p, n, &mut fastrand::Rng::with_seed(1))).collect();
        let b: Vec<_> = (1..5).map(|n| backoff(&p, n, &mut fastrand::Rng::with_seed(1))).collect();
        assert_eq!(a, b, "seeded jitter is reproducible");
    }

    #[test]
    fn tracker_gives_up_and_resets_on_progress() {
        let p = RetryPolicy {
            max_consecutive: 2,
            max_total: 5,
            base_delay: Duration::from_millis(1),
            ..Default::default()
        };
        let mut t = Tracker::new(&p, fastrand::Rng::with_seed(0));
        assert!(t.failure("a", None).is_ok());
        assert!(t.failure("b", None).is_ok());
        t.progress();
        assert!(t.failure("c", None).is_ok());
        assert_eq!(t.failure("d", Some(Duration::from_secs(999))).unwrap(), p.max_retry_after);
        t.progress();
        assert!(t.failure("e", None).is_ok());
        let gave_up = t.failure("f", None).unwrap_err();
        assert_eq!(gave_up, GaveUp { failures: 6, last_error: "f".into() });
    }
}
