//! Real central and node processes for the benchmarks, and an mTLS client
//! that pushes as a node.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kechuang_proto::pb;
use kechuang_proto::pb::sync_client::SyncClient;
use kechuang_types::Record;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// A release binary next to this one.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("bench executable");
    exe.parent().expect("binary directory").join(name)
}

fn wait_ready(path: &Path, child: &mut Child) -> anyhow::Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("{} exited with {status}", path.display());
        }
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
            && value["pid"].as_u64() == Some(u64::from(child.id()))
        {
            return Ok(value);
        }
        if Instant::now() > deadline {
            bail!("{} never became ready", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `kechuang-central run` on the directory `home` until it is ready.
fn run_central(home: &Path) -> anyhow::Result<(Child, serde_json::Value)> {
    let log = std::fs::File::create(home.join("log.txt"))?;
    let mut child = Command::new(binary("kechuang-central"))
        .args(["run", "--config"])
        .arg(home.join("central.toml"))
        .env("KECHUANG_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    let ready = wait_ready(&home.join("ready.json"), &mut child)?;
    Ok((child, ready))
}

/// A running central in a temp dir.
pub struct Central {
    dir: tempfile::TempDir,
    child: Child,
    url: String,
    admin: String,
    dashboard: String,
}

/// An initialised central that is not running yet.
pub struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// Where its store lives.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("central/store")
    }

    /// Makes central keep its records in the PostgreSQL database at `url`.
    pub fn use_store(&self, url: &str) -> anyhow::Result<()> {
        let config = self.dir.path().join("central/central.toml");
        let text = std::fs::read_to_string(&config)?;
        std::fs::write(&config, format!("{text}\n[store]\nurl = \"{url}\"\n"))?;
        Ok(())
    }

    /// Starts central over whatever its store holds.
    pub fn start(self) -> anyhow::Result<Central> {
        let dir = self.dir;
        let (child, ready) = run_central(&dir.path().join("central"))?;
        let url = format!("https://{}", ready["listen"].as_str().context("listen")?);
        let admin = format!("http://{}", ready["admin"].as_str().context("admin")?);
        let dashboard = format!("http://{}", ready["dashboard"].as_str().context("dashboard")?);
        Ok(Central { dir, child, url, admin, dashboard })
    }
}

impl Central {
    /// Initialises a central on ephemeral loopback ports, not started.
    pub fn init() -> anyhow::Result<Home> {
        let dir = tempfile::Builder::new().prefix("kechuang-bench-").tempdir()?;
        let home = dir.path().join("central");
        let status = Command::new(binary("kechuang-central"))
            .args(["init", "--data-dir"])
            .arg(&home)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--dashboard-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("kechuang-central init failed (build the workspace in release first)");
        }
        Ok(Home { dir })
    }

    /// Initialises and starts a central on ephemeral loopback ports.
    pub fn start() -> anyhow::Result<Self> {
        Self::init()?.start()
    }

    /// The dashboard's base URL.
    pub fn dashboard(&self) -> Option<&str> {
        Some(&self.dashboard)
    }

    /// Waits until the matcher has read every change in the log, as the
    /// dashboard's metrics say.
    pub async fn matching_caught_up(&self, within: Duration) -> anyhow::Result<()> {
        let (url, started) = (format!("{}/metrics", self.dashboard), Instant::now());
        loop {
            let metrics = {
                let url = url.clone();
                tokio::task::spawn_blocking(move || http_get(&url)).await??
            };
            if metrics.lines().any(|l| l == "kechuang_matching_backlog 0") {
                return Ok(());
            }
            anyhow::ensure!(started.elapsed() < within, "matching did not catch up within {within:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Central's directory (central.toml, the CA, the store).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("central")
    }

    /// The URL nodes reach central at.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Issues a node bundle; returns its directory.
    pub fn issue(&self, id: &str, kind: &str, region: &str) -> anyhow::Result<PathBuf> {
        let out = self.dir.path().join(id);
        let status = Command::new(binary("kechuang-central"))
            .args(["issue", "--data-dir"])
            .arg(self.dir.path().join("central"))
            .args(["--node-id", id, "--kind", kind, "--region", region, "--out"])
            .arg(&out)
            .args(["--central-url", &self.url])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("issue failed");
        }
        Ok(out)
    }

    /// The last durable position of central's log.
    pub async fn log_head(&self) -> anyhow::Result<u64> {
        let channel = Channel::from_shared(self.admin.clone())?.connect().await?;
        let token = kechuang_pki::PresentToken::read(&self.dir.path().join("central/admin.token"))?;
        let mut admin = pb::admin_client::AdminClient::with_interceptor(channel, token);
        Ok(admin.nodes(pb::NodesRequest {}).await?.into_inner().log_head)
    }
}

impl Central {
    /// Starts another central instance over the same PostgreSQL store
    /// (`kechuang-central instance`), on ports of its own.
    pub fn start_instance(&self) -> anyhow::Result<Instance> {
        let home = self.dir.path().join("central-2");
        let status = Command::new(binary("kechuang-central"))
            .args(["instance", "--config"])
            .arg(self.home().join("central.toml"))
            .arg("--out")
            .arg(&home)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--dashboard-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("kechuang-central instance failed");
        }
        let (child, ready) = run_central(&home)?;
        let url = format!("https://{}", ready["listen"].as_str().context("listen")?);
        Ok(Instance { child, url })
    }
}

