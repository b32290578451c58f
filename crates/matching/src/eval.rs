//! Ranking quality against graded relevance judgements: nDCG@10, recall@5
//! and MRR, averaged over the judged demands.

use std::collections::HashMap;

/// The three figures `eval` prints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Normalised discounted cumulative gain of the first ten.
    pub ndcg_at_10: f64,
    /// Share of relevant items in the first five.
    pub recall_at_5: f64,
    /// Mean reciprocal rank of the first relevant item.
    pub mrr: f64,
    /// How many judged demands were averaged.
    pub demands: usize,
}

/// Scores `rankings` (demand → supply ids, best first) against `grades`
/// (demand → supply → grade ≥ 1). Demands without judgements are skipped.
pub fn score(rankings: &HashMap<String, Vec<String>>, grades: &HashMap<String, HashMap<String, u32>>) -> Metrics {
    let (mut ndcg, mut recall, mut mrr, mut n) = (0.0, 0.0, 0.0, 0);
    for (demand, relevant) in grades {
        if relevant.is_empty() {
            continue;
        }
        n += 1;
        let empty = Vec::new();
        let ranking = rankings.get(demand).unwrap_or(&empty);
        let gain = |g: u32| f64::from(2u32.pow(g) - 1);
        let dcg: f64 = ranking
            .iter()
            .take(10)
            .enumerate()
            .map(|(i, s)| gain(*relevant.get(s).unwrap_or(&0)) / (i as f64 + 2.0).log2())
            .sum();
        let mut ideal: Vec<u32> = relevant.values().copied().collect();
        ideal.sort_unstable_by(|a, b| b.cmp(a));
        let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| gain(*g) / (i as f64 + 2.0).log2()).sum();
        ndcg += dcg / idcg;
        recall += ranking.iter().take(5).filter(|s| relevant.contains_key(*s)).count() as f64 / relevant.len() as f64;
        if let Some(first) = ranking.iter().position(|s| relevant.contains_key(s)) {
            mrr += 1.0 / (first as f64 + 1.0);
        }
    }
    let avg = |x: f64| if n == 0 { 0.0 } else { x / n as f64 };
    Metrics { ndcg_at_10: avg(ndcg), recall_at_5: avg(recall), mrr: avg(mrr), demands: n }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, u32)]) -> HashMap<String, u32> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn perfect_and_reversed_rankings() {
        let grades = HashMap::from([("d".to_owned(), map(&[("a", 2), ("b", 1)]))]);
        let perfect = HashMap::from([("d".to_owned(), vec!["a".to_owned(), "b".to_owned()])]);
        let m = score(&perfect, &grades);
        assert!((m.ndcg_at_10 - 1.0).abs() < 1e-9 && m.recall_at_5 == 1.0 && m.mrr == 1.0);

        let late = HashMap::from([(
            "d".to_owned(),
            vec!["x".into(), "b".into(), "y".into(), "z".into(), "w".into(), "a".into()],
        )]);
        let m = score(&late, &grades);
        assert_eq!(m.recall_at_5, 0.5, "a is sixth");
        assert_eq!(m.mrr, 0.5, "b is second");
        let expected = (1.0 / 3f64.log2() + 3.0 / 7f64.log2()) / (3.0 + 1.0 / 3f64.log2());
        assert!((m.ndcg_at_10 - expected).abs() < 1e-9);
    }
}
