//! The full-text index: one tantivy index per kind (outcomes, experts,
//! demands), each with an id and a pre-analysed text field, so BM25
//! statistics are per kind. Terms come from [`crate::Analyzer`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use kechuang_types::RecordId;
use tantivy::query::{BooleanQuery, BoostQuery, EnableScoring, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, SegmentReader, Term, doc,
};

use crate::Result;

/// A query term as a search uses it: (term, weight, idf, document frequency).
type QueryTerm = (Term, f32, f32, f32);

/// BM25 saturation constant, as tantivy uses it.
const K1: f32 = 1.2;
/// Most terms of a query sent to the index, by weight × idf.
const MAX_QUERY_TERMS: usize = 64;
/// A term found in more than this share of the documents is too common to
/// select candidates by on its own (see [`KindIndex::search`]).
const COMMON_SHARE: f32 = 0.1;
/// Candidates the selective terms of a query fetch per hit asked for.
const CANDIDATES_PER_HIT: usize = 2;

/// One kind's index.
pub struct KindIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    id: Field,
    id_hi: Field,
    id_lo: Field,
    text: Field,
}

impl std::fmt::Debug for KindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindIndex").finish_non_exhaustive()
    }
}

struct Fields {
    id: Field,
    id_hi: Field,
    id_lo: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    // The id as a term (to replace documents) and as two fast u64 columns
    // (to read hits without touching the document store).
    let id = builder.add_text_field("id", STRING);
    let id_hi = builder.add_u64_field("id_hi", FAST);
    let id_lo = builder.add_u64_field("id_lo", FAST);
    let indexing =
        TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::WithFreqs);
    let text = builder.add_text_field("text", TextOptions::default().set_indexing_options(indexing));
    (builder.build(), Fields { id, id_hi, id_lo, text })
}

impl KindIndex {
    /// An index in memory.
    pub fn in_memory() -> Result<Self> {
        let (schema, fields) = schema();
        Self::from_index(Index::create_in_ram(schema), fields)
    }

    /// The index in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        let (schema, fields) = schema();
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::Directory(format!("{}: {e}", dir.display())))?;
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| crate::Error::Directory(format!("{}: {e}", dir.display())))?;
        let index = Index::open_or_create(directory, schema)?;
        Self::from_index(index, fields)
    }

    fn from_index(index: Index, f: Fields) -> Result<Self> {
        let writer = index.writer_with_num_threads(1, 15_000_000)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { reader, writer: Mutex::new(writer), id: f.id, id_hi: f.id_hi, id_lo: f.id_lo, text: f.text })
    }

    /// Replaces the document of `id` with `terms` (not visible until
    /// [`KindIndex::commit`]); `fresh` says no document of `id` exists yet,
    /// sparing a delete that tantivy would hold in memory until the next merge.
    pub fn upsert(&self, id: RecordId, terms: &HashMap<String, u32>, fresh: bool) -> Result<()> {
        let mut text = String::new();
        for (term, count) in terms {
            for _ in 0..*count {
                text.push_str(term);
                text.push(' ');
            }
        }
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if !fresh {
            writer.delete_term(Term::from_field_text(self.id, &id.to_string()));
        }
        let bytes = id.as_bytes();
        let (hi, lo) = bytes.split_at(8);
        let hi = u64::from_be_bytes(hi.try_into().unwrap_or_default());
        let lo = u64::from_be_bytes(lo.try_into().unwrap_or_default());
        writer.add_document(doc!(self.id => id.to_string(), self.id_hi => hi, self.id_lo => lo, self.text => text))?;
        Ok(())
    }

    /// Removes the document of `id`.
    pub fn remove(&self, id: RecordId) {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer.delete_term(Term::from_field_text(self.id, &id.to_string()));
    }

    /// Makes every change visible to searches.
    pub fn commit(&self) -> Result<()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Removes every document.
    pub fn clear(&self) -> Result<()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).delete_all_documents()?;
        Ok(())
    }

    /// How many documents are searchable.
    pub fn docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The `limit` best documents for the weighted `query` terms, with their
    /// BM25 scores, and the score a perfect document would reach.
    pub fn search(&self, query: &HashMap<String, u32>, limit: usize) -> Result<(Vec<(RecordId, f32)>, f32)> {
        self.view().search(query, limit)
    }

    /// The documents searchable now, for several searches that must agree.
    pub fn view(&self) -> View {
        View { searcher: self.reader.searcher(), text: self.text, shares: HashMap::new(), found: HashMap::new() }
    }
}

