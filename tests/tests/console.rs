//! The station console in headless Chromium, as association staff use it,
//! and being told: `watch` and `notify_url`.
//!
//! A workbook with a bad row is uploaded from the page: the report names
//! the sheet, the row and every bad field, warns of the misspelt column, and
//! nothing is published. The fixed workbook is published from the page.
//! The proposal that follows reaches `watch --json` and a local HTTP
//! receiver within a second of reaching the node; it is accepted from the
//! page and its state changes at central; the other side's answer reaches
//! the receiver after the receiver first refuses it (the POST is retried).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::rows::{battery_challenge, battery_demand, battery_outcome, demand};
use common::{SETTLE, console};
use kechuang_testkit::{Browser, Cluster, Page, eventually};
use kechuang_types::RecordKind;
use serde_json::{Value, json};

/// A workbook of demand rows on a sheet 需求, as `export --out x.xlsx` writes one.
fn workbook(rows: &[Value]) -> Vec<u8> {
    let rows: Vec<_> = rows.iter().map(|r| (RecordKind::Demand, r.as_object().cloned().unwrap_or_default())).collect();
    kechuang_interchange::write_xlsx(&rows).expect("a workbook")
}

/// Uploads `bytes` as `name` from the page's own upload script and waits for the report.
fn upload(page: &mut Page, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let array: Vec<String> = bytes.iter().map(u8::to_string).collect();
    page.eval("document.getElementById('report').innerHTML = ''")?;
    page.eval(&format!("check(new File([new Uint8Array([{}])], {name:?})).then(() => true)", array.join(",")))?;
    page.wait_for("document.getElementById('verdict')", Duration::from_secs(30))
}

/// A POST the receiver got: when, its JSON body, and whether it was taken (200).
type Post = (Instant, Value, bool);

/// A local HTTP receiver for `notify_url`: answers the first `refuse` POSTs
/// with 503 and the rest with 200; every body it took arrives on the channel.
fn receiver(refuse: usize) -> anyhow::Result<(String, mpsc::Receiver<Post>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (sender, bodies) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = 0;
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            seen += 1;
            let taken = seen > refuse;
            let status = if taken { "200 OK" } else { "503 Service Unavailable" };
            let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = reader.get_mut().write_all(answer.as_bytes());
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if sender.send((Instant::now(), value, taken)).is_err() {
                return;
            }
        }
    });
    Ok((url, bodies))
}

