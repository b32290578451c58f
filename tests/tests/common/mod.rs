//! Assertions shared by the scenarios.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::ensure;
use serde_json::Value;

/// Node `id`'s console: the sign-in link, and the address it serves pages at.
pub fn console(cluster: &mut kechuang_testkit::Cluster, id: &str) -> anyhow::Result<(String, String)> {
    let url = cluster.node(id).console_url()?;
    let base = url.split("/?token=").next().unwrap_or_default().to_owned();
    Ok((url, base))
}

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

/// A date `days` from today (China Standard Time).
pub fn in_days(days: i64) -> kechuang_types::Date {
    let today = kechuang_types::Date::today();
    kechuang_types::Date::from_days_since_epoch(today.days_since_epoch() + days)
}

/// Rows of the interchange format the scenarios publish.
pub mod rows {
    use serde_json::{Value, json};

    use super::in_days;

    /// A demand row of Shenzhen's energy-storage operator, deadline in 200 days.
    pub fn demand(id: &str, region: &str, title: &str, description: &str, keywords: &[&str]) -> Value {
        json!({
            "id": id, "title": title, "description": description, "industry": "C38", "keywords": keywords,
            "region": region, "budget_wan": 150, "deadline": in_days(200).to_string(), "is_challenge": false,
            "min_trl": 6, "enterprise": "鹏城储能科技有限公司",
            "contact": {"person": "周工", "phone": "0755-2660 1188", "email": "zhou@ess.example.cn"},
        })
    }

    /// The battery thermal-runaway demand every matching scenario uses.
    pub fn battery_demand(id: &str, region: &str) -> Value {
        demand(
            id,
            region,
            "储能电站锂电池热失控早期预警",
            "用户侧储能电站的磷酸铁锂电池簇缺少热失控早期预警，希望引入基于电化学阻抗谱和产气检测的预警算法，提前数小时发现故障电芯。",
            &["储能", "热失控", "早期预警", "电化学阻抗谱"],
        )
    }

    /// [`battery_demand`] as a challenge (揭榜挂帅).
    pub fn battery_challenge(id: &str, region: &str) -> Value {
        let mut challenge = battery_demand(id, region);
        challenge["is_challenge"] = true.into();
        challenge["title"] = "揭榜挂帅：储能电站热失控早期预警".into();
        challenge
    }

    /// The outcome that answers [`battery_demand`].
    pub fn battery_outcome(id: &str, region: &str, owner: &str) -> Value {
        json!({
            "id": id, "title": "基于电化学阻抗谱的锂电池热失控早期预警方法",
            "abstract": "在线测量电芯电化学阻抗谱特征频点相位变化，结合产气检测与温升速率，在热失控前数小时给出早期预警，适用于储能电站电池管理系统。",
            "industry": "C38", "keywords": ["热失控", "早期预警", "电化学阻抗谱", "储能"], "owner": owner,
            "region": region, "trl": 7, "ip": "发明专利 CN202010476989.9", "transfer_modes": ["技术许可"], "price_wan": 150,
            "contact": {"person": "陈老师", "phone": "020-8711 0000", "email": "chen@univ.example.edu.cn"},
        })
    }
}

/// Raw gRPC clients and records, for talking to central as a node would
/// (or as an attacker would).
pub mod wire {
    use std::path::Path;
    use std::time::Duration;

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
        let channel = channel(url, ca_pem, identity).await?;
        Ok(SyncClient::new(channel).max_encoding_message_size(64 * 1024 * 1024))
    }

    /// A channel to `url` trusting `ca_pem`, presenting `identity` (cert, key) if given.
    pub async fn channel(url: &str, ca_pem: &str, identity: Option<(&str, &str)>) -> anyhow::Result<Channel> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(ca_pem))
            .domain_name(kechuang_pki::CENTRAL_NAME);
        if let Some((cert, key)) = identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        // Bounded, so a peer that never answers fails the test instead of hanging it.
        Endpoint::from_shared(url.to_owned())?
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(60))
            .connect()
            .await
            .context("connecting")
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

    /// A version of now by the wall clock, `n` logical steps in.
    pub fn now_version(n: u64) -> Hlc {
        let now = kechuang_types::Timestamp::now().0 as u64;
        Hlc::checked(now, n).expect("a version of now")
    }

    /// A node's certificate in a client of its own: speaks the wire
    /// contract directly, as a hostile or broken station would.
    pub struct Raw {
        /// The sync client.
        pub client: SyncClient<Channel>,
        /// The sequence central acknowledged last.
        pub acked: u64,
    }

    impl Raw {
        /// Opens a session with the certificate of the node issued into `dir`.
        pub async fn connect(url: &str, dir: &Path) -> anyhow::Result<Self> {
            let mut client = node_client(url, dir).await?;
            let acked = client.hello(pb::HelloRequest::default()).await?.into_inner().acked_seq;
            Ok(Self { client, acked })
        }

        /// Pushes `records` after the acknowledged sequence; an admitted
        /// push moves the acknowledgement on.
        pub async fn push(&mut self, records: Vec<pb::Record>) -> anyhow::Result<pb::PushResponse> {
            let response = self.client.push(push(self.acked + 1, records)).await?.into_inner();
            if response.refused.is_empty() {
                self.acked = response.acked_seq;
            }
            Ok(response)
        }

        /// Pushes one record expected to be refused: the field central names.
        pub async fn refused(&mut self, record: pb::Record) -> anyhow::Result<String> {
            Ok(self.refusal(record).await?.0)
        }

        /// Pushes one record expected to be refused: the field and the reason.
        pub async fn refusal(&mut self, record: pb::Record) -> anyhow::Result<(String, String)> {
            let before = self.acked;
            let response = self.push(vec![record]).await?;
            anyhow::ensure!(response.acked_seq == before, "a refused push moved the acknowledgement");
            match response.refused.as_slice() {
                [refusal] => Ok((refusal.field.clone(), refusal.reason.clone())),
                other => anyhow::bail!("expected one refusal, got {other:?}"),
            }
        }
    }
}

