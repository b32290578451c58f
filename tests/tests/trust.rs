//! Trust: only certificates from central's CA get in, central believes only
//! the certificate, ownership is enforced, and revocation bites at once.
//! (What a certified node may write, field by field, is `hostile.rs`.)

mod common;

use std::time::Duration;

use common::SETTLE;
use common::wire::{client, demand, node_client, push};
use kechuang_pki::{Ca, Identity, Validity};
use kechuang_proto::pb;
use kechuang_testkit::{Cluster, eventually};
use kechuang_types::{NodeId, NodeKind, Region};
use tonic::Code;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn ca_pem(cluster: &Cluster) -> String {
    std::fs::read_to_string(cluster.central.home.join("ca.crt")).expect("ca.crt")
}

fn identity(id: &str) -> Identity {
    Identity {
        id: NodeId::parse("id", id).unwrap(),
        kind: NodeKind::City,
        region: Region::parse("region", "440300").unwrap(),
        fields: Vec::new(),
    }
}

/// Central stored nothing from the caller: no record, no registration.
fn assert_untouched(cluster: &Cluster, node: &str) -> anyhow::Result<()> {
    assert!(cluster.central.list(None, None)?.is_empty(), "central stored a record");
    assert!(cluster.central.nodes()?.iter().all(|n| n["node_id"] != node), "central registered {node}");
    Ok(())
}

#[test]
fn a_client_without_a_certificate_is_refused() -> anyhow::Result<()> {
    let cluster = Cluster::start()?;
    let rt = runtime();
    let result = rt.block_on(async {
        let mut c = client(&cluster.central.url(), &ca_pem(&cluster), None).await?;
        anyhow::Ok(c.push(push(1, vec![demand("sz", "无证书", 1).into()])).await)
    });
    match result {
        Ok(Ok(_)) => panic!("a client without a certificate was served"),
        Ok(Err(status)) => assert_ne!(status.code(), Code::Ok),
        Err(_) => {} // refused during the handshake
    }
    assert_untouched(&cluster, "sz")
}

#[test]
fn certificates_from_another_ca_or_expired_are_refused() -> anyhow::Result<()> {
    let cluster = Cluster::start()?;
    let rt = runtime();
    let rogue_ca = Ca::create("Rogue CA")?;
    let rogue = rogue_ca.issue_node(&identity("sz"), Validity::days(30))?;
    let real_ca = Ca::load(&cluster.central.home.join("ca.crt"), &cluster.central.home.join("ca.key"))?;
    let now = time::OffsetDateTime::now_utc();
    let expired = Validity { not_before: now - time::Duration::days(30), not_after: now - time::Duration::days(1) };
    let stale = real_ca.issue_node(&identity("sz"), expired)?;

    for (what, issued) in [("another CA", rogue), ("expired", stale)] {
        let result = rt.block_on(async {
            let mut c =
                client(&cluster.central.url(), &ca_pem(&cluster), Some((&issued.cert_pem, &issued.key_pem))).await?;
            anyhow::Ok(c.hello(pb::HelloRequest::default()).await)
        });
        assert!(!matches!(result, Ok(Ok(_))), "a certificate from {what} was accepted");
    }
    assert_untouched(&cluster, "sz")
}

#[test]
fn central_believes_the_certificate_not_the_record() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.node("sz").terminate()?;
    let dir = cluster.node("sz").dir().to_owned();
    let rt = runtime();
    let (response, forged_id) = rt.block_on(async {
        let mut c = node_client(&cluster.central.url(), &dir).await?;
        c.hello(pb::HelloRequest::default()).await?;
        let own = demand("sz", "自己的需求", 10);
        let forged = demand("gz", "冒充广州的需求", 11);
        let forged_id = forged.meta.id;
        let response = c.push(push(1, vec![own.into(), forged.into()])).await?.into_inner();
        anyhow::Ok((response, forged_id))
    })?;
    assert_eq!(response.refused.len(), 1, "{response:?}");
    let refusal = &response.refused[0];
    assert_eq!(
        (refusal.seq, refusal.id.as_slice(), refusal.field.as_str()),
        (2, forged_id.as_bytes().as_slice(), "owner")
    );
    assert!(refusal.current.is_none(), "central holds nothing of it");
    assert_eq!(response.acked_seq, 0);
    assert!(cluster.central.list(None, None)?.is_empty(), "nothing of the batch was applied");
    let sz = cluster.central.nodes()?.into_iter().find(|n| n["node_id"] == "sz").expect("sz registered");
    assert_eq!(sz["acked_seq"], 0, "the refused batch was not acknowledged");
    Ok(())
}

