//! `backup` and `restore`: a copy of central that does not depend on its
//! store's on-disk format, taken while central runs.
//!
//! A backup directory holds `central/` (central.toml, the CA, central's
//! certificate and key, the admin token) and `store/` (the store's logical
//! copy, see [`kechuang_store::CentralStore::backup`], whose
//! `manifest.json` is written last).

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use kechuang_pki::{PresentToken, write_public, write_secret};
use kechuang_proto::pb;
use kechuang_proto::pb::admin_client::AdminClient;
use kechuang_store::{CentralStore, Manifest};
use tonic::service::interceptor::InterceptedService;

use crate::Config;

/// A client of central's admin API.
pub type Admin = AdminClient<InterceptedService<tonic::transport::Channel, PresentToken>>;

/// Connects to the running central's admin API with its token.
pub async fn admin(config: &Config) -> anyhow::Result<Admin> {
    let ready: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(config.ready_file()).context("central is not running (no ready.json)")?,
    )?;
    let addr = ready["admin"].as_str().context("ready.json has no admin address")?;
    let token =
        PresentToken::read(&config.admin_token).context("reading central's admin token (run as central's operator)")?;
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .with_context(|| format!("connecting to central's admin API at {addr}"))?;
    Ok(AdminClient::with_interceptor(channel, token).max_decoding_message_size(256 * 1024 * 1024))
}

/// Central's files a backup carries, by the name `central.toml` gives them,
/// and whether each is secret.
fn files(config: &Config) -> [(&'static str, &Path, bool); 5] {
    [
        ("ca.crt", config.ca_cert.as_path(), false),
        ("ca.key", config.ca_key.as_path(), true),
        ("central.crt", config.cert.as_path(), false),
        ("central.key", config.key.as_path(), true),
        ("admin.token", config.admin_token.as_path(), true),
    ]
}

/// Writes a backup of the central configured by `config` into `out`: by
/// central itself when it runs (the copy is consistent while nodes push),
/// or directly from its store when it is stopped. Shows progress on stderr.
pub fn backup(config: &Config, out: &Path) -> anyhow::Result<()> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!("out: {} is not empty", out.display());
    }
    let out = std::path::absolute(out).context("out: resolving the path")?;
    let files_dir = out.join("central");
    std::fs::create_dir_all(&files_dir).with_context(|| format!("creating {}", files_dir.display()))?;
    // central.toml with the file names the backup uses, relative to it.
    let toml = std::fs::read_to_string(config.home.join("central.toml")).context("reading central.toml")?;
    write_public(&files_dir.join("central.toml"), toml.as_bytes())?;
    for (name, path, secret) in files(config) {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if secret { write_secret(&files_dir.join(name), &bytes)? } else { write_public(&files_dir.join(name), &bytes)? }
    }
    let store_dir = out.join("store");
    let runtime = kechuang_daemon::runtime()?;
    let by_central = runtime.block_on(async {
        match admin(config).await {
            Ok(client) => Some(by_central(client, &store_dir).await),
            Err(_) => None,
        }
    });
    let manifest = match by_central {
        Some(manifest) => manifest?,
        None => {
            eprintln!("central is not running: copying its store directly");
            let store =
                CentralStore::open_backing(&config.store).with_context(|| format!("opening the {}", config.store))?;
            store.backup(&store_dir, |n| progress("copied", n))?
        }
    };
    eprintln!();
    println!(
        "backup of central at log position {} in {}: {} records, {} events, {} nodes, {} revoked",
        manifest.head,
        out.display(),
        manifest.records,
        manifest.events,
        manifest.nodes,
        manifest.revoked
    );
    Ok(())
}

fn progress(verb: &str, records: u64) {
    eprint!("\r{verb} {records} records");
    let _ = std::io::stderr().flush();
}

/// Asks the running central to write its store's copy into `dir`.
async fn by_central(mut client: Admin, dir: &Path) -> anyhow::Result<Manifest> {
    let request = pb::BackupRequest { out: dir.to_string_lossy().into_owned() };
    let mut stream = client.backup(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner();
    while let Some(step) = stream.message().await.map_err(|s| anyhow::anyhow!("{}", s.message()))? {
        if step.manifest_json.is_empty() {
            progress("copied", step.records);
        } else {
            return serde_json::from_str(&step.manifest_json).context("the backup's manifest");
        }
    }
    bail!("central ended the backup without its manifest")
}

/// Which store a restore loads into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The one the backup's central.toml names.
    AsBackedUp,
    /// The embedded store in the new directory.
    Embedded,
    /// This PostgreSQL database, which must be empty.
    Postgres(String),
}

/// Makes a new central directory `data_dir` from the backup in `from`,
/// its store loaded into `target`.
pub fn restore(from: &Path, data_dir: &Path, target: Target) -> anyhow::Result<()> {
    let files_dir = from.join("central");
    if !from.join("store/manifest.json").exists() {
        bail!("from: {} is not a finished backup (no store/manifest.json)", from.display());
    }
    if data_dir.join("central.toml").exists() {
        bail!("data-dir: {} already holds a central; restore into a new directory", data_dir.display());
    }
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let toml = std::fs::read_to_string(files_dir.join("central.toml")).context("the backup's central.toml")?;
    let toml = with_store(&toml, &target)?;
    write_public(&data_dir.join("central.toml"), toml.as_bytes())?;
    let config = Config::load(&data_dir.join("central.toml"))?;
    for (name, path, secret) in files(&config) {
        if !path.starts_with(data_dir) {
            bail!(
                "central.toml names {} outside the new directory: restore needs the paths `init` writes",
                path.display()
            );
        }
        let bytes = std::fs::read(files_dir.join(name)).with_context(|| format!("the backup's {name}"))?;
        if secret { write_secret(path, &bytes)? } else { write_public(path, &bytes)? }
    }
    let store = CentralStore::open_backing(&config.store).with_context(|| format!("opening the {}", config.store))?;
    let manifest = store.restore(&from.join("store"), |n| progress("loaded", n))?;
    eprintln!();
    println!(
        "restored central at log position {} into {} ({}): {} records, {} events, {} nodes, {} revoked; start it with \
         `kechuang-central run --config {}`",
        manifest.head,
        data_dir.display(),
        config.store,
        manifest.records,
        manifest.events,
        manifest.nodes,
        manifest.revoked,
        data_dir.join("central.toml").display()
    );
    Ok(())
}

/// `central.toml` with its `[store] url` set as `target` says.
fn with_store(toml: &str, target: &Target) -> anyhow::Result<String> {
    let mut table: toml::Table = toml::from_str(toml).context("the backup's central.toml")?;
    match target {
        Target::AsBackedUp => return Ok(toml.to_owned()),
        Target::Embedded => {
            table.remove("store");
        }
        Target::Postgres(url) => {
            let mut store = toml::Table::new();
            store.insert("url".into(), toml::Value::String(url.clone()));
            table.insert("store".into(), toml::Value::Table(store));
        }
    }
    Ok(toml::to_string(&table)?)
}
