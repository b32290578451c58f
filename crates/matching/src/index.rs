//! The full-text index: one tantivy index per kind (outcomes, experts,
//! demands), each with an id and a pre-analysed text field, so BM25
//! statistics are per kind. Terms come from [`crate::Analyzer`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use kechuang_types::RecordId;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

use crate::Result;

/// BM25 saturation constant, as tantivy uses it.
const K1: f32 = 1.2;
/// Most terms of a query sent to the index, by weight × idf.
const MAX_QUERY_TERMS: usize = 64;

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
        let searcher = self.reader.searcher();
        let n = searcher.num_docs() as f32;
        let mut weighted: Vec<(Term, f32, f32)> = Vec::with_capacity(query.len());
        let mut ideal = 0.0;
        // A fixed order of terms makes scores (float sums) and the cut below reproducible.
        let mut terms: Vec<(&String, &u32)> = query.iter().collect();
        terms.sort_unstable();
        for (term, weight) in terms {
            let term = Term::from_field_text(self.text, term);
            let df = searcher.doc_freq(&term)? as f32;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            // Terms no document has still count toward a perfect match, so
            // strength means the same in a small index as in a large one.
            ideal += *weight as f32 * idf * (K1 + 1.0);
            if df > 0.0 {
                weighted.push((term, *weight as f32, idf));
            }
        }
        // The most telling terms carry the ranking; the long tail of common
        // bigrams only costs time on a large index.
        weighted.sort_by(|a, b| (b.1 * b.2).total_cmp(&(a.1 * a.2)));
        weighted.truncate(MAX_QUERY_TERMS);
        let clauses: Vec<(Occur, Box<dyn Query>)> = weighted
            .into_iter()
            .map(|(term, weight, _)| {
                let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
                (Occur::Should, Box::new(BoostQuery::new(Box::new(q), weight)) as Box<dyn Query>)
            })
            .collect();
        if clauses.is_empty() {
            return Ok((vec![], 0.0));
        }
        let hits = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit).order_by_score())?;
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
                out.push((RecordId::from_bytes(bytes), score));
            }
        }
        Ok((out, ideal))
    }
}
