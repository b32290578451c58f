//! The national office's dashboard in headless Chromium over the scripted
//! two-province network: the pages load without console errors, the network
//! tree lists every station, the numbers on the pages equal `stats --json`,
//! no page shows a contact, and off loopback (or when asked) the pages want
//! the admin token.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::programme::scripted;
use kechuang_testkit::{Browser, Cluster, Loaded};
use serde_json::Value;

/// A plain HTTP/1.1 GET: status, headers and body.
fn get(url: &str, headers: &[(&str, &str)]) -> anyhow::Result<(u16, String, String)> {
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("not http: {url}"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, head.to_owned(), body.to_owned()))
}

fn load(browser: &Browser, url: &str) -> anyhow::Result<Loaded> {
    let page = browser.load(url)?;
    assert!(page.console_errors.is_empty(), "{url}: {:#?}", page.console_errors);
    assert!(page.dom.contains("科创网络"), "{url} did not load: {}", page.dom);
    Ok(page)
}

/// The funnel cells of a page, published to landed.
fn funnel_on(dom: &str) -> Vec<u64> {
    ["published", "proposed", "connected", "contracted", "landed"]
        .iter()
        .map(|stage| {
            let marker = format!("data-stage=\"{stage}\">");
            let at = dom.find(&marker).map(|i| i + marker.len()).unwrap_or_else(|| panic!("no {stage} cell"));
            dom[at..].split('<').next().unwrap_or("").trim().parse().unwrap_or(u64::MAX)
        })
        .collect()
}

fn funnel_of(report: &Value) -> Vec<u64> {
    let d = &report["total"]["demands"];
    ["published", "proposed", "connected", "contracted", "landed"].iter().map(|k| d[*k].as_u64().unwrap()).collect()
}

fn central_stats(cluster: &Cluster, args: &[&str]) -> anyhow::Result<Value> {
    let mut all = vec!["stats", "--json"];
    all.extend_from_slice(args);
    Ok(serde_json::from_str(&cluster.central.verb(&all)?)?)
}

#[test]
fn the_pages_load_list_every_station_and_show_the_figures_stats_prints() -> anyhow::Result<()> {
    let browser = Browser::find()?;
    let mut cluster = scripted()?;
    let base = cluster.central.dashboard()?;

    let national = central_stats(&cluster, &[])?;
    let overview = load(&browser, &base)?;
    assert_eq!(funnel_on(&overview.dom), funnel_of(&national), "全国概览 and stats --json agree");
    assert_eq!(funnel_of(&national), [3, 3, 2, 1, 1]);
    assert!(overview.dom.contains("<svg class=\"chart funnel\""), "the funnel is drawn");
    assert!(overview.dom.contains("data-card=\"amount\"><span>成交额（万元）</span><b>120</b>"));

    let network = load(&browser, &format!("{base}/network"))?;
    for node in ["gd", "sz", "gzu", "sc", "cd", "scu"] {
        assert!(network.dom.contains(&format!("data-node=\"{node}\"")), "{node} is in the tree");
    }
    let guangdong = network.dom.find("data-province=\"440000\"").expect("Guangdong");
    let sichuan = network.dom.find("data-province=\"510000\"").expect("Sichuan");
    let sz = network.dom.find("data-node=\"sz\"").unwrap();
    assert!(guangdong < sz && sz < sichuan, "Shenzhen sits under Guangdong");
    assert_eq!(network.dom.matches("在线").count(), 6 + 1, "every station online (and the legend)");
    assert!(network.dom.contains(env!("CARGO_PKG_VERSION")), "the version each node reported");

    let province = load(&browser, &format!("{base}/province/440000"))?;
    let gd = cluster.node("gd").stats(&[])?;
    assert_eq!(funnel_on(&province.dom), funnel_of(&gd), "the province page and gd's own stats agree");
    assert!(province.dom.contains("data-key=\"440300\""), "its cities");

    let rankings = load(&browser, &format!("{base}/rankings"))?;
    assert!(rankings.dom.contains("高校榜") && rankings.dom.contains("gzu") && rankings.dom.contains("规则："));

    // What the README's screenshot tool does (examples/dashboard_screenshot.rs).
    let shot = cluster.path().join("overview.png");
    browser.screenshot(&base, &shot, 1280, 1000)?;
    let png = std::fs::read(&shot)?;
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot of the page: {} bytes", png.len());

    let matches = load(&browser, &format!("{base}/matches"))?;
    assert_eq!(matches.dom.matches("data-match=").count(), 3);
    for page in [&overview, &network, &province, &rankings, &matches] {
        assert!(!page.dom.contains("020-8711") && !page.dom.contains("@univ.example.edu.cn"), "no contact on any page");
    }

    // The same data for scripts.
    let (status, head, body) = get(&format!("{base}/api/overview"), &[])?;
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let api: Value = serde_json::from_str(&body)?;
    assert_eq!(api["report"]["total"], national["total"], "/api/overview is stats --json");
    let (status, _, body) = get(&format!("{base}/api/network"), &[])?;
    assert_eq!(status, 200);
    let stations: usize = serde_json::from_str::<Value>(&body)?["provinces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stations"].as_array().unwrap().len())
        .sum();
    assert_eq!(stations, 6);
    let (status, _, _) = get(&format!("{base}/province/123"), &[])?;
    assert_eq!(status, 400, "a bad province code is a clear error");
    let (status, _, _) = get(&format!("{base}/nothing-here"), &[])?;
    assert_eq!(status, 404);
    Ok(())
}

#[test]
fn a_dashboard_that_asks_for_the_token_serves_only_with_it() -> anyhow::Result<()> {
    let cluster = Cluster::start_with_settings(&[("dashboard_token_required", "true")])?;
    let base = cluster.central.dashboard()?;
    let token = std::fs::read_to_string(cluster.central.home.join("admin.token"))?.trim().to_owned();
    let (status, _, body) = get(&format!("{base}/"), &[])?;
    assert_eq!(status, 401);
    assert!(body.contains("admin_token"), "says what it wants: {body}");
    assert_eq!(get(&format!("{base}/api/overview?token=wrong"), &[])?.0, 401);
    let (status, head, _) = get(&format!("{base}/?token={token}"), &[])?;
    assert_eq!(status, 200);
    assert!(head.contains(&format!("kechuang_token={token}")), "the token is kept in a cookie: {head}");
    assert_eq!(get(&format!("{base}/network"), &[("Cookie", &format!("kechuang_token={token}"))])?.0, 200);
    assert_eq!(get(&format!("{base}/api/network"), &[("Authorization", &format!("Bearer {token}"))])?.0, 200);
    Ok(())
}
