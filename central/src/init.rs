//! `init` and `issue`: set up central's directory and hand out ready-to-run
//! node directories.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use kechuang_types::{NodeId, NodeKind, Region};

use crate::Config;
use crate::config::ConfigFile;

/// Creates `data_dir/central.toml` (and the store directory on first run).
pub fn init(data_dir: &Path, listen: Option<String>, admin_listen: Option<String>) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("central.toml");
    if path.exists() {
        bail!("{} already exists: central is initialised there", path.display());
    }
    let defaults = ConfigFile::default();
    let file = ConfigFile {
        listen: listen.unwrap_or(defaults.listen),
        admin_listen: admin_listen.unwrap_or(defaults.admin_listen),
        data_dir: "store".into(),
    };
    // Validate before writing anything.
    Config::from_file(file.clone(), data_dir)?;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let text = toml::to_string(&file).context("encoding central.toml")?;
    std::fs::write(&path, format!("# Kechuang central, written by `kechuang-central init`.\n{text}"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
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

/// Writes `out/node.toml` for a node of central `data_dir`.
pub fn issue(data_dir: &Path, spec: &NodeSpec, out: &Path) -> anyhow::Result<PathBuf> {
    let config = Config::load(&data_dir.join("central.toml"))?;
    check_region(spec.kind, spec.region)?;
    if !spec.api_listen.ip().is_loopback() {
        bail!("api_listen: the operator API listens on loopback only, got {}", spec.api_listen);
    }
    let central_url = match &spec.central_url {
        Some(url) => url.clone(),
        None => {
            let mut addr = config.listen;
            if addr.ip().is_unspecified() {
                addr.set_ip([127, 0, 0, 1].into());
            }
            format!("http://{addr}")
        }
    };
    let path = out.join("node.toml");
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let text = format!(
        "# Kechuang node {id}, issued by central.\n\
         node_id = \"{id}\"\n\
         kind = \"{kind}\"\n\
         region = \"{region}\"\n\
         central = \"{central_url}\"\n\
         api_listen = \"{api}\"\n\
         data_dir = \"data\"\n",
        id = spec.id,
        kind = spec.kind,
        region = spec.region,
        api = spec.api_listen,
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
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
    fn init_then_issue_writes_a_node_directory() {
        let dir = tempfile::tempdir().unwrap();
        let central = dir.path().join("central");
        init(&central, Some("127.0.0.1:9443".into()), None).unwrap();
        assert!(init(&central, None, None).is_err(), "init twice refuses");
        let spec = NodeSpec {
            id: NodeId::parse("id", "city-440300").unwrap(),
            kind: NodeKind::City,
            region: Region::parse("region", "440300").unwrap(),
            api_listen: "127.0.0.1:0".parse().unwrap(),
            central_url: None,
        };
        let path = issue(&central, &spec, &dir.path().join("sz")).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("central = \"http://127.0.0.1:9443\""), "{text}");
    }
}
