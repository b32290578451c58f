//! `kechuang-node`: a station's daemon and the operator's verbs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use kechuang_daemon::{LogFormat, init_logging, runtime, stop_on_signal};
use kechuang_interchange as import;
use kechuang_node::api::PUBLISH_BATCH;
use kechuang_node::{Config, run};
use kechuang_pki::PresentToken;
use kechuang_proto::draft_to_wire;
use kechuang_proto::pb::{self, operator_client::OperatorClient};
use kechuang_types::present::{record_json, records_table, table};
use kechuang_types::{Body, Lang, Record, RecordKind, limits};
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// mimalloc rather than glibc's malloc, which keeps a heap arena per busy
/// thread (see central's main).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kechuang node: a station of the 科创中国 network.
#[derive(Parser)]
#[command(name = "kechuang-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node daemon.
    Run {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// Log lines as text or as JSON objects.
        #[arg(long, value_enum, default_value_t)]
        log_format: LogFormat,
    },
    /// Publish demands, outcomes and experts from JSON, JSON Lines, CSV or XLSX files.
    Publish {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// Files to import (.json, .jsonl, .csv, .xlsx).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// List what this node holds: demands, outcomes, experts, matches or
    /// bids; or `refused`, the changes central refused and why.
    List {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// demands, outcomes, experts, matches, bids or refused; all records when omitted.
        kind: Option<String>,
        /// Include withdrawn records.
        #[arg(long)]
        withdrawn: bool,
        /// Stable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Answer a match for this node's side: accept, decline (with a reason),
    /// contracted (with the contract's type and amount) or landed (the
    /// landing city node, with the date).
    Respond {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The match's id (from `list matches`).
        match_id: String,
        /// accept, decline, contracted or landed.
        action: String,
        /// decline: 技术不匹配, 成熟度不足, 价格, 已有方案, 时机不合适 or 其他.
        #[arg(long)]
        reason: Option<String>,
        /// decline, landed: a note in your own words.
        #[arg(long)]
        note: Option<String>,
        /// contracted: 技术开发, 技术转让, 技术许可, 技术咨询, 技术服务 or 作价入股.
        #[arg(long = "type")]
        contract_type: Option<String>,
        /// contracted: the contract's amount in 万元.
        #[arg(long)]
        amount: Option<f64>,
        /// landed: the day it landed, YYYY-MM-DD [default: today in China].
        #[arg(long)]
        date: Option<String>,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw one of this node's demands, outcomes, experts or bids: it
    /// leaves every other node's lists and its open proposals are withdrawn.
    Withdraw {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The record's id or your own reference (需求编号, 成果编号).
        id: String,
        /// solved, licensed, cancelled or other (or 已解决, 已转让或许可, 已取消, 其他).
        #[arg(long)]
        reason: String,
        /// A note in your own words.
        #[arg(long)]
        note: Option<String>,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Bid on an open challenge (揭榜挂帅) with this node's outcomes or experts.
    Bid {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The challenge demand's id.
        demand_id: String,
        /// What you propose.
        #[arg(long)]
        proposal: String,
        /// An outcome offered: its id or your own reference (repeatable).
        #[arg(long = "outcome")]
        outcomes: Vec<String>,
        /// An expert offered: id or reference (repeatable).
        #[arg(long = "expert")]
        experts: Vec<String>,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Search the national catalogue at central, as this node may see it:
    /// open demands (universities and societies: nationwide), outcomes and
    /// experts; never contacts.
    Search {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The words to look for.
        text: String,
        /// demands, outcomes or experts [default: demands for a university
        /// or society, outcomes otherwise].
        kind: Option<String>,
        /// An industry code or its prefix (C38, C).
        #[arg(long)]
        industry: Option<String>,
        /// A region: a code or its prefix (44, 4403), or a name (广东, 深圳市).
        #[arg(long)]
        region: Option<String>,
        /// At most this many hits.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Stable JSON lines ({"score", "record"}) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Offer this node's outcome or expert for a demand (主动对接): central
    /// proposes the match to the demand's owner, its city and both
    /// provincial stations, and it follows the usual lifecycle.
    Interest {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The demand's id (from `search`).
        demand_id: String,
        /// This node's outcome: its id or reference.
        #[arg(long, conflicts_with = "expert", required_unless_present = "expert")]
        outcome: Option<String>,
        /// This node's expert: id or reference.
        #[arg(long)]
        expert: Option<String>,
        /// Why this node can solve it, for the demand's side.
        #[arg(long, default_value = "")]
        note: String,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Assess a demand, outcome or challenge bid of this society's fields
    /// (专业评估): it travels to the subject's owner, a bid's challenge
    /// owner and the provincial station. Assessing a subject again revises
    /// the assessment.
    Assess {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The demand's, outcome's or bid's id.
        subject: String,
        /// 先进性,成熟度,市场前景,风险: four scores of 1-5, e.g. 4,3,4,2.
        #[arg(long, value_delimiter = ',')]
        scores: Vec<u32>,
        /// 推荐, 有条件推荐 or 不推荐.
        #[arg(long)]
        verdict: String,
        /// Who assessed: the society's expert or panel.
        #[arg(long)]
        evaluator: String,
        /// The assessment in words.
        #[arg(long)]
        text: String,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Service teams (服务团): publish one of this node's, or answer for
    /// this node's experts in another node's.
    Team {
        /// Path to node.toml.
        #[arg(long, global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: TeamAction,
        /// Stable JSON instead of a summary.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Award a bid on one of this node's challenges; the other bids are not chosen.
    Award {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// The bid's id (from `list bids`).
        bid_id: String,
        /// Stable JSON instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Write the demands, outcomes and experts this node holds to a file in
    /// the interchange format (.json, .jsonl or .csv), ready for `publish`
    /// or a spreadsheet.
    Export {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// demands, outcomes or experts; all three when omitted.
        kind: Option<String>,
        /// The file to write; its extension picks the format.
        #[arg(long)]
        out: PathBuf,
        /// Only this node's own records (without it, everything it holds,
        /// e.g. a provincial station's whole province).
        #[arg(long)]
        own: bool,
    },
    /// Write an empty workbook to fill in: sheets 需求, 成果 and 专家 with
    /// Chinese headings, an example row each and drop-down lists.
    Template {
        /// The workbook to write (.xlsx).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the web console's address, with the operator token to sign in
    /// once (the browser keeps it).
    Console {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Print what happens as it happens: new proposals, state changes of
    /// this node's matches, refusals, new challenges and bids on yours.
    Watch {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// One JSON object per line (the fields `notify_url` receives).
        #[arg(long)]
        json: bool,
    },
    /// Show sync state, counts and digest.
    Status {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        /// Stable JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// This station's figures (考核评估), computed by central: a provincial
    /// station's whole province, any other station its own.
    Stats {
        /// Path to node.toml.
        #[arg(long)]
        config: PathBuf,
        #[command(flatten)]
        args: kechuang_stats::StatsArgs,
    },
}

/// What `kechuang-node team` does.
#[derive(Subcommand)]
enum TeamAction {
    /// Publish a team of this node (publishing the same name again revises it).
    Publish(TeamArgs),
    /// Accept membership of another node's team for this node's experts it lists.
    Accept {
        /// The team's id (from `list teams`).
        team_id: String,
    },
    /// Decline (or leave) another node's team for this node's experts.
    Decline {
        /// The team's id.
        team_id: String,
    },
}

/// What `team publish` takes.
#[derive(clap::Args)]
struct TeamArgs {
    /// The team's name.
    #[arg(long)]
    name: String,
    /// What the team does.
    #[arg(long, default_value = "")]
    description: String,
    /// This node's expert who leads it: id or reference.
    #[arg(long)]
    lead: String,
    /// A further member (repeatable): this node's expert, or another
    /// node's as NODE:ID (the id from `search … experts`).
    #[arg(long = "member")]
    members: Vec<String>,
    /// Fields of expertise, comma-separated [default: the lead's].
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Further keywords, comma-separated.
    #[arg(long, value_delimiter = ',')]
    keywords: Vec<String>,
    /// Cities or provinces served (codes or names), comma-separated; anywhere when omitted.
    #[arg(long, value_delimiter = ',')]
    cities: Vec<String>,
    /// Industry codes served (C38 covers C3841), comma-separated; any when omitted.
    #[arg(long, value_delimiter = ',')]
    industries: Vec<String>,
    /// Service modes (技术咨询, 现场指导, 评估评审, 联合攻关, 培训), comma-separated.
    #[arg(long, value_delimiter = ',')]
    modes: Vec<String>,
}

impl From<TeamArgs> for pb::PublishTeamRequest {
    fn from(t: TeamArgs) -> Self {
        pb::PublishTeamRequest {
            name: t.name,
            description: t.description,
            lead: t.lead,
            members: t.members,
            fields: t.fields,
            keywords: t.keywords,
            cities: t.cities,
            industries: t.industries,
            service_modes: t.modes,
        }
    }
}

/// Prints the record an act returned: stable JSON, or `said` for people.
fn print_acted(
    record: Option<pb::Record>,
    what: &str,
    json: bool,
    said: impl Fn(&Record) -> String,
) -> anyhow::Result<()> {
    let record = Record::try_from(record.with_context(|| format!("no {what} in the answer"))?)?;
    if json {
        println!("{}", record_json(&record));
    } else {
        println!("{}", said(&record));
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run_cli(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let lang = Lang::from_env();
            eprintln!("{}: {}", lang.say("error"), lang.error(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<()> {
    let lang = Lang::from_env();
    match cli.command {
        Command::Run { config, log_format } => {
            init_logging("warn,kechuang_node=info", log_format);
            let config = Config::load(&config)?;
            runtime()?.block_on(async {
                let api = tokio::net::TcpListener::bind(config.api_listen)
                    .await
                    .with_context(|| format!("api_listen: binding {}", config.api_listen))?;
                let console = match config.console_listen {
                    Some(addr) => Some(
                        tokio::net::TcpListener::bind(addr)
                            .await
                            .with_context(|| format!("console_listen: binding {addr}"))?,
                    ),
                    None => None,
                };
                let shutdown = CancellationToken::new();
                tokio::spawn(stop_on_signal(shutdown.clone()));
                run(config, api, console, shutdown).await
            })
        }
        Command::Publish { config, files, json } => publish(&config, &files, json, lang),
        Command::Export { config, kind, out, own } => export(&config, kind.as_deref(), &out, own, lang),
        Command::Watch { config, json } => watch(&config, json),
        Command::Console { config } => {
            let lang = Lang::from_env();
            let config = Config::load(&config)?;
            let ready = std::fs::read_to_string(config.ready_file()).with_context(|| {
                format!(
                    "node {} {}",
                    config.id,
                    lang.say("is not running: start it with `kechuang-node run --config …`")
                )
            })?;
            let ready: serde_json::Value = serde_json::from_str(&ready).context("reading ready.json")?;
            let addr = ready["console"].as_str().context("console_listen: the console is off in node.toml")?;
            let token = std::fs::read_to_string(config.token_file())
                .with_context(|| format!("reading the operator token {}", config.token_file().display()))?;
            println!("http://{addr}/?token={}", token.trim());
            Ok(())
        }
        Command::Template { out } => {
            if !out.extension().is_some_and(|e| e.eq_ignore_ascii_case("xlsx")) {
                bail!("--out: the template is a workbook: name it .xlsx");
            }
            let book = import::write_template().map_err(|e| anyhow::anyhow!("--out: {e}"))?;
            kechuang_pki::write_public(&out, &book)?;
            println!("{} {}", Lang::from_env().say("wrote the template"), out.display());
            Ok(())
        }
        Command::List { config, kind, json, .. } if kind.as_deref().is_some_and(|k| k.trim() == "refused") => {
            list_refused(&config, json, lang)
        }
        Command::List { config, kind, withdrawn, json } => {
            let kind = kind.map(|k| RecordKind::parse("kind", &k)).transpose()?;
            let records: Vec<Record> =
                list(&config, kind)?.into_iter().filter(|r| withdrawn || !r.meta.deleted).collect();
            if kind == Some(RecordKind::Expert) {
                let mut engaging = list(&config, Some(RecordKind::Match))?;
                engaging.extend(list(&config, Some(RecordKind::Team))?);
                let loads = kechuang_types::present::loads(&engaging);
                if json {
                    let rows = records.iter().map(|r| {
                        let mut row = record_json(r);
                        row["load"] = loads.get(&r.meta.id).copied().unwrap_or(0).into();
                        row
                    });
                    println!("{}", serde_json::Value::Array(rows.collect()));
                } else {
                    print!("{}", kechuang_types::present::experts_table(&records, &loads, lang));
                }
                return Ok(());
            }
            // A subject's assessments (专业评估) come with it: a challenge's
            // owner reads them before awarding.
            let assessed = matches!(kind, Some(RecordKind::Bid | RecordKind::Demand | RecordKind::Outcome));
            let held = if assessed { list(&config, Some(RecordKind::Assessment))? } else { Vec::new() };
            if json {
                let rows = records.iter().map(|r| {
                    let mut row = record_json(r);
                    if assessed {
                        let of: Vec<_> = kechuang_types::present::assessments_of(std::slice::from_ref(r), &held)
                            .into_iter()
                            .map(record_json)
                            .collect();
                        row["assessments"] = of.into();
                    }
                    row
                });
                println!("{}", serde_json::Value::Array(rows.collect()));
            } else {
                print!("{}", records_table(&records, lang));
                let of = kechuang_types::present::assessments_of(&records, &held);
                if !of.is_empty() {
                    println!();
                    print!("{}", kechuang_types::present::assessments_table(&of, lang));
                }
            }
            Ok(())
        }
        Command::Respond { config, match_id, action, reason, note, contract_type, amount, date, json } => {
            let record = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let request = pb::RespondRequest {
                    match_id,
                    action,
                    reason: reason.unwrap_or_default(),
                    note: note.unwrap_or_default(),
                    contract_type: contract_type.unwrap_or_default(),
                    amount_wan: amount,
                    date: date.unwrap_or_default(),
                };
                let response = api.respond(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                anyhow::Ok(response.into_inner().r#match.context("no match in the answer")?)
            })?;
            let record = Record::try_from(record)?;
            if json {
                println!("{}", record_json(&record));
            } else {
                print!("{}", records_table(std::slice::from_ref(&record), lang));
            }
            Ok(())
        }
        Command::Withdraw { config, id, reason, note, json } => {
            let record = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let request = pb::WithdrawRequest { id, reason, note: note.unwrap_or_default() };
                let response = api.withdraw(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                anyhow::Ok(response.into_inner().record.context("no record in the answer")?)
            })?;
            let record = Record::try_from(record)?;
            if json {
                println!("{}", record_json(&record));
            } else {
                match lang {
                    Lang::Zh => {
                        println!("已撤回{} {}（{}）", lang.say(record.kind().as_str()), record.meta.id, record.title())
                    }
                    Lang::En => println!("withdrew {} {} ({})", record.kind(), record.meta.id, record.title()),
                }
            }
            Ok(())
        }
        Command::Bid { config, demand_id, proposal, outcomes, experts, json } => {
            let record = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let request = pb::BidRequest { demand_id, proposal, outcomes, experts };
                let response = api.bid(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                anyhow::Ok(response.into_inner().bid)
            })?;
            print_acted(record, "bid", json, |r| match lang {
                Lang::Zh => format!("已提交揭榜方案 {}", r.meta.id),
                Lang::En => format!("bid {} submitted", r.meta.id),
            })
        }
        Command::Search { config, text, kind, industry, region, limit, json } => {
            let hits = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let kind = match kind {
                    Some(kind) => kind,
                    None => {
                        let status = api.status(pb::StatusRequest {}).await?.into_inner();
                        let supply_side = matches!(status.kind.as_str(), "university" | "society");
                        (if supply_side { "demands" } else { "outcomes" }).to_owned()
                    }
                };
                let request = pb::SearchRequest {
                    text,
                    kind,
                    industry: industry.unwrap_or_default(),
                    region: region.unwrap_or_default(),
                    limit,
                };
                let response = api.search(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                anyhow::Ok(response.into_inner().hits)
            })?;
            let hits = hits
                .into_iter()
                .map(|h| Ok((Record::try_from(h.record.context("a hit without its record")?)?, h.score)))
                .collect::<anyhow::Result<Vec<(Record, f64)>>>()?;
            if json {
                for (record, score) in &hits {
                    println!("{}", serde_json::json!({"score": score, "record": record_json(record)}));
                }
            } else {
                print!("{}", kechuang_types::present::hits_table(&hits, lang));
            }
            Ok(())
        }
        Command::Interest { config, demand_id, outcome, expert, note, json } => {
            let supply = outcome.or(expert).context("--outcome or --expert: the outcome or expert offered")?;
            let record = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let request = pb::InterestRequest { demand_id, supply, note };
                let response = api.interest(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                anyhow::Ok(response.into_inner().r#match)
            })?;
            print_acted(record, "match", json, |r| match lang {
                Lang::Zh => format!("已提出主动对接：对接 {}", r.meta.id),
                Lang::En => format!("interest registered: match {} proposed", r.meta.id),
            })
        }
        Command::Assess { config, subject, scores, verdict, evaluator, text, json } => {
            let [advancement, maturity, market, risk] = <[u32; 4]>::try_from(scores)
                .map_err(|_| anyhow::anyhow!("scores: four scores of 1-5 (先进性,成熟度,市场前景,风险)"))?;
            let record = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let request =
                    pb::AssessRequest { subject, evaluator, advancement, maturity, market, risk, verdict, text };
                let response = api.assess(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                anyhow::Ok(response.into_inner().assessment)
            })?;
            print_acted(record, "assessment", json, |r| match lang {
                Lang::Zh => format!("已提交评估 {}", r.meta.id),
                Lang::En => format!("assessment {} written", r.meta.id),
            })
        }
        Command::Team { config, action, json } => {
            let config = config.context("--config: the node's node.toml")?;
            let record = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let response = match action {
                    TeamAction::Publish(team) => api.publish_team(pb::PublishTeamRequest::from(team)).await,
                    TeamAction::Accept { team_id } => {
                        api.answer_team(pb::AnswerTeamRequest { team_id, accept: true }).await
                    }
                    TeamAction::Decline { team_id } => {
                        api.answer_team(pb::AnswerTeamRequest { team_id, accept: false }).await
                    }
                };
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().team)
            })?;
            print_acted(record, "team", json, |r| {
                let Body::Team(t) = &r.body else { return r.meta.id.to_string() };
                let serving = t.members.iter().filter(|m| kechuang_types::Team::serves(m, &r.meta.owner)).count();
                match lang {
                    Lang::Zh => {
                        format!("服务团 {}（{}）：{} 位成员，{serving} 位在岗", t.name, r.meta.id, t.members.len())
                    }
                    Lang::En => {
                        format!("team {} ({}): {} members, {serving} serving", t.name, r.meta.id, t.members.len())
                    }
                }
            })
        }
        Command::Award { config, bid_id, json } => {
            let (record, not_chosen) = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                let response =
                    api.award(pb::AwardRequest { bid_id }).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?;
                let r = response.into_inner();
                anyhow::Ok((r.awarded.context("no bid in the answer")?, r.not_chosen))
            })?;
            let record = Record::try_from(record)?;
            if json {
                println!("{}", serde_json::json!({"awarded": record_json(&record), "not_chosen": not_chosen}));
            } else {
                match lang {
                    Lang::Zh => println!("已授予方案 {}；其余 {not_chosen} 个方案未入选", record.meta.id),
                    Lang::En => println!("bid {} awarded; {not_chosen} other bid(s) not chosen", record.meta.id),
                }
            }
            Ok(())
        }
        Command::Stats { config, args } => {
            let request = pb::StatsRequest {
                by: args.by.clone().unwrap_or_default(),
                from: args.from.clone().unwrap_or_default(),
                to: args.to.clone().unwrap_or_default(),
                ..Default::default()
            };
            let json = runtime()?.block_on(async {
                let response = connect(&config).await?.stats(request).await;
                anyhow::Ok(response.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner().report_json)
            })?;
            args.emit(&serde_json::from_str(&json).context("central's report")?)?;
            Ok(())
        }
        Command::Status { config, json } => {
            let s = runtime()?.block_on(async {
                let mut api = connect(&config).await?;
                anyhow::Ok(api.status(pb::StatusRequest {}).await?.into_inner())
            })?;
            let counts: serde_json::Map<String, serde_json::Value> = RecordKind::ALL
                .iter()
                .map(|k| (k.as_str().to_owned(), s.counts.get(k.as_str()).copied().unwrap_or(0).into()))
                .collect();
            let converged = s.unacked == 0 && !s.expected_digest.is_empty() && s.expected_digest == s.digest;
            // How far a sync has got, in records: the count each digest carries.
            let records_in = |digest: &str| digest.parse::<kechuang_sync::Digest>().ok().map(|d| d.count());
            let (held, expected) = (records_in(&s.digest), records_in(&s.expected_digest));
            let expires = s.certificate_expires.parse::<kechuang_types::Timestamp>().ok();
            let days_left = expires.map(|t| (t.0 - kechuang_types::Timestamp::now().0).div_euclid(86_400_000));
            if json {
                let out = serde_json::json!({
                    "node_id": s.node_id, "kind": s.kind, "region": s.region,
                    "connected": s.connected, "unacked": s.unacked, "counts": counts,
                    "digest": s.digest, "expected_digest": s.expected_digest, "converged": converged,
                    "acked_seq": s.acked_seq, "feed_cursor": s.feed_cursor,
                    "feed_records": s.feed_records, "feed_bytes": s.feed_bytes,
                    "pushed_records": s.pushed_records, "pushed_bytes": s.pushed_bytes,
                    "repairs": s.repairs, "repaired_records": s.repaired_records,
                    "held_records": held, "expected_records": expected,
                    "refused": s.refused, "clock_offset_ms": s.clock_offset_ms,
                    "certificate_expires": expires.map(|t| t.to_string()), "certificate_days_left": days_left,
                });
                println!("{out}");
            } else {
                let say = |text: &str| lang.tr(text);
                let counts = counts.iter().map(|(k, v)| format!("{} {v}", lang.say(k))).collect::<Vec<_>>().join(", ");
                let (held_of, changes, refused_hint) = match lang {
                    Lang::Zh => ("持有", "条修改", "条修改被中心拒绝：`kechuang-node list refused`"),
                    Lang::En => ("holds", "changes", "change(s) refused by central: `kechuang-node list refused`"),
                };
                let region = kechuang_types::Region::parse("region", &s.region)
                    .map_or_else(|_| s.region.clone(), kechuang_types::present::region_cell);
                let rows = vec![
                    vec![say("node"), format!("{} ({} {region})", s.node_id, lang.say(&s.kind))],
                    vec![say("connected"), say(&s.connected.to_string())],
                    vec![say("unacked"), s.unacked.to_string()],
                    vec![say("records"), counts],
                    vec![say("digest"), s.digest.clone()],
                    vec![
                        say("central says"),
                        if s.expected_digest.is_empty() { say("(not known yet)") } else { s.expected_digest.clone() },
                    ],
                    vec![say("converged"), say(&converged.to_string())],
                    vec![
                        say("sync"),
                        match (held, expected) {
                            _ if converged => say("complete"),
                            (Some(held), Some(expected)) => match lang {
                                Lang::Zh => format!("{held_of} {held} / {expected} 条（中心应有）"),
                                Lang::En => {
                                    format!("{held_of} {held} of the {expected} records central says it should")
                                }
                            },
                            _ => say("(waiting for central)"),
                        },
                    ],
                    vec![say("received"), format!("{} records, {} bytes", s.feed_records, s.feed_bytes)],
                    vec![say("pushed"), format!("{} {changes}, {} bytes", s.pushed_records, s.pushed_bytes)],
                    vec![say("repaired"), format!("{} records in {} repairs", s.repaired_records, s.repairs)],
                    vec![
                        say("refused"),
                        match s.refused {
                            0 => say("none"),
                            n => format!("{n} {refused_hint}"),
                        },
                    ],
                    vec![say("clock"), format!("{:+} ms against central's", s.clock_offset_ms)],
                    vec![
                        say("certificate"),
                        match (expires, days_left) {
                            (Some(t), Some(days)) if days <= kechuang_node::daemon::RENEW_WITHIN_DAYS => {
                                let day = &t.in_china()[..10];
                                match lang {
                                    Lang::Zh => {
                                        format!("{day}，{days} 天后到期：请全国办公室续期（kechuang-central renew）")
                                    }
                                    Lang::En => format!(
                                        "{day}, in {days} days: ask the national office to renew it (kechuang-central renew)"
                                    ),
                                }
                            }
                            (Some(t), _) => t.in_china()[..10].to_owned(),
                            _ => "-".into(),
                        },
                    ],
                ];
                print!("{}", table(&["", ""], &rows).lines().skip(1).map(|l| format!("{l}\n")).collect::<String>());
            }
            Ok(())
        }
    }
}

/// The records of `kind` (all kinds when `None`) the running node holds.
fn list(config: &Path, kind: Option<RecordKind>) -> anyhow::Result<Vec<Record>> {
    let records = runtime()?.block_on(async {
        let mut api = connect(config).await?;
        let kind = kind.map(|k| k.as_str().to_owned()).unwrap_or_default();
        anyhow::Ok(api.list(pb::ListRequest { kind }).await?.into_inner().records)
    })?;
    Ok(records.into_iter().map(Record::try_from).collect::<Result<_, _>>()?)
}

/// `list refused`: what central refused of this node's changes, and why.
fn list_refused(config: &Path, json: bool, lang: Lang) -> anyhow::Result<()> {
    let refusals = runtime()?.block_on(async {
        let mut api = connect(config).await?;
        anyhow::Ok(api.refusals(pb::RefusalsRequest {}).await?.into_inner().refusals)
    })?;
    let id = |bytes: &[u8]| {
        <[u8; 16]>::try_from(bytes).map(|b| kechuang_types::RecordId::from_bytes(b).to_string()).unwrap_or_default()
    };
    if json {
        let rows: Vec<_> = refusals
            .iter()
            .map(|r| {
                serde_json::json!({"seq": r.seq, "at": r.at, "id": id(&r.id), "kind": r.kind, "title": r.title,
                    "field": r.field, "reason": r.reason, "restored": r.restored})
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = refusals
        .iter()
        .map(|r| {
            let at = r.at.parse::<kechuang_types::Timestamp>().map_or_else(|_| r.at.clone(), |t| t.in_china());
            vec![
                at,
                lang.tr(&r.kind),
                kechuang_types::present::truncate(&r.title, 30),
                r.field.clone(),
                lang.tr(&r.reason),
                id(&r.id),
            ]
        })
        .collect();
    let header = ["WHEN", "KIND", "TITLE", "FIELD", "REASON", "RECORD"].map(|h| lang.tr(h));
    print!("{}", table(&header.iter().map(String::as_str).collect::<Vec<_>>(), &rows));
    Ok(())
}

fn export(config: &Path, kind: Option<&str>, out: &Path, own: bool, lang: Lang) -> anyhow::Result<()> {
    let kind = kind.map(|k| RecordKind::parse("kind", k)).transpose()?;
    if let Some(k) = kind
        && !matches!(k, RecordKind::Demand | RecordKind::Outcome | RecordKind::Expert)
    {
        bail!("kind: only demands, outcomes and experts are exported (got {})", k.as_str());
    }
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let write: fn(&[import::KindRow]) -> Result<Vec<u8>, String> = match ext.as_str() {
        "json" => |rows| Ok(import::write_json(rows).into_bytes()),
        "jsonl" | "ndjson" => |rows| Ok(import::write_jsonl(rows).into_bytes()),
        "csv" => |rows| Ok(import::write_csv(rows).into_bytes()),
        "xlsx" => import::write_xlsx,
        other => bail!("--out: unknown file type {other:?}: use .json, .jsonl, .csv or .xlsx"),
    };
    let me = Config::load(config)?.id;
    let records = list(config, kind)?;
    let rows = import::rows_of(records.iter().filter(|r| !own || r.meta.owner == me));
    // Atomic: a reader never sees half a file.
    kechuang_pki::write_public(out, &write(&rows).map_err(|e| anyhow::anyhow!("--out: {e}"))?)?;
    let count = |k: RecordKind| rows.iter().filter(|(kind, _)| *kind == k).count();
    let (demands, outcomes, experts) =
        (count(RecordKind::Demand), count(RecordKind::Outcome), count(RecordKind::Expert));
    match lang {
        Lang::Zh => println!("已导出 需求 {demands}、成果 {outcomes}、专家 {experts} 到 {}", out.display()),
        Lang::En => println!("exported demands {demands}, outcomes {outcomes}, experts {experts} to {}", out.display()),
    }
    Ok(())
}

fn publish(config: &Path, files: &[PathBuf], json: bool, lang: Lang) -> anyhow::Result<()> {
    // Each draft with where it came from, for reporting problems.
    let mut drafts = Vec::new();
    let mut bad = 0;
    for file in files {
        let reading = import::read_file(file);
        for w in &reading.warnings {
            match lang {
                Lang::Zh => eprintln!("{}：警告：{}", file.display(), w.zh()),
                Lang::En => eprintln!("{}: warning: {w}", file.display()),
            }
        }
        for e in &reading.errors {
            eprintln!("{}: {}", file.display(), e.say(lang));
        }
        bad += reading.errors.len();
        drafts.extend(reading.drafts.into_iter().enumerate().map(|(i, d)| (file, i, d)));
    }
    if bad > 0 {
        bail!("{bad} {}", lang.say("bad row(s): nothing was published"));
    }
    let total = drafts.len();
    let started = Instant::now();
    let (mut created, mut updated, mut unchanged, mut withdrawn) = (0u64, 0u64, 0u64, 0u64);
    let labels: Vec<String> = drafts
        .iter()
        .map(|(file, i, d)| match &d.external_id {
            Some(ext) => format!("{}: record {} ({ext})", file.display(), i + 1),
            None => format!("{}: record {}", file.display(), i + 1),
        })
        .collect();
    let wire: Vec<pb::Draft> = drafts.into_iter().filter_map(|(_, _, d)| draft_to_wire(d)).collect();
    // At most PUBLISH_BATCH rows and half a message per call.
    let chunks = kechuang_proto::split_by_size(wire, PUBLISH_BATCH, limits::MESSAGE_BYTES / 2);
    runtime()?.block_on(async {
        let mut api = connect(config).await?;
        // First the node checks every row (its area, deadlines), storing
        // nothing, so a file is published whole or not at all.
        let mut problems = 0;
        let mut first = 0;
        for chunk in &chunks {
            let request = pb::PublishRequest { drafts: chunk.clone(), check_only: true };
            let r = api.publish(request).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner();
            for p in &r.problems {
                eprintln!("{}: {}: {}", labels[first + p.index as usize], p.field, p.reason);
            }
            problems += r.problems.len();
            first += chunk.len();
        }
        if problems > 0 {
            bail!("{problems} {}", lang.say("problem(s) in the rows: nothing was published"));
        }
        let mut done = 0;
        for chunk in chunks {
            let count = chunk.len();
            let r = api
                .publish(pb::PublishRequest { drafts: chunk, check_only: false })
                .await
                .map_err(|s| anyhow::anyhow!("{}", s.message()))?
                .into_inner();
            if let Some(p) = r.problems.first() {
                bail!("{}: {}: {}", labels[done + p.index as usize], p.field, p.reason);
            }
            created += u64::from(r.created);
            updated += u64::from(r.updated);
            unchanged += u64::from(r.unchanged);
            withdrawn += u64::from(r.withdrawn);
            done += count;
            if total > PUBLISH_BATCH && !json {
                eprintln!("published {done}/{total}");
            }
        }
        anyhow::Ok(())
    })?;
    if json {
        println!(
            "{}",
            serde_json::json!({"rows": total, "created": created, "updated": updated, "unchanged": unchanged,
                "withdrawn": withdrawn})
        );
    } else {
        let secs = started.elapsed().as_secs_f64();
        match lang {
            Lang::Zh => println!(
                "共 {total} 行：新增 {created}，更新 {updated}，撤回 {withdrawn}，未变 {unchanged}（{secs:.1} 秒）"
            ),
            Lang::En => println!(
                "{total} rows: {created} created, {updated} updated, {withdrawn} withdrawn, {unchanged} unchanged ({secs:.1} s)"
            ),
        }
    }
    Ok(())
}

/// `watch`: one line per event until the node stops.
fn watch(config: &Path, json: bool) -> anyhow::Result<()> {
    let lang = Lang::from_env();
    let node = Config::load(config)?.id;
    runtime()?.block_on(async {
        let mut api = connect(config).await?;
        let mut events =
            api.watch(pb::WatchRequest {}).await.map_err(|s| anyhow::anyhow!("{}", s.message()))?.into_inner();
        eprintln!("{}", lang.say("watching: events are printed as they come (Ctrl-C stops)"));
        while let Some(e) = events.message().await? {
            let event = kechuang_node::events::Event {
                seq: e.seq,
                kind: kechuang_node::events::kind_of(&e.kind),
                at: e.at,
                record: e.record,
                title: e.title,
                state: e.state,
                detail: e.detail,
            };
            if json {
                println!("{}", event.json(&node));
            } else {
                println!("{}", event.line(lang));
            }
        }
        anyhow::bail!("{}", lang.say("the node stopped"))
    })
}

type Api = OperatorClient<InterceptedService<Channel, PresentToken>>;

async fn connect(config: &Path) -> anyhow::Result<Api> {
    let config = Config::load(config)?;
    let ready = std::fs::read_to_string(config.ready_file())
        .with_context(|| format!("node {} is not running: start it with `kechuang-node run --config …`", config.id))?;
    let ready: serde_json::Value = serde_json::from_str(&ready).context("reading ready.json")?;
    let addr = ready["api"].as_str().context("ready.json has no api address")?;
    let token_file = config.token_file();
    let authorize = PresentToken::read(&token_file)
        .with_context(|| format!("reading the operator token {} (run as the node's operator)", token_file.display()))?;
    let channel = Channel::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .with_context(|| format!("node {} is not answering at {addr}", config.id))?;
    Ok(OperatorClient::with_interceptor(channel, authorize).max_decoding_message_size(256 * 1024 * 1024))
}
