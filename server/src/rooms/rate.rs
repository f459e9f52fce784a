//! Per-connection token bucket: `burst` events at once, refilled at `per_second`.

use std::time::{Duration, Instant};

/// How many events a connection may send, sustained and at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Tokens refilled per second.
    pub per_second: f64,
    /// Bucket size: the most events accepted back to back.
    pub burst: f64,
}

/// A token bucket; time is passed in so the core stays free of clocks.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            updated: now,
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, limit: RateLimit, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated);
        self.updated = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * limit.per_second).min(limit.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Remembers when a client was last told it is being refused, so it is told at most once a period.
#[derive(Debug, Clone, Default)]
pub struct NoticeThrottle(Option<Instant>);

impl NoticeThrottle {
    /// True when a notice may be sent now (and records it).
    pub fn allow(&mut self, period: Duration, now: Instant) -> bool {
        match self.0 {
            Some(last) if now.saturating_duration_since(last) < period => false,
            _ => {
                self.0 = Some(now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let limit = RateLimit {
            per_second: 10.0,
            burst: 3.0,
        };
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(limit, t0);
        assert!((0..3).all(|_| bucket.try_take(limit, t0)));
        assert!(!bucket.try_take(limit, t0));
        assert!(bucket.try_take(limit, t0 + Duration::from_millis(100)));
        assert!(!bucket.try_take(limit, t0 + Duration::from_millis(100)));
    }

    #[test]
    fn notices_are_throttled() {
        let t0 = Instant::now();
        let mut throttle = NoticeThrottle::default();
        assert!(throttle.allow(Duration::from_secs(1), t0));
        assert!(!throttle.allow(Duration::from_secs(1), t0 + Duration::from_millis(999)));
        assert!(throttle.allow(Duration::from_secs(1), t0 + Duration::from_secs(1)));
    }
}
