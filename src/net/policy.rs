//! The one retry policy of cratemill, as pure decisions: which answers may be retried (and for
//! which kind of request), how long to wait (exponential backoff with jitter, or the server's
//! `Retry-After` in seconds or HTTP-date form), and when to give up (attempts in a row without
//! progress, failures in all, time spent failing, the caller's deadline). Pure decision core: the
//! waiting itself happens in [`super::client`].

use std::time::{Duration, SystemTime};

/// How hard to retry one operation (one GET, one download, one blob upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in a row without progress before giving up, the first one included (at least 1).
    pub attempts: u32,
    /// Failures in one operation in all, progress or not: bounds every loop.
    pub max_failures: u32,
    /// Longest time spent failing (since the first failure after the last progress) before
    /// giving up.
    pub max_elapsed: Duration,
    /// Ceiling of the first backoff; doubles per failure in a row.
    pub base_delay: Duration,
    /// Largest backoff ceiling.
    pub max_delay: Duration,
    /// Longest `Retry-After` cratemill waits for; a server asking for more is a failure now.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            max_failures: 64,
            max_elapsed: Duration::from_secs(300),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No waiting between tries (tests); still bounded by `attempts`.
    pub fn immediate(attempts: u32) -> Self {
        RetryPolicy { attempts, base_delay: Duration::ZERO, max_delay: Duration::ZERO, ..RetryPolicy::default() }
    }
}

/// Whether a request may be sent twice without harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Safety {
    /// GET, HEAD, PUT, DELETE, and uploads whose session the server tracks: every transient
    /// failure is retried.
    Idempotent,
    /// A POST that creates something (a certificate, a log entry): retried only when the server
    /// cannot have acted on it (no connection was made, or it answered 408, 429 or 503).
    NotIdempotent,
}

/// What an HTTP status means to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    /// 408, 429, 5xx except 501/505/506/508/510/511: wait and retry.
    Transient,
    /// 401: (re)authenticate.
    Unauthorized,
    /// 403.
    Denied,
    /// 404, 410, 451: the thing is not there; the caller decides what that means.
    NotFound,
    /// Anything else: the request itself is wrong; retrying will not help.
    Fatal,
}

pub fn classify(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 => StatusClass::Unauthorized,
        403 => StatusClass::Denied,
        404 | 410 | 451 => StatusClass::NotFound,
        408 | 429 | 500 | 502 | 503 | 504 | 507 | 509 | 520..=599 => StatusClass::Transient,
        _ => StatusClass::Fatal,
    }
}

/// Whether to retry a request that got `status`.
pub fn retry_status(status: u16, safety: Safety) -> bool {
    match safety {
        Safety::Idempotent => classify(status) == StatusClass::Transient,
        Safety::NotIdempotent => matches!(status, 408 | 429 | 503),
    }
}

/// How a try failed without an HTTP answer, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFault {
    /// The connection was never made: the request was not sent.
    Connect,
    /// Connected, then no data within the idle timeout (or the whole-request timeout).
    Timeout,
    /// The connection broke while the request or the answer was on the wire.
    Broken,
}

/// Whether to retry after a transport failure.
pub fn retry_transport(fault: TransportFault, safety: Safety) -> bool {
    safety == Safety::Idempotent || fault == TransportFault::Connect
}

/// Parse `Retry-After`: delta-seconds or an HTTP date (relative to `now`; a past date means 0).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Why an operation stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// `attempts` tries in a row failed, or `max_failures` in all.
    Attempts,
    /// Retrying for longer than `max_elapsed`.
    Elapsed(Duration),
    /// The server asked to wait longer than `max_retry_after`.
    RetryAfterTooLong(Duration),
    /// The next try would start after the caller's deadline.
    Deadline,
}

impl GiveUp {
    /// The reason in words, for the end of an error line.
    pub fn describe(self, failures: u32) -> String {
        let tries = if failures == 1 { "1 attempt".to_string() } else { format!("{failures} attempts") };
        match self {
            GiveUp::Attempts => format!("after {tries}"),
            GiveUp::Elapsed(d) => format!("after {tries} in {}s of retrying", d.as_secs()),
            GiveUp::RetryAfterTooLong(d) => {
                format!("after {tries}; the server asked to wait {}s, longer than cratemill waits", d.as_secs())
            }
            GiveUp::Deadline => format!("after {tries}; the --timeout deadline leaves no time for another"),
        }
    }
}

/// Counts the failures of one operation and decides each next wait.
#[derive(Debug)]
pub struct Tracker {
    policy: RetryPolicy,
    in_a_row: u32,
    failures: u32,
    /// When (as elapsed time of the operation) the current run of failures began.
    failing_since: Option<Duration>,
    rng: fastrand::Rng,
}

impl Tracker {
    pub fn new(policy: RetryPolicy, rng: fastrand::Rng) -> Tracker {
        Tracker { policy, in_a_row: 0, failures: 0, failing_since: None, rng }
    }

    /// Something moved forward (a chunk accepted): the run of failures is over.
    pub fn progress(&mut self) {
        self.in_a_row = 0;
        self.failing_since = None;
    }

    /// Failures recorded so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Record a transient failure at `elapsed` into the operation: the wait before the next try,
    /// or why to stop. `remaining` is the time left before the caller's deadline, if it has one.
    pub fn failure(
        &mut self,
        retry_after: Option<Duration>,
        elapsed: Duration,
        remaining: Option<Duration>,
    ) -> Result<Duration, GiveUp> {
        self.in_a_row += 1;
        self.failures += 1;
        let since = *self.failing_since.get_or_insert(elapsed);
        if self.in_a_row >= self.policy.attempts.max(1) || self.failures >= self.policy.max_failures.max(1) {
            return Err(GiveUp::Attempts);
        }
        let wait = match retry_after {
            Some(d) if d > self.policy.max_retry_after => return Err(GiveUp::RetryAfterTooLong(d)),
            Some(d) => d,
            None => backoff(&self.policy, self.in_a_row, &mut self.rng),
        };
        let failing_for = elapsed.saturating_sub(since) + wait;
        if failing_for > self.policy.max_elapsed {
            return Err(GiveUp::Elapsed(failing_for));
        }
        if remaining.is_some_and(|left| wait >= left) {
            return Err(GiveUp::Deadline);
        }
        Ok(wait)
    }
}

