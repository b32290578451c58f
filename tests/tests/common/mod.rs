//! Assertions shared by the scenarios.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use serde_json::Value;

/// How long a scenario waits for the network to settle.
pub const SETTLE: Duration = Duration::from_secs(60);

/// `id → version` of a list of records, failing on a duplicate id.
pub fn ids_versions(records: &[Value]) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for r in records {
        let id = r["id"].as_str().unwrap_or_default().to_owned();
        let version = r["version"].as_u64().unwrap_or_default();
        ensure!(out.insert(id.clone(), version).is_none(), "duplicate record {id}");
    }
    Ok(out)
}

/// The `external_id`s of a list of records, sorted.
pub fn refs(records: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = records.iter().filter_map(|r| r["external_id"].as_str().map(str::to_owned)).collect();
    out.sort();
    out
}

/// Raw gRPC clients and records, for talking to central as a node would
/// (or as an attacker would).
pub mod wire {
    use std::path::Path;

    use anyhow::Context;
    use kechuang_proto::pb;
    use kechuang_proto::pb::sync_client::SyncClient;
    use kechuang_types::{Body, Hlc, NodeId, Record, Trl};
    use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

    /// A sync client to `url` trusting `ca_pem`, presenting `identity` (cert, key) if given.
    pub async fn client(
        url: &str,
        ca_pem: &str,
        identity: Option<(&str, &str)>,
    ) -> anyhow::Result<SyncClient<Channel>> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca_pem))
            .domain_name(kechuang_pki::CENTRAL_NAME);
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        let channel = Endpoint::from_shared(url.to_owned())?.tls_config(tls)?.connect().await.context("connecting")?;
        Ok(SyncClient::new(channel).max_encoding_message_size(64 * 1024 * 1024))
    }

    /// A sync client using the certificate of the node issued into `dir`.
    pub async fn node_client(url: &str, dir: &Path) -> anyhow::Result<SyncClient<Channel>> {
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).with_context(|| format!("reading {f}"));
        client(url, &read("ca.crt")?, Some((&read("node.crt")?, &read("node.key")?))).await
    }

    /// A valid demand owned by `owner`.
    pub fn demand(owner: &str, title: &str, version: u64) -> Record {
        let mut record = kechuang_types::testing::demand(title);
        record.meta.owner = NodeId::parse("owner", owner).expect("node id");
        record.meta.version = Hlc::from_u64(version);
        if let Body::Demand(d) = &mut record.body {
            d.description = "储能电站需要提前发现电芯热失控".into();
            d.keywords = vec!["储能".into()];
            d.budget_wan = Some(80.0);
            d.min_trl = Trl::new("min_trl", 6).expect("trl");
        }
        record
    }

    /// A push of `records` with sequence numbers from `first`.
    pub fn push(first: u64, records: Vec<pb::Record>) -> pb::PushRequest {
        let changes =
            records.into_iter().zip(first..).map(|(record, seq)| pb::Change { seq, record: Some(record) }).collect();
        pb::PushRequest { changes }
    }
}