/// Another central instance over the same store.
pub struct Instance {
    child: Child,
    url: String,
}

impl Instance {
    /// The URL nodes reach it at.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Drop for Central {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sync client presenting the certificate of the node issued into `node`.
pub async fn client(central: &Central, node: &Path) -> anyhow::Result<SyncClient<Channel>> {
    client_to(&central.url, node).await
}

/// Like [`client`], to the central instance at `url`.
pub async fn client_to(url: &str, node: &Path) -> anyhow::Result<SyncClient<Channel>> {
    let read = |f: &str| std::fs::read_to_string(node.join(f)).with_context(|| format!("reading {f}"));
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.crt")?))
        .identity(Identity::from_pem(read("node.crt")?, read("node.key")?))
        .domain_name("kechuang-central");
    let channel = Endpoint::from_shared(url.to_owned())?.tls_config(tls)?.tcp_nodelay(true).connect().await?;
    Ok(SyncClient::new(channel).max_encoding_message_size(64 << 20).max_decoding_message_size(64 << 20))
}

/// The sequence an admitted push acknowledges; a refusal is an error (the
/// bench's records are all their node's own, in its area).
pub fn acked(response: tonic::Response<pb::PushResponse>) -> anyhow::Result<u64> {
    let response = response.into_inner();
    if let Some(r) = response.refused.first() {
        bail!("central refused change {}: {}: {} ({} refused)", r.seq, r.field, r.reason, response.refused.len());
    }
    Ok(response.acked_seq)
}

/// Pushes `records` after `acked` in batches of `batch`, as a node does:
/// two pushes on their way at once, acknowledgements taken in order.
/// Returns the last acknowledged sequence and the bytes sent.
pub async fn push_pipelined(
    client: &SyncClient<Channel>,
    mut last: u64,
    records: &[Record],
    batch: usize,
) -> anyhow::Result<(u64, usize)> {
    const WINDOW: usize = 2;
    let (mut bytes, mut next) = (0, last + 1);
    let mut chunks = records.chunks(batch);
    let mut in_flight = std::collections::VecDeque::with_capacity(WINDOW);
    loop {
        while in_flight.len() < WINDOW {
            let Some(chunk) = chunks.next() else { break };
            let request = push_request(next, chunk);
            next += chunk.len() as u64;
            bytes += prost::Message::encoded_len(&request);
            let mut client = client.clone();
            in_flight.push_back(tokio::spawn(async move { client.push(request).await }));
        }
        let Some(call) = in_flight.pop_front() else { return Ok((last, bytes)) };
        last = acked(call.await??)?;
    }
}

/// A push of `records` with sequence numbers from `first`.
pub fn push_request(first: u64, records: &[Record]) -> pb::PushRequest {
    let changes =
        records.iter().zip(first..).map(|(r, seq)| pb::Change { seq, record: Some(r.clone().into()) }).collect();
    pb::PushRequest { changes }
}

/// A real node that connects and then sits idle.
pub struct IdleNode {
    child: Child,
    dir: PathBuf,
}

impl IdleNode {
    /// Issues and starts a university node of `central`, waiting until its API is up.
    pub fn start(central: &Central) -> anyhow::Result<Self> {
        Self::start_as(central, "idle-node", "university", "510100")
    }

