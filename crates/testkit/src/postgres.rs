//! A throwaway PostgreSQL cluster: `initdb` in a temp dir, one server on a
//! loopback port, killed and deleted when dropped. Tests of central's
//! PostgreSQL backend start one each, so nothing is shared between tests
//! and nothing needs a server installed as a service.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where Debian puts the server binaries, newest first.
const DEBIAN_BINS: &[&str] =
    &["/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];

/// A running PostgreSQL server of its own.
#[derive(Debug)]
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    child: Option<Child>,
    /// The `postgres` account to run as when the tests run as root.
    account: Option<(u32, u32)>,
}

/// The directory of `initdb` and `postgres`: `$KECHUANG_PG_BIN`, Debian's
/// server directory, or `PATH`.
pub fn server_binaries() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KECHUANG_PG_BIN").map(PathBuf::from) {
        anyhow::ensure!(dir.join("initdb").is_file(), "KECHUANG_PG_BIN={}: no initdb there", dir.display());
        return Ok(dir);
    }
    let found = DEBIAN_BINS.iter().map(PathBuf::from).find(|d| d.join("initdb").is_file()).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file())
    });
    found.context("PostgreSQL's server binaries (initdb, postgres) were not found: install Debian's `postgresql` package or set KECHUANG_PG_BIN")
}

impl Postgres {
    /// Creates a cluster in a temp dir and starts it on a free loopback port,
    /// durable like a real one (`fsync` on).
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(&[])
    }

    /// Like [`Postgres::start`], with extra `-c name=value` settings.
    pub fn start_with(settings: &[&str]) -> anyhow::Result<Self> {
        let bin = server_binaries()?;
        let dir = tempfile::Builder::new().prefix("kechuang-pg-").tempdir()?;
        let account = if running_as_root() { Some(postgres_account()?) } else { None };
        if let Some((uid, gid)) = account {
            chown(dir.path(), Some(uid), Some(gid))?;
        }
        let mut pg = Self { dir, bin, port: 0, child: None, account };
        let mut initdb = pg.command("initdb");
        initdb.args(["-D"]).arg(pg.data()).args([
            "-U",
            "kechuang",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        let out = initdb.output().context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut conf = String::from("\n# kechuang tests\nmax_connections = 200\nshared_buffers = 64MB\n");
        for setting in settings {
            conf.push_str(setting);
            conf.push('\n');
        }
        let path = pg.data().join("postgresql.conf");
        let mut text = fs::read_to_string(&path)?;
        text.push_str(&conf);
        fs::write(&path, text)?;
        pg.port = free_port()?;
        pg.launch()?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.env("LC_ALL", "C").current_dir(self.dir.path());
        if let Some((uid, gid)) = self.account {
            command.uid(uid).gid(gid);
        }
        command
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let log = self.dir.path().join("postgres.log");
        let _ = fs::remove_file(&log);
        let file = fs::File::create(&log)?;
        if let Some((uid, gid)) = self.account {
            chown(&log, Some(uid), Some(gid))?;
        }
        let mut server = self.command("postgres");
        server
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        self.child = Some(server.spawn().context("starting postgres")?);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = fs::read_to_string(&log).unwrap_or_default();
            if text.contains("ready to accept connections") {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("postgres exited ({status}): {text}");
            }
            if Instant::now() > deadline {
                bail!("postgres did not become ready in 60 s: {text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A connection URL for central's `[store] url`.
    pub fn url(&self) -> String {
        format!("postgres://kechuang@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates database `name` (if missing) and returns its URL.
    pub fn database(&self, name: &str) -> anyhow::Result<String> {
        let out = self
            .command("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "kechuang", "-d", "postgres", "-qAt", "-c"])
            .arg(format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"))
            .output()?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        if String::from_utf8_lossy(&out.stdout).trim() != "1" {
            let out = self
                .command("createdb")
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "kechuang", name])
                .output()?;
            if !out.status.success() {
                bail!("createdb {name} failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        Ok(format!("postgres://kechuang@127.0.0.1:{}/{name}", self.port))
    }

    /// Runs `sql` with `psql` against database `postgres` and returns its
    /// unaligned output.
    pub fn psql(&self, sql: &str) -> anyhow::Result<String> {
        let out = self
            .command("psql")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "kechuang",
                "-d",
                "postgres",
                "-qAt",
                "-c",
                sql,
            ])
            .output()?;
        if !out.status.success() {
            bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Stops the server the fast way (clients are disconnected, the state
    /// is checkpointed), as an operator's restart does.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT)?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same port after [`Postgres::stop`].
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.launch()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(self.dir.path().join("postgres.log")) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// The cluster's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Immediate shutdown: the cluster is thrown away.
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
            let _ = child.wait();
        }
    }
}

/// The uid and gid of the `postgres` account (`initdb` refuses root).
fn postgres_account() -> anyhow::Result<(u32, u32)> {
    let passwd = fs::read_to_string("/etc/passwd")?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .context("running as root, and there is no `postgres` account to run PostgreSQL as (initdb refuses root)")?;
    let fields: Vec<&str> = line.split(':').collect();
    Ok((fields[2].parse()?, fields[3].parse()?))
}

/// Whether this process runs as root (its `/proc` entry is root's).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
