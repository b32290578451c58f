//! The `kechuang-central` setup verbs, as the national office runs them.

use std::process::Command;

fn central() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kechuang-central"))
}

#[test]
fn init_and_issue_write_ready_to_run_directories_and_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("central");
    let ok = central().args(["init", "--data-dir"]).arg(&home).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    let issue = |id: &str, kind: &str, region: &str| {
        central()
            .args(["issue", "--data-dir"])
            .arg(&home)
            .args(["--node-id", id, "--kind", kind, "--region", region, "--out"])
            .arg(dir.path().join(id))
            .output()
            .unwrap()
    };
    let good = issue("gd", "provincial", "440000");
    assert!(good.status.success(), "{}", String::from_utf8_lossy(&good.stderr));
    let node_toml = std::fs::read_to_string(dir.path().join("gd/node.toml")).unwrap();
    assert!(node_toml.contains("kind = \"provincial\""));

    for (id, kind, region, field) in [
        ("sz", "provincial", "440300", "region"),
        ("Bad Id", "city", "440300", "node-id"),
        ("x", "mayor", "440300", "kind"),
    ] {
        let out = issue(id, kind, region);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(field), "{id}: {stderr}");
    }
}