    /// Issues and starts a node of `central` of the given identity.
    pub fn start_as(central: &Central, id: &str, kind: &str, region: &str) -> anyhow::Result<Self> {
        Self::start_listing(central, id, kind, region, &[])
    }

    /// Like [`IdleNode::start_as`], reaching central at `urls` in turn
    /// (several instances) instead of at the one it was issued for.
    pub fn start_listing(central: &Central, id: &str, kind: &str, region: &str, urls: &[&str]) -> anyhow::Result<Self> {
        let dir = central.issue(id, kind, region)?;
        if !urls.is_empty() {
            let config = dir.join("node.toml");
            let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
            let text: Vec<String> =
                std::fs::read_to_string(&config)?
                    .lines()
                    .map(|l| {
                        if l.starts_with("central =") {
                            format!("central = [{}]", list.join(", "))
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
            std::fs::write(&config, text.join("\n") + "\n")?;
        }
        let log = std::fs::File::create(dir.join("log.txt"))?;
        let mut child = Command::new(binary("kechuang-node"))
            .args(["run", "--config"])
            .arg(dir.join("node.toml"))
            .env("KECHUANG_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        wait_ready(&dir.join("ready.json"), &mut child)?;
        Ok(Self { child, dir })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Publishes the rows in `file` (`kechuang-node publish`).
    pub fn publish(&self, file: &Path) -> anyhow::Result<()> {
        let out = Command::new(binary("kechuang-node"))
            .args(["publish", "--config"])
            .arg(self.dir.join("node.toml"))
            .arg(file)
            .output()?;
        anyhow::ensure!(out.status.success(), "publish: {}", String::from_utf8_lossy(&out.stderr));
        Ok(())
    }

    /// The node's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What `kechuang-node status --json` prints.
    pub fn status(&self) -> anyhow::Result<serde_json::Value> {
        let out = Command::new(binary("kechuang-node"))
            .args(["status", "--json", "--config"])
            .arg(self.dir.join("node.toml"))
            .output()?;
        anyhow::ensure!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

impl Drop for IdleNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process split by kind, in KiB: (anonymous, file-backed).
pub fn rss_split_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = rollup.lines().find(|l| l.starts_with(name)).with_context(|| format!("no {name}"))?;
        Ok(line.split_whitespace().nth(1).context("value")?.parse()?)
    };
    Ok((field("Anonymous:")?, field("Rss:")?.saturating_sub(field("Anonymous:")?)))
}

/// Resident set size of a process, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS:")
}

/// The largest resident set size a process has had, in KiB.
pub fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmHWM:")
}

/// A size in KiB from `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with(field)).with_context(|| format!("no {field}"))?;
    Ok(line.split_whitespace().nth(1).with_context(|| format!("{field} value"))?.parse()?)
}

/// A plain HTTP/1.1 GET of `url`: its body, failing unless 200.
pub fn http_get(url: &str) -> anyhow::Result<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").context("an http:// URL")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.1 200") {
        bail!("GET {url}: {}", text.lines().next().unwrap_or(""));
    }
    Ok(text.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_owned()))
}