#[test]
fn staff_upload_fix_publish_and_accept_from_the_console_and_are_told() -> anyhow::Result<()> {
    let browser = Browser::find()?;
    let mut cluster = Cluster::start()?;
    let (hook, posts) = receiver(0)?;
    cluster.add_stopped_node("sz", "city", "440300")?.set("notify_url", &format!("\"{hook}\""))?;
    cluster.node("sz").start()?;
    cluster.add_node("gzu", "university", "440100")?;
    let rows = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let watch = cluster.node("sz").watch()?;

    // Only with the operator token.
    let (url, base) = console(&mut cluster, "sz")?;
    let refused = browser.load(&format!("{base}/upload"))?;
    assert!(refused.dom.contains("需要本站的操作令牌"), "{}", refused.dom);
    let mut page = browser.open(&url, 1280, 900)?;
    assert!(page.dom()?.contains("站点控制台"));
    page.goto(&format!("{base}/upload"))?;

    // One bad row (three bad fields) and a misspelt column: all named, nothing published.
    let mut bad = battery_demand("XQ-2", "440300");
    bad["title"] = json!("电池包液冷板焊接缺陷检测");
    bad["industry"] = json!("X99");
    bad["region"] = json!("火星市");
    bad["deadline"] = json!(format!("{}-02-30", common::in_days(0).year() + 1)); // no such day
    let mut first = battery_demand("XQ-1", "深圳市");
    first["keyword"] = json!("储能");
    upload(&mut page, "需求.xlsx", &workbook(&[first.clone(), bad]))?;
    let dom = page.dom()?;
    for field in ["industry", "region", "deadline"] {
        let cell = format!("data-sheet=\"需求\" data-row=\"3\" data-field=\"{field}\"");
        assert!(dom.contains(&cell), "the report names sheet 需求, row 3, {field}: {dom}");
    }
    assert_eq!(dom.matches("class=\"error\"").count(), 3, "exactly the three bad fields: {dom}");
    assert!(dom.contains("工作表「需求」第 3 行") && dom.contains("行业代码") && dom.contains("没有发布任何内容"));
    assert!(dom.contains("未知列 \"keyword\"，是否应为 \"keywords\"？"), "the column is warned: {dom}");
    assert!(!dom.contains("id=\"publish\""), "no way to publish a bad file");
    assert!(cluster.node("sz").list(Some("demands"))?.is_empty(), "nothing was published");

    // Fixed: checked, confirmed, published with progress.
    let fixed = demand(
        "XQ-2",
        "440300",
        "电池包液冷板焊接缺陷检测",
        "液冷板搅拌摩擦焊缝存在气孔，需要在线检测方法。",
        &["焊接", "缺陷检测"],
    );
    first.as_object_mut().map(|r| r.remove("keyword"));
    upload(&mut page, "需求.xlsx", &workbook(&[first, fixed]))?;
    assert!(page.dom()?.contains("全部 2 行检查通过"));
    page.eval("document.getElementById('publish').click()")?;
    page.wait_for("document.getElementById('published')", SETTLE)?;
    assert!(page.dom()?.contains("新增 2"), "the page says what was published");
    assert_eq!(cluster.node("sz").list(Some("demands"))?.len(), 2);

    // The proposal reaches watch and notify_url within a second of reaching the node.
    eventually(SETTLE, "the proposal at sz", || Ok(!cluster.node("sz").list(Some("matches"))?.is_empty()))?;
    let seen = Instant::now();
    let event = watch.next(Duration::from_secs(1)).expect("watch printed the proposal within 1 s");
    assert_eq!((event["kind"].as_str(), event["node"].as_str()), (Some("proposal"), Some("sz")), "{event}");
    assert!(event["detail"].as_str().is_some_and(|d| !d.is_empty()), "the explanation comes with it: {event}");
    let (_, posted, _) = posts.recv_timeout(Duration::from_secs(1)).expect("notify_url got the proposal within 1 s");
    assert_eq!(posted, event, "watch --json and notify_url carry the same event");
    assert!(seen.elapsed() < Duration::from_secs(2));

    // Accepted from the page: the state changes at central.
    let id = event["record"].as_str().unwrap_or_default().to_owned();
    page.goto(&format!("{base}/matches"))?;
    assert!(page.dom()?.contains("待回应"), "the proposal is listed with its state");
    page.eval(&format!("document.querySelector('tr[data-id=\"{id}\"] button.accept').click()"))?;
    page.wait_for("document.getElementById('flash')", SETTLE)?;
    assert!(page.dom()?.contains("已提交：接受"), "{}", page.dom()?);
    eventually(SETTLE, "the acceptance at central", || {
        Ok(cluster
            .central
            .list(Some("matches"), None)?
            .iter()
            .any(|m| m["id"] == id.as_str() && m["state"] == "accepted_by_demand"))
    })?;

    // The other side accepts: sz is told the match connected.
    cluster.node("gzu").respond(&id, &["accept"])?;
    let about = |e: &Value| e["record"] == id.as_str() && e["kind"] == "match";
    let connected = std::iter::from_fn(|| watch.next(SETTLE)).find(about).expect("watch printed the state change");
    assert_eq!(connected["state"], "connected");
    let posted = std::iter::from_fn(|| posts.recv_timeout(SETTLE).ok()).map(|(_, v, _)| v).find(about);
    assert_eq!(posted.expect("notify_url got the state change")["state"], "connected");

    // A screenshot for the README, as examples/console_screenshot.rs takes it.
    page.goto(&format!("{base}/matches"))?;
    let shot = cluster.path().join("console.png");
    page.screenshot(&shot)?;
    let png = std::fs::read(&shot)?;
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot: {} bytes", png.len());
    assert!(page.console_errors().is_empty(), "{:#?}", page.console_errors());
    Ok(())
}

