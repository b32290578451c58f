//! What operators' tools expect: gRPC health and reflection on central's
//! sync and admin ports and on a node's operator port, Prometheus
//! `/metrics` on central, and JSON log lines when asked.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::SETTLE;
use common::rows::battery_demand;
use kechuang_testkit::{Cluster, eventually};
use serde_json::Value;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

async fn plain(address: &str) -> anyhow::Result<Channel> {
    Ok(Channel::from_shared(format!("http://{address}"))?
        .connect_timeout(Duration::from_secs(20))
        .timeout(Duration::from_secs(60))
        .connect()
        .await?)
}

/// The health of `service` ("" for the whole server) as the server reports it.
async fn health(channel: Channel, service: &str) -> anyhow::Result<i32> {
    let request = HealthCheckRequest { service: service.into() };
    Ok(HealthClient::new(channel).check(request).await?.into_inner().status)
}

/// The services the server lists through v1alpha reflection (what grpcurl speaks).
async fn listed(channel: Channel) -> anyhow::Result<Vec<String>> {
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers =
        ServerReflectionClient::new(channel).server_reflection_info(tokio_stream::iter([request])).await?.into_inner();
    let answer = answers.message().await?.ok_or_else(|| anyhow::anyhow!("no answer"))?;
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => Ok(list.service.into_iter().map(|s| s.name).collect()),
        other => anyhow::bail!("not a list of services: {other:?}"),
    }
}

fn ready(path: &std::path::Path) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

#[test]
fn health_and_reflection_answer_on_every_grpc_port() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let central = ready(&cluster.central.home.join("ready.json"))?;
    let admin = central["admin"].as_str().unwrap().to_owned();
    let operator = ready(&cluster.node_dir("sz").join("ready.json"))?["api"].as_str().unwrap().to_owned();
    let (url, dir) = (cluster.central.url(), cluster.node_dir("sz"));
    let serving = ServingStatus::Serving as i32;
    runtime().block_on(async {
        assert_eq!(health(plain(&admin).await?, "").await?, serving, "admin port, no token needed");
        assert_eq!(health(plain(&admin).await?, "kechuang.v1.Admin").await?, serving);
        let services = listed(plain(&admin).await?).await?;
        for service in ["kechuang.v1.Admin", "kechuang.v1.Sync", "grpc.health.v1.Health"] {
            assert!(services.iter().any(|s| s == service), "{service} in {services:?}");
        }

        let read = |f: &str| std::fs::read_to_string(dir.join(f));
        let (ca, cert, key) = (read("ca.crt")?, read("node.crt")?, read("node.key")?);
        let sync = common::wire::channel(&url, &ca, Some((&cert, &key))).await?;
        assert_eq!(health(sync.clone(), "kechuang.v1.Sync").await?, serving, "sync port, over mutual TLS");
        assert!(listed(sync).await?.iter().any(|s| s == "kechuang.v1.Sync"));

        assert_eq!(health(plain(&operator).await?, "kechuang.v1.Operator").await?, serving, "node operator port");
        assert!(listed(plain(&operator).await?).await?.iter().any(|s| s == "kechuang.v1.Operator"));
        anyhow::Ok(())
    })
}

/// A plain HTTP/1.1 GET of `url`'s body.
fn get(url: &str) -> anyhow::Result<String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    anyhow::ensure!(response.starts_with("HTTP/1.1 200"), "{response}");
    Ok(response.split_once("\r\n\r\n").map_or(String::new(), |(_, body)| body.to_owned()))
}

