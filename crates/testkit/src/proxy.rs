//! A TCP proxy on loopback that injects network faults at run time: delay,
//! cut connections, randomly dropped connections, and partitions.
//!
//! Each connection is two pump threads copying chunks; faults act per chunk,
//! so TLS sees what a bad network would give it: late bytes, resets, or
//! silence.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::sample::Rng;

/// A running fault proxy in front of one target address.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    target: SocketAddr,
    delay_ms: AtomicU64,
    /// Chance in a million, per chunk, that the connection is cut.
    drop_ppm: AtomicU64,
    partitioned: AtomicBool,
    stopped: AtomicBool,
    rng: Mutex<Rng>,
    open: Mutex<Vec<TcpStream>>,
    /// Connections accepted so far.
    accepted: AtomicU64,
}

impl FaultProxy {
    /// Listens on an ephemeral loopback port and forwards to `target`.
    pub fn start(target: SocketAddr, seed: u64) -> anyhow::Result<Self> {
        anyhow::ensure!(target.ip().is_loopback(), "the proxy forwards to loopback only, not {target}");
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            delay_ms: AtomicU64::new(0),
            drop_ppm: AtomicU64::new(0),
            partitioned: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            rng: Mutex::new(Rng::new(seed)),
            open: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
        });
        let s = shared.clone();
        std::thread::spawn(move || accept_loop(listener, s));
        Ok(Self { addr, shared })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Delays every chunk in both directions by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.shared.delay_ms.store(delay.as_millis() as u64, Ordering::Relaxed);
    }

    /// Cuts a connection at random, on average once every `1 / rate` chunks.
    pub fn set_drop_rate(&self, rate: f64) {
        self.shared.drop_ppm.store((rate.clamp(0.0, 1.0) * 1e6) as u64, Ordering::Relaxed);
    }

    /// Resets every open connection now.
    pub fn cut(&self) {
        for stream in self.shared.open.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Partitions: open connections go silent (bytes vanish, nothing is
    /// closed) and new connections are closed at once.
    pub fn partition(&self) {
        self.shared.partitioned.store(true, Ordering::SeqCst);
    }

    /// Ends a partition; silent connections are cut so both sides notice.
    pub fn heal(&self) {
        self.shared.partitioned.store(false, Ordering::SeqCst);
        self.cut();
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        self.cut();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        if shared.partitioned.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&shared.target, Duration::from_secs(3)) else { continue };
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) =
            (client.try_clone(), server.try_clone(), client.try_clone(), server.try_clone())
        else {
            continue;
        };
        shared.open.lock().unwrap_or_else(|p| p.into_inner()).extend([c3, s3]);
        let (a, b) = (shared.clone(), shared.clone());
        std::thread::spawn(move || pump(client, s2, &a));
        std::thread::spawn(move || pump(server, c2, &b));
    }
}

/// Copies `from` → `to` until either side closes, applying the faults.
fn pump(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let delay = shared.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        if shared.partitioned.load(Ordering::SeqCst) {
            continue;
        }
        let drop_ppm = shared.drop_ppm.load(Ordering::Relaxed);
        if drop_ppm > 0 && shared.rng.lock().unwrap_or_else(|p| p.into_inner()).below(1_000_000) < drop_ppm as usize {
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
