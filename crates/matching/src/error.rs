//! Matching errors.

/// What can go wrong in the index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The full-text index failed.
    #[error("index: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The index directory could not be opened.
    #[error("index directory: {0}")]
    Directory(String),
}

/// Result of a matching operation.
pub type Result<T> = std::result::Result<T, Error>;
