//! Takes the README's screenshots of a station console from the running
//! demo network (`deploy/demo.sh` first): Shenzhen's 对接 page, and the
//! report on a workbook with a bad row uploaded to its 上传 page.
//! `cargo run -p kechuang-tests --example console_screenshot`.

use std::time::Duration;

use kechuang_testkit::Browser;
use kechuang_types::RecordKind;
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let node = root.join("demo/sz-city/node.toml");
    let output = kechuang_testkit::command("kechuang-node").arg("console").arg("--config").arg(&node).output()?;
    anyhow::ensure!(
        output.status.success(),
        "start the demo with deploy/demo.sh: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = String::from_utf8(output.stdout)?.trim().to_owned();
    let base = url.split("/?token=").next().unwrap_or_default().to_owned();
    let browser = Browser::find()?;
    let mut page = browser.open(&url, 1400, 900)?;

    page.goto(&format!("{base}/matches"))?;
    let out = root.join("docs/console.png");
    page.screenshot(&out)?;
    println!("wrote {}", out.display());

    // A sheet as staff fill it in, with a slip in one row.
    let row = |id: &str, title: &str, industry: &str, region: &str, deadline: &str| {
        let row = json!({"id": id, "title": title, "description": "生产线需要在线检测方案，降低漏检率", "industry": industry,
            "keywords": "在线检测;机器视觉", "region": region, "budget_wan": 60, "deadline": deadline, "min_trl": 5,
            "enterprise": "深圳某精密制造有限公司"});
        (RecordKind::Demand, row.as_object().cloned().unwrap_or_default())
    };
    // A deadline half a year ahead, and one that no calendar has (30 February).
    let today = kechuang_types::Date::today();
    let ahead = kechuang_types::Date::from_days_since_epoch(today.days_since_epoch() + 180).to_string();
    let no_such_day = format!("{}-02-30", today.year() + 1);
    let book = kechuang_interchange::write_xlsx(&[
        row("SZ-001", "手机中框划痕在线检测", "C39", "深圳市", &ahead),
        row("SZ-002", "锂电池极片毛刺检测", "C3B", "深圳", &no_such_day),
    ])
    .map_err(anyhow::Error::msg)?;
    page.goto(&format!("{base}/upload"))?;
    let bytes: Vec<String> = book.iter().map(u8::to_string).collect();
    page.eval(&format!("check(new File([new Uint8Array([{}])], '需求.xlsx')).then(() => true)", bytes.join(",")))?;
    page.wait_for("document.getElementById('verdict')", Duration::from_secs(30))?;
    let out = root.join("docs/console-upload.png");
    page.screenshot(&out)?;
    println!("wrote {}", out.display());
    Ok(())
}
