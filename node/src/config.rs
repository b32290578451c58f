//! `node.toml`: the file layer and the validated configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kechuang_types::{NodeId, NodeKind, Region};
use serde::Deserialize;

/// `node.toml` as written on disk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The node's id.
    pub node_id: String,
    /// provincial, city, university or society.
    pub kind: String,
    /// GB/T 2260 region code.
    pub region: String,
    /// Central's sync URL, e.g. `https://127.0.0.1:7443`, or a list of the
    /// URLs of several central instances, tried in turn.
    pub central: Centrals,
    /// The operator API's address; loopback only.
    #[serde(default = "default_api_listen")]
    pub api_listen: String,
    /// The web console's address (`off` for none); loopback by default.
    #[serde(default = "default_console_listen")]
    pub console_listen: String,
    /// Where events are POSTed as JSON, e.g. `http://127.0.0.1:9000/hook`.
    #[serde(default)]
    pub notify_url: Option<String>,
    /// The store, relative to the config file's directory.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Longest wait between reconnect attempts, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How often, in seconds, a connected node compares its digest with
    /// central's and repairs the id ranges that differ.
    #[serde(default = "default_repair_secs")]
    pub repair_secs: f64,
    /// The CA certificate central is verified against.
    #[serde(default = "default_ca_cert")]
    pub ca_cert: PathBuf,
    /// This node's certificate (its identity).
    #[serde(default = "default_cert")]
    pub cert: PathBuf,
    /// This node's private key.
    #[serde(default = "default_key")]
    pub key: PathBuf,
}

/// One central URL or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Centrals {
    /// `central = "https://…"`.
    One(String),
    /// `central = ["https://…", "https://…"]`.
    Many(Vec<String>),
}

impl From<&str> for Centrals {
    fn from(url: &str) -> Self {
        Self::One(url.to_owned())
    }
}

fn default_ca_cert() -> PathBuf {
    "ca.crt".into()
}

fn default_cert() -> PathBuf {
    "node.crt".into()
}

fn default_key() -> PathBuf {
    "node.key".into()
}

fn default_api_listen() -> String {
    "127.0.0.1:7450".into()
}

fn default_console_listen() -> String {
    "127.0.0.1:7460".into()
}

fn default_data_dir() -> PathBuf {
    "data".into()
}

fn default_max_backoff_ms() -> u64 {
    5_000
}

fn default_repair_secs() -> f64 {
    60.0
}

/// A node's validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The node's id.
    pub id: NodeId,
    /// Its kind.
    pub kind: NodeKind,
    /// Its region.
    pub region: Region,
    /// The sync URLs of central's instances, in the order they are tried.
    pub central: Vec<String>,
    /// The operator API's address.
    pub api_listen: SocketAddr,
    /// The web console's address, if it runs.
    pub console_listen: Option<SocketAddr>,
    /// Where events are POSTed.
    pub notify_url: Option<NotifyUrl>,
    /// The store's directory.
    pub data_dir: PathBuf,
    /// The directory holding `node.toml` (and the ready file).
    pub home: PathBuf,
    /// Longest wait between reconnect attempts.
    pub max_backoff: std::time::Duration,
    /// How often a connected node checks its digest and repairs differences.
    pub repair_every: std::time::Duration,
    /// The CA certificate.
    pub ca_cert: PathBuf,
    /// This node's certificate.
    pub cert: PathBuf,
    /// This node's private key.
    pub key: PathBuf,
}

