//! `kechuang-central`: the national coordinator's daemon and its tools.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use kechuang_central::backup::admin;
use kechuang_central::init::{self, NodeSpec};
use kechuang_central::{Config, Listeners, run};
use kechuang_daemon::{LogFormat, init_logging, runtime, stop_on_signal};
use kechuang_proto::pb;
use kechuang_types::{NodeId, NodeKind, Record, RecordId, Region};
use tokio_util::sync::CancellationToken;

/// mimalloc rather than glibc's malloc: glibc keeps a heap arena per busy
/// thread and returns little of it, ~140 MB of central's RSS after a burst
/// of 100,000 pushes.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kechuang central: reconciles every station's records and routes them.
#[derive(Parser)]
#[command(name = "kechuang-central", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where a central listens, and the names its certificate carries.
#[derive(clap::Args)]
struct Addresses {
    /// Where nodes connect [default: 127.0.0.1:7443; for an instance, the first one's].
    #[arg(long)]
    listen: Option<String>,
    /// Where the loopback admin API listens [default: 127.0.0.1:7444; for an instance, the first one's].
    #[arg(long)]
    admin_listen: Option<String>,
    /// Where the dashboard listens [default: 127.0.0.1:7480; for an instance, the first one's].
    #[arg(long)]
    dashboard_listen: Option<String>,
    /// A DNS name or IP address nodes reach central at (repeatable).
    #[arg(long = "name")]
    names: Vec<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Create central's directory and D/central.toml.
    Init {
        /// Central's directory.
        #[arg(long)]
        data_dir: PathBuf,
        #[command(flatten)]
        addresses: Addresses,
    },
    /// Write the directory of another central instance over the same
    /// PostgreSQL store (for another machine): configuration, the CA's
    /// certificate, the admin token and a server certificate of its own.
    Instance {
        /// Path to the first instance's central.toml.
        #[arg(long)]
        config: PathBuf,
        /// The new instance's directory.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        addresses: Addresses,
    },
    /// Write a ready-to-run node directory (DIR/node.toml).
    Issue {
        /// Central's directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The node's id: a-z, 0-9 and '-'.
        #[arg(long)]
        node_id: String,
        /// provincial, city, university or society.
        #[arg(long)]
        kind: String,
        /// GB/T 2260 region code, e.g. 440300.
        #[arg(long)]
        region: String,
        /// Where to write the node directory.
        #[arg(long)]
        out: PathBuf,
        /// The node's operator API address (loopback).
        #[arg(long, default_value = "127.0.0.1:0")]
        api_listen: String,
        /// The URL the node reaches central at [default: https:// + central's listen address].
        #[arg(long)]
        central_url: Option<String>,
        /// How many days the node's certificate is valid.
        #[arg(long, default_value_t = 825)]
        valid_days: i64,
        /// A society's fields: the industries it assesses (GB/T 4754 codes,
        /// comma-separated: C38,C39); it receives their demands and outcomes.
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
    },
    /// Renew a node's certificate before it expires: a new certificate and
    /// key in the node's directory, same identity; the node takes them at
    /// its next session.
    Renew {
        /// Central's directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The node's id.
        #[arg(long)]
        node_id: String,
        /// The node's directory (holding node.crt and node.key).
        #[arg(long)]
        dir: PathBuf,
        /// How many days the new certificate is valid.
        #[arg(long, default_value_t = 825)]
        valid_days: i64,
    },
    /// Revoke a node: its open streams close and its connections are refused.
    Revoke {
        /// Central's directory.
        #[arg(long)]
        data_dir: PathBuf,
        /// The node to revoke.
        #[arg(long)]
        node_id: String,
    },
    /// Run central.
    Run {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// Log lines as text or as JSON objects.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    },
    /// List the records central holds (all, or what one node should hold).
    List {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// demands, outcomes, experts, matches or bids; all when omitted.
        kind: Option<String>,
        /// Only what this node should hold, in its view.
        #[arg(long)]
        node: Option<String>,
        /// Stable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure matching quality on a labelled file (nDCG@10, recall@5, MRR).
    Eval {
        /// A labelled file: demands, outcomes, experts and qrels.
        #[arg(long)]
        dataset: PathBuf,
        /// Stable JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Write each demand's proposals, one JSON line per demand.
        #[arg(long)]
        rankings: Option<PathBuf>,
        /// Evaluate as of this date (YYYY-MM-DD; deadlines and availability
        /// are judged against it) [default: today in China].
        #[arg(long)]
        today: Option<String>,
    },
    /// The history of a match or bid (every step, who took it, when central
    /// received it), or every event since a day.
    History {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// A match's or bid's id; every record's events when omitted.
        id: Option<String>,
        /// Only what central received on or after this day (YYYY-MM-DD, China Standard Time).
        #[arg(long)]
        since: Option<String>,
        /// Write the events to this file as JSON Lines instead of printing them.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Stable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Propose a supply for a demand by hand (人工推荐): a match like any
    /// other, on record with its operator.
    Propose {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// The demand's id.
        demand: String,
        /// The outcome's or expert's id.
        supply: String,
        /// Why: both sides read it as the match's explanation.
        #[arg(long)]
        note: String,
        /// Who at the national office [default: $USER].
        #[arg(long)]
        operator: Option<String>,
    },
    /// Withdraw an open match, with the reason both sides will read.
    WithdrawMatch {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// The match's id.
        match_id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who at the national office [default: $USER].
        #[arg(long)]
        operator: Option<String>,
    },
    /// Propose a demand's next tier now, without waiting for its window.
    Escalate {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// The demand's id.
        demand: String,
        /// Who at the national office [default: $USER].
        #[arg(long)]
        operator: Option<String>,
    },
    /// Write a backup while central runs (or while it is stopped): a
    /// consistent copy of the store in a format of its own (records, nodes,
    /// revocations, history, routing), with central's CA, keys, token and
    /// configuration. `restore` loads it.
    Backup {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// The backup's directory; created, and must not exist or be empty.
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a new central directory from a backup: its configuration, CA
    /// and keys, and its store loaded from the copy — into the embedded
    /// store, or into an empty PostgreSQL database (sled → PostgreSQL is a
    /// backup and a restore).
    Restore {
        /// The backup's directory.
        #[arg(long)]
        from: PathBuf,
        /// The new central directory; must not hold a central.toml.
        #[arg(long)]
        data_dir: PathBuf,
        /// Load into this (empty) PostgreSQL database and name it in the new
        /// central.toml's `[store] url`.
        #[arg(long, conflicts_with = "embedded")]
        store_url: Option<String>,
        /// Load into the embedded store even if the backup's central.toml
        /// names a database.
        #[arg(long)]
        embedded: bool,
    },
    /// List the nodes central knows.
    Nodes {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// Stable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The programme's figures (考核评估): demands by stage, proposals by
    /// tier, verified contracts and their 成交额, how fast, who answers.
    Stats {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// Only this province (any region code in it).
        #[arg(long, conflicts_with = "node")]
        province: Option<String>,
        /// Only this station's figures, as it sees them with `kechuang-node stats`.
        #[arg(long)]
        node: Option<String>,
        #[command(flatten)]
        args: kechuang_stats::StatsArgs,
    },
    /// 榜单: universities, outcomes, cities, societies, experts and the
    /// fastest-answering stations of a year, each with its rule.
    Rankings {
        /// Path to central.toml.
        #[arg(long)]
        config: PathBuf,
        /// The calendar year (China Standard Time); this year when omitted.
        #[arg(long)]
        year: Option<i32>,
        /// Stable JSON instead of tables.
        #[arg(long, conflicts_with = "xlsx")]
        json: bool,
        /// Write the lists to this XLSX workbook, a sheet each.
        #[arg(long, value_name = "FILE")]
        xlsx: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match run_cli(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Init { data_dir, addresses: Addresses { listen, admin_listen, dashboard_listen, names } } => {
            let path = init::init(&data_dir, listen, admin_listen, dashboard_listen, &names)?;
            println!("initialised central: {}", path.display());
            println!("next: kechuang-central run --config {}", path.display());
            Ok(())
        }
        Command::Instance { config, out, addresses: Addresses { listen, admin_listen, dashboard_listen, names } } => {
            let config = Config::load(&config)?;
            let path = init::instance(&config, &out, listen, admin_listen, dashboard_listen, &names)?;
            println!("another central instance: {}", path.display());
            println!("next: kechuang-central run --config {}", path.display());
            println!("and add its URL to every node's `central` list");
            Ok(())
        }
        Command::Issue { data_dir, node_id, kind, region, out, api_listen, central_url, valid_days, fields } => {
            let fields =
                fields.iter().map(|f| kechuang_types::Industry::parse("fields", f)).collect::<Result<Vec<_>, _>>()?;
            let spec = NodeSpec {
                id: NodeId::parse("node-id", &node_id)?,
                kind: NodeKind::parse("kind", &kind)?,
                region: Region::parse("region", &region)?,
                api_listen: api_listen
                    .parse()
                    .with_context(|| format!("api-listen: not an address: {api_listen:?}"))?,
                central_url,
                valid_days,
                fields,
            };
            let config = Config::load(&data_dir.join("central.toml"))?;
            let path = init::issue(&config, &spec, &out)?;
            println!("issued node {} ({} {}): {}", spec.id, spec.kind, spec.region, path.display());
            println!("next: kechuang-node run --config {}", path.display());
            Ok(())
        }
        Command::Backup { config, out } => kechuang_central::backup::backup(&Config::load(&config)?, &out),
        Command::Restore { from, data_dir, store_url, embedded } => {
            let store = match (store_url, embedded) {
                (Some(url), _) => kechuang_central::backup::Target::Postgres(url),
                (None, true) => kechuang_central::backup::Target::Embedded,
                (None, false) => kechuang_central::backup::Target::AsBackedUp,
            };
            kechuang_central::backup::restore(&from, &data_dir, store)
        }
        Command::Renew { data_dir, node_id, dir, valid_days } => {
            let node = NodeId::parse("node-id", &node_id)?;
            let config = Config::load(&data_dir.join("central.toml"))?;
            let expires = kechuang_central::init::renew(&config, &node, &dir, valid_days)?;
            println!("renewed {node}: its certificate in {} is valid until {}", dir.display(), expires.in_china());
            Ok(())
        }
        Command::Revoke { data_dir, node_id } => {
            let node = NodeId::parse("node-id", &node_id)?;
            let config = Config::load(&data_dir.join("central.toml"))?;
            let running = runtime()?.block_on(async {
                match admin(&config).await {
                    Ok(mut client) => {
                        let request = pb::RevokeRequest { node_id: node.to_string() };
                        let closed = client.revoke(request).await?.into_inner().closed_streams;
                        anyhow::Ok(Some(closed))
                    }
                    Err(_) => Ok(None),
                }
            })?;
            match running {
                Some(closed) => {
                    println!("revoked node {node}: {closed} open stream(s) closed; its connections are refused")
                }
                None => {
                    init::revoke_offline(&config, &node)?;
                    println!("revoked node {node} (central is not running; takes effect when it starts)");
                }
            }
            Ok(())
        }
        Command::Run { config, log_format } => {
            init_logging("warn,kechuang_central=info", log_format);
            let config = Config::load(&config)?;
            raise_open_files();
            runtime()?.block_on(async {
                let listeners = Listeners::bind(&config).await?;
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                run(config, listeners, shutdown).await
            })
        }
        Command::List { config, kind, node, json } => {
            let config = Config::load(&config)?;
            let (kind, node_id) = (kind.unwrap_or_default(), node.unwrap_or_default());
            // Page by page: JSON is written as each page arrives; a table
            // needs every row for its column widths.
            let mut records = Vec::new();
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut first = true;
            if json {
                write!(out, "[")?;
            }
            runtime()?.block_on(async {
                let mut client = admin(&config).await?;
                let mut after = Vec::new();
                loop {
                    let request =
                        pb::AdminListRequest { kind: kind.clone(), node_id: node_id.clone(), after, limit: 0 };
                    let page = client.list(request).await?.into_inner();
                    for record in page.records {
                        let record = Record::try_from(record)?;
                        if json {
                            let sep = if std::mem::take(&mut first) { "" } else { "," };
                            write!(out, "{sep}{}", kechuang_types::present::record_json(&record))?;
                        } else {
                            records.push(record);
                        }
                    }
                    if page.next.is_empty() {
                        return anyhow::Ok(());
                    }
                    after = page.next;
                }
            })?;
            if json {
                writeln!(out, "]")?;
            } else {
                print_records(&records, false);
            }
            out.flush()?;
            Ok(())
        }
        Command::Eval { dataset, json, rankings, today } => {
            let started = std::time::Instant::now();
            let today = match today {
                Some(date) => kechuang_types::Date::parse("today", &date)?,
                None => kechuang_types::Date::today(),
            };
            let (m, _) = kechuang_central::eval::run(&dataset, rankings.as_deref(), today)?;
            if json {
                let out = serde_json::json!({
                    "ndcg_at_10": m.ndcg_at_10, "recall_at_5": m.recall_at_5, "mrr": m.mrr, "demands": m.demands,
                });
                println!("{out}");
            } else {
                let rows = vec![
                    vec!["nDCG@10".to_owned(), format!("{:.3}", m.ndcg_at_10)],
                    vec!["recall@5".to_owned(), format!("{:.3}", m.recall_at_5)],
                    vec!["MRR".to_owned(), format!("{:.3}", m.mrr)],
                    vec!["demands".to_owned(), m.demands.to_string()],
                ];
                print!("{}", kechuang_types::present::table(&["METRIC", "VALUE"], &rows));
                eprintln!("({:.1} s)", started.elapsed().as_secs_f64());
            }
            Ok(())
        }
        Command::History { config, id, since, out, json } => history(&config, id, since, out, json),
        Command::Propose { config, demand, supply, note, operator } => {
            let request = pb::ProposeRequest {
                demand: id_bytes("demand", &demand)?,
                supply: id_bytes("supply", &supply)?,
                note,
                operator: operator_name(operator),
            };
            let record = runtime()?.block_on(async {
                let response = admin(&Config::load(&config)?).await?.propose(request).await;
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().r#match)
            })?;
            print_records(&[Record::try_from(record.context("no match in the answer")?)?], false);
            Ok(())
        }
        Command::WithdrawMatch { config, match_id, reason, operator } => {
            let request = pb::WithdrawMatchRequest {
                match_id: id_bytes("match", &match_id)?,
                reason,
                operator: operator_name(operator),
            };
            let record = runtime()?.block_on(async {
                let response = admin(&Config::load(&config)?).await?.withdraw_match(request).await;
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().r#match)
            })?;
            print_records(&[Record::try_from(record.context("no match in the answer")?)?], false);
            Ok(())
        }
        Command::Escalate { config, demand, operator } => {
            let request =
                pb::EscalateRequest { demand: id_bytes("demand", &demand)?, operator: operator_name(operator) };
            let matches = runtime()?.block_on(async {
                let response = admin(&Config::load(&config)?).await?.escalate(request).await;
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().matches)
            })?;
            let records: Vec<Record> = matches.into_iter().map(Record::try_from).collect::<Result<_, _>>()?;
            println!("escalated: {} new proposal(s)", records.len());
            print_records(&records, false);
            Ok(())
        }
        Command::Stats { config, province, node, args } => {
            let request = pb::StatsRequest {
                by: args.by.clone().unwrap_or_default(),
                from: args.from.clone().unwrap_or_default(),
                to: args.to.clone().unwrap_or_default(),
                province: province.unwrap_or_default(),
                node_id: node.unwrap_or_default(),
            };
            let json = runtime()?.block_on(async {
                let response = admin(&Config::load(&config)?).await?.stats(request).await;
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().report_json)
            })?;
            args.emit(&serde_json::from_str(&json).context("central's report")?)?;
            Ok(())
        }
        Command::Rankings { config, year, json, xlsx } => {
            let request = pb::RankingsRequest { year: year.unwrap_or(0) };
            let text = runtime()?.block_on(async {
                let response = admin(&Config::load(&config)?).await?.rankings(request).await;
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().rankings_json)
            })?;
            let rankings: kechuang_stats::Rankings = serde_json::from_str(&text).context("central's rankings")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rankings)?);
            } else if let Some(path) = xlsx {
                kechuang_stats::rankings_xlsx(&rankings, &path)?;
                eprintln!("wrote {} ({} lists)", path.display(), rankings.lists.len());
            } else {
                print!("{}", kechuang_stats::rankings_table(&rankings));
            }
            Ok(())
        }
        Command::Nodes { config, json } => {
            let config = Config::load(&config)?;
            let nodes = runtime()?.block_on(async {
                let mut client = admin(&config).await?;
                anyhow::Ok(client.nodes(pb::NodesRequest {}).await?.into_inner().nodes)
            })?;
            if json {
                let rows: Vec<_> = nodes
                    .iter()
                    .map(|n| serde_json::json!({"node_id": n.node_id, "kind": n.kind, "region": n.region, "acked_seq": n.acked_seq, "connected": n.connected, "connections": n.connections, "revoked": n.revoked, "last_seen": (!n.last_seen.is_empty()).then_some(&n.last_seen), "certificate_expires": (!n.certificate_expires.is_empty()).then_some(&n.certificate_expires), "fields": n.fields}))
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                let rows: Vec<Vec<String>> = nodes
                    .into_iter()
                    .map(|n| {
                        vec![
                            n.node_id,
                            n.kind,
                            kechuang_types::Region::parse("region", &n.region)
                                .map_or(n.region, kechuang_types::present::region_cell),
                            n.acked_seq.to_string(),
                            n.connected.to_string(),
                            n.connections.to_string(),
                            if n.connected {
                                "now".to_owned()
                            } else if n.last_seen.is_empty() {
                                "never".to_owned()
                            } else {
                                n.last_seen
                            },
                            n.certificate_expires
                                .parse::<kechuang_types::Timestamp>()
                                .map_or_else(|_| "-".to_owned(), |t| t.in_china()[..10].to_owned()),
                            n.revoked.to_string(),
                        ]
                    })
                    .collect();
                let header = [
                    "NODE",
                    "KIND",
                    "REGION",
                    "ACKED",
                    "CONNECTED",
                    "CONNECTIONS",
                    "LAST SEEN",
                    "CERT EXPIRES",
                    "REVOKED",
                ];
                print!("{}", kechuang_types::present::table(&header, &rows));
            }
            Ok(())
        }
    }
}