#[test]
fn a_refused_notification_is_posted_again_until_the_receiver_takes_it() -> anyhow::Result<()> {
    let mut cluster = Cluster::start()?;
    let (hook, posts) = receiver(2)?;
    cluster.add_stopped_node("sz", "city", "440300")?.set("notify_url", &format!("\"{hook}\""))?;
    cluster.node("sz").start()?;
    cluster.add_node("gzu", "university", "440100")?;
    let rows = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&rows])?;
    eventually(SETTLE, "the outcome at central", || Ok(cluster.central.list(Some("outcomes"), None)?.len() == 1))?;
    let rows = cluster.write_rows(&[battery_demand("XQ-1", "440300")])?;
    cluster.node("sz").publish(&[&rows])?;
    let mut tries = Vec::new();
    while tries.len() < 3 {
        tries.push(posts.recv_timeout(SETTLE).expect("the event is posted again"));
    }
    let taken: Vec<bool> = tries.iter().map(|(_, _, taken)| *taken).collect();
    assert_eq!(taken, [false, false, true], "refused twice, then taken");
    assert!(tries.iter().all(|(_, v, _)| *v == tries[0].1), "the same event each time");
    assert_eq!(tries[0].1["kind"], "proposal");
    // Retried after a wait, not in a tight loop.
    assert!(tries[2].0 - tries[0].0 >= Duration::from_secs(2), "1 s then 2 s between tries");
    Ok(())
}

#[test]
fn a_university_bids_from_its_console_and_the_owner_awards_from_its_own() -> anyhow::Result<()> {
    let browser = Browser::find()?;
    let mut cluster = Cluster::start()?;
    cluster.add_node("sz", "city", "440300")?;
    cluster.add_node("gzu", "university", "440100")?;
    let file = cluster.write_rows(&[battery_outcome("CG-1", "440100", "岭南大学")])?;
    cluster.node("gzu").publish(&[&file])?;
    let file = cluster.write_rows(&[battery_challenge("JB-1", "440300")])?;
    cluster.node("sz").publish(&[&file])?;
    let demand = cluster.node("sz").list(Some("demands"))?[0]["id"].as_str().unwrap_or_default().to_owned();
    eventually(SETTLE, "the open challenge at gzu", || {
        Ok(cluster.node("gzu").list(Some("demands"))?.iter().any(|d| d["id"] == demand.as_str()))
    })?;

    // The university offers its outcome with a proposal, from the page.
    let (url, base) = console(&mut cluster, "gzu")?;
    let mut page = browser.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/challenges"))?;
    let card = format!("div.challenge[data-id=\"{demand}\"]");
    page.eval(&format!(
        "const f = document.querySelector('{card} form'); f.proposal.value = '以阻抗谱预警方案揭榜，六个月完成现场验证'; \
         f.querySelector('input[name=outcome]').checked = true; f.submit(); true"
    ))?;
    page.wait_for("document.getElementById('flash')", SETTLE)?;
    assert!(page.dom()?.contains("已提交揭榜方案"), "{}", page.dom()?);
    assert!(page.dom()?.contains("本站已揭榜"), "the challenge shows the bid");

    // The owner sees the bid on its 揭榜 page and awards it.
    eventually(SETTLE, "the bid at sz", || Ok(cluster.node("sz").list(Some("bids"))?.len() == 1))?;
    let (url, base) = console(&mut cluster, "sz")?;
    let mut page = browser.open(&url, 1280, 900)?;
    page.goto(&format!("{base}/challenges"))?;
    assert!(page.dom()?.contains("以阻抗谱预警方案揭榜"), "the owner reads the proposal");
    // confirm() is the person's "yes": answered here.
    page.eval("window.confirm = () => true; document.querySelector('table.bids form button').click(); true")?;
    page.wait_for("document.getElementById('flash')", SETTLE)?;
    assert!(page.dom()?.contains("已授予"), "{}", page.dom()?);
    eventually(SETTLE, "the awarded bid and its contracted match at central", || {
        let bids = cluster.central.list(Some("bids"), None)?;
        let matches = cluster.central.list(Some("matches"), None)?;
        Ok(bids.iter().any(|b| b["decision"]["value"] == "awarded")
            && matches.iter().any(|m| m["state"] == "contracted" && m["demand"] == demand.as_str()))
    })?;
    assert!(page.console_errors().is_empty(), "{:#?}", page.console_errors());
    Ok(())
}
