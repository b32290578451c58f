//! Central as several instances over one PostgreSQL database: a node fails
//! over when the instance it pushes to dies mid-push, another instance
//! takes matching over when the one matching dies, and every instance goes
//! on after PostgreSQL restarts. Each test starts its own PostgreSQL
//! cluster (`initdb` in a temp dir, a loopback port).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use common::{SETTLE, ids_versions};
use kechuang_testkit::{Cluster, eventually, sample};

/// Every node holds exactly central's view of it, and central holds
/// `published` records, each once.
fn assert_consistent(cluster: &mut Cluster, nodes: &[&str], published: usize) -> anyhow::Result<()> {
    let all = ids_versions(&cluster.central.list(None, None)?)?;
    assert_eq!(all.len(), published, "central holds every published record once");
    for id in nodes {
        let held = ids_versions(&cluster.node(id).list(None)?)?;
        let view = ids_versions(&cluster.central.list(None, Some(id))?)?;
        assert_eq!(held, view, "{id} holds exactly central's view of it");
    }
    Ok(())
}

/// Adds the nodes, each listing the instances in its own order.
fn add_nodes(cluster: &mut Cluster, nodes: &[(&str, &str, &str, &[usize])]) -> anyhow::Result<()> {
    for (id, kind, region, order) in nodes {
        let urls = cluster.central_urls(order);
        let node = cluster.add_stopped_node(id, kind, region)?;
        node.set("central", &urls)?;
        node.set("max_backoff_ms", "400")?;
        node.set("repair_secs", "3600")?;
        node.start()?;
    }
    Ok(())
}

#[test]
fn killing_the_instance_a_node_pushes_to_mid_push_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_shared(3)?;
    // Instance 1 dies before committing sz's second push batch (its first
    // pass is sz's registration).
    cluster.instance(1).terminate()?;
    cluster.instance(1).process().arm_crash("central-before-commit", 3);
    cluster.instance(1).restart()?;
    add_nodes(
        &mut cluster,
        &[
            ("gd", "provincial", "440000", &[0, 1, 2]),
            ("sz", "city", "440300", &[1, 2, 0]),
            ("gz", "city", "440100", &[2, 0, 1]),
        ],
    )?;
    let sz = cluster.write_rows(&sample::outcomes("SZ", 3_000, "440300", 7))?;
    let gz = cluster.write_rows(&sample::outcomes("GZ", 500, "440100", 8))?;
    cluster.node("sz").publish(&[&sz])?;
    cluster.node("gz").publish(&[&gz])?;
    cluster.instance(1).process().wait_crashed()?;
    let crashed = Instant::now();
    eventually(SETTLE, "convergence through the other instances", || cluster.converged())?;
    eprintln!("converged {:?} after the instance died", crashed.elapsed());
    assert_consistent(&mut cluster, &["gd", "sz", "gz"], 3_500)?;

    // The dead instance comes back and serves the same log.
    cluster.instance(1).restart()?;
    let more = cluster.write_rows(&sample::outcomes("SZ2", 100, "440300", 9))?;
    cluster.node("sz").publish(&[&more])?;
    eventually(SETTLE, "convergence with the instance back", || cluster.converged())?;
    assert_consistent(&mut cluster, &["gd", "sz", "gz"], 3_600)
}

