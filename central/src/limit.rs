//! Per-node rate limit: a token bucket per node protects central from one
//! node's flood.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use kechuang_types::NodeId;
use tonic::Status;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets, one per node.
#[derive(Debug)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<NodeId, Bucket>>,
}

impl RateLimit {
    /// `rate` requests per second sustained, `burst` at once.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self { rate: f64::from(rate), burst: f64::from(burst), buckets: Mutex::default() }
    }

    /// Takes one request's token for `node`, or RESOURCE_EXHAUSTED.
    pub fn check(&self, node: &NodeId) -> Result<(), Status> {
        self.check_at(node, Instant::now())
    }

    fn check_at(&self, node: &NodeId, now: Instant) -> Result<(), Status> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(node.clone()).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Status::resource_exhausted(format!("node {node}: more than {} requests per second", self.rate)))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_allowed_then_the_rate_applies_per_node() {
        let limit = RateLimit::new(10, 3);
        let (a, b) = (NodeId::parse("n", "a").unwrap(), NodeId::parse("n", "b").unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limit.check_at(&a, t0).is_ok());
        }
        let refused = limit.check_at(&a, t0).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(limit.check_at(&b, t0).is_ok(), "another node has its own bucket");
        assert!(limit.check_at(&a, t0 + Duration::from_millis(100)).is_ok(), "a tenth of a second refills one");
    }
}