#[test]
fn a_revoked_node_is_cut_off_at_once_and_refused_after() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gz", "city", "440100")?;
    eventually(SETTLE, "both nodes connected", || {
        Ok(cluster.node("sz").status()?["connected"] == true && cluster.node("gz").status()?["connected"] == true)
    })?;
    let sz_dir = cluster.node("sz").dir().to_owned();
    let url = cluster.central.url();
    let rt = runtime();

    // A connected session of sz's own: its feed must be closed by the revocation.
    let mut feed = rt.block_on(async {
        let mut c = node_client(&url, &sz_dir).await?;
        anyhow::Ok(c.feed(pb::FeedRequest { cursor: 0 }).await?.into_inner())
    })?;
    let said = cluster.central.revoke("sz")?;
    assert!(said.contains("revoked node sz"), "{said}");
    // Skip the announcement of the cursor a feed sends when it opens.
    let closed = rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match feed.message().await {
                    Ok(Some(batch)) if batch.records.is_empty() => continue,
                    other => return other,
                }
            }
        })
        .await
    });
    match closed {
        Ok(Err(status)) => assert_eq!(status.code(), Code::PermissionDenied, "{status:?}"),
        other => panic!("the open feed was not closed with PERMISSION_DENIED: {other:?}"),
    }
    eventually(SETTLE, "the revoked node to lose its session", || {
        Ok(cluster.node("sz").status()?["connected"] == false)
    })?;

    // New calls are refused, and what it publishes goes nowhere.
    let status = rt.block_on(async {
        let mut c = node_client(&url, &sz_dir).await?;
        anyhow::Ok(c.hello(pb::HelloRequest::default()).await.expect_err("a revoked node was served"))
    })?;
    assert_eq!(status.code(), Code::PermissionDenied);
    let rows = cluster.write_rows(&kechuang_testkit::sample::demands("SZ", 3, "440300", 1))?;
    cluster.node("sz").publish(&[&rows])?;
    std::thread::sleep(Duration::from_millis(500));
    assert!(cluster.central.list(None, None)?.is_empty(), "central accepted records from a revoked node");
    assert_eq!(cluster.node("gz").status()?["connected"], true, "other nodes are unaffected");

    // Revocation survives a restart of central.
    cluster.central.terminate()?;
    cluster.central.restart()?;
    let status = rt.block_on(async {
        let mut c = node_client(&url, &sz_dir).await?;
        anyhow::Ok(c.hello(pb::HelloRequest::default()).await.expect_err("revocation forgotten"))
    })?;
    assert_eq!(status.code(), Code::PermissionDenied);
    Ok(())
}

#[test]
fn the_operator_api_requires_the_nodes_token() -> anyhow::Result<()> {
    use kechuang_proto::pb::operator_client::OperatorClient;
    use std::os::unix::fs::PermissionsExt;

    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    let dir = cluster.node("sz").dir().to_owned();
    let token_file = dir.join("data/api.token");
    assert_eq!(std::fs::metadata(&token_file)?.permissions().mode() & 0o777, 0o600);
    let ready: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("ready.json"))?)?;
    let api = format!("http://{}", ready["api"].as_str().expect("api address"));
    assert!(api.starts_with("http://127."), "the operator API listens on loopback: {api}");

    let rt = runtime();
    for token in [None, Some("Bearer 0000"), Some("Bearer ")] {
        let status = rt.block_on(async {
            let mut c = OperatorClient::connect(api.clone()).await?;
            let mut request = tonic::Request::new(pb::StatusRequest {});
            if let Some(t) = token {
                request.metadata_mut().insert("authorization", t.parse()?);
            }
            anyhow::Ok(c.status(request).await.expect_err("served without the right token"))
        })?;
        assert_eq!(status.code(), Code::Unauthenticated, "{token:?}");
    }
    // The CLI, which reads the token, is served.
    assert_eq!(cluster.node("sz").status()?["node_id"], "sz");
    Ok(())
}