/// The value of an unlabelled or labelled sample.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_count_the_network_and_logs_can_be_json() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.central.terminate()?;
    cluster.central.process().run_args(&["--log-format", "json"]);
    cluster.central.restart()?;
    cluster.add_node("sz", "city", "440300")?;
    let rows = cluster.write_rows(&[battery_demand("XQ-1", "440300"), battery_demand("XQ-2", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "convergence", || cluster.converged())?;

    let url = format!("{}/metrics", cluster.central.dashboard()?);
    let metrics = get(&url)?;
    assert!(metrics.contains("# TYPE kechuang_pushes_total counter"), "{metrics}");
    assert_eq!(sample(&metrics, "kechuang_nodes_registered"), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, "kechuang_nodes_connected"), Some(1.0), "{metrics}");
    assert!(sample(&metrics, "kechuang_pushes_total") >= Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, "kechuang_pushed_changes_total"), Some(2.0), "{metrics}");
    assert_eq!(sample(&metrics, "kechuang_refused_changes_total"), Some(0.0), "{metrics}");
    assert!(sample(&metrics, "kechuang_store_bytes") > Some(0.0), "{metrics}");
    assert_eq!(sample(&metrics, "kechuang_feed_lag_records{node=\"sz\"}"), Some(0.0), "caught up: {metrics}");
    assert!(sample(&metrics, "kechuang_matching_backlog").is_some(), "{metrics}");

    let log = cluster.central.process().log_text();
    let after_restart = log.lines().rev().take_while(|l| l.starts_with('{')).collect::<Vec<_>>();
    assert!(!after_restart.is_empty(), "JSON lines after the restart: {log}");
    for line in after_restart {
        let event: Value = serde_json::from_str(line)?;
        assert!(event["level"].is_string() && event["fields"].is_object(), "{line}");
    }
    Ok(())
}

#[test]
fn the_systemd_units_verify_clean_with_their_hardening() -> anyhow::Result<()> {
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    let dir = tempfile::tempdir()?;
    let mut checked = Vec::new();
    for (file, instance) in [("kechuang-central.service", None), ("kechuang-node@.service", Some("sz-city"))] {
        let text = std::fs::read_to_string(units.join(file))?;
        for hardening in ["NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=", "SystemCallFilter="]
        {
            assert!(text.contains(hardening), "{file} has {hardening}");
        }
        // The built binaries stand in for the installed ones.
        let binaries = kechuang_testkit::binary("kechuang-central").parent().map(|p| p.to_owned()).unwrap_or_default();
        let text = text.replace("/usr/local/bin/", &format!("{}/", binaries.display()));
        let name = match instance {
            Some(i) => file.replace("@.", &format!("@{i}.")),
            None => file.to_owned(),
        };
        std::fs::write(dir.path().join(&name), text)?;
        checked.push(dir.path().join(name));
    }
    let out = std::process::Command::new("systemd-analyze").arg("verify").args(&checked).output()?;
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify: {said}");
    Ok(())
}

/// The script `deploy/compose.yaml` sets its directories up with writes
/// two central instances over one store and nodes listing both, with the
/// same binaries' verbs (no Docker engine needed to check it).
#[test]
fn the_compose_setup_writes_two_instances_and_nodes_that_list_both() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir()?;
    let bin = kechuang_testkit::binary("kechuang-central").parent().map(|p| p.to_owned()).unwrap_or_default();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let run = || {
        std::process::Command::new(root.join("deploy/compose/setup.sh"))
            .env("PATH", &path)
            .env("KECHUANG_COMPOSE_DIR", dir.path())
            .env("KECHUANG_STORE_URL", "postgres://kechuang:secret@postgres:5432/kechuang")
            .output()
    };
    let out = run()?;
    assert!(out.status.success(), "setup: {}", String::from_utf8_lossy(&out.stderr));
    for instance in ["central-1", "central-2"] {
        let toml = std::fs::read_to_string(dir.path().join(instance).join("central.toml"))?;
        assert!(toml.contains("url = \"postgres://kechuang:secret@postgres:5432/kechuang\""), "{instance}: {toml}");
        assert!(dir.path().join(instance).join("central.crt").exists());
    }
    assert!(!dir.path().join("central-2/ca.key").exists(), "the CA's key stays with the first instance");
    for node in ["gd", "sz", "gz"] {
        let toml = std::fs::read_to_string(dir.path().join(node).join("node.toml"))?;
        assert!(toml.contains(r#"central = ["https://central-1:7443", "https://central-2:7443"]"#), "{node}: {toml}");
    }
    let again = run()?;
    assert!(again.status.success(), "a second run leaves what exists: {}", String::from_utf8_lossy(&again.stderr));
    let issued_at_second = kechuang_testkit::command("kechuang-central")
        .args(["issue", "--data-dir"])
        .arg(dir.path().join("central-2"))
        .args(["--node-id", "cd", "--kind", "city", "--region", "510100", "--out"])
        .arg(dir.path().join("cd"))
        .output()?;
    let said = String::from_utf8_lossy(&issued_at_second.stderr);
    assert!(!issued_at_second.status.success() && said.contains("ca_key"), "issue at the second instance: {said}");
    Ok(())
}