/// A fixed view of one kind's index for the searches of one ranking: they
/// see the same documents, and share the BM25 shares of common terms that
/// an earlier search already read.
pub struct View {
    searcher: Searcher,
    text: Field,
    /// The unweighted BM25 share of a common term in each candidate read so
    /// far (0 when absent), in address order.
    shares: HashMap<Term, Vec<(DocAddress, Score)>>,
    /// Where each document a search returned is.
    found: HashMap<RecordId, DocAddress>,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View").finish_non_exhaustive()
    }
}

impl View {
    /// How many documents the view holds.
    pub fn documents(&self) -> u64 {
        self.searcher.num_docs()
    }

    /// The `limit` best documents for the weighted `query` terms, with their
    /// BM25 scores, and the score a perfect document would reach.
    ///
    /// On a large index the terms that most documents share (boilerplate
    /// such as 提供/技术/企业) do not select candidates: the rarer terms fetch
    /// [`CANDIDATES_PER_HIT`] × `limit` documents, and the common terms then
    /// only add their BM25 share to those. When the rarer terms find fewer
    /// documents than that, every document is scored by every term.
    pub fn search(&mut self, query: &HashMap<String, u32>, limit: usize) -> Result<(Vec<(RecordId, f32)>, f32)> {
        self.search_with(query, limit, true)
    }