fn print_records(records: &[Record], json: bool) {
    if json {
        let rows: Vec<_> = records.iter().map(kechuang_types::present::record_json).collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        print!("{}", kechuang_types::present::records_table(records, kechuang_types::Lang::from_env()));
    }
}

/// A record id as the admin API takes it, naming `field`.
fn id_bytes(field: &str, text: &str) -> anyhow::Result<Vec<u8>> {
    Ok(RecordId::parse(field, text)?.as_bytes().to_vec())
}

/// The operator the history credits: as given, else the login name.
fn operator_name(given: Option<String>) -> String {
    given.or_else(|| std::env::var("USER").ok()).filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "operator".into())
}

/// `history`: prints or exports the events central recorded.
fn history(
    config: &Path,
    id: Option<String>,
    since: Option<String>,
    out: Option<PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let record_id = id.map(|id| RecordId::parse("id", &id)).transpose()?;
    let since_ms = match since {
        // Midnight in China, as a UTC instant.
        Some(day) => kechuang_types::Date::parse("since", &day)?.days_since_epoch() * 86_400_000 - 8 * 3_600_000,
        None => 0,
    };
    let request =
        pb::HistoryRequest { record_id: record_id.map(|id| id.as_bytes().to_vec()).unwrap_or_default(), since_ms };
    let events = runtime()?.block_on(async {
        let mut client = admin(&config).await?;
        let mut stream = client.history(request).await?.into_inner();
        let (mut events, mut reported) = (Vec::new(), 0);
        while let Some(batch) = stream.message().await? {
            events.extend(batch.events);
            // A long export shows its progress every 10,000 events.
            if out.is_some() && events.len() / 10_000 > reported {
                reported = events.len() / 10_000;
                eprintln!("read {} events", events.len());
            }
        }
        anyhow::Ok(events)
    })?;
    let line = |e: &pb::HistoryEvent| {
        let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null);
        let record = <[u8; 16]>::try_from(e.record.as_slice()).map(RecordId::from_bytes).map(|id| id.to_string());
        serde_json::json!({
            "seq": e.seq, "record": record.unwrap_or_default(), "kind": e.kind, "part": e.part,
            "from": value(&e.from), "to": value(&e.to), "by": e.by, "version": e.version,
            "at": kechuang_types::Timestamp(e.at_ms).to_string(),
        })
    };
    if let Some(out) = out {
        let text: String = events.iter().map(|e| format!("{}\n", line(e))).collect();
        kechuang_pki::write_public(&out, text.as_bytes())?;
        println!("exported {} events to {}", events.len(), out.display());
    } else if json {
        println!("{}", serde_json::Value::Array(events.iter().map(line).collect()));
    } else {
        use kechuang_types::present::describe_value;
        let short = |text: &str| kechuang_types::present::truncate(text, 48);
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|e| {
                let record = <[u8; 16]>::try_from(e.record.as_slice())
                    .map(|b| RecordId::from_bytes(b).to_string())
                    .unwrap_or_default();
                vec![
                    e.seq.to_string(),
                    kechuang_types::Timestamp(e.at_ms).in_china(),
                    record,
                    e.part.clone(),
                    short(&describe_value(&e.from)),
                    short(&describe_value(&e.to)),
                    e.by.clone(),
                ]
            })
            .collect();
        print!("{}", kechuang_types::present::table(&["SEQ", "AT", "RECORD", "PART", "FROM", "TO", "BY"], &rows));
    }
    Ok(())
}

/// Central holds one connection per node: lift the soft open-file limit to the hard one.
fn raise_open_files() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => tracing::debug!(from = soft, to = hard, "raised the open-file limit"),
            Err(e) => tracing::warn!(limit = soft, error = %e, "could not raise the open-file limit"),
        }
    }
}
