//! A central and its nodes, each a real process in its own directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::process::{Daemon, command, run_ok};
use crate::watchdog::Watchdog;

/// A test network: one central and any number of nodes, in one temp dir.
/// On a shared store, central may run as several instances over one
/// PostgreSQL cluster of the test's own.
pub struct Cluster {
    dir: Option<tempfile::TempDir>,
    /// The central coordinator (the first instance, on a shared store).
    pub central: Central,
    /// Further central instances over the same database.
    instances: Vec<Central>,
    postgres: Option<crate::Postgres>,
    nodes: BTreeMap<String, Node>,
    files: usize,
    _watchdog: Watchdog,
}

impl Cluster {
    /// Creates the directory and starts central on ephemeral loopback ports.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(|toml| toml)
    }

    /// Like [`Cluster::start`], with `central.toml` settings replaced (`key`, TOML value).
    pub fn start_with_settings(settings: &[(&str, &str)]) -> anyhow::Result<Self> {
        let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Self::start_with(move |toml| {
            toml.lines()
                .map(|line| {
                    let key = line.split('=').next().unwrap_or("").trim();
                    match settings.iter().find(|(k, _)| k == key) {
                        Some((k, v)) => format!("{k} = {v}"),
                        None => line.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// Like [`Cluster::start`], with `edit` applied to `central.toml` first.
    pub fn start_with(edit: impl FnOnce(String) -> String) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("kechuang-test-").tempdir()?;
        let watchdog = Watchdog::start(dir.path());
        let central = Central::start(&dir.path().join("central"), edit)?;
        let nodes = BTreeMap::new();
        Ok(Self {
            dir: Some(dir),
            central,
            instances: Vec::new(),
            postgres: None,
            nodes,
            files: 0,
            _watchdog: watchdog,
        })
    }

    /// Starts a PostgreSQL cluster and `instances` central instances over
    /// it, sharing one CA and one server certificate; nodes added later list
    /// every instance's URL, the first instance first.
    pub fn start_shared(instances: usize) -> anyhow::Result<Self> {
        let postgres = crate::Postgres::start_with(&["fsync = off"])?;
        let url = postgres.database("kechuang")?;
        let mut cluster = Self::start_with(|toml| format!("{toml}\n[store]\nurl = \"{url}\"\n"))?;
        cluster.postgres = Some(postgres);
        for n in 1..instances {
            let home = cluster.path().join(format!("central-{n}"));
            let instance = Central::instance_of(&cluster.central, &home)?;
            cluster.instances.push(instance);
        }
        Ok(cluster)
    }

    /// Central instance `n` (0 is [`Cluster::central`]).
    pub fn instance(&mut self, n: usize) -> &mut Central {
        match n {
            0 => &mut self.central,
            n => &mut self.instances[n - 1],
        }
    }

    /// How many central instances there are.
    pub fn instance_count(&self) -> usize {
        1 + self.instances.len()
    }

    /// The PostgreSQL server of a shared cluster.
    pub fn postgres(&mut self) -> &mut crate::Postgres {
        self.postgres.as_mut().expect("a cluster started with start_shared")
    }

    /// `kechuang-central list --json` through the first instance that answers.
    pub fn list_any(&mut self, kind: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut last = None;
        for n in 0..self.instance_count() {
            match self.instance(n).list(kind, None) {
                Ok(records) => return Ok(records),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no central instance")))
    }

    /// A TOML array of the instances' URLs in `order`, for a node's `central`.
    pub fn central_urls(&mut self, order: &[usize]) -> String {
        let urls: Vec<String> = order.iter().map(|n| format!("\"{}\"", self.instance(*n).url())).collect();
        format!("[{}]", urls.join(", "))
    }

    /// The cluster's directory.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).expect("cluster directory")
    }

    /// Issues a society for `fields` (`C38,C39`) and starts it.
    pub fn add_society(&mut self, id: &str, region: &str, fields: &str) -> anyhow::Result<&mut Node> {
        let home = self.path().join(id);
        self.central.issue_with(id, "society", region, &home, &["--fields", fields])?;
        let node = Node { id: id.to_owned(), daemon: Daemon::new("kechuang-node", home.join("node.toml")) };
        self.nodes.insert(id.to_owned(), node);
        self.node(id).start()?;
        Ok(self.node(id))
    }

    /// Issues a node directory with `kechuang-central issue` and starts the node.
    pub fn add_node(&mut self, id: &str, kind: &str, region: &str) -> anyhow::Result<&mut Node> {
        let node = self.add_stopped_node(id, kind, region)?;
        node.start()?;
        Ok(node)
    }

    /// Issues a node directory with `kechuang-central issue`; the node is not started.
    pub fn add_stopped_node(&mut self, id: &str, kind: &str, region: &str) -> anyhow::Result<&mut Node> {
        let home = self.path().join(id);
        self.central.issue(id, kind, region, &home)?;
        let node = Node { id: id.to_owned(), daemon: Daemon::new("kechuang-node", home.join("node.toml")) };
        if !self.instances.is_empty() {
            let order: Vec<usize> = (0..self.instance_count()).collect();
            node.set("central", &self.central_urls(&order))?;
        }
        self.nodes.insert(id.to_owned(), node);
        Ok(self.node(id))
    }

    /// A node's directory (node.toml, certificates, data).
    pub fn node_dir(&self, id: &str) -> PathBuf {
        self.nodes.get(id).unwrap_or_else(|| panic!("no node {id}")).dir().to_owned()
    }

    /// A node by id.
    pub fn node(&mut self, id: &str) -> &mut Node {
        self.nodes.get_mut(id).unwrap_or_else(|| panic!("no node {id}"))
    }

    /// Writes `rows` as a JSON Lines file in the cluster directory.
    pub fn write_rows(&mut self, rows: &[Value]) -> anyhow::Result<PathBuf> {
        self.files += 1;
        let path = self.path().join(format!("rows-{}.jsonl", self.files));
        let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Whether every running node's digest equals what central says it should hold.
    pub fn converged(&mut self) -> anyhow::Result<bool> {
        for node in self.nodes.values_mut().filter(|n| n.daemon.is_running()) {
            if !node.converged()? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() || crate::process::WAIT_FAILED.with(std::cell::Cell::get) {
            eprintln!("===== central log =====\n{}", self.central.daemon.log_text());
            for (n, instance) in self.instances.iter().enumerate() {
                eprintln!("===== central instance {} log =====\n{}", n + 1, instance.daemon.log_text());
            }
            if let Some(postgres) = &self.postgres {
                eprintln!("===== postgres log =====\n{}", postgres.log());
            }
            for (id, node) in &self.nodes {
                eprintln!("===== node {id} log =====\n{}", node.daemon.log_text());
                if node.daemon.is_running() {
                    match node.status() {
                        Ok(status) => eprintln!("===== node {id} status =====\n{status:#}"),
                        Err(e) => eprintln!("===== node {id} status =====\n{e:#}"),
                    }
                }
            }
        }
        if std::env::var_os("KECHUANG_TEST_KEEP_DIR").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("kept test directory {}", dir.keep().display());
        }
    }
}

/// Central's three listening addresses, each on any free loopback port.
const EPHEMERAL: [&str; 6] =
    ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--dashboard-listen", "127.0.0.1:0"];

/// The central process.
pub struct Central {
    /// Central's directory (holds central.toml).
    pub home: PathBuf,
    daemon: Daemon,
    port: u16,
}

impl Central {
    fn start(home: &Path, edit: impl FnOnce(String) -> String) -> anyhow::Result<Self> {
        run_ok(command("kechuang-central").args(["init", "--data-dir"]).arg(home).args(EPHEMERAL))?;
        let config = home.join("central.toml");
        std::fs::write(&config, edit(std::fs::read_to_string(&config)?))?;
        Self::launch(home)
    }

    /// Another instance of `first` in `home`, set up by
    /// `kechuang-central instance`: the same store and CA, a certificate
    /// and ports of its own.
    fn instance_of(first: &Central, home: &Path) -> anyhow::Result<Self> {
        run_ok(
            command("kechuang-central")
                .args(["instance", "--config"])
                .arg(first.home.join("central.toml"))
                .arg("--out")
                .arg(home)
                .args(EPHEMERAL),
        )?;
        Self::launch(home)
    }

    fn launch(home: &Path) -> anyhow::Result<Self> {
        let config = home.join("central.toml");
        let mut daemon = Daemon::new("kechuang-central", config.clone());
        let ready = daemon.start()?;
        // Pin the ports it got, so a restart comes back where nodes look for it.
        let listen = ready["listen"].as_str().context("ready.json: listen")?;
        let admin = ready["admin"].as_str().context("ready.json: admin")?;
        let dashboard = ready["dashboard"].as_str().context("ready.json: dashboard")?;
        let text = std::fs::read_to_string(&config)?
            .replace("listen = \"127.0.0.1:0\"\nadmin", &format!("listen = \"{listen}\"\nadmin"))
            .replace("admin_listen = \"127.0.0.1:0\"", &format!("admin_listen = \"{admin}\""))
            .replace("dashboard_listen = \"127.0.0.1:0\"", &format!("dashboard_listen = \"{dashboard}\""));
        std::fs::write(&config, text)?;
        let port = listen.rsplit(':').next().context("port")?.parse()?;
        Ok(Self { home: home.to_owned(), daemon, port })
    }

    /// The dashboard's address, from central's ready file (`http://…`).
    pub fn dashboard(&self) -> anyhow::Result<String> {
        let ready: Value = serde_json::from_str(&std::fs::read_to_string(self.daemon.ready_file())?)?;
        Ok(format!("http://{}", ready["dashboard"].as_str().context("ready.json: dashboard")?))
    }

    /// The URL nodes reach central at.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The address central's sync service listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Central's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.home.join("data")
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// SIGTERM, expecting a clean exit.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        self.daemon.terminate()
    }

    /// The process, for crash points, file-size limits and its state.
    pub fn process(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// Starts central again on the same directory and ports.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.daemon.start().map(drop)
    }

    /// `kechuang-central list --json`: all records, or what `node` should hold.
    pub fn list(&self, kind: Option<&str>, node: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut command = command("kechuang-central");
        command.args(["list", "--json", "--config"]).arg(&self.daemon.config);
        command.args(kind);
        if let Some(node) = node {
            command.args(["--node", node]);
        }
        json_array(&run_ok(&mut command)?.stdout)
    }

    /// `kechuang-central revoke`: its output.
    pub fn revoke(&self, node: &str) -> anyhow::Result<String> {
        let mut command = command("kechuang-central");
        command.args(["revoke", "--data-dir"]).arg(&self.home).args(["--node-id", node]);
        Ok(String::from_utf8_lossy(&run_ok(&mut command)?.stdout).into_owned())
    }

    /// `kechuang-central issue` of a node directory that is not started.
    pub fn issue(&self, id: &str, kind: &str, region: &str, out: &Path) -> anyhow::Result<()> {
        self.issue_with(id, kind, region, out, &[])
    }

    /// Like [`Central::issue`], with further options (`--fields C38`).
    pub fn issue_with(&self, id: &str, kind: &str, region: &str, out: &Path, extra: &[&str]) -> anyhow::Result<()> {
        run_ok(
            command("kechuang-central")
                .args(["issue", "--data-dir"])
                .arg(&self.home)
                .args(["--node-id", id, "--kind", kind, "--region", region, "--out"])
                .arg(out)
                .args(["--central-url", &self.url()])
                .args(extra),
        )
        .map(drop)
    }

    /// `kechuang-central history --json [ID]`: the events, oldest first.
    pub fn history(&self, id: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut command = command("kechuang-central");
        command.args(["history", "--json", "--config"]).arg(&self.daemon.config).args(id);
        json_array(&run_ok(&mut command)?.stdout)
    }

    /// `kechuang-central history --since DAY --out FILE`: what it printed.
    pub fn export_history(&self, since: &str, out: &Path) -> anyhow::Result<String> {
        let mut command = command("kechuang-central");
        command.args(["history", "--since", since, "--out"]).arg(out).arg("--config").arg(&self.daemon.config);
        Ok(String::from_utf8_lossy(&run_ok(&mut command)?.stdout).into_owned())
    }

    /// `kechuang-central VERB --config … ARGS…`: what it printed.
    pub fn verb(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = command("kechuang-central");
        command.arg(args[0]).arg("--config").arg(&self.daemon.config).args(&args[1..]);
        Ok(String::from_utf8_lossy(&run_ok(&mut command)?.stdout).into_owned())
    }

    /// `kechuang-central VERB --config … ARGS…`, expected to fail: its stderr.
    pub fn verb_failing(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = command("kechuang-central")
            .arg(args[0])
            .arg("--config")
            .arg(&self.daemon.config)
            .args(&args[1..])
            .output()?;
        if output.status.success() {
            bail!("kechuang-central {args:?} succeeded but should have failed");
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// `kechuang-central nodes --json`.
    pub fn nodes(&self) -> anyhow::Result<Vec<Value>> {
        let mut command = command("kechuang-central");
        command.args(["nodes", "--json", "--config"]).arg(&self.daemon.config);
        json_array(&run_ok(&mut command)?.stdout)
    }
}

/// A node process.
pub struct Node {
    /// The node's id.
    pub id: String,
    daemon: Daemon,
}

impl Node {
    /// A node from a directory set up some other way (not yet started).
    pub fn in_dir(id: &str, dir: &Path) -> Self {
        Self { id: id.to_owned(), daemon: Daemon::new("kechuang-node", dir.join("node.toml")) }
    }

    /// The node's config file.
    pub fn config(&self) -> &Path {
        &self.daemon.config
    }

    /// The node's directory (node.toml, certificates, data).
    pub fn dir(&self) -> &Path {
        self.daemon.config.parent().expect("node directory")
    }

    /// Points the node at another central address (e.g. a fault proxy); takes effect at the next start.
    pub fn set_central(&self, addr: std::net::SocketAddr) -> anyhow::Result<()> {
        self.set("central", &format!("\"https://{addr}\""))
    }

    /// Sets `key = value` (a TOML value) in node.toml; takes effect at the next start.
    pub fn set(&self, key: &str, value: &str) -> anyhow::Result<()> {
        let path = &self.daemon.config;
        let mut lines: Vec<String> = std::fs::read_to_string(path)?.lines().map(str::to_owned).collect();
        let line = format!("{key} = {value}");
        match lines.iter_mut().find(|l| l.split('=').next().map(str::trim) == Some(key)) {
            Some(existing) => *existing = line,
            None => lines.insert(0, line),
        }
        std::fs::write(path, lines.join("\n") + "\n")?;
        Ok(())
    }

    /// Starts (or restarts) the node on its directory.
    pub fn start(&mut self) -> anyhow::Result<()> {
        self.daemon.start().map(drop)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// SIGTERM, expecting a clean exit.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        self.daemon.terminate()
    }

    /// The process, for crash points, file-size limits and its state.
    pub fn process(&mut self) -> &mut Daemon {
        &mut self.daemon
    }

    /// `kechuang-node publish --json FILE…`: the import summary.
    pub fn publish(&self, files: &[&Path]) -> anyhow::Result<Value> {
        let mut command = self.verb("publish");
        command.arg("--json").args(files);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node export [KIND] --out FILE [--own]`: what it printed.
    pub fn export(&self, kind: Option<&str>, out: &Path, own: bool) -> anyhow::Result<String> {
        let mut command = self.verb("export");
        command.args(kind).arg("--out").arg(out);
        if own {
            command.arg("--own");
        }
        Ok(String::from_utf8_lossy(&run_ok(&mut command)?.stdout).into_owned())
    }

    /// `kechuang-node publish`, expected to fail: its stderr.
    pub fn publish_failing(&self, files: &[&Path]) -> anyhow::Result<String> {
        let output = self.verb("publish").args(files).output()?;
        if output.status.success() {
            bail!("publish succeeded but should have failed: {}", String::from_utf8_lossy(&output.stdout));
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// `kechuang-node stats --json ARGS…`: this station's figures from central.
    pub fn stats(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut command = self.verb("stats");
        command.arg("--json").args(args);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node respond --json MATCH ACTION [OPTIONS…]` (`answer` is
    /// the action and its options): the match after the answer.
    pub fn respond(&self, match_id: &str, answer: &[&str]) -> anyhow::Result<Value> {
        let mut command = self.verb("respond");
        command.args(["--json", match_id]).args(answer);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node respond MATCH ACTION [OPTIONS…]`, expected to be refused: its stderr.
    pub fn respond_refused(&self, match_id: &str, answer: &[&str]) -> anyhow::Result<String> {
        let output = self.verb("respond").arg(match_id).args(answer).output()?;
        if output.status.success() {
            bail!("respond {answer:?} succeeded but should have been refused");
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// `kechuang-node bid --json DEMAND --proposal P --outcome O…`: the bid.
    pub fn bid(&self, demand: &str, proposal: &str, outcomes: &[&str]) -> anyhow::Result<Value> {
        let mut command = self.verb("bid");
        command.args(["--json", demand, "--proposal", proposal]);
        for o in outcomes {
            command.args(["--outcome", o]);
        }
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node search --json TEXT KIND` plus `extra` options: the hits
    /// (`{"score", "record"}`), best first.
    pub fn search(&self, text: &str, kind: &str, extra: &[&str]) -> anyhow::Result<Vec<Value>> {
        let mut command = self.verb("search");
        command.args(["--json", text, kind]).args(extra);
        let out = run_ok(&mut command)?;
        String::from_utf8_lossy(&out.stdout).lines().map(|l| Ok(serde_json::from_str(l)?)).collect()
    }

    /// `kechuang-node interest --json DEMAND --outcome REF --note NOTE`: the match.
    pub fn interest(&self, demand: &str, outcome: &str, note: &str) -> anyhow::Result<Value> {
        let mut command = self.verb("interest");
        command.args(["--json", demand, "--outcome", outcome, "--note", note]);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node bid`, expected to be refused: its stderr.
    pub fn bid_refused(&self, demand: &str, proposal: &str, outcomes: &[&str]) -> anyhow::Result<String> {
        let mut command = self.verb("bid");
        command.args([demand, "--proposal", proposal]);
        for o in outcomes {
            command.args(["--outcome", o]);
        }
        let output = command.output()?;
        if output.status.success() {
            bail!("bid succeeded but should have been refused");
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// `kechuang-node assess --json SUBJECT --scores S --verdict V
    /// --evaluator 评审专家组 --text T`: the assessment.
    pub fn assess(&self, subject: &str, scores: &str, verdict: &str, text: &str) -> anyhow::Result<Value> {
        let mut command = self.verb("assess");
        command.args(["--json", subject, "--scores", scores, "--verdict", verdict, "--evaluator", "评审专家组"]);
        command.args(["--text", text]);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node assess …`, expected to be refused: its stderr.
    pub fn assess_refused(&self, subject: &str, scores: &str, verdict: &str) -> anyhow::Result<String> {
        let mut command = self.verb("assess");
        command.args([
            subject,
            "--scores",
            scores,
            "--verdict",
            verdict,
            "--evaluator",
            "评审专家组",
            "--text",
            "意见",
        ]);
        let output = command.output()?;
        if output.status.success() {
            bail!("assess succeeded but should have been refused");
        }
        Ok(String::from_utf8_lossy(&output.stderr).into_owned())
    }

    /// `kechuang-node team --config … --json ACTION ARGS…`: the team.
    pub fn team(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut command = self.verb("team");
        command.arg("--json").args(args);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node award --json BID`.
    pub fn award(&self, bid: &str) -> anyhow::Result<Value> {
        let mut command = self.verb("award");
        command.args(["--json", bid]);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node list --json [KIND]`: what the node lists (withdrawn records left out).
    pub fn list(&self, kind: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut command = self.verb("list");
        command.arg("--json").args(kind);
        json_array(&run_ok(&mut command)?.stdout)
    }

    /// `kechuang-node list --json --withdrawn [KIND]`: everything the node holds.
    pub fn list_all(&self, kind: Option<&str>) -> anyhow::Result<Vec<Value>> {
        let mut command = self.verb("list");
        command.args(["--json", "--withdrawn"]).args(kind);
        json_array(&run_ok(&mut command)?.stdout)
    }

    /// `kechuang-node withdraw --json ID --reason R --note N`: the record withdrawn.
    pub fn withdraw(&self, id: &str, reason: &str, note: &str) -> anyhow::Result<Value> {
        let mut command = self.verb("withdraw");
        command.args(["--json", id, "--reason", reason, "--note", note]);
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// `kechuang-node status --json`.
    pub fn status(&self) -> anyhow::Result<Value> {
        let mut command = self.verb("status");
        command.arg("--json");
        Ok(serde_json::from_slice(&run_ok(&mut command)?.stdout)?)
    }

    /// Whether the node is connected, has nothing unacknowledged and holds
    /// what central says it should.
    pub fn converged(&self) -> anyhow::Result<bool> {
        let s = self.status()?;
        Ok(s["connected"] == true && s["unacked"] == 0 && s["converged"] == true)
    }

    fn verb(&self, verb: &str) -> Command {
        let mut command = command("kechuang-node");
        command.arg(verb).arg("--config").arg(&self.daemon.config);
        command
    }

    /// `kechuang-node console`: the console's address with the token to sign in.
    pub fn console_url(&self) -> anyhow::Result<String> {
        let out = run_ok(&mut self.verb("console"))?;
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// `kechuang-node watch --json`, running: its events line by line.
    pub fn watch(&self) -> anyhow::Result<Watch> {
        let mut command = self.verb("watch");
        command.arg("--json").stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::null());
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let (lines, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Watch { child, lines: receiver })
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        self.daemon.log_text()
    }
}

/// A running `kechuang-node watch --json`; stopped when dropped.
pub struct Watch {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watch {
    /// The next event within `timeout`, or `None`.
    pub fn next(&self, timeout: std::time::Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        serde_json::from_str(&line).ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json_array(stdout: &[u8]) -> anyhow::Result<Vec<Value>> {
    match serde_json::from_slice(stdout)? {
        Value::Array(items) => Ok(items),
        other => bail!("expected a JSON array, got {other}"),
    }
}
