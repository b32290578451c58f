//! `kechuang-central eval` on a small labelled fixture with known answers.

use std::process::Command;

#[test]
fn eval_ranks_the_known_answers_first_and_writes_rankings() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eval-small.json");
    let rankings = dir.path().join("rankings.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_kechuang-central"))
        .args(["eval", "--json", "--dataset", fixture, "--rankings"])
        .arg(&rankings)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metrics: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(metrics["demands"], 3);
    assert_eq!(metrics["mrr"], 1.0, "every demand's first proposal is relevant: {metrics}");
    assert_eq!(metrics["recall_at_5"], 1.0, "{metrics}");
    assert!(metrics["ndcg_at_10"].as_f64().unwrap() > 0.95, "{metrics}");

    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&rankings).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let first = |demand: &str| -> Vec<String> {
        let line = lines.iter().find(|l| l["demand"] == demand).unwrap();
        line["proposals"].as_array().unwrap().iter().map(|p| p["supply"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(first("d-1")[0], "o-1");
    let mut d2: Vec<String> = first("d-2").into_iter().take(2).collect();
    d2.sort();
    assert_eq!(d2, ["e-1", "o-3"], "the outcome and the expert of the same institution");
    assert_eq!(first("d-3")[0], "o-5");
    assert!(!first("d-3").contains(&"o-6".to_owned()), "unrelated supply is not proposed");
    let p = &lines[0]["proposals"][0];
    for key in ["supply", "kind", "score", "tier"] {
        assert!(!p[key].is_null(), "rankings carry {key}: {p}");
    }
}