impl Config {
    /// Reads and validates `node.toml`.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let (file, home): (ConfigFile, _) = kechuang_daemon::read_toml(path)?;
        Self::from_file(file, &home).with_context(|| format!("in {}", path.display()))
    }

    /// Validates a parsed file; relative paths are taken from `home`.
    pub fn from_file(file: ConfigFile, home: &Path) -> anyhow::Result<Self> {
        let ConfigFile {
            node_id,
            kind,
            region,
            central,
            api_listen,
            console_listen,
            notify_url,
            data_dir,
            max_backoff_ms,
            repair_secs,
            ca_cert,
            cert,
            key,
        } = file;
        let id = NodeId::parse("node_id", &node_id)?;
        let kind = kechuang_types::NodeKind::parse("kind", &kind)?;
        if kind == NodeKind::Central {
            bail!("kind: a node cannot be central");
        }
        let region = Region::parse("region", &region)?;
        let central = match central {
            Centrals::One(url) => vec![url],
            Centrals::Many(urls) => urls,
        };
        if central.is_empty() {
            bail!("central: no URL: name at least one, such as \"https://127.0.0.1:7443\"");
        }
        for url in &central {
            if !url.starts_with("https://") {
                bail!("central: must be an https:// URL such as https://127.0.0.1:7443 (mutual TLS), got {url:?}");
            }
        }
        let api_listen: SocketAddr =
            api_listen.parse().with_context(|| format!("api_listen: not an address: {api_listen:?}"))?;
        if !api_listen.ip().is_loopback() {
            bail!("api_listen: the operator API listens on loopback only, got {api_listen}");
        }
        let console_listen = match console_listen.trim() {
            "" | "off" => None,
            addr => Some(
                addr.parse::<SocketAddr>()
                    .with_context(|| format!("console_listen: not an address (or off): {addr:?}"))?,
            ),
        };
        let notify_url = notify_url.as_deref().map(NotifyUrl::parse).transpose()?;
        if max_backoff_ms == 0 {
            bail!("max_backoff_ms: must be positive");
        }
        if !(repair_secs.is_finite() && repair_secs >= 0.1) {
            bail!("repair_secs: must be at least 0.1, got {repair_secs}");
        }
        let home = std::path::absolute(home).context("resolving the config directory")?;
        Ok(Self {
            id,
            kind,
            region,
            central,
            api_listen,
            console_listen,
            notify_url,
            data_dir: home.join(data_dir),
            ca_cert: home.join(ca_cert),
            cert: home.join(cert),
            key: home.join(key),
            home,
            max_backoff: std::time::Duration::from_millis(max_backoff_ms),
            repair_every: std::time::Duration::from_secs_f64(repair_secs),
        })
    }

    /// The file `run` writes once its API listens: address and pid.
    pub fn ready_file(&self) -> PathBuf {
        self.home.join("ready.json")
    }

    /// The operator API token the daemon writes (0600) into its data directory.
    pub fn token_file(&self) -> PathBuf {
        self.data_dir.join("api.token")
    }
}

/// A `notify_url`: plain HTTP to a host and port, as a local relay
/// (a chat-bot bridge, a mail gateway) listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyUrl {
    /// `host:port`.
    pub authority: String,
    /// The path and query, from `/`.
    pub path: String,
}

impl NotifyUrl {
    /// Parses `http://host[:port][/path]`, naming the field on error.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let Some(rest) = url.trim().strip_prefix("http://") else {
            bail!("notify_url: must be an http:// URL such as http://127.0.0.1:9000/hook, got {url:?}");
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains(['@', ' ']) {
            bail!("notify_url: no host in {url:?}");
        }
        let authority = if authority.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(Self { authority, path: path.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configs_parse() {
        let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        let mut seen = 0;
        for kind in ["provincial", "city", "university", "society"] {
            let config = Config::load(&deploy.join(kind).join("node.toml")).unwrap();
            assert_eq!(config.kind.as_str(), kind);
            seen += 1;
        }
        assert_eq!(seen, 4);
    }

    #[test]
    fn api_must_stay_on_loopback_and_names_the_field() {
        let file = ConfigFile {
            node_id: "sz".into(),
            kind: "city".into(),
            region: "440300".into(),
            central: "https://127.0.0.1:7443".into(),
            api_listen: "0.0.0.0:7450".into(),
            console_listen: "127.0.0.1:7460".into(),
            notify_url: None,
            data_dir: "data".into(),
            max_backoff_ms: 1000,
            repair_secs: 60.0,
            ca_cert: "ca.crt".into(),
            cert: "node.crt".into(),
            key: "node.key".into(),
        };
        let err = Config::from_file(file.clone(), Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("api_listen"), "{err}");
        let err = Config::from_file(
            ConfigFile { region: "44030".into(), api_listen: "127.0.0.1:1".into(), ..file.clone() },
            Path::new("/tmp"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("region"), "{err}");
        let never = ConfigFile { repair_secs: 0.0, api_listen: "127.0.0.1:1".into(), ..file.clone() };
        let err = Config::from_file(never, Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("repair_secs"), "{err}");
        let hook =
            ConfigFile { notify_url: Some("https://x".into()), api_listen: "127.0.0.1:1".into(), ..file.clone() };
        let err = Config::from_file(hook, Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("notify_url"), "{err}");
        let plaintext =
            ConfigFile { central: "http://127.0.0.1:7443".into(), api_listen: "127.0.0.1:1".into(), ..file };
        let err = Config::from_file(plaintext, Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("central"), "there is no plaintext mode: {err}");
    }

    #[test]
    fn notify_urls_name_host_port_and_path() {
        let url = NotifyUrl::parse("http://127.0.0.1:9000/hook?x=1").unwrap();
        assert_eq!((url.authority.as_str(), url.path.as_str()), ("127.0.0.1:9000", "/hook?x=1"));
        let url = NotifyUrl::parse("http://relay.local").unwrap();
        assert_eq!((url.authority.as_str(), url.path.as_str()), ("relay.local:80", "/"));
    }
}