#[test]
fn when_the_matching_instance_dies_another_takes_over_and_proposes_each_pair_once() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_shared(3)?;
    // Instance 0 alone first, so it holds the lease; it dies part-way
    // through routing the demands, before recording how far it matched.
    for n in 0..3 {
        cluster.instance(n).terminate()?;
    }
    let taken = |cluster: &mut Cluster, n: usize| {
        cluster.instance(n).process().log_text().matches("this central instance runs matching").count()
    };
    let before: Vec<usize> = (0..3).map(|n| taken(&mut cluster, n)).collect();
    cluster.instance(0).process().arm_crash("matching-routed", 40);
    cluster.instance(0).restart()?;
    eventually(SETTLE, "instance 0 holding the lease", || Ok(taken(&mut cluster, 0) > before[0]))?;
    cluster.instance(1).restart()?;
    cluster.instance(2).restart()?;
    add_nodes(
        &mut cluster,
        &[
            ("gd", "provincial", "440000", &[1, 2, 0]),
            ("sz", "city", "440300", &[2, 1, 0]),
            ("szu", "university", "440300", &[1, 2, 0]),
        ],
    )?;
    let outcomes = cluster.write_rows(&sample::outcomes("CG", 60, "440300", 11))?;
    cluster.node("szu").publish(&[&outcomes])?;
    eventually(SETTLE, "the outcomes at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 60))?;
    let demands = cluster.write_rows(&sample::demands("XQ", 80, "440300", 12))?;
    cluster.node("sz").publish(&[&demands])?;
    cluster.instance(0).process().wait_crashed()?;
    let died = Instant::now();

    let proposed = |cluster: &mut Cluster| -> anyhow::Result<BTreeMap<String, Vec<String>>> {
        let mut by_demand: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in cluster.list_any(Some("matches"))? {
            let demand = m["demand"].as_str().unwrap_or_default().to_owned();
            by_demand.entry(demand).or_default().push(m["supply"].as_str().unwrap_or_default().to_owned());
        }
        Ok(by_demand)
    };
    eventually(SETTLE, "every demand proposed", || Ok(proposed(&mut cluster)?.len() == 80))?;
    eprintln!("matching resumed and finished {:?} after the matching instance died", died.elapsed());
    let took_over = (1..3).filter(|n| taken(&mut cluster, *n) > before[*n]).count();
    assert_eq!(took_over, 1, "exactly one other instance took matching over");
    for (demand, supplies) in proposed(&mut cluster)? {
        let distinct: BTreeSet<&String> = supplies.iter().collect();
        assert_eq!(distinct.len(), supplies.len(), "{demand}: a pair was proposed twice: {supplies:?}");
    }
    Ok(())
}

#[test]
fn central_instances_go_on_after_postgresql_restarts_under_load() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_shared(2)?;
    add_nodes(
        &mut cluster,
        &[
            ("gd", "provincial", "440000", &[0, 1]),
            ("sz", "city", "440300", &[0, 1]),
            ("gz", "city", "440100", &[1, 0]),
        ],
    )?;
    let sz = cluster.write_rows(&sample::outcomes("SZ", 2_000, "440300", 21))?;
    cluster.node("sz").publish(&[&sz])?;
    cluster.postgres().restart()?;
    let gz = cluster.write_rows(&sample::outcomes("GZ", 500, "440100", 22))?;
    cluster.node("gz").publish(&[&gz])?;
    eventually(SETTLE, "convergence after PostgreSQL's restart", || cluster.converged())?;
    assert_consistent(&mut cluster, &["gd", "sz", "gz"], 2_500)?;
    assert!(cluster.instance(0).process().is_running() && cluster.instance(1).process().is_running());
    Ok(())
}

#[test]
fn a_revocation_made_at_one_instance_cuts_the_node_off_at_every_instance() -> anyhow::Result<()> {
    let mut cluster = Cluster::start_shared(2)?;
    // sz syncs through instance 1; the national office revokes it at instance 0.
    add_nodes(&mut cluster, &[("sz", "city", "440300", &[1, 0]), ("gz", "city", "440100", &[1, 0])])?;
    eventually(SETTLE, "both nodes connected", || {
        Ok(cluster.node("sz").status()?["connected"] == true && cluster.node("gz").status()?["connected"] == true)
    })?;
    let said = cluster.central.revoke("sz")?;
    assert!(said.contains("revoked node sz"), "{said}");
    let revoked = Instant::now();
    eventually(std::time::Duration::from_secs(10), "sz cut off by instance 1", || {
        Ok(cluster.node("sz").status()?["connected"] == false)
    })?;
    eprintln!("sz cut off {:?} after its revocation at the other instance", revoked.elapsed());
    assert!(cluster.instance(1).process().log_text().contains("revoked through another central instance"));

    // Nothing of sz's is taken any more; gz goes on.
    let rows = cluster.write_rows(&sample::outcomes("SZ", 5, "440300", 41))?;
    cluster.node("sz").publish(&[&rows])?;
    let rows = cluster.write_rows(&sample::outcomes("GZ", 5, "440100", 42))?;
    cluster.node("gz").publish(&[&rows])?;
    eventually(SETTLE, "gz's outcomes at central", || Ok(cluster.list_any(Some("outcomes"))?.len() >= 5))?;
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(cluster.list_any(Some("outcomes"))?.len(), 5, "nothing of the revoked node was accepted");
    Ok(())
}

