//! `central.toml`: the file layer and the validated configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// `central.toml` as written on disk. Paths are relative to its directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where nodes connect (sync service, mutual TLS).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The admin API; must be a loopback address.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: String,
    /// The dashboard (HTTP): loopback by default; anywhere else every page
    /// asks for the admin token.
    #[serde(default = "default_dashboard_listen")]
    pub dashboard_listen: String,
    /// Ask for the admin token on loopback too (always asked elsewhere).
    #[serde(default)]
    pub dashboard_token_required: bool,
    /// The store.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The CA certificate nodes are verified against.
    #[serde(default = "default_ca_cert")]
    pub ca_cert: PathBuf,
    /// The CA private key (used by `issue`; never leaves this machine).
    #[serde(default = "default_ca_key")]
    pub ca_key: PathBuf,
    /// Central's server certificate.
    #[serde(default = "default_cert")]
    pub cert: PathBuf,
    /// Central's private key.
    #[serde(default = "default_key")]
    pub key: PathBuf,
    /// Sustained requests per second one node may make.
    #[serde(default = "default_rate")]
    pub rate_per_node: u32,
    /// Requests one node may make in a burst above the sustained rate.
    #[serde(default = "default_burst")]
    pub burst_per_node: u32,
    /// The full-text index (derived state, rebuilt when missing or stale).
    #[serde(default = "default_index_dir")]
    pub index_dir: PathBuf,
    /// Seconds without an accepted proposal before a demand escalates to the next tier.
    #[serde(default = "default_escalation")]
    pub escalation_secs: f64,
    /// Days a proposal waits for its answers before it expires.
    #[serde(default = "default_ttl")]
    pub proposal_ttl_days: f64,
    /// How far ahead of central's clock a pushed version may be, in seconds.
    #[serde(default = "default_skew")]
    pub max_clock_skew_secs: u64,
    /// Connections one node certificate may hold open at once.
    #[serde(default = "default_connections")]
    pub connections_per_node: u32,
    /// Seconds a feed may go unread before central closes it.
    #[serde(default = "default_feed_stall")]
    pub feed_stall_secs: f64,
    /// Records one node may make central scan per minute (digests, range
    /// digests and resyncs that no cached answer covers each read the
    /// whole store).
    #[serde(default = "default_scans")]
    pub scanned_records_per_node_per_minute: u64,
    /// The admin API's token (written at `init`, mode 0600); every admin
    /// call must present it.
    #[serde(default = "default_admin_token")]
    pub admin_token: PathBuf,
    /// Where records live: the embedded store in `data_dir` unless a
    /// database is named.
    #[serde(default, skip_serializing_if = "StoreFile::is_embedded")]
    pub store: StoreFile,
}

impl StoreFile {
    fn is_embedded(&self) -> bool {
        self.url.is_none()
    }
}

/// `[store]` in `central.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// A PostgreSQL database (`postgres://user:password@host:port/db`)
    /// shared by every central instance; unset, the embedded sled store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

fn default_ttl() -> f64 {
    30.0
}
fn default_skew() -> u64 {
    300
}
fn default_connections() -> u32 {
    8
}
fn default_feed_stall() -> f64 {
    60.0
}
fn default_scans() -> u64 {
    500_000
}
fn default_admin_token() -> PathBuf {
    "admin.token".into()
}

fn default_index_dir() -> PathBuf {
    "index".into()
}
fn default_escalation() -> f64 {
    7.0 * 24.0 * 3600.0
}

fn default_listen() -> String {
    "127.0.0.1:7443".into()
}
fn default_admin_listen() -> String {
    "127.0.0.1:7444".into()
}
fn default_dashboard_listen() -> String {
    "127.0.0.1:7480".into()
}
fn default_data_dir() -> PathBuf {
    "store".into()
}
fn default_ca_cert() -> PathBuf {
    "ca.crt".into()
}
fn default_ca_key() -> PathBuf {
    "ca.key".into()
}
fn default_cert() -> PathBuf {
    "central.crt".into()
}
fn default_key() -> PathBuf {
    "central.key".into()
}
fn default_rate() -> u32 {
    200
}
fn default_burst() -> u32 {
    400
}