#[test]
fn a_flooding_node_is_rate_limited() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_with(|toml| {
        toml.replace("rate_per_node = 200", "rate_per_node = 5").replace("burst_per_node = 400", "burst_per_node = 10")
    })?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.node("sz").terminate()?;
    let dir = cluster.node("sz").dir().to_owned();
    let codes = runtime().block_on(async {
        let mut c = node_client(&cluster.central.url(), &dir).await?;
        let mut codes = Vec::new();
        for _ in 0..80 {
            codes.push(c.digest(pb::DigestRequest {}).await.err().map(|s| s.code()));
        }
        anyhow::Ok(codes)
    })?;
    let refused = codes.iter().filter(|c| **c == Some(Code::ResourceExhausted)).count();
    assert!(refused >= 30, "only {refused} of 80 rapid calls were limited: {codes:?}");
    assert!(codes.iter().any(Option::is_none), "calls within the limit are served: {codes:?}");
    Ok(())
}

/// `kechuang-central renew` of node `id` in `dir` for `days`: what it printed, or its error.
fn renew(cluster: &Cluster, id: &str, dir: &std::path::Path, days: &str) -> anyhow::Result<std::process::Output> {
    Ok(kechuang_testkit::command("kechuang-central")
        .args(["renew", "--data-dir"])
        .arg(&cluster.central.home)
        .args(["--node-id", id, "--dir"])
        .arg(dir)
        .args(["--valid-days", days])
        .output()?)
}

#[test]
fn a_certificate_near_its_end_is_warned_of_and_renewed_without_a_new_identity() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    cluster.add_stopped_node("sz", "city", "440300")?;
    let dir = cluster.node_dir("sz");
    // A certificate with ten days left.
    let out = renew(&cluster, "sz", &dir, "10")?;
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("renewed sz"), "{out:?}");
    cluster.node("sz").start()?;
    eventually(SETTLE, "sz connected", || Ok(cluster.node("sz").status()?["connected"] == true))?;
    let days = cluster.node("sz").status()?["certificate_days_left"].as_i64().unwrap_or(-1);
    assert!((9..=10).contains(&days), "{days} days left");
    let status = kechuang_testkit::command("kechuang-node")
        .arg("status")
        .arg("--config")
        .arg(cluster.node("sz").config())
        .output()?;
    assert!(String::from_utf8_lossy(&status.stdout).contains("ask the national office to renew it"), "{status:?}");
    let expiry = |cluster: &Cluster| -> anyhow::Result<String> {
        let nodes = cluster.central.nodes()?;
        let sz = nodes.iter().find(|n| n["node_id"] == "sz");
        Ok(sz.and_then(|n| n["certificate_expires"].as_str()).unwrap_or_default().to_owned())
    };
    let short = expiry(&cluster)?;
    assert!(short.parse::<kechuang_types::Timestamp>().is_ok(), "central shows the certificate's expiry: {short:?}");

    // Renewed while the node runs: same identity, the node takes it at its next session.
    let wrong = renew(&cluster, "gd", &dir, "825")?;
    assert!(!wrong.status.success() && String::from_utf8_lossy(&wrong.stderr).contains("not gd"), "{wrong:?}");
    assert!(renew(&cluster, "sz", &dir, "825")?.status.success());
    assert!(cluster.node("sz").status()?["certificate_days_left"].as_i64().unwrap_or(0) >= 824);
    cluster.central.terminate()?;
    cluster.central.restart()?;
    eventually(SETTLE, "sz back with its new certificate", || {
        Ok(cluster.node("sz").status()?["connected"] == true
            && expiry(&cluster)? != short
            && !expiry(&cluster)?.is_empty())
    })?;
    let rows = cluster.write_rows(&[common::rows::battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    eventually(SETTLE, "a push under the new certificate", || cluster.converged())?;
    Ok(())
}
