//! Takes the README's screenshots of the dashboard from the running demo
//! network (`deploy/demo.sh` first):
//! `cargo run -p kechuang-tests --example dashboard_screenshot`.

use kechuang_testkit::Browser;

fn main() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ready = std::fs::read_to_string(root.join("demo/central/ready.json"))
        .map_err(|e| anyhow::anyhow!("demo/central/ready.json: {e}: start the demo with deploy/demo.sh"))?;
    let ready: serde_json::Value = serde_json::from_str(&ready)?;
    let base = format!("http://{}", ready["dashboard"].as_str().unwrap_or_default());
    let browser = Browser::find()?;
    for (page, file, height) in [("", "dashboard.png", 1000), ("/network", "dashboard-network.png", 900)] {
        let out = root.join("docs").join(file);
        browser.screenshot(&format!("{base}{page}"), &out, 1280, height)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}
