//! Per-node budgets, so one node's flood cannot starve the others: a token
//! bucket of requests per node, and a bucket of the work a node's requests
//! make central do (records scanned), which a node may overdraw once and
//! then waits to repay.

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
    /// The limit in words, for refusals (`200 requests per second`).
    limit: String,
    buckets: Mutex<HashMap<NodeId, Bucket>>,
}

impl RateLimit {
    /// `rate` requests per second sustained, `burst` at once.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self::of(format!("{rate} requests per second"), f64::from(rate), f64::from(burst))
    }

    /// `per_minute` records scanned per minute, as much at once.
    pub fn scans(per_minute: u64) -> Self {
        let budget = per_minute as f64;
        Self::of(format!("{per_minute} records scanned per minute"), budget / 60.0, budget)
    }

    fn of(limit: String, rate: f64, burst: f64) -> Self {
        Self { rate, burst, limit, buckets: Mutex::default() }
    }

    /// Takes one request's token for `node`, or RESOURCE_EXHAUSTED.
    pub fn check(&self, node: &NodeId) -> Result<(), Status> {
        self.take(node, 1.0, Instant::now())
    }

    /// Refuses `node` while it is in debt (RESOURCE_EXHAUSTED); the work
    /// it is let do is charged after, with [`RateLimit::charge`].
    pub fn admit(&self, node: &NodeId) -> Result<(), Status> {
        self.take(node, 0.0, Instant::now())
    }

    /// Charges `node` for `cost` units of work done; it may go into debt.
    pub fn charge(&self, node: &NodeId, cost: u64) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = self.refill(&mut buckets, node, now);
        bucket.tokens -= cost as f64;
    }

    fn refill<'a>(&self, buckets: &'a mut HashMap<NodeId, Bucket>, node: &NodeId, now: Instant) -> &'a mut Bucket {
        let bucket = buckets.entry(node.clone()).or_insert(Bucket { tokens: self.burst, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        bucket
    }

    fn take(&self, node: &NodeId, cost: f64, now: Instant) -> Result<(), Status> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = self.refill(&mut buckets, node, now);
        let enough = if cost > 0.0 { bucket.tokens >= cost } else { bucket.tokens > 0.0 };
        if enough {
            bucket.tokens -= cost;
            Ok(())
        } else {
            Err(Status::resource_exhausted(format!("node {node}: more than {}", self.limit)))
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
            assert!(limit.take(&a, 1.0, t0).is_ok());
        }
        let refused = limit.take(&a, 1.0, t0).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
        assert!(limit.take(&b, 1.0, t0).is_ok(), "another node has its own bucket");
        assert!(limit.take(&a, 1.0, t0 + Duration::from_millis(100)).is_ok(), "a tenth of a second refills one");
    }

    #[test]
    fn work_is_charged_after_and_a_node_in_debt_waits() {
        let scans = RateLimit::scans(60_000);
        let node = NodeId::parse("n", "a").unwrap();
        assert!(scans.admit(&node).is_ok());
        scans.charge(&node, 100_000);
        let refused = scans.admit(&node).unwrap_err();
        assert!(refused.message().contains("60000 records scanned per minute"), "{}", refused.message());
        let t = Instant::now() + Duration::from_secs(41);
        assert!(scans.take(&node, 0.0, t).is_ok(), "the debt is repaid at the budget's rate");
    }
}