/// The admin API, as the national office's tools call it.
pub mod admin {
    use std::time::Duration;

    use anyhow::Context;
    use kechuang_pki::PresentToken;
    use kechuang_proto::pb;
    use kechuang_proto::pb::admin_client::AdminClient;
    use kechuang_testkit::Central;
    use tonic::service::interceptor::InterceptedService;
    use tonic::transport::Channel;

    /// The admin API's address, from central's ready file.
    pub fn address(central: &Central) -> anyhow::Result<String> {
        let ready: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(central.home.join("ready.json"))?)?;
        Ok(format!("http://{}", ready["admin"].as_str().context("admin address")?))
    }

    /// A client presenting central's admin token.
    pub async fn client(central: &Central) -> anyhow::Result<AdminClient<InterceptedService<Channel, PresentToken>>> {
        let channel = Channel::from_shared(address(central)?)?
            .connect_timeout(Duration::from_secs(20))
            .timeout(Duration::from_secs(120))
            .connect()
            .await?;
        let token = PresentToken::read(&central.home.join("admin.token"))?;
        Ok(AdminClient::with_interceptor(channel, token).max_decoding_message_size(256 * 1024 * 1024))
    }

    /// What central holds of `kind`, all or as node `node` should hold it,
    /// read in pages of `limit` (0: central's default).
    pub async fn records_paged(
        central: &Central,
        kind: &str,
        node: &str,
        limit: u32,
    ) -> anyhow::Result<(Vec<pb::Record>, usize)> {
        let mut client = client(central).await?;
        let (mut records, mut pages, mut after) = (Vec::new(), 0, Vec::new());
        loop {
            let request = pb::AdminListRequest { kind: kind.into(), node_id: node.into(), after, limit };
            let page = client.list(request).await?.into_inner();
            records.extend(page.records);
            pages += 1;
            if page.next.is_empty() {
                return Ok((records, pages));
            }
            after = page.next;
        }
    }

    /// What central holds of `kind`, all or as node `node` should hold it.
    pub async fn records(central: &Central, kind: &str, node: &str) -> anyhow::Result<Vec<pb::Record>> {
        Ok(records_paged(central, kind, node, 0).await?.0)
    }
}

/// A two-province network of real processes where every step is known, for
/// the programme's figures and the dashboard.
pub mod programme {
    use kechuang_testkit::{Cluster, eventually};
    use serde_json::{Value, json};

    use super::SETTLE;
    use super::rows::{battery_demand, battery_outcome, demand};

    /// A tea-processing demand of Chengdu: nothing in Sichuan answers it.
    pub fn tea_demand() -> Value {
        let mut row = demand(
            "XQ-C",
            "510100",
            "名优绿茶杀青理条连续化生产",
            "茶厂的名优绿茶杀青和理条依靠人工炒制，产量低且品质不稳定，希望引进连续化杀青理条生产线，稳定茶叶色泽和香气。",
            &["绿茶", "杀青", "理条", "连续化"],
        );
        row["industry"] = json!("C15");
        row
    }

