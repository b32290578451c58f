//! The full-text index: one tantivy index per kind (outcomes, experts,
//! demands), each with an id and a pre-analysed text field, so BM25
//! statistics are per kind. Terms come from [`crate::Analyzer`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use kechuang_types::RecordId;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term, doc};

use crate::Result;

/// BM25 saturation constant, as tantivy uses it.
const K1: f32 = 1.2;

/// One kind's index.
pub struct KindIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    id: Field,
    text: Field,
}

impl std::fmt::Debug for KindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindIndex").finish_non_exhaustive()
    }
}

fn schema() -> (Schema, Field, Field) {
    let mut builder = Schema::builder();
    let id = builder.add_text_field("id", STRING | STORED);
    let indexing =
        TextFieldIndexing::default().set_tokenizer("whitespace").set_index_option(IndexRecordOption::WithFreqs);
    let text = builder.add_text_field("text", TextOptions::default().set_indexing_options(indexing));
    (builder.build(), id, text)
}

impl KindIndex {
    /// An index in memory.
    pub fn in_memory() -> Result<Self> {
        let (schema, id, text) = schema();
        Self::from_index(Index::create_in_ram(schema), id, text)
    }

    /// The index in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Self> {
        let (schema, id, text) = schema();
        std::fs::create_dir_all(dir).map_err(|e| crate::Error::Directory(format!("{}: {e}", dir.display())))?;
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| crate::Error::Directory(format!("{}: {e}", dir.display())))?;
        let index = Index::open_or_create(directory, schema)?;
        Self::from_index(index, id, text)
    }

    fn from_index(index: Index, id: Field, text: Field) -> Result<Self> {
        let writer = index.writer_with_num_threads(1, 32_000_000)?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        Ok(Self { reader, writer: Mutex::new(writer), id, text })
    }

    /// Replaces the document of `id` with `terms` (not visible until [`KindIndex::commit`]).
    pub fn upsert(&self, id: RecordId, terms: &HashMap<String, u32>) -> Result<()> {
        let mut text = String::new();
        for (term, count) in terms {
            for _ in 0..*count {
                text.push_str(term);
                text.push(' ');
            }
        }
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer.delete_term(Term::from_field_text(self.id, &id.to_string()));
        writer.add_document(doc!(self.id => id.to_string(), self.text => text))?;
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
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::with_capacity(query.len());
        let mut ideal = 0.0;
        for (term, weight) in query {
            let term = Term::from_field_text(self.text, term);
            let df = searcher.doc_freq(&term)? as f32;
            // Terms no document has still count toward a perfect match, so
            // strength means the same in a small index as in a large one.
            ideal += *weight as f32 * (1.0 + (n - df + 0.5) / (df + 0.5)).ln() * (K1 + 1.0);
            if df == 0.0 {
                continue;
            }
            let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), *weight as f32))));
        }
        if clauses.is_empty() {
            return Ok((vec![], 0.0));
        }
        let hits = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(limit).order_by_score())?;
        let mut out = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let doc: TantivyDocument = searcher.doc(address)?;
            if let Some(id) = doc.get_first(self.id).and_then(|v| v.as_str()).and_then(|s| s.parse().ok()) {
                out.push((id, score));
            }
        }
        Ok((out, ideal))
    }
}
