//! The `kechuang-node` verbs, as an operator runs them.

use std::process::Command;

/// The node's CLI in `locale`.
fn node_in(locale: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kechuang-node"));
    command.env_remove("LC_ALL").env_remove("LC_MESSAGES").env("LANG", locale);
    command
}

fn node() -> Command {
    node_in("C.UTF-8")
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("node.toml");
    std::fs::write(&path, "node_id = \"sz\"\nkind = \"city\"\nregion = \"440300\"\ncentral = \"https://127.0.0.1:9\"\napi_listen = \"127.0.0.1:0\"\n").unwrap();
    path
}

#[test]
fn publish_reports_every_bad_row_by_line_and_field_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demands.csv");
    std::fs::write(
        &file,
        "id,title,description,industry,keywords,region,budget_wan,deadline,is_challenge,min_trl\n\
         D-1,锂电池热失控预警,储能电站需要提前发现热失控,C38,储能,440300,80,2027-03-31,false,6\n\
         D-2,注塑件缺陷检测,自动识别缩痕,C29,注塑,440300,50,2027-06-31,false,5\n\
         D-3,焊缝质量评估,焊缝在线检测,C34,焊接,990300,50,2027-06-30,false,12\n",
    )
    .unwrap();
    let output = node().args(["publish", "--config"]).arg(config(dir.path())).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("line 3: deadline"), "{stderr}");
    assert!(stderr.contains("line 4: region"), "{stderr}");
    assert!(stderr.contains("nothing was published"), "{stderr}");
}

#[test]
fn verbs_say_when_the_node_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let output = node().args(["status", "--config"]).arg(config(dir.path())).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("node sz is not running"));
    // Run from the node's directory, as an operator would.
    let output = node().args(["status", "--config", "node.toml"]).current_dir(dir.path()).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("node sz is not running"), "{output:?}");
}

#[test]
fn in_a_chinese_locale_the_cli_answers_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("需求.csv");
    std::fs::write(
        &file,
        "编号,标题,需求描述,行业代码,关键字,所在地区,最低技术成熟度\nD-1,焊缝检测,焊缝在线检测,X99,焊接,火星,5\n",
    )
    .unwrap();
    let output =
        node_in("zh_CN.UTF-8").args(["publish", "--config"]).arg(config(dir.path())).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("第 2 行 · 行业代码："), "{stderr}");
    assert!(stderr.contains("第 2 行 · 所在地区：不是 GB/T 2260 地区代码"), "{stderr}");
    assert!(stderr.contains("未知列 \"关键字\"，是否应为 \"关键词\"？"), "{stderr}");
    assert!(stderr.contains("错误: 2 行有错误：没有发布任何记录"), "{stderr}");
    let output = node().args(["publish", "--config"]).arg(config(dir.path())).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2: industry") && stderr.contains("did you mean \"关键词\""), "{stderr}");

    let template = dir.path().join("模板.xlsx");
    let output = node_in("zh_CN.UTF-8").args(["template", "--out"]).arg(&template).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), format!("已生成模板 {}", template.display()));
    let output = node().args(["publish", "--config"]).arg(config(dir.path())).arg(&template).output().unwrap();
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("node sz is not running"),
        "an untouched template reads without a problem (its example rows are not published)"
    );
}