impl Default for ConfigFile {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            admin_listen: default_admin_listen(),
            dashboard_listen: default_dashboard_listen(),
            dashboard_token_required: false,
            data_dir: default_data_dir(),
            ca_cert: default_ca_cert(),
            ca_key: default_ca_key(),
            cert: default_cert(),
            key: default_key(),
            rate_per_node: default_rate(),
            burst_per_node: default_burst(),
            index_dir: default_index_dir(),
            escalation_secs: default_escalation(),
            proposal_ttl_days: default_ttl(),
            max_clock_skew_secs: default_skew(),
            connections_per_node: default_connections(),
            feed_stall_secs: default_feed_stall(),
            scanned_records_per_node_per_minute: default_scans(),
            admin_token: default_admin_token(),
            store: StoreFile::default(),
        }
    }
}

/// Central's validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where nodes connect.
    pub listen: SocketAddr,
    /// The loopback admin API.
    pub admin_listen: SocketAddr,
    /// Where the dashboard listens.
    pub dashboard_listen: SocketAddr,
    /// Whether every dashboard request must carry the admin token.
    pub dashboard_token_required: bool,
    /// The store's directory (the embedded store; the CA's serials).
    pub data_dir: PathBuf,
    /// Where records live.
    pub store: kechuang_store::Backing,
    /// The CA certificate.
    pub ca_cert: PathBuf,
    /// The CA private key.
    pub ca_key: PathBuf,
    /// Central's certificate.
    pub cert: PathBuf,
    /// Central's private key.
    pub key: PathBuf,
    /// Sustained requests per second per node.
    pub rate_per_node: u32,
    /// Burst of requests per node.
    pub burst_per_node: u32,
    /// The full-text index's directory.
    pub index_dir: PathBuf,
    /// How long a demand waits for an accepted proposal before escalating.
    pub escalation: std::time::Duration,
    /// How long a proposal waits for its answers before it expires.
    pub proposal_ttl: std::time::Duration,
    /// How far ahead of central's clock a pushed version may be.
    pub max_clock_skew: std::time::Duration,
    /// Connections one node certificate may hold open at once.
    pub connections_per_node: usize,
    /// How long a feed may go unread before it is closed.
    pub feed_stall: std::time::Duration,
    /// Records one node may make central scan per minute.
    pub scanned_records_per_node_per_minute: u64,
    /// The admin API's token file.
    pub admin_token: PathBuf,
    /// The directory holding `central.toml` (and the ready file).
    pub home: PathBuf,
}