/// A free loopback port (bound and released).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `deploy/compose.yaml`'s network without Docker: the same setup script and
/// the same commands as its services, on loopback ports, over a PostgreSQL
/// cluster of the test's own.
#[test]
fn the_compose_network_converges_when_run_as_its_services_run() -> anyhow::Result<()> {
    let postgres = kechuang_testkit::Postgres::start_with(&["fsync = off"])?;
    let dir = tempfile::tempdir()?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bin = kechuang_testkit::binary("kechuang-central").parent().map(|p| p.to_owned()).unwrap_or_default();
    let (sync_1, sync_2) = (free_port()?, free_port()?);
    let setup = std::process::Command::new(root.join("deploy/compose/setup.sh"))
        .env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()))
        .env("KECHUANG_COMPOSE_DIR", dir.path())
        .env("KECHUANG_STORE_URL", postgres.database("kechuang")?)
        .env("KECHUANG_LISTEN_1", format!("127.0.0.1:{sync_1}"))
        .env("KECHUANG_LISTEN_2", format!("127.0.0.1:{sync_2}"))
        .env("KECHUANG_URL_1", format!("https://127.0.0.1:{sync_1}"))
        .env("KECHUANG_URL_2", format!("https://127.0.0.1:{sync_2}"))
        .envs([("KECHUANG_ADMIN_1", "127.0.0.1:0"), ("KECHUANG_ADMIN_2", "127.0.0.1:0")])
        .envs([("KECHUANG_DASHBOARD_1", "127.0.0.1:0"), ("KECHUANG_DASHBOARD_2", "127.0.0.1:0")])
        .env("KECHUANG_NODE_API", "127.0.0.1:0")
        .output()?;
    assert!(setup.status.success(), "setup: {}", String::from_utf8_lossy(&setup.stderr));

    let mut centrals: Vec<kechuang_testkit::Daemon> = ["central-1", "central-2"]
        .iter()
        .map(|c| kechuang_testkit::Daemon::new("kechuang-central", dir.path().join(c).join("central.toml")))
        .collect();
    for central in &mut centrals {
        central.start()?;
    }
    let mut nodes: Vec<kechuang_testkit::Node> =
        ["gd", "sz", "gz"].iter().map(|id| kechuang_testkit::Node::in_dir(id, &dir.path().join(id))).collect();
    for node in &mut nodes {
        node.set("repair_secs", "3600")?;
        node.start()?;
    }
    let rows = dir.path().join("rows.jsonl");
    let text: String = sample::outcomes("SZ", 300, "440300", 51).iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&rows, text)?;
    nodes[1].publish(&[&rows])?;
    eventually(SETTLE, "the compose network converged", || {
        Ok(nodes.iter().all(|n| n.converged().unwrap_or(false)) && nodes[0].list(Some("outcomes"))?.len() == 300)
    })?;

    // Losing the first instance, as `docker compose kill central-1` does.
    centrals[0].kill();
    let rows = dir.path().join("more.jsonl");
    let text: String = sample::outcomes("GZ", 100, "440100", 52).iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(&rows, text)?;
    nodes[2].publish(&[&rows])?;
    eventually(SETTLE, "convergence through central-2", || {
        Ok(nodes.iter().all(|n| n.converged().unwrap_or(false)) && nodes[0].list(Some("outcomes"))?.len() == 400)
    })?;
    Ok(())
}

#[test]
fn an_instance_standing_by_answers_searches_and_offers_from_its_own_index() -> anyhow::Result<()> {
    use common::rows::battery_demand;
    let mut cluster = Cluster::start_shared(2)?;
    // Instance 0 matches; the university and the city talk to instance 1 only.
    let only_1 = cluster.central_urls(&[1]);
    for (id, kind, region) in [("sz", "city", "440300"), ("scu", "university", "510100")] {
        cluster.add_stopped_node(id, kind, region)?.set("central", &only_1)?;
        cluster.node(id).start()?;
    }
    let rows = cluster.write_rows(&[battery_demand("XQ-SZ", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    let rows = cluster.write_rows(&sample::outcomes("CG", 3, "510100", 61))?;
    cluster.node("scu").publish(&[&rows])?;
    eventually(SETTLE, "instance 1 finds the demand", || {
        Ok(!cluster.node("scu").search("储能电池热失控预警", "demands", &[])?.is_empty())
    })?;
    let hits = cluster.node("scu").search("储能电池热失控预警", "demands", &[])?;
    let demand = hits[0]["record"]["id"].as_str().unwrap_or_default().to_owned();
    let offered = cluster.node("scu").interest(&demand, "CG-000001", "")?;
    assert!(offered["explanation"].as_str().is_some_and(|e| e.starts_with("主动对接")), "{offered}");
    assert!(
        cluster.instance(1).process().log_text().contains("another central instance runs matching"),
        "instance 1 was standing by"
    );
    Ok(())
}
