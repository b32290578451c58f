//! `init`, `issue` and offline `revoke`: set up central's directory and CA,
//! and hand out ready-to-run node directories with their certificates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kechuang_pki::{Ca, Identity, Validity, write_public, write_secret};
use kechuang_types::{NodeId, NodeKind, Region};

use crate::Config;
use crate::config::ConfigFile;

/// How long central's own certificate is valid.
const CENTRAL_CERT_DAYS: i64 = 5 * 365;

/// Creates `data_dir/central.toml`, the CA (`ca.crt`, `ca.key`) and
/// central's certificate for `names` (its DNS names or IP addresses).
pub fn init(
    data_dir: &Path,
    listen: Option<String>,
    admin_listen: Option<String>,
    dashboard_listen: Option<String>,
    names: &[String],
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("central.toml");
    if path.exists() {
        bail!("{} already exists: central is initialised there", path.display());
    }
    let defaults = ConfigFile::default();
    let file = ConfigFile {
        listen: listen.unwrap_or(defaults.listen.clone()),
        admin_listen: admin_listen.unwrap_or(defaults.admin_listen.clone()),
        dashboard_listen: dashboard_listen.unwrap_or(defaults.dashboard_listen.clone()),
        ..defaults
    };
    // Validate before writing anything.
    let config = Config::from_file(file.clone(), data_dir)?;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;

    let ca = Ca::create("Kechuang central CA")?;
    let mut names = names.to_vec();
    if !config.listen.ip().is_unspecified() {
        names.push(config.listen.ip().to_string());
    }
    let server = ca.issue_server(&names, Validity::days(CENTRAL_CERT_DAYS))?;
    write_public(&config.ca_cert, ca.cert_pem().as_bytes())?;
    write_secret(&config.ca_key, ca.key_pem().as_bytes())?;
    write_public(&config.cert, server.cert_pem.as_bytes())?;
    write_secret(&config.key, server.key_pem.as_bytes())?;
    kechuang_pki::ensure_token(&config.admin_token)?;

    let text = toml::to_string(&file).context("encoding central.toml")?;
    std::fs::write(&path, format!("# Kechuang central, written by `kechuang-central init`.\n{text}"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Writes the directory of another central instance over the same
/// PostgreSQL store into `out`: its central.toml (the first one's, with
/// addresses of its own), the CA's certificate, the admin token, and a
/// server certificate of its own for `kechuang-central` from the same CA.
/// The CA's key stays with the first instance: nodes are issued there.
pub fn instance(
    config: &Config,
    out: &Path,
    listen: Option<String>,
    admin_listen: Option<String>,
    dashboard_listen: Option<String>,
    names: &[String],
) -> anyhow::Result<PathBuf> {
    if !matches!(config.store, kechuang_store::Backing::Postgres(_)) {
        bail!("store.url: another instance needs a shared PostgreSQL store; the embedded store belongs to one process");
    }
    let path = out.join("central.toml");
    if path.exists() {
        bail!("{} already exists: a central is set up there", path.display());
    }
    let (first, _): (ConfigFile, _) = kechuang_daemon::read_toml(&config.home.join("central.toml"))?;
    let file = ConfigFile {
        listen: listen.unwrap_or(first.listen.clone()),
        admin_listen: admin_listen.unwrap_or(first.admin_listen.clone()),
        dashboard_listen: dashboard_listen.unwrap_or(first.dashboard_listen.clone()),
        data_dir: default_of(&first.data_dir),
        ca_cert: "ca.crt".into(),
        ca_key: "ca.key".into(),
        cert: "central.crt".into(),
        key: "central.key".into(),
        index_dir: "index".into(),
        admin_token: "admin.token".into(),
        ..first
    };
    let new = Config::from_file(file.clone(), out)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let ca = load_ca(config)?;
    let mut names = names.to_vec();
    if !new.listen.ip().is_unspecified() {
        names.push(new.listen.ip().to_string());
    }
    let server = ca.issue_server(&names, Validity::days(CENTRAL_CERT_DAYS))?;
    write_public(&new.ca_cert, ca.cert_pem().as_bytes())?;
    write_public(&new.cert, server.cert_pem.as_bytes())?;
    write_secret(&new.key, server.key_pem.as_bytes())?;
    let token = std::fs::read(&config.admin_token).context("reading the admin token")?;
    write_secret(&new.admin_token, &token)?;
    let text = toml::to_string(&file).context("encoding central.toml")?;
    std::fs::write(&path, format!("# Kechuang central instance, written by `kechuang-central instance`.\n{text}"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The CA, from the instance that holds its key.
fn load_ca(config: &Config) -> anyhow::Result<Ca> {
    if !config.ca_key.exists() && config.ca_cert.exists() {
        bail!(
            "ca_key: {} is missing: issue and renew on the central instance that holds the CA's key \
             (`kechuang-central instance` writes the others without it)",
            config.ca_key.display()
        );
    }
    Ca::load(&config.ca_cert, &config.ca_key).context("loading the CA (is this central's directory?)")
}

/// A relative path as is; an absolute one (the first instance's own
/// directory) replaced by the default name.
fn default_of(path: &Path) -> PathBuf {
    if path.is_absolute() { "store".into() } else { path.to_owned() }
}

/// What `issue` needs to know about the node it sets up.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    /// The node's id.
    pub id: NodeId,
    /// Its kind.
    pub kind: NodeKind,
    /// Its region.
    pub region: Region,
    /// Where its operator API listens (loopback).
    pub api_listen: SocketAddr,
    /// The URL it reaches central at; by default central's listen address.
    pub central_url: Option<String>,
    /// How long its certificate is valid.
    pub valid_days: i64,
    /// The industries a society assesses (its certificate states them).
    pub fields: Vec<kechuang_types::Industry>,
}

/// Checks that a region suits a node kind: a provincial node names a
/// province, a city node a city.
pub fn check_region(kind: NodeKind, region: Region) -> anyhow::Result<()> {
    match kind {
        NodeKind::Central => bail!("kind: central is not issued; run `kechuang-central init`"),
        NodeKind::Provincial if !region.is_province() => {
            bail!("region: a provincial node names its province ({}), got {region}", region.province())
        }
        NodeKind::City if region.is_province() => {
            bail!("region: a city node names a city code, got the province {region}")
        }
        _ => Ok(()),
    }
}

/// Writes a ready-to-run node directory: `node.toml`, `ca.crt`, `node.crt`
/// and `node.key` (0600) with the node's identity in the certificate.
pub fn issue(config: &Config, spec: &NodeSpec, out: &Path) -> anyhow::Result<PathBuf> {
    check_region(spec.kind, spec.region)?;
    if !spec.fields.is_empty() && spec.kind != NodeKind::Society {
        bail!("fields: only a society is issued for the fields it assesses, not a {} node", spec.kind);
    }
    if !spec.api_listen.ip().is_loopback() {
        bail!("api-listen: the operator API listens on loopback only, got {}", spec.api_listen);
    }
    if spec.valid_days < 1 {
        bail!("valid-days: must be at least 1");
    }
    let central_url = match &spec.central_url {
        Some(url) if url.starts_with("https://") => url.clone(),
        Some(url) => bail!("central-url: must be https:// (mutual TLS), got {url:?}"),
        None => {
            let mut addr = config.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip([127, 0, 0, 1].into());
            }
            format!("https://{addr}")
        }
    };
    let path = out.join("node.toml");
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    let ca = load_ca(config)?;
    let identity = Identity { id: spec.id.clone(), kind: spec.kind, region: spec.region, fields: spec.fields.clone() };
    let issued = ca.issue_node(&identity, Validity::days(spec.valid_days))?;

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_public(&out.join("ca.crt"), ca.cert_pem().as_bytes())?;
    write_public(&out.join("node.crt"), issued.cert_pem.as_bytes())?;
    write_secret(&out.join("node.key"), issued.key_pem.as_bytes())?;
    let text = format!(
        "# Kechuang node {id}, issued by central. Its identity is in node.crt.\n\
         node_id = \"{id}\"\n\
         kind = \"{kind}\"\n\
         region = \"{region}\"\n\
         central = \"{central_url}\"\n\
         api_listen = \"{api}\"\n\
         # The station's web console (open it with `kechuang-node console`).\n\
         console_listen = \"{console}\"\n\
         data_dir = \"data\"\n\
         ca_cert = \"ca.crt\"\n\
         cert = \"node.crt\"\n\
         key = \"node.key\"\n",
        id = spec.id,
        kind = spec.kind,
        region = spec.region,
        api = spec.api_listen,
        console = console_beside(spec.api_listen),
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The console's address for a node whose operator API is at `api`: ten
/// ports above it (7460 for 7450), or any free port when the API takes any.
fn console_beside(api: SocketAddr) -> SocketAddr {
    match api.port() {
        0 => api,
        port => SocketAddr::new(api.ip(), port.saturating_add(10)),
    }
}

/// Issues node `id` a new certificate and key for `valid_days`, in the
/// node's directory `dir` (its `node.crt` names the node; `node.toml` is
/// left as it is). The running node takes them at its next session;
/// returns when the new certificate expires.
pub fn renew(config: &Config, id: &NodeId, dir: &Path, valid_days: i64) -> anyhow::Result<kechuang_types::Timestamp> {
    use tokio_rustls::rustls::pki_types::{CertificateDer, pem::PemObject};

    if valid_days < 1 {
        bail!("valid-days: must be at least 1");
    }
    let current = dir.join("node.crt");
    let pem =
        kechuang_pki::read(&current).with_context(|| format!("--dir: no node certificate at {}", current.display()))?;
    let der = CertificateDer::from_pem_slice(pem.as_bytes())
        .with_context(|| format!("--dir: no certificate in {}", current.display()))?;
    let identity = kechuang_pki::identity_of(&der).with_context(|| format!("--dir: {}", current.display()))?;
    if identity.id != *id {
        bail!("node-id: {} holds the certificate of node {}, not {id}", dir.display(), identity.id);
    }
    let ca = load_ca(config)?;
    let issued = ca.issue_node(&identity, Validity::days(valid_days))?;
    // The key first: a node that reads the new certificate finds its key.
    write_secret(&dir.join("node.key.new"), issued.key_pem.as_bytes())?;
    write_public(&dir.join("node.crt.new"), issued.cert_pem.as_bytes())?;
    std::fs::rename(dir.join("node.key.new"), dir.join("node.key")).context("replacing node.key")?;
    std::fs::rename(dir.join("node.crt.new"), &current).context("replacing node.crt")?;
    let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).context("the new certificate")?;
    Ok(kechuang_types::Timestamp(kechuang_pki::expiry_of(&der)?))
}

/// Revokes a node in central's store directly, for when central is not
/// running (a running central is told through its admin API instead).
pub fn revoke_offline(config: &Config, node: &NodeId) -> anyhow::Result<()> {
    let store = kechuang_store::CentralStore::open_backing(&config.store)
        .with_context(|| format!("opening the {}", config.store))?;
    store.revoke(node)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn region_must_fit_the_kind() {
        let r = |s| Region::parse("region", s).unwrap();
        assert!(check_region(NodeKind::Provincial, r("440000")).is_ok());
        assert!(check_region(NodeKind::Provincial, r("440300")).is_err());
        assert!(check_region(NodeKind::City, r("440000")).is_err());
        assert!(check_region(NodeKind::City, r("440300")).is_ok());
        assert!(check_region(NodeKind::University, r("510000")).is_ok());
    }

    #[test]
    fn init_then_issue_writes_a_node_bundle_with_private_keys_0600() {
        let dir = tempfile::tempdir().unwrap();
        let central = dir.path().join("central");
        let path = init(&central, Some("127.0.0.1:9443".into()), None, None, &[]).unwrap();
        assert!(init(&central, None, None, None, &[]).is_err(), "init twice refuses");
        let config = Config::load(&path).unwrap();
        let spec = NodeSpec {
            id: NodeId::parse("id", "city-440300").unwrap(),
            kind: NodeKind::City,
            region: Region::parse("region", "440300").unwrap(),
            api_listen: "127.0.0.1:0".parse().unwrap(),
            central_url: None,
            valid_days: 30,
            fields: Vec::new(),
        };
        let out = dir.path().join("sz");
        let path = issue(&config, &spec, &out).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("central = \"https://127.0.0.1:9443\""), "{text}");
        for (file, mode) in [("node.key", 0o600), ("node.crt", 0o644), ("ca.crt", 0o644)] {
            let actual = std::fs::metadata(out.join(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(actual, mode, "{file}");
        }
        assert_eq!(std::fs::metadata(&config.ca_key).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!out.join("ca.key").exists(), "the CA key never leaves central");
    }
}
