//! Group commit: writers wait until their transaction is flushed, sharing
//! one flush among all who arrive while another is running; the durable
//! log head is published to the feeds, which never send what a crash
//! could still take back.
//!
//! The flush runs in a task of its own: a request dropped while waiting
//! (its node disconnected) must not leave its write applied but never
//! flushed, with the durable head, and so every feed, stuck before it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kechuang_store::CentralStore;
use tokio::sync::{Mutex, watch};

/// Flushes central's store on behalf of many writers.
#[derive(Debug, Clone)]
pub struct Durability {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<CentralStore>,
    written: AtomicU64,
    flushed: Mutex<u64>,
    head: watch::Sender<u64>,
}

impl Durability {
    /// Starts with everything already on disk durable.
    pub fn new(store: Arc<CentralStore>) -> Self {
        let (head, _) = watch::channel(store.head());
        Self { inner: Arc::new(Inner { store, written: AtomicU64::new(0), flushed: Mutex::new(0), head }) }
    }

    /// Returns once every write committed before this call is on disk; the
    /// flush completes even if the caller stops waiting.
    pub async fn wait(&self) -> kechuang_store::Result<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move { inner.flush().await })
            .await
            .map_err(|e| kechuang_store::Error::Storage(e.to_string()))?
    }

    /// Publishes `head` as durable: a position another central instance
    /// committed to the shared store.
    pub fn advance(&self, head: u64) {
        self.inner.head.send_if_modified(|h| {
            let moved = head > *h;
            *h = (*h).max(head);
            moved
        });
    }

    /// Follows the durable log head.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }
}

impl Inner {
    async fn flush(&self) -> kechuang_store::Result<()> {
        let mine = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self.flushed.lock().await;
        if *flushed >= mine {
            return Ok(());
        }
        let upto = self.written.load(Ordering::SeqCst);
        let head = self.store.head();
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.flush())
            .await
            .map_err(|e| kechuang_store::Error::Storage(e.to_string()))??;
        *flushed = upto;
        self.head.send_if_modified(|h| {
            let moved = head > *h;
            *h = (*h).max(head);
            moved
        });
        Ok(())
    }
}