    /// [`View::search`], with the common terms selecting candidates too
    /// unless `two_stage`.
    fn search_with(
        &mut self,
        query: &HashMap<String, u32>,
        limit: usize,
        two_stage: bool,
    ) -> Result<(Vec<(RecordId, f32)>, f32)> {
        let searcher = self.searcher.clone();
        let n = searcher.num_docs() as f32;
        let (weighted, ideal) = self.telling_terms(query)?;
        if weighted.is_empty() {
            return Ok((vec![], 0.0));
        }
        let (selective, common): (Vec<_>, Vec<_>) = weighted.into_iter().partition(|t| t.3 <= COMMON_SHARE * n);
        let all = || selective.iter().chain(&common).map(|(term, weight, ..)| (term, *weight));
        let hits = if !two_stage || selective.is_empty() || common.is_empty() {
            top_k(&searcher, &disjunction(all()), limit)?
        } else {
            let wanted = limit.saturating_mul(CANDIDATES_PER_HIT);
            let first = disjunction(selective.iter().map(|(term, weight, ..)| (term, *weight)));
            let candidates = top_k(&searcher, &first, wanted)?;
            if candidates.len() < wanted {
                top_k(&searcher, &disjunction(all()), limit)?
            } else {
                let common: Vec<(&Term, f32)> = common.iter().map(|(term, weight, ..)| (term, *weight)).collect();
                let mut rescored = self.rescore(candidates, &common)?;
                rescored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                rescored.truncate(limit);
                rescored
            }
        };
        let mut columns = HashMap::new();
        let mut out = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let (hi, lo) = match columns.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let fast = searcher.segment_reader(address.segment_ord).fast_fields();
                    e.insert((fast.u64("id_hi")?, fast.u64("id_lo")?))
                }
            };
            if let (Some(hi), Some(lo)) = (hi.first(address.doc_id), lo.first(address.doc_id)) {
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&hi.to_be_bytes());
                bytes[8..].copy_from_slice(&lo.to_be_bytes());
                let id = RecordId::from_bytes(bytes);
                self.found.insert(id, address);
                out.push((id, score));
            }
        }
        Ok((out, ideal))
    }

    /// `query`'s [`MAX_QUERY_TERMS`] most telling terms that some document
    /// has, as (term, weight, idf, document frequency), most telling first;
    /// and the BM25 a document matching every term at saturation would reach.
    fn telling_terms(&self, query: &HashMap<String, u32>) -> Result<(Vec<QueryTerm>, f32)> {
        let n = self.searcher.num_docs() as f32;
        let mut weighted = Vec::with_capacity(query.len());
        let mut ideal = 0.0;
        // A fixed order of terms makes scores (float sums) and the cut below reproducible.
        let mut terms: Vec<(&String, &u32)> = query.iter().collect();
        terms.sort_unstable();
        for (term, weight) in terms {
            let term = Term::from_field_text(self.text, term);
            let df = self.searcher.doc_freq(&term)? as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            // Terms no document has still count toward a perfect match, so
            // strength means the same in a small index as in a large one.
            ideal += *weight as f32 * idf * (K1 + 1.0);
            if df > 0.0 {
                weighted.push((term, *weight as f32, idf, df));
            }
        }
        // The most telling terms carry the ranking; the long tail of common
        // bigrams only costs time on a large index.
        weighted.sort_by(|a, b| (b.1 * b.2).total_cmp(&(a.1 * a.2)));
        weighted.truncate(MAX_QUERY_TERMS);
        Ok((weighted, ideal))
    }

    /// The strength of each of `ids` (found by an earlier search of this
    /// view) for `query`, as [`View::search`]'s score over its ideal but
    /// with term statistics as if the index also held `background_docs`
    /// documents of Chinese at large, a share `background(term)` of which
    /// contain the term. On a small index, where every document may share
    /// the query's words and their idf collapses, strength then still says
    /// how much of the query a document covers; as the index grows its own
    /// statistics take over.
    pub fn blended_strength(
        &mut self,
        ids: &[RecordId],
        query: &HashMap<String, u32>,
        background: impl Fn(&str) -> f32,
        background_docs: f32,
    ) -> Result<HashMap<RecordId, f32>> {
        let n = self.searcher.num_docs() as f32 + background_docs;
        let idf = |df: f32, term: &str| {
            let df = df + background_docs * background(term);
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        };
        let mut ideal = 0.0;
        let mut terms: Vec<(&String, &u32)> = query.iter().collect();
        terms.sort_unstable();
        for (term, weight) in &terms {
            let df = self.searcher.doc_freq(&Term::from_field_text(self.text, term))? as f32;
            ideal += **weight as f32 * idf(df, term) * (K1 + 1.0);
        }
        let (telling, _) = self.telling_terms(query)?;
        let by_address: HashMap<DocAddress, RecordId> =
            ids.iter().filter_map(|id| self.found.get(id).map(|address| (*address, *id))).collect();
        let candidates: Vec<(Score, DocAddress)> = by_address.keys().map(|address| (0.0, *address)).collect();
        let mut covered: HashMap<RecordId, f32> = HashMap::new();
        for (term, weight, own, df) in &telling {
            // The term's BM25 share in each candidate is idf × its saturated
            // frequency: re-weigh that frequency by the blended idf.
            let blended = idf(*df, term.value().as_str().unwrap_or_default());
            for (share, address) in self.rescore(candidates.clone(), &[(term, 1.0)])? {
                if share > 0.0
                    && let Some(id) = by_address.get(&address)
                {
                    *covered.entry(*id).or_default() += weight * share / own * blended;
                }
            }
        }
        Ok(covered.into_iter().map(|(id, c)| (id, if ideal > 0.0 { c / ideal } else { 0.0 })).collect())
    }

    /// The weighted BM25 score of `query`'s [`MAX_QUERY_TERMS`] most telling
    /// terms for each of `ids` that an earlier search of this view returned.
    pub fn scores_of(&mut self, ids: &[RecordId], query: &HashMap<String, u32>) -> Result<HashMap<RecordId, f32>> {
        let (terms, _) = self.telling_terms(query)?;
        let by_address: HashMap<DocAddress, RecordId> =
            ids.iter().filter_map(|id| self.found.get(id).map(|address| (*address, *id))).collect();
        let candidates: Vec<(Score, DocAddress)> = by_address.keys().map(|address| (0.0, *address)).collect();
        let weighted: Vec<(&Term, f32)> = terms.iter().map(|(term, weight, ..)| (term, *weight)).collect();
        let scored = self.rescore(candidates, &weighted)?;
        Ok(scored.into_iter().filter_map(|(score, address)| Some((*by_address.get(&address)?, score))).collect())
    }

    /// `candidates` with the weighted BM25 share of the `common` terms added
    /// to their scores, each term's postings read once per segment in
    /// document order, for the candidates no earlier search read.
    fn rescore(
        &mut self,
        mut candidates: Vec<(Score, DocAddress)>,
        common: &[(&Term, f32)],
    ) -> Result<Vec<(Score, DocAddress)>> {
        let scoring = EnableScoring::enabled_from_searcher(&self.searcher);
        candidates.sort_by_key(|(_, address)| *address);
        for (term, weight) in common {
            let shares = self.shares.entry((*term).clone()).or_default();
            let unread: Vec<DocAddress> = candidates
                .iter()
                .map(|(_, address)| *address)
                .filter(|a| shares.binary_search_by_key(a, |(read, _)| *read).is_err())
                .collect();
            if !unread.is_empty() {
                let unit = TermQuery::new((*term).clone(), IndexRecordOption::WithFreqs).weight(scoring)?;
                for segment in unread.chunk_by(|a, b| a.segment_ord == b.segment_ord) {
                    let mut scorer = unit.scorer(self.searcher.segment_reader(segment[0].segment_ord), 1.0)?;
                    for address in segment {
                        if scorer.doc() < address.doc_id {
                            scorer.seek(address.doc_id);
                        }
                        let share = if scorer.doc() == address.doc_id { scorer.score() } else { 0.0 };
                        shares.push((*address, share));
                    }
                }
                shares.sort_unstable_by_key(|(address, _)| *address);
            }
            // Both are in address order: one pass adds each candidate's share.
            let mut read = shares.iter().peekable();
            for (score, address) in &mut candidates {
                while read.next_if(|(a, _)| a < address).is_some() {}
                if let Some((_, share)) = read.next_if(|(a, _)| a == address) {
                    *score += weight * share;
                }
            }
        }
        Ok(candidates)
    }
}