/// "Equal jitter": uniform in `[c/2, c]` where `c = min(max_delay, base * 2^(n-1))`, so waits
/// grow for sure and many jobs retrying at once still spread out.
pub fn backoff(policy: &RetryPolicy, in_a_row: u32, rng: &mut fastrand::Rng) -> Duration {
    let exp = in_a_row.saturating_sub(1).min(20);
    let ceiling = policy.base_delay.saturating_mul(1 << exp).min(policy.max_delay);
    let micros = ceiling.as_micros() as u64;
    Duration::from_micros(micros / 2 + rng.u64(0..=micros - micros / 2))
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
        assert_eq!(classify(410), StatusClass::NotFound);
    }

    #[test]
    fn posts_are_retried_only_when_the_server_cannot_have_acted() {
        for s in [408, 429, 503] {
            assert!(retry_status(s, Safety::NotIdempotent), "{s}");
        }
        assert!(!retry_status(500, Safety::NotIdempotent));
        assert!(!retry_status(502, Safety::NotIdempotent));
        assert!(retry_status(500, Safety::Idempotent));
        assert!(!retry_status(404, Safety::Idempotent));
        assert!(retry_transport(TransportFault::Connect, Safety::NotIdempotent));
        assert!(!retry_transport(TransportFault::Broken, Safety::NotIdempotent));
        assert!(!retry_transport(TransportFault::Timeout, Safety::NotIdempotent));
        assert!(retry_transport(TransportFault::Timeout, Safety::Idempotent));
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30 GMT
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered_in_the_upper_half() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            ..Default::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for n in 1..12 {
            let d = backoff(&p, n, &mut rng);
            let ceiling = Duration::from_millis((100u64 << (n - 1)).min(800));
            assert!(d >= ceiling / 2 && d <= ceiling, "n={n} d={d:?}");
        }
        let a: Vec<_> = (1..5).map(|n| backoff(&p, n, &mut fastrand::Rng::with_seed(1))).collect();
        let b: Vec<_> = (1..5).map(|n| backoff(&p, n, &mut fastrand::Rng::with_seed(1))).collect();
        assert_eq!(a, b, "seeded jitter is reproducible");
        assert_eq!(backoff(&RetryPolicy::immediate(3), 2, &mut rng), Duration::ZERO);
    }

    fn tracker(p: RetryPolicy) -> Tracker {
        Tracker::new(p, fastrand::Rng::with_seed(0))
    }

    #[test]
    fn attempts_count_the_first_try_and_progress_resets_them() {
        let p = RetryPolicy { attempts: 3, max_failures: 5, ..RetryPolicy::immediate(3) };
        let mut t = tracker(p);
        let zero = Duration::ZERO;
        assert!(t.failure(None, zero, None).is_ok());
        assert!(t.failure(None, zero, None).is_ok());
        assert_eq!(t.failure(None, zero, None), Err(GiveUp::Attempts), "3 tries in a row");
        let mut t = tracker(p);
        for _ in 0..2 {
            assert!(t.failure(None, zero, None).is_ok());
            t.progress();
        }
        assert!(t.failure(None, zero, None).is_ok());
        t.progress();
        assert!(t.failure(None, zero, None).is_ok());
        assert_eq!(t.failure(None, zero, None), Err(GiveUp::Attempts), "5 failures in all");
        assert_eq!(t.failures(), 5);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_limit() {
        let p = RetryPolicy { max_retry_after: Duration::from_secs(10), ..RetryPolicy::default() };
        let mut t = tracker(p);
        assert_eq!(t.failure(Some(Duration::from_secs(7)), Duration::ZERO, None), Ok(Duration::from_secs(7)));
        assert_eq!(
            t.failure(Some(Duration::from_secs(3600)), Duration::ZERO, None),
            Err(GiveUp::RetryAfterTooLong(Duration::from_secs(3600)))
        );
    }

    #[test]
    fn time_spent_failing_and_the_deadline_bound_retries() {
        let p = RetryPolicy { attempts: 100, max_elapsed: Duration::from_secs(10), ..RetryPolicy::default() };
        let mut t = tracker(p);
        let s = Duration::from_secs;
        assert!(t.failure(Some(s(4)), s(100), None).is_ok());
        assert!(t.failure(Some(s(4)), s(104), None).is_ok());
        assert_eq!(t.failure(Some(s(4)), s(108), None), Err(GiveUp::Elapsed(s(12))));
        t.progress();
        assert!(t.failure(Some(s(4)), s(200), None).is_ok(), "progress starts a new run");
        assert_eq!(t.failure(Some(s(4)), s(201), Some(s(3))), Err(GiveUp::Deadline));
        assert!(t.failure(Some(s(1)), s(201), Some(s(3))).is_ok());
    }

    #[test]
    fn give_up_reasons_read_well() {
        assert_eq!(GiveUp::Attempts.describe(4), "after 4 attempts");
        assert_eq!(GiveUp::Attempts.describe(1), "after 1 attempt");
        assert!(GiveUp::Deadline.describe(2).contains("--timeout"));
        assert!(GiveUp::RetryAfterTooLong(Duration::from_secs(3600)).describe(1).contains("3600s"));
    }
}
