//! Central's sync listener: accepts TCP, completes mutual TLS itself and
//! hands tonic only connections from a node certificate that holds fewer
//! than its share of open connections, so one node (hostile, or broken and
//! reconnecting in a loop) cannot take the sockets, memory and handshakes
//! every other node needs. A connection can also be cut from the server
//! side (a feed nobody reads): everything buffered for it is then freed.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use kechuang_types::NodeId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;
use tracing::{debug, warn};

/// How long a client has to complete the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Open connections per node certificate, and a way to cut each.
#[derive(Debug)]
pub struct Gate {
    per_node: usize,
    open: Mutex<HashMap<NodeId, usize>>,
    cuts: Mutex<HashMap<SocketAddr, (u64, CancellationToken)>>,
    next: std::sync::atomic::AtomicU64,
}

impl Gate {
    /// At most `per_node` open connections per node certificate.
    pub fn new(per_node: usize) -> Self {
        Self { per_node, open: Mutex::default(), cuts: Mutex::default(), next: Default::default() }
    }

    /// Takes one of `node`'s connection slots, if it has one left.
    fn enter(self: &Arc<Self>, node: &NodeId, peer: SocketAddr) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(node.clone()).or_default();
        if *count >= self.per_node {
            return None;
        }
        *count += 1;
        let cut = CancellationToken::new();
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.cuts.lock().unwrap_or_else(|p| p.into_inner()).insert(peer, (id, cut.clone()));
        Some(Slot { gate: self.clone(), node: node.clone(), peer, id, cut })
    }

    /// How many connections `node` holds open.
    pub fn open(&self, node: &NodeId) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).get(node).copied().unwrap_or(0)
    }

    /// Cuts the connection from `peer`, if it is open: it fails at once,
    /// and what was buffered for it is freed.
    pub fn cut(&self, peer: SocketAddr) {
        if let Some((_, cut)) = self.cuts.lock().unwrap_or_else(|p| p.into_inner()).get(&peer) {
            cut.cancel();
        }
    }
}

/// One connection slot, given back when the connection closes.
#[derive(Debug)]
struct Slot {
    gate: Arc<Gate>,
    node: NodeId,
    peer: SocketAddr,
    id: u64,
    cut: CancellationToken,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.node) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.node);
            }
        }
        drop(open);
        let mut cuts = self.gate.cuts.lock().unwrap_or_else(|p| p.into_inner());
        if cuts.get(&self.peer).is_some_and(|(id, _)| *id == self.id) {
            cuts.remove(&self.peer);
        }
    }
}

/// A node's TLS connection, holding its slot while open.
pub struct Connection {
    inner: TlsStream<TcpStream>,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    _slot: Slot,
}

impl Connection {
    /// Fails once the connection has been cut (and wakes the reader then).
    fn check_cut(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.cut.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(io::ErrorKind::ConnectionAborted, "cut by central")),
            Poll::Pending => Ok(()),
        }
    }
}

impl Connected for Connection {
    type ConnectInfo = <TlsStream<TcpStream> as Connected>::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for Connection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_cut(cx)?;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Accepts on `listener` until `shutdown`, handshaking each connection in
/// a task of its own; yields the admitted ones for tonic.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    gate: Arc<Gate>,
    shutdown: CancellationToken,
) -> ReceiverStream<io::Result<Connection>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown.cancelled() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, gate, tx) = (acceptor.clone(), gate.clone(), tx.clone());
            tokio::spawn(async move {
                let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => return debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return debug!(%peer, "TLS handshake timed out"),
                };
                let identity = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|leaf| kechuang_pki::identity_of(leaf));
                let node = match identity {
                    Some(Ok(identity)) => identity.id,
                    // Verified by the CA but not a node certificate: the
                    // handlers refuse it with a reason.
                    _ => NodeId::central(),
                };
                let Some(slot) = gate.enter(&node, peer) else {
                    return warn!(%node, %peer, "too many connections from one node: refused");
                };
                let cut = Box::pin(slot.cut.clone().cancelled_owned());
                let _ = tx.send(Ok(Connection { inner: tls, cut, _slot: slot })).await;
            });
        }
    });
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_gets_its_share_of_connections_and_gets_them_back() {
        let gate = Arc::new(Gate::new(2));
        let (a, b) = (NodeId::parse("n", "a").unwrap(), NodeId::parse("n", "b").unwrap());
        let peer = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let first = gate.enter(&a, peer(1)).expect("first");
        let second = gate.enter(&a, peer(2)).expect("second");
        assert!(gate.enter(&a, peer(3)).is_none(), "a third is refused");
        assert!(gate.enter(&b, peer(4)).is_some(), "another node has its own share");
        gate.cut(peer(2));
        assert!(second.cut.is_cancelled() && !first.cut.is_cancelled(), "a cut reaches its connection only");
        drop(first);
        assert_eq!(gate.open(&a), 1);
        assert!(gate.enter(&a, peer(1)).is_some(), "a closed connection frees its slot");
    }
}