impl Config {
    /// Reads and validates `central.toml`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let (file, home): (ConfigFile, _) = kechuang_daemon::read_toml(path)?;
        Self::from_file(file, &home).with_context(|| format!("in {}", path.display()))
    }

    /// Validates a parsed file; relative paths are taken from `home`.
    pub fn from_file(file: ConfigFile, home: &Path) -> anyhow::Result<Self> {
        let ConfigFile {
            listen,
            admin_listen,
            dashboard_listen,
            dashboard_token_required,
            data_dir,
            ca_cert,
            ca_key,
            cert,
            key,
            rate_per_node,
            burst_per_node,
            index_dir,
            escalation_secs,
            proposal_ttl_days,
            max_clock_skew_secs,
            connections_per_node,
            feed_stall_secs,
            scanned_records_per_node_per_minute,
            admin_token,
            store,
        } = file;
        if !(escalation_secs.is_finite() && escalation_secs > 0.0) {
            bail!("escalation_secs: must be a positive number of seconds, got {escalation_secs}");
        }
        if !(proposal_ttl_days.is_finite() && proposal_ttl_days > 0.0) {
            bail!("proposal_ttl_days: must be a positive number of days, got {proposal_ttl_days}");
        }
        if !(feed_stall_secs.is_finite() && feed_stall_secs > 0.0) {
            bail!("feed_stall_secs: must be a positive number of seconds, got {feed_stall_secs}");
        }
        if max_clock_skew_secs == 0 || max_clock_skew_secs > 24 * 3600 {
            bail!("max_clock_skew_secs: must be 1 to 86400 seconds, got {max_clock_skew_secs}");
        }
        if connections_per_node == 0 || scanned_records_per_node_per_minute == 0 {
            bail!("connections_per_node and scanned_records_per_node_per_minute: must be positive");
        }
        let listen: SocketAddr = listen.parse().with_context(|| format!("listen: not an address: {listen:?}"))?;
        let admin_listen: SocketAddr =
            admin_listen.parse().with_context(|| format!("admin_listen: not an address: {admin_listen:?}"))?;
        let dashboard_listen: SocketAddr = dashboard_listen
            .parse()
            .with_context(|| format!("dashboard_listen: not an address: {dashboard_listen:?}"))?;
        if !admin_listen.ip().is_loopback() {
            bail!("admin_listen: must be a loopback address, got {admin_listen}");
        }
        if rate_per_node == 0 || burst_per_node == 0 {
            bail!("rate_per_node and burst_per_node: must be positive");
        }
        let home = std::path::absolute(home).context("resolving the config directory")?;
        let store = match store.url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                kechuang_store::Backing::Postgres(url)
            }
            Some(url) => {
                bail!("store.url: must be a postgres:// URL, got {:?}", url.split('@').next_back().unwrap_or_default())
            }
            None => kechuang_store::Backing::Sled(home.join(&data_dir)),
        };
        Ok(Self {
            store,
            listen,
            admin_listen,
            dashboard_listen,
            dashboard_token_required: dashboard_token_required || !dashboard_listen.ip().is_loopback(),
            data_dir: home.join(data_dir),
            ca_cert: home.join(ca_cert),
            ca_key: home.join(ca_key),
            cert: home.join(cert),
            key: home.join(key),
            rate_per_node,
            burst_per_node,
            index_dir: home.join(index_dir),
            escalation: std::time::Duration::from_secs_f64(escalation_secs),
            proposal_ttl: std::time::Duration::from_secs_f64(proposal_ttl_days * 86_400.0),
            max_clock_skew: std::time::Duration::from_secs(max_clock_skew_secs),
            connections_per_node: connections_per_node as usize,
            feed_stall: std::time::Duration::from_secs_f64(feed_stall_secs),
            scanned_records_per_node_per_minute,
            admin_token: home.join(admin_token),
            home,
        })
    }

    /// The file `run` writes once it listens: its addresses and pid.
    pub fn ready_file(&self) -> PathBuf {
        self.home.join("ready.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/central");
        let config = Config::load(&dir.join("central.toml")).unwrap();
        assert!(config.admin_listen.ip().is_loopback());
        assert!(config.ca_key.ends_with("ca.key"));
    }

    #[test]
    fn admin_api_must_stay_on_loopback() {
        let file = ConfigFile { admin_listen: "0.0.0.0:7444".into(), ..ConfigFile::default() };
        let err = Config::from_file(file, Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("admin_listen"), "{err}");
    }

    #[test]
    fn a_store_url_names_a_postgres_database() {
        let file: ConfigFile = toml::from_str("[store]\nurl = \"postgres://kc@127.0.0.1:5432/kechuang\"").unwrap();
        let config = Config::from_file(file, Path::new("/tmp")).unwrap();
        assert_eq!(config.store, kechuang_store::Backing::Postgres("postgres://kc@127.0.0.1:5432/kechuang".into()));
        let file: ConfigFile = toml::from_str("[store]\nurl = \"mysql://h/db\"").unwrap();
        let err = Config::from_file(file, Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("store.url"), "{err}");
        let config = Config::from_file(ConfigFile::default(), Path::new("/tmp")).unwrap();
        assert_eq!(config.store, kechuang_store::Backing::Sled("/tmp/store".into()));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(toml::from_str::<ConfigFile>("listne = \"127.0.0.1:1\"").is_err());
    }
}