/// A query scoring each document by the weighted BM25 sum of `terms`.
fn disjunction<'a>(terms: impl Iterator<Item = (&'a Term, f32)>) -> BooleanQuery {
    BooleanQuery::new(
        terms
            .map(|(term, weight)| {
                let q = TermQuery::new(term.clone(), IndexRecordOption::WithFreqs);
                (Occur::Should, Box::new(BoostQuery::new(Box::new(q), weight)) as Box<dyn Query>)
            })
            .collect(),
    )
}

/// A hit ordered by score, then by address (the earlier document first).
#[derive(PartialEq)]
struct Hit(Score, DocAddress);

impl Eq for Hit {}

impl Ord for Hit {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then_with(|| other.1.cmp(&self.1))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// The `k` best documents for `query`, best first. Unlike tantivy's
/// `TopDocs`, which starts every segment from scratch, each segment (largest
/// first) only scores what could beat the `k` best found so far, so block-max
/// WAND prunes from the first document of every segment after the first.
fn top_k(searcher: &Searcher, query: &dyn Query, k: usize) -> Result<Vec<(Score, DocAddress)>> {
    let weight = query.weight(EnableScoring::enabled_from_searcher(searcher))?;
    let mut heap: BinaryHeap<Reverse<Hit>> = BinaryHeap::with_capacity(k + 1);
    let mut segments: Vec<(u32, &SegmentReader)> = (0u32..).zip(searcher.segment_readers()).collect();
    segments.sort_by_key(|(ord, reader)| (Reverse(reader.max_doc()), *ord));
    for (ord, reader) in segments {
        let alive = reader.alive_bitset();
        let threshold = |heap: &BinaryHeap<Reverse<Hit>>| match heap.peek() {
            Some(Reverse(worst)) if heap.len() == k => worst.0,
            _ => Score::MIN,
        };
        let start = threshold(&heap);
        weight.for_each_pruning(start, reader, &mut |doc, score| {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                heap.push(Reverse(Hit(score, DocAddress::new(ord, doc))));
                if heap.len() > k {
                    heap.pop();
                }
            }
            threshold(&heap)
        })?;
    }
    Ok(heap.into_sorted_vec().into_iter().map(|Reverse(Hit(score, address))| (score, address)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(words: &[(&str, u32)]) -> HashMap<String, u32> {
        words.iter().map(|(w, n)| (w.to_string(), *n)).collect()
    }

    /// An index of 1,000 documents, 700 of which hold the common word 提供 (a
    /// different number of times each) and 60 the rarer 电池.
    fn boilerplate_index() -> KindIndex {
        let index = KindIndex::in_memory().unwrap();
        for i in 0..1_000u32 {
            let mut doc = terms(&[("方案", 1 + i % 3)]);
            if i % 10 < 7 {
                doc.insert("提供".into(), 1 + i % 7);
            }
            if i % 50 < 3 {
                doc.insert("电池".into(), 1);
            }
            index.upsert(RecordId::new(), &doc, true).unwrap();
        }
        index.commit().unwrap();
        index
    }

    #[test]
    fn common_terms_rescore_the_candidates_of_rarer_terms_to_the_same_ranking() {
        let index = boilerplate_index();
        let query = terms(&[("电池", 1), ("提供", 2)]);
        // 60 documents hold 电池, enough for 2 × 10 candidates: two stages run.
        let (two_stage, ideal) = index.search(&query, 10).unwrap();
        let (exhaustive, same_ideal) = index.view().search_with(&query, 10, false).unwrap();
        assert_eq!(ideal, same_ideal);
        assert_eq!(two_stage.len(), 10);
        for ((a, score_a), (b, score_b)) in two_stage.iter().zip(&exhaustive) {
            assert!((score_a - score_b).abs() < 1e-4, "{score_a} vs {score_b}");
            // Equal scores may come in another order, or another document at the cut.
            let equal = exhaustive.iter().any(|(id, s)| id == a && (s - score_a).abs() < 1e-4);
            assert!(a == b || equal || (score_a - exhaustive[9].1).abs() < 1e-4);
        }
        // 提供 decides the order among the 电池 documents: the first holds it most often.
        let scores: Vec<f32> = two_stage.iter().map(|(_, s)| *s).collect();
        assert!(scores[0] > scores[9], "{scores:?}");
    }

    #[test]
    fn too_few_candidates_score_every_document_by_every_term() {
        let index = boilerplate_index();
        let query = terms(&[("电池", 1), ("提供", 2)]);
        // 60 documents hold 电池, fewer than 2 × 100: 40 documents with 提供 alone complete the list.
        let (hits, _) = index.search(&query, 100).unwrap();
        let (exhaustive, _) = index.view().search_with(&query, 100, false).unwrap();
        assert_eq!(hits.len(), 100);
        assert_eq!(hits, exhaustive);
    }

    #[test]
    fn the_best_across_segments_skip_replaced_documents_and_match_tantivys_own_ranking() {
        let index = KindIndex::in_memory().unwrap();
        let mut ids = Vec::new();
        for segment in 0..3u32 {
            for i in 0..200u32 {
                let id = RecordId::new();
                index.upsert(id, &terms(&[("电池", 1 + (i + segment) % 5), ("方案", 1 + i % 4)]), true).unwrap();
                ids.push(id);
            }
            index.commit().unwrap();
        }
        // Replaced documents leave deleted copies, holding 电池, that must not be returned.
        for id in ids.iter().step_by(3) {
            index.upsert(*id, &terms(&[("方案", 1)]), false).unwrap();
        }
        index.commit().unwrap();
        let searcher = index.reader.searcher();
        assert!(searcher.segment_readers().len() > 1);
        let query = disjunction([(&Term::from_field_text(index.text, "电池"), 1.0)].into_iter());
        let ours = top_k(&searcher, &query, 50).unwrap();
        let theirs = searcher.search(&query, &tantivy::collector::TopDocs::with_limit(50).order_by_score()).unwrap();
        let scores = |hits: &[(Score, DocAddress)]| hits.iter().map(|(s, _)| *s).collect::<Vec<_>>();
        assert_eq!(scores(&ours), scores(&theirs));
        for (_, address) in &ours {
            let reader = searcher.segment_reader(address.segment_ord);
            assert!(reader.alive_bitset().is_none_or(|a| a.is_alive(address.doc_id)));
        }
    }

    #[test]
    fn scores_of_found_documents_are_their_bm25_for_another_query() {
        let index = boilerplate_index();
        let mut view = index.view();
        let (hits, _) = view.search(&terms(&[("电池", 1)]), 30).unwrap();
        let ids: Vec<RecordId> = hits.iter().map(|(id, _)| *id).collect();
        let other = terms(&[("提供", 2), ("方案", 1)]);
        let scores = view.scores_of(&ids, &other).unwrap();
        assert_eq!(scores.len(), 30);
        let exhaustive: HashMap<RecordId, f32> =
            index.view().search_with(&other, 1_000, false).unwrap().0.into_iter().collect();
        for (id, score) in &scores {
            let expected = exhaustive.get(id).copied().unwrap_or(0.0);
            assert!((score - expected).abs() < 1e-4, "{score} vs {expected}");
        }
        assert!(view.scores_of(&[RecordId::new()], &other).unwrap().is_empty(), "only documents a search returned");
    }
}