    /// The Guangzhou university's tea outcome that answers it.
    pub fn tea_outcome() -> Value {
        json!({
            "id": "CG-TEA", "title": "名优绿茶连续化杀青理条生产线",
            "abstract": "滚筒杀青与往复理条联动，按茶青含水率自动调节温度和转速，实现名优绿茶连续化加工，色泽翠绿、香气稳定。",
            "industry": "C15", "keywords": ["绿茶", "杀青", "理条", "连续化"], "owner": "岭南大学",
            "region": "440100", "trl": 7, "ip": "发明专利", "transfer_modes": ["技术转让"], "price_wan": 60,
            "contact": {"person": "林老师", "phone": "020-8711 0001", "email": "lin@univ.example.edu.cn"},
        })
    }

    /// The id of the one match central holds between these two owners.
    pub fn match_between(cluster: &Cluster, demand_owner: &str, supply_owner: &str) -> anyhow::Result<String> {
        let matches = cluster.central.list(Some("matches"), None)?;
        let found: Vec<&Value> =
            matches.iter().filter(|m| m["demand_owner"] == demand_owner && m["supply_owner"] == supply_owner).collect();
        anyhow::ensure!(found.len() == 1, "{} matches {demand_owner}–{supply_owner}: {matches:#?}", found.len());
        Ok(found[0]["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Guangdong: Shenzhen (city) and a Guangzhou university under `gd`;
    /// Sichuan: Chengdu (city) and a Chengdu university under `sc`.
    ///
    /// - A: Shenzhen's battery demand × the Guangzhou outcome (province tier):
    ///   both accept, both record 技术许可 120 万元, Shenzhen records the landing.
    /// - B: Chengdu's battery demand × the Chengdu outcome (city tier): the
    ///   university declines.
    /// - C: Chengdu's tea demand × the Guangzhou tea outcome (national tier):
    ///   both accept.
    pub fn scripted() -> anyhow::Result<Cluster> {
        // Escalation far off: each demand gets its nearest strong tier only.
        let mut cluster = Cluster::start_with_settings(&[("escalation_secs", "3600")])?;
        for (id, kind, region) in [
            ("gd", "provincial", "440000"),
            ("sz", "city", "440300"),
            ("gzu", "university", "440100"),
            ("sc", "provincial", "510000"),
            ("cd", "city", "510100"),
            ("scu", "university", "510100"),
        ] {
            cluster.add_node(id, kind, region)?;
        }
        let rows = cluster.write_rows(&[battery_outcome("CG-GD", "440100", "岭南大学"), tea_outcome()])?;
        cluster.node("gzu").publish(&[&rows])?;
        let rows = cluster.write_rows(&[battery_outcome("CG-SC", "510100", "蜀都大学")])?;
        cluster.node("scu").publish(&[&rows])?;
        eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 3))?;
        let rows = cluster.write_rows(&[battery_demand("XQ-A", "440300")])?;
        cluster.node("sz").publish(&[&rows])?;
        let rows = cluster.write_rows(&[battery_demand("XQ-B", "510100"), tea_demand()])?;
        cluster.node("cd").publish(&[&rows])?;
        eventually(SETTLE, "three proposals", || Ok(cluster.central.list(Some("matches"), None)?.len() >= 3))?;

        let (a, b, c) = (
            match_between(&cluster, "sz", "gzu")?,
            match_between(&cluster, "cd", "scu")?,
            match_between(&cluster, "cd", "gzu")?,
        );
        for (node, id) in [("sz", &a), ("gzu", &a), ("gzu", &c), ("cd", &c)] {
            eventually(SETTLE, &format!("{id} at {node}"), || {
                Ok(cluster.node(node).list(Some("matches"))?.iter().any(|m| m["id"] == **id))
            })?;
            cluster.node(node).respond(id, &["accept"])?;
        }
        eventually(SETTLE, "B at scu", || Ok(!cluster.node("scu").list(Some("matches"))?.is_empty()))?;
        cluster.node("scu").respond(&b, &["decline", "--reason", "价格"])?;
        eventually(SETTLE, "A connected at sz", || {
            Ok(cluster
                .node("sz")
                .list(Some("matches"))?
                .iter()
                .any(|m| m["id"] == *a && !m["demand_contact"].is_null()))
        })?;
        for node in ["gzu", "sz"] {
            cluster.node(node).respond(&a, &["contracted", "--type", "技术许可", "--amount", "120"])?;
        }
        eventually(SETTLE, "A's contract verified at sz", || {
            Ok(cluster
                .node("sz")
                .list(Some("matches"))?
                .iter()
                .any(|m| m["id"] == *a && !m["verified_contract"].is_null()))
        })?;
        cluster.node("sz").respond(&a, &["landed", "--note", "预警系统上线"])?;
        eventually(SETTLE, "convergence", || cluster.converged())?;
        Ok(cluster)
    }
}
