//! Storage errors.

/// What can go wrong on disk.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage engine failed (I/O, disk full, lock held by another process).
    #[error("storage: {0}")]
    Storage(String),
    /// A push's sequence numbers do not continue what was acknowledged;
    /// nothing of it was applied.
    #[error("{0}")]
    Sequence(String),
    /// A write of matching's was refused: this instance does not hold the
    /// matching lease (any more); another instance matches.
    #[error("matching lease: {0}")]
    LeaseLost(String),
    /// The clock cannot version another change.
    #[error(transparent)]
    Clock(#[from] kechuang_types::Exhausted),
    /// A stored value could not be decoded.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why it could not be decoded.
        reason: String,
    },
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<sled::transaction::TransactionError<Error>> for Error {
    fn from(e: sled::transaction::TransactionError<Error>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}

/// Result of a storage operation.
pub type Result<T> = std::result::Result<T, Error>;
